"""The relation catalog: how output, h_n and c_n relate, checked on real tensors.

Each relation carries the exact PyTorch expression for this config, and its
`holds` is that very expression evaluated, so what the user reads is what ran.
"""

from dataclasses import dataclass
from functools import lru_cache

import torch

# Allclose tolerances (atol, also used as rtol) of the two numerical relations.
RECOMPUTE_TOLERANCE = {"float32": 1e-5, "float64": 1e-10}
CUDA_TOLERANCE = 5e-5

VERDICT_COLOURS = {"holds": "green", "lesson": "gray", "contradiction": "red"}


@dataclass(frozen=True)
class Relation:
    """One checked statement about output, h_n and c_n."""

    id: str
    statement: str  # in plain words, with this config's sizes
    expression: str  # PyTorch, evaluates to a bool given output, h_n, c_n, hv, lengths
    expected: bool  # whether it should hold for this config
    holds: bool
    comparison: str  # "exact" or "allclose"
    max_abs_diff: float | None  # between the two sides; None where the sides are shapes
    why: str  # why it is expected to hold, or not: the lesson

    @property
    def verdict(self) -> str:
        """holds (green), lesson (gray: does not hold, as expected) or contradiction (red)."""
        if self.holds != self.expected:
            return "contradiction"
        return "holds" if self.holds else "lesson"

    @property
    def colour(self) -> str:
        """The badge colour of the verdict."""
        return VERDICT_COLOURS[self.verdict]

    def as_dict(self) -> dict:
        """The JSON contract's fields."""
        keys = ("id", "statement", "expression", "expected", "holds", "comparison", "max_abs_diff")
        return {k: getattr(self, k) for k in keys}


def namespace(result, reference=None, cpu_result=None) -> dict:
    """The names the expressions use, bound to this run's tensors."""
    c = result.config
    ns = {
        "torch": torch,
        "output": result.output,
        "h_n": result.h_n,
        "c_n": result.c_n,
        "hv": result.h_n.view(c.layers, c.directions, len(c.sequences), c.state_size),  # (L, D, B, H)
        "lengths": list(result.batch.lengths),
    }
    for prefix, other in (("ref", reference), ("cpu", cpu_result)):
        if other is not None:
            ns.update({f"{prefix}_output": other.output, f"{prefix}_h_n": other.h_n, f"{prefix}_c_n": other.c_n})
    return ns


def check_relations(result, reference=None, cpu_result=None) -> list[Relation]:
    """Every catalog relation that applies to the run; reference and cpu_result add the numerical ones."""
    c = result.config
    ns = namespace(result, reference, cpu_result)
    specs = _shape_specs(result) + _state_specs(result)
    if reference is not None:
        specs.append(_allclose_spec("reference-recompute", "ref", RECOMPUTE_TOLERANCE[c.dtype], c.cell == "lstm"))
    if cpu_result is not None:
        specs.append(_allclose_spec("cpu-matches-cuda", "cpu", CUDA_TOLERANCE, c.cell == "lstm"))
    return [_evaluate(spec, ns) for spec in specs]


# -----------------------------------------------------------------------------
# Specs: id, statement, expression, expected rule, comparison, the two sides


@dataclass(frozen=True)
class _Spec:
    id: str
    statement: str
    expression: str
    expected: bool
    why: str
    comparison: str = "exact"
    sides: tuple = ()  # (lhs, rhs) expression pairs whose max |lhs - rhs| is reported
    per_sequence: tuple = ()  # (lhs_b, rhs_b, equal by rule) for each b: a lesson can hold by coincidence


def _dims(result):
    c = result.config
    return c.layers, c.directions, len(c.sequences), c.state_size, result.batch.max_length


def _at(config, t, b=":") -> str:
    """Index output at time t and sequence b, whichever axis comes first."""
    return f"output[{b}, {t}" if config.batch_first else f"output[{t}, {b}"


