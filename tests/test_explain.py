"""rnnviz.explain on a user's own module: what it returns is the module's own call to the bit, the module is left
exactly as it was, the relations are those rnnviz finds on its own run of the same layer, and the recipes' code,
run on what the module returned, gives the values shown."""

import dataclasses
import json
import warnings

import pytest
import torch
from conftest import DEVICES, configs
from hypothesis import given
from hypothesis import strategies as st
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from rnnviz import analyse, explain
from rnnviz.explain import FROM_CONFIG, Explanation
from rnnviz.model import contract_threads, recurrent_module
from rnnviz.relations import check_relations
from rnnviz.runs import COMPARISONS

MODULES = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


@st.composite
def layers(draw) -> dict:
    """A user's layer and its batch, small: the module's keyword arguments and the batch's sizes."""
    cell = draw(st.sampled_from(tuple(MODULES)))
    hidden = draw(st.integers(1, 6))
    kwargs = dict(
        input_size=draw(st.integers(1, 5)),
        hidden_size=hidden,
        num_layers=draw(st.integers(1, 3)),
        bidirectional=draw(st.booleans()),
        batch_first=draw(st.booleans()),
        bias=draw(st.booleans()),
    )
    if cell == "rnn":
        kwargs["nonlinearity"] = draw(st.sampled_from(("tanh", "relu")))
    if cell == "lstm" and hidden > 1:
        kwargs["proj_size"] = draw(st.integers(0, hidden - 1))
    lengths = draw(st.lists(st.integers(1, 6), min_size=1, max_size=4))
    return dict(
        cell=cell,
        kwargs=kwargs,
        lengths=lengths,
        packed=draw(st.booleans()),
        given_lengths=draw(st.booleans()),
        h_0=draw(st.booleans()),
        dtype=draw(st.sampled_from((torch.float32, torch.float64))),
        seed=draw(st.integers(0, 1000)),
    )


def build(spec: dict):
    """The module, x as explain takes it (padded or packed), lengths (None where not given), h_0 (None: zeros)."""
    torch.manual_seed(spec["seed"])
    module = MODULES[spec["cell"]](**spec["kwargs"]).to(spec["dtype"])
    lengths, bf = spec["lengths"], module.batch_first
    B, T, E = len(lengths), max(lengths), module.input_size
    x = torch.randn(B, T, E, dtype=spec["dtype"])  # (B, T, E)
    for b, n in enumerate(lengths):
        x[b, n:] = 0
    x = x if bf else x.transpose(0, 1)
    state = None
    if spec["h_0"]:
        rows = module.num_layers * (2 if module.bidirectional else 1)
        h = torch.randn(rows, B, getattr(module, "proj_size", 0) or module.hidden_size, dtype=spec["dtype"])
        state = (h, torch.randn(rows, B, module.hidden_size, dtype=spec["dtype"])) if spec["cell"] == "lstm" else h
    if spec["packed"]:
        return module, pack_padded_sequence(x, torch.tensor(lengths), batch_first=bf, enforce_sorted=False), None, state
    return module, x, lengths if spec["given_lengths"] else None, state


def plain_call(module, x, h_0):
    """module(x, h_0) as a user calls it (grad on), under rnnviz's thread rule."""
    with contract_threads():
        return module(x, h_0)


def same(a, b) -> bool:
    if isinstance(a, PackedSequence):
        return all(torch.equal(p, q) for p, q in zip(a, b, strict=True) if p is not None)
    return torch.equal(a, b)


def snapshot(module) -> dict:
    """Everything about a module that explain must leave alone."""
    return {
        "training": module.training,
        "parameters": [(n, p, p.data_ptr(), p.requires_grad, p.clone(), p.grad) for n, p in module.named_parameters()],
        "buffers": [(n, b.clone()) for n, b in module.named_buffers()],
        "flat": list(module._flat_weights),
        "dict": sorted(vars(module)),
    }


def assert_unchanged(before: dict, after: dict):
    assert after["training"] == before["training"]
    assert after["dict"] == before["dict"]
    assert all(a is b for a, b in zip(after["flat"], before["flat"], strict=True))
    for (n, p, ptr, grad_on, values, grad), (n2, p2, ptr2, grad_on2, values2, grad2) in zip(
        before["parameters"], after["parameters"], strict=True
    ):
        assert (n, ptr, grad_on) == (n2, ptr2, grad_on2) and p is p2, n
        assert torch.equal(values, values2) and grad is grad2, n


# -----------------------------------------------------------------------------
# What the module returned, bit for bit, and the module left alone


