"""Dropout's masks for one sequence: a heatmap per dropped layer, a column per step t and a row per unit of that
layer's output, dark where train mode zeroed the unit before the next layer read it."""

import altair as alt

from rnnviz.charts.style import DATA, FONT_PX, INK, axis, layout, legend, with_rows
from rnnviz.config import MAX_CELLS
from rnnviz.tables import ARROWS

WIDTH_PX = 380  # one heatmap's width: beside the sidebar at 853 px
UNIT_PX = 20  # a unit's row (every label shows at 16 px type), while the heatmap is no taller than MAX_HEIGHT_PX
MAX_HEIGHT_PX = 320
ZEROED, KEPT, PAD = "zeroed", "kept (scaled by 1/(1-P))", "past the length: no draw"


def unit_names(directions: int, units: int) -> list[str]:
    """A row per unit of a layer's output: 0 1 2 .., or →0 →1 .. ←0 ←1 .. for two directions."""
    arrows = ARROWS if directions == 2 else ("",)
    return [f"{arrow}{k}" for arrow in arrows for k in range(units)]


def masks_chart(result, zeroed, b: int) -> dict:
    """zeroed (L-1 bool tensors (T, B, D*H), rnnviz.dropout.masks) for sequence b: one heatmap per dropped layer
    (layer l's output, read by layer l + 1), x the step t, y the unit; at most MAX_CELLS cells per heatmap (the
    first units of each direction beyond)."""
    c = result.config
    T, n, H = result.batch.max_length, result.batch.lengths[b], c.state_size
    shown = max(1, min(H, MAX_CELLS // (T * c.directions)))
    names = unit_names(c.directions, shown)
    past = c.packed  # packed, a step past the length draws no mask
    rows = [
        {
            "layer": f"layer {layer}'s output, read by layer {layer + 1}",
            "t": t,
            "unit": names[d * shown + k],
            "mask": PAD if past and t >= n else ZEROED if bool(mask[t, b, d * H + k]) else KEPT,
        }
        for layer, mask in enumerate(zeroed)
        for t in range(T)
        for d in range(c.directions)
        for k in range(shown)
    ]
    order = tuple(rows[i]["layer"] for i in range(0, len(rows), T * len(names)))
    return with_rows(masks_layout(order, tuple(names), past), rows)


@layout
def masks_layout(order: tuple[str, ...], units: tuple[str, ...], past: bool):
    """The heatmaps without their rows: one per layer in order, one under the other (past: a packed run's steps
    past a length, which draw nothing, in a colour of their own)."""
    height = min(MAX_HEIGHT_PX, UNIT_PX * len(units))
    kinds = [ZEROED, KEPT, PAD] if past else [ZEROED, KEPT]
    heat = (
        alt.Chart(alt.NamedData(name=DATA))
        .mark_rect(stroke="white", strokeWidth=0.5)
        .encode(
            x=alt.X("t:O", title="step t", axis=axis(labelAngle=0, labelOverlap=True)),
            y=alt.Y(
                "unit:N",
                sort=list(units),
                title="unit",
                axis=axis(labelOverlap=height < UNIT_PX * len(units), labelFlush=False),  # every label on its row
            ),
            color=alt.Color(
                "mask:N",
                scale=alt.Scale(domain=kinds, range=["#31333f", "#e8e8ee", "#f5ecd7"][: len(kinds)]),
                legend=legend(kinds),
            ),
            tooltip=["layer:N", "t:O", "unit:N", "mask:N"],
        )
        .properties(width=WIDTH_PX, height=height)
    )
    header = alt.Header(labelFontSize=FONT_PX, labelColor=INK, labelAngle=0, labelOrient="top", labelAnchor="start")
    return heat.facet(row=alt.Row("layer:N", sort=list(order), title=None, header=header))
