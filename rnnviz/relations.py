"""The relation catalog: how output, h_n and c_n relate, as data, checked on real tensors.

Each catalog entry is a function of the config's sizes that returns a Spec (or None where it does not apply):
its kind (guaranteed or lesson, fixed by the config alone), a sentence that is true for this config, and pairs
of PyTorch expressions (lhs, rhs). The shown expression, the max-abs-diff and the per-sequence view all derive
from those pairs, and `holds` is the shown comparison applied to them, so what the user reads is what ran.
"""

from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

import torch

from rnnviz.cells import CELLS

# Allclose tolerances (atol, also used as rtol) of the numerical relations.
RECOMPUTE_TOLERANCE = {"float32": 1e-5, "float64": 1e-10}
CUDA_TOLERANCE = 5e-5

VERDICT_COLOURS = {"holds": "green", "lesson": "gray", "coincidence": "blue", "contradiction": "red"}


@dataclass(frozen=True)
class Relation:
    """One checked statement about output, h_n and c_n."""

    id: str  # names the claim checked; for a lesson, the tempting claim
    kind: str  # "guaranteed" (PyTorch promises it) or "lesson" (a tempting claim it does not promise)
    statement: str  # what is true for this config, in plain words
    expression: str  # the claim in PyTorch, evaluated on this run
    holds: bool
    comparison: str  # "exact" or "allclose"
    max_abs_diff: float | None  # between the two sides; None where the sides are shapes
    why: str  # why a guaranteed relation holds; why a lesson's claim tempts; or why it holds by coincidence
    per_sequence: tuple[bool, ...] | None = None  # whether the claim holds for each sequence b, where it splits so

    @property
    def expected(self) -> bool:
        """Whether it should hold: exactly the guaranteed relations."""
        return self.kind == "guaranteed"

    @property
    def verdict(self) -> str:
        """holds (green), lesson (gray: fails, as usual), coincidence (blue: a lesson holds by accident) or
        contradiction (red: a guaranteed relation fails, a bug)."""
        if self.kind == "guaranteed":
            return "holds" if self.holds else "contradiction"
        return "coincidence" if self.holds else "lesson"

    @property
    def colour(self) -> str:
        """The badge colour of the verdict."""
        return VERDICT_COLOURS[self.verdict]

    def as_dict(self) -> dict:
        """The JSON contract's fields."""
        keys = ("id", "kind", "verdict", "statement", "expression", "expected", "holds", "comparison", "max_abs_diff")
        return {k: getattr(self, k) for k in keys}


# -----------------------------------------------------------------------------
# Specs: what a catalog entry returns


class Sizes(NamedTuple):
    """The config and the sizes every entry needs."""

    config: object
    L: int
    D: int
    B: int
    H: int
    T: int
    lengths: tuple[int, ...]

    @property
    def full(self) -> bool:
        """Every sequence is T long: no padding at all."""
        return all(n == self.T for n in self.lengths)


@dataclass(frozen=True)
class Spec:
    """A relation before it is evaluated: its claim as (lhs, rhs) pairs and its sentences."""

    id: str
    guaranteed: bool
    statement: str
    why: str
    pairs: tuple[tuple[str, str], ...]
    test: str = "equal"  # "equal" (torch.equal), "shape" (==) or "allclose"
    tolerance: float = 0.0  # for allclose: atol and rtol
    batch_axis: int | None = None  # the axis of b in every side, for the per-sequence view
    coincidence: str = "the two sides happen to hold the very same numbers here; PyTorch does not promise it."

    @property
    def expression(self) -> str:
        """The claim in PyTorch, derived from the pairs (several: one per line, in parentheses)."""
        claims = [_compare_code(self, lhs, rhs) for lhs, rhs in self.pairs]
        return claims[0] if len(claims) == 1 else "(" + "\n and ".join(claims) + ")"


def _compare_code(spec: Spec, lhs: str, rhs: str) -> str:
    if spec.test == "shape":
        return f"{lhs} == {rhs}"
    if spec.test == "allclose":
        return f"torch.allclose({lhs}, {rhs}, atol={spec.tolerance}, rtol={spec.tolerance})"
    return f"torch.equal({lhs}, {rhs})"


