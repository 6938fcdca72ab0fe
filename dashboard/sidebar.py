"""The sidebar: presets and every control, bound to the URL; a link opens the view it names, and the address bar
then holds that view's own link."""

import streamlit as st
import torch

from dashboard import bind, your_weights
from dashboard.by_hand import pick_bounds
from dashboard.compare import flips
from dashboard.markdown import button
from rnnviz import PRESETS, Config, ConfigError
from rnnviz.config import CONFIG_DEFAULTS, config_from_controls, controls, off_reasons
from rnnviz.links import CONFIG_KEYS, link_params, parse_link, quoted
from rnnviz.tables import DIRECTION_NAMES
from rnnviz.training import task_start

CUSTOM = "Custom"
PRESET_KEYS = tuple(k for k in CONFIG_KEYS if k != "device")  # a preset never moves you off your device
UNAVAILABLE = {"device": () if torch.cuda.is_available() else ("cuda",)}  # choices this server cannot run
FRACTION_STEP = 0.05
SWITCHES = ("ask", "present")  # the page's own toggles: true or false in a link


def widget_values(config: Config) -> dict:
    """A config as the widgets hold it (a select's label, one sequence per line)."""
    return {name: ctl.shown(getattr(config, name)) for name, ctl in controls().items()}


def config_values() -> dict:
    """The controls' values (name -> Config value) from their widgets."""
    return {name: ctl.from_widget(st.session_state[name]) for name, ctl in controls().items()}


def show(config: Config, preset: str):
    """Set every control to config (the device aside) and the preset box to preset (a preset's name, or Custom)."""
    values = widget_values(config)
    st.session_state.update({**{k: values[k] for k in PRESET_KEYS}, "preset": preset})


def apply_preset():
    """Callback: the chosen preset sets every control it fixes."""
    if st.session_state.preset != CUSTOM:
        show(PRESETS[st.session_state.preset], st.session_state.preset)


def apply_task():
    """Callback: a task brings its own batch and sizes (the trained vocabulary is brackets and letters)."""
    if st.session_state.task != "none":
        st.session_state.update({name: controls()[name].shown(value) for name, value in task_start().items()})


def settle():
    """Every run after the first: a control that does not apply goes back to its default (the value that counts,
    and so the one the link holds); a control moved off the preset makes the view Custom."""
    st.session_state.unbound = set()
    for name in off_reasons(config_values()):
        default = controls()[name].shown(CONFIG_DEFAULTS[name])
        if st.session_state[name] != default:
            st.session_state[name] = default
    name = st.session_state.preset
    if name != CUSTOM:
        values = widget_values(PRESETS[name])
        if any(st.session_state.get(k) != values[k] for k in PRESET_KEYS):
            st.session_state.preset = CUSTOM


def open_link(tabs, picks) -> list[str]:
    """First run: the link's view goes into the widgets, and the address bar becomes that view's own link (every
    value off the default config, the preset, the open tab, the switches and picks). Returns a sentence for each
    value left out.

    The core parses and checks the config's values; the page's own (tabs, picks: their keys) are checked here.
    """
    given = st.query_params.to_dict()
    link = parse_link(given)
    page, problems = page_values(link.rest, link.config, tabs, picks)
    preset = link.preset or CUSTOM
    st.session_state.update({**widget_values(link.config), "preset": preset})
    st.session_state.update({key: value for key, (value, _) in page.items()})
    own = {"preset": preset} if preset != CUSTOM else {}
    own.update(link_params(link.config))
    own.update({key: text for key, (_, text) in page.items()})
    st.query_params.from_dict(own)  # nothing is bound yet on a session's first run
    st.session_state.unbound = {key for key, text in given.items() if own.get(key) != text}
    return list(dict.fromkeys([*link.ignored.values(), *problems.values()]))


