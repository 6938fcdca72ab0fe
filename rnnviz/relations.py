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

from rnnviz.batch import length_order
from rnnviz.cells import CELLS
from rnnviz.positions import first_step, last_step

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
    needs: tuple[str, ...] = ()  # the comparisons (rnnviz.runs) whose tensors it names

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
        keys = ("id", "kind", "verdict", "statement", "why", "expression", "expected", "holds", "comparison")
        keys += ("max_abs_diff",)
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
    device: str = "cpu"

    @property
    def full(self) -> bool:
        """Every sequence is T long: no padding at all."""
        return all(n == self.T for n in self.lengths)

    @property
    def tolerance(self) -> float:
        """The allclose tolerance of a run against another computation of it: the dtype's, or CUDA's."""
        return CUDA_TOLERANCE if self.device == "cuda" else RECOMPUTE_TOLERANCE[self.config.dtype]

    @property
    def module(self) -> str:
        """The module's class as code writes it: nn.LSTM."""
        return CELLS[self.config.cell].module_name


@dataclass(frozen=True)
class Spec:
    """A relation before it is evaluated: its claim as (lhs, rhs) pairs and its sentences."""

    guaranteed: bool
    statement: str
    why: str
    pairs: tuple[tuple[str, str], ...]
    test: str = "equal"  # "equal" (torch.equal), "shape" (==) or "allclose"
    tolerance: float = 0.0  # for allclose: atol and rtol
    batch_axis: int | None = None  # the axis of b in every side, for the per-sequence view
    coincidence: str = "the two sides happen to hold the very same numbers here; PyTorch does not promise it."
    places: tuple = ()  # every Place its sentences name (Words), so that a test can evaluate each

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


# -----------------------------------------------------------------------------
# Places: a sentence names a position (output[t, b, ...], h_n[k, b]) only through Words, which builds its index from
# the anatomy's positions (rnnviz.positions) and keeps it with what the sentence says it holds.


@dataclass(frozen=True)
class Place:
    """An index into what the layer returned, as a sentence names it, and what the sentence says it holds."""

    code: str  # output[7, 1, 5:10], output[7, :, 0:5], h_n[3, 1], h_n[3], c_n[3, 1]
    says: str  # "state": layer's state at t; "padding": exactly 0; "final": where the direction's run ends
    layer: int
    direction: int
    b: int | None  # None: every sequence
    t: int | None = None  # the step, for "state" and "padding"
    cell: bool = False  # an LSTM's cell state c (c_n), not h


class Words:
    """Writes the places a relation's sentences name, as `code`, and keeps them (Spec.places)."""

    def __init__(self, s: Sizes):
        self.s, self.places = s, []

    def _name(self, place: Place) -> str:
        self.places.append(place)
        return f"`{place.code}`"

    def _output(self, t: int, b, d: int) -> str:
        s, where = self.s, ":" if b is None else b
        return f"{at(s, t, where)}, {d * s.H}:{(d + 1) * s.H}]"

    def state(self, t: int, b, d: int) -> str:
        """output where it holds the top layer's direction-d state at step t (b None: every sequence's)."""
        return self._name(Place(self._output(t, b, d), "state", self.s.L - 1, d, b, t))

    def padding(self, t: int, b: int, d: int) -> str:
        """output where it holds pad_packed_sequence's zeros (packed, t >= len_b)."""
        return self._name(Place(self._output(t, b, d), "padding", self.s.L - 1, d, b, t))

    def final(self, layer: int, d: int, b=None, cell: bool = False) -> str:
        """h_n[k, b] (or c_n): the state where layer's direction d ends (b None: the row h_n[k])."""
        k, name = layer * self.s.D + d, "c_n" if cell else "h_n"
        return self._name(Place(f"{name}[{k}]" if b is None else f"{name}[{k}, {b}]", "final", layer, d, b, cell=cell))

    def first(self, d: int) -> list[int]:
        """Where direction d's run that h_n keeps starts, per sequence."""
        s = self.s
        return [int(t) for t in first_step(s.config, s.lengths, s.T, d)]

    def last(self, d: int) -> list[int]:
        """Where direction d's run that h_n keeps ends, per sequence."""
        s = self.s
        return [int(t) for t in last_step(s.config, s.lengths, s.T, d)]


def groups(steps: list[int]) -> list[tuple[int, list[int]]]:
    """(t, the sequences b whose step is t), for each distinct t of steps (one per sequence), by first b."""
    found = {}
    for b, t in enumerate(steps):
        found.setdefault(t, []).append(b)
    return list(found.items())


def sequences_named(bs: list[int]) -> str:
    """sequence 1; sequences 1 and 3; sequences 0, 2 and 5."""
    names = [str(b) for b in bs]
    return f"sequence {names[0]}" if len(names) == 1 else f"sequences {', '.join(names[:-1])} and {names[-1]}"


def forward_end(s: Sizes) -> str:
    """Where output holds the top layer's forward h_n: t = T-1, or each sequence's last real step when packed."""
    if s.config.packed and not s.full:
        return f"torch.stack([{at(s, 'lengths[b] - 1', 'b')}, :{s.H}] for b in range({s.B})])"
    return f"{at(s, '-1')}, :{s.H}]"


# -----------------------------------------------------------------------------
# The catalog: one function per relation, in the order the page shows them


@dataclass(frozen=True)
class Entry:
    """A relation of the catalog: its id, the comparisons it needs, and its function of Sizes -> Spec or None."""

    id: str  # names the claim checked; for a lesson, the tempting claim
    needs: tuple[str, ...]  # the comparisons (rnnviz.runs.COMPARISONS) whose tensors it names: without, it won't apply
    spec: object  # (Sizes, extra) -> Spec, or None where it does not apply to the config

    @property
    def doc(self) -> str:
        """What it claims and when it applies: the function's docstring."""
        return self.spec.__doc__ or ""


CATALOG: list[Entry] = []


def entry(rid: str, needs: tuple[str, ...] = ()):
    """Register the decorated function as the catalog entry rid, which applies only where its needs were computed."""

    def register(function):
        CATALOG.append(Entry(rid, needs, function))
        return function

    return register


@entry("output-shape")
def output_shape(s: Sizes, extra) -> Spec:
    """output is [T, B, D*H] ([B, T, D*H] with batch_first): every step of the top layer. Always."""
    shape, names = (
        ((s.B, s.T, s.D * s.H), "`[B, T, D*H]`") if s.config.batch_first else ((s.T, s.B, s.D * s.H), "`[T, B, D*H]`")
    )
    return Spec(
        True,
        f"output holds every time step of the top layer: {names} = {list(shape)}.",
        "One row per time step and sequence; both directions side by side in the last axis.",
        (("tuple(output.shape)", str(shape)),),
        test="shape",
    )


@entry("h_n-shape")
def h_n_shape(s: Sizes, extra) -> Spec:
    """h_n is [L*D, B, H], batch_first or not. Always."""
    shape = (s.L * s.D, s.B, s.H)
    return Spec(
        True,
        f"h_n holds the final state of every layer and direction: `[L*D, B, H]` = {list(shape)}, batch_first or not.",
        "h_n has no time axis, so batch_first never moves it.",
        (("tuple(h_n.shape)", str(shape)),),
        test="shape",
    )