@given(layers())
def test_explain_returns_the_modules_own_call_bit_for_bit(spec):
    module, x, lengths, h_0 = build(spec)
    before = snapshot(module)
    explanation = explain(module, x, lengths, h_0)
    assert_unchanged(before, snapshot(module))
    output, state = plain_call(module, x, h_0)
    h_n, c_n = state if spec["cell"] == "lstm" else (state, None)
    assert type(explanation.output) is type(output)
    assert same(explanation.output, output) and torch.equal(explanation.h_n, h_n)
    assert (explanation.c_n is None) == (c_n is None) and (c_n is None or torch.equal(explanation.c_n, c_n))
    assert not any(rel.verdict == "contradiction" for rel in explanation.relations)


@pytest.mark.parametrize("cell", MODULES)
@pytest.mark.parametrize("train", [False, True])
def test_a_module_is_left_exactly_as_it_was(cell, train):
    """Its parameters (the very tensors, their values, grads and requires_grad), mode, buffers, attributes."""
    torch.manual_seed(0)
    module = MODULES[cell](3, 4, num_layers=2, bidirectional=True, dropout=0.5).train(train)
    module.weight_hh_l1.requires_grad_(False)
    module(torch.randn(5, 2, 3))[0].sum().backward()  # grads on the others
    x = torch.randn(5, 2, 3, requires_grad=True)
    before, x_before = snapshot(module), x.detach().clone()
    explain(module, x, lengths=[5, 3], compare=True)
    assert_unchanged(before, snapshot(module))
    assert torch.equal(x, x_before) and x.grad is None


def test_train_mode_draws_the_masks_a_plain_call_draws_and_the_rebuild_replays_them():
    torch.manual_seed(1)
    module = nn.GRU(3, 4, num_layers=3, dropout=0.5).train()
    x = torch.randn(6, 2, 3)
    state = torch.get_rng_state()
    explanation = explain(module, x, compare=True)
    after = torch.get_rng_state()
    torch.set_rng_state(state)
    assert torch.equal(plain_call(module, x, None)[0], explanation.output)
    assert torch.equal(torch.get_rng_state(), after)  # the generator moved as the plain call moves it
    rebuilt = {rel.id: rel for rel in explanation.relations}["stacked-is-layer-by-layer"]
    assert rebuilt.verdict == "holds"


@pytest.mark.parametrize("device", DEVICES)
def test_explain_on_the_modules_device(device):
    """On its own device: bit for bit, the relations checked on CPU copies (CUDA's tolerance beside the rebuild)."""
    torch.manual_seed(11)
    module = nn.LSTM(3, 4, num_layers=2, bidirectional=True).to(device)
    x = pack_padded_sequence(torch.randn(5, 3, 3, device=device), torch.tensor([5, 2, 4]), enforce_sorted=False)
    h_0 = (torch.randn(4, 3, 4, device=device), torch.randn(4, 3, 4, device=device))
    explanation = explain(module, x, h_0=h_0, compare=True)
    output, (h_n, c_n) = plain_call(module, x, h_0)
    assert same(explanation.output, output) and torch.equal(explanation.h_n, h_n) and torch.equal(explanation.c_n, c_n)
    assert explanation.run.device == device and explanation.run.output.device.type == "cpu"
    assert not any(rel.verdict == "contradiction" for rel in explanation.relations)
    assert all(r.holds is not False for r in explanation.recipes() if not r.lesson)


def test_float64_and_batch_first_packed():
    torch.manual_seed(2)
    module = nn.LSTM(3, 5, proj_size=2, batch_first=True, bidirectional=True).double()
    x = pack_padded_sequence(torch.randn(3, 4, 3, dtype=torch.float64), torch.tensor([4, 1, 2]), batch_first=True,
                             enforce_sorted=False)  # fmt: skip
    explanation = explain(module, x, compare=True)
    assert isinstance(explanation.output, PackedSequence) and explanation.output.data.dtype == torch.float64
    assert explanation.run.config.dtype == "float64" and explanation.run.output.shape == (3, 4, 4)
    assert {rel.verdict for rel in explanation.relations} <= {"holds", "lesson"}


def test_sizes_beyond_the_dashboards_limits():
    """Config's limits (16 sequences, 64 steps, hidden 256) are the dashboard's: explain takes any size."""
    torch.manual_seed(3)
    module = nn.GRU(2, 300)
    explanation = explain(module, torch.randn(70, 20, 2), lengths=[70] + [40] * 19)
    assert explanation.run.output.shape == (70, 20, 300)
    assert {rel.id: rel.verdict for rel in explanation.relations}["true-last-step-is-h_n"] == "lesson"


