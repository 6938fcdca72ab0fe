"""Heatmaps of one sequence: output as the tensor is indexed (a row per time step, units across) and, below it,
h_n laid out like output's last axis (a row per layer, forward then backward units), so an outlined block of
output and the h_n row it is share the same columns and the same name (h_n[k])."""

import altair as alt

from rnnviz.anatomy import cells
from rnnviz.batch import char_label
from rnnviz.charts.style import AXIS, DATA, VALUES, layout, with_rows
from rnnviz.config import MAX_CELLS
from rnnviz.tables import ARROWS, unit_names

ROW_PX = 26
FRAME_PX = 40  # the axis on top: Streamlit fits the whole chart, the axis included, in its height
LABELS_PX = 300  # the row labels' width, the same in both charts, so that their columns line up
MARK = {"filled": False, "stroke": "black", "strokeWidth": 3}
FADED = 0.35  # padding steps


def units_shown(result) -> int:
    """How many units per direction one sequence's heatmap shows: all of them, up to MAX_CELLS numbers."""
    c = result.config
    return max(1, min(c.state_size, MAX_CELLS // (result.batch.max_length * c.directions)))


def _encode(chart, row: str, order: tuple[str, ...], columns: tuple[str, ...]):
    return chart.encode(
        x=alt.X("unit:N", sort=list(columns), title=None, axis=alt.Axis(orient="top", labelAngle=0, **AXIS)),
        y=alt.Y(
            f"{row}:N",
            sort=list(order),
            title=None,
            axis=alt.Axis(labelLimit=LABELS_PX, minExtent=LABELS_PX, maxExtent=LABELS_PX, labelOverlap=False, **AXIS),
        ),
    )


def _shown_columns(result) -> list[tuple[int, int, str]]:
    """(direction, unit, column name) of every column shown: forward units, then backward."""
    c = result.config
    names = unit_names(c.directions, c.state_size)
    return [(d, k, names[d * c.state_size + k]) for d in range(c.directions) for k in range(units_shown(result))]


def output_heatmap(result, b: int, reveal: bool = True) -> dict:
    """output[:, b, :] (output[b] with batch_first): a row per time step; the blocks h_n was taken from outlined,
    their names in the row's label; <pad> steps faded; the sequence's last real step marked."""
    c = result.config
    H, T, n = c.state_size, result.batch.max_length, result.batch.lengths[b]
    out = result.output[b] if c.batch_first else result.output[:, b]  # (T, D*H)
    frame = cells(result)
    top = frame[(frame.sequence == b) & (frame.layer == c.layers - 1) & frame.in_output & (frame.h_n_row >= 0)]
    marks = {(int(r.t), int(r.direction)): f"h_n[{int(r.h_n_row)}]" for r in top.itertuples()} if reveal else {}
    labels = []
    for t in range(T):
        names = [f"{marks[t, d]} {ARROWS[d]}" for d in range(c.directions) if (t, d) in marks]
        last = "  · last real step" if t == n - 1 and n < T else ""
        labels.append(
            f"t={t} {char_label(result.batch.token(t, b))}{last}" + ("  = " + ", ".join(names) if names else "")
        )
    columns = _shown_columns(result)
    rows = [
        {
            "step": labels[t],
            "unit": name,
            "value": float(out[t, d * H + k]),
            "padding": t >= n,
            "h_n": marks.get((t, d), ""),
            "index": f"output[{b}, {t}, {d * H + k}]" if c.batch_first else f"output[{t}, {b}, {d * H + k}]",
        }
        for t in range(T)
        for d, k, name in columns
    ]
    names = tuple(name for *_, name in columns)
    return with_rows(output_layout(tuple(labels), names, reveal), rows)


@layout
def output_layout(labels: tuple[str, ...], columns: tuple[str, ...], reveal: bool):
    """output's heatmap without its rows: a row per step labelled labels[t], the columns named columns."""
    base = _encode(alt.Chart(alt.NamedData(name=DATA)), "step", labels, columns)
    heat = base.mark_rect().encode(
        color=alt.Color("value:Q", scale=VALUES, legend=None),
        opacity=alt.condition("datum.padding", alt.value(FADED), alt.value(1.0)),
        tooltip=["index:N", alt.Tooltip("value:Q", format=".5f"), "h_n:N"],
    )
    outline = base.transform_filter("datum.h_n != ''").mark_rect(**MARK)
    chart = alt.layer(heat, outline) if reveal else heat
    return chart.properties(width="container", height=ROW_PX * len(labels) + FRAME_PX)


def h_n_heatmap(result, b: int, reveal: bool = True) -> dict:
    """h_n[:, b] as hv[l] rows in output's columns (forward units, then backward), top layer first; every row says
    which rows of h_n it holds."""
    c = result.config
    L, D, H = c.layers, c.directions, c.state_size
    hv = result.h_n.view(L, D, len(c.sequences), H)  # (L, D, B, H)
    labels = {
        layer: f"layer {layer}{' (top)' if layer == L - 1 else ''}  = "
        + ", ".join(f"h_n[{layer * D + d}] {ARROWS[d]}" for d in range(D))
        for layer in range(L)
    }
    columns = _shown_columns(result)
    rows = [
        {
            "layer": labels[layer],
            "unit": name,
            "value": float(hv[layer, d, b, k]),
            "top": layer == L - 1,
            "index": f"h_n[{layer * D + d}, {b}, {k}]",
        }
        for layer in range(L)
        for d, k, name in columns
    ]
    order = tuple(labels[layer] for layer in reversed(range(L)))
    return with_rows(h_n_layout(order, tuple(name for *_, name in columns), reveal), rows)


@layout
def h_n_layout(order: tuple[str, ...], columns: tuple[str, ...], reveal: bool):
    """h_n's heatmap without its rows: a row per layer labelled order[i] (top layer first), output's columns."""
    base = _encode(alt.Chart(alt.NamedData(name=DATA)), "layer", order, columns)
    heat = base.mark_rect().encode(
        color=alt.Color("value:Q", scale=VALUES, legend=None),
        tooltip=["index:N", alt.Tooltip("value:Q", format=".5f")],
    )
    outline = base.transform_filter("datum.top").mark_rect(**MARK)
    chart = alt.layer(heat, outline) if reveal else heat
    return chart.properties(width="container", height=ROW_PX * len(order) + FRAME_PX)
