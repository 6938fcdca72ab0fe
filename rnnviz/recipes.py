"""Recipes: the exact indexing of output, h_n and c_n for what people need from a run, each evaluated and checked.

A recipe is code on the tensors the layer returned (after Recipes.setup: a packed output padded, the lengths as a
tensor), its value on this run, and the claim that makes it right, evaluated too. A tempting way to the same thing
that is wrong for this run is listed after it as a lesson, with the numbers: how far off it is, for which sequences.
Every code string is built here (never user text), and what is shown is what ran.
"""

import html
from dataclasses import dataclass

import torch

from rnnviz.cells import CELLS, cell_step
from rnnviz.model import contract_threads
from rnnviz.recompute import layer_weights
from rnnviz.relations import CUDA_TOLERANCE, RECOMPUTE_TOLERANCE


@dataclass(frozen=True, eq=False)
class Recipe:
    """A way to index what the layer returned, evaluated on the run; a lesson where it is a wrong way."""

    need: str  # what it is for, in words
    code: str  # the indexing, on output, h_n, c_n and lengths
    value: torch.Tensor  # code evaluated on the run
    note: str  # why it is right; for a lesson, what it holds instead
    check: str | None  # the claim that makes it right (a lesson: that it equals the right value), in PyTorch
    holds: bool | None  # the check evaluated; None where the run holds nothing to check it against
    lesson: bool = False
    max_abs_diff: float | None = None  # a lesson: the largest difference from the right value (None: other shape)
    differs: tuple[int, ...] = ()  # a lesson: the sequences b for which it is wrong


@dataclass(frozen=True, eq=False)
class Recipes:
    """A run's recipes and lessons, in order, after the setup lines they assume."""

    setup: str  # the lines to run first on what the layer returned ("" where none is needed)
    items: tuple[Recipe, ...]

    def __iter__(self):
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> Recipe:
        return self.items[i]

    def text(self) -> str:
        """Every recipe and lesson, a few lines each."""
        lines = [f"setup: {self.setup}"] if self.setup else []
        for r in self.items:
            lines.append(f"{'LESSON' if r.lesson else 'recipe'}  {r.need}: {r.code}  {list(r.value.shape)}")
            lines.append(f"    {r.note}")
            if r.check is not None:
                lines.append(f"    check: {r.check}  -> {r.holds}{_numbers(r)}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.text()

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr style='color:{'#777' if r.lesson else 'inherit'}'><td>{'lesson' if r.lesson else 'recipe'}</td>"
            f"<td>{html.escape(r.need)}</td><td><code>{html.escape(r.code)}</code></td><td>{list(r.value.shape)}</td>"
            f"<td>{html.escape(r.note)}</td><td><code>{html.escape(r.check or '')}</code></td>"
            f"<td>{'' if r.holds is None else r.holds}{html.escape(_numbers(r))}</td></tr>"
            for r in self.items
        )
        head = "".join(f"<th>{h}</th>" for h in ("", "need", "code", "shape", "why", "check", "holds"))
        setup = f"<p>First: <code>{html.escape(self.setup)}</code></p>" if self.setup else ""
        return f"{setup}<table><tr>{head}</tr>{rows}</table>"


def _numbers(r: Recipe) -> str:
    if not r.lesson:
        return ""
    off = "another shape" if r.max_abs_diff is None else f"max |diff| {r.max_abs_diff:.3g}"
    return f" ({off}; wrong for sequences {list(r.differs)})"


def recipes(run) -> Recipes:
    """The recipes for a run in one piece (rnnviz.explain's, or a Config's without h0 carry), lessons included."""
    if run.config.chunk:
        raise ValueError("recipes are for a run in one piece; this one was carried over a split")
    code = _Code(run)
    ns = {
        "torch": torch,
        "output": run.output,
        "h_n": run.h_n,
        "c_n": run.c_n,
        "lengths": torch.tensor(run.batch.lengths),
        "first_states": _backward_first_states(run),
    }
    needs = [_forward_last(code), *_bidirectional(code), _every_layer(code), *_cell_states(code)]
    items = [item for need in needs for item in _evaluate(need, ns)]
    return Recipes(code.setup(), tuple(items))


