"""The Unrolled by hand tab: one step of one layer, direction and sequence, term by term, next to torch's."""

import streamlit as st

from dashboard import cached
from rnnviz.tables import DIRECTION_NAMES, trace_frame
from rnnviz.trace import latex_vector, step_exists, trace_step

PICKS = ("hand_t", "hand_layer", "hand_direction", "hand_sequence")


@st.fragment
def by_hand_ui(config, analysis):
    """Pick t, layer, direction and sequence (a fragment: only this part reruns when a pick changes)."""
    result, reference = analysis.result, analysis.reference
    T, B = result.batch.max_length, len(config.sequences)
    for key, high in zip(PICKS, (T - 1, config.layers - 1, config.directions - 1, B - 1), strict=True):
        default = high if key == "hand_layer" else 0  # the top layer first: the one output shows
        st.session_state[key] = min(st.session_state.get(key, default), high)  # the config may have shrunk since
    cols = st.columns(4)
    t = cols[0].number_input("time step t", 0, T - 1, key="hand_t")
    layer = cols[1].number_input("layer", 0, config.layers - 1, key="hand_layer")
    direction = cols[2].selectbox(
        "direction", range(config.directions), key="hand_direction", format_func=lambda d: DIRECTION_NAMES[d]
    )
    b = cols[3].selectbox(
        "sequence", range(B), key="hand_sequence", format_func=lambda i: f"b={i}: {result.batch.sequences[i]}"
    )
    if not step_exists(result, t, b):
        st.info(
            f"Sequence b={b} has only {result.batch.lengths[b]} characters and the batch is packed: the "
            f"layer never runs step {t} for it, and output there is padding (0)."
        )
        return
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
    st.markdown(f"By hand vs torch (`{tr.torch_source}`): max abs difference **{tr.max_abs_diff:.3g}**.")
    st.dataframe(trace_frame(tr), width="stretch")
