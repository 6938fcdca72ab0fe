"""Heatmaps: outlines by position (from the anatomy), never by equal values; sizes capped by the charts themselves."""

import dataclasses
import subprocess
import sys

import pytest
import torch
from conftest import ROOT, configs
from hypothesis import given, settings

from rnnviz import Config, run
from rnnviz.anatomy import cells
from rnnviz.charts import h_n_heatmap, output_heatmap, units_shown
from rnnviz.config import MAX_CELLS
from rnnviz.tables import DIRECTION_NAMES


def outlined(spec) -> set[tuple[int, int, int]]:
    """(t, b, d) of the output heatmap's outlined cells."""
    rows = spec["datasets"]["cells"]
    marked = rows[rows.h_n]
    return {
        (int(r.t), int(r.sequence.split()[0].removeprefix("b=")), DIRECTION_NAMES.index(r.direction))
        for r in marked.itertuples()
    }


def h_n_positions(result) -> set[tuple[int, int, int]]:
    top = cells(result).query("in_output and h_n_row >= 0")
    return set(zip(top.t, top.sequence, top.direction, strict=True))


@settings(max_examples=20)
@given(configs())
def test_outlines_are_the_anatomys_positions(config):
    result = run(config)
    spec = output_heatmap(result, tuple(range(len(config.sequences))))
    assert outlined(spec) == h_n_positions(result)


def test_equal_values_elsewhere_are_not_outlined():
    """Copy h_n into every step of output (a state at a fixed point, a repeated text): still one mark per direction."""
    result = run(Config(bidirectional=True, packed=True))
    T, H = result.batch.max_length, 5
    top = result.h_n.view(1, 2, 3, H)[-1]  # (D, B, H)
    repeated = top.transpose(0, 1).reshape(1, 3, 2 * H).expand(T, 3, 2 * H).clone()  # (T, B, D*H)
    fixed_point = dataclasses.replace(result, output=repeated)
    marks = outlined(output_heatmap(fixed_point, (0, 1, 2)))
    assert marks == h_n_positions(result)
    assert len(marks) == 3 * 2


@pytest.mark.parametrize(
    "config",
    [
        Config(sequences=tuple("x" * 64 for _ in range(16)), cell="lstm", layers=6, bidirectional=True, hidden=256),
        Config(hidden=209),
    ],
    ids=["largest", "hidden-209"],
)
def test_charts_cap_their_own_size(config):
    result = run(config)
    B = len(config.sequences)
    for sequences in ((0,), tuple(range(B))):
        shown = units_shown(result, sequences)
        out = output_heatmap(result, sequences)["datasets"]["cells"]
        assert len(out) == result.batch.max_length * config.directions * shown * len(sequences) <= MAX_CELLS
        h_n = h_n_heatmap(result, sequences)["datasets"]["cells"]
        assert len(h_n) == config.layers * config.directions * shown * len(sequences)


def test_h_n_heatmap_labels_every_row():
    result = run(Config(layers=2, bidirectional=True))
    rows = h_n_heatmap(result, (0, 1, 2))["datasets"]["cells"]
    assert sorted(set(rows.state)) == ["[0] layer 0 fwd", "[1] layer 0 bwd", "[2] layer 1 fwd", "[3] layer 1 bwd"]
    assert torch.equal(
        torch.tensor(rows.value.to_numpy().reshape(3, 4, 5), dtype=torch.float32), result.h_n.transpose(0, 1)
    )


def test_importing_and_drawing_changes_nothing_process_wide():
    """altair's data transformer, warning filters and torch's threads are as they were."""
    code = (
        "import warnings, altair as alt, torch; before = (alt.data_transformers.active, "
        "dict(alt.data_transformers.options), list(warnings.filters), torch.get_num_threads()); "
        "from rnnviz import run, Config; from rnnviz.charts import output_heatmap; "
        "output_heatmap(run(Config(cell='lstm', proj=2)), (0, 1, 2)); "
        "after = (alt.data_transformers.active, dict(alt.data_transformers.options), list(warnings.filters), "
        "torch.get_num_threads()); print(before == after)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.stdout.strip() == "True", proc.stderr
