"""Dropout's masks: drawn again from the generator, they are the very masks torch's recurrent layer drew: the stack
recomputed layer by layer with them, in plain torch, gives the module's output bit for bit."""

import warnings

import pytest
import torch
from conftest import configs, time_major
from hypothesis import given, settings
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnnviz import Config, run
from rnnviz.dropout import draw_masks, masks, shared_across_time
from rnnviz.model import contract_threads

MODULES = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


def one_layer(module, weights: dict, layer: int, inputs: int, hidden: int, bidirectional: bool, dtype, **options):
    """Layer `layer` of a stack alone: a one-layer torch module holding its weights (both directions)."""
    with torch.random.fork_rng(devices=[]):
        rnn = module(inputs, hidden, bidirectional=bidirectional, **options).to(dtype)
    rnn.load_state_dict({name: weights[name.replace("_l0", f"_l{layer}")] for name in rnn.state_dict()})
    return rnn


def by_layer(layers, x, lengths, packed, zeroed, p):
    """The stack on time-major x (T, B, E), one layer at a time, each output but the last dropped with the given
    masks as torch drops: input * (mask / (1 - p)), in the input's dtype."""
    T = x.shape[0]
    for k, rnn in enumerate(layers):
        if packed:
            out, _ = rnn(pack_padded_sequence(x, torch.tensor(lengths), enforce_sorted=False))
            x = pad_packed_sequence(out, total_length=T)[0]  # (T, B, D*H)
        else:
            x, _ = rnn(x)  # (T, B, D*H)
        if k < len(layers) - 1:
            x = x * (~zeroed[k]).to(x.dtype).div_(1 - p)
    return x


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize(("packed", "bidirectional", "batch_first", "dtype", "layers", "p"), [
    (False, False, False, torch.float32, 3, 0.4),
    (True, True, False, torch.float32, 2, 0.5),
    (False, True, True, torch.float64, 2, 0.3),
    (True, False, True, torch.float64, 4, 0.9),
])  # fmt: skip
def test_the_masks_are_the_ones_torchs_module_drew(cell, packed, bidirectional, batch_first, dtype, layers, p):
    """A torch module of its own in train mode: its output, and the stack recomputed with the masks drawn again."""
    torch.manual_seed(7)
    E, H, lengths = 3, 4, [6, 3, 5]
    T, B, D = max(lengths), len(lengths), 1 + bidirectional
    module = MODULES[cell]
    rnn = module(E, H, num_layers=layers, bidirectional=bidirectional, dropout=p, batch_first=batch_first)
    rnn = rnn.to(dtype).train()
    x = torch.randn(T, B, E, dtype=dtype)  # (T, B, E)
    given_x = x.transpose(0, 1) if batch_first else x
    state = torch.get_rng_state()
    with torch.no_grad():
        if packed:
            sequence = pack_padded_sequence(
                given_x, torch.tensor(lengths), batch_first=batch_first, enforce_sorted=False
            )
            output = pad_packed_sequence(rnn(sequence)[0], batch_first=batch_first, total_length=T)[0]
        else:
            output, _ = rnn(given_x)
    after = torch.get_rng_state()
    zeroed = draw_masks(state, p, dtype, lengths, packed, 0, layers, D * H)
    assert torch.equal(torch.get_rng_state(), after)  # the generator is put back
    assert len(zeroed) == layers - 1 and all(m.shape == (T, B, D * H) and m.dtype == torch.bool for m in zeroed)
    weights = dict(rnn.named_parameters())
    stack = [one_layer(module, weights, k, E if k == 0 else D * H, H, bidirectional, dtype) for k in range(layers)]
    with torch.no_grad():
        again = by_layer(stack, x, lengths, packed, zeroed, p)
    assert torch.equal(time_major(output, batch_first), again)
    with torch.no_grad():  # and other masks give other numbers: the test can fail
        flipped = by_layer(stack, x, lengths, packed, [~m for m in zeroed], p)
    assert not torch.equal(time_major(output, batch_first), flipped)
    if packed:  # steps past a length draw nothing
        past = torch.arange(T)[:, None] >= torch.tensor(lengths)[None, :]  # (T, B)
        assert not any(m[past].any() for m in zeroed)


