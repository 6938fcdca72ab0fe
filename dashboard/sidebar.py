"""The sidebar: presets and every control, bound to the URL; a link opens the view it names."""

import streamlit as st
import torch

from dashboard.by_hand import pick_bounds
from rnnviz import PRESETS, Config, ConfigError
from rnnviz.brackets import BRACKET_SEQUENCES
from rnnviz.cells import CELLS
from rnnviz.config import (
    DTYPES,
    INITIAL_STATES,
    MAX_EMBEDDING,
    MAX_HIDDEN,
    MAX_LAYERS,
    MAX_LENGTH,
    MAX_SEED,
    MAX_STEPS,
    NONLINEARITIES,
    TASKS,
    parse_sequences,
)
from rnnviz.links import CONFIG_KEYS, parse_link
from rnnviz.tables import DIRECTION_NAMES
from rnnviz.training import TASK_DEFAULTS

CUSTOM = "Custom"
PRESET_KEYS = tuple(k for k in CONFIG_KEYS if k != "device")  # a preset never moves you off your device
DEVICES = ["auto", "cpu", "cuda"] if torch.cuda.is_available() else ["auto", "cpu"]
NUMBER_BOUNDS = {
    "layers": (1, MAX_LAYERS),
    "seed": (0, MAX_SEED),
    "hidden": (1, MAX_HIDDEN),
    "embedding": (1, MAX_EMBEDDING),
    "proj": (0, MAX_HIDDEN - 1),
    "split": (0, MAX_LENGTH - 1),
    "steps": (0, MAX_STEPS),
}
MAX_DROPOUT = 0.95
CELL_BY_LABEL = {cell.label: cell for cell in CELLS.values()}


def widget_values(config: Config) -> dict:
    """A config as the widgets hold it (the cell's label, one sequence per line)."""
    values = {k: getattr(config, k) for k in CONFIG_KEYS}
    values["sequences"] = "\n".join(config.sequences)
    values["cell"] = CELLS[config.cell].label
    return values


def apply_preset():
    """Callback: the chosen preset sets every control it fixes."""
    if st.session_state.preset != CUSTOM:
        values = widget_values(PRESETS[st.session_state.preset])
        st.session_state.update({k: values[k] for k in PRESET_KEYS})


def apply_task():
    """Callback: a task brings its own batch and sizes (the trained vocabulary is brackets and letters)."""
    if st.session_state.task != "none":
        st.session_state.update(
            sequences="\n".join(BRACKET_SEQUENCES), hidden=TASK_DEFAULTS["hidden"], embedding=TASK_DEFAULTS["embedding"]
        )


def mark_custom_if_moved():
    """A control moved off the preset makes the preset Custom (before the selectbox is drawn)."""
    name = st.session_state.preset
    if name != CUSTOM:
        values = widget_values(PRESETS[name])
        if any(st.session_state.get(k) != values[k] for k in PRESET_KEYS):
            st.session_state.preset = CUSTOM


def open_link(tabs) -> list[str]:
    """First run: the link's view goes into the controls. Returns `key=value: why` for each value dropped.

    The core parses and validates the link; a dropped value also leaves the URL, so that no widget reads it.
    """
    link = parse_link(st.query_params.to_dict())
    dropped = {**link.ignored, **page_link_problems(link.rest, link.config, tabs)}
    preset = link.preset or CUSTOM
    unbound = set(dropped) | ({"preset"} if st.query_params.get("preset", preset) != preset else set())
    for key in unbound:  # the URL no longer claims these values...
        del st.query_params[key]
    st.session_state.update({**widget_values(link.config), "preset": preset})
    st.session_state.unbound = unbound  # ...and on this first run only, their widgets would still read them
    return list(dropped.values())


def bind(key: str) -> str | None:
    """Bound to the URL, except on a link's first run where the link's value for it was dropped."""
    return None if key in st.session_state.get("unbound", ()) else "query-params"


def page_link_problems(rest: dict, config: Config, tabs) -> dict[str, str]:
    """key -> `key=value: why` for the link's page values (tab, ask, the unrolled step's picks) that cannot be used."""
    choices = {"tab": tabs, "ask": ("true", "false"), "hand_direction": DIRECTION_NAMES[: config.directions]}
    problems = {}
    for key, options in choices.items():
        value = rest.get(key)
        if value is not None and (value.lower() if key == "ask" else value) not in options:
            problems[key] = f"{key}={value}: one of {', '.join(options)}"
    for key, high in pick_bounds(config).items():
        if key in rest and not (rest[key].isdigit() and int(rest[key]) <= high):
            problems[key] = f"{key}={rest[key]}: a whole number from 0 to {high}"
    return problems


