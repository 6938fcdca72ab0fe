"""The relation catalog: which relations apply, that each does what it is expected to, and that each
expression, evaluated here in a namespace this file builds, gives the reported verdict."""

import dataclasses
import itertools

import pytest
import torch
from conftest import DEVICES, configs, time_major
from hypothesis import given

from rnnviz import Config, Relation, analyse, recompute, run
from rnnviz.relations import CUDA_TOLERANCE, RECOMPUTE_TOLERANCE, VERDICT_COLOURS, check_relations

EXACT_STATE = (
    "h_n-layout",
    "final-output-is-forward-h_n",
    "true-last-step-is-h_n",
    "first-output-is-backward-h_n",
    "final-output-backward-is-not-h_n",
    "padding-output-is-zero",
)
SHAPES = ("output-shape", "h_n-shape", "c_n-shape")


def expected_ids(config: Config, lengths, reference: bool, cuda: bool = False) -> set[str]:
    """The catalog's 'applies when' column, written out from DESIGN.md."""
    ids = {"output-shape", "h_n-shape", "h_n-layout", "final-output-is-forward-h_n", "true-last-step-is-h_n"}
    if config.cell == "lstm":
        ids.add("c_n-shape")
    if config.bidirectional:
        ids |= {"first-output-is-backward-h_n", "final-output-backward-is-not-h_n"}
    if config.packed and min(lengths) < max(lengths):
        ids.add("padding-output-is-zero")
    if reference:
        ids.add("reference-recompute")
    if cuda:
        ids.add("cpu-matches-cuda")
    return ids


def own_namespace(result, reference=None) -> dict:
    """The expressions' names, bound here without rnnviz.relations.namespace."""
    c = result.config
    L, D, B, H = c.layers, 2 if c.bidirectional else 1, len(c.sequences), c.proj or c.hidden
    ns = {
        "torch": torch,
        "output": result.output,
        "h_n": result.h_n,
        "c_n": result.c_n,
        "hv": result.h_n.view(L, D, B, H),
        "lengths": [len(s) for s in c.sequences],
    }
    if reference is not None:
        ns |= {"ref_output": reference.output, "ref_h_n": reference.h_n, "ref_c_n": reference.c_n}
    return ns


def by_id(relations) -> dict[str, Relation]:
    ids = [r.id for r in relations]
    assert len(ids) == len(set(ids)), ids
    return {r.id: r for r in relations}


def all_zero_coincidence(rel: Relation, config: Config, result) -> bool:
    """Whether a lesson's two sides are all zeros for every sequence where the rule says they differ."""
    out = time_major(result.output, config.batch_first)  # (T, B, D*H)
    H, T = config.state_size, out.shape[0]
    hv = result.h_n.view(config.layers, config.directions, len(config.sequences), H)
    pairs = []
    for b, n in enumerate(result.batch.lengths):
        if rel.id == "final-output-is-forward-h_n" and config.packed and n < T:
            pairs.append((out[-1, b, :H], hv[-1, 0, b]))
        if rel.id == "true-last-step-is-h_n" and not config.packed and n < T:
            pairs.append((out[n - 1, b, :H], hv[-1, 0, b]))
        if rel.id == "final-output-backward-is-not-h_n" and T > 1:
            pairs.append((out[-1, b, H:], hv[-1, 1, b]))
    return bool(pairs) and all(not lhs.any() and not rhs.any() for lhs, rhs in pairs)


# -----------------------------------------------------------------------------
# For any config: the right relations apply, each does what it is expected to, and its expression says so


@given(configs())
def test_every_relation_behaves_as_expected(config):
    result, _, relations = analyse(config)
    assert [r for r in relations if r.verdict == "contradiction"] == []
    assert set(by_id(relations)) == expected_ids(config, result.batch.lengths, reference=True)
    for rel in relations:
        assert rel.holds == rel.expected
        assert rel.colour == ("green" if rel.holds else "gray")


@given(configs())
def test_relations_without_reference(config):
    result = run(config)
    relations = check_relations(result)
    assert set(by_id(relations)) == expected_ids(config, result.batch.lengths, reference=False)
    assert all(r.holds == r.expected for r in relations)


@given(configs())
def test_expressions_evaluate_to_holds_in_our_own_namespace(config):
    result, reference, relations = analyse(config)
    ns = own_namespace(result, reference)
    for rel in relations:
        assert bool(eval(rel.expression, dict(ns))) is rel.holds, rel.id


