"""One step unrolled: the hand number is recomputed from the weights, torch's number is torch's (never the hand's)."""

import dataclasses

import torch
from conftest import configs, time_major
from hypothesis import given
from hypothesis import strategies as st

from rnnviz import Config, recompute, run
from rnnviz.cells import equations
from rnnviz.model import layer_by_layer
from rnnviz.trace import latex_vector, step_exists, trace_step

ATOL = {"float32": 1e-5, "float64": 1e-10}


def torch_state(result, layers, t, layer, direction, b):
    """torch's own state: output for the top layer, the layer run alone by torch below it."""
    H = result.config.state_size
    source = (
        time_major(result.output, result.config.batch_first) if layer == result.config.layers - 1 else layers[layer]
    )
    return source[t, b, direction * H : (direction + 1) * H]


@given(configs(), st.data())
def test_a_step_by_hand_next_to_torchs(config, data):
    result = run(config)
    reference, layers = recompute(result), layer_by_layer(result)
    T, B = result.batch.max_length, len(config.sequences)
    b, t = data.draw(st.integers(0, B - 1)), data.draw(st.integers(0, T - 1))
    layer, direction = data.draw(st.integers(0, config.layers - 1)), data.draw(st.integers(0, config.directions - 1))
    if not step_exists(result, t, b):
        assert config.packed and t >= result.batch.lengths[b]
        return
    tr = trace_step(result, reference, layers, t, layer, direction, b)
    expected = torch_state(result, layers, t, layer, direction, b)
    assert torch.equal(tr.torch_h, expected)
    torch.testing.assert_close(tr.h, expected, atol=ATOL[config.dtype], rtol=0)
    assert tr.max_abs_diff == float((tr.h - expected).abs().max())
    assert tr.equations == equations(config, direction)
    assert dict(tr.terms)["x_t"].shape[0] == (config.embedding if layer == 0 else config.directions * config.state_size)


def test_torchs_number_is_never_the_hand_number():
    """Shift torch's output by 1 (as a bug in torch would): the step must show the shifted number and a gap of 1."""
    result = run(Config(bidirectional=True, layers=2))
    reference, layers = recompute(result), layer_by_layer(result)
    shifted = dataclasses.replace(result, output=result.output + 1.0)
    tr = trace_step(shifted, reference, layers, 3, 1, 1, 2)
    assert torch.equal(tr.torch_h, shifted.output[3, 2, 5:10])
    assert abs(tr.max_abs_diff - 1.0) < 1e-5
    lower = trace_step(result, reference, tuple(x + 1.0 for x in layers), 3, 0, 0, 2)
    assert torch.equal(lower.torch_h, layers[0][3, 2, :5] + 1.0)
    assert abs(lower.max_abs_diff - 1.0) < 1e-5
    assert lower.torch_source.startswith("layer 0 run alone by torch")
    assert tr.torch_source == "output[3, 2, 5:10]"


def test_latex_vector_cuts_long_vectors():
    assert latex_vector(torch.tensor([0.5, -1.0])) == r"\begin{bmatrix}0.500 & -1.000\end{bmatrix}"
    assert latex_vector(torch.zeros(9), max_units=2).endswith(r"0.000 & 0.000 & \cdots\end{bmatrix}")