class _Code:
    """The run's sizes, and the code that indexes its tensors."""

    def __init__(self, run):
        c = run.config
        self.c, self.B, self.T, self.lengths = c, len(run.batch.lengths), run.batch.max_length, run.batch.lengths
        self.L, self.D, self.H, self.hidden = c.layers, c.directions, c.state_size, c.hidden
        self.full = all(n == self.T for n in self.lengths)  # no sequence shorter than T
        self.ends_real = c.packed or self.full  # forward h_n is each sequence's state at its last real step
        self.tolerance = CUDA_TOLERANCE if run.device == "cuda" else RECOMPUTE_TOLERANCE[c.dtype]

    def at(self, t: str, d: int | None = None) -> str:
        """output at step t ("-1", "0", or "lengths - 1": each sequence's last real step), direction d (None: all)."""
        half = "" if d is None or self.D == 1 else (f", :{self.H}" if d == 0 else f", {self.H}:")
        if t == "lengths - 1":
            b = f"torch.arange({self.B})"
            return f"output[{b}, lengths - 1{half}]" if self.c.batch_first else f"output[lengths - 1, {b}{half}]"
        if self.c.batch_first:
            return f"output[:, {t}{half}]"
        return f"output[{t}, :{half}]" if half else f"output[{t}]"

    def last(self, d: int | None = None) -> str:
        """output at each sequence's last real step: t = T-1 when none is shorter."""
        return self.at("-1" if self.full else "lengths - 1", d)

    def top(self, d: int) -> str:
        """The top layer's direction-d row of h_n."""
        return f"h_n[{d - self.D}]"

    def setup(self) -> str:
        if self.c.packed:
            return f"output, lengths = pad_packed_sequence(output, batch_first={self.c.batch_first})"
        return "" if self.full else "lengths = torch.as_tensor(lengths)  # each sequence's real length, (B,)"


@dataclass(frozen=True)
class _Need:
    """A need: its right code, why, its check, and the tempting codes with what each holds instead."""

    need: str
    code: str
    note: str
    check: str | None
    tempting: tuple[tuple[str, str], ...] = ()  # (code, what it holds), listed where it is wrong for the run
    batch_axis: int = 0


def _forward_last(k: _Code) -> _Need:
    need = "each sequence's last real state, forward (top layer)"
    after_pads = "the state after the <pad> steps, not at its last real character"
    tempting = [
        (k.at("-1", 0), "output at t = T-1: " + ("padding (0) for a short sequence" if k.c.packed else after_pads))
    ]
    if k.L > 1:
        tempting.append(("h_n[0]", "layer 0's final state: output and the top layer are above it"))
    if k.D == 2:
        tempting.append(("h_n[-1]", "the top layer's backward final state (at t = 0), not its forward one"))
    if k.ends_real:
        return _Need(
            need,
            k.top(0),
            "h_n's top forward row: each sequence's forward direction ends at its last real step"
            + (" (packed)." if k.c.packed else "."),
            f"torch.equal({k.top(0)}, {k.last(0)})",
            tuple(tempting),
        )
    full = f"lengths == {k.T}"
    return _Need(
        need,
        k.last(0),
        "Not packed, the layer reads the <pad> steps too, so h_n holds a short sequence's state after them: "
        "take output at each last real step.",
        f"torch.equal({k.last(0)}[{full}], {k.top(0)}[{full}])" if k.T in k.lengths else None,
        ((k.top(0), f"h_n: {after_pads}"), *tempting),
    )


