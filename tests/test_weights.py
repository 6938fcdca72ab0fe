"""The parameters' anatomy against torch's own modules: every name and shape, the count, and gate rows that do what
their gate does (a forget gate held open keeps c_0; a GRU's update gate held at 1 keeps h_0)."""

import pytest
import torch
from conftest import configs
from hypothesis import given
from torch import nn

from rnnviz import Config, run
from rnnviz.weights import (
    anatomy,
    blocks_frame,
    forget_bias,
    forget_slices,
    module,
    move_bias,
    parameter_count,
    parameters_frame,
)


def torch_module(config: Config) -> nn.RNNBase:
    """torch's own module for the config's sizes, built here."""
    kwargs = {"nonlinearity": config.nonlinearity} if config.cell == "rnn" else {}
    kwargs.update({"proj_size": config.proj} if config.proj else {})
    cls = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[config.cell]
    return cls(config.embedding, config.hidden, config.layers, bidirectional=config.bidirectional, **kwargs)


@given(configs())
def test_every_parameter_its_name_shape_layer_direction_and_the_count(config):
    rnn = torch_module(config)
    parameters = anatomy(dict(rnn.named_parameters()), config.cell)
    assert [(p.name, p.shape) for p in parameters] == [(n, tuple(w.shape)) for n, w in rnn.named_parameters()]
    assert parameter_count(parameters) == sum(w.numel() for w in rnn.parameters())
    gates = {"rnn": 1, "lstm": 4, "gru": 3}[config.cell]
    for p in parameters:
        assert (p.layer, p.direction) == (int(p.name.split("_l")[1][0]), int(p.name.endswith("_reverse")))
        if p.kind == "weight_hr":  # the projection: (proj, hidden)
            assert p.shape == (config.proj, config.hidden) and p.blocks == (("proj", 0, config.proj),)
            continue
        assert p.shape[0] == gates * config.hidden
        assert [(start, stop) for _, start, stop in p.blocks] == [
            (k * config.hidden, (k + 1) * config.hidden) for k in range(gates)
        ]
        if p.kind == "weight_hh":  # reads h: proj_size numbers where projected
            assert p.shape[1] == (config.proj or config.hidden)
        if p.kind == "weight_ih":  # reads the input: E at layer 0, D*H above
            assert p.shape[1] == (config.embedding if p.layer == 0 else config.directions * config.state_size)
    frame = parameters_frame(parameters)
    assert list(frame["name"]) == [n for n, _ in rnn.named_parameters()]
    assert frame["numbers"].sum() == parameter_count(parameters)
    assert len(blocks_frame(parameters)) == sum(len(p.blocks) for p in parameters)


def rows_of(parameters, name: str, gate: str) -> slice:
    """The rows the anatomy gives this gate in this parameter."""
    (found,) = [(start, stop) for p in parameters if p.name == name for g, start, stop in p.blocks if g == gate]
    return slice(*found)


def test_lstm_gate_rows_do_what_their_gate_does():
    """The forget gate held open and the input gate shut, by their rows in the anatomy: c_n is c_0, untouched."""
    torch.manual_seed(0)
    rnn = nn.LSTM(3, 4, proj_size=2)
    parameters = anatomy(dict(rnn.named_parameters()), "lstm")
    with torch.no_grad():
        rnn.bias_ih_l0[rows_of(parameters, "bias_ih_l0", "f")] = 100.0
        rnn.bias_ih_l0[rows_of(parameters, "bias_ih_l0", "i")] = -100.0
        h_0, c_0 = torch.randn(1, 2, 2), torch.randn(1, 2, 4)
        _, (_, c_n) = rnn(torch.randn(5, 2, 3), (h_0, c_0))
    assert torch.allclose(c_n, c_0, atol=1e-6)


def test_gru_gate_rows_do_what_their_gate_does():
    """The update gate z held at 1 by its rows in the anatomy: h_n is h_0."""
    torch.manual_seed(0)
    rnn = nn.GRU(3, 4, bidirectional=True)
    parameters = anatomy(dict(rnn.named_parameters()), "gru")
    with torch.no_grad():
        for suffix in ("_l0", "_l0_reverse"):
            getattr(rnn, "bias_ih" + suffix)[rows_of(parameters, "bias_ih" + suffix, "z")] = 100.0
        h_0 = torch.randn(2, 2, 4)
        _, h_n = rnn(torch.randn(5, 2, 3), h_0)
    assert torch.allclose(h_n, h_0, atol=1e-6)


@pytest.mark.parametrize("config", [Config(cell="lstm"), Config(cell="lstm", proj=2, layers=2, dtype="float64")])
def test_the_forget_recipe_reads_torchs_module_and_sets_a_forget_bias_of_1(config):
    result = run(config)
    rnn = module(result)
    H = config.hidden
    torch.manual_seed(config.seed)  # the same module, built here the plain way
    plain = torch_module(config).to(getattr(torch, config.dtype))
    plain.load_state_dict(dict(result.weights))
    found = forget_slices(rnn)
    assert torch.equal(found.bias_ih, plain.bias_ih_l0[H : 2 * H].detach())
    assert torch.equal(found.bias_hh, plain.bias_hh_l0[H : 2 * H].detach())
    assert torch.equal(found.after, torch.ones(H, dtype=found.after.dtype))
    assert torch.equal(rnn.bias_ih_l0, result.weights["bias_ih_l0"])  # the recipe ran on a copy
    assert "b_ih = rnn.bias_ih_l0[H : 2 * H]" in found.code and "b_hh = rnn.bias_hh_l0[H : 2 * H]" in found.code


def test_edited_weights_keep_or_set_what_they_say():
    weights = dict(nn.LSTM(3, 4, bidirectional=True).named_parameters())
    weights = {name: w.detach() for name, w in weights.items()}
    moved = move_bias(weights, 16, seed=0)
    for name in weights:
        if name.startswith("bias_hh"):
            ih = name.replace("bias_hh", "bias_ih")
            assert not torch.equal(moved[name], weights[name])
            assert torch.allclose(moved[name] + moved[ih], weights[name] + weights[ih], atol=1e-6)
    both, one = forget_bias(weights, 4, 1.0, 1.0), forget_bias(weights, 4, 1.0, 0.0)
    assert torch.equal(both["bias_ih_l0"][4:8] + both["bias_hh_l0"][4:8], torch.full((4,), 2.0))
    assert torch.equal(one["bias_ih_l0_reverse"][4:8] + one["bias_hh_l0_reverse"][4:8], torch.ones(4))
    assert torch.equal(both["bias_ih_l0"][:4], weights["bias_ih_l0"][:4])  # the other gates' rows as they were
