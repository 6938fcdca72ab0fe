"""Two runs side by side: a config, and the same config with one control flipped; where their numbers differ."""

from dataclasses import dataclass

import torch

from rnnviz.config import Config, ConfigError, config_from_controls, controls
from rnnviz.model import RunResult
from rnnviz.runs import run

COMPARE_KEYS = ("packed", "cell", "seed", "h0", "pad", "bidirectional", "batch_first", "layers")  # what one flips


@dataclass(frozen=True)
class SideBySide:
    """The other run, and the largest difference per sequence (output) and per h_n row and sequence."""

    assignment: str  # the control flipped, as KEY=VALUE
    other: RunResult
    output_max_abs_diff: tuple  # per sequence b; None where the two outputs have other shapes
    h_n_max_abs_diff: tuple  # per row k of h_n, per sequence b; None where the two h_n have other shapes

    def as_dict(self) -> dict:
        """The `compare` object of the JSON report."""
        return {
            "config": self.other.config.as_dict(),
            "h_n_max_abs_diff": [list(row) for row in self.h_n_max_abs_diff],
            "output_max_abs_diff": list(self.output_max_abs_diff),
        }


def flipped(config: Config, assignment: str) -> tuple[str, Config]:
    """KEY=VALUE applied to config as its control would (a control that then does not apply takes its default)."""
    key, sep, text = assignment.partition("=")
    if not sep or key not in COMPARE_KEYS:
        raise ConfigError(f"compare takes KEY=VALUE with KEY one of {', '.join(COMPARE_KEYS)} (got {assignment!r}).")
    try:
        value = controls()[key].from_text(key, text)
    except ValueError as error:
        raise ConfigError(f"compare {assignment}: {error}.") from None
    return key, config_from_controls({**vars(config), key: value})


def time_major(result: RunResult) -> torch.Tensor:
    return result.output.transpose(0, 1) if result.config.batch_first else result.output  # (T, B, D*H)


def compare(result: RunResult, assignment: str) -> SideBySide:
    """Run the flipped config and measure, per sequence, how far its output and h_n are from this run's."""
    key, other_config = flipped(result.config, assignment)
    if result.weights_file is not None and key in ("cell", "layers", "bidirectional"):
        raise ConfigError(f"compare {assignment}: the weights file fixes the layer's {key}; flip another control.")
    other = run(other_config, result.weights_file)
    a, b = time_major(result), time_major(other)  # (T, B, D*H)
    B = a.shape[1]
    same = a.shape == b.shape
    output = tuple(float((a[:, k] - b[:, k]).abs().max()) if same else None for k in range(B))
    same = result.h_n.shape == other.h_n.shape
    h_n = tuple(
        tuple(float((result.h_n[row, k] - other.h_n[row, k]).abs().max()) if same else None for k in range(B))
        for row in range(result.h_n.shape[0])
    )
    return SideBySide(assignment, other, output, h_n)