def _bidirectional(k: _Code) -> list[_Need]:
    if k.D == 1:
        return []
    both = f"torch.cat([{k.top(0)}, {k.top(1)}], dim=1)"
    forward = k.top(0) if k.ends_real else k.last(0)
    classifier = f"torch.cat([{forward}, {k.top(1)}], dim=1)"
    starts = "its backward half is where that direction starts, not its final state"
    tempting = [(k.at("-1"), f"output at t = T-1: {starts}")]
    if not k.full:
        tempting.append((k.at("lengths - 1"), f"output at each last real step: {starts}"))
    tempting.append((k.top(1), "the top layer's backward state only: [B, H], not [B, 2H]"))
    if not k.ends_real:
        tempting.append((both, "not packed: its forward half is the state after the <pad> steps"))
    if k.B > 1:
        tempting.append(
            (f"h_n[-2:].reshape({k.B}, -1)", "reshape reads h_n[-2:] direction by direction: rows mix sequences")
        )
    classify = _Need(
        "a classifier's features: the top layer's two final states, concatenated",
        classifier,
        "The forward direction ends at each last real step, the backward one at t = 0"
        + ("." if k.ends_real else "; not packed, the backward one read the <pad> steps first (pack to avoid it)."),
        f"torch.equal({classifier}, torch.cat([{k.last(0)}, {k.at('0', 1)}], dim=1))",
        tuple(tempting),
    )
    rows = "" if k.ends_real else f"[lengths == {k.T}]"  # not packed: only a full-length sequence starts there
    backward = _Need(
        "the backward direction at each sequence's last real step (top layer)",
        k.last(1),
        "Where the backward direction starts: it has read that step only"
        + ("" if k.ends_real else " (not packed, a short sequence's has read the <pad> steps before it)")
        + "; the check's first_states is that first state by hand, one cell step a layer from h_0.",
        None
        if k.c.draws_masks or not (k.ends_real or k.T in k.lengths)
        else f"torch.allclose({k.last(1)}{rows}, first_states{rows}, atol={k.tolerance}, rtol={k.tolerance})",
        ((k.top(1), "the backward direction's final state, at t = 0, where it ends"),),
    )
    return [classify, backward]


def _every_layer(k: _Code) -> _Need:
    code = "h_n" if k.D == 1 else f"h_n.view({k.L}, 2, {k.B}, {k.H}).permute(0, 2, 1, 3).reshape({k.L}, {k.B}, -1)"
    stacked = f"torch.stack([torch.cat([h_n[l * {k.D} + d] for d in range({k.D})], dim=1) for l in range({k.L})])"
    tempting = (
        ((f"h_n.view({k.L}, {k.B}, {2 * k.H})", "view reads h_n in memory order: rows mix directions and sequences"),)
        if k.D == 2 and k.B > 1
        else ()
    )
    return _Need(
        "every layer's final state, directions side by side: [L, B, D*H]",
        code,
        "h_n[l*D + d] is layer l, direction d" + ("" if k.ends_real else "; not packed, forward after the <pad> steps"),
        f"torch.equal({code}, {stacked})",
        tempting,
        batch_axis=1,
    )


def _cell_states(k: _Code) -> list[_Need]:
    if not CELLS[k.c.cell].has_cell_state:
        return []
    code = "torch.cat([c_n[-2], c_n[-1]], dim=1)" if k.D == 2 else "c_n[-1]"
    return [
        _Need(
            "c_n's counterpart: the top layer's final cell states",
            code,
            "c_n is laid out like h_n, its last axis hidden (never projected); output holds no cell state"
            + ("." if k.ends_real else ": not packed, the forward one is after the <pad> steps (pack to avoid it)."),
            f"tuple({code}.shape) == {(k.B, k.D * k.hidden)}",
        )
    ]


