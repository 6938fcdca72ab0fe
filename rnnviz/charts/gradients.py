"""Gradients through time: the T x T map of each layer and direction (how much the state at step t moves when the
input at step s moves), and the last state's reach back over s for several cells side by side."""

import math

import altair as alt

from rnnviz.cells import CELLS
from rnnviz.charts.style import DATA, FONT_PX, INK, axis, layout, legend, scale_legend, with_rows
from rnnviz.tables import ARROWS

MAP_PX = 190  # the side of one T x T map: two side by side fit beside the sidebar at 853 px
ZERO = "exactly 0"
CUT_COLOUR = "#d62728"  # the rule where a detached carry cuts the gradients


def log_norm(value: float) -> float | None:
    """log10 of a norm; None for an exact 0 (drawn gray, apart from the colour scale)."""
    return math.log10(value) if value > 0 else None


def connectivity_map(result, values, b: int) -> dict:
    """values[l, d, b] (from rnnviz.gradients.connectivity) for sequence b: one map per layer and direction, rows t
    (the state), columns s (the input); log colour; exact zeros gray; the diagonal outlined; <pad> steps faded."""
    c = result.config
    L, D, T = c.layers, c.directions, result.batch.max_length
    n = result.batch.lengths[b]
    rows = [
        {
            "map": f"layer {layer} {ARROWS[d]}",
            "t": t,
            "s": s,
            "norm": float(values[layer, d, b, t, s]),
            "log10": log_norm(float(values[layer, d, b, t, s])),
            "zero": ZERO if values[layer, d, b, t, s] == 0 else "",
            "pad": t >= n or s >= n,
            "diagonal": t == s,
        }
        for layer in range(L)
        for d in range(D)
        for t in range(T)
        for s in range(T)
    ]
    order = tuple(f"layer {layer} {ARROWS[d]}" for layer in reversed(range(L)) for d in range(D))
    return with_rows(map_layout(order, D, c.chunk if c.detach else 0), rows)


@layout
def map_layout(order: tuple[str, ...], columns: int, cut: int = 0):
    """The maps without their rows: one per name in order (top layer first), columns of them side by side; cut
    (a detached carry's split K, else 0): a rule across each map where the states of the second chunk begin."""
    base = alt.Chart(alt.NamedData(name=DATA)).encode(
        x=alt.X("s:O", title="input step s", axis=axis()),
        y=alt.Y("t:O", title="state at step t", axis=axis()),
    )
    heat = (
        base.transform_filter("datum.zero == ''")
        .mark_rect()
        .encode(
            color=alt.Color("log10:Q", scale=alt.Scale(scheme="viridis"), legend=scale_legend("log10 norm")),
            opacity=alt.condition("datum.pad", alt.value(0.35), alt.value(1.0)),
            tooltip=["map:N", "t:O", "s:O", alt.Tooltip("norm:Q", format=".3e")],
        )
    )
    zeros = (
        base.transform_filter("datum.zero != ''")
        .mark_rect(color="#d0d0d0")
        .encode(
            stroke=alt.Stroke("zero:N", scale=alt.Scale(range=["#d0d0d0"]), legend=legend([ZERO])),
            tooltip=["map:N", "t:O", "s:O", "zero:N"],
        )
    )
    diagonal = base.transform_filter("datum.diagonal").mark_rect(filled=False, stroke="white", strokeWidth=1.5)
    layers = [heat, zeros, diagonal]
    if cut:
        layers.append(
            base.transform_filter(f"datum.t == {cut} && datum.s == 0")  # one rule a map
            .mark_rule(color=CUT_COLOUR, strokeWidth=3)
            .encode(
                x=alt.value(0),
                x2=alt.value(MAP_PX),
                y=alt.Y("t:O", bandPosition=0),  # the top edge of row t = K
                tooltip=[alt.Tooltip("t:O", title="detached at the split, t")],
            )
        )
    chart = alt.layer(*layers).properties(width=MAP_PX, height=MAP_PX)
    return chart.facet(
        facet=alt.Facet(
            "map:N", sort=list(order), title=None, header=alt.Header(labelFontSize=FONT_PX, labelColor=INK)
        ),
        columns=columns,
    )


def reach_chart(reaches: dict[str, list[float]]) -> dict:
    """reaches[cell][s]: the last state's norm with respect to input s; one line per cell, log scale."""
    rows = [
        {"cell": cell, "s": s, "norm": norm}
        for cell, values in reaches.items()
        for s, norm in enumerate(values)
        if norm > 0
    ]
    return with_rows(reach_layout(), rows)


@layout
def reach_layout():
    """The reach chart without its rows."""
    return (
        alt.Chart(alt.NamedData(name=DATA))
        .mark_line(point=True)
        .encode(
            x=alt.X("s:Q", title="input step s", axis=axis(tickMinStep=1)),
            y=alt.Y("norm:Q", scale=alt.Scale(type="log"), title="‖∂h_last / ∂x_s‖", axis=axis()),
            color=alt.Color("cell:N", legend=legend([cell.label for cell in CELLS.values()])),
            tooltip=["cell:N", "s:Q", alt.Tooltip("norm:Q", format=".3e")],
        )
        .properties(width="container", height=260)
    )
