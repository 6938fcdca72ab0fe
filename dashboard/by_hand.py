"""The Unrolled by hand tab: one step of one layer, direction and sequence, term by term, next to torch's."""

import streamlit as st

from dashboard import bind, cached
from dashboard.markdown import sequence_label
from rnnviz.anatomy import places
from rnnviz.tables import DIRECTION_NAMES, trace_frames
from rnnviz.trace import latex_vector, step_exists, trace_step

PICKS = ("hand_t", "hand_layer", "hand_direction", "hand_sequence")


def pick_bounds(config) -> dict[str, int]:
    """The largest value of each numeric pick for a config (the direction is a name)."""
    T = max(len(s) for s in config.sequences)
    return {"hand_t": T - 1, "hand_layer": config.layers - 1, "hand_sequence": len(config.sequences) - 1}


def clamp_picks(config):
    """Picks that the config no longer has move to the nearest that exists (the top layer first)."""
    s = st.session_state
    for key, high in pick_bounds(config).items():
        s[key] = min(s.get(key, high if key == "hand_layer" else 0), high)
    if s.get("hand_direction") not in DIRECTION_NAMES[: config.directions]:
        s.hand_direction = DIRECTION_NAMES[0]


def step_by(delta: int, high: int):
    """Callback: the previous or next time step."""
    st.session_state.hand_t = min(max(st.session_state.hand_t + delta, 0), high)


def where_markdown(result, t: int, layer: int, d: int, b: int) -> str:
    """Where this step's states sit: h_t in output[...] and/or h_n[k, b], or neither; an LSTM's c_t in c_n[k, b]."""
    found, c_place = places(result, b, layer, d, t)
    if not found:
        where = "h_t is in neither `output` (a lower layer) nor `h_n` (not where its direction ends)."
    else:
        where = "h_t is " + " and ".join(f"`{p}`" for p in found) + "."
    if result.c_n is not None:
        where += f" Its cell state c_t is `{c_place}`." if c_place else " Its cell state c_t is in neither."
    return where


def picks_ui(view) -> tuple[int, int, str, int] | None:
    """Pick t, layer, direction and sequence, with a step back and forward; None where the hand recomputation does
    not apply (drawn in the closed tab too, so that the picks and their link survive it)."""
    config, result = view.config, view.analysis.result
    if config.h0 != "zeros" or config.draws_masks:
        return None
    clamp_picks(config)
    T = result.batch.max_length
    cols = st.columns([3, 3, 3, 3, 2, 2], vertical_alignment="bottom")
    t = cols[0].number_input("time step t", 0, T - 1, key="hand_t", bind=bind("hand_t"))
    top = config.layers - 1  # the widget's default is clamp_picks': a link leaves it out, and opens it
    layer = cols[1].number_input("layer", 0, top, top, key="hand_layer", bind=bind("hand_layer"))
    name = cols[2].selectbox(
        "direction", DIRECTION_NAMES[: config.directions], key="hand_direction", bind=bind("hand_direction")
    )
    b = cols[3].number_input(
        "sequence b", 0, len(config.sequences) - 1, key="hand_sequence", bind=bind("hand_sequence")
    )
    cols[4].button("◀ t-1", on_click=step_by, args=(-1, T - 1), disabled=t == 0, width="stretch")
    cols[5].button("t+1 ▶", on_click=step_by, args=(1, T - 1), disabled=t == T - 1, width="stretch")
    return t, layer, name, b


@st.fragment
def by_hand_ui(view):
    """The picked step, term by term (a fragment: only this part reruns when a pick changes)."""
    config, result, reference = view.config, view.analysis.result, view.analysis.reference
    picks = picks_ui(view)
    if picks is None:
        st.info(
            "The hand recomputation starts every sequence from zeros and runs without dropout masks, so it is not "
            "shown for this configuration (h_0 random or carried, or dropout in train mode). The Picture and the "
            "tables show torch's own states; the relations check them."
        )
        return
    t, layer, name, b = picks
    T = result.batch.max_length
    direction = DIRECTION_NAMES.index(name)
    st.caption(f"{sequence_label(result, b, 40)}: {result.batch.lengths[b]} characters of T = {T}")
    if not step_exists(result, t, b):
        st.info(
            f"Sequence b={b} has only {result.batch.lengths[b]} characters and the batch is packed: the "
            f"layer never runs step {t} for it, and output there is padding (0)."
        )
        return
    if view.reveal:
        st.markdown(where_markdown(result, t, layer, direction, b))
    tr = trace_step(result, reference, cached.layers(config), t, layer, direction, b)
    for line in tr.equations:
        st.latex(line)
    st.latex(
        r"\begin{aligned} h_t^{\text{by hand}} &= "
        + latex_vector(tr.h)
        + r" \\ h_t^{\text{torch}} &= "
        + latex_vector(tr.torch_h)
        + r"\end{aligned}"
    )
    source = f" (`{tr.torch_source}`)" if view.reveal else ""  # where torch keeps it would answer the question
    st.markdown(f"By hand vs torch{source}: max abs difference **{tr.max_abs_diff:.3g}**.")
    for frame in trace_frames(tr, config):
        st.dataframe(frame, width="stretch")
