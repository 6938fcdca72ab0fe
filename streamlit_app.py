"""rnnviz dashboard, UI only: sidebar -> Config -> cached core calls -> the question, the picture, the tabs."""

import warnings
from pathlib import Path

import streamlit as st
import torch

from dashboard import View, by_hand, cached, compare, gradients, picture, server, sidebar, tensors, your_weights
from dashboard.ask import ask_ui, question
from dashboard.batch import batch_ui
from dashboard.by_hand import PICKS, by_hand_ui
from dashboard.code import code_ui
from dashboard.compare import compare_ui
from dashboard.gradients import gradients_ui
from dashboard.markdown import plain
from dashboard.picture import picture_ui, shown_sequences
from dashboard.present import present_ui, step_of
from dashboard.relations import relations_ui, summary_ui
from dashboard.tensors import tensors_ui
from dashboard.units import train_ui, units_ui
from dashboard.views import VIEWS, views_ui
from dashboard.weights import weights_ui
from rnnviz.model import THREADS

# Every session's script runs in a thread of its own: torch's intra-op threads would only fight them for the
# same few cores. One thread is also rnnviz's reproducibility contract (the same bits as the CLI and the script).
torch.set_num_threads(THREADS)
# torch warns on every projected LSTM call that oneDNN falls back to its default kernel: noise in the server log.
warnings.filterwarnings("ignore", message="LSTM with projections is not supported with oneDNN")

PAGE_CSS = Path(__file__).parent / "dashboard" / "page.css"
PRESENT_CSS = Path(__file__).parent / "dashboard" / "present.css"  # presenter mode: the room's screen, no sidebar
TITLE = "What does `output, h_n = rnn(x)` return?"
SECTIONS = {  # view (dashboard.views.GROUPS puts them in tabs) -> its section
    "Picture": picture_ui,
    "Relations": relations_ui,
    "Compare": compare_ui,
    "Batch": batch_ui,
    "output & h_n": tensors_ui,
    "Unrolled by hand": by_hand_ui,
    "Weights": weights_ui,
    "Gradients": gradients_ui,
    "Trained units": units_ui,
    "Code & downloads": code_ui,
}
KEPT_PICKS = (
    "picture_sequence",
    "tensor_sequence",
    "gradient_sequence",
    "dropout_sequence",
    "compare",
    *PICKS,
)  # the picks made inside views: a link may set them, and a closed view still draws them (their value and link live)
VIEW_PICKS = {"Picture": picture.kept_picks_ui, "output & h_n": tensors.picks_ui, "Unrolled by hand": by_hand.picks_ui,
              "Gradients": gradients.picks_ui, "Compare": compare.picks_ui}  # fmt: skip

