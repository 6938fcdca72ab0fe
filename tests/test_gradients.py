"""Gradients through time: connectivity against torch.autograd.functional.jacobian, the checks, the cap, the RNG."""

import threading

import pytest
import torch
from conftest import configs, time_major
from hypothesis import given, settings
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnnviz import Config, ConfigError, run
from rnnviz.cells import CELLS
from rnnviz.config import recurrent_weights
from rnnviz.gradients import (
    FD_TOLERANCE,
    MAX_GRADIENT_SECONDS,
    check_gradients,
    connectivity,
    finite_difference_check,
    gradient_seconds,
)

# torch loads its forward-mode decompositions through torch.jit.script on first use, which warns (torch 2.13)
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
FEW = settings(max_examples=20)


def causal_leak(values: torch.Tensor, layer: int, direction: int) -> float:
    """The largest norm that causality says is 0: s > t going forward (direction 0), s < t going backward."""
    T = values.shape[-1]
    future = torch.ones(T, T, dtype=torch.bool).triu(1)  # [t, s]: s > t
    leaks = values[layer, direction][:, future if direction == 0 else future.t()]  # (B, entries)
    return leaks.max().item() if leaks.numel() else 0.0


def padding_leak(values: torch.Tensor, lengths) -> float:
    """The largest norm of a state at a real step (t < len_b), of any layer and direction, for a <pad> input."""
    steps, n = torch.arange(values.shape[-1]), torch.tensor(lengths).view(-1, 1, 1)
    real_from_pad = (steps.view(-1, 1) < n) & (steps.view(1, -1) >= n)  # (B, T, S)
    leaks = values[:, :, real_from_pad]  # (L, D, entries)
    return leaks.max().item() if leaks.numel() else 0.0

EXAMPLES = [  # packed with short sequences; bidirectional, unpacked, short (padding leaks); T == 1; proj; h0 random
    Config(sequences=("hello", "hi", "h"), cell="gru", layers=2, bidirectional=True, packed=True),
    Config(sequences=("hello", "hi"), cell="lstm", bidirectional=True, batch_first=True),
    Config(sequences=("a", "b"), layers=3, bidirectional=True, dtype="float64"),
    Config(cell="lstm", hidden=6, proj=3, layers=2, bidirectional=True, packed=True),
    Config(cell="lstm", layers=2, bidirectional=True, packed=True, h0="random"),
    Config(nonlinearity="relu", layers=2, h0="random", dtype="float64"),
]


# -----------------------------------------------------------------------------
# An independent computation: torch's one-layer modules, packed as the run was, and a jacobian per sequence


def torch_layers(result) -> list:
    """The stack as float64 nn modules with num_layers=1 (both directions in one), loaded from the run's weights."""
    c = result.config
    layers = []
    for k in range(c.layers):
        kwargs = {"bidirectional": c.bidirectional}
        if c.cell == "rnn":
            kwargs["nonlinearity"] = c.nonlinearity
        if c.proj:
            kwargs["proj_size"] = c.proj
        inputs = c.embedding if k == 0 else c.directions * c.state_size
        rnn = CELLS[c.cell].module(inputs, c.hidden, **kwargs).double()
        rnn.load_state_dict({name: result.weights[name.replace("_l0", f"_l{k}")] for name in rnn.state_dict()})
        layers.append(rnn)
    return layers


def reference(result) -> torch.Tensor:
    """(L, D, B, T, T): the norms of torch.autograd.functional.jacobian, sequence b's input column varying alone."""
    c = result.config
    x = time_major(result.embedded, c.batch_first).double()  # (T, B, E)
    T, B, _ = x.shape
    L, D = c.layers, c.directions
    lengths = torch.tensor(result.batch.lengths if c.packed else [T] * B)
    layers = torch_layers(result)
    h_0 = None if c.h0 != "random" else [s.double() for s in (result.h_0, result.c_0) if s is not None]

    def stack(x):  # (T, B, E) -> (L, T, B, D*H)
        sequence, outputs = pack_padded_sequence(x, lengths, enforce_sorted=False), []
        for k, rnn in enumerate(layers):
            state = None if h_0 is None else [s[k * D : (k + 1) * D] for s in h_0]
            sequence, _ = rnn(sequence, state if state is None or len(state) == 2 else state[0])
            outputs.append(pad_packed_sequence(sequence, total_length=T)[0])
        return torch.stack(outputs)

    return jacobian_norms(stack, x, L, D)