@given(configs())
def test_expected_rule_per_catalog(config):
    """The 'expected to hold when' column, computed here from the config and the lengths."""
    result, _, relations = analyse(config)
    lengths = result.batch.lengths
    T = max(lengths)
    full = all(n == T for n in lengths)
    catalog = {
        "output-shape": True,
        "h_n-shape": True,
        "c_n-shape": True,
        "h_n-layout": True,
        "final-output-is-forward-h_n": not config.packed or full,
        "first-output-is-backward-h_n": True,
        "final-output-backward-is-not-h_n": T == 1,
        "true-last-step-is-h_n": config.packed or full,
        "padding-output-is-zero": True,
        "reference-recompute": True,
    }
    for rel in relations:
        if rel.expected != catalog[rel.id]:  # only the ReLU all-zeros coincidence may turn a lesson into a hold
            assert catalog[rel.id] is False and rel.expected and rel.holds
            assert config.cell == "rnn" and config.nonlinearity == "relu"
            assert all_zero_coincidence(rel, config, result)
            assert "coincidence" in rel.why


@given(configs())
def test_comparison_and_max_abs_diff(config):
    relations = analyse(config).relations
    for rel in relations:
        if rel.id in SHAPES:
            assert (rel.comparison, rel.max_abs_diff) == ("exact", None)
        elif rel.id in EXACT_STATE:
            assert rel.comparison == "exact"
            assert isinstance(rel.max_abs_diff, float)
            if rel.holds:
                assert rel.max_abs_diff == 0.0
            else:
                assert rel.max_abs_diff > 0.0
        else:
            assert rel.id == "reference-recompute" and rel.comparison == "allclose"
            assert 0.0 <= rel.max_abs_diff <= 10 * RECOMPUTE_TOLERANCE[config.dtype]


@given(configs())
def test_max_abs_diff_is_the_gap_between_the_sides(config):
    result, reference, relations = analyse(config)
    out = time_major(result.output, config.batch_first)  # (T, B, D*H)
    H = config.state_size
    hv = result.h_n.view(config.layers, config.directions, len(config.sequences), H)
    lengths = result.batch.lengths
    gaps = {
        "final-output-is-forward-h_n": (out[-1, :, :H] - hv[-1, 0]).abs().max(),
        "true-last-step-is-h_n": max((out[n - 1, b, :H] - hv[-1, 0, b]).abs().max() for b, n in enumerate(lengths)),
        "h_n-layout": torch.tensor(0.0),
        "reference-recompute": max(
            (a - b).abs().max()
            for a, b in ((result.output, reference.output), (result.h_n, reference.h_n), (result.c_n, reference.c_n))
            if a is not None
        ),
    }
    if config.bidirectional:
        gaps["first-output-is-backward-h_n"] = (out[0, :, H:] - hv[-1, 1]).abs().max()
        gaps["final-output-backward-is-not-h_n"] = (out[-1, :, H:] - hv[-1, 1]).abs().max()
    relations = by_id(relations)
    for rid, gap in gaps.items():
        assert relations[rid].max_abs_diff == float(gap), rid


@pytest.mark.parametrize("device", DEVICES)
def test_cpu_matches_cuda_applies_only_on_cuda(device):
    config = Config(cell="lstm", bidirectional=True, layers=2, packed=True, device=device)
    result, _, relations = analyse(config)
    rels = by_id(relations)
    assert set(rels) == expected_ids(config, result.batch.lengths, reference=True, cuda=device == "cuda")
    if device == "cuda":
        rel = rels["cpu-matches-cuda"]
        assert rel.holds and rel.expected and rel.comparison == "allclose"
        assert rel.max_abs_diff <= CUDA_TOLERANCE
        cpu = run(config.replace(device="cpu"))
        for name in ("output", "h_n", "c_n"):
            torch.testing.assert_close(getattr(result, name), getattr(cpu, name), atol=CUDA_TOLERANCE, rtol=0)


# -----------------------------------------------------------------------------
# Batch axis: with batch_first the expressions index output[b, t], never output[t, b]


