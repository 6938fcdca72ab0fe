"""The anatomy contract: every state's position, checked against torch's own tensors (never by equal values), and
the states a run starts from (h_0), each where torch read it."""

import pytest
import torch
from conftest import configs, time_major
from hypothesis import given, settings

from rnnviz import Config, recompute, run
from rnnviz.anatomy import COLUMNS, INITIAL_COLUMNS, cells, initial_states, output_index, places
from rnnviz.batch import PAD
from rnnviz.model import layer_by_layer
from rnnviz.relations import RECOMPUTE_TOLERANCE

FEW = settings(max_examples=20)


@given(configs())
def test_marks_sit_where_torch_put_the_numbers(config):
    result = run(config)
    frame = cells(result)
    L, D, B, H = config.layers, config.directions, len(config.sequences), config.state_size
    T = result.batch.max_length
    assert tuple(frame.columns) == COLUMNS
    assert len(frame) == B * L * D * T
    layers = layer_by_layer(result)  # torch's own output of every layer, (T, B, D*H)
    out = time_major(result.output, config.batch_first)  # (T, B, D*H)
    for row in frame.itertuples():
        state = layers[row.layer][row.t, row.sequence, row.direction * H : (row.direction + 1) * H]
        if row.h_n_row >= 0:
            assert row.h_n_row == row.layer * D + row.direction
            assert torch.equal(state, result.h_n[row.h_n_row, row.sequence])
        if row.in_output:
            assert row.layer == L - 1 and row.computed
            assert torch.equal(out[row.t, row.sequence, row.direction * H : (row.direction + 1) * H], state)
        if not row.computed:
            assert config.packed and row.padding
            assert not out[row.t, row.sequence].any()
    # each (layer, direction, sequence) has exactly one h_n row, and every row of h_n is taken once per sequence
    marked = frame[frame.h_n_row >= 0]
    assert len(marked) == L * D * B
    assert sorted(set(zip(marked.h_n_row, marked.sequence, strict=True))) == [
        (k, b) for k in range(L * D) for b in range(B)
    ]


@given(configs(extended=True))
def test_marks_sit_where_torch_put_the_numbers_from_any_h_0(config):
    """h_0 random or carried, train-mode dropout: the marks still sit where torch's numbers are (carried, the backward
    h_n is taken at the split); a given h_0 may round the rebuild's last bit, so close here, equal above."""
    result = run(config)
    frame = cells(result)
    H, layers = config.state_size, layer_by_layer(result)
    out = time_major(result.output, config.batch_first)  # (T, B, D*H)
    for row in frame[(frame.h_n_row >= 0) | frame.in_output].itertuples():
        state = layers[row.layer][row.t, row.sequence, row.direction * H : (row.direction + 1) * H]
        if row.h_n_row >= 0:
            torch.testing.assert_close(state, result.h_n[row.h_n_row, row.sequence], atol=1e-6, rtol=1e-5)
        if row.in_output:
            torch.testing.assert_close(out[row.t, row.sequence, row.direction * H : (row.direction + 1) * H], state)


