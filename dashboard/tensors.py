"""The output & h_n tab: per sequence, output (a row per time step) above h_n (a row per layer, output's columns),
h_n's blocks outlined and named by position; then the labelled tables."""

import streamlit as st

from dashboard import bind, cached
from dashboard.markdown import pick_sequence, sequence_label
from dashboard.recipes import recipes_ui
from rnnviz import tables
from rnnviz.charts.heatmaps import units_shown

SCROLL_AFTER = 24  # time steps; a longer output heatmap scrolls inside its own box
SCROLL_BOX_PX = 640
STYLED_CELLS = 10_000  # a Styler costs ~0.25 s at 10k cells: larger tables are shown plain


def picks_ui(view) -> int:
    """The heatmaps' sequence (drawn in the closed tab too, so that the pick and its link survive it)."""
    return pick_sequence(view.analysis.result, key="tensor_sequence", bind=bind("tensor_sequence"))


def heatmaps_ui(config, result, reveal: bool, b: int):
    """Sequence b: output, then h_n in the same columns."""
    H, T = config.state_size, result.batch.max_length
    shown = units_shown(result)
    if shown < H:
        st.caption(f"The heatmaps show the first {shown} of {H} units per direction; tables and downloads hold all.")
    out_spec, h_spec = cached.heatmaps(config, b, reveal)
    n = result.batch.lengths[b]
    st.markdown(
        f"`output[:, {b}]`"
        + (" (`output[b]` with batch_first)" if config.batch_first else "")
        + f" · {sequence_label(result, b, 40)} · {n} of T = {T} steps"
        + (" · outlined: the blocks h_n was taken from, by position" if reveal else "")
        + (" · faded: <pad> steps" if n < T else "")
    )
    box = st.container(height=SCROLL_BOX_PX) if T > SCROLL_AFTER else st.container()
    box.vega_lite_chart(out_spec, width="stretch")
    st.markdown(
        f"`h_n[:, {b}]`, a row per layer in `output`'s columns"
        + (": `hv[l]`, its forward units, then its backward ones" if config.bidirectional else "")
    )
    st.vega_lite_chart(h_spec, width="stretch")


def highlight_h_n_rows(frame):
    """The rows h_n was taken from, shaded (a Styler: only for tables small enough to style quickly)."""
    shade = ["background-color: #dbe7f5"] * len(frame.columns)
    return frame.style.apply(lambda row: shade if row["h_n"] else [""] * len(row), axis=1).format(precision=4)


def tensors_ui(view):
    """output, h_n and c_n as heatmaps and labelled tables."""
    config, result = view.config, view.analysis.result
    heatmaps_ui(config, result, view.reveal, picks_ui(view))
    st.subheader("output, every number")
    frame = tables.output_frame(result)
    if not view.reveal:
        frame = frame.drop(columns="h_n")
    small = view.reveal and frame.size <= STYLED_CELLS
    st.dataframe(highlight_h_n_rows(frame) if small else frame, hide_index=True, width="stretch")
    compact = {f"unit {k}": st.column_config.NumberColumn(format="%.4f", width="small") for k in range(config.hidden)}
    shape = [config.layers, config.directions, len(config.sequences), config.state_size]
    left, right = st.columns(2)
    left.caption(f"h_n as returned, [L*D, B, H] = {list(result.h_n.shape)}")
    left.dataframe(tables.state_frame(result.h_n, config), hide_index=True, column_config=compact)
    right.caption(f"as the view h_n.view(L, D, B, H) = {shape}")
    right.dataframe(tables.state_frame(result.h_n, config, view=True), hide_index=True, column_config=compact)
    if result.c_n is not None:
        st.subheader("c_n, the LSTM's final cell state")
        st.caption(f"[L*D, B, hidden] = {list(result.c_n.shape)}: never projected, so hidden_size units.")
        st.dataframe(tables.state_frame(result.c_n, config, view=True), hide_index=True, column_config=compact)
    recipes_ui(view)
