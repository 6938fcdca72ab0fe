"""The Trained units tab: a tiny model trained on bracket text, and what its units came to mean; and the progress
of that training (a bar and a live loss chart) the first time a configuration asks for it."""

import streamlit as st

from rnnviz.charts.units import coloured_text, correlations_chart, loss_chart, probe_chart
from rnnviz.training import is_trained, trained

LIVE_EVERY = 10  # steps between redraws of the live loss chart


def train_ui(config):
    """Train the config's task once per server (rnnviz.training.trained caches it), showing the progress meanwhile."""
    if config.task == "none" or is_trained(config):
        return
    bar, chart, losses = st.progress(0.0, "Training…"), st.empty(), []

    def on_step(step: int, loss: float, steps: int):
        losses.append(loss)
        bar.progress(step / steps, f"Training: step {step} of {steps}, loss {loss:.3f}")
        if step % LIVE_EVERY == 0 or step == steps:
            chart.vega_lite_chart(loss_chart(losses), width="stretch")

    trained(config, on_step)
    bar.empty()
    chart.empty()


def units_ui(view):
    """The training's curve, the held-out text coloured by the best unit, each unit's r, the probe."""
    config, training = view.config, view.analysis.result.training
    if training is None:
        st.info(
            "Choose the task **brackets** in the sidebar: rnnviz first trains this layer to predict the next "
            "character of generated bracket text (a few seconds on this CPU), then every tab shows the trained "
            "layer. Nobody tells the model how deep in brackets it is; this tab shows which units learned it."
        )
        return
    h = training.heldout
    st.markdown(
        f"Trained {training.steps} steps in {training.seconds:.1f} s · held-out loss {h.loss:.3f} (the text's own "
        f"randomness: {h.floor:.3f}) · best unit {h.best_unit}: r = {h.best_corr:+.3f} with the depth · a linear "
        f"probe of all units: r = {h.probe_r:.3f}"
    )
    if config.bidirectional:
        st.markdown(
            ":gray-badge[:material/school: lesson] A bidirectional layer's loss collapses below the text's own "
            f"randomness ({h.loss:.3f} < {h.floor:.3f}): its backward direction has already read the next character, "
            "the one it is asked to predict. It cannot be a next-character model."
        )
    st.caption(
        "The training loss at each step (dashed: the text's own randomness, which no left-to-right reader beats)"
    )
    st.vega_lite_chart(loss_chart(training.loss, h.floor), width="stretch")
    st.caption(f"Held-out text, each character coloured by unit {h.best_unit}'s value after reading it")
    st.vega_lite_chart(coloured_text(h.texts, h.best_unit_values, h.depths), width="stretch")
    left, right = st.columns(2)
    left.caption("Each unit's correlation with the depth")
    left.vega_lite_chart(correlations_chart(h.unit_correlations, h.best_unit), width="stretch")
    half = len(h.texts) // 2
    right.caption("The probe on a text it was not fit on: its depth and the true one")
    right.vega_lite_chart(probe_chart(h.texts[half], h.depths[half], h.probe_fit[0]), width="stretch")
    st.caption("Every guaranteed relation holds for the trained layer as well (the Relations tab checks them).")