def test_a_module_without_biases_is_rebuilt_and_recomputed_with_zero_biases():
    torch.manual_seed(4)
    module = nn.LSTM(3, 4, num_layers=2, bidirectional=True, bias=False)
    explanation = explain(module, torch.randn(5, 2, 3), compare=True)
    assert not hasattr(module, "bias_ih_l0")
    assert torch.equal(explanation.run.weights["bias_hh_l1_reverse"], torch.zeros(16))
    verdicts = {rel.id: rel.verdict for rel in explanation.relations}
    assert verdicts["reference-recompute"] == verdicts["stacked-is-layer-by-layer"] == "holds"


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda: explain(nn.Linear(2, 3), torch.zeros(1, 2, 2)), TypeError),
        (lambda: explain(nn.RNN(2, 3), torch.zeros(4, 2)), ValueError),  # unbatched
        (lambda: explain(nn.RNN(2, 3), torch.zeros(4, 2, 2), lengths=[4]), ValueError),
        (lambda: explain(nn.RNN(2, 3), torch.zeros(4, 2, 2), lengths=[4, 5]), ValueError),
        (lambda: explain(nn.RNN(2, 3).half(), torch.zeros(4, 2, 2).half()), ValueError),
        (
            lambda: explain(nn.RNN(2, 3), pack_padded_sequence(torch.zeros(4, 2, 2), [4, 2]), lengths=[4, 2]),
            ValueError,
        ),
    ],
)
def test_what_explain_refuses(call, error):
    with pytest.raises(error):
        call()


# -----------------------------------------------------------------------------
# The relations: the catalog as rnnviz checks it on its own run of the same layer


def same_layer(result):
    """A user's module holding a run's weights, and the run's input as the module takes it."""
    c = result.config
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's, on dropout with one layer
        module = recurrent_module(c, c.embedding, c.layers, c.batch_first, c.dropout)
    module = module.to(getattr(torch, c.dtype))
    module.load_state_dict(dict(result.weights))
    module.train(c.train_mode)
    x, lengths = result.embedded, result.batch.lengths
    if c.packed:
        x = pack_padded_sequence(x, torch.tensor(lengths), batch_first=c.batch_first, enforce_sorted=False)
    state = None if result.h_0 is None else (result.h_0 if result.c_0 is None else (result.h_0, result.c_0))
    return module, x, None if c.packed else lengths, state


@given(configs(extended=True))
def test_the_relations_are_those_rnnviz_finds_on_its_own_run(config):
    """The same layer, input, h_0 and dropout masks: every relation (but those that run a Config again) is the same,
    sentence, expression, verdict and difference."""
    if config.h0 == "carry":
        config = config.replace(h0="zeros", split=0, detach=False)
    analysis = analyse(config)
    module, x, lengths, h_0 = same_layer(analysis.result)
    if config.draws_masks:
        torch.set_rng_state(analysis.result.masks_state)
    with torch.no_grad():  # as rnnviz runs: torch's LSTM kernel depends on the grad mode
        explanation = explain(module, x, lengths, h_0, compare=True)
    again = explanation.run.output
    assert torch.equal(again, analysis.result.output) and torch.equal(explanation.h_n, analysis.result.h_n)
    expected = [dataclasses.asdict(r) for r in analysis.relations if not set(r.needs) & set(FROM_CONFIG)]
    assert [dataclasses.asdict(r) for r in explanation.relations] == expected


def test_every_comparison_from_the_weights_runs_on_a_users_module():
    """Every comparison rnnviz.runs has (but those that run a Config again, and on request) applies to some
    explained run, and computes there."""
    computed = set()
    for cell, bidirectional, packed, given_h_0, B in [
        ("lstm", True, True, False, 3),
        ("lstm", True, False, True, 4),  # B == L*D with 2 layers
        ("gru", True, True, True, 2),
        ("rnn", False, False, False, 2),
        ("gru", False, False, False, 2),  # from zeros: the paper's GRU by hand
    ]:
        torch.manual_seed(5)
        module = MODULES[cell](3, 4, num_layers=2, bidirectional=bidirectional)
        x = torch.randn(5, B, 3)
        D = 2 if bidirectional else 1
        h_0 = None
        if given_h_0:
            h_0 = torch.randn(2 * D, B, 4)
            h_0 = (h_0, torch.randn(2 * D, B, 4)) if cell == "lstm" else h_0
        lengths = [5] + [3] * (B - 1)
        if packed:
            x = pack_padded_sequence(x, torch.tensor(lengths), enforce_sorted=False)
        explanation = explain(module, x, None if packed else lengths, h_0, compare=True)
        assert not any(rel.verdict == "contradiction" for rel in explanation.relations)
        computed |= set(explanation.compared)
    train_mode = nn.GRU(3, 4, num_layers=2, dropout=0.5).train()  # its dropout masks, drawn again
    explanation = explain(train_mode, torch.randn(5, 2, 3), compare=True)
    assert not any(rel.verdict == "contradiction" for rel in explanation.relations)
    computed |= set(explanation.compared)
    from_weights = {c.name for c in COMPARISONS if c.name not in FROM_CONFIG and not c.on_request}
    assert computed == from_weights