def jacobian_norms(stack, x: torch.Tensor, L: int, D: int) -> torch.Tensor:
    """(L, D, B, T, T): the norms of torch.autograd.functional.jacobian of stack ((T, B, E) -> (L, T, B, D*H)), each
    sequence b's input column varying alone."""
    T, B, E = x.shape
    values = torch.zeros(L, D, B, T, T, dtype=torch.float64)
    for b in range(B):

        def column(xb, b=b):  # sequence b's inputs (T, E) -> its states (L, T, D*H)
            return stack(torch.cat([x[:, :b], xb.unsqueeze(1), x[:, b + 1 :]], dim=1))[:, :, b]

        jacobian = torch.autograd.functional.jacobian(column, x[:, b], vectorize=True)  # (L, T, D*H, T, E)
        values[:, :, b] = jacobian.view(L, T, D, -1, T, E).pow(2).sum((3, 5)).sqrt().transpose(1, 2)
    return values


def detached_reference(result) -> torch.Tensor:
    """(L, 1, B, T, T) of a detached carry: torch's stack on steps [0, K), then on [K, T) from the first chunk's
    final states .detach(), as truncated backprop runs it; the jacobians taken through both calls."""
    c = result.config
    x = time_major(result.embedded, c.batch_first).double()  # (T, B, E)
    T, B, _ = x.shape
    K, lengths = c.chunk, result.batch.lengths if c.packed else [T] * B
    layers = torch_layers(result)

    def chunk(x, steps, states):  # one chunk through the stack: (L, T', B, H) and each layer's final state
        sequence, outputs, finals = pack_padded_sequence(x, torch.tensor(steps), enforce_sorted=False), [], []
        for rnn, state in zip(layers, states, strict=True):
            sequence, final = rnn(sequence, state)
            outputs.append(pad_packed_sequence(sequence, total_length=x.shape[0])[0])
            finals.append(final.detach() if isinstance(final, torch.Tensor) else tuple(s.detach() for s in final))
        return torch.stack(outputs), finals

    def stack(x):  # (T, B, E) -> (L, T, B, H)
        first, finals = chunk(x[:K], [min(n, K) for n in lengths], [None] * c.layers)
        second, _ = chunk(x[K:], [n - K for n in lengths], finals)
        return torch.cat([first, second], dim=1)

    return jacobian_norms(stack, x, c.layers, 1)


def assert_matches_reference(config: Config):
    result = run(config)
    values = connectivity(result)
    assert values.dtype == torch.float64
    assert values.shape == (config.layers, config.directions, len(config.sequences), *(2 * [result.batch.max_length]))
    torch.testing.assert_close(values, reference(result), rtol=1e-10, atol=1e-12)
    return result, values


# -----------------------------------------------------------------------------
# The map


@FEW
@given(configs())
def test_connectivity_matches_jacobian(config):
    assert_matches_reference(config)


@pytest.mark.parametrize("config", EXAMPLES, ids=lambda c: f"{c.cell}-{c.layers}x{c.directions}-{c.sequences}")
def test_connectivity_examples(config):
    result, values = assert_matches_reference(config)
    for b, n in enumerate(result.batch.lengths):
        if config.packed:  # a packed run never ran t >= len_b: 0 there, exactly
            assert not values[:, :, b, n:].any()
        assert values[0, 0, b].diagonal()[:n].all()  # the state at t sees the input at t


@FEW
@given(configs())
def test_neither_layout_nor_dtype_changes_the_map(config):
    """batch_first moves no number, and a float32 run's weights and embeddings are exact in float64."""
    values = connectivity(run(config))
    other = config.replace(batch_first=not config.batch_first, dtype="float64")
    assert torch.equal(connectivity(run(other)), values)


