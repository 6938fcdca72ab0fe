"""Every sentence true at every edge: each index a relation's statement or why names is a Place, built from the
anatomy's positions, and each Place is evaluated against the layers' own states (rnnviz.model.layer_by_layer) over
the configuration space, B == L*D and sequences of equal and unequal lengths included. Sentences are Markdown."""

import re

import torch
from conftest import around_configs, configs
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnviz import Config, recompute, run
from rnnviz.model import layer_by_layer
from rnnviz.positions import last_step
from rnnviz.relations import RECOMPUTE_TOLERANCE, specs
from rnnviz.runs import comparisons

NUMERIC_INDEX = re.compile(r"\b(?:output|h_n|c_n|hv|h_0|c_0)\[[-\d, :]+\]")  # output[7, 1, 5:10], h_n[3]
CODE_SPAN = re.compile(r"`[^`]*`")


@st.composite
def edge_configs(draw) -> Config:
    """The extended configuration space, and half the time a batch of B == L*D sequences of unequal lengths."""
    config = draw(configs(extended=True))
    if draw(st.booleans()):
        rows = config.layers * config.directions
        lengths = draw(st.lists(st.integers(2, 6), min_size=rows, max_size=rows))
        sequences = tuple("abcdef"[:n] for n in lengths)
        fixed = {k: getattr(config, k) for k in ("cell", "layers", "bidirectional", "hidden", "proj", "batch_first")}
        config = draw(configs(extended=True, sequences=sequences, **fixed))
    return config


def holds(tensor: torch.Tensor, expected: torch.Tensor, tolerance: float) -> bool:
    return tensor.shape == expected.shape and torch.allclose(tensor, expected, atol=tolerance, rtol=tolerance)


def check_place(place, result, layers, cells, tolerance):
    """Evaluate one Place: the index holds what the sentence says (a state at t, padding, a final state)."""
    c, lengths, T = result.config, result.batch.lengths, result.batch.max_length
    H = c.state_size
    got = eval(place.code, {"output": result.output, "h_n": result.h_n, "c_n": result.c_n})
    bs = range(len(lengths)) if place.b is None else [place.b]
    got = got if place.b is None else got.unsqueeze(0)  # (B', units)
    for row, b in zip(got, bs, strict=True):
        pad = c.packed and place.t is not None and place.t >= lengths[b]
        units = slice(place.direction * H, (place.direction + 1) * H)
        if place.says == "padding":
            assert pad and not row.any(), place
        elif place.says == "state":
            assert not pad, place  # a state is never named at a step the sequence does not run
            assert holds(row, layers[place.layer][place.t, b, units], tolerance), place
        else:  # final: where the direction's run ends
            t = int(last_step(c, [lengths[b]], T, place.direction)[0])
            if place.cell:
                if cells is not None:
                    hidden = slice(place.direction * c.hidden, (place.direction + 1) * c.hidden)
                    assert holds(row, cells[place.layer][t, b, hidden], tolerance), place
            else:
                assert holds(row, layers[place.layer][t, b, units], tolerance), place


def assert_markdown(text: str):
    """Backticks pair up; outside code, no emphasis stars and no HTML-like tags (they would not show as written)."""
    assert text.count("`") % 2 == 0, text
    prose = CODE_SPAN.sub("", text)
    assert "*" not in prose and "<" not in prose, text


@settings(max_examples=120, deadline=None)
@given(edge_configs())
def test_every_index_a_sentence_names_is_evaluated(config):
    result = run(config)
    reference = recompute(result)
    extra = comparisons(result, reference)
    layers = layer_by_layer(result)  # (T, B, D*H) each
    cells = reference.layer_cells if config.h0 == "zeros" and not config.draws_masks else None
    tolerance = RECOMPUTE_TOLERANCE[config.dtype]
    for e, spec in specs(result, extra):
        named = {place.code for place in spec.places}
        for text in (spec.statement, spec.why):
            assert_markdown(text)
            for index in NUMERIC_INDEX.findall(text):
                assert index in named, (e.id, index, text)
        for place in spec.places:
            check_place(place, result, layers, cells, tolerance)


@settings(max_examples=60, deadline=None)
@given(around_configs())
def test_every_index_is_evaluated_with_total_length_and_manual_sort(config):
    """The batch padded past its longest sequence, or sorted by hand: sequence b is the sorted batch's."""
    test_every_index_a_sentence_names_is_evaluated.hypothesis.inner_test(config)


def test_the_packed_bidirectional_lstm_of_the_issue():
    """--cell lstm --bidirectional --packed: lengths 8, 4, 6; output[7, 1, 5:] is padding, not a first state."""
    result = run(Config(cell="lstm", bidirectional=True, packed=True))
    statement = next(s.statement for e, s in specs(result, {}) if e.id == "final-output-backward-is-h_n")
    assert "`output[3, 1, 5:10]`" in statement and "`output[7, 1, 5:10]` is padding" in statement
