"""The hand recomputation: the cell equations, from the module's weights, give torch's numbers."""

import pytest
import torch
from conftest import configs, time_major
from hypothesis import given

from rnnviz import Config, recompute, run
from rnnviz.model import layer_by_layer
from rnnviz.recompute import layer_weights

ATOL = {"float32": 1e-5, "float64": 1e-10}


def close(actual, expected, dtype: str):
    torch.testing.assert_close(actual, expected, atol=ATOL[dtype], rtol=0)


# -----------------------------------------------------------------------------
# Whole runs


@given(configs())
def test_recompute_matches_torch(config):
    result = run(config)
    ref = recompute(result)
    close(ref.output, result.output, config.dtype)
    close(ref.h_n, result.h_n, config.dtype)
    if config.cell == "lstm":
        close(ref.c_n, result.c_n, config.dtype)
    else:
        assert ref.c_n is None


@pytest.mark.parametrize(
    "changes",
    [
        {"packed": True},
        {"packed": True, "batch_first": True},
        {"cell": "lstm", "proj": 2, "layers": 3, "bidirectional": True, "packed": True, "batch_first": True},
        {"cell": "lstm", "proj": 4, "hidden": 5, "dtype": "float64"},
        {"cell": "gru", "layers": 2, "bidirectional": True, "packed": True, "dtype": "float64"},
        {"nonlinearity": "relu", "layers": 4, "bidirectional": True, "packed": True},
        {"sequences": ("x",)},
        {"sequences": ("a", "bc", "d"), "packed": True, "bidirectional": True},
    ],
)
def test_recompute_examples(changes):
    config = Config(**changes)
    result = run(config)
    ref = recompute(result)
    close(ref.output, result.output, config.dtype)
    close(ref.h_n, result.h_n, config.dtype)
    if config.cell == "lstm":
        close(ref.c_n, result.c_n, config.dtype)


@given(configs())
def test_per_layer_outputs(config):
    result = run(config)
    ref = recompute(result)
    L, D, B = config.layers, config.directions, len(config.sequences)
    T, H = result.batch.max_length, config.state_size
    assert len(ref.layer_outputs) == len(ref.layer_cells) == len(ref.layer_inputs) == L
    for x in ref.layer_outputs:
        assert x.shape == (T, B, D * H)
    for cells in ref.layer_cells:
        assert cells.shape == (T, B, D * config.hidden)
        if config.cell != "lstm":
            assert not cells.any()
    assert torch.equal(ref.layer_inputs[0], time_major(result.embedded, config.batch_first))
    for layer in range(1, L):
        assert torch.equal(ref.layer_inputs[layer], ref.layer_outputs[layer - 1])
    # the last layer's output is the reference output, laid out as torch's
    assert torch.equal(time_major(ref.output, config.batch_first), ref.layer_outputs[-1])
    # every layer agrees with torch running that layer alone
    for mine, torchs in zip(ref.layer_outputs, layer_by_layer(result), strict=True):
        close(mine, torchs, config.dtype)
    # each layer's final states are h_n's rows for that layer
    hv = ref.h_n.view(L, D, B, H)
    lengths = torch.tensor(result.batch.lengths if config.packed else [T] * B)
    for layer, x in enumerate(ref.layer_outputs):
        for b in range(B):
            assert torch.equal(x[lengths[b] - 1, b, :H], hv[layer, 0, b])
            if D == 2:
                assert torch.equal(x[0, b, H:], hv[layer, 1, b])
            if config.packed:
                assert not x[lengths[b] :, b].any()


@given(configs(cell="lstm"))
def test_lstm_cells_end_in_c_n(config):
    result = run(config)
    ref = recompute(result)
    L, D, B, hidden = config.layers, config.directions, len(config.sequences), config.hidden
    T = result.batch.max_length
    cv = ref.c_n.view(L, D, B, hidden)
    for layer, cells in enumerate(ref.layer_cells):
        for b, n in enumerate(result.batch.lengths if config.packed else [T] * B):
            assert torch.equal(cells[n - 1, b, :hidden], cv[layer, 0, b])
            if D == 2:
                assert torch.equal(cells[0, b, hidden:], cv[layer, 1, b])


def test_layer_weights_strip_the_suffix():
    result = run(Config(cell="lstm", hidden=4, proj=2, layers=2, bidirectional=True))
    w = layer_weights(dict(result.weights), 1, 1)
    assert set(w) == {"weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr"}
    assert torch.equal(w["weight_ih"], result.weights["weight_ih_l1_reverse"])
    assert torch.equal(w["weight_hr"], result.weights["weight_hr_l1_reverse"])
    assert layer_weights(dict(result.weights), 0, 0)["bias_hh"] is result.weights["bias_hh_l0"]