@entry("c_n-shape")
def c_n_shape(s: Sizes, extra) -> Spec | None:
    """c_n is [L*D, B, hidden]: the cell state is never projected. LSTM."""
    if not CELLS[s.config.cell].has_cell_state:
        return None
    shape = (s.L * s.D, s.B, s.config.hidden)
    return Spec(
        True,
        f"c_n, the LSTM's final cell state, is `[L*D, B, hidden]` = {list(shape)}.",
        "The cell state is never projected, so its last axis is hidden_size even when proj_size is set.",
        (("tuple(c_n.shape)", str(shape)),),
        test="shape",
    )


@entry("lstm-h_n-from-c_n", needs=("gate",))
def lstm_h_n_from_c_n(s: Sizes, extra) -> Spec:
    """An LSTM's h_n is its output gate times tanh(c_n), where h_n is taken (then W_hr with proj_size). LSTM, h0
    zeros or random, no dropout masks."""
    w, top = Words(s), s.L - 1
    if s.config.proj:
        rhs, how = "torch.einsum('kbh,kph->kbp', gate_output * torch.tanh(c_n), gate_w_hr)", ", projected by W_hr"
    else:
        rhs, how = "gate_output * torch.tanh(c_n)", ""
    return Spec(
        True,
        f"h_n is made from c_n: for every layer and direction `h_n = o_T * tanh(c_n)`{how}, o_T the output gate at "
        f"the step where h_n is taken. So {w.final(top, 0)} comes from {w.final(top, 0, cell=True)}; output holds "
        "h at every step, c_n only ever the last c.",
        "c_t is the LSTM's memory and h_t what it shows of it: the output gate opens it, `h_t = o_t * tanh(c_t)`.",
        (("h_n", rhs),),
        test="allclose",
        tolerance=s.tolerance,
        batch_axis=1,
        places=tuple(w.places),
    )


@entry("c_n-is-in-output")
def c_n_is_in_output(s: Sizes, extra) -> Spec | None:
    """The tempting claim that c_n is somewhere in output: output holds h_t only, never the cell state. LSTM without
    projection."""
    if not CELLS[s.config.cell].has_cell_state or s.config.proj:
        return None
    w, top = Words(s), s.L - 1
    return Spec(
        False,
        f"output holds h_t at every step and never the cell state c_t: where output ends it holds h_n, "
        f"{w.final(top, 0)}, not c_n, {w.final(top, 0, cell=True)}.",
        "c_n comes back beside h_n in the same `[L*D, B, .]` layout, so it is tempting to look for it in output too.",
        ((forward_end(s), f"c_n[{top * s.D}]"),),
        batch_axis=0,
        coincidence="c_n and h_n happen to hold the same numbers here (saturated units).",
        places=tuple(w.places),
    )


@entry("h_0-shape")
def h_0_shape(s: Sizes, extra) -> Spec | None:
    """h_0 (and c_0) are laid out like h_n, batch_first or not. h0 random or carry."""
    if s.config.h0 == "zeros":
        return None
    lstm = CELLS[s.config.cell].has_cell_state
    shapes = (("h_0", (s.L * s.D, s.B, s.H)), ("c_0", (s.L * s.D, s.B, s.config.hidden)))[: 2 if lstm else 1]
    given = "the random h_0 drawn after building" if s.config.h0 == "random" else "the first chunk's h_n, carried"
    return Spec(
        True,
        f"h_0 ({given}) is `[L*D, B, H]` = {list(shapes[0][1])}"
        + (f", c_0 `[L*D, B, hidden]` = {list(shapes[1][1])}" if lstm else "")
        + ", batch_first or not.",
        "h_0 is laid out like h_n, which has no time axis: batch_first never moves it. "
        + (
            f"Here `B == L*D == {s.B}`, so an h_0 laid out like the batch-first input, `[B, L*D, H]`, has the very "
            "shape "
            "torch expects: torch takes it without a word and reads its rows as layers and directions, which gives "
            "other numbers (see transposed-h_0-gives-same-output)."
            if s.B == s.L * s.D
            else "An h_0 laid out like a batch-first input, `[B, L*D, H]`, has another shape here: torch refuses it."
        ),
        tuple((f"tuple({name}.shape)", str(shape)) for name, shape in shapes),
        test="shape",
    )


@entry("h_0-layout", needs=("nudged",))
def h_0_layout(s: Sizes, extra) -> Spec:
    """Row l*D + d of h_0 is read by layer l, direction d, and only there: moving the top layer's forward row leaves
    every other final state as it was. h0 random, L*D > 1, no dropout masks."""
    k = (s.L - 1) * s.D
    pairs, others = [], []
    if k:
        pairs.append((f"nudged_h_n[:{k}]", f"nudged_base_h_n[:{k}]"))
        others.append("the layers below it")
    if s.D == 2:
        pairs += [(f"nudged_h_n[{k + 1}:]", f"nudged_base_h_n[{k + 1}:]")]
        pairs += [(f"nudged_output[..., {s.H}:]", f"nudged_base_output[..., {s.H}:]")]
        others.append("its own backward direction")
    others = " and ".join(others)
    return Spec(
        True,
        f"h_0 is laid out like h_n: row `l*D + d` starts layer l, direction d. Moving only row {k}, the top layer's "
        f"forward direction, changes that direction alone: {others} keep every number, in h_n and in output.",
        "Each layer and direction starts from its own row; a row reaches the others only through that direction's "
        "outputs, and the top layer's forward outputs feed no other direction.",
        tuple(pairs),
    )


@entry("transposed-h_0-gives-same-output", needs=("transposed",))
def transposed_h_0_gives_same_output(s: Sizes, extra) -> Spec:
    """The tempting claim that an h_0 laid out like a batch-first input, [B, L*D, H], is refused or gives the same
    numbers: where B == L*D torch takes it without a word and computes others. h0 random, B == L*D."""
    return Spec(
        False,
        f"Here `B == L*D == {s.B}`: an h_0 laid out like the batch-first input, `[B, L*D, H]`, has the very shape "
        "torch "
        f"expects, so torch takes it without a word. It reads row k as layer k // {s.D}, direction k % {s.D}, so "
        "output and h_n come out different.",
        "batch_first moves the batch axis of the input and output only; h_0 and h_n keep `[L*D, B, H]`. Where the "
        "two shapes differ torch refuses the mistake; where `B == L*D` nothing does.",
        (("output", "transposed_output"), ("h_n", "transposed_h_n")),
        test="allclose",
        tolerance=s.tolerance,
        coincidence="the transposed h_0 happens to give the same numbers here (a symmetric h_0, or saturated units).",
    )


@entry("h_n-layout")
def h_n_layout(s: Sizes, extra) -> Spec:
    """h_n[l*D + d] is layer l, direction d: h_n.view(L, D, B, H) only splits the first axis. Always."""
    w = Words(s)
    last = "backward" if s.D == 2 else "forward"
    return Spec(
        True,
        f"`h_n[l*D + d]` is layer l, direction d: the view `hv = h_n.view{(s.L, s.D, s.B, s.H)}` only splits the "
        "first axis.",
        f"Layers are outermost, directions inside them: {w.final(0, 0)} is layer 0 forward, and the last row, "
        f"{w.final(s.L - 1, s.D - 1)}, is layer {s.L - 1} {last}.",
        ((f"torch.stack([hv[l, d] for l in range({s.L}) for d in range({s.D})])", "h_n"),),
        batch_axis=1,
        places=tuple(w.places),
    )


