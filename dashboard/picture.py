"""The Picture tab, the landing view: the unrolled run, with output's and h_n's cells marked by position."""

import html

import streamlit as st

from dashboard import bind, cached, dropout
from dashboard.by_hand import where_markdown
from dashboard.markdown import pick_sequence
from rnnviz.charts.diagram import lanes
from rnnviz.tables import DIRECTION_NAMES

MAX_ROWS = 10  # lanes drawn at once (the picture stays on the first screen); beyond, one sequence at a time


def one_at_a_time(result) -> bool:
    """Whether the picture shows one sequence at a time: all of them would not stay one screen tall."""
    return len(lanes(result, range(len(result.config.sequences)))) > MAX_ROWS


def shown_sequences(result) -> tuple[int, ...]:
    """The sequences the picture shows: every one, or the one picked under it."""
    B = len(result.config.sequences)
    if not one_at_a_time(result):
        return tuple(range(B))
    return (min(st.session_state.get("picture_sequence", 0), B - 1),)


def picks_ui(view):
    """The picture's sequence picker, when it shows one at a time (drawn in the closed tab too, so that the pick and
    its link survive it)."""
    result = view.analysis.result
    if one_at_a_time(result):
        pick_sequence(result, "Sequence in the picture", key="picture_sequence", bind=bind("picture_sequence"))


def kept_picks_ui(view):
    """The Picture's picks while it is closed: the picture's sequence, the dropout masks' sequence."""
    picks_ui(view)
    dropout.picks_ui(view)


def legend_html(pairs) -> str:
    """The picture's colours, a swatch and its words each, in a row that wraps (the chart's own legend would not;
    dashboard/page.css styles it)."""
    entries = " ".join(  # the spaces between them are where a row wraps
        f'<span><span class="swatch" style="background:{colour}"></span>{html.escape(role)}</span>'
        for role, colour in pairs
    )
    return f'<div class="rnnviz-legend" data-testid="rnnviz-legend">{entries}</div>'


def clicked_cell_ui(result, layer_outputs, event):
    """The state a click picked: where it sits and its numbers."""
    picked = event.selection.get("cell", []) if event else []
    if not picked:
        st.caption("Hover a cell for its numbers; click one to keep it here.")
        return
    b, t, layer, d = (int(picked[0][k]) for k in ("sequence", "t", "layer", "direction"))
    H = result.config.state_size
    st.markdown(f"**layer {layer} {DIRECTION_NAMES[d]}, t = {t}, b = {b}** · {where_markdown(result, t, layer, d, b)}")
    st.dataframe([{f"unit {k}": float(v) for k, v in enumerate(layer_outputs[layer][t, b, d * H : (d + 1) * H])}])


def picture_ui(view):
    """The diagram of the whole run, its sequence picker (when one at a time) under it, then the cell a click picked."""
    result = view.analysis.result
    chart = st.container()  # drawn into after the picker: the picture itself starts on the first screen
    picks_ui(view)
    spec = cached.picture(view.config, shown_sequences(result), view.reveal, view.present)
    event = chart.vega_lite_chart(spec, width="stretch", on_select="rerun", selection_mode="cell", key="picture")
    chart.html(legend_html(spec["usermeta"]["legend"]))
    if view.reveal:
        clicked_cell_ui(result, cached.layers(view.config), event)
    if view.config.draws_masks:
        with st.expander("Dropout masks"):
            dropout.dropout_ui(view)