@pytest.mark.parametrize("changes", [
    {}, {"cell": "lstm", "layers": 2, "packed": True}, {"cell": "gru", "proj": 0, "batch_first": True, "split": 1},
    {"cell": "lstm", "hidden": 4, "proj": 2, "layers": 3, "dtype": "float64", "split": 4},
])  # fmt: skip
def test_a_detached_carry_is_cut_at_the_split(changes):
    """Truncated backprop: the map is torch's jacobian through two calls, the state between them detached; exactly 0
    from every first-chunk input to every second-chunk state, where the map without detach is not."""
    config = Config(sequences=("hello", "hey", "hi!!!"), h0="carry", detach=True, **{"split": 2, **changes})
    result = run(config)
    values, K = connectivity(result), config.chunk
    torch.testing.assert_close(values, detached_reference(result), rtol=1e-10, atol=1e-12)
    assert not values[:, :, :, K:, :K].any()
    whole = connectivity(run(config.replace(detach=False)))
    steps = result.batch.lengths if config.packed else [result.batch.max_length] * len(config.sequences)
    assert all(whole[:, :, b, K:n, :K].all() for b, n in enumerate(steps))  # not one entry of it is 0
    torch.testing.assert_close(values[:, :, :, :K], whole[:, :, :, :K], rtol=1e-12, atol=0)  # the first chunk's
    torch.testing.assert_close(values[..., K:], whole[..., K:], rtol=1e-10, atol=1e-12)  # the second's inputs
    autograd, differences = finite_difference_check(result, values, samples=8)  # no entry across the cut
    torch.testing.assert_close(autograd, differences, rtol=FD_TOLERANCE, atol=FD_TOLERANCE)


def test_a_unidirectional_carry_is_the_whole_run():
    """chunks-equal-whole: carried over two chunks, a unidirectional stack is the same function of its input."""
    config = Config(cell="lstm", layers=2, packed=True, h0="carry", split=2)
    assert torch.equal(connectivity(run(config)), connectivity(run(config.replace(h0="zeros", split=0))))


