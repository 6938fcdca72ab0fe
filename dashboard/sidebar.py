"""The sidebar: presets and every control, bound to the URL; a link opens the view it names."""

import streamlit as st
import torch

from dashboard.by_hand import pick_bounds
from rnnviz import PRESETS, Config, ConfigError
from rnnviz.config import CONFIG_DEFAULTS, config_from_controls, controls, off_reasons
from rnnviz.links import CONFIG_KEYS, parse_link
from rnnviz.tables import DIRECTION_NAMES
from rnnviz.training import task_start

CUSTOM = "Custom"
PRESET_KEYS = tuple(k for k in CONFIG_KEYS if k != "device")  # a preset never moves you off your device
UNAVAILABLE = {"device": () if torch.cuda.is_available() else ("cuda",)}  # choices this server cannot run
FRACTION_STEP = 0.05


def widget_values(config: Config) -> dict:
    """A config as the widgets hold it (a select's label, one sequence per line)."""
    return {name: ctl.shown(getattr(config, name)) for name, ctl in controls().items()}


def config_values() -> dict:
    """The controls' values (name -> Config value) from their widgets."""
    return {name: ctl.from_widget(st.session_state[name]) for name, ctl in controls().items()}


def apply_preset():
    """Callback: the chosen preset sets every control it fixes."""
    if st.session_state.preset != CUSTOM:
        values = widget_values(PRESETS[st.session_state.preset])
        st.session_state.update({k: values[k] for k in PRESET_KEYS})


def apply_task():
    """Callback: a task brings its own batch and sizes (the trained vocabulary is brackets and letters)."""
    if st.session_state.task != "none":
        st.session_state.update({name: controls()[name].shown(value) for name, value in task_start().items()})


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


def control_ui(container, name: str, off: dict[str, str], **kwargs):
    """The widget of a Config field, from its Control: bound to the URL (which leaves out a value equal to the
    default), disabled where the control does not apply, with the reason in its help."""
    ctl = controls()[name]
    default = ctl.shown(CONFIG_DEFAULTS[name])
    reason = off.get(name)
    common = dict(key=name, bind=bind(name), help=(f"Off: {reason}. " if reason else "") + ctl.help, **kwargs)
    if ctl.widget == "lines":
        return container.text_area(ctl.label, height=110, **common)
    if ctl.widget == "toggle":
        return container.toggle(ctl.label, disabled=bool(reason), **common)
    if ctl.widget == "select":
        options = [ctl.shown(value) for value in ctl.choices if value not in UNAVAILABLE.get(name, ())]
        return container.selectbox(ctl.label, options, disabled=bool(reason), **common)
    low, high = ctl.bounds
    if ctl.widget == "fraction":
        return container.number_input(
            ctl.label, low, high, default, FRACTION_STEP, format="%.2f", disabled=bool(reason), **common
        )
    return container.number_input(ctl.label, low, high, default, disabled=bool(reason), **common)


def beyond_ui(box, off: dict[str, str]):
    """Beyond the seed: the initial state (or a carry over a split), dropout in train mode, a task to train first."""
    for name in ("h0", "split", "dropout", "train_mode"):
        control_ui(box, name, off)
    control_ui(box, "task", off, on_change=apply_task)
    control_ui(box, "steps", off)


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
    off = off_reasons(config_values())  # the widgets' values as the last run left them, this run's changes included
    control_ui(sb, "sequences", off)
    control_ui(sb, "cell", off)
    control_ui(sb, "nonlinearity", off)
    left, right = sb.columns(2)
    for column, name in zip([left, right] * 3, ("layers", "seed", "hidden", "embedding", "proj"), strict=False):
        control_ui(column, name, off)
    for name in ("bidirectional", "batch_first", "packed"):
        control_ui(sb, name, off)
    left, right = sb.columns(2)
    control_ui(left, "device", off)
    control_ui(right, "dtype", off)
    if UNAVAILABLE["device"]:
        sb.caption("cuda is not offered: this server has no CUDA GPU.")
    beyond_ui(sb.expander("h_0, dropout, training", expanded=st.session_state.task != "none"), off)
    sb.toggle(
        "Ask first (predict, then reveal)",
        key="ask",
        bind=bind("ask"),
        help="A workshop mode: the marks and verdicts stay hidden until the question is answered.",
    )
    try:
        return config_from_controls(config_values()), None
    except ConfigError as error:
        return None, str(error)