def _compare(spec: Spec, lhs, rhs) -> bool:
    if spec.test == "shape":
        return lhs == rhs
    if spec.test == "allclose":
        return torch.allclose(lhs, rhs, atol=spec.tolerance, rtol=spec.tolerance)
    return torch.equal(lhs, rhs)


def at(s: Sizes, t, b=":") -> str:
    """output indexed at time t and sequence b, whichever axis comes first (an open bracket: add units)."""
    return f"output[{b}, {t}" if s.config.batch_first else f"output[{t}, {b}"


def forward_end(s: Sizes) -> str:
    """Where output holds the top layer's forward h_n: t = T-1, or each sequence's last real step when packed."""
    if s.config.packed and not s.full:
        return f"torch.stack([{at(s, 'lengths[b] - 1', 'b')}, :{s.H}] for b in range({s.B})])"
    return f"{at(s, '-1')}, :{s.H}]"


# -----------------------------------------------------------------------------
# The catalog: one function per relation, in the order the page shows them

CATALOG = []


def entry(function):
    """Register a catalog entry: a function of Sizes (and the extra runs) returning a Spec, or None."""
    CATALOG.append(function)
    return function


@entry
def output_shape(s: Sizes, extra) -> Spec:
    shape, names = (
        ((s.B, s.T, s.D * s.H), "[B, T, D*H]") if s.config.batch_first else ((s.T, s.B, s.D * s.H), "[T, B, D*H]")
    )
    return Spec(
        "output-shape",
        True,
        f"output holds every time step of the top layer: {names} = {list(shape)}.",
        "One row per time step and sequence; both directions side by side in the last axis.",
        (("tuple(output.shape)", str(shape)),),
        test="shape",
    )


@entry
def h_n_shape(s: Sizes, extra) -> Spec:
    shape = (s.L * s.D, s.B, s.H)
    return Spec(
        "h_n-shape",
        True,
        f"h_n holds the final state of every layer and direction: [L*D, B, H] = {list(shape)}, batch_first or not.",
        "h_n has no time axis, so batch_first never moves it.",
        (("tuple(h_n.shape)", str(shape)),),
        test="shape",
    )


@entry
def c_n_shape(s: Sizes, extra) -> Spec | None:
    if not CELLS[s.config.cell].has_cell_state:
        return None
    shape = (s.L * s.D, s.B, s.config.hidden)
    return Spec(
        "c_n-shape",
        True,
        f"c_n, the LSTM's final cell state, is [L*D, B, hidden] = {list(shape)}.",
        "The cell state is never projected, so its last axis is hidden_size even when proj_size is set.",
        (("tuple(c_n.shape)", str(shape)),),
        test="shape",
    )


@entry
def h_n_layout(s: Sizes, extra) -> Spec:
    return Spec(
        "h_n-layout",
        True,
        f"h_n[l*D + d] is layer l, direction d: the view hv = h_n.view{(s.L, s.D, s.B, s.H)} only splits the first "
        "axis.",
        "Layers are outermost, directions inside them: h_n[0] is layer 0 forward, the last row the top layer's last "
        "direction.",
        ((f"torch.stack([hv[l, d] for l in range({s.L}) for d in range({s.D})])", "h_n"),),
        batch_axis=1,
    )


@entry
def final_output_is_forward_h_n(s: Sizes, extra) -> Spec:
    guaranteed = not s.config.packed or s.full
    return Spec(
        "final-output-is-forward-h_n",
        guaranteed,
        "The forward half of output at the last time step is the top layer's forward h_n (hv[-1, 0])."
        if guaranteed
        else "Packed: a sequence shorter than T stops at its own length, so output at t = T-1 is padding (0) for it; "
        "its forward h_n is its state at t = len_b - 1.",
        "The forward direction ends at the last time step, so its last output is its final state."
        if guaranteed
        else "Every sequence ends at t = T-1 only when none is padded.",
        ((f"{at(s, '-1')}, :{s.H}]", "hv[-1, 0]"),),
        batch_axis=0,
        coincidence="a short sequence's forward h_n is exactly 0 here, the same as the padding at t = T-1.",
    )