def number_ui(container, label: str, key: str, **kwargs):
    """A number input bound to the URL, whose default is rnnviz's (the URL leaves out a value equal to it)."""
    low, high = NUMBER_BOUNDS[key]
    container.number_input(label, low, high, getattr(Config(), key), key=key, bind=bind(key), **kwargs)


def beyond_ui(box):
    """Beyond the seed: the initial state (or a carry over a split), dropout in train mode, a task to train first."""
    box.selectbox("Initial state h_0", INITIAL_STATES, key="h0", bind=bind("h0"))
    carry = st.session_state.h0 == "carry"
    number_ui(box, "split K (first chunk)", "split", disabled=not carry, help="0: T // 2. Only with h_0 carry.")
    box.number_input(
        "dropout", 0.0, MAX_DROPOUT, 0.0, 0.05, key="dropout", bind=bind("dropout"), format="%.2f",
        help="Between layers, in train mode only: each layer's output but the last.",
    )  # fmt: skip
    box.toggle("Train mode (dropout on)", key="train_mode", bind=bind("train_mode"))
    box.selectbox(
        "Task: train first", TASKS, key="task", bind=bind("task"), on_change=apply_task,
        help="brackets: train next-character prediction on generated bracket text, then show the trained layer.",
    )  # fmt: skip
    number_ui(box, "training steps", "steps", disabled=st.session_state.task == "none", help="0: the task's default.")


def controls_ui() -> tuple[Config | None, str | None]:
    """The sidebar; returns the config, or None and the reason it is invalid."""
    sb = st.sidebar
    sb.title("rnnviz")
    sb.selectbox(
        "Preset (the blog's four sections)",
        [CUSTOM, *PRESETS],
        key="preset",
        on_change=apply_preset,
        bind=bind("preset"),
        help="Walk through single/multi-layer, uni/bi-directional step by step.",
    )
    sb.text_area("Sequences, one per line", key="sequences", bind=bind("sequences"), height=110)
    cell = CELL_BY_LABEL[sb.selectbox("Cell", list(CELL_BY_LABEL), key="cell", bind=bind("cell"))]
    sb.selectbox(
        "Nonlinearity",
        NONLINEARITIES,
        key="nonlinearity",
        bind=bind("nonlinearity"),
        disabled=not cell.has_nonlinearity,
        help=None if cell.has_nonlinearity else f"Only the RNN cell has it: {cell.label}'s gates are fixed.",
    )
    left, right = sb.columns(2)
    number_ui(left, "Layers", "layers")
    number_ui(right, "Seed", "seed")
    number_ui(left, "Hidden size", "hidden")
    number_ui(right, "Embedding size", "embedding")
    number_ui(
        left,
        "proj_size",
        "proj",
        disabled=not cell.has_cell_state,
        help="0: no projection. Must be smaller than the hidden size."
        if cell.has_cell_state
        else f"Only the LSTM cell has a projection, not {cell.label}.",
    )
    sb.toggle("Bidirectional", key="bidirectional", bind=bind("bidirectional"))
    sb.toggle("batch_first", key="batch_first", bind=bind("batch_first"))
    sb.toggle("Packed (pack_padded_sequence)", key="packed", bind=bind("packed"))
    left, right = sb.columns(2)
    left.selectbox("Device", DEVICES, key="device", bind=bind("device"))
    right.selectbox("dtype", DTYPES, key="dtype", bind=bind("dtype"))
    if "cuda" not in DEVICES:
        sb.caption("cuda is not offered: this server has no CUDA GPU.")
    beyond_ui(sb.expander("h_0, dropout, training", expanded=st.session_state.task != "none"))
    sb.toggle(
        "Ask first (predict, then reveal)",
        key="ask",
        bind=bind("ask"),
        help="A workshop mode: the marks and verdicts stay hidden until the question is answered.",
    )
    s = st.session_state
    try:
        config = Config(
            sequences=parse_sequences(s.sequences),
            cell=cell.name,
            nonlinearity=s.nonlinearity if cell.has_nonlinearity else "tanh",
            layers=s.layers,
            bidirectional=s.bidirectional,
            hidden=s.hidden,
            embedding=s.embedding,
            proj=s.proj if cell.has_cell_state else 0,
            batch_first=s.batch_first,
            packed=s.packed,
            seed=s.seed,
            device=s.device,
            dtype=s.dtype,
            h0=s.h0,
            split=s.split if s.h0 == "carry" else 0,
            dropout=float(s.dropout),
            train_mode=s.train_mode,
            task=s.task,
            steps=s.steps if s.task != "none" else 0,
        )
    except ConfigError as error:
        return None, str(error)
    return config, None
