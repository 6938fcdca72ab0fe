"""Your weights: a saved state_dict uploaded in the sidebar, read without running code, for this session alone.

The file's recurrent layer replaces rnnviz's seeded one in every view (the batch and its embedding stay rnnviz's).
It lives in this session's state only: never in the link (a link cannot carry a file) and never in the server's
shared cache (dashboard.cached keeps this session's runs apart).
"""

import streamlit as st

from rnnviz import ConfigError
from rnnviz.config import controls
from rnnviz.weights_file import MAX_BYTES, Weights, describe, read_weights

FIXED_REASON = "your weights file sets it"
NO_TASK = "your weights file is the layer: a task would train one of its own"


def current() -> Weights | None:
    """The weights this session runs (the last upload read without error), or None."""
    return st.session_state.get("your_weights")


def fixed(weights: Weights | None) -> dict[str, str]:
    """The controls the file sets (its layer's sizes, and no task) -> why they are off."""
    if weights is None:
        return {}
    return {name: FIXED_REASON for name in weights.layer.config_fields()} | {"task": NO_TASK}


def hold_fixed(weights: Weights | None) -> bool:
    """Before the widgets are drawn: each control the file sets holds the file's value, as its widget shows it.
    Returns whether one of them moved."""
    if weights is None:
        return False
    values = weights.layer.config_fields() | {"task": "none"}
    shown = {name: controls()[name].shown(value) for name, value in values.items()}
    moved = any(st.session_state.get(name) != value for name, value in shown.items())
    st.session_state.update(shown)
    return moved


def read_upload() -> tuple[Weights | None, str | None]:
    """The uploaded file's layer (read once per file and prefix), or None and why it cannot run (and then
    current() is None: the views run rnnviz's own weights)."""
    upload, prefix = st.session_state.get("weights"), st.session_state.get("weights_prefix", "").strip()
    if upload is None:
        for key in ("your_weights", "weights_read"):
            st.session_state.pop(key, None)
        return None, None
    key = (upload.file_id, prefix)
    if st.session_state.get("weights_read", (None,))[0] != key:
        try:
            weights, problem = read_weights(upload.getvalue(), upload.name, prefix or None), None
        except ConfigError as error:
            weights, problem = None, str(error)
        st.session_state.weights_read = key, weights, problem
    _, weights, problem = st.session_state.weights_read
    st.session_state.your_weights = weights
    return weights, problem


def weights_ui(box, problem: str | None):
    """The uploader, the prefix that picks a layer in a whole model's file, and why a file cannot run."""
    box.file_uploader(
        "A saved state_dict (.pt)",
        type=["pt", "pth", "bin"],
        key="weights",
        max_upload_size=MAX_BYTES // 10**6,
        help="torch.save(model.state_dict(), 'model.pt') of an nn.RNN, nn.LSTM or nn.GRU, or of a whole model "
        "holding one. Read with weights_only=True: a file that would run code is refused. It stays in this "
        "session: never in the link, never shown to anyone else.",
    )
    box.text_input(
        "Prefix of the layer in it",
        key="weights_prefix",
        placeholder="encoder.rnn.",
        help="Only for a file that holds several recurrent layers: the names' prefix of the one to show.",
    )
    if problem:
        box.error(problem, icon=":material/block:")


def shown_ui():
    """At the top of the page: which file every view shows, or why it shows rnnviz's own weights instead."""
    weights, problem = current(), st.session_state.get("weights_read", (None, None, None))[2]
    if problem:
        st.error(f"Your weights cannot run, so rnnviz's own are shown: {problem}", icon=":material/block:")
    elif weights is not None:
        prefix = f" · under `{weights.prefix}`" if weights.prefix else ""
        st.info(
            f"**{weights.file}** · sha256 `{weights.sha256[:12]}`{prefix} · {describe(weights.layer)} · not in the "
            "link (it opens these sizes with rnnviz's own weights)",
            icon=":material/upload_file:",
        )
