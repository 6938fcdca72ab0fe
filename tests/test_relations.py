"""The relation catalog: each relation has its own test below, which recomputes from the tensors here (never from
rnnviz's expressions) whether it applies, its kind by DESIGN.md's table, and whether its claim holds; then
properties that every relation shares: kinds fixed by the config alone, the shown expression is what ran, no red
for any corner of the configuration space, and red for a bug made on purpose."""

import dataclasses

import pytest
import torch
from conftest import DEVICES, configs, sequences, time_major
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnviz import Config, analyse, recompute, run
from rnnviz.relations import CATALOG, CUDA_TOLERANCE, RECOMPUTE_TOLERANCE, VERDICT_COLOURS, Relation, check_relations


def by_id(relations) -> dict[str, Relation]:
    ids = [r.id for r in relations]
    assert len(ids) == len(set(ids)), ids
    return {r.id: r for r in relations}


class Run:
    """A run seen time-major, with the sizes the tests need, computed here."""

    def __init__(self, config: Config):
        self.config = config
        self.result, self.reference, relations = analyse(config)
        self.relations = by_id(relations)
        self.out = time_major(self.result.output, config.batch_first)  # (T, B, D*H)
        self.L, self.D, self.B = config.layers, 2 if config.bidirectional else 1, len(config.sequences)
        self.H = config.proj or config.hidden
        self.lengths = [len(s) for s in config.sequences]
        self.T = max(self.lengths)
        self.short = any(n < self.T for n in self.lengths)
        self.hv = self.result.h_n.view(self.L, self.D, self.B, self.H)  # (L, D, B, H)


def assert_relation(run_: Run, rid: str, applies: bool, guaranteed: bool = True, holds: bool = True):
    """The relation applies or not; if it does, its kind, and whether its claim holds, as computed by the test."""
    assert (rid in run_.relations) == applies, rid
    if applies:
        rel = run_.relations[rid]
        assert rel.kind == ("guaranteed" if guaranteed else "lesson"), rid
        assert rel.holds == holds, rid
        assert rel.expected == guaranteed


def all_equal(pairs) -> bool:
    return all(torch.equal(a, b) for a, b in pairs)


# -----------------------------------------------------------------------------
# One test per catalog entry (test_<entry function's name>); the next test checks that none is missing


def test_every_catalog_entry_has_its_own_test():
    missing = [f.__name__ for f in CATALOG if f"test_{f.__name__}" not in globals()]
    assert missing == []


@given(configs())
def test_output_shape(config):
    r = Run(config)
    lead = (r.B, r.T) if config.batch_first else (r.T, r.B)
    assert_relation(r, "output-shape", True, holds=tuple(r.result.output.shape) == (*lead, r.D * r.H))


@given(configs())
def test_h_n_shape(config):
    r = Run(config)
    assert_relation(r, "h_n-shape", True, holds=tuple(r.result.h_n.shape) == (r.L * r.D, r.B, r.H))


@given(configs())
def test_c_n_shape(config):
    r = Run(config)
    lstm = config.cell == "lstm"
    assert_relation(r, "c_n-shape", lstm, holds=lstm and tuple(r.result.c_n.shape) == (r.L * r.D, r.B, config.hidden))


@given(configs())
def test_h_n_layout(config):
    r = Run(config)
    pairs = [(r.hv[layer, d], r.result.h_n[layer * r.D + d]) for layer in range(r.L) for d in range(r.D)]
    assert_relation(r, "h_n-layout", True, holds=all_equal(pairs))


@given(configs())
def test_final_output_is_forward_h_n(config):
    r = Run(config)
    guaranteed = not config.packed or not r.short
    assert_relation(r, "final-output-is-forward-h_n", True, guaranteed, torch.equal(r.out[-1, :, : r.H], r.hv[-1, 0]))


@given(configs())
def test_true_last_step_is_h_n(config):
    r = Run(config)
    pairs = [(r.out[n - 1, b, : r.H], r.hv[-1, 0, b]) for b, n in enumerate(r.lengths)]
    assert_relation(r, "true-last-step-is-h_n", True, config.packed or not r.short, all_equal(pairs))