def _shape_specs(result) -> list[_Spec]:
    c = result.config
    L, D, B, H, T = _dims(result)
    out_shape = (B, T, D * H) if c.batch_first else (T, B, D * H)
    out_names = "[B, T, D*H]" if c.batch_first else "[T, B, D*H]"
    specs = [
        _Spec(
            "output-shape",
            f"output holds every time step of the top layer: {out_names} = {list(out_shape)}.",
            f"tuple(output.shape) == {out_shape}",
            True,
            "output has one row per time step and sequence; both directions sit side by side in the last axis.",
        ),
        _Spec(
            "h_n-shape",
            f"h_n holds the final state of every layer and direction: [L*D, B, H] = {[L * D, B, H]}, "
            "batch_first or not.",
            f"tuple(h_n.shape) == {(L * D, B, H)}",
            True,
            "h_n has no time axis, so batch_first never moves it.",
        ),
        _Spec(
            "h_n-layout",
            f"h_n[l*D + d] is layer l, direction d: the view hv = h_n.view{(L, D, B, H)} only splits the first axis.",
            f"all(torch.equal(hv[l, d], h_n[l * {D} + d]) for l in range({L}) for d in range({D}))",
            True,
            "Layers are outermost, directions inside them: index 0 is layer 0 forward, the last is the top layer's "
            "last direction.",
            sides=((f"torch.stack([hv[l, d] for l in range({L}) for d in range({D})])", "h_n"),),
        ),
    ]
    if c.cell == "lstm":
        specs.append(
            _Spec(
                "c_n-shape",
                f"c_n, the LSTM's final cell state, is [L*D, B, hidden] = {[L * D, B, c.hidden]}.",
                f"tuple(c_n.shape) == {(L * D, B, c.hidden)}",
                True,
                "The cell state is never projected, so its last axis is hidden_size even when proj_size is set.",
            )
        )
    return specs


def _state_specs(result) -> list[_Spec]:
    c = result.config
    _, D, B, H, T = _dims(result)
    lengths = result.batch.lengths
    full = all(n == T for n in lengths)
    last, first = _at(c, "-1"), _at(c, "0")
    specs = [
        _Spec(
            "final-output-is-forward-h_n",
            "The forward half of output at the last time step is the top layer's forward h_n.",
            f"torch.equal({last}, :{H}], hv[-1, 0])",
            not c.packed or full,
            "The forward direction ends at the last time step, so its last output is its final state."
            if not c.packed or full
            else "Packed: a sequence shorter than T stops at its own length, so its output at t = T-1 is padding "
            "(0), while h_n holds its state at its true last step.",
            sides=((f"{last}, :{H}]", "hv[-1, 0]"),),
            per_sequence=tuple(
                (f"{_at(c, '-1', b)}, :{H}]", f"hv[-1, 0, {b}]", not c.packed or n == T) for b, n in enumerate(lengths)
            ),
        ),
        _Spec(
            "true-last-step-is-h_n",
            "At each sequence's true last step (its length - 1), the forward half of output is its forward h_n.",
            f"all(torch.equal({_at(c, 'lengths[b] - 1', 'b')}, :{H}], hv[-1, 0, b]) for b in range({B}))",
            c.packed or full,
            "Each sequence's forward direction stops at its real last character, where h_n is taken."
            if c.packed or full
            else "Not packed: the layer also reads the <pad> steps, so h_n is the state after the padding, "
            "not after the real characters.",
            sides=((f"torch.stack([{_at(c, 'lengths[b] - 1', 'b')}, :{H}] for b in range({B})])", "hv[-1, 0]"),),
            per_sequence=tuple(
                (f"{_at(c, n - 1, b)}, :{H}]", f"hv[-1, 0, {b}]", c.packed or n == T) for b, n in enumerate(lengths)
            ),
        ),
    ]
    if D == 2:
        specs += [
            _Spec(
                "first-output-is-backward-h_n",
                "The backward half of output at the first time step is the top layer's backward h_n.",
                f"torch.equal({first}, {H}:], hv[-1, 1])",
                True,
                "The backward direction reads from the end to the start, so it finishes at t = 0.",
                sides=((f"{first}, {H}:]", "hv[-1, 1]"),),
            ),
            _Spec(
                "final-output-backward-is-not-h_n",
                "The backward half of output at the last time step is the top layer's backward h_n.",
                f"torch.equal({last}, {H}:], hv[-1, 1])",
                T == 1,
                "With one time step, the backward direction's first step is also its last."
                if T == 1
                else "The backward direction starts at the last time step: its output there is its first state, "
                "not its final one.",
                sides=((f"{last}, {H}:]", "hv[-1, 1]"),),
                per_sequence=tuple((f"{_at(c, '-1', b)}, {H}:]", f"hv[-1, 1, {b}]", T == 1) for b in range(B)),
            ),
        ]
    if c.packed and not full:
        past = "output[b, lengths[b]:]" if c.batch_first else "output[lengths[b]:, b]"
        specs.append(
            _Spec(
                "padding-output-is-zero",
                "Packed: output past each sequence's length is padding, exactly 0.",
                f"all(bool(({past} == 0).all()) for b in range({B}))",
                True,
                "pad_packed_sequence fills the steps a sequence never had with zeros.",
                sides=((f"torch.cat([{past}.flatten() for b in range({B})])", "0"),),
            )
        )
    return specs