def test_concurrent_sessions_get_their_own_maps():
    """Forward-mode levels are process-wide in torch: threads pushing tangents at once must not mix them up."""
    results = [run(Config(cell=cell, layers=2, bidirectional=True, seed=i)) for i, cell in enumerate(CELLS)]
    expected = [connectivity(result) for result in results]
    got = {}

    def session(i):
        got[i] = [connectivity(results[i]) for _ in range(3)]

    threads = [threading.Thread(target=session, args=(i,)) for i in range(len(results))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(torch.equal(values, expected[i]) for i in range(len(results)) for values in got[i])


def test_connectivity_leaves_the_global_rng_and_threads_alone():
    result = run(Config(cell="gru", layers=2, bidirectional=True))
    torch.manual_seed(123)
    rng, threads = torch.get_rng_state(), torch.get_num_threads()
    finite_difference_check(result, connectivity(result))
    assert torch.equal(torch.get_rng_state(), rng)
    assert torch.get_num_threads() == threads


# -----------------------------------------------------------------------------
# The relations' numbers on real maps


@given(configs())
def test_the_zeros_guaranteed_relations_rest_on(config):
    result = run(config)
    values = connectivity(result)
    for d in range(config.directions):  # layer-0-is-causal
        assert causal_leak(values, 0, d) == 0.0
    if config.directions == 1 or config.layers == 1:  # top-layer-forward-is-causal
        assert causal_leak(values, config.layers - 1, 0) == 0.0
    if config.packed or config.directions == 1:  # padding-has-no-influence
        assert padding_leak(values, result.batch.lengths) == 0.0


def test_top_layer_forward_sees_the_future_through_a_bidirectional_layer():
    values = connectivity(run(Config(cell="lstm", layers=2, bidirectional=True)))
    assert causal_leak(values, 1, 0) > 0.0
    assert causal_leak(values, 0, 0) == 0.0


def test_padding_reaches_the_backward_direction_unpacked():
    config = Config(sequences=("hello", "hi"), cell="gru", bidirectional=True)
    result = run(config)
    values = connectivity(result)
    assert padding_leak(values, result.batch.lengths) > 0.0
    assert padding_leak(connectivity(run(config.replace(packed=True))), result.batch.lengths) == 0.0


@FEW
@given(configs())
def test_finite_differences_agree(config):
    result = run(config)
    autograd, differences = finite_difference_check(result, connectivity(result), samples=4)
    torch.testing.assert_close(autograd, differences, rtol=FD_TOLERANCE, atol=FD_TOLERANCE)


def test_finite_differences_catch_a_wrong_map():
    config = Config(cell="lstm", layers=2, bidirectional=True)
    result = run(config)
    wrong = connectivity(run(config.replace(seed=1)))  # another model's map
    autograd, differences = finite_difference_check(result, wrong, samples=8)
    assert not torch.allclose(autograd, differences, rtol=FD_TOLERANCE, atol=FD_TOLERANCE)


def test_finite_differences_draw_their_own_samples():
    result = run(Config(layers=2))
    values = connectivity(result)
    first = finite_difference_check(result, values, samples=6, seed=4)
    again = finite_difference_check(result, values, samples=6, seed=4)
    assert torch.equal(first[0], again[0]) and torch.equal(first[1], again[1])
    assert not torch.equal(first[0], finite_difference_check(result, values, samples=6, seed=5)[0])


# -----------------------------------------------------------------------------
# The checks on maps made by hand: each reads exactly its entries


def hand_map(L=2, D=2, B=3, T=5) -> torch.Tensor:
    return torch.rand(L, D, B, T, T, generator=torch.Generator().manual_seed(0)) + 0.5


@pytest.mark.parametrize("direction", [0, 1])
def test_causal_leak_reads_the_other_side_of_the_diagonal(direction):
    values = hand_map()
    _, _, B, T, _ = values.shape
    leaks = [
        values[1, direction, b, t, s].item()
        for b in range(B)
        for t in range(T)
        for s in range(T)
        if (s > t if direction == 0 else s < t)
    ]
    assert causal_leak(values, 1, direction) == max(leaks)
    causal = values.clone()
    causal[1, direction] = causal[1, direction].tril() if direction == 0 else causal[1, direction].triu()
    assert causal_leak(causal, 1, direction) == 0.0
    assert causal_leak(hand_map(T=1), 0, direction) == 0.0  # T == 1: nothing to leak


def test_padding_leak_reads_real_steps_from_pad_inputs():
    values, lengths = hand_map(), (5, 2, 4)
    L, D, B, T, _ = values.shape
    leaks = [
        values[k, d, b, t, s].item()
        for k in range(L)
        for d in range(D)
        for b in range(B)
        for t in range(lengths[b])
        for s in range(lengths[b], T)
    ]
    assert padding_leak(values, lengths) == max(leaks)
    for b, n in enumerate(lengths):
        values[:, :, b, :n, n:] = 0
    assert padding_leak(values, lengths) == 0.0
    assert padding_leak(values, (5, 5, 5)) == 0.0  # no padding


# -----------------------------------------------------------------------------
# What the map models, and the cap


@given(configs())
def test_recurrent_weights_are_the_weight_entries(config):
    weights = run(config).weights
    assert recurrent_weights(config) == sum(w.numel() for name, w in weights.items() if name.startswith("weight"))


def test_the_cap_refuses_a_costly_map_before_any_work():
    config = Config(sequences=("x" * 64,) * 16, hidden=64, embedding=64)
    assert gradient_seconds(config) > MAX_GRADIENT_SECONDS
    with pytest.raises(ConfigError, match="would take about"):
        connectivity(run(config))
    assert gradient_seconds(Config()) < MAX_GRADIENT_SECONDS / 100
    assert gradient_seconds(config.replace(sequences=("x" * 32,) * 16)) < gradient_seconds(config)


@pytest.mark.parametrize(
    "changes, allowed",
    [
        ({"h0": "carry", "bidirectional": True}, False),
        ({"h0": "carry"}, True),
        ({"h0": "random", "bidirectional": True}, True),
        ({"train_mode": True, "dropout": 0.5}, False),
        ({"train_mode": True}, True),
        ({"dropout": 0.5}, True),
    ],
)
def test_what_the_map_models(changes, allowed):
    config = Config(layers=2, **changes)
    if allowed:
        check_gradients(config)
    else:
        with pytest.raises(ConfigError):
            check_gradients(config)