@entry
def true_last_step_is_h_n(s: Sizes, extra) -> Spec:
    guaranteed = s.config.packed or s.full
    return Spec(
        "true-last-step-is-h_n",
        guaranteed,
        "At each sequence's true last step (t = len_b - 1) the forward half of output is its forward h_n."
        if guaranteed
        else "Not packed: the layer also reads the <pad> steps, so a short sequence's forward h_n is its state after "
        "them, at t = T-1, not at its last real character (t = len_b - 1).",
        "Each sequence's forward direction stops at its last real character, where h_n is taken."
        if guaranteed
        else "Packing (pack_padded_sequence) is what makes each sequence stop at its own length.",
        ((f"torch.stack([{at(s, 'lengths[b] - 1', 'b')}, :{s.H}] for b in range({s.B})])", "hv[-1, 0]"),),
        batch_axis=0,
        coincidence="the <pad> steps left the state exactly unchanged (a gate or tanh saturated to an exact value in "
        f"{s.config.dtype}), so h_n equals the state at the last real character.",
    )


@entry
def first_output_is_backward_h_n(s: Sizes, extra) -> Spec | None:
    if s.D == 1:
        return None
    return Spec(
        "first-output-is-backward-h_n",
        True,
        f"The backward half of output at t = 0 is the top layer's backward h_n (hv[-1, 1] = h_n[{s.L * 2 - 1}]).",
        "The backward direction reads from the end to the start, so it finishes at t = 0.",
        ((f"{at(s, '0')}, {s.H}:]", "hv[-1, 1]"),),
        batch_axis=0,
    )


@entry
def final_output_backward_is_h_n(s: Sizes, extra) -> Spec | None:
    if s.D == 1:
        return None
    guaranteed = s.T == 1
    return Spec(
        "final-output-backward-is-h_n",
        guaranteed,
        "With one time step, the backward half of output at t = T-1 = 0 is the top layer's backward h_n."
        if guaranteed
        else f"The backward direction *starts* at t = T-1: output there is its first state. Its h_n (hv[-1, 1] = "
        f"h_n[{s.L * 2 - 1}]) is its state at t = 0.",
        "With one time step, the backward direction's first step is also its last."
        if guaranteed
        else "In output the last time step reads like the end, but only for the forward direction.",
        ((f"{at(s, '-1')}, {s.H}:]", "hv[-1, 1]"),),
        batch_axis=0,
        coincidence="the backward state did not change between t = T-1 and t = 0 (a gate or tanh saturated to an "
        f"exact value in {s.config.dtype}), so its first state equals its last.",
    )


@entry
def lower_layer_h_n_is_final_output(s: Sizes, extra) -> Spec | None:
    if s.L == 1:
        return None
    top = (s.L - 1) * s.D
    return Spec(
        "lower-layer-h_n-is-final-output",
        False,
        f"output holds the top layer only. h_n[0] is layer 0's final state, so it is not where output holds h_n: "
        f"that is the top layer's forward h_n, hv[-1, 0] = h_n[{top}].",
        "h_n[0] comes first in h_n, so it is easy to take it for the last output; it is layer 0's, which output never "
        "shows.",
        ((forward_end(s), "hv[0, 0]"),),
        batch_axis=0,
        coincidence="layer 0's and the top layer's final forward states happen to be the same numbers here.",
    )


@entry
def padding_output_is_zero(s: Sizes, extra) -> Spec | None:
    if not s.config.packed or s.full:
        return None
    return Spec(
        "padding-output-is-zero",
        True,
        "Packed: output past each sequence's length is padding, exactly 0.",
        "pad_packed_sequence fills the steps a sequence never had with zeros.",
        (("output[padding]", "torch.zeros_like(output[padding])"),),
    )


@entry
def reference_recompute(s: Sizes, extra) -> Spec | None:
    if "ref" not in extra:
        return None
    return _allclose_spec(
        s,
        "reference-recompute",
        "The cell equations, computed by hand from the weights, give torch's {}.",
        "Same equations, same weights: only the order of floating-point rounding differs.",
        "ref",
        RECOMPUTE_TOLERANCE[s.config.dtype],
    )


@entry
def cpu_matches_cuda(s: Sizes, extra) -> Spec | None:
    if "cpu" not in extra:
        return None
    return _allclose_spec(
        s,
        "cpu-matches-cuda",
        "The same weights on the CPU give the same {} as on CUDA.",
        "The same model on another device: the kernels differ, so the rounding may, a little.",
        "cpu",
        CUDA_TOLERANCE,
    )


