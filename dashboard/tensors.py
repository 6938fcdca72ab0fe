"""The output & h_n tab: heatmaps (h_n's cells outlined by position) and labelled tables."""

import streamlit as st

from rnnviz import charts, tables
from rnnviz.config import MAX_CELLS


@st.cache_data(max_entries=32, show_spinner=False)
def heatmaps(_result, config, sequences: tuple[int, ...]) -> tuple[dict, dict]:
    """The Vega-Lite specs of the output and h_n heatmaps (keyed by config and sequences; _result is its run)."""
    return charts.output_heatmap(_result, sequences), charts.h_n_heatmap(_result, sequences)


def shown_sequences(result, key: str) -> tuple[int, ...]:
    """All sequences when the tensors are small; otherwise the one the user picks."""
    B = len(result.config.sequences)
    if result.output.numel() <= MAX_CELLS:
        return tuple(range(B))
    b = st.selectbox(
        "Sequence shown (the downloads hold every sequence)",
        range(B),
        key=key,
        format_func=lambda i: f"b={i}: {result.batch.sequences[i]}",
    )
    return (b,)


def tensors_ui(config, analysis):
    """output, h_n and c_n as heatmaps and labelled tables."""
    result = analysis.result
    H = config.state_size
    seqs = shown_sequences(result, "tensor_sequence")
    shown = charts.units_shown(result, seqs)
    if shown < H:
        st.caption(
            f"The heatmaps show the first {shown} of {H} units per direction; the tables and downloads hold all."
        )
    out_spec, h_spec = heatmaps(result, config, seqs)
    st.subheader("output over time")
    st.caption(
        "Outlined: the steps h_n was taken from (top layer): forward where it ends (t = T-1, or each sequence's "
        "last real step when packed), backward at t = 0."
        if config.directions == 2
        else "Outlined: the step h_n was taken from (top layer): t = T-1, or each sequence's last real step when "
        "packed."
    )
    st.vega_lite_chart(out_spec, width="content")
    st.dataframe(tables.output_frame(result, seqs), hide_index=True, width="stretch")
    st.subheader("h_n, one row per layer and direction")
    st.caption("Outlined: the top layer, hv[-1], the only layer that output shows.")
    st.vega_lite_chart(h_spec, width="content")
    left, right = st.columns(2)
    left.caption(f"as returned, [L*D, B, H] = {list(result.h_n.shape)}")
    left.dataframe(tables.state_frame(result.h_n, config), hide_index=True, width="stretch")
    right.caption(f"as the view h_n.view(L, D, B, H) = {[config.layers, config.directions, len(config.sequences), H]}")
    right.dataframe(tables.state_frame(result.h_n, config, view=True), hide_index=True, width="stretch")
    if result.c_n is not None:
        st.subheader("c_n, the LSTM's final cell state")
        st.caption(f"[L*D, B, hidden] = {list(result.c_n.shape)}: never projected, so hidden_size units.")
        st.dataframe(tables.state_frame(result.c_n, config, view=True), hide_index=True, width="stretch")
