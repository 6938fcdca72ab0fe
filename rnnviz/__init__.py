"""rnnviz: see what a PyTorch recurrent layer returns, and prove how output, h_n and c_n relate."""

from typing import NamedTuple

from rnnviz.config import PRESETS, Config, ConfigError
from rnnviz.explain import Explanation, explain
from rnnviz.model import RunResult, rebuild
from rnnviz.recompute import Reference, recompute
from rnnviz.relations import Gradients, Relation, check_relations
from rnnviz.runs import comparisons, gradient_checks, run

__all__ = [
    "PRESETS",
    "Analysis",
    "Config",
    "ConfigError",
    "Explanation",
    "Reference",
    "Relation",
    "RunResult",
    "analyse",
    "analyse_with_gradients",
    "comparisons",
    "explain",
    "gradient_checks",
    "rebuild",
    "recompute",
    "run",
]


class Analysis(NamedTuple):
    """A run, its hand recomputation, and every relation that applies to it."""

    result: RunResult
    reference: Reference
    relations: list[Relation]


def analyse(config: Config, gradients: bool = False) -> Analysis:
    """Run config, recompute it by hand, and check every relation that applies (the comparisons they need, and only
    those); with gradients, also the gradient relations (rnnviz.gradients: ConfigError past its cap)."""
    return analyse_with_gradients(config, gradients)[0]


def analyse_with_gradients(
    config: Config, gradients: bool = True, weights_file=None
) -> tuple[Analysis, Gradients | None]:
    """analyse(config, gradients), and the Gradients its gradient relations checked (None without); weights_file (an
    rnnviz.weights_file.Weights) runs a file's recurrent weights in place of the seeded ones."""
    result = run(config, weights_file)
    reference = recompute(result)
    extra = comparisons(result, reference, gradients)
    return Analysis(result, reference, check_relations(result, extra=extra)), extra.get("grad")
