"""The Picture tab, the landing view: the unrolled run, with output's and h_n's cells marked by position."""

import streamlit as st

from dashboard import cached
from dashboard.by_hand import where_markdown
from dashboard.markdown import pick_sequence
from rnnviz.charts.diagram import lanes
from rnnviz.tables import DIRECTION_NAMES

MAX_ROWS = 10  # lanes drawn at once (the picture stays on the first screen); beyond, one sequence at a time


def shown_sequences(result) -> tuple[int, ...]:
    """Every sequence while the picture stays one screen tall; otherwise the one picked."""
    B = len(result.config.sequences)
    if len(lanes(result, range(B))) <= MAX_ROWS:
        return tuple(range(B))
    return (pick_sequence(result, "picture_sequence", "Sequence in the picture"),)


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
    """The diagram of the whole run, its sequence picker (when one at a time) below it, then the cell a click picked."""
    result = view.analysis.result
    chart = st.container()  # drawn into after the picker: the picture itself starts on the first screen
    sequences = shown_sequences(result)
    spec = cached.picture(view.config, sequences, view.reveal)
    event = chart.vega_lite_chart(spec, width="stretch", on_select="rerun", selection_mode="cell", key="picture")
    if view.reveal:
        clicked_cell_ui(result, cached.layers(view.config), event)