def _evaluate(need: _Need, ns: dict) -> list[Recipe]:
    """The need's recipe, evaluated, then each tempting code that is wrong here, as a lesson with the numbers."""
    right = _eval(need.code, ns)
    found = [Recipe(need.need, need.code, right, need.note, need.check, _check(need.check, ns))]
    for code, holds_instead in need.tempting:
        value = _eval(code, ns)
        same = value.shape == right.shape
        if same and torch.equal(value, right):
            continue  # right here, by this run's shapes and lengths: no lesson
        B = right.shape[need.batch_axis]
        wrong = tuple(range(B))
        if same:
            wrong = tuple(b for b in range(B) if not torch.equal(value.select(need.batch_axis, b),
                                                                 right.select(need.batch_axis, b)))  # fmt: skip
        found.append(
            Recipe(
                need.need,
                code,
                value,
                holds_instead,
                f"torch.equal({code}, {need.code})",
                False,
                lesson=True,
                max_abs_diff=float((value - right).abs().max()) if same else None,
                differs=wrong,
            )
        )
    return found


def _check(check: str | None, ns: dict) -> bool | None:
    return None if check is None else bool(_eval(check, ns))


def _eval(code: str, ns: dict):
    """Evaluate code built in this module (never user text) on the run's tensors."""
    return eval(code, dict(ns))


def _backward_first_states(run) -> torch.Tensor | None:
    """The top layer's backward state where that direction starts, by hand: one cell step a layer from h_0 (B, H).

    Layer l reads, at that step, the layer below's output there: its forward final state (h_n, the run ending there:
    packed, or at T-1) beside its backward first state. None for one direction, or with dropout between layers.
    """
    c = run.config
    if c.directions == 1 or c.draws_masks:
        return None
    x = run.embedded.transpose(0, 1) if c.batch_first else run.embedded  # (T, B, E)
    B, T = x.shape[1], x.shape[0]
    starts = torch.tensor(run.batch.lengths) - 1 if c.packed else torch.full((B,), T - 1)  # (B,)
    step, inputs = cell_step(c), x[starts, torch.arange(B)]  # (B, E)
    with contract_threads(), torch.no_grad():
        for layer in range(c.layers):
            k = 2 * layer + 1
            h = run.h_0[k] if run.h_0 is not None else x.new_zeros(B, c.state_size)  # (B, H)
            cell = run.c_0[k] if run.c_0 is not None else x.new_zeros(B, c.hidden)  # (B, hidden)
            first = step(inputs, h, cell, layer_weights(run.weights, layer, 1))["h"]  # (B, H)
            inputs = torch.cat([run.h_n[2 * layer], first], dim=1)  # (B, 2H): the layer's output at that step
    return first


# -----------------------------------------------------------------------------
# What comes after output: pooling it over time, attending over it, merging its directions


def after_output(run) -> Recipes:
    """What people compute from output next (a many-to-one classifier's input, pooling, attention, merged directions),
    each evaluated on the run beside the wrong way that ignores the padding or the directions."""
    k = _Code(run)
    ns = {"torch": torch, "output": run.output, "h_n": run.h_n, "lengths": torch.tensor(run.batch.lengths)}
    setup = _after_setup(k)
    exec(setup.split("\n", 1)[1], ns)  # batch, mask, query (built here); the run's output is padded already
    needs = [_last_real(k), _masked_mean(k), _masked_max(k), _attention(k), *_merged(k)]
    return Recipes(setup, tuple(item for need in needs for item in _evaluate(need, ns)))


def _after_setup(k: _Code) -> str:
    """output batch-major, the mask of real steps and a seeded query, from what the layer returned."""
    c, T, DH = k.c, k.T, k.D * k.H
    total = f", total_length={T}" if c.packed and c.total_length else ""
    lines = [f"output, lengths = pad_packed_sequence(output, batch_first={c.batch_first}{total})" if c.packed
             else "lengths = torch.as_tensor(lengths)  # each sequence's real length, (B,)"]  # fmt: skip
    lines.append(f"batch = {'output' if c.batch_first else 'output.transpose(0, 1)'}  # (B, T, D*H)")
    lines.append(f"mask = torch.arange({T})[None, :] < lengths[:, None]  # (B, T): True at each real step")
    lines.append(f"query = torch.randn({DH}, generator=torch.Generator().manual_seed(0), dtype=batch.dtype)  # (D*H,)")
    return "\n".join(lines)