@given(configs())
def test_first_output_is_backward_h_n(config):
    r = Run(config)
    bi = config.bidirectional
    assert_relation(r, "first-output-is-backward-h_n", bi, holds=bi and torch.equal(r.out[0, :, r.H :], r.hv[-1, 1]))


@given(configs())
def test_final_output_backward_is_h_n(config):
    r = Run(config)
    bi = config.bidirectional
    holds = bi and torch.equal(r.out[-1, :, r.H :], r.hv[-1, 1])
    assert_relation(r, "final-output-backward-is-h_n", bi, r.T == 1, holds)


@given(configs())
def test_lower_layer_h_n_is_final_output(config):
    r = Run(config)
    ends = [(n if config.packed else r.T) - 1 for n in r.lengths]
    pairs = [(r.out[t, b, : r.H], r.hv[0, 0, b]) for b, t in enumerate(ends)]
    holds = all_equal(pairs)
    assert_relation(r, "lower-layer-h_n-is-final-output", r.L >= 2, False, holds)


@given(configs())
def test_padding_output_is_zero(config):
    r = Run(config)
    applies = config.packed and r.short
    holds = all(not r.out[n:, b].any() for b, n in enumerate(r.lengths))
    assert_relation(r, "padding-output-is-zero", applies, holds=holds)


@given(configs())
def test_reference_recompute(config):
    r = Run(config)
    tol = {"float32": 1e-5, "float64": 1e-10}[config.dtype]
    names = ("output", "h_n", "c_n") if config.cell == "lstm" else ("output", "h_n")
    holds = all(torch.allclose(getattr(r.result, n), getattr(r.reference, n), atol=tol, rtol=tol) for n in names)
    assert_relation(r, "reference-recompute", True, holds=holds)
    assert holds  # and it does hold: the equations are right
    gap = max(float((getattr(r.result, n) - getattr(r.reference, n)).abs().max()) for n in names)
    assert r.relations["reference-recompute"].max_abs_diff == gap


@pytest.mark.parametrize("device", DEVICES)
def test_cpu_matches_cuda(device):
    config = Config(cell="lstm", bidirectional=True, layers=2, packed=True, device=device)
    r = Run(config)
    if device == "cpu":
        assert_relation(r, "cpu-matches-cuda", False)
        return
    cpu = run(config.replace(device="cpu"))
    holds = all(
        torch.allclose(getattr(r.result, n), getattr(cpu, n), atol=CUDA_TOLERANCE, rtol=CUDA_TOLERANCE)
        for n in ("output", "h_n", "c_n")
    )
    assert_relation(r, "cpu-matches-cuda", True, holds=holds)
    assert holds


# -----------------------------------------------------------------------------
# Every relation: kinds from the config alone, the shown expression is what ran, the derived fields


@given(configs(), st.integers(0, 2**32 - 1))
def test_kinds_depend_on_the_config_alone(config, seed):
    """Another seed gives other numbers, never other kinds (nor other relations)."""
    kinds = {r.id: r.kind for r in analyse(config).relations}
    assert kinds == {r.id: r.kind for r in analyse(config.replace(seed=seed)).relations}


@given(configs())
def test_verdict_follows_kind_and_holds(config):
    for rel in analyse(config).relations:
        expected_verdict = {
            ("guaranteed", True): "holds",
            ("guaranteed", False): "contradiction",
            ("lesson", False): "lesson",
            ("lesson", True): "coincidence",
        }[rel.kind, rel.holds]
        assert rel.verdict == expected_verdict
        assert rel.colour == VERDICT_COLOURS[rel.verdict]
        assert ("coincidence" in rel.why) == (rel.verdict == "coincidence")


def own_namespace(result, reference) -> dict:
    """The expressions' names, bound here without rnnviz.relations.namespace."""
    c = result.config
    L, D, B, H = c.layers, 2 if c.bidirectional else 1, len(c.sequences), c.proj or c.hidden
    lengths = [len(s) for s in c.sequences]
    padding = torch.tensor([[t >= n for n in lengths] for t in range(max(lengths))])  # (T, B)
    return {
        "torch": torch,
        "output": result.output,
        "h_n": result.h_n,
        "c_n": result.c_n,
        "hv": result.h_n.view(L, D, B, H),
        "lengths": lengths,
        "padding": padding.t() if c.batch_first else padding,
        "ref_output": reference.output,
        "ref_h_n": reference.h_n,
        "ref_c_n": reference.c_n,
    }