LESSONS = {  # each step of the lesson path (dashboard.present.PATH): its one-line lesson and the longer note
    "single-uni": (
        "`output` keeps every step; `h_n` is its last one, at t = T-1, even for a short, padded sequence.",
        "**One layer, one direction.** The layer reads each sequence left to right. `output` keeps the state "
        "after every step; `h_n` keeps only the last one, so `output` at t = T-1 is `h_n`, number for number. The "
        "short sequences were fed `<pad>` steps too, so their `h_n` is their state after the padding, not at their "
        "last real character (the gray badge). The preset *packed* changes that.",
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
        "forward, layer 1 backward. `h_n.view(L, D, B, H)` names them (the pages call it `hv`); only the top layer "
        "(`hv[-1]`) is taken from `output`: forward at t = T-1, backward at t = 0.",
    ),
    "packed": (
        "Packed, each sequence stops at its own length: `h_n[0]` is `output` at its last real step, not at t = T-1.",
        "**One layer, two directions, packed.** `pack_padded_sequence` hands the layer each sequence's length, so "
        "it never reads the `<pad>` steps: the forward pass of 'tiny' stops at t = 3 and `h_n[0]` is its state "
        "there, not after the padding; the backward pass starts at each sequence's last real step and ends at "
        "t = 0 (`h_n[1]`). `pad_packed_sequence` fills `output` past each length with zeros.",
    ),
    "lstm-c_n": (
        "`c_n` is the LSTM's cell state after the last step: `output` holds h alone, never c.",
        "**An LSTM, one layer.** `output, (h_n, c_n) = lstm(x)`. Each step keeps two states: h, which `output` "
        "collects step by step, and the cell state c, which stays inside the layer. `c_n` is c after the last "
        "step, a row per layer and direction like `h_n`; it keeps `hidden` units even where a projection "
        "(`proj_size`) makes h smaller.",
    ),
    "carry-h_0": (
        "Two chunks, the first one's `h_n` handed over as `h_0`: `output` and `h_n` are one whole run's.",
        "**h_0 carried over a split.** The layer runs steps [0, K) first, then [K, T) starting from the first "
        "chunk's `h_n` instead of zeros (`h0` carry, `split` K; 0 means T // 2). A one-direction layer reads only "
        "its past, so its state at the split is all the rest needs: the chunks give the whole run's numbers, up to "
        "rounding. That is how a long text is read piece by piece.",
    ),
}
CUSTOM_NOTE = (
    "**Custom.** Every mark and badge is recomputed for this configuration: green, a guaranteed relation holds; "
    "gray, a tempting claim fails as it usually does (a lesson); blue, it holds here by coincidence; red would "
    "contradict PyTorch's documented behaviour."
)


def title_ui(config):
    """The page's question; in presenter mode, the lesson path's Back and Next beside it."""
    if not st.session_state.get("present") or config is None:
        st.subheader(TITLE, anchor=False)
        return
    row = st.container(horizontal=True, vertical_alignment="center")
    row.subheader(TITLE, anchor=False, width="content")
    present_ui(row, config)


def lesson_ui(config, result) -> bool:
    """The view's lesson in one line, its longer note one click away (a custom view: what its question teaches).
    In ask mode the question comes first, and the lesson with the verdict once it is answered. Returns whether the
    answers may show."""
    b = min(shown_sequences(result), key=lambda i: result.batch.lengths[i])  # the picture's; padding shows
    q = question(result, b)
    line, note = LESSONS.get(step_of(config)) or (plain(q.why), CUSTOM_NOTE)
    verdict = ""
    if st.session_state.ask:
        answer = ask_ui(result, b)
        if answer is None:
            return False
        verdict, why = answer
        note = f"{plain(why)}\n\n{note}"
    left, right = st.columns([4, 1], vertical_alignment="center")  # the button stays readable at 853 px
    left.markdown(f"{verdict} :blue-background[{line}]")
    right.popover("Why?").markdown(note)
    return True


def main():
    """Link or last run -> the sidebar -> Config -> cached core calls -> the page."""
    server.freeze_imports()
    if "preset" not in st.session_state:
        dropped = sidebar.open_link(VIEWS, KEPT_PICKS)
    else:
        dropped = []
        sidebar.settle()
    present = st.session_state.get("present", False)
    st.set_page_config(
        page_title="rnnviz: output vs h_n",
        page_icon=":material/repeat:",
        layout="wide",
        initial_sidebar_state="collapsed" if present else "auto",
    )
    st.html(PAGE_CSS)
    if present:
        st.html(PRESENT_CSS)
    config, problem = sidebar.controls_ui()
    title_ui(config or st.session_state.get("last_good"))
    your_weights.shown_ui()
    if dropped:  # one sentence a value, each on a line of its own
        sentences = "".join(f"\n- {plain(sentence)}" for sentence in dropped)
        st.warning(f"This link had values that cannot be used here, so they were left out:\n{sentences}")
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
    reveal = lesson_ui(config, analysis.result)
    summary = st.container()  # above the tabs; presented, under them: the room's first screen is the picture's
    view = View(config, analysis, reveal, present)
    views_ui(view, SECTIONS, VIEW_PICKS)
    with st.container() if present else summary:
        summary_ui(analysis.result, analysis.relations, reveal)


with server.turn():
    main()