def _last_real(k: _Code) -> _Need:
    code = f"batch[torch.arange({k.B}), lengths - 1]"
    loop = "torch.stack([batch[b, n - 1] for b, n in enumerate(lengths.tolist())])"
    after_pads = "padding, exactly 0, for a short sequence" if k.c.packed else "the state after the `<pad>` steps"
    backward = "; its backward half is where that direction starts (`h_n[-1]` is where it ends)" if k.D == 2 else ""
    return _Need(
        "a many-to-one classifier's input: each sequence's output at its last real step",
        code,
        f"Indexed per sequence at lengths - 1, `[B, D*H]`{backward}.",
        f"torch.equal({code}, {loop})",
        () if k.full else (("batch[:, -1]", f"output at t = T-1: {after_pads}"),),
    )


def _masked_mean(k: _Code) -> _Need:
    code = "(batch * mask[..., None]).sum(1) / lengths[:, None]"
    loop = "torch.stack([batch[b, :n].mean(0) for b, n in enumerate(lengths.tolist())])"
    pads = "the pads' zeros, dividing by T" if k.c.packed else "the states at the `<pad>` steps"
    return _Need(
        "mean pooling over time, each sequence over its real steps",
        code,
        "The pads masked out of the sum, divided by each sequence's own length: `[B, D*H]`.",
        f"torch.allclose({code}, {loop}, atol={k.tolerance}, rtol={k.tolerance})",
        () if k.full else (("batch.mean(1)", f"the mean over all T steps: it counts {pads}"),),
    )


def _masked_max(k: _Code) -> _Need:
    code = 'batch.masked_fill(~mask[..., None], float("-inf")).amax(1)'
    loop = "torch.stack([batch[b, :n].amax(0) for b, n in enumerate(lengths.tolist())])"
    pads = "a pad's 0 beats every negative unit" if k.c.packed else "the `<pad>` steps' states compete"
    return _Need(
        "max pooling over time, each sequence over its real steps",
        code,
        "The pads set to -inf first, so the max is over real steps only: `[B, D*H]`.",
        f"torch.equal({code}, {loop})",
        () if k.full else (("batch.amax(1)", f"the max over all T steps: {pads}"),),
    )


def _attention(k: _Code) -> _Need:
    code = 'torch.softmax((batch @ query).masked_fill(~mask, float("-inf")), dim=1)'
    pads = "a pad's score is 0, yet softmax gives it exp(0) / sum" if k.c.packed else "the `<pad>` steps get weight"
    return _Need(
        "attention weights over time with a padding mask (a dot-product score with a query)",
        code,
        "Scores at the pads set to -inf before softmax: they get weight exactly 0, and each row sums to 1: `[B, T]`.",
        f"bool(({code})[~mask].eq(0).all()) and torch.allclose(({code}).sum(1), "
        f"torch.ones({k.B}, dtype=batch.dtype), atol={k.tolerance}, rtol={k.tolerance})",
        () if k.full else (("torch.softmax(batch @ query, dim=1)", f"no mask: {pads}"),),
    )


def _merged(k: _Code) -> list[_Need]:
    if k.D == 1:
        return []
    code = "torch.cat([h_n[-2], h_n[-1]], dim=1)"
    view = f"h_n.view({k.L}, 2, {k.B}, {k.H})[-1].permute(1, 0, 2).reshape({k.B}, -1)"
    return [
        _Need(
            "the two directions merged: the top layer's final states concatenated",
            code,
            f"Forward then backward side by side: `[B, 2H]` = `{[k.B, 2 * k.H]}`, as output's last axis is.",
            f"torch.equal({code}, {view})",
            (("h_n[-2] + h_n[-1]", f"their sum: `[B, H]` = `{[k.B, k.H]}`, half the features, the directions mixed"),),
        )
    ]
