"""rnnviz dashboard, UI only: sidebar -> Config -> cached core calls -> the question, the picture, the tabs."""

import warnings
from pathlib import Path

import streamlit as st
import torch

from dashboard import View, cached, server, sidebar
from dashboard.ask import ask_ui
from dashboard.batch import batch_ui
from dashboard.by_hand import PICKS, by_hand_ui
from dashboard.code import code_ui
from dashboard.gradients import gradients_ui
from dashboard.markdown import plain
from dashboard.picture import picture_ui
from dashboard.relations import relations_ui, summary_ui
from dashboard.tensors import tensors_ui
from dashboard.units import train_ui, units_ui
from rnnviz.model import THREADS

# Every session's script runs in a thread of its own: torch's intra-op threads would only fight them for the
# same few cores. One thread is also rnnviz's reproducibility contract (the same bits as the CLI and the script).
torch.set_num_threads(THREADS)
# torch warns on every projected LSTM call that oneDNN falls back to its default kernel: noise in the server log.
warnings.filterwarnings("ignore", message="LSTM with projections is not supported with oneDNN")

PAGE_CSS = Path(__file__).parent / "dashboard" / "page.css"
SECTIONS = {  # tab label -> its section; the first is the landing view
    "Picture": picture_ui,
    "Relations": relations_ui,
    "Batch": batch_ui,
    "output & h_n": tensors_ui,
    "Unrolled by hand": by_hand_ui,
    "Gradients": gradients_ui,
    "Trained units": units_ui,
    "Code & downloads": code_ui,
}
KEPT_PICKS = (
    "picture_sequence",
    "tensor_sequence",
    "gradient_sequence",
    *PICKS,
)  # widgets inside tabs whose picks survive a closed tab

LESSONS = {  # each preset's one-line lesson; the longer note opens below it
    "single-uni": (
        "`output` keeps every step; `h_n` is its last one, at t = T-1, even for a short, padded sequence.",
        "**One layer, one direction.** The layer reads each sequence left to right. `output` keeps the state "
        "after every step; `h_n` keeps only the last one, so `output` at t = T-1 is `h_n`, number for number. The "
        "short sequences were fed `<pad>` steps too, so their `h_n` is their state after the padding, not at their "
        "last real character (the gray badge). Tick *packed* to change that.",
    ),
    "multi-uni": (
        "`output` is the top layer only; `h_n` has a row per layer, and `h_n[0]` is nowhere in `output`.",
        "**Two layers, one direction.** Layer 1 reads the output of layer 0. `output` is the top layer only, while "
        "`h_n` has one row per layer: `h_n[-1]` is the top layer's final state, `output` at t = T-1; `h_n[0]`, "
        "layer 0's, is not taken from `output` at all.",
    ),
    "single-bi": (
        "The backward direction ends at t = 0: `h_n[1]` is `output`'s backward half at t = 0, not at t = T-1.",
        "**One layer, two directions.** A forward and a backward pass run side by side; `output` stacks their "
        "states in its last axis (forward first, H units each). The forward pass ends at t = T-1 and the backward "
        "pass at t = 0, so `h_n[1]` is `output`'s backward half at t = 0 (the gray badge says what t = T-1 holds).",
    ),
    "multi-bi": (
        "`h_n[l*D + d]`: layer 0 →, layer 0 ←, layer 1 →, layer 1 ←; only layer 1's rows are in `output`.",
        "**Two layers, two directions.** `h_n` has L*D = 4 rows: layer 0 forward, layer 0 backward, layer 1 "
        "forward, layer 1 backward. `h_n.view(L, D, B, H)` names them; only the top layer (`hv[-1]`) is taken from "
        "`output`: forward at t = T-1, backward at t = 0.",
    ),
}
CUSTOM_LESSON = (
    "Outlined cells are where `h_n` was taken from; dark ones are what `output` holds.",
    "**Custom.** Every mark and badge is recomputed for this configuration: green, a guaranteed relation holds; "
    "gray, a tempting claim fails as it usually does (a lesson); blue, it holds here by coincidence; red would "
    "contradict PyTorch's documented behaviour.",
)


def keep_picks():
    """Keep the picks made in tabs that are closed this run: Streamlit drops the state of widgets it does not draw."""
    for key in KEPT_PICKS:
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]


def lesson_ui():
    """The preset's lesson in one line, its longer note one click away."""
    line, note = LESSONS.get(st.session_state.preset, CUSTOM_LESSON)
    left, right = st.columns([4, 1], vertical_alignment="center")  # the button stays readable at 853 px
    left.markdown(f":blue-background[{line}]")
    right.popover("Why?").markdown(note)


def main():
    """Sidebar -> Config -> cached core calls -> the page."""
    server.freeze_imports()
    st.set_page_config(page_title="rnnviz: output vs h_n", page_icon=":material/repeat:", layout="wide")
    st.html(PAGE_CSS)
    if "preset" not in st.session_state:
        ignored = sidebar.open_link(list(SECTIONS))
    else:
        ignored = []
        st.session_state.unbound = set()
        sidebar.mark_custom_if_moved()
    config, problem = sidebar.controls_ui()

    st.subheader("What does `output, h_n = rnn(x)` return?", anchor=False)
    lesson_ui()
    if ignored:
        st.warning("This link had values that cannot be used here, so they were left out: " + plain("; ".join(ignored)))
    if problem:
        st.error(plain(problem), icon=":material/edit:")
        config = st.session_state.get("last_good")
        if config is None:
            return
        st.caption("Showing the last valid configuration until the input is fixed.")
    st.session_state.last_good = config
    train_ui(config)
    analysis = cached.analysis(config)
    for warning in analysis.result.warnings:  # torch's own words, caught while it built or ran this config
        st.warning(f"torch warned: {plain(warning)}", icon=":material/warning:")
    reveal = ask_ui(analysis.result) if st.session_state.ask else True
    summary_ui(analysis.result, analysis.relations, reveal)
    keep_picks()
    view = View(config, analysis, reveal)
    for tab, section in zip(st.tabs(list(SECTIONS), key="tab", bind="query-params"), SECTIONS.values(), strict=True):
        if tab.open:  # lazy: only the open tab's section runs (switching tabs reruns the script)
            with tab:
                section(view)


with server.turn():
    main()