def _short_groups(s: Sizes) -> list[tuple[int, list[int]]]:
    """(last real step, the sequences shorter than T that end there), for each such step."""
    return [(n - 1, bs) for n, bs in groups(list(s.lengths)) if n < s.T]


@entry("final-output-is-forward-h_n")
def final_output_is_forward_h_n(s: Sizes, extra) -> Spec:
    """output's forward half at t = T-1 is the top layer's forward h_n; a lesson when packed with a sequence shorter
    than T. Always."""
    w, T1 = Words(s), s.T - 1
    guaranteed = not s.config.packed or s.full
    if guaranteed:
        statement = (
            f"The forward half of output at the last time step, {w.state(T1, None, 0)}, is the top layer's forward "
            f"h_n, {w.final(s.L - 1, 0)}."
        )
    else:
        stops = "; ".join(
            f"{sequences_named(bs)} {'stops' if len(bs) == 1 else 'stop'} at t = {t}, so {w.padding(T1, bs[0], 0)} "
            f"is padding, exactly 0, and its forward h_n, {w.final(s.L - 1, 0, bs[0])}, is {w.state(t, bs[0], 0)}"
            for t, bs in _short_groups(s)
        )
        statement = f"Packed, each sequence stops at its own length: {stops}."
    return Spec(
        guaranteed,
        statement,
        "The forward direction ends at the last time step, so its last output is its final state."
        if guaranteed
        else "Every sequence ends at t = T-1 only when none is shorter than T.",
        ((f"{at(s, '-1')}, :{s.H}]", "hv[-1, 0]"),),
        batch_axis=0,
        coincidence="a short sequence's forward h_n is exactly 0 here, the same as the padding at t = T-1.",
        places=tuple(w.places),
    )


@entry("true-last-step-is-h_n")
def true_last_step_is_h_n(s: Sizes, extra) -> Spec:
    """output's forward half at each sequence's last real step is its forward h_n; a lesson when padded and not packed.
    Always."""
    w, L1 = Words(s), s.L - 1
    guaranteed = s.config.packed or s.full
    if guaranteed:
        pairs = ", ".join(f"{w.state(n - 1, bs[0], 0)} is {w.final(L1, 0, bs[0])}" for n, bs in groups(s.lengths))
        statement = f"At each sequence's last real step the forward half of output is its forward h_n: {pairs}."
    else:
        cases = "; ".join(
            f"for {sequences_named(bs)}, {w.final(L1, 0, bs[0])} is {w.state(s.T - 1, bs[0], 0)}, not "
            f"{w.state(t, bs[0], 0)} at its last real character"
            for t, bs in _short_groups(s)
        )
        statement = (
            f"Not packed, the layer also reads the `<pad>` steps, so a short sequence's forward h_n is its state "
            f"after them, at t = T-1 = {s.T - 1}: {cases}."
        )
    return Spec(
        guaranteed,
        statement,
        "Each sequence's forward direction stops at its last real character, where h_n is taken."
        if guaranteed
        else "Packing (pack_padded_sequence) is what makes each sequence stop at its own length.",
        ((f"torch.stack([{at(s, 'lengths[b] - 1', 'b')}, :{s.H}] for b in range({s.B})])", "hv[-1, 0]"),),
        batch_axis=0,
        coincidence="the `<pad>` steps left the state exactly unchanged (a gate or tanh saturated to an exact value "
        f"in {s.config.dtype}), so h_n equals the state at the last real character.",
        places=tuple(w.places),
    )


@entry("first-output-is-backward-h_n")
def first_output_is_backward_h_n(s: Sizes, extra) -> Spec | None:
    """output's backward half at t = 0 is the top layer's backward h_n; a lesson when carried over a split.
    Bidirectional."""
    if s.D == 1:
        return None
    w, K = Words(s), s.config.chunk
    if not K:
        statement = (
            f"The backward half of output at t = 0, {w.state(0, None, 1)}, is the top layer's backward h_n, "
            f"{w.final(s.L - 1, 1)}."
        )
    else:
        statement = (
            f"Carried in two chunks, h_n is the second chunk's, whose backward direction ends at t = K = {K}: "
            f"{w.final(s.L - 1, 1)} is {w.state(K, None, 1)}, while {w.state(0, None, 1)} holds the first chunk's "
            "backward state."
        )
    return Spec(
        not K,
        statement,
        "The backward direction reads from the end to the start, so it finishes at t = 0."
        if not K
        else "Without chunks the backward direction finishes at t = 0.",
        ((f"{at(s, '0')}, {s.H}:]", "hv[-1, 1]"),),
        batch_axis=0,
        coincidence="the backward state at t = 0 of the first chunk equals the second chunk's at t = K here.",
        places=tuple(w.places),
    )


@entry("final-output-backward-is-h_n")
def final_output_backward_is_h_n(s: Sizes, extra) -> Spec | None:
    """The tempting claim that output's backward half at t = T-1 is the backward h_n (it is where that direction
    starts); guaranteed only when its last run is one step long. Bidirectional."""
    if s.D == 1:
        return None
    w, K, T1 = Words(s), s.config.chunk, s.T - 1
    guaranteed = K == T1  # the backward direction of the last (or only) run ends at K
    if guaranteed:
        statement = (
            f"With one time step in the second chunk, the backward half of output at t = T-1 = {K}, "
            f"{w.state(T1, None, 1)}, is the top layer's backward h_n, {w.final(s.L - 1, 1)}."
        )
    else:
        if not s.config.packed:
            starts = f"at t = T-1 = {T1}, reading the `<pad>` steps first: {w.state(T1, None, 1)} is its first state"
        else:
            starts = "at each sequence's last real step: " + "; ".join(
                f"t = {t} for {sequences_named(bs)}, whose first state is {w.state(t, bs[0], 1)}"
                + ("" if t == T1 else f" (and {w.padding(T1, bs[0], 1)} is padding, exactly 0)")
                for t, bs in groups(w.first(1))
            )
        statement = (
            f"The backward direction starts {starts}. Its h_n, {w.final(s.L - 1, 1)}, is its last state, at "
            f"t = {K}: {w.state(K, None, 1)}."
        )
    return Spec(
        guaranteed,
        statement,
        "With one time step, the backward direction's first step is also its last."
        if guaranteed
        else "In output the last time step reads like the end, but only for the forward direction.",
        ((f"{at(s, '-1')}, {s.H}:]", "hv[-1, 1]"),),
        batch_axis=0,
        coincidence=f"the backward state did not change between its first step and t = {K} (a gate or tanh saturated "
        f"to an exact value in {s.config.dtype}), so its first state equals its last.",
        places=tuple(w.places),
    )