def _allclose_spec(rid: str, prefix: str, tol: float, lstm: bool) -> _Spec:
    names = ("output", "h_n", "c_n") if lstm else ("output", "h_n")
    listed = ", ".join(names)
    if rid == "reference-recompute":
        statement = f"The cell equations, computed by hand from the weights, give torch's {listed}."
        why = "Same equations, same weights: only the order of floating-point rounding differs."
    else:
        statement = f"The same weights on the CPU give the same {listed} as on CUDA."
        why = "The same model on another device: the kernels differ, so the rounding may, a little."
    return _Spec(
        rid,
        statement,
        " and ".join(f"torch.allclose({n}, {prefix}_{n}, atol={tol}, rtol={tol})" for n in names),
        True,
        why,
        comparison="allclose",
        sides=tuple((n, f"{prefix}_{n}") for n in names),
    )


# -----------------------------------------------------------------------------
# Evaluation


@lru_cache(maxsize=4096)
def _compiled(expression: str):
    return compile(expression, "<relation>", "eval")


def _eval(expression: str, ns: dict):
    """Evaluate one of our expressions (built above, never user text), compiled once."""
    return eval(_compiled(expression), ns)


def _evaluate(spec: _Spec, ns: dict) -> Relation:
    holds = bool(_eval(spec.expression, ns))
    expected, why = spec.expected, spec.why
    if holds and not expected and _all_equal_by_zeros(spec, ns):
        expected = True
        why = "Here both sides are all zeros (ReLU clamped every unit to 0), so they match by coincidence; " + why
    return Relation(
        id=spec.id,
        statement=spec.statement,
        expression=spec.expression,
        expected=expected,
        holds=holds,
        comparison=spec.comparison,
        max_abs_diff=_max_abs_diff(spec, ns),
        why=why,
    )


def _all_equal_by_zeros(spec: _Spec, ns: dict) -> bool:
    """Whether every sequence the rule says should differ has both sides all zero."""
    return bool(spec.per_sequence) and all(
        by_rule or not (_eval(lhs, ns).any() or _eval(rhs, ns).any()) for lhs, rhs, by_rule in spec.per_sequence
    )


def _max_abs_diff(spec: _Spec, ns: dict) -> float | None:
    if not spec.sides:
        return None
    deltas = [torch.as_tensor(_eval(lhs, ns) - _eval(rhs, ns)) for lhs, rhs in spec.sides]
    return max(float(d.abs().max()) if d.numel() else 0.0 for d in deltas)
