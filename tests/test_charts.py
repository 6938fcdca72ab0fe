"""Charts: the unrolled run and the heatmaps mark by position (from the anatomy), never by equal values; each
chart caps its own size; drawing changes nothing process-wide."""

import dataclasses
import subprocess
import sys

import pytest
import torch
from conftest import ROOT, configs
from hypothesis import given, settings
from torch import nn

from rnnviz import Config, run
from rnnviz.anatomy import cells
from rnnviz.charts.diagram import CELL_STATE, H_0, H_0_AND_C_0, ROLES, diagram, lanes
from rnnviz.charts.diagram import ROW_PX as ROW_PX_DIAGRAM
from rnnviz.charts.heatmaps import ROW_PX, h_n_heatmap, output_heatmap, shown_columns, units_shown, value_extent
from rnnviz.charts.style import INK
from rnnviz.charts.weights import GATE_COLOURS, gate_rows_chart
from rnnviz.config import MAX_CELLS
from rnnviz.model import layer_by_layer
from rnnviz.recompute import recompute
from rnnviz.weights import anatomy


def rows(spec):
    """A chart's rows as a DataFrame."""
    return spec["datasets"]["cells"].to_pandas()


def layer_names(spec) -> list[str]:
    """The mark types of a layered spec, in order."""
    return [layer["mark"]["type"] if isinstance(layer["mark"], dict) else layer["mark"] for layer in spec["layer"]]


def h_n_positions(result, b=None) -> set[tuple[int, int, int, int]]:
    """(b, layer, direction, t) of every state h_n was taken from, by the anatomy."""
    frame = cells(result)
    marked = frame[frame.h_n_row >= 0]
    return {
        (int(r.sequence), int(r.layer), int(r.direction), int(r.t))
        for r in marked.itertuples()
        if b is None or r.sequence == b
    }


def outlined_blocks(spec, result) -> set[tuple[int, int]]:
    """(t, direction) of the output heatmap's named h_n blocks."""
    frame = rows(spec)
    marked = frame[frame.h_n != ""]
    direction = {name: d for d, _, name in shown_columns(result)}
    return {(int(r.step.split()[0].removeprefix("t=")), direction[r.unit]) for r in marked.itertuples()}


# -----------------------------------------------------------------------------
# The unrolled run


@settings(max_examples=25)
@given(configs())
def test_diagram_marks_h_n_where_the_anatomy_says(config):
    result = run(config)
    B = len(config.sequences)
    spec = diagram(result, layer_by_layer(result), tuple(range(B)))
    frame = rows(spec)
    every = frame[frame.role != "input"]
    states = every[~every.lane.str.endswith("c_t")]
    assert len(states) == B * config.layers * config.directions * result.batch.max_length
    named = states[states.h_n != ""]
    assert {(r.sequence, r.layer, r.direction, r.t) for r in named.itertuples()} == h_n_positions(result)
    for r in named.itertuples():
        k = int(r.layer) * config.directions + int(r.direction)
        assert r.h_n == r.name == f"h_n[{k}]"
    c_states = every[every.lane.str.endswith("c_t")]  # an LSTM's c_t: a lane under each h lane, c_n where h_n is
    assert len(c_states) == len(states) * (config.cell == "lstm")
    c_named = c_states[c_states.h_n != ""]
    assert {(r.sequence, r.layer, r.direction, r.t) for r in c_named.itertuples()} == (
        h_n_positions(result) if config.cell == "lstm" else set()
    )
    assert all(r.h_n == f"c_n[{int(r.layer) * config.directions + int(r.direction)}]" for r in c_named.itertuples())
    anatomy = cells(result)
    assert states.role.isin(ROLES[:2]).sum() == anatomy.in_output.sum()  # output holds it (a <pad> step or not)
    assert (states.role == ROLES[4]).sum() == (~anatomy.computed).sum()
    assert set(frame.lane) == set(lanes(result, range(B)))


def test_diagram_tooltip_says_where_and_gives_the_numbers():
    config = Config(bidirectional=True, layers=2, packed=True)
    result = run(config)
    frame = rows(diagram(result, layer_by_layer(result), (0, 1, 2)))
    top_backward = frame[(frame.layer == 1) & (frame.direction == 1) & (frame.t == 0) & (frame.sequence == 1)].iloc[0]
    assert (top_backward.output, top_backward["in h_n"], top_backward.h_n) == (
        "output[0, 1, 5:10]",
        "h_n[3, 1]",
        "h_n[3]",
    )
    expected = ", ".join(f"{float(x):.3f}" for x in result.output[0, 1, 5:10])
    assert top_backward.vector == f"[{expected}]"
    lower = frame[(frame.layer == 0) & (frame.direction == 0) & (frame.t == 3) & (frame.sequence == 1)].iloc[0]
    assert (lower.output, lower["in h_n"], lower.h_n) == ("not in output", "h_n[0, 1]", "h_n[0]")
    never = frame[(frame.layer == 1) & (frame.t == 6) & (frame.sequence == 1) & (frame.role != "input")]
    assert set(never.role) == {ROLES[4]} and set(never.vector) == {""}