@entry("packed-backward-starts-at-last-real-step", needs=("alone",))
def packed_backward_starts_at_last_real_step(s: Sizes, extra) -> Spec | None:
    """Packed, each sequence's backward direction starts at its own last real step: output there is the backward
    module's first state on that sequence alone, reversed. Packed and bidirectional, in one piece."""
    w = Words(s)
    starts = "; ".join(f"t = {t} for {sequences_named(bs)}: {w.state(t, bs[0], 1)}" for t, bs in groups(w.first(1)))
    return Spec(
        True,
        f"Packed, the backward direction starts at each sequence's last real step, never on padding: {starts}.",
        "pack_padded_sequence hands the backward direction each sequence's real steps only, so it begins at the "
        "last of them, wherever that is.",
        (
            (
                f"torch.stack([{at(s, 'lengths[b] - 1', 'b')}, {s.H}:] for b in range({s.B})])",
                "alone_output",
            ),
        ),
        test="allclose",
        tolerance=s.tolerance,
        batch_axis=0,
        places=tuple(w.places),
    )


@entry("lower-layer-h_n-is-final-output")
def lower_layer_h_n_is_final_output(s: Sizes, extra) -> Spec | None:
    """The tempting claim that h_n[0] is where output ends: it is layer 0's final state. Two layers or more."""
    if s.L == 1:
        return None
    w = Words(s)
    first = w.final(0, 0)
    return Spec(
        False,
        f"output holds the top layer only. {first} is layer 0's final state, so it is not where output holds h_n: "
        f"that is the top layer's forward h_n, {w.final(s.L - 1, 0)}.",
        f"{first} comes first in h_n, so it is easy to take it for the last output; it is layer 0's, which output "
        "never shows.",
        ((forward_end(s), "hv[0, 0]"),),
        batch_axis=0,
        coincidence="layer 0's and the top layer's final forward states happen to be the same numbers here.",
        places=tuple(w.places),
    )


@entry("padding-output-is-zero")
def padding_output_is_zero(s: Sizes, extra) -> Spec | None:
    """Packed, output past each sequence's length is exactly 0. Packed, with a sequence shorter than T."""
    if not s.config.packed or s.full:
        return None
    w = Words(s)
    examples = ", ".join(w.padding(t + 1, bs[0], 0) for t, bs in _short_groups(s))
    return Spec(
        True,
        f"Packed, output past each sequence's length is padding, exactly 0: {examples} and every step after.",
        "pad_packed_sequence fills the steps a sequence never had with zeros.",
        (("output[padding]", "torch.zeros_like(output[padding])"),),
        places=tuple(w.places),
    )


def _runs_equal(s: Sizes, prefix: str) -> tuple[tuple[str, str], ...]:
    """(output, other), (h_n, other) and (c_n, other) for an LSTM: another run's tensors against this run's."""
    names = ("output", "h_n", "c_n") if CELLS[s.config.cell].has_cell_state else ("output", "h_n")
    return tuple((name, f"{prefix}_{name}") for name in names)


@entry("zero-padding-is-harmless", needs=("packed",))
def zero_padding_is_harmless(s: Sizes, extra) -> Spec:
    """The tempting claim that pads embedded to zeros leave h_n as the packed run's: a step on a zero input still adds
    the biases and W_hh h. Zero padding, not packed, a sequence shorter than T."""
    backward = " And the backward direction reads the pads first, before any real step." if s.D == 2 else ""
    return Spec(
        False,
        "Here `<pad>` embeds to zeros (padding_idx=0), yet a short sequence's h_n is not the packed run's: a step on "
        f"a zero input is still `act(b_ih + W_hh h + b_hh)`, so the state keeps moving through the pads.{backward}",
        "With padding_idx=0 the pads carry no input, so it is tempting to think they change nothing; packing is what "
        "keeps a sequence from stepping through them.",
        (("h_n", "packed_h_n"),),
        test="allclose",
        tolerance=s.tolerance,
        batch_axis=1,
        coincidence="the steps on zeros left every state exactly as it was (saturated units, or a ReLU clamped to 0).",
    )


@entry("total-length-pads-output", needs=("short",))
def total_length_pads_output(s: Sizes, extra) -> Spec:
    """Packed with total_length N: output has N steps, those past the longest sequence exactly 0, and h_n (c_n) is the
    run's without total_length. Packed, total_length set."""
    w, N, T = Words(s), s.T, max(s.lengths)
    shape = [s.B, N, s.D * s.H] if s.config.batch_first else [N, s.B, s.D * s.H]
    longest = s.lengths.index(T)
    states = "h_n and c_n are" if CELLS[s.config.cell].has_cell_state else "h_n is"
    extra_steps = (
        f"the steps from t = {T} on, {w.padding(T, longest, 0)} the first of them, are padding, exactly 0"
        if N > T
        else "no step is added: N is the longest sequence's length"
    )
    pairs = (
        ("torch.tensor(output.shape)", f"torch.tensor({shape})"),
        (f"{at(s, f':{T}')}]", "short_output"),
        (f"{at(s, f'{T}:')}]", f"torch.zeros_like({at(s, f'{T}:')}])"),
        *_runs_equal(s, "short")[1:],
    )
    return Spec(
        True,
        f"With total_length = {N}, pad_packed_sequence pads output to {N} steps, not to the longest sequence's {T}: "
        f"{extra_steps}. The steps before are the run's without total_length, and {states} unchanged.",
        "total_length only sets how far pad_packed_sequence pads: the packed data, and so every state, are the same "
        "(DataParallel needs it, where each replica sees a slice of a batch padded to one length).",
        pairs,
        places=tuple(w.places),
    )


def _unsort(s: Sizes) -> list[int]:
    """The inverse of the manual sort: the batch's column of each sequence as given."""
    order = length_order(s.config.sequences)
    return sorted(range(len(order)), key=order.__getitem__)


def _given_order(s: Sizes, name: str, unsort: list[int]) -> str:
    """A tensor of the sorted run put back in the given order (its batch axis: output's, or h_n's second)."""
    if name == "output" and s.config.batch_first:
        return f"output[{unsort}]"
    return f"{name}[:, {unsort}]"


@entry("manual-sort-needs-unsort", needs=("unsorted",))
def manual_sort_needs_unsort(s: Sizes, extra) -> Spec:
    """Sorted by hand and packed with enforce_sorted=True, output's and h_n's columns follow the sorted batch;
    reindexed by the inverse permutation they are the enforce_sorted=False run's (allclose). Sort manual."""
    order, unsort = length_order(s.config.sequences), _unsort(s)
    pairs = tuple((_given_order(s, name, unsort), other) for name, other in _runs_equal(s, "unsorted"))
    return Spec(
        True,
        f"Sorted by hand, longest first, the batch's sequences are the given ones in the order {order}: sequence b "
        f"of output and h_n (on their batch axis) is given sequence `order[b]`. Indexed by the inverse permutation, "
        f"`unsort` = {unsort}, they are the run of the batch as given with enforce_sorted=False.",
        "pack_padded_sequence with enforce_sorted=False sorts the batch the same way inside and unsorts output and "
        "h_n before returning them; with enforce_sorted=True it trusts your order and returns the sorted one. Most "
        "runs agree bit for bit; torch gets the same numbers arranged otherwise, and may round a last bit otherwise.",
        pairs,
        test="allclose",
        tolerance=s.tolerance,
    )


