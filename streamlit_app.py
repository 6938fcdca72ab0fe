"""rnnviz dashboard, UI only: sidebar -> Config -> cached core calls -> the open tab's section."""

import warnings

import streamlit as st
import torch

from dashboard import cached, sidebar
from dashboard.batch import batch_ui
from dashboard.by_hand import PICKS, by_hand_ui
from dashboard.code import code_ui
from dashboard.markdown import plain
from dashboard.relations import relations_ui, summary_ui
from dashboard.tensors import tensors_ui
from rnnviz.model import THREADS

# Every session's script runs in a thread of its own: torch's intra-op threads would only fight them for the
# same few cores. One thread is also rnnviz's reproducibility contract (the same bits as the CLI and the script).
torch.set_num_threads(THREADS)
# torch warns on every projected LSTM call that oneDNN falls back to its default kernel: noise in the server log.
warnings.filterwarnings("ignore", message="LSTM with projections is not supported with oneDNN")

SECTIONS = {  # tab label -> its section
    "Relations": relations_ui,
    "Batch": batch_ui,
    "output & h_n": tensors_ui,
    "Unrolled by hand": by_hand_ui,
    "Code & downloads": code_ui,
}
KEPT_PICKS = ("tensor_sequence", *PICKS)  # widgets inside tabs whose picks survive a closed tab

PRESET_NOTES = {
    "single-uni": "**One layer, one direction.** The layer reads each sequence left to right. `output` keeps "
    "the state after every step; `h_n` keeps only the last one, so `output` at the last time step (t = T-1) is "
    "`h_n`, number for number. The gray badge: the short sequences were fed `<pad>` steps too, so their `h_n` is "
    "their state after the padding, not at their last real character. Tick *packed* to change that.",
    "multi-uni": "**Two layers, one direction.** Layer 1 reads the output of layer 0. `output` is the top "
    "layer only, while `h_n` has one row per layer: `h_n[-1]` is the top layer and is `output` at t = T-1; "
    "`h_n[0]` (layer 0) is not taken from `output` at all.",
    "single-bi": "**One layer, two directions.** A forward and a backward pass run side by side; `output` "
    "stacks their states in its last axis (forward first, H units each). The forward pass ends at t = T-1 and "
    "the backward pass ends at t = 0, so `h_n[1]` is `output`'s backward half at t = 0, not at t = T-1 (the gray "
    "badge).",
    "multi-bi": "**Two layers, two directions.** `h_n` has L*D = 4 rows: layer 0 forward, layer 0 backward, "
    "layer 1 forward, layer 1 backward. `h_n.view(L, D, B, H)` names them; only the top layer (`hv[-1]`) "
    "is taken from `output`.",
}
CUSTOM_NOTE = (
    "**Custom.** Every badge is recomputed for this configuration: green, a guaranteed relation holds; gray, a "
    "tempting claim fails as it usually does (a lesson); blue, it holds here by coincidence; red would contradict "
    "PyTorch's documented behaviour."
)


def keep_picks():
    """Keep the picks made in tabs that are closed this run: Streamlit drops the state of widgets it does not draw."""
    for key in KEPT_PICKS:
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]


def main():
    """Sidebar -> Config -> cached core calls -> the page."""
    st.set_page_config(page_title="rnnviz: output vs h_n", page_icon=":material/repeat:", layout="wide")
    if "preset" not in st.session_state:
        ignored = sidebar.open_link(list(SECTIONS))
    else:
        ignored = []
        st.session_state.unbound = set()
        sidebar.mark_custom_if_moved()
    config, problem = sidebar.controls_ui()

    st.header("What does `output, h_n = rnn(x)` return?", anchor=False)
    st.info(PRESET_NOTES.get(st.session_state.preset, CUSTOM_NOTE))
    if ignored:
        st.warning("This link had values that cannot be used here, so they were left out: " + plain("; ".join(ignored)))
    if problem:
        st.error(plain(problem), icon=":material/edit:")
        config = st.session_state.get("last_good")
        if config is None:
            return
        st.caption("Showing the last valid configuration until the input is fixed.")
    st.session_state.last_good = config
    analysis = cached.analysis(config)
    summary_ui(analysis.result, analysis.relations)
    keep_picks()
    for tab, section in zip(st.tabs(list(SECTIONS), key="tab", bind="query-params"), SECTIONS.values(), strict=True):
        if tab.open:  # lazy: only the open tab's section runs (switching tabs reruns the script)
            with tab:
                section(config, analysis)


main()