def test_an_lstms_cell_state_lane_holds_c_t_and_c_n_where_it_ends():
    """c_t at every step (recomputed by hand: torch returns only c_n), c_n[k] named where h_n[k] is; never in
    output; a random h_0 and c_0 named by their row beside the step that reads them."""
    config = Config(cell="lstm", bidirectional=True, proj=3, hidden=4)
    result = run(config)
    frame = rows(diagram(result, layer_by_layer(result), (1,), layer_cells=recompute(result).layer_cells))
    c_lane = frame[frame.lane.str.endswith("c_t")]
    cell_states = recompute(result).layer_cells[0]  # (T, B, D*hidden)
    assert torch.allclose(cell_states[7, 1, :4], result.c_n[0, 1])
    assert torch.allclose(cell_states[0, 1, 4:], result.c_n[1, 1])
    for r in c_lane[c_lane.h_n == ""].itertuples():
        d = int(r.direction)
        assert r.vector == "[" + ", ".join(f"{float(x):.3f}" for x in cell_states[r.t, 1, d * 4 : (d + 1) * 4]) + "]"
        assert r.output == "never in output"
    ends = c_lane[c_lane.h_n != ""]
    assert sorted(zip(ends.t, ends.h_n, ends["in h_n"], strict=True)) == [(0, "c_n[1]", "c_n[1, 1]"),
                                                                           (7, "c_n[0]", "c_n[0, 1]")]  # fmt: skip
    last = ends[ends.t == 7].iloc[0]  # c_n itself: torch's numbers
    assert last.vector == "[" + ", ".join(f"{float(x):.3f}" for x in result.c_n[0, 1]) + "]"
    given = run(config.replace(h0="random"))  # the hand recomputation starts from zeros: only c_n's numbers then
    frame = rows(diagram(given, layer_by_layer(given), (1,), layer_cells=recompute(given).layer_cells))
    c_lane = frame[frame.lane.str.endswith("c_t") & frame.t.between(0, 7)]
    assert set(c_lane[c_lane.h_n == ""].vector) == {""} and "" not in set(c_lane[c_lane.h_n != ""].vector)
    initial = frame[frame.role == H_0_AND_C_0]
    assert sorted(zip(initial.t, initial["name"], strict=True)) == [(-1, "c_0[0]"), (-1, "h_0[0]"), (8, "c_0[1]"),
                                                                     (8, "h_0[1]")]  # fmt: skip
    rnn = run(config.replace(cell="rnn", proj=0, h0="random"))  # no c_0 to name: the legend says h_0 alone
    legend = [role for role, _ in diagram(rnn, layer_by_layer(rnn), (1,))["usermeta"]["legend"]]
    assert H_0 in legend and H_0_AND_C_0 not in legend


def test_a_carrys_split_is_a_dashed_line_before_its_step():
    result = run(Config(h0="carry", split=3))
    spec = diagram(result, layer_by_layer(result), (0, 1, 2))
    (rule,) = [layer for layer in spec["layer"] if layer["mark"]["type"] == "rule"]
    assert rule["encoding"]["x"]["bandPosition"] == 0 and "datum.t == 3" in rule["transform"][0]["filter"]
    assert spec["usermeta"]["legend"][-1][0].startswith("the split")
    unsplit = diagram(run(Config()), layer_by_layer(run(Config())), (0, 1, 2))
    assert not [layer for layer in unsplit["layer"] if layer["mark"]["type"] == "rule"]


def test_diagram_hides_the_answers_until_revealed():
    result = run(Config(layers=2))
    spec = diagram(result, layer_by_layer(result), (0, 1, 2), reveal=False)
    frame = rows(spec)
    assert set(frame.h_n.dropna()) == {""} and not set(frame.role) & set(ROLES[:4])
    assert set(frame.output.dropna()) == {"?"} and set(frame["in h_n"].dropna()) == {"?"}
    assert "text" in layer_names(spec) and layer_names(spec).count("rect") == 1  # no outlines