@entry("sorted-h_n-is-in-input-order", needs=("unsorted",))
def sorted_h_n_is_in_input_order(s: Sizes, extra) -> Spec:
    """The tempting claim that, sorted by hand, h_n[:, b] is the given sequence b's final state: it is the sorted
    batch's sequence b. Sort manual."""
    return Spec(
        False,
        f"Sorted by hand, h_n's columns follow the sorted batch, given sequences {length_order(s.config.sequences)}: "
        "column b is not given sequence b's state unless the sort left b in place.",
        "With enforce_sorted=False torch hands h_n back in your order, so it is easy to expect the same after a sort "
        "of your own; unsort it with the inverse permutation.",
        (("h_n", "unsorted_h_n"),),
        test="allclose",
        tolerance=s.tolerance,
        batch_axis=1,
        coincidence="the batch was already sorted by length, longest first, so the sort moved nothing (or the "
        "sequences it moved happen to end in the same states).",
    )


@entry("packed-zeros-mask-attention", needs=("attention",))
def packed_zeros_mask_attention(s: Sizes, extra) -> Spec:
    """The tempting claim that packed output's zeros at padding keep attention off it: a score of 0 still gets weight
    exp(0) / sum after softmax (with a seeded query). Packed, with a sequence shorter than T."""
    weights = f"torch.softmax(output @ attention_query, dim={1 if s.config.batch_first else 0})"
    return Spec(
        False,
        "Packed, output is exactly 0 at padding, so a dot-product score there is 0, and softmax turns a 0 into "
        "exp(0) / sum, more than 0: with a seeded query the pads still get attention weight. Mask them: set their "
        "scores to -inf before softmax.",
        "Zeros look like nothing, so it is tempting to think zero outputs need no mask; softmax gives weight to "
        "every score that is not -inf.",
        ((f"{weights}[padding]", f"torch.zeros_like({weights}[padding])"),),
        coincidence="the real steps' scores are so large that exp(0) / sum underflows to 0.",
    )


@entry("chunks-equal-whole", needs=("whole",))
def chunks_equal_whole(s: Sizes, extra) -> Spec | None:
    """Two chunks, the second from the first's h_n, give the whole run's output and h_n; a lesson bidirectional. h0
    carry, no dropout masks."""
    K, guaranteed = s.config.chunk, s.D == 1
    carried = "h_n and c_n" if CELLS[s.config.cell].has_cell_state else "h_n"
    return Spec(
        guaranteed,
        f"Run in two chunks, steps [0, {K}) then [{K}, {s.T}), the second from the first's {carried}: the outputs "
        "side by side, and the last h_n, are the whole run's."
        if guaranteed
        else f"Bidirectional: the first chunk's backward direction starts at t = {K - 1} without the steps after it, "
        "which the whole run's backward direction had read first; carrying h_n forward cannot give it the future.",
        "A unidirectional layer reads only its past: its state at the split is all that the rest of the sequence "
        "needs, so a long text can be fed in chunks."
        if guaranteed
        else "Carrying h_n between chunks is how a unidirectional layer reads a long text, so it is tempting to "
        "expect the same of a bidirectional one.",
        _runs_equal(s, "whole"),
        test="allclose",
        tolerance=s.tolerance,
        coincidence="the whole run's states equal the chunks' here (a ReLU that is all zeros, or saturated units).",
    )


@entry("layer-0-h_n-unaffected-by-dropout", needs=("eval",))
def layer_0_h_n_unaffected_by_dropout(s: Sizes, extra) -> Spec | None:
    """Layer 0's h_n (and c_n) are the eval run's though train mode drops between layers. Train mode, dropout, two
    layers or more."""
    if not s.config.draws_masks:
        return None
    pairs = [(f"h_n[:{s.D}]", f"eval_h_n[:{s.D}]")]
    if CELLS[s.config.cell].has_cell_state:
        pairs.append((f"c_n[:{s.D}]", f"eval_c_n[:{s.D}]"))
    w = Words(s)
    rows = " and ".join(w.final(0, d) for d in range(s.D))
    return Spec(
        True,
        f"Layer 0's final states, {rows}, are the eval run's, though train mode drops with P = "
        f"{s.config.dropout}: dropout acts on a layer's output on its way up, never inside the layer.",
        "Dropout is applied to each layer's output but the last, before the next layer reads it; layer 0 reads the "
        "embedded input as it is.",
        tuple(pairs),
        batch_axis=1,
        places=tuple(w.places),
    )


@entry("train-equals-eval", needs=("eval",))
def train_equals_eval(s: Sizes, extra) -> Spec | None:
    """Train mode gives the eval run's numbers; a lesson where dropout acts between layers. Train mode or dropout."""
    c = s.config
    if not c.train_mode:
        statement = "Eval mode: dropout is off, so this run is the eval run."
    elif c.dropout == 0:
        statement = "Train mode with dropout 0 drops nothing: output and h_n are the eval run's."
    elif s.L == 1:
        statement = "One layer: dropout only acts between layers, so train mode gives the eval run's numbers."
    else:
        statement = (
            f"Train mode with P = {c.dropout}: each layer's output but the last has units zeroed (each with chance P, "
            f"the rest scaled by 1/(1-P)) before the next layer reads it, so layers 1 to {s.L - 1}, output and their "
            "h_n differ from eval mode."
        )
    return Spec(
        not c.draws_masks,
        statement,
        "module.train() and module.eval() switch dropout on and off; nothing else in a recurrent layer depends on them."
        if not c.draws_masks
        else "train() and eval() look like bookkeeping; with dropout between layers they change the numbers.",
        _runs_equal(s, "eval"),
        coincidence="the dropped units happen not to change the layers above here (a ReLU that is all zeros).",
    )


@entry("stacked-is-layer-by-layer", needs=("by_layer",))
def stacked_is_layer_by_layer(s: Sizes, extra) -> Spec | None:
    """L one-layer modules holding the stack's weights, each fed the one below, give output and h_n. Two layers or
    more."""
    sides = "both directions side by side" if s.D == 2 else "its output"
    dropped = ", dropped as in train mode" if s.config.draws_masks else ""
    return Spec(
        True,
        f"{s.L} one-layer {s.module} modules holding the stack's weights, each fed the previous one's output ({sides}"
        f"{dropped}), give output and h_n: num_layers = {s.L} is a stack of one-layer layers.",
        "Layer l + 1 reads layer l's output and nothing else of it; h_n stacks each layer's final states in order.",
        _runs_equal(s, "by_layer"),
        test="allclose",
        tolerance=s.tolerance,
    )


@entry("backward-is-forward-on-reversed", needs=("by_direction",))
def backward_is_forward_on_reversed(s: Sizes, extra) -> Spec | None:
    """Each layer's backward half is a one-direction module with the _reverse weights, run on each sequence reversed
    and flipped back. Bidirectional."""
    steps = "its real steps, packed" if s.config.packed else "the whole padded row, `<pad>` steps first"
    return Spec(
        True,
        f"Each layer's backward half is a one-direction {s.module} holding the `_reverse` weights, run over each "
        f"sequence's steps in reverse ({steps}) and flipped back: rebuilt so, layer by layer, it gives output and h_n.",
        "bidirectional=True gives every layer a second direction, with weights of its own, that reads each sequence "
        "from its end; a layer's output holds both directions side by side.",
        _runs_equal(s, "by_direction"),
        test="allclose",
        tolerance=s.tolerance,
    )