@given(configs(batch_first=False))
def test_batch_first_gives_the_same_verdicts(config):
    tm = analyse(config).relations
    bf = analyse(config.replace(batch_first=True)).relations
    assert [r.id for r in tm] == [r.id for r in bf]
    for a, b in zip(tm, bf, strict=True):
        assert (a.expected, a.holds) == (b.expected, b.holds), a.id
        if a.id == "reference-recompute":
            continue  # a rounding gap, different per layout; its bound is checked elsewhere
        if a.max_abs_diff is None or a.max_abs_diff == 0.0:
            assert a.max_abs_diff == b.max_abs_diff, a.id
        else:  # torch's batch_first kernels may round differently in the last bit
            assert b.max_abs_diff == pytest.approx(a.max_abs_diff, rel=1e-4, abs=1e-5), a.id


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("packed", [False, True])
def test_expressions_look_at_the_right_cells(batch_first, packed):
    """Change the one cell of output a holding relation compares, and its expression must turn False."""
    config = Config(sequences=("abcd", "ab", "abc"), bidirectional=True, batch_first=batch_first, packed=packed)
    result, reference, relations = analyse(config)
    H, T = 5, 4
    targets = {  # relation id -> (t, b, feature) of output that it compares, time-major
        "final-output-is-forward-h_n": (T - 1, 0, 0),
        "first-output-is-backward-h_n": (0, 2, H),
        "true-last-step-is-h_n": (1, 1, H - 1),
        "padding-output-is-zero": (3, 1, 2),
    }
    holding = {r.id for r in relations if r.holds}
    checked = 0
    for rid, (t, b, f) in targets.items():
        if rid not in holding:
            continue
        output = result.output.clone()
        index = (b, t, f) if batch_first else (t, b, f)
        output[index] += 1.0
        ns = own_namespace(result, reference) | {"output": output}
        expression = by_id(relations)[rid].expression
        assert not eval(expression, ns), rid
        checked += 1
    assert checked == (3 if packed else 2)


def test_batch_first_expressions_name_the_batch_axis_first():
    rels = by_id(analyse(Config(batch_first=True, bidirectional=True, packed=True)).relations)
    assert rels["final-output-is-forward-h_n"].expression == "torch.equal(output[:, -1, :5], hv[-1, 0])"
    assert rels["first-output-is-backward-h_n"].expression == "torch.equal(output[:, 0, 5:], hv[-1, 1])"
    assert "output[b, lengths[b] - 1, :5]" in rels["true-last-step-is-h_n"].expression
    assert "output[b, lengths[b]:]" in rels["padding-output-is-zero"].expression
    tm = by_id(analyse(Config(bidirectional=True, packed=True)).relations)
    assert tm["final-output-is-forward-h_n"].expression == "torch.equal(output[-1, :, :5], hv[-1, 0])"
    assert "output[lengths[b] - 1, b, :5]" in tm["true-last-step-is-h_n"].expression
    assert "output[lengths[b]:, b]" in tm["padding-output-is-zero"].expression


# -----------------------------------------------------------------------------
# Verdicts and colours


def relation(expected: bool, holds: bool) -> Relation:
    return Relation("x", "a statement", "True", expected, holds, "exact", 0.0, "why")


@pytest.mark.parametrize(
    ("expected", "holds", "verdict", "colour"),
    [
        (True, True, "holds", "green"),
        (False, False, "lesson", "gray"),
        (True, False, "contradiction", "red"),
        (False, True, "contradiction", "red"),
    ],
)
def test_verdict_and_colour(expected, holds, verdict, colour):
    rel = relation(expected, holds)
    assert (rel.verdict, rel.colour) == (verdict, colour)
    assert VERDICT_COLOURS[verdict] == colour


def test_a_contradiction_from_a_real_relation():
    rel = by_id(analyse(Config()).relations)["final-output-is-forward-h_n"]
    assert rel.verdict == "holds"
    broken = dataclasses.replace(rel, holds=False)
    assert (broken.verdict, broken.colour) == ("contradiction", "red")


def test_as_dict_has_the_json_fields():
    rel = by_id(analyse(Config()).relations)["reference-recompute"]
    d = rel.as_dict()
    assert list(d) == ["id", "statement", "expression", "expected", "holds", "comparison", "max_abs_diff"]
    assert d["id"] == "reference-recompute" and d["comparison"] == "allclose"
    assert d["expression"] == (
        "torch.allclose(output, ref_output, atol=1e-05, rtol=1e-05) and torch.allclose(h_n, ref_h_n, atol=1e-05, "
        "rtol=1e-05)"
    )


def test_reference_tolerance_per_dtype():
    assert RECOMPUTE_TOLERANCE == {"float32": 1e-5, "float64": 1e-10}
    rel = by_id(analyse(Config(cell="lstm", dtype="float64")).relations)["reference-recompute"]
    assert "atol=1e-10" in rel.expression and "c_n, ref_c_n" in rel.expression


def test_a_bad_reference_is_a_contradiction():
    result = run(Config())
    reference = recompute(result)
    off = dataclasses.replace(reference, h_n=reference.h_n + 1e-3)
    rel = by_id(check_relations(result, off))["reference-recompute"]
    assert (rel.expected, rel.holds, rel.verdict) == (True, False, "contradiction")
    assert rel.max_abs_diff == pytest.approx(1e-3, rel=1e-3)


# -----------------------------------------------------------------------------
# The lessons, by hand


