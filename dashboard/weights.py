"""The Weights tab: every parameter of the layer, the rows each gate owns in torch's order, how many numbers it
learns, and an LSTM's forget-gate slice of its biases, read from torch's own module."""

import pandas as pd
import streamlit as st

from rnnviz.cells import CELLS
from rnnviz.charts.weights import gate_rows_chart
from rnnviz.weights import anatomy, forget_slices, module, parameter_count, parameters_frame


def forget_ui(result):
    """The recipe for the forget gate's slice of bias_ih_l0 and bias_hh_l0, run on a copy of the module."""
    found = forget_slices(module(result))
    H = result.config.hidden
    st.subheader("The forget gate's bias")
    st.markdown(
        f"Rows `{H}:{2 * H}` of each bias are the forget gate's (i, f, g, o). The gate adds the two biases, "
        "`f_t = sigmoid(W_if x_t + b_if + W_hf h + b_hf)`, so the forget bias it sees is their sum: for a forget "
        "bias of 1 set one of them to 1 and the other to 0 (both to 1 gives 2: the lesson "
        "`forget-bias-is-one-slice` on the Relations tab). Run on a copy of this layer:"
    )
    st.code(found.code, language="python")
    frame = pd.DataFrame(
        {
            "unit": range(H),
            "bias_ih_l0[f]": found.bias_ih.tolist(),
            "bias_hh_l0[f]": found.bias_hh.tolist(),
            "forget bias": (found.bias_ih + found.bias_hh).tolist(),
            "after": found.after.tolist(),
        }
    )
    st.dataframe(frame, hide_index=True)


def weights_ui(view):
    """The parameter table, the gate rows chart, the count and (LSTM) the forget-bias recipe."""
    config, result = view.config, view.analysis.result
    cell = CELLS[config.cell]
    parameters = anatomy(result.weights, config.cell)
    count = parameter_count(parameters)
    gates = ", ".join(cell.gates)
    projected = (
        f" With `proj_size={config.proj}`, `weight_hr_l*` ({config.proj}, {config.hidden}) projects each h, and "
        f"`weight_hh_l*` reads the projected h: ({4 * config.hidden}, {config.proj})."
        if config.proj
        else ""
    )
    st.markdown(
        f"`{cell.module_name}` learns **{count:,}** numbers in {len(parameters)} parameters: "
        f"`sum(p.numel() for p in rnn.parameters())` = {count}. Each weight and bias stacks its gates' rows in "
        f"torch's order, **{gates}**, hidden = {config.hidden} rows each; `_l{{k}}` names the layer and `_reverse` "
        f"the backward direction.{projected}"
    )
    st.dataframe(parameters_frame(parameters), hide_index=True, width="stretch")
    st.markdown("Which rows belong to which gate, per parameter:")
    st.vega_lite_chart(gate_rows_chart(parameters), width="stretch")
    if cell.has_cell_state:
        forget_ui(result)