@entry("reversed-input-is-backward", needs=("mirror",))
def reversed_input_is_backward(s: Sizes, extra) -> Spec | None:
    """The tempting claim that the forward weights on the reversed input give the backward half: the backward direction
    has weights of its own. Bidirectional."""
    return Spec(
        False,
        "The backward direction has weights of its own (`weight_ih_l0_reverse`, ...): the forward direction's "
        "weights run on the reversed input do not give its half of output, nor its h_n.",
        "'Bidirectional' reads like one layer run both ways, with the same weights.",
        ((f"output[..., {s.H}:]", f"mirror_output[..., {s.H}:]"), ("hv[:, 1]", "mirror_hv[:, 1]")),
        test="allclose",
        tolerance=s.tolerance,
        coincidence="the forward weights give the backward direction's numbers here (a ReLU that is all zeros).",
    )


@entry("reference-recompute", needs=("ref",))
def reference_recompute(s: Sizes, extra) -> Spec | None:
    """The cell equations by hand, from the weights, give torch's output, h_n (and c_n). h0 zeros, no dropout masks."""
    return _allclose_spec(
        s,
        "The cell equations, computed by hand from the weights, give torch's {}.",
        "Same equations, same weights: only the order of floating-point rounding differs.",
        "ref",
        RECOMPUTE_TOLERANCE[s.config.dtype],
    )


@entry("cpu-matches-cuda", needs=("cpu",))
def cpu_matches_cuda(s: Sizes, extra) -> Spec | None:
    """The same weights on the CPU give CUDA's numbers, to CUDA_TOLERANCE. On CUDA."""
    return _allclose_spec(
        s,
        "The same weights on the CPU give the same {} as on CUDA.",
        "The same model on another device: the kernels differ, so the rounding may, a little.",
        "cpu",
        CUDA_TOLERANCE,
    )


def _allclose_spec(s: Sizes, statement: str, why: str, prefix: str, tolerance: float) -> Spec:
    pairs = _runs_equal(s, prefix)
    return Spec(
        True,
        statement.format(", ".join(name for name, _ in pairs)),
        why,
        pairs,
        test="allclose",
        tolerance=tolerance,
    )


# -----------------------------------------------------------------------------
# Gradients (rnnviz.analyse(config, gradients=True)): grad[l, d, b, t, s] = ||d h^(l,d)_t[b] / d x_s[b]||


class Gradients(NamedTuple):
    """What the gradient relations compare: the connectivity map, and sampled entries next to finite differences."""

    values: torch.Tensor  # (L, D, B, T, T), rnnviz.gradients.connectivity
    autograd: torch.Tensor  # (samples,) entries of values
    differences: torch.Tensor  # (samples,) the same entries by float64 central differences
    tolerance: float  # allclose's atol and rtol for the two


def _zero(expression: str) -> tuple[str, str]:
    return expression, f"torch.zeros_like({expression})"


@entry("layer-0-is-causal", needs=("grad",))
def layer_0_is_causal(s: Sizes, extra) -> Spec | None:
    """Layer 0 forward never depends on a later input, backward never on an earlier one. With gradients."""
    pairs = (_zero("grad[0, 0].triu(1)"),) + ((_zero("grad[0, 1].tril(-1)"),) if s.D == 2 else ())
    return Spec(
        True,
        "Layer 0 forward never depends on a later input (s > t), and backward never on an earlier one (s < t): "
        "exactly 0.",
        "A direction reads its inputs one step at a time in its own order; nothing else reaches it.",
        pairs,
        batch_axis=0,
    )


@entry("top-layer-forward-is-causal", needs=("grad",))
def top_layer_forward_is_causal(s: Sizes, extra) -> Spec | None:
    """The top layer's forward states never depend on a later input; a lesson above a bidirectional layer. With
    gradients, two layers or more."""
    if s.L == 1:
        return None
    guaranteed = s.D == 1
    return Spec(
        guaranteed,
        f"The top layer's forward states never depend on a later input (s > t): exactly 0, through {s.L} "
        "forward-only layers."
        if guaranteed
        else "The top layer's forward half has already seen the whole sequence: the layer below it is bidirectional, "
        "and its backward half read the future first.",
        "Every layer below reads forward only." if guaranteed else "Forward in a stack is only forward per layer.",
        (_zero("grad[-1, 0].triu(1)"),),
        batch_axis=0,
        coincidence="every later input happens to move nothing (saturated units), so the norms are exactly 0.",
    )


@entry("padding-has-no-influence", needs=("grad",))
def padding_has_no_influence(s: Sizes, extra) -> Spec | None:
    """No state at a real step depends on a <pad> input; a lesson bidirectional and not packed. With gradients and
    padding."""
    if s.full:
        return None
    guaranteed = s.config.packed or s.D == 1
    return Spec(
        guaranteed,
        "No state at a real step, of any layer and direction, depends on a `<pad>` input: exactly 0."
        if guaranteed
        else "Not packed and bidirectional: the backward direction reads the `<pad>` steps first, so every real "
        "step above it depends on the padding.",
        "Packed, no direction ever reads a pad; forward only, the pads come after every real step."
        if guaranteed
        else "pack_padded_sequence is what keeps the pads out of the backward direction.",
        (_zero("grad[:, :, pad_reach]"),),
        coincidence="the pads happen to move nothing (saturated units), so the norms are exactly 0.",
    )


@entry("gradient-matches-finite-differences", needs=("grad",))
def gradient_matches_finite_differences(s: Sizes, extra) -> Spec | None:
    """Sampled entries of the gradients map agree with float64 central differences. With gradients."""
    tolerance = extra["grad"].tolerance
    return Spec(
        True,
        f"Sampled entries of the map, recomputed by float64 central differences, agree (allclose {tolerance:g}).",
        "Autograd differentiates exactly what the layer computes; central differences approximate it to ~1e-9.",
        (("fd_autograd", "fd_differences"),),
        test="allclose",
        tolerance=tolerance,
    )


# -----------------------------------------------------------------------------
# Under the hood: the weights, the loop over cells, the GRU's own equation, what a GRU returns


def is_gru(config) -> bool:
    """Whether the config's cell is torch's GRU (under any name the registry gives it)."""
    return CELLS[config.cell].module is torch.nn.GRU


@entry("forget-bias-is-one-slice", needs=("forget",))
def forget_bias_is_one_slice(s: Sizes, extra) -> Spec | None:
    """The tempting claim that setting the forget gate's slice to 1 in both bias_ih and bias_hh gives a forget bias
    of 1: the two add, so it is 2, and the layer computes other numbers than with a forget bias of 1. LSTM."""
    if not CELLS[s.config.cell].has_cell_state:
        return None
    n = s.config.hidden
    rows = f"[{n}:{2 * n}]"
    return Spec(
        False,
        f"The forget gate's rows are {rows} of each bias (the gates stacked i, f, g, o, hidden = {n} rows each), and "
        "`f_t = sigmoid(W_if x_t + b_if + W_hf h + b_hf)` adds the two biases: setting `bias_ih_l0" + rows + "` and "
        f"`bias_hh_l0{rows}` both to 1 gives a forget bias of 2. The layer so set computes other numbers than with a "
        "forget bias of 1 (`bias_ih` 1, `bias_hh` 0), in output, h_n and c_n.",
        "Papers and Keras have one bias per gate, so 'set the forget bias to 1' reads like one slice to fill; torch "
        "has two, and they add.",
        tuple((f"forget_both_{name}", f"forget_one_{name}") for name in ("output", "h_n", "c_n")),
        test="allclose",
        tolerance=s.tolerance,
        coincidence="the forget gate never mattered here: it multiplies c_{t-1}, which is 0 at a first step from "
        "zeros (a single step), or it saturated to the same value both ways.",
    )


