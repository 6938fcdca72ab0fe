"""rnnviz: see what a PyTorch recurrent layer returns, and prove how output, h_n and c_n relate."""

from typing import NamedTuple

from rnnviz.config import PRESETS, Config, ConfigError
from rnnviz.model import RunResult, run
from rnnviz.recompute import Reference, recompute
from rnnviz.relations import Relation, check_relations

__all__ = ["PRESETS", "Analysis", "Config", "ConfigError", "Reference", "Relation", "RunResult", "analyse"]


class Analysis(NamedTuple):
    """A run, its hand recomputation, and every relation that applies to it."""

    result: RunResult
    reference: Reference
    relations: list[Relation]


def analyse(config: Config) -> Analysis:
    """Run config, recompute it by hand, and check every relation (on CUDA, against the CPU too)."""
    result = run(config)
    reference = recompute(result)
    cpu_result = run(config.replace(device="cpu")) if result.device == "cuda" else None
    return Analysis(result, reference, check_relations(result, reference, cpu_result))