def test_blog_default_true_last_step_is_a_lesson():
    """Not packed: 'tiny' (length 4) reads four <pad> steps more, so h_n is not its output at t = 3."""
    result, _, relations = analyse(Config())
    rels = by_id(relations)
    rel = rels["true-last-step-is-h_n"]
    assert (rel.expected, rel.holds, rel.verdict, rel.colour) == (False, False, "lesson", "gray")
    out, h = result.output, result.h_n
    assert torch.equal(out[7, 0], h[0, 0])  # long_str: no padding
    assert not torch.equal(out[3, 1], h[0, 1])  # tiny: h_n is after the padding
    assert not torch.equal(out[5, 2], h[0, 2])  # medium
    assert torch.equal(out[7, 1], h[0, 1]) and torch.equal(out[7, 2], h[0, 2])  # ... i.e. at t = T-1
    gap = max(float((out[n - 1, b] - h[0, b]).abs().max()) for b, n in enumerate((8, 4, 6)))
    assert rel.max_abs_diff == gap > 0
    assert rels["final-output-is-forward-h_n"].verdict == "holds"
    assert "padding-output-is-zero" not in rels


def test_packed_final_output_is_a_lesson():
    """Packed: a short sequence's output at t = T-1 is padding (0), while h_n is its state at its last step."""
    result, _, relations = analyse(Config(packed=True))
    rels = by_id(relations)
    rel = rels["final-output-is-forward-h_n"]
    assert (rel.expected, rel.holds, rel.verdict, rel.colour) == (False, False, "lesson", "gray")
    out, h = result.output, result.h_n
    assert not out[7, 1].any() and not out[7, 2].any()
    assert h[0, 1].abs().min() > 0
    assert torch.equal(out[3, 1], h[0, 1]) and torch.equal(out[5, 2], h[0, 2]) and torch.equal(out[7, 0], h[0, 0])
    assert rel.max_abs_diff == float(h[0, 1:].abs().max())
    assert rels["true-last-step-is-h_n"].verdict == "holds"
    assert rels["padding-output-is-zero"].verdict == "holds"


def test_backward_final_output_is_a_lesson_unless_one_step():
    rel = by_id(analyse(Config(bidirectional=True)).relations)["final-output-backward-is-not-h_n"]
    assert (rel.expected, rel.holds, rel.verdict) == (False, False, "lesson")
    one = by_id(analyse(Config(sequences=("a", "b", "c"), bidirectional=True)).relations)
    rel = one["final-output-backward-is-not-h_n"]
    assert (rel.expected, rel.holds, rel.verdict, rel.max_abs_diff) == (True, True, "holds", 0.0)
    assert "one time step" in rel.why


def test_equal_lengths_make_every_relation_hold():
    for packed, bidirectional in itertools.product((False, True), repeat=2):
        config = Config(sequences=("abc", "cab", "bca"), packed=packed, bidirectional=bidirectional)
        rels = by_id(analyse(config).relations)
        assert "padding-output-is-zero" not in rels
        assert all(r.holds for rid, r in rels.items() if rid != "final-output-backward-is-not-h_n")


# -----------------------------------------------------------------------------
# The ReLU coincidence: both sides all zeros, so a lesson holds, and is reported as expected


@pytest.mark.parametrize(
    ("packed", "rid"),
    [(False, "true-last-step-is-h_n"), (True, "final-output-is-forward-h_n")],
)
def test_relu_all_zero_coincidence(packed, rid):
    found = lessons = 0
    for seed in range(200):
        config = Config(nonlinearity="relu", hidden=1, embedding=2, packed=packed, seed=seed)
        result, _, relations = analyse(config)
        rel = by_id(relations)[rid]
        assert rel.verdict != "contradiction", seed
        if all_zero_coincidence(rel, config, result):
            assert (rel.expected, rel.holds, rel.verdict) == (True, True, "holds"), seed
            assert "coincidence" in rel.why
            assert rel.max_abs_diff == 0.0
            found += 1
        elif not rel.holds:
            assert (rel.expected, rel.verdict) == (False, "lesson"), seed
            lessons += 1
        if found >= 2 and lessons >= 2:
            break
    assert found >= 2 and lessons >= 2, (found, lessons)


def test_relu_partial_zeros_stay_a_lesson():
    """One short sequence all zeros is not enough: the rule needs every differing sequence to be zeros."""
    seen = False
    for seed in range(200):
        config = Config(nonlinearity="relu", hidden=1, embedding=2, packed=True, seed=seed)
        result, _, relations = analyse(config)
        rel = by_id(relations)["final-output-is-forward-h_n"]
        zero = [not result.h_n[0, b].any() for b in (1, 2)]  # the short sequences: tiny, medium
        if zero.count(True) == 1:
            assert (rel.expected, rel.holds, rel.verdict) == (False, False, "lesson"), seed
            seen = True
            break
    assert seen