def page_values(rest: dict, config: Config, tabs, picks) -> tuple[dict[str, tuple], dict[str, str]]:
    """The link's page values this view has (the open tab, the switches, the picks): key -> (the value as its
    widget holds it, the words it writes in a link); and a sentence for each one the view does not have."""
    highs = pick_bounds(config)  # the unrolled step's numbers; the other picks are words
    buttons = {button(b): b for b in range(len(config.sequences))}
    choices = {key: buttons for key in picks if key not in highs}
    choices["hand_direction"] = {name: name for name in DIRECTION_NAMES[: config.directions]}
    choices["tab"] = {tab: tab for tab in tabs}
    choices["compare"] = {flip: flip for flip in flips(config)}
    choices.update({key: {"true": True, "false": False} for key in SWITCHES})
    values, problems = {}, {}
    for key, text in rest.items():
        if key in choices:
            word = text.lower() if key in SWITCHES else text
            if word in choices[key]:
                values[key] = choices[key][word], word
            else:
                problems[key] = f"{key}={quoted(text)}: one of {', '.join(choices[key])}."
        elif key in highs:
            if text.isdigit() and int(text) <= highs[key]:
                values[key] = int(text), str(int(text))
            else:
                problems[key] = f"{key}={quoted(text)}: a whole number from 0 to {highs[key]}."
    return values, problems


def control_ui(container, name: str, off: dict[str, str], **kwargs):
    """The widget of a Config field, from its Control: bound to the URL (which leaves out a value equal to the
    default), disabled where the control does not apply, with the reason in its help. A number takes any value, and
    one outside the control's bounds says what is allowed, in words, under it."""
    ctl = controls()[name]
    default = ctl.shown(CONFIG_DEFAULTS[name])
    reason = off.get(name)
    common = dict(key=name, bind=bind(name), disabled=bool(reason), **kwargs)
    common["help"] = (f"Off: {reason}. " if reason else "") + ctl.help
    if ctl.widget == "lines":
        return container.text_area(ctl.label, value=default, height=110, **common)
    if ctl.widget == "toggle":
        return container.toggle(ctl.label, **common)
    if ctl.widget == "select":
        options = [ctl.shown(value) for value in ctl.choices if value not in UNAVAILABLE.get(name, ())]
        return container.selectbox(ctl.label, options, **common)
    low, high = ctl.bounds
    allowed = f"Allowed: {low} to {high}."
    common["help"] += f" {allowed}"
    if ctl.widget == "fraction":
        value = container.number_input(ctl.label, value=default, step=FRACTION_STEP, format="%.2f", **common)
    else:
        value = container.number_input(ctl.label, value=default, **common)
    if not low <= value <= high:
        container.caption(f":red[{value:g} is out of range. {allowed}]")
    return value


def beyond_ui(box, off: dict[str, str]):
    """Beyond the seed: the initial state (or a carry over a split), dropout in train mode, the <pad> embedding, a
    task to train first."""
    for name in ("h0", "split", "detach", "dropout", "train_mode", "pad", "total_length", "sort"):
        control_ui(box, name, off)
    control_ui(box, "task", off, on_change=apply_task)
    control_ui(box, "steps", off)


def controls_ui() -> tuple[Config | None, str | None]:
    """The sidebar; returns the config, or None and the reason it is invalid."""
    sb = st.sidebar
    weights, problem = your_weights.read_upload()
    if your_weights.hold_fixed(weights) and st.session_state.preset != CUSTOM:
        st.session_state.preset = CUSTOM  # the file moved the controls off the preset, as a hand would
    sb.title("rnnviz")
    sb.selectbox(
        "Preset (a lesson each)",
        [CUSTOM, *PRESETS],
        key="preset",
        on_change=apply_preset,
        bind=bind("preset"),
        help="The blog's four sections (single/multi-layer, uni/bi-directional), then its batch packed.",
    )
    off = off_reasons(config_values())  # the widgets' values as the last run left them, this run's changes included
    off |= your_weights.fixed(weights)
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
    beyond_ui(sb.expander("h_0, dropout, padding, training", expanded=st.session_state.task != "none"), off)
    your_weights.weights_ui(sb.expander("Your weights", expanded=bool(weights or problem)), problem)
    sb.toggle(
        "Ask first (predict, then reveal)",
        key="ask",
        bind=bind("ask"),
        help="A workshop mode: the lesson, the marks and the verdicts stay hidden until the question is answered.",
    )
    sb.toggle(
        "Presenter mode",
        key="present",
        bind=bind("present"),
        help="For a projector: the sidebar folds away, the picture and its labels grow, and Back and Next walk the "
        "lesson path (PageUp, PageDown).",
    )
    try:
        return config_from_controls(config_values()), None
    except ConfigError as error:
        return None, str(error)
