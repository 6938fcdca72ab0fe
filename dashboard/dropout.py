"""The Picture tab's dropout masks: which units of each layer's output train mode zeroed, at every step."""

import streamlit as st

from dashboard import bind, cached
from dashboard.markdown import pick_sequence
from rnnviz.charts.dropout import masks_chart
from rnnviz.dropout import masks


def zeroed(config):
    """The masks config's forward drew (rnnviz.dropout.masks), cached with the analyses."""
    return cached.get(("dropout", config), lambda: masks(cached.analysis(config).result))


def picks_ui(view) -> int | None:
    """The masks' sequence picker, where the run draws masks (drawn while the Picture is closed too, so that the
    pick and its link survive)."""
    if view.config.draws_masks:
        return pick_sequence(view.analysis.result, "Sequence", key="dropout_sequence", bind=bind("dropout_sequence"))
    return None


def dropout_ui(view):
    """One heatmap per dropped layer for a picked sequence, and what it shows in a sentence."""
    config, result = view.config, view.analysis.result
    drawn = zeroed(config)
    b = picks_ui(view)
    counts = " · ".join(f"layer {layer}: {int(mask.sum())} of {mask.numel()}" for layer, mask in enumerate(drawn))
    st.caption(
        f"Train mode with dropout P = {config.dropout}: each layer's output but the last has units zeroed (dark) "
        "before the next layer reads it, the rest scaled by 1/(1-P). torch draws every unit at every step afresh, "
        "one Bernoulli draw each, so the zeroed units change from step to step: not one mask for the whole "
        "sequence (as variational dropout keeps). Drawn again from the generator where the forward drew them. "
        f"Zeroed, every sequence and step: {counts}."
    )
    st.vega_lite_chart(masks_chart(result, drawn, b), width="content")