def test_without_compare_only_the_relations_that_need_no_other_run():
    torch.manual_seed(6)
    explanation = explain(nn.LSTM(2, 3, num_layers=2, bidirectional=True), torch.randn(4, 2, 2))
    assert explanation.compared == {} and all(not rel.needs for rel in explanation.relations)
    assert [rel.id for rel in explanation.relations] == [rel.id for rel in check_relations(explanation.run)]


# -----------------------------------------------------------------------------
# Recipes


@given(layers())
def test_recipes_hold_and_lessons_are_wrong_with_their_numbers(spec):
    module, x, lengths, h_0 = build(spec)
    recipes = explain(module, x, lengths, h_0).recipes()
    assert recipes.items and not recipes.items[0].lesson
    for recipe in recipes:
        if recipe.lesson:
            assert recipe.holds is False and recipe.differs, recipe
        else:
            assert recipe.holds in (True, None), recipe


@given(layers())
def test_recipe_code_runs_on_what_the_module_returned(spec):
    """The setup lines, then each recipe's code, on the module's own output, h_n, c_n and lengths, give its value."""
    module, x, lengths, h_0 = build(spec)
    explanation = explain(module, x, lengths, h_0)
    recipes = explanation.recipes()
    ns = {"torch": torch, "pad_packed_sequence": pad_packed_sequence, "output": explanation.output}
    ns |= {"h_n": explanation.h_n, "c_n": explanation.c_n, "lengths": lengths}
    exec(recipes.setup, ns)
    for recipe in recipes:
        assert torch.equal(eval(recipe.code, dict(ns)), recipe.value), recipe.code


def by_code(explanation: Explanation) -> dict:
    return {(r.need.split(":")[0], r.code): r for r in explanation.recipes()}


def test_a_padded_unpacked_batch_with_short_sequences():
    """h_n and output[-1] are a short sequence's state after the pads: lessons, with the sequences they miss."""
    torch.manual_seed(7)
    module = nn.LSTM(3, 4, bidirectional=True)
    recipes = by_code(explain(module, torch.randn(6, 3, 3), lengths=[6, 2, 4]))
    need = "each sequence's last real state, forward (top layer)"
    right = recipes[need, "output[lengths - 1, torch.arange(3), :4]"]
    assert not right.lesson and right.holds
    for wrong in ("output[-1, :, :4]", "h_n[-2]"):
        assert recipes[need, wrong].lesson and recipes[need, wrong].differs == (1, 2)
        assert recipes[need, wrong].max_abs_diff > 0


def test_a_packed_batch_takes_h_n():
    torch.manual_seed(8)
    module = nn.GRU(3, 4, num_layers=2, bidirectional=True, batch_first=True)
    x = pack_padded_sequence(torch.randn(3, 6, 3), torch.tensor([6, 2, 4]), batch_first=True, enforce_sorted=False)
    explanation = explain(module, x)
    recipes = by_code(explanation)
    classifier = recipes["a classifier's features", "torch.cat([h_n[-2], h_n[-1]], dim=1)"]
    assert classifier.holds and classifier.value.shape == (3, 8)
    assert recipes["a classifier's features", "output[:, -1]"].lesson
    assert recipes["the backward direction at each sequence's last real step (top layer)", "h_n[-1]"].lesson
    assert explanation.recipes().setup == "output, lengths = pad_packed_sequence(output, batch_first=True)"


def test_a_full_batch_needs_no_lengths():
    torch.manual_seed(9)
    recipes = explain(nn.RNN(2, 3), torch.randn(4, 2, 2)).recipes()
    assert recipes.setup == "" and all("lengths" not in r.code for r in recipes)
    assert [r.code for r in recipes if not r.lesson] == ["h_n[-1]", "h_n"]


# -----------------------------------------------------------------------------
# Cells, the picture, Jupyter


def test_cells_picture_and_jupyter():
    torch.manual_seed(10)
    module = nn.LSTM(2, 3, num_layers=2, bidirectional=True)
    x = pack_padded_sequence(torch.randn(5, 3, 2), torch.tensor([5, 2, 4]), enforce_sorted=False)
    explanation = explain(module, x)
    frame = explanation.cells()
    assert len(frame) == 3 * 2 * 2 * 5
    assert set(frame[frame.h_n_row == 2].t) == {4, 1, 3}  # top forward ends at each last real step
    spec = explanation.picture(sequences=(0, 1)).to_dict()
    rows = next(iter(spec["datasets"].values()))
    assert {row["lane"] for row in rows} >= {"b=1 · layer 1 ←", "b=1 · input 2 steps"}
    bundle, _ = explanation._repr_mimebundle_()
    text = bundle["text/plain"]
    assert all(rel.id in text for rel in explanation.relations) and text == repr(explanation)
    assert any(key.startswith(("text/html", "application/vnd.vegalite")) for key in bundle)
    assert "final-output-is-forward-h_n" in json.dumps(bundle)
