"""The Compare tab: this view and the same config with one control flipped (packed, cell, seed, h_0, padding), both
pictures, one above the other, and how far apart their numbers are, per sequence and per h_n row."""

import pandas as pd
import streamlit as st

from dashboard import bind, cached, your_weights
from dashboard.picture import legend_html
from rnnviz import ConfigError
from rnnviz.compare import compare
from rnnviz.config import controls

FLIPS = ("packed", "cell", "seed", "h0", "pad")  # the controls the view offers to flip


def flips(config) -> list[str]:
    """KEY=VALUE for each other value of each flippable control (seed: the next one), as links write them; not the
    controls a weights file sets."""
    options = []
    for key in (key for key in FLIPS if key not in your_weights.fixed(your_weights.current())):
        ctl, value = controls()[key], getattr(config, key)
        if ctl.widget == "toggle":
            others = [not value]
        elif key == "seed":
            others = [value + 1 if value < ctl.bounds[1] else value - 1]
        else:
            others = [choice for choice in ctl.choices if choice != value]
        options += [f"{key}={str(ctl.shown(v)).lower() if ctl.widget == 'toggle' else ctl.shown(v)}" for v in others]
    return options


def side_by_side(config, assignment: str):
    """The comparison, cached with the analyses."""
    return cached.get(("compare", config, assignment), lambda: compare(cached.analysis(config).result,
                                                                                      assignment))  # fmt: skip


def differences_frame(side) -> pd.DataFrame:
    """A row per sequence: output's largest difference, then h_n's per row."""
    rows = {"output": side.output_max_abs_diff}
    rows |= {f"h_n[{k}]": row for k, row in enumerate(side.h_n_max_abs_diff)}
    frame = pd.DataFrame(rows)
    frame.index.name = "sequence b"
    return frame


def picks_ui(view) -> str:
    """The flip (drawn in the closed tab too, so that the pick and its link survive it)."""
    return st.selectbox("Flip one control", flips(view.config), key="compare", bind=bind("compare"))


def compare_ui(view):
    """Pick a flip; both pictures; the differences per sequence and per h_n row."""
    config = view.config
    choice = picks_ui(view)
    try:
        side = side_by_side(config, choice)
    except ConfigError as error:  # the flipped config cannot run (a carry's split with packing, a task's batch)
        st.warning(str(error), icon=":material/block:")
        return
    shown = tuple(range(min(len(config.sequences), 3)))
    for title, shown_config in (("**This view**", config), (f"**With `{choice}`**", side.other.config)):
        spec = cached.picture(shown_config, shown, view.reveal, False)  # one above the other: each as wide as the page
        st.markdown(title)
        st.vega_lite_chart(spec, width="stretch")
        st.html(legend_html(spec["usermeta"]["legend"]))
    st.markdown(
        "The largest absolute difference between the two runs, per sequence b: over all of b's steps of `output`, "
        "and for each row of `h_n`. 0 (or a rounding's 1e-8) where the flip changes nothing that sequence computes; "
        "empty where the two have other shapes."
    )
    st.dataframe(differences_frame(side).style.format("{:.3g}", na_rep="other shape"), width="content")