def _allclose_spec(s: Sizes, rid: str, statement: str, why: str, prefix: str, tolerance: float) -> Spec:
    names = ("output", "h_n", "c_n") if CELLS[s.config.cell].has_cell_state else ("output", "h_n")
    return Spec(
        rid,
        True,
        statement.format(", ".join(names)),
        why,
        tuple((n, f"{prefix}_{n}") for n in names),
        test="allclose",
        tolerance=tolerance,
    )


# -----------------------------------------------------------------------------
# Evaluation


def sizes(result) -> Sizes:
    """The sizes of a run, as the catalog entries use them."""
    c = result.config
    return Sizes(
        c, c.layers, c.directions, len(c.sequences), c.state_size, result.batch.max_length, result.batch.lengths
    )


def namespace(result, extra: dict) -> dict:
    """The names the expressions use, bound to this run's tensors (extra: prefix -> another run's tensors)."""
    s = sizes(result)
    steps = torch.arange(s.T)[:, None] >= torch.tensor(s.lengths)[None, :]  # (T, B): past each sequence's length
    ns = {
        "torch": torch,
        "output": result.output,
        "h_n": result.h_n,
        "c_n": result.c_n,
        "hv": result.h_n.view(s.L, s.D, s.B, s.H),  # (L, D, B, H)
        "lengths": list(s.lengths),
        "padding": steps.t() if s.config.batch_first else steps,  # like output's first two axes
    }
    for prefix, other in extra.items():
        ns.update({f"{prefix}_output": other.output, f"{prefix}_h_n": other.h_n, f"{prefix}_c_n": other.c_n})
    return ns


def specs(result, extra: dict) -> list[Spec]:
    """The specs of every catalog entry that applies to this run."""
    s = sizes(result)
    return [spec for function in CATALOG if (spec := function(s, extra)) is not None]


def check_relations(result, reference=None, cpu_result=None) -> list[Relation]:
    """Every catalog relation that applies to the run; reference and cpu_result add the numerical ones."""
    extra = {prefix: run for prefix, run in (("ref", reference), ("cpu", cpu_result)) if run is not None}
    ns = namespace(result, extra)
    return [evaluate(spec, ns) for spec in specs(result, extra)]


@lru_cache(maxsize=4096)
def _compiled(expression: str):
    return compile(expression, "<relation>", "eval")


def _eval(expression: str, ns: dict):
    """Evaluate one of the catalog's expressions (built above, never user text), compiled once."""
    return eval(_compiled(expression), ns)


def evaluate(spec: Spec, ns: dict) -> Relation:
    """Evaluate a spec's sides once: the verdict, the max abs difference, the per-sequence view."""
    sides = [(_eval(lhs, ns), _eval(rhs, ns)) for lhs, rhs in spec.pairs]
    holds = all(_compare(spec, lhs, rhs) for lhs, rhs in sides)
    why = spec.why
    if holds and not spec.guaranteed:
        zeros = all(not (lhs.any() or rhs.any()) for lhs, rhs in sides)
        reason = "both sides are all zeros (a ReLU clamped every unit to 0)." if zeros else spec.coincidence
        why = "It holds here by coincidence: " + reason
    return Relation(
        id=spec.id,
        kind="guaranteed" if spec.guaranteed else "lesson",
        statement=spec.statement,
        expression=spec.expression,
        holds=holds,
        comparison="allclose" if spec.test == "allclose" else "exact",
        max_abs_diff=None if spec.test == "shape" else max(_max_abs_diff(lhs, rhs) for lhs, rhs in sides),
        why=why,
        per_sequence=None if spec.batch_axis is None else _per_sequence(spec, sides),
    )


def _max_abs_diff(lhs: torch.Tensor, rhs: torch.Tensor) -> float:
    delta = (lhs - rhs).abs()
    return float(delta.max()) if delta.numel() else 0.0


def _per_sequence(spec: Spec, sides) -> tuple[bool, ...]:
    B = sides[0][0].shape[spec.batch_axis]
    return tuple(
        all(_compare(spec, lhs.select(spec.batch_axis, b), rhs.select(spec.batch_axis, b)) for lhs, rhs in sides)
        for b in range(B)
    )