def test_diagram_fills_the_column_and_labels_read_on_a_shared_screen():
    result = run(Config())
    spec = diagram(result, layer_by_layer(result), (0, 1, 2))
    assert spec["width"] == "container"
    for layer in spec["layer"]:
        assert layer["encoding"]["x"]["axis"]["labelFontSize"] >= 16
        assert layer["encoding"]["y"]["axis"]["labelFontSize"] >= 16
        assert layer["encoding"]["y"]["axis"]["labelColor"] == INK  # as dark as the page's words
    assert spec["height"] == {"step": ROW_PX_DIAGRAM}  # a lane never squeezed by the axis
    large = diagram(result, layer_by_layer(result), (0, 1, 2), large=True)  # presenter mode
    assert {layer["encoding"]["y"]["axis"]["labelFontSize"] for layer in large["layer"]} == {18}


# -----------------------------------------------------------------------------
# Heatmaps


@settings(max_examples=20)
@given(configs())
def test_heatmap_blocks_are_the_anatomys_positions(config):
    result = run(config)
    for b in range(len(config.sequences)):
        spec = output_heatmap(result, b)
        top = {(t, d) for bb, layer, d, t in h_n_positions(result, b) if layer == config.layers - 1}
        assert outlined_blocks(spec, result) == top


def test_equal_values_elsewhere_are_not_outlined():
    """Copy h_n into every step of output (a fixed point, a repeated text): still one block per direction."""
    result = run(Config(bidirectional=True, packed=True))
    T, H = result.batch.max_length, 5
    top = result.h_n.view(1, 2, 3, H)[-1]  # (D, B, H)
    repeated = top.transpose(0, 1).reshape(1, 3, 2 * H).expand(T, 3, 2 * H).clone()  # (T, B, D*H)
    fixed_point = dataclasses.replace(result, output=repeated)
    for b in range(3):
        blocks = outlined_blocks(output_heatmap(fixed_point, b), result)
        assert blocks == {(result.batch.lengths[b] - 1, 0), (0, 1)}


def test_output_rows_are_time_steps_and_h_n_rows_are_layers_in_outputs_columns():
    result = run(Config(layers=2, bidirectional=True))
    out, h_n = rows(output_heatmap(result, 1)), rows(h_n_heatmap(result, 1))
    assert list(dict.fromkeys(out.unit)) == list(dict.fromkeys(h_n.unit))  # the same columns
    steps = list(dict.fromkeys(out.step))
    assert steps[3] == "t=3 y  · last real step"  # where h_n is not: it is after the padding
    assert steps[0] == "t=0 t  = h_n[3] ←" and steps[7] == "t=7 <pad>  = h_n[2] →"  # unpacked: after the padding
    assert list(dict.fromkeys(h_n.layer)) == ["layer 0: h_n[0] →, h_n[1] ←", "layer 1: h_n[2] →, h_n[3] ←"]
    values = torch.tensor(h_n.value.to_numpy(), dtype=torch.float32).view(2, 2, 5)  # (L, D, H)
    assert torch.equal(values, result.h_n.view(2, 2, 3, 5)[:, :, 1])
    assert torch.equal(torch.tensor(out.value.to_numpy(), dtype=torch.float32).view(8, 10), result.output[:, 1])
    assert out.padding.sum() == 4 * 10  # 'tiny': 4 of 8 steps are padding


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
    shown = units_shown(result)
    out = rows(output_heatmap(result, 0))
    assert len(out) == result.batch.max_length * config.directions * shown <= MAX_CELLS
    assert len(rows(h_n_heatmap(result, 0))) == config.layers * config.directions * shown


def test_a_new_seed_redraws_the_rows_in_the_same_layout():
    """altair builds a layout once per shape; a new seed (same shape) reuses it and only the rows change."""
    from rnnviz.charts.diagram import diagram_layout

    specs = []
    for seed in (11, 12):
        result = run(Config(layers=2, bidirectional=True, seed=seed))
        hits = diagram_layout.cache_info().hits
        specs.append(diagram(result, layer_by_layer(result), (0, 1, 2)))
    assert diagram_layout.cache_info().hits == hits + 1
    first, second = ({k: v for k, v in spec.items() if k != "datasets"} for spec in specs)
    assert first == second
    assert not rows(specs[0])["vector"].equals(rows(specs[1])["vector"])


def test_a_cached_layout_is_what_altair_builds_and_every_caller_gets_its_own():
    from rnnviz.charts.heatmaps import h_n_layout

    shape = (("layer 1 (top)  = h_n[1] →", "layer 0  = h_n[0] →"), ("0", "1"), True, 200, 1.0, 1)
    spec = h_n_layout(*shape)
    assert spec == h_n_layout.__wrapped__(*shape).to_dict()
    spec["layer"][0]["mark"] = "broken"
    spec["height"] = -1
    assert h_n_layout(*shape) == h_n_layout.__wrapped__(*shape).to_dict()