@settings(max_examples=25)
@given(configs(extended=True, train_mode=True, dropout=0.5))
def test_the_masks_of_a_run_recompute_it_layer_by_layer(config):
    """rnnviz's run (h_0 random or carried over a split included): its masks, and torch's one-layer modules."""
    config = config.replace(layers=max(config.layers, 2))
    result = run(config)
    zeroed = masks(result)
    D, H, L = config.directions, config.state_size, config.layers
    x = time_major(result.embedded, config.batch_first)  # (T, B, E)
    T, lengths = x.shape[0], result.batch.lengths
    options = {"nonlinearity": config.nonlinearity} if config.cell == "rnn" else {}
    options = {"proj_size": config.proj} if config.proj else options
    module = MODULES[config.cell]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # LSTM with projections and oneDNN
        layers = [one_layer(module, result.weights, k, E, config.hidden, config.bidirectional, x.dtype, **options)
                  for k, E in enumerate([config.embedding] + [D * H] * (L - 1))]  # fmt: skip
    state = None
    if config.h0 == "random":
        state = result.h_0 if result.c_0 is None else (result.h_0, result.c_0)
    K = config.chunk
    outputs = []
    with torch.no_grad(), warnings.catch_warnings(), contract_threads():  # the run's one thread: the same sums
        warnings.simplefilter("ignore")
        for start, stop in [(0, T)] if not K else [(0, K), (K, T)]:
            steps = [min(max(n - start, 0), stop - start) for n in lengths]
            h, finals = x[start:stop], []
            for k, rnn in enumerate(layers):
                rows = None if state is None else (
                    state[k * D : (k + 1) * D] if isinstance(state, torch.Tensor)
                    else tuple(s[k * D : (k + 1) * D] for s in state)
                )  # fmt: skip
                if config.packed:
                    out, final = rnn(pack_padded_sequence(h, torch.tensor(steps), enforce_sorted=False), rows)
                    h = pad_packed_sequence(out, total_length=stop - start)[0]
                else:
                    h, final = rnn(h, rows)
                finals.append(final)
                if k < L - 1:
                    h = h * (~zeroed[k][start:stop]).to(h.dtype).div_(1 - config.dropout)
            state = (
                torch.cat(finals)
                if isinstance(finals[0], torch.Tensor)
                else tuple(map(torch.cat, zip(*finals, strict=True)))
            )
            outputs.append(h)
    # Within rounding: a stack and its layers alone may round differently in torch's kernels, in eval mode too (a GRU
    # packed from a random h_0: 1.2e-7); a unit dropped or not moves the next layer by far more. Bit for bit above.
    tolerance = {"float32": 1e-5, "float64": 1e-10}[config.dtype]
    again = torch.cat(outputs)  # (T, B, D*H)
    torch.testing.assert_close(again, time_major(result.output, config.batch_first), atol=tolerance, rtol=tolerance)
    torch.testing.assert_close(state if result.c_n is None else state[0], result.h_n, atol=tolerance, rtol=tolerance)


def test_masks_are_drawn_chunk_by_chunk_and_seeded():
    config = Config(layers=3, dropout=0.5, train_mode=True, h0="carry", split=3)
    first, again = masks(run(config)), masks(run(config))
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(first, masks(run(config.replace(seed=1))), strict=True))
    fraction = float(torch.stack(first).float().mean())
    assert 0.3 < fraction < 0.7  # about P of the units


def test_shared_across_time_repeats_step_0_over_the_real_steps():
    zeroed = torch.rand(1, 4, 2, 3) < 0.5  # (L-1, T, B, D*H)
    shared = shared_across_time(zeroed, [4, 2], packed=True)
    assert torch.equal(shared[0, :, 0], zeroed[0, :1, 0].expand(4, 3))
    assert torch.equal(shared[0, :2, 1], zeroed[0, :1, 1].expand(2, 3)) and not shared[0, 2:, 1].any()
    assert torch.equal(shared_across_time(zeroed, [4, 2], packed=False)[0, 3, 1], zeroed[0, 0, 1])