@given(configs(extended=True))
def test_positions_follow_the_rules(config):
    result = run(config)
    frame = cells(result)
    T = result.batch.max_length
    K = (config.split or T // 2) if config.h0 == "carry" else 0
    for row in frame.itertuples():
        n = result.batch.lengths[row.sequence]
        assert row.padding == (row.t >= n)
        assert (row.token == PAD) == row.padding
        assert row.computed == (not (config.packed and row.t >= n))
        end = K if row.direction == 1 else (n - 1 if config.packed else T - 1)
        assert (row.h_n_row >= 0) == (row.t == end)


@given(configs(extended=True))
def test_initial_states_follow_the_rules(config):
    result = run(config)
    frame = initial_states(result)
    L, D, B, T = config.layers, config.directions, len(config.sequences), result.batch.max_length
    K = (config.split or T // 2) if config.h0 == "carry" else 0
    assert tuple(frame.columns) == INITIAL_COLUMNS
    assert len(frame) == B * L * D * (2 if K else 1)
    for row in frame.itertuples():
        n = result.batch.lengths[row.sequence]
        start, stop = (K, T) if row.chunk else (0, K or T)
        last = min(n, stop) - 1 if config.packed else stop - 1
        assert row.before_t == (last if row.direction else start)
        source = "carried" if row.chunk else "random" if config.h0 == "random" else "zeros"
        assert row.source == source
        assert row.h_0_row == (-1 if source == "zeros" else row.layer * D + row.direction)
        assert row.from_t == ((0 if row.direction else K - 1) if source == "carried" else -1)


@given(configs(extended=True, h0="carry"))
def test_a_carried_state_is_the_first_chunks_where_it_was_taken(config):
    """h_0[h_0_row, b] of a carried row is layer l's state at from_t in its first chunk (torch's own per layer)."""
    result = run(config)
    H, layers = config.state_size, layer_by_layer(result)
    carried = initial_states(result).query("source == 'carried'")
    for row in carried.itertuples():
        state = layers[row.layer][row.from_t, row.sequence, row.direction * H : (row.direction + 1) * H]
        torch.testing.assert_close(result.h_0[row.h_0_row, row.sequence], state, atol=1e-6, rtol=1e-5)


def test_a_random_h_0_is_read_first_where_the_frame_says():
    """One step from h_0 gives torch's state at before_t: the forward reads it at t = 0, the backward at T-1."""
    config = Config(h0="random", bidirectional=True, cell="gru")
    result = run(config)
    x = result.embedded  # (T, B, E)
    frame = initial_states(result)
    for row in frame.itertuples():
        suffix = "_l0" + ("_reverse" if row.direction else "")
        w = {name.removesuffix(suffix): p for name, p in result.weights.items() if name.endswith(suffix)}
        cell = torch.nn.GRUCell(config.embedding, config.hidden)
        cell.load_state_dict(w)
        with torch.no_grad():
            h = cell(x[row.before_t, row.sequence][None], result.h_0[row.h_0_row, row.sequence][None])[0]
        torch.testing.assert_close(
            h, result.output[row.before_t, row.sequence, row.direction * 5 : (row.direction + 1) * 5]
        )


def test_marks_are_positions_even_where_values_repeat():
    """A dead ReLU makes every state 0: equal values everywhere, yet h_n is marked at one step per direction."""
    config = next(
        c
        for seed in range(200)
        if not run(c := Config(nonlinearity="relu", hidden=1, embedding=1, seed=seed)).output.any()
    )
    frame = cells(run(config))
    assert (frame.h_n_row >= 0).sum() == len(config.sequences)
    assert set(frame[frame.h_n_row >= 0].t) == {7}


def test_one_time_step_marks_both_directions_at_t_0():
    frame = cells(run(Config(sequences=("a", "b"), bidirectional=True, layers=2)))
    assert (frame.t == 0).all()
    assert sorted(frame.h_n_row) == [0, 0, 1, 1, 2, 2, 3, 3]


@pytest.mark.parametrize("batch_first", [False, True])
def test_index_names(batch_first):
    config = Config(bidirectional=True, layers=2, batch_first=batch_first)
    assert output_index(config, 5, 1, 1) == ("output[1, 5, 5:10]" if batch_first else "output[5, 1, 5:10]")


def test_places_say_where_a_state_sits():
    result = run(Config(cell="lstm", layers=2, bidirectional=True, packed=True))
    assert places(result, 0, 1, 1, 0) == (["output[0, 0, 5:10]", "h_n[3, 0]"], "c_n[3, 0]")
    assert places(result, 1, 1, 0, 3) == (["output[3, 1, 0:5]", "h_n[2, 1]"], "c_n[2, 1]")  # 'tiny' ends at t = 3
    assert places(result, 1, 0, 0, 3) == (["h_n[0, 1]"], "c_n[0, 1]")  # a lower layer: only in h_n
    assert places(result, 0, 0, 0, 4) == ([], None)


@FEW
@given(configs(h0="zeros"))
def test_every_place_named_holds_that_state(config):
    """Each output[...] and h_n[k, b] that places() names holds the state h_t, and each c_n[k, b] holds c_t, as the
    hand recomputation gives them (evaluated, not compared as text)."""
    result = run(config)
    reference = recompute(result)
    H, hidden, tolerance = config.state_size, config.hidden, RECOMPUTE_TOLERANCE[config.dtype]
    names = {"output": result.output, "h_n": result.h_n, "c_n": result.c_n}
    for b, n in enumerate(result.batch.lengths):
        for layer in range(config.layers):
            for d in range(config.directions):
                for t in range(n if config.packed else result.batch.max_length):
                    h_places, c_place = places(result, b, layer, d, t)
                    h_t = reference.layer_outputs[layer][t, b, d * H : (d + 1) * H]
                    for place in h_places:
                        assert torch.allclose(eval(place, names), h_t, atol=tolerance, rtol=tolerance), place
                    if c_place is not None:
                        c_t = reference.layer_cells[layer][t, b, d * hidden : (d + 1) * hidden]
                        assert torch.allclose(eval(c_place, names), c_t, atol=tolerance, rtol=tolerance), c_place