@entry("bias-split-is-free", needs=("bias_split",))
def bias_split_is_free(s: Sizes, extra) -> Spec:
    """Moving any part of bias_hh into bias_ih (the same sum) leaves output, h_n (and c_n) unchanged: only
    b_ih + b_hh enters the cell; a GRU's n rows excepted (r multiplies b_hn), so only its r and z rows move. Always."""
    c = s.config
    names = "output, h_n and c_n" if CELLS[c.cell].has_cell_state else "output and h_n"
    if is_gru(c):
        H = c.hidden
        statement = (
            f"A random part of rows 0:{2 * H} (r and z) of every `bias_hh` moved into its `bias_ih` (each sum kept) "
            f"leaves {names} unchanged: only `b_ih + b_hh` enters the r and z gates. Rows {2 * H}:{3 * H} (n) are "
            "not free: torch computes `n_t = tanh(W_in x_t + b_in + r_t * (W_hn h + b_hn))`, so the reset gate "
            "multiplies b_hn and not b_in."
        )
    else:
        statement = (
            f"A random part of every `bias_hh` moved into its `bias_ih` (each sum kept) leaves {names} unchanged: "
            "only `b_ih + b_hh` enters the cell, so a model with a single bias per gate loads as `bias_ih = b`, "
            "`bias_hh = 0`."
        )
    return Spec(
        True,
        statement,
        "Each gate adds `W_i x_t + b_i` and `W_h h + b_h`: the two biases reach it only as their sum.",
        _runs_equal(s, "bias_split"),
        test="allclose",
        tolerance=s.tolerance,
    )


@entry("cell-loop-equals-module", needs=("cell_loop",))
def cell_loop_equals_module(s: Sizes, extra) -> Spec:
    """A Python loop over nn.RNNCell, nn.LSTMCell or nn.GRUCell, one a layer and direction holding the module's
    weights, gives output and every row of h_n (and c_n). h0 zeros or random, no dropout masks, no proj_size (an
    LSTMCell has no projection)."""
    c = s.config
    cell = f"{s.module}Cell"
    names = "output, h_n and c_n" if CELLS[c.cell].has_cell_state else "output and h_n"
    if s.D == 2:
        backward = (
            "the backward cell from each sequence's last real step"
            if c.packed
            else f"the backward cell from t = T-1 = {s.T - 1}"
        )
        order = f"; {backward} down to t = 0"
    else:
        order = ""
    steps = "each sequence stepping to its own length" if c.packed else f"every sequence stepping all T = {s.T} steps"
    above = (
        f", layer l + 1 reading layer l's outputs{' (both directions side by side)' * (s.D == 2)}" if s.L > 1 else ""
    )
    return Spec(
        True,
        f"A Python loop over `{cell}`, {s.L * s.D} {'cell' if s.L * s.D == 1 else 'cells'} (one a layer and direction) "
        f"holding the module's weights, gives {names}: `h = cell(x[t], h)` at each step, {steps}{order}{above}.",
        f"{s.module} runs that very loop in C++ (cuDNN on a GPU), the same cell at every step. So two modules built "
        "separately differ only because their weights do: copy the weights and they compute the same numbers.",
        _runs_equal(s, "cell_loop"),
        test="allclose",
        tolerance=s.tolerance,
    )


@entry("gru-matches-paper", needs=("ref", "paper"))
def gru_matches_paper(s: Sizes, extra) -> Spec | None:
    """The tempting claim that torch's GRU computes Cho et al.'s candidate n = tanh(W_in x + b_in + W_hn (r * h) +
    b_hn): torch applies the reset gate after the product, n = tanh(W_in x + b_in + r * (W_hn h + b_hn)). GRU, h0
    zeros, no dropout masks."""
    if not is_gru(s.config):
        return None
    return Spec(
        False,
        "torch's GRU applies the reset gate after the matrix product, `n_t = tanh(W_in x_t + b_in + r_t * (W_hn h + "
        "b_hn))`; Cho et al. (2014) apply it before, `n_t = tanh(W_in x_t + b_in + W_hn (r_t * h) + b_hn)`. The "
        "paper's equation, computed by hand over the same weights, gives other output and h_n than torch's.",
        "The docs cite the paper, and 'reset gate times h' reads the same either way; the two differ wherever r_t is "
        "not 1.",
        (("output", "paper_output"), ("h_n", "paper_h_n")),
        test="allclose",
        tolerance=s.tolerance,
        coincidence="the reset gate saturated to 1 wherever it acts, so the two equations agree.",
    )


def _unpacked(s: Sizes, w: Words) -> str:
    """What `h, c = h_n` names where h_n has two rows: layer 0 forward, then the next row."""
    second = "layer 1's forward final state" if s.L == 2 else "layer 0's backward final state"
    return f"`h` is {w.final(0, 0)}, layer 0's forward final state, and `c` is {w.final(s.L - 1, s.D - 1)}, {second}"


@entry("gru-state-unpacks-as-h-c")
def gru_state_unpacks_as_h_c(s: Sizes, extra) -> Spec | None:
    """The tempting claim that a GRU's state unpacks as h, c like an LSTM's: h_n is one tensor [L*D, B, H], so
    `h, c = gru(x)[1]` splits its rows, and raises unless L*D == 2 (where it silently succeeds). GRU."""
    if not is_gru(s.config):
        return None
    w, rows = Words(s), s.L * s.D
    shape = f"`[L*D, B, H]` = {[rows, s.B, s.H]}"
    coincidence = Spec.coincidence
    if rows == 2:
        unpacked = _unpacked(s, w)
        statement = (
            f"`h, c = gru(x)[1]` runs here without an error, but a GRU has no cell state: it returns h_n alone, "
            f"{shape}, and Python unpacks its first axis, so {unpacked}. With any other `L*D` the same line raises."
        )
        coincidence = (
            f"h_n has exactly `L*D` = 2 rows here, so the line unpacks them: {unpacked}; neither is a cell state."
        )
    else:
        error = (
            "not enough values to unpack (expected 2, got 1)" if rows == 1 else "too many values to unpack (expected 2)"
        )
        statement = (
            f"`h, c = gru(x)[1]` raises `ValueError: {error}`: a GRU returns h_n alone, {shape}, and Python unpacks "
            f"its first axis, `L*D` = {rows} {'row' if rows == 1 else 'rows'}. Only an LSTM returns a pair, "
            "`(h_n, c_n)`."
        )
    return Spec(
        False,
        statement,
        "`output, (h_n, c_n) = lstm(x)` is the line everyone has seen, and a GRU is called the same way.",
        (("torch.tensor(len(h_n))", "torch.tensor(2)"),),
        coincidence=coincidence,
        places=tuple(w.places),
    )


# -----------------------------------------------------------------------------
# Truncated backprop (h0 carry, detach) and dropout's masks