@given(configs())
def test_shown_expression_evaluates_to_holds(config):
    result, reference, relations = analyse(config)
    ns = own_namespace(result, reference)
    for rel in relations:
        assert bool(eval(rel.expression, dict(ns))) is rel.holds, rel.id


@given(configs())
def test_comparison_max_abs_diff_and_per_sequence(config):
    for rel in analyse(config).relations:
        if rel.id.endswith("-shape"):
            assert (rel.comparison, rel.max_abs_diff, rel.per_sequence) == ("exact", None, None)
        elif rel.comparison == "exact":
            assert rel.holds == (rel.max_abs_diff == 0.0), rel.id
        else:
            assert rel.max_abs_diff <= 10 * RECOMPUTE_TOLERANCE[config.dtype]
        if rel.per_sequence is not None:
            assert len(rel.per_sequence) == len(config.sequences)
            assert all(rel.per_sequence) == rel.holds, rel.id


@given(configs(batch_first=False))
def test_batch_first_gives_the_same_verdicts(config):
    tm = analyse(config).relations
    bf = analyse(config.replace(batch_first=True)).relations
    assert [(r.id, r.kind, r.holds) for r in tm] == [(r.id, r.kind, r.holds) for r in bf]


def test_multi_line_expressions_are_parenthesised():
    rel = by_id(analyse(Config(cell="lstm", dtype="float64")).relations)["reference-recompute"]
    assert rel.expression == (
        "(torch.allclose(output, ref_output, atol=1e-10, rtol=1e-10)\n"
        " and torch.allclose(h_n, ref_h_n, atol=1e-10, rtol=1e-10)\n"
        " and torch.allclose(c_n, ref_c_n, atol=1e-10, rtol=1e-10))"
    )


def test_batch_first_expressions_name_the_batch_axis_first():
    rels = by_id(analyse(Config(batch_first=True, bidirectional=True, packed=True)).relations)
    assert rels["final-output-is-forward-h_n"].expression == "torch.equal(output[:, -1, :5], hv[-1, 0])"
    assert rels["first-output-is-backward-h_n"].expression == "torch.equal(output[:, 0, 5:], hv[-1, 1])"
    assert "output[b, lengths[b] - 1, :5]" in rels["true-last-step-is-h_n"].expression
    tm = by_id(analyse(Config(bidirectional=True, packed=True)).relations)
    assert tm["final-output-is-forward-h_n"].expression == "torch.equal(output[-1, :, :5], hv[-1, 0])"
    assert "output[lengths[b] - 1, b, :5]" in tm["true-last-step-is-h_n"].expression


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("packed", [False, True])
def test_expressions_look_at_the_right_cells(batch_first, packed):
    """Change the one cell of output a holding relation compares, and it must turn into a contradiction."""
    config = Config(sequences=("abcd", "ab", "abc"), bidirectional=True, batch_first=batch_first, packed=packed)
    result = run(config)
    H, T = 5, 4
    targets = {  # relation id -> (t, b, feature) of output that it compares, time-major
        "final-output-is-forward-h_n": (T - 1, 0, 0),
        "first-output-is-backward-h_n": (0, 2, H),
        "true-last-step-is-h_n": (1, 1, H - 1),
        "padding-output-is-zero": (3, 1, 2),
    }
    holding = {r.id for r in check_relations(result) if r.verdict == "holds"}
    checked = 0
    for rid, (t, b, f) in targets.items():
        if rid not in holding:
            continue
        output = result.output.clone()
        output[(b, t, f) if batch_first else (t, b, f)] += 1.0
        broken = by_id(check_relations(dataclasses.replace(result, output=output)))[rid]
        assert (broken.verdict, broken.colour) == ("contradiction", "red"), rid
        checked += 1
    assert checked == (3 if packed else 2)


def test_a_bad_reference_is_a_contradiction():
    result = run(Config())
    reference = recompute(result)
    off = dataclasses.replace(reference, h_n=reference.h_n + 1e-3)
    rel = by_id(check_relations(result, off))["reference-recompute"]
    assert (rel.expected, rel.holds, rel.verdict) == (True, False, "contradiction")
    assert rel.max_abs_diff == pytest.approx(1e-3, rel=1e-3)


