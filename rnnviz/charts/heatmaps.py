"""Heatmaps of one sequence: output as the tensor is indexed (a row per time step, units across) and, below it,
h_n laid out like output's last axis (a row per layer, forward then backward units), so an outlined block of
output and the h_n row it is share the same columns and the same name (h_n[k]). Both have rows of one height, one
colour scale (its legend under h_n) and the same width of row labels, so that their columns line up."""

import math

import altair as alt

from rnnviz.anatomy import cells
from rnnviz.batch import char_label
from rnnviz.charts.style import CHAR_EM, DATA, FONT_PX, axis, layout, scale_legend, with_rows
from rnnviz.config import MAX_CELLS
from rnnviz.tables import ARROWS

ROW_PX = 26
MARK = {"filled": False, "stroke": "black", "strokeWidth": 3}
FADED = 0.35  # padding steps


def units_shown(result) -> int:
    """How many units per direction one sequence's heatmap shows: all of them, up to MAX_CELLS numbers."""
    c = result.config
    return max(1, min(c.state_size, MAX_CELLS // (result.batch.max_length * c.directions)))


def shown_columns(result) -> list[tuple[int, int, str]]:
    """(direction, unit, column name) of every column shown: forward units, then backward. The names are short,
    so that every unit keeps its label: 0 1 2 .. for one direction, →0 →1 .. ←0 ←1 .. for two (labelled →0 1 2 ..
    ←0 1 2 .., the arrow where its direction starts)."""
    c = result.config
    arrows = ARROWS if c.directions == 2 else ("",)
    return [(d, k, f"{arrows[d]}{k}") for d in range(c.directions) for k in range(units_shown(result))]


def value_extent(result, b: int) -> float:
    """The colour scale runs from -extent to +extent in both charts of sequence b: the largest |value| of the two,
    rounded up to one significant digit (so that one colour is one number in both, and few layouts are built)."""
    c = result.config
    out = result.output[b] if c.batch_first else result.output[:, b]
    largest = max(float(out.abs().max()), float(result.h_n[:, b].abs().max()), 1e-6)
    step = 10 ** math.floor(math.log10(largest))
    return round(math.ceil(largest / step) * step, 12)


def output_labels(result, b: int, reveal: bool) -> list[str]:
    """output's row labels: t=3 y, the h_n blocks named (once revealed), else a short sequence's last real step."""
    T, n = result.batch.max_length, result.batch.lengths[b]
    marks = h_n_marks(result, b, reveal)
    labels = []
    for t in range(T):
        names = [f"{marks[t, d]} {ARROWS[d]}" for d in range(result.config.directions) if (t, d) in marks]
        step = f"t={t} {char_label(result.batch.token(t, b))}"
        if names:
            step += "  = " + ", ".join(names)
        elif t == n - 1 and n < T:
            step += "  · last real step"
        labels.append(step)
    return labels


def h_n_marks(result, b: int, reveal: bool) -> dict[tuple[int, int], str]:
    """(t, direction) -> h_n[k] for the blocks of output that h_n was taken from (none before the reveal)."""
    if not reveal:
        return {}
    c = result.config
    frame = cells(result)
    top = frame[(frame.sequence == b) & (frame.layer == c.layers - 1) & frame.in_output & (frame.h_n_row >= 0)]
    return {(int(r.t), int(r.direction)): f"h_n[{int(r.h_n_row)}]" for r in top.itertuples()}


def h_n_labels(result, reveal: bool) -> list[str]:
    """h_n's row labels, layer 0 first: layer 1: h_n[2] →, h_n[3] ← (before the reveal: the layer alone)."""
    c = result.config
    L, D = c.layers, c.directions
    labels = []
    for layer in range(L):
        rows = ", ".join(f"h_n[{layer * D + d}] {ARROWS[d]}" for d in range(D))
        labels.append(f"layer {layer}" + (f": {rows}" if reveal else ""))
    return labels


def labels_px(result, b: int, reveal: bool) -> int:
    """The row labels' width in both charts of sequence b: the longest label's, whole."""
    longest = max(map(len, [*output_labels(result, b, reveal), *h_n_labels(result, reveal)]))
    return math.ceil(longest * CHAR_EM * FONT_PX) + 8


def output_heatmap(result, b: int, reveal: bool = True) -> dict:
    """output[:, b, :] (output[b] with batch_first): a row per time step; the blocks h_n was taken from outlined,
    their names in the row's label; <pad> steps faded; the sequence's last real step marked."""
    c = result.config
    H, n = c.state_size, result.batch.lengths[b]
    out = result.output[b] if c.batch_first else result.output[:, b]  # (T, D*H)
    marks = h_n_marks(result, b, reveal)
    labels = output_labels(result, b, reveal)
    columns = shown_columns(result)
    rows = [
        {
            "step": labels[t],
            "unit": name,
            "value": float(out[t, d * H + k]),
            "padding": t >= n,
            "h_n": marks.get((t, d), ""),
            "index": f"output[{b}, {t}, {d * H + k}]" if c.batch_first else f"output[{t}, {b}, {d * H + k}]",
        }
        for t in range(len(labels))
        for d, k, name in columns
    ]
    names = tuple(name for *_, name in columns)
    shape = (labels_px(result, b, reveal), value_extent(result, b), c.directions)
    return with_rows(output_layout(tuple(labels), names, reveal, *shape), rows)


def _encode(chart, row: str, order: tuple[str, ...], columns: tuple[str, ...], label_px: int, directions: int):
    """x: the units, every one labelled, on top; y: the rows in order, their labels label_px wide."""
    title = None if directions == 2 else "unit"  # two: → forward units, then ← backward ones, said by the labels
    shown = "indexof(['→0', '←0'], datum.label) >= 0 ? datum.label : replace(replace(datum.label, '→', ''), '←', '')"
    unit_axis = axis(orient="top", labelAngle=0, labelOverlap=True, labelExpr=shown)  # →0 1 2 .. ←0 1 2: narrow
    return chart.encode(
        x=alt.X("unit:N", sort=list(columns), title=title, axis=unit_axis),
        y=alt.Y(
            f"{row}:N",
            sort=list(order),
            title=None,
            axis=axis(labelLimit=0, minExtent=label_px, maxExtent=label_px, labelOverlap=False, labelFlush=False),
        ),
    )


def _colour(extent: float, legend: dict | None) -> alt.Color:
    """The values' colour, -extent (blue) to +extent (red); the scale's legend with these options, or none."""
    scale = alt.Scale(scheme="redblue", reverse=True, domain=[-extent, extent], clamp=True)
    return alt.Color("value:Q", scale=scale, legend=scale_legend("value", **legend) if legend else None)


@layout
def output_layout(labels: tuple[str, ...], columns: tuple[str, ...], reveal: bool, label_px: int, extent: float,
                  directions: int):  # fmt: skip
    """output's heatmap without its rows: a row per step labelled labels[t], the columns named columns."""
    base = _encode(alt.Chart(alt.NamedData(name=DATA)), "step", labels, columns, label_px, directions)
    heat = base.mark_rect().encode(
        color=_colour(extent, None),
        opacity=alt.condition("datum.padding", alt.value(FADED), alt.value(1.0)),
        tooltip=["index:N", alt.Tooltip("value:Q", format=".5f"), "h_n:N"],
    )
    outline = base.transform_filter("datum.h_n != ''").mark_rect(**MARK)
    chart = alt.layer(heat, outline) if reveal else heat
    return chart.properties(width="container", height=alt.Step(ROW_PX))


def h_n_heatmap(result, b: int, reveal: bool = True) -> dict:
    """h_n[:, b] as hv[l] rows in output's columns (forward units, then backward), top layer first; every row says
    which rows of h_n it holds (once revealed: before, the layer alone)."""
    c = result.config
    L, D = c.layers, c.directions
    hv = result.h_n.view(L, D, len(c.sequences), c.state_size)  # (L, D, B, H)
    labels = h_n_labels(result, reveal)
    columns = shown_columns(result)
    rows = [
        {
            "layer": labels[layer],
            "unit": name,
            "value": float(hv[layer, d, b, k]),
            "top": layer == L - 1,
            "index": f"h_n[{layer * D + d}, {b}, {k}]" if reveal else f"layer {layer} {ARROWS[d]}, unit {k}",
        }
        for layer in range(L)
        for d, k, name in columns
    ]
    order = tuple(reversed(labels))
    shape = (labels_px(result, b, reveal), value_extent(result, b), D)
    return with_rows(h_n_layout(order, tuple(name for *_, name in columns), reveal, *shape), rows)


@layout
def h_n_layout(order: tuple[str, ...], columns: tuple[str, ...], reveal: bool, label_px: int, extent: float,
               directions: int):  # fmt: skip
    """h_n's heatmap without its rows: a row per layer labelled order[i] (top layer first), output's columns, and
    the colour scale's legend under it."""
    base = _encode(alt.Chart(alt.NamedData(name=DATA)), "layer", order, columns, label_px, directions)
    heat = base.mark_rect().encode(
        color=_colour(extent, {"gradientLength": 150}),
        tooltip=["index:N", alt.Tooltip("value:Q", format=".5f")],
    )
    outline = base.transform_filter("datum.top").mark_rect(**MARK)
    chart = alt.layer(heat, outline) if reveal else heat
    return chart.properties(width="container", height=alt.Step(ROW_PX))