@entry("detach-keeps-values", needs=("other_detach",))
def detach_keeps_values(s: Sizes, extra) -> Spec:
    """The second chunk's output and h_n (and c_n) are the same, bit for bit, with or without detach. h0 carry."""
    K, c = s.config.chunk, s.config
    carried = "h_n and c_n" if CELLS[c.cell].has_cell_state else "h_n"
    names = ("output", "h_n", "c_n") if CELLS[c.cell].has_cell_state else ("output", "h_n")
    second = at(s, f"{K}:").removeprefix("output") + "]"  # [K:, :], or [:, K:] with batch_first
    pairs = ((f"output{second}", f"other_detach_output{second}"),)
    pairs += tuple((name, f"other_detach_{name}") for name in names[1:])
    return Spec(
        True,
        f"The second chunk, steps [{K}, {s.T}), gives the same output and final states, bit for bit, whether it starts "
        f"from the first chunk's {carried} as they are or `.detach()`-ed (this run "
        f"{'detaches' if c.detach else 'does not detach'}).",
        "detach() returns the very same numbers cut from the autograd graph: it changes which gradients flow back "
        "into the first chunk, never what the second chunk computes.",
        pairs,
        batch_axis=None if c.batch_first else 1,  # (h_n's batch axis is 1 either way)
    )


@entry("detach-cuts-gradients", needs=("grad",))
def detach_cuts_gradients(s: Sizes, extra) -> Spec | None:
    """With detach, no second-chunk state depends (by gradient) on a first-chunk input: exactly 0; a lesson without
    detach. With gradients, h0 carry."""
    c = s.config
    if c.h0 != "carry":
        return None
    K = c.chunk
    return Spec(
        c.detach,
        f"Detached at the split: every second-chunk state (t >= {K}), of every layer, has gradient exactly 0 with "
        f"respect to every first-chunk input (s < {K}): backprop stops at the split."
        if c.detach
        else f"Not detached: the state carried at the split passes gradients back, so second-chunk states (t >= {K}) "
        f"depend on first-chunk inputs (s < {K}); with detach they would all be exactly 0.",
        "The second chunk starts from the first's h_n.detach(): a leaf with no history, so backprop stops at the "
        "split (truncated backprop through time), though the numbers are the same. Without detach the carried state "
        "is the first chunk's own result, and the gradient flows through it into every earlier input: not all 0."
        if c.detach
        else "Carrying h_n into a second call looks like starting afresh; only detach() cuts the graph that links "
        "the two calls, and then every one of these gradients is exactly 0.",
        (_zero(f"grad[:, :, :, {K}:, :{K}]"),),
        batch_axis=2,
        coincidence="no first-chunk input moves a second-chunk state here (saturated units, or a ReLU clamped to 0).",
    )


@entry("dropout-mask-shared-across-time", needs=("dropout",))
def dropout_mask_shared_across_time(s: Sizes, extra) -> Spec:
    """The tempting claim that one dropout mask serves every step (variational dropout): torch draws a fresh one per
    element and step. Train mode, dropout, two layers or more, two steps or more."""
    if s.T == 1:
        return None
    P = s.config.dropout
    return Spec(
        False,
        f"torch draws a fresh dropout mask for every unit at every step: each layer's output but the last has each of "
        f"its `(T, B, D*H)` elements zeroed with chance P = {P}, independently, so which units are zeroed changes from "
        "step to step.",
        "Variational dropout (Gal and Ghahramani) keeps one mask for the whole sequence, and recurrent dropout is "
        "often described so; nn.RNN/LSTM/GRU's dropout argument is plain dropout on each layer's output.",
        (("dropout_zeroed.int()", "dropout_shared.int()"),),  # 1: zeroed
        batch_axis=2,
        coincidence="every step happened to draw the same zeroed units (few steps and units, or P near 0 or 1).",
    )


# -----------------------------------------------------------------------------
# Evaluation


def sizes(result) -> Sizes:
    """The sizes of a run, as the catalog entries use them."""
    c = result.config
    return Sizes(
        c,
        c.layers,
        c.directions,
        len(c.sequences),
        c.state_size,
        result.batch.max_length,
        result.batch.lengths,
        result.device,
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
        "h_0": result.h_0,
        "c_0": result.c_0,
        "lengths": list(s.lengths),
        "padding": steps.t() if s.config.batch_first else steps,  # like output's first two axes
    }
    for prefix, other in extra.items():
        if isinstance(other, Gradients):
            lengths = torch.tensor(s.lengths)[:, None, None]  # (B, 1, 1)
            steps = torch.arange(s.T)
            ns.update(grad=other.values, fd_autograd=other.autograd, fd_differences=other.differences)
            ns["pad_reach"] = (steps[:, None] < lengths) & (steps[None, :] >= lengths)  # (B, T, T): real t, pad s
            continue
        if hasattr(other, "_asdict"):  # a NamedTuple: each of its tensors
            tensors = other._asdict()
        else:  # a run (or its hand recomputation)
            tensors = {"output": other.output, "h_n": other.h_n, "c_n": other.c_n}
        if "h_n" in tensors:
            tensors["hv"] = tensors["h_n"].view(s.L, s.D, s.B, s.H)  # (L, D, B, H)
        ns.update({f"{prefix}_{name}": tensor for name, tensor in tensors.items()})
    return ns


def specs(result, extra: dict) -> list[tuple[Entry, Spec]]:
    """Every catalog entry that applies to this run, with its spec."""
    s = sizes(result)
    applying = (e for e in CATALOG if all(need in extra for need in e.needs))
    return [(e, spec) for e in applying if (spec := e.spec(s, extra)) is not None]


def check_relations(result, extra: dict | None = None) -> list[Relation]:
    """Every catalog relation that applies to the run; the comparisons in extra (name -> its tensors, see
    rnnviz.runs.comparisons) add the relations that need them."""
    extra = extra or {}
    ns = namespace(result, extra)
    return [evaluate(e, spec, ns) for e, spec in specs(result, extra)]


@lru_cache(maxsize=4096)
def _compiled(expression: str):
    return compile(expression, "<relation>", "eval")


def _eval(expression: str, ns: dict):
    """Evaluate one of the catalog's expressions (built above, never user text), compiled once."""
    return eval(_compiled(expression), ns)


def evaluate(e: Entry, spec: Spec, ns: dict) -> Relation:
    """Evaluate a spec's sides once: the verdict, the max abs difference, the per-sequence view."""
    sides = [(_eval(lhs, ns), _eval(rhs, ns)) for lhs, rhs in spec.pairs]
    holds = all(_compare(spec, lhs, rhs) for lhs, rhs in sides)
    why = spec.why
    if holds and not spec.guaranteed:
        zeros = all(not (lhs.any() or rhs.any()) for lhs, rhs in sides)
        reason = "both sides are all zeros (a ReLU clamped every unit to 0)." if zeros else spec.coincidence
        why = "It holds here by coincidence: " + reason
    return Relation(
        id=e.id,
        kind="guaranteed" if spec.guaranteed else "lesson",
        statement=spec.statement,
        expression=spec.expression,
        holds=holds,
        comparison="allclose" if spec.test == "allclose" else "exact",
        max_abs_diff=None if spec.test == "shape" else max(_max_abs_diff(lhs, rhs) for lhs, rhs in sides),
        why=why,
        per_sequence=None if spec.batch_axis is None else _per_sequence(spec, sides),
        needs=e.needs,
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
