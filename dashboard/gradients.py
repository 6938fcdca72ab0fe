"""The Gradients tab: how far back each state sees, as a T x T map per layer and direction, and the last state's
reach over s for every cell type on the same batch and seed."""

import streamlit as st

from dashboard import bind, cached
from dashboard.markdown import pick_sequence
from dashboard.relations import relation_markdown
from rnnviz import ConfigError, gradient_checks
from rnnviz.cells import CELLS
from rnnviz.charts.gradients import connectivity_map, reach_chart
from rnnviz.config import config_from_controls
from rnnviz.relations import check_relations


def checks(config):
    """The connectivity map of config's run and its finite-difference check, cached with the analyses."""
    return cached.get(("gradients", config), lambda: gradient_checks(cached.analysis(config).result))


def values(config):
    """The connectivity map: [l, d, b, t, s]."""
    return checks(config).values


def same_run_with(config, cell: str):
    """config with another cell, its options at their defaults where that cell has none."""
    return config_from_controls({**vars(config), "cell": cell})


def reach(config, b: int) -> list[float]:
    """The top layer's forward state at b's last step: its norm with respect to each input step s."""
    result = cached.analysis(config).result
    t = (result.batch.lengths[b] if config.packed else result.batch.max_length) - 1
    return [float(x) for x in values(config)[-1, 0, b, t, : t + 1]]


def picks_ui(view) -> int:
    """The maps' sequence (drawn in the closed tab too, so that the pick and its link survive it)."""
    return pick_sequence(view.analysis.result, key="gradient_sequence", bind=bind("gradient_sequence"))


def gradients_ui(view):
    """The map for one sequence, then the three cells' reach."""
    config, result = view.config, view.analysis.result
    b = picks_ui(view)
    try:
        maps = values(config)
    except ConfigError as error:
        st.warning(str(error), icon=":material/hourglass:")
        return
    st.caption(
        "Row t, column s: ‖∂h_t / ∂x_s‖, how much the state at step t moves when the embedded input at step s moves "
        "(log colour). Gray: exactly 0, the state cannot see that input. Outlined: the diagonal s = t. Faded: "
        "<pad> steps."
    )
    if config.detach:
        K = config.chunk
        st.caption(
            f"Detached at the split (the red rule at t = {K}): the second chunk starts from the first's h_n.detach(), "
            f"so the first chunk's inputs (s < {K}) reach no second-chunk state (t ≥ {K}): exactly 0, gray, though "
            "the numbers are the same as without detach."
        )
    st.vega_lite_chart(connectivity_map(result, maps, b), width="content")
    if view.reveal:
        for rel in check_relations(result, extra={"grad": checks(config)}):
            if "grad" in rel.needs:
                st.markdown(relation_markdown(rel))
    cells = ", ".join(cell.label for cell in CELLS.values())
    st.subheader(f"How far back the last state reaches: {cells}, same batch and seed")
    try:
        reaches = {cell.label: reach(same_run_with(config, name), b) for name, cell in CELLS.items()}
    except ConfigError as error:
        st.warning(str(error), icon=":material/hourglass:")
        return
    st.vega_lite_chart(reach_chart(reaches), width="stretch")
    falls = " · ".join(
        f"{cell} {norms[0] / norms[-1]:.1e}" for cell, norms in reaches.items() if norms[0] > 0 and norms[-1] > 0
    )
    st.caption(
        "Each line is how strongly the last state still depends on the input s; where it falls by orders of "
        f"magnitude as s goes back, the gradient vanishes. Measured here, the norm at s = 0 over the norm at the last "
        f"step: {falls}."
    )