def test_a_guaranteed_relation_whose_sides_are_both_zero_can_still_be_red():
    """No verdict is rewritten after looking at the tensors: zeros that should differ from h_n are a bug."""
    result = run(Config(nonlinearity="relu", hidden=1, embedding=2, seed=3))
    zeros = dataclasses.replace(result, output=torch.zeros_like(result.output), h_n=torch.ones_like(result.h_n))
    rel = by_id(check_relations(zeros))["final-output-is-forward-h_n"]
    assert rel.verdict == "contradiction"


def test_as_dict_has_the_json_fields():
    rel = by_id(analyse(Config()).relations)["true-last-step-is-h_n"]
    d = rel.as_dict()
    assert list(d) == [
        "id", "kind", "verdict", "statement", "expression", "expected", "holds", "comparison", "max_abs_diff"
    ]  # fmt: skip
    assert (d["kind"], d["verdict"], d["expected"], d["holds"]) == ("lesson", "lesson", False, False)


# -----------------------------------------------------------------------------
# No red anywhere in the corners: saturating sizes, many seeds, every cell, short and blog batches

CORNER_BATCHES = st.one_of(st.just(("long_str", "tiny", "medium")), st.just(("ab", "a")), sequences(3, 4))


@settings(max_examples=300)
@given(
    st.builds(
        Config,
        sequences=CORNER_BATCHES,
        cell=st.sampled_from(("rnn", "lstm", "gru")),
        hidden=st.integers(1, 2),
        embedding=st.sampled_from((1, 2, 64, 256)),
        layers=st.integers(1, 2),
        bidirectional=st.booleans(),
        packed=st.booleans(),
        seed=st.integers(0, 2**32 - 1),
        device=st.just("cpu"),
    )
)
def test_no_contradiction_in_the_corners(config):
    assert [r.id for r in analyse(config).relations if r.verdict == "contradiction"] == []


@pytest.mark.parametrize(("cell", "seed"), [("gru", 20), ("rnn", None)])
def test_saturation_makes_a_coincidence_not_a_contradiction(cell, seed):
    """hidden 1, embedding 256: a gate (GRU) or tanh (RNN) saturates to an exact value on <pad>, so h_n equals the
    state at the last real character by accident, about 1 run in 40."""
    seeds = [seed] if seed is not None else range(400)
    for s in seeds:
        rel = by_id(analyse(Config(cell=cell, hidden=1, embedding=256, seed=s)).relations)["true-last-step-is-h_n"]
        assert rel.verdict in ("lesson", "coincidence")
        if rel.verdict == "coincidence":
            assert (rel.kind, rel.holds, rel.colour, rel.max_abs_diff) == ("lesson", True, "blue", 0.0)
            assert rel.why.startswith("It holds here by coincidence: the <pad> steps left the state")
            return
    pytest.fail("no saturating seed found")


def test_a_dead_relu_coincidence_says_so():
    for seed in range(200):
        rels = by_id(analyse(Config(nonlinearity="relu", hidden=1, embedding=2, packed=True, seed=seed)).relations)
        rel = rels["final-output-is-forward-h_n"]
        if rel.verdict == "coincidence":
            assert "all zeros" in rel.why
            return
    pytest.fail("no all-zero ReLU seed found")


# -----------------------------------------------------------------------------
# The lessons' sentences say what is true


def test_lesson_sentences_say_what_happens_not_the_claim():
    rels = by_id(analyse(Config(bidirectional=True, layers=2)).relations)
    assert "after them, at t = T-1, not at its last real character" in rels["true-last-step-is-h_n"].statement
    assert "*starts* at t = T-1" in rels["final-output-backward-is-h_n"].statement
    assert "h_n[3]" in rels["final-output-backward-is-h_n"].statement
    assert "output holds the top layer only" in rels["lower-layer-h_n-is-final-output"].statement
    one_step = by_id(analyse(Config(sequences=("a", "b"), bidirectional=True)).relations)
    assert one_step["final-output-backward-is-h_n"].kind == "guaranteed"
    assert one_step["final-output-backward-is-h_n"].verdict == "holds"


def test_reference_tolerance_per_dtype():
    assert RECOMPUTE_TOLERANCE == {"float32": 1e-5, "float64": 1e-10}