def test_importing_and_drawing_changes_nothing_process_wide():
    """altair's data transformer, warning filters and torch's threads are as they were."""
    code = (
        "import warnings, altair as alt, torch; before = (alt.data_transformers.active, "
        "dict(alt.data_transformers.options), list(warnings.filters), torch.get_num_threads()); "
        "from rnnviz import run, Config; from rnnviz.model import layer_by_layer; "
        "from rnnviz.charts.heatmaps import output_heatmap; from rnnviz.charts.diagram import diagram; "
        "r = run(Config(cell='lstm', proj=2)); output_heatmap(r, 0); diagram(r, layer_by_layer(r), (0, 1, 2)); "
        "after = (alt.data_transformers.active, dict(alt.data_transformers.options), list(warnings.filters), "
        "torch.get_num_threads()); print(before == after)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.stdout.strip() == "True", proc.stderr


# -----------------------------------------------------------------------------
# Gradients and trained units


def test_connectivity_map_draws_every_entry_and_exact_zeros_apart():
    from rnnviz.charts.gradients import ZERO, connectivity_map
    from rnnviz.gradients import connectivity

    result = run(Config(layers=2, bidirectional=True, packed=True))
    values = connectivity(result)  # (L, D, B, T, T)
    frame = rows(connectivity_map(result, values, 1))
    T = result.batch.max_length
    assert len(frame) == 2 * 2 * T * T
    zeros = frame[frame.zero == ZERO]
    assert (zeros.norm == 0).all() and zeros.log10.isna().all()
    assert set(frame[frame.zero == ""].norm.gt(0)) == {True}
    # layer 0 forward: every s > t is exactly 0 (causal), drawn as such
    forward0 = frame[frame["map"] == "layer 0 →"]
    assert (forward0[forward0.s > forward0.t].zero == ZERO).all()
    assert set(frame[frame.pad].t.tolist()) | set(frame[frame.pad].s.tolist()) >= {4, 5, 6, 7}  # 'tiny': 4 of 8


def test_a_detached_carrys_map_has_a_rule_at_the_split():
    from rnnviz.charts.gradients import CUT_COLOUR, connectivity_map
    from rnnviz.gradients import connectivity

    config = Config(layers=2, h0="carry", split=5, detach=True)
    result = run(config)
    spec = connectivity_map(result, connectivity(result), 0)
    (rule,) = [layer for layer in spec["spec"]["layer"] if layer["mark"]["type"] == "rule"]
    assert rule["mark"]["color"] == CUT_COLOUR and rule["encoding"]["y"]["bandPosition"] == 0  # row t = 5's top edge
    assert rule["transform"] == [{"filter": "datum.t == 5 && datum.s == 0"}]
    undetached = run(config.replace(detach=False))
    spec = connectivity_map(undetached, connectivity(undetached), 0)
    assert all(layer["mark"]["type"] != "rule" for layer in spec["spec"]["layer"])


@pytest.mark.parametrize("config", [
    Config(layers=3, dropout=0.5, train_mode=True, packed=True, bidirectional=True),
    Config(sequences=("a" * 64,), hidden=256, layers=2, dropout=0.5, train_mode=True, bidirectional=True),
])  # fmt: skip
def test_the_masks_chart_draws_each_dropped_layers_units_and_caps_its_size(config):
    from rnnviz.charts.dropout import PAD, ZEROED, masks_chart
    from rnnviz.dropout import masks

    result = run(config)
    zeroed = masks(result)
    frame = rows(masks_chart(result, zeroed, 0))
    T, D = result.batch.max_length, config.directions
    shown = min(config.hidden, MAX_CELLS // (T * D))
    assert len(frame) == (config.layers - 1) * T * D * shown <= (config.layers - 1) * MAX_CELLS
    n = result.batch.lengths[0]
    for layer in range(config.layers - 1):
        mine = frame[frame.layer.str.startswith(f"layer {layer}'s")]
        first = mine[mine.unit.isin(["0", "→0"])].sort_values("t")  # unit 0 over the steps
        expected = [ZEROED if zeroed[layer][t, 0, 0] else PAD if config.packed and t >= n else None for t in range(T)]
        assert [m if m in (ZEROED, PAD) else None for m in first["mask"]] == expected


def test_reach_chart_drops_exact_zeros_for_its_log_scale():
    from rnnviz.charts.gradients import reach_chart

    frame = rows(reach_chart({"RNN": [0.0, 1e-3, 1.0], "LSTM": [0.1, 0.5, 1.0]}))
    assert len(frame) == 5 and (frame.norm > 0).all()


def test_heatmaps_share_rows_columns_labels_and_colour_scale():
    """Rows of one height in both (a one-layer h_n is a row like output's, not a sliver), every unit a short label,
    the row labels as wide in both, one colour scale (its legend under h_n)."""
    result = run(Config(bidirectional=True))
    out, h_n = output_heatmap(result, 1), h_n_heatmap(result, 1)
    assert out["height"] == h_n["height"] == {"step": ROW_PX}
    assert [name for *_, name in shown_columns(result)] == ["→0", "→1", "→2", "→3", "→4", "←0", "←1", "←2", "←3", "←4"]
    y = [spec["layer"][0]["encoding"]["y"]["axis"] for spec in (out, h_n)]
    assert y[0]["minExtent"] == y[0]["maxExtent"] == y[1]["minExtent"] == y[1]["maxExtent"]
    assert y[0]["labelLimit"] == 0  # whole: the width is the longest label's
    colours = [spec["layer"][0]["encoding"]["color"] for spec in (out, h_n)]
    extent = value_extent(result, 1)
    assert colours[0]["scale"]["domain"] == colours[1]["scale"]["domain"] == [-extent, extent]
    assert colours[0]["legend"] is None and colours[1]["legend"]["title"] == "value"
    assert [name for *_, name in shown_columns(run(Config()))] == ["0", "1", "2", "3", "4"]


@pytest.mark.parametrize(
    "config", [Config(nonlinearity="relu", hidden=8, seed=3), Config(cell="lstm")], ids=["relu", "lstm"]
)
def test_the_colour_scale_covers_the_values_and_no_more_than_twice(config):
    result = run(config)
    extent = value_extent(result, 0)
    largest = max(float(result.output[:, 0].abs().max()), float(result.h_n[:, 0].abs().max()))
    assert largest <= extent <= 2 * largest


def test_heatmaps_name_no_h_n_row_before_the_reveal():
    result = run(Config(layers=2, bidirectional=True))
    out, h_n = rows(output_heatmap(result, 1, reveal=False)), rows(h_n_heatmap(result, 1, reveal=False))
    assert not any("h_n[" in text for text in [*out.step, *h_n.layer, *h_n["index"]])
    assert list(dict.fromkeys(h_n.layer)) == ["layer 0", "layer 1"]


def test_an_lstms_names_sit_one_a_cell_sized_to_it():
    """h_n[2] in its h lane, c_n[2] in its c_t lane under it: one line each, no wider than the cell, so they never
    reach the next cell."""
    result = run(Config(cell="lstm", layers=2))
    spec = diagram(result, layer_by_layer(result), (0, 1, 2))
    marks = [layer["mark"] for layer in spec["layer"]]
    [name] = [mark for mark in marks if mark["type"] == "text" and "fontWeight" in mark]
    assert "lineBreak" not in name and "bandwidth('x')" in name["fontSize"]["expr"]
    assert {"h_n[1]", "c_n[1]"} <= set(rows(spec)["name"])
    assert [role for role, _ in spec["usermeta"]["legend"]] == [*ROLES[:4], CELL_STATE]  # drawn by the page


# -----------------------------------------------------------------------------
# The Weights tab's chart: every parameter's rows, a block per gate


def test_gate_rows_chart_draws_every_block_in_torchs_order():
    rnn = nn.LSTM(3, 4, num_layers=2, proj_size=2, bidirectional=True)
    spec = gate_rows_chart(anatomy(dict(rnn.named_parameters()), "lstm"))
    frame = rows(spec)
    names = [name for name, _ in rnn.named_parameters()]
    assert list(dict.fromkeys(frame.parameter)) == names
    assert spec["layer"][0]["encoding"]["y"]["sort"] == names  # top to bottom as torch lists them
    for name, w in rnn.named_parameters():
        blocks = frame[frame.parameter == name]
        assert blocks.stop.max() == w.shape[0]  # the blocks cover every row, without a gap
        assert list(blocks.start[1:]) == list(blocks.stop[:-1])
        assert list(blocks.gate) == (["proj"] if name.startswith("weight_hr") else ["i", "f", "g", "o"])
    colour = spec["layer"][0]["encoding"]["color"]["scale"]
    assert colour == {"domain": ["i", "f", "g", "o", "proj"], "range": [GATE_COLOURS[g] for g in colour["domain"]]}
