"""rnnviz: see what a PyTorch recurrent layer returns, and prove how output, h_n and c_n relate."""

from typing import NamedTuple

from rnnviz.config import PRESETS, Config, ConfigError
from rnnviz.model import RunResult, rebuild, run
from rnnviz.recompute import Reference, recompute
from rnnviz.relations import Relation, check_relations

__all__ = ["PRESETS", "Analysis", "Config", "ConfigError", "Reference", "Relation", "RunResult", "analyse"]


class Analysis(NamedTuple):
    """A run, its hand recomputation, and every relation that applies to it."""

    result: RunResult
    reference: Reference
    relations: list[Relation]


def analyse(config: Config) -> Analysis:
    """Run config, recompute it by hand, and check every relation that applies (the runs they need, and only those)."""
    result = run(config)
    reference = recompute(result)
    return Analysis(result, reference, check_relations(result, extra=extra_runs(result, reference)))


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
