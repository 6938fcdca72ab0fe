"""rnnviz: see what a PyTorch recurrent layer returns, and prove how output, h_n and c_n relate."""

from typing import NamedTuple

from rnnviz.config import PRESETS, Config, ConfigError
from rnnviz.model import RunResult, rebuild, run
from rnnviz.recompute import Reference, recompute
from rnnviz.relations import Gradients, Relation, check_relations

__all__ = [
    "PRESETS",
    "Analysis",
    "Config",
    "ConfigError",
    "Reference",
    "Relation",
    "RunResult",
    "analyse",
    "analyse_with_gradients",
    "gradient_checks",
]


class Analysis(NamedTuple):
    """A run, its hand recomputation, and every relation that applies to it."""

    result: RunResult
    reference: Reference
    relations: list[Relation]


def analyse(config: Config, gradients: bool = False) -> Analysis:
    """Run config, recompute it by hand, and check every relation that applies (the runs they need, and only those);
    with gradients, also the gradient relations (rnnviz.gradients: ConfigError past its cap)."""
    return analyse_with_gradients(config, gradients)[0]


def analyse_with_gradients(config: Config, gradients: bool = True) -> tuple[Analysis, Gradients | None]:
    """analyse(config, gradients), and the Gradients its gradient relations checked (None without)."""
    result = run(config)
    reference = recompute(result)
    extra = extra_runs(result, reference)
    if gradients:
        extra["grad"] = gradient_checks(result)
    return Analysis(result, reference, check_relations(result, extra=extra)), extra.get("grad")


def gradient_checks(result: RunResult) -> Gradients:
    """The connectivity map of a run and its finite-difference check."""
    from rnnviz.gradients import FD_TOLERANCE, connectivity, finite_difference_check

    values = connectivity(result)
    return Gradients(values, *finite_difference_check(result, values), FD_TOLERANCE)


def extra_runs(result: RunResult, reference: Reference) -> dict:
    """The other computations the relations compare the run with, by prefix: only those that apply to its config."""
    c = result.config
    extra = {}
    if c.h0 == "zeros" and not c.draws_masks:  # the hand recomputation starts from zeros and drops nothing
        extra["ref"] = reference
    if result.device == "cuda":
        extra["cpu"] = run(c.replace(device="cpu"))
    if c.h0 == "carry" and not c.draws_masks:  # in train mode each call draws masks of its own
        extra["whole"] = run(c.replace(h0="zeros", split=0))
    if c.train_mode or c.dropout:
        extra["eval"] = run(c.replace(train_mode=False)) if c.train_mode else result
    if c.layers >= 2:
        extra["by_layer"] = rebuild(result)
    if c.bidirectional:
        extra["by_direction"] = rebuild(result, per_direction=True)
        extra["mirror"] = rebuild(result, per_direction=True, backward="")
    return extra
