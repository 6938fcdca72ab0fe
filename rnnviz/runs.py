"""Every run of a config: the run itself (a task's training first), and the comparisons its relations need.

A comparison is another computation of the same run (by hand, on the CPU, in one piece, in eval mode, rebuilt
from one-layer modules) whose tensors the relations name with its prefix: whole_output, whole_h_n, whole_c_n. Each
is one Comparison entry: when it applies, how it is computed, and the code the exported script writes for it. A
catalog entry that compares with one says so (rnnviz.relations.entry's needs).
"""

import dataclasses
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from types import MappingProxyType
from typing import NamedTuple

import torch
from torch import nn

from rnnviz import model
from rnnviz.cell_loop import cell_loop, make_cells
from rnnviz.cells import CELLS, paper_gru_step, step_code
from rnnviz.config import Config
from rnnviz.dropout import draw_masks, masks, shared_across_time
from rnnviz.model import (
    BUILD_LOCK,
    RunResult,
    Stack,
    cat_states,
    contract_threads,
    direction_module,
    drop,
    layer_by_layer,
    layer_forward,
    layer_modules,
    rebuild,
    reverse_steps,
    stack_forward,
    state_rows,
)
from rnnviz.positions import first_step, last_step
from rnnviz.recompute import Reference, by_hand, layer_weights, output_gates, recomputable, run_direction
from rnnviz.relations import Gradients, is_gru
from rnnviz.training import trained
from rnnviz.weights import forget_bias, move_bias


def run(config: Config, weights_file=None) -> RunResult:
    """Run config: a task's config trains first (once per process, rnnviz.training.trained), then runs its weights;
    weights_file (an rnnviz.weights_file.Weights) runs a file's recurrent weights."""
    return model.run(config, None if config.task == "none" else trained(config), weights_file)


@dataclass(frozen=True)
class Comparison:
    """Another computation of a run that relations compare it with; its tensors are {name}_output, {name}_h_n, ..."""

    name: str
    what: str  # in words, for docs/catalog.md
    applies: Callable[[RunResult], bool]
    compute: Callable[[RunResult, Reference], object]  # (the run, its hand recomputation) -> tensors of the run
    code: Callable[[RunResult], str] | None  # the exported script's lines for it; None: not in the script
    setup: tuple = ()  # functions (RunResult) -> script code that comparisons share, each written once before them
    on_request: bool = False  # computed only when asked for (the gradients)


def _step_code(result: RunResult) -> str:
    """The cell's step by hand and the weights of one layer and direction: plain torch, their very source."""
    sources = [inspect.getsource(f) for f in (CELLS[result.config.cell].step, layer_weights)]
    return "\n# --- The cell's step by hand, from the weights ------------------------------\n" + "\n\n".join(sources)


def _by_hand_code(result: RunResult) -> str:
    c = result.config
    sources = [inspect.getsource(f) for f in (run_direction, by_hand)]
    lengths = "lengths" if c.packed else "[x.shape[0]] * x.shape[1]"
    to_layout = ".transpose(0, 1)" if c.batch_first else ""
    return (
        "\n# --- The cell equations by hand, from the weights ---------------------------\n"
        + "\n\n".join(sources)
        + f"""

x = embedded{to_layout}  # (T, B, E): the hand recomputation runs time-major
step, steps = {step_code(c)}, torch.tensor({lengths})  # steps: how many steps each sequence takes
layer_outputs, _, ref_h_n, ref_c_n = by_hand(step, x, steps, weights, {c.layers}, {c.directions}, {c.hidden})
ref_output = layer_outputs[-1]{to_layout}
"""
    )


def _rebuild_code(result: RunResult) -> str:
    """The functions that rebuild the stack from one-layer modules holding the run's weights, and rebuild()."""
    c = result.config
    functions = (state_rows, cat_states, reverse_steps, layer_modules, layer_forward, drop, stack_forward)
    options = f", nonlinearity={c.nonlinearity!r}" if CELLS[c.cell].has_nonlinearity else ""
    options += f", proj_size={c.proj}" if c.proj else ""
    lstm = CELLS[c.cell].has_cell_state
    initial = "None"
    if c.h0 == "random":
        initial = "(h_0, c_0)" if lstm else "h_0"
    again = "torch.set_rng_state(masks)  # the dropout masks again, drawn where the run drew them\n    " * c.draws_masks
    to_layout = ".transpose(0, 1)" if c.batch_first else ""
    pair = "h, c = final" if lstm else "h, c = final, None"
    x = "embedded.transpose(0, 1)" if c.batch_first else "embedded"
    return "\n".join(
        [
            "\n# --- The stack rebuilt from one-layer modules holding the run's weights -----",
            "\n\n".join(inspect.getsource(f) for f in functions),
            f"""
def make(inputs, bidirectional):
    \"\"\"An empty one-layer module (layer_modules puts the run's weights in place of its random init).\"\"\"
    return {CELLS[c.cell].module_name}(inputs, {c.hidden}, bidirectional=bidirectional{options})


def rebuild(per_direction, backward="_reverse"):
    layers = [layer_modules(make, weights, k, {c.directions}, per_direction, backward) for k in range({c.layers})]
    {again}with torch.no_grad():
        outputs, final = stack_forward(
            layers, {x}, lengths, {c.packed}, {initial}, {c.chunk}, {c.dropout if c.draws_masks else 0.0}
        )
    {pair}
    return outputs[-1]{to_layout}, h, c, h.view({c.layers}, {c.directions}, {len(c.sequences)}, {c.state_size})
""",
        ]
    )


def _rebuilt(name: str, what: str, applies, arguments: str, **options) -> Comparison:
    """A comparison with the stack rebuilt from one-layer modules: rebuild(result, **options), in the script
    rebuild(arguments)."""
    return Comparison(
        name,
        what,
        applies,
        compute=lambda result, reference: rebuild(result, **options),
        code=lambda result: f"{name}_output, {name}_h_n, {name}_c_n, {name}_hv = rebuild({arguments})",
        setup=(_rebuild_code,),
    )


def _eval_code(result: RunResult) -> str:
    if not result.config.train_mode:
        return "eval_output, eval_h_n, eval_c_n = output, h_n, c_n  # this run is in eval mode"
    return f"_, eval_output, eval_h_n, eval_c_n, *_ = run({result.device!r}, train=False)  # dropout off"


class Alone(NamedTuple):
    """Each sequence's top-layer backward state at its first step, from that step of that sequence alone."""

    output: torch.Tensor  # (B, H)


def alone(result: RunResult) -> Alone:
    """The top layer's backward module run on each sequence's last real step alone, from zeros: its first state."""
    c = result.config
    x = _time_major(result)  # (T, B, E)
    below = x if c.layers == 1 else layer_by_layer(result)[-2]  # (T, B, E or D*H): the top layer's input
    backward = direction_module(result, c.layers - 1, 1)
    with contract_threads(), torch.no_grad():
        firsts = [backward(below[n - 1 : n, b : b + 1])[0][0, 0] for b, n in enumerate(result.batch.lengths)]
    return Alone(torch.stack(firsts))  # (B, H)


def _alone_code(result: RunResult) -> str:
    c = result.config
    x = "embedded.transpose(0, 1)" if c.batch_first else "embedded"
    below = (
        x
        if c.layers == 1
        else f"stack_forward([layer_modules(make, weights, k, 2, False) for k in range({c.layers - 1})], {x}, "
        f"lengths, True, None, 0, 0.0)[0][-1]"
    )
    return f"""
below = {below}  # (T, B, .): the top layer's input
backward = layer_modules(make, weights, {c.layers - 1}, 2, True)[1]  # the top layer's backward direction alone
with torch.no_grad():  # each sequence's last real step alone, from zeros: the backward direction's first state
    alone_output = torch.stack([backward(below[n - 1 : n, b : b + 1])[0][0, 0] for b, n in enumerate(lengths)])
"""


def transposed(result: RunResult):
    """The run again, its h_0 (and c_0) handed over as [B, L*D, H], like a batch-first input (B == L*D: taken)."""
    swap = lambda state: None if state is None else state.transpose(0, 1).contiguous()  # noqa: E731
    return rebuild(dataclasses.replace(result, h_0=swap(result.h_0), c_0=swap(result.c_0)))


TRANSPOSED_CODE = """
right = h_0, c_0  # hand h_0 (and c_0) over as [B, L*D, H], like a batch-first input: torch takes it when B == L*D
h_0, c_0 = (None if s is None else s.transpose(0, 1).contiguous() for s in right)
transposed_output, transposed_h_n, transposed_c_n, transposed_hv = rebuild(False)
h_0, c_0 = right
"""


class Gate(NamedTuple):
    """An LSTM's output gate where h_n is taken, and the projections W_hr (with proj_size)."""

    output: torch.Tensor  # (L*D, B, hidden)
    w_hr: torch.Tensor | None  # (L*D, proj, hidden)


def _time_major(result: RunResult) -> torch.Tensor:
    return result.embedded.transpose(0, 1) if result.config.batch_first else result.embedded  # (T, B, E)


def _run_steps(result: RunResult) -> tuple[list, list]:
    """starts[d][b] and ends[d][b]: where each direction's run that h_n keeps begins and ends."""
    c, lengths, T = result.config, result.batch.lengths, result.batch.max_length
    starts = [[int(t) for t in first_step(c, lengths, T, d)] for d in range(c.directions)]
    return starts, [[int(t) for t in last_step(c, lengths, T, d)] for d in range(c.directions)]


def _projections(result: RunResult) -> torch.Tensor | None:
    c = result.config
    D = c.directions
    names = [f"weight_hr_l{k // D}" + ("_reverse" if k % D else "") for k in range(len(result.h_n))]
    return torch.stack([result.weights[name] for name in names]) if c.proj else None  # (L*D, proj, hidden)


def gate(result: RunResult) -> Gate:
    """The output gate o_t of every layer and direction where h_n is taken, from the layers' own outputs."""
    starts, ends = _run_steps(result)
    layers = list(layer_by_layer(result))  # (T, B, D*H) each
    o = output_gates(CELLS[result.config.cell].step, _time_major(result), layers, result.weights, starts, ends,
                     result.h_0)  # fmt: skip
    return Gate(o, _projections(result))


def _gate_code(result: RunResult) -> str:
    c = result.config
    starts, ends = _run_steps(result)
    x = "embedded.transpose(0, 1)" if c.batch_first else "embedded"
    initial = "(h_0, c_0)" if c.h0 == "random" else "None"
    projections = (
        f"torch.stack([weights[f'weight_hr_l{{k // {c.directions}}}' + ('_reverse' if k % {c.directions} else '')] "
        f"for k in range({c.layers * c.directions})])"
        if c.proj
        else "None"
    )
    return f"""
{inspect.getsource(output_gates)}

every_layer, _ = stack_forward(
    [layer_modules(make, weights, k, {c.directions}, False) for k in range({c.layers})], {x}, lengths, {c.packed},
    {initial}, 0, 0.0,
)  # every layer's output (T, B, D*H)
gate_output = output_gates({CELLS[c.cell].step.__name__}, {x}, every_layer, weights, {starts}, {ends}, h_0)
gate_w_hr = {projections}  # (L*D, proj, hidden), with proj_size
"""


class Nudged(NamedTuple):
    """The stack from one-layer modules twice: from h_0 as drawn, and with only the top layer's forward row moved."""

    output: torch.Tensor  # like the run's output, the row moved
    h_n: torch.Tensor  # (L*D, B, H), the row moved
    base_output: torch.Tensor  # the same two from h_0 as drawn
    base_h_n: torch.Tensor


def nudged(result: RunResult) -> Nudged:
    """Row (L-1)*D of h_0 (and c_0), the top layer's forward direction, plus 1; every other row as drawn."""
    k = (result.config.layers - 1) * result.config.directions

    def nudge(state):
        return None if state is None else torch.cat([state[:k], state[k : k + 1] + 1, state[k + 1 :]])

    moved, base = rebuild(dataclasses.replace(result, h_0=nudge(result.h_0), c_0=nudge(result.c_0))), rebuild(result)
    return Nudged(moved.output, moved.h_n, base.output, base.h_n)


def _nudged_code(result: RunResult) -> str:
    k = (result.config.layers - 1) * result.config.directions
    return f"""
nudged_base_output, nudged_base_h_n, *_ = rebuild(False)  # from h_0 as drawn
right = h_0, c_0  # then only row {k} of h_0 (and c_0), the top layer's forward direction, moved by 1
h_0, c_0 = (None if s is None else torch.cat([s[:{k}], s[{k}:{k + 1}] + 1, s[{k + 1}:]]) for s in right)
nudged_output, nudged_h_n, *_ = rebuild(False)
h_0, c_0 = right
"""


class Query(NamedTuple):
    """A query vector to score each step of output against, drawn from a generator of its own (the run's untouched)."""

    query: torch.Tensor  # (D*H,)


def query(result: RunResult) -> Query:
    """A standard normal vector from a generator seeded 0, in the run's dtype (the script: _query_code)."""
    units = result.output.shape[-1]
    return Query(torch.randn(units, generator=torch.Generator().manual_seed(0), dtype=result.output.dtype))


def _query_code(result: RunResult) -> str:
    units = result.output.shape[-1]
    return f"attention_query = torch.randn({units}, generator=torch.Generator().manual_seed(0), dtype=output.dtype)"


def _swapped_code(result: RunResult, name: str, swap: str, arguments: str) -> str:
    """The run again with the batch changed by swap (lines that set inputs, lengths), then the batch put back."""
    return f"""
right = inputs, lengths
{swap}
_, {name}_output, {name}_h_n, {name}_c_n, *_ = run({result.device!r}{arguments})
inputs, lengths = right
"""


def gradient_checks(result: RunResult) -> Gradients:
    """The connectivity map of a run and its finite-difference check."""
    from rnnviz.gradients import FD_TOLERANCE, connectivity, finite_difference_check  # torch.func: when asked

    values = connectivity(result)
    return Gradients(values, *finite_difference_check(result, values), FD_TOLERANCE)


# -----------------------------------------------------------------------------
# Under the hood: the run with its weights edited, the loop over cells, the paper's GRU

BIAS_SEED = 0  # the generator of the part of bias_hh moved into bias_ih


def free_rows(config: Config) -> int:
    """The rows of bias_hh whose part may move into bias_ih for free: all of them, but a GRU's r and z only (its b_hn
    is multiplied by the reset gate)."""
    gates = CELLS[config.cell].gates
    return (2 if is_gru(config) else len(gates)) * config.hidden


def with_weights(result: RunResult, weights: dict) -> RunResult:
    """The run holding other weights (rebuild it to see what they compute)."""
    return dataclasses.replace(result, weights=MappingProxyType(weights))


def bias_split(result: RunResult) -> Stack:
    """The stack rebuilt with a seeded random part of every bias_hh moved into its bias_ih (free rows only)."""
    return rebuild(with_weights(result, move_bias(result.weights, free_rows(result.config), BIAS_SEED)))


def _bias_split_code(result: RunResult) -> str:
    rows = free_rows(result.config)
    return f"""
right = weights  # the run's weights, kept
weights = move_bias(right, {rows}, {BIAS_SEED})  # a random part of rows :{rows} of every bias_hh moved into bias_ih
bias_split_output, bias_split_h_n, bias_split_c_n, bias_split_hv = rebuild(False)
weights = right
"""


class Forget(NamedTuple):
    """An LSTM rebuilt twice: its forget slices 1 in both biases, and 1 in bias_ih, 0 in bias_hh."""

    both_output: torch.Tensor
    both_h_n: torch.Tensor
    both_c_n: torch.Tensor
    one_output: torch.Tensor
    one_h_n: torch.Tensor
    one_c_n: torch.Tensor


def forget(result: RunResult) -> Forget:
    """The stack rebuilt with every forget slice 1 in bias_ih and bias_hh, then 1 in bias_ih and 0 in bias_hh."""
    hidden = result.config.hidden
    both, one = (rebuild(with_weights(result, forget_bias(result.weights, hidden, 1.0, hh))) for hh in (1.0, 0.0))
    return Forget(both.output, both.h_n, both.c_n, one.output, one.h_n, one.c_n)


def _forget_code(result: RunResult) -> str:
    hidden = result.config.hidden
    return f"""
right = weights  # the run's weights, kept; rows {hidden}:{2 * hidden} of each bias are the forget gate's (i, f, g, o)
weights = forget_bias(right, {hidden}, 1.0, 1.0)  # 1 in both biases: they add, a forget bias of 2
forget_both_output, forget_both_h_n, forget_both_c_n, _ = rebuild(False)
weights = forget_bias(right, {hidden}, 1.0, 0.0)  # a forget bias of 1
forget_one_output, forget_one_h_n, forget_one_c_n, _ = rebuild(False)
weights = right
"""


def _weights_code(result: RunResult) -> str:
    """The functions that edit the weights: plain torch, their very source."""
    sources = "\n\n".join(inspect.getsource(f) for f in (forget_bias, move_bias))
    return "\n# --- The weights edited -------------------------------------------------------\n" + sources


class Loop(NamedTuple):
    """The run stepped by a Python loop over torch's cells, laid out like the run's tensors."""

    output: torch.Tensor
    h_n: torch.Tensor  # (L*D, B, H)
    c_n: torch.Tensor | None  # (L*D, B, hidden) for an LSTM


def _cell_module(config: Config) -> type:
    """torch's cell of the config's module: nn.RNNCell, nn.LSTMCell or nn.GRUCell."""
    return getattr(nn, f"{CELLS[config.cell].module.__name__}Cell")


def _cell_options(config: Config) -> str:
    return f", nonlinearity={config.nonlinearity!r}" if CELLS[config.cell].has_nonlinearity else ""


def loop(result: RunResult) -> Loop:
    """The run again as a Python loop over nn.RNNCell, nn.LSTMCell or nn.GRUCell holding its weights, on the CPU."""
    c = result.config
    options = {"nonlinearity": c.nonlinearity} if CELLS[c.cell].has_nonlinearity else {}

    def make(inputs):
        return _cell_module(c)(inputs, c.hidden, **options)

    with BUILD_LOCK, torch.random.fork_rng(devices=[]):  # their random init is overwritten: leave the RNG alone
        cells = make_cells(make, result.weights, c.layers, c.directions)
    x = _time_major(result)  # (T, B, E)
    lengths = result.batch.lengths if c.packed else [x.shape[0]] * x.shape[1]
    with contract_threads(), torch.no_grad():
        output, h_n, c_n = cell_loop(cells, x, lengths, result.h_0, result.c_0)  # (T, B, D*H)
    return Loop(output.transpose(0, 1) if c.batch_first else output, h_n, c_n)


def _loop_code(result: RunResult) -> str:
    c = result.config
    x = "embedded.transpose(0, 1)" if c.batch_first else "embedded"
    lengths = "lengths" if c.packed else "[x.shape[0]] * x.shape[1]"
    to_layout = ".transpose(0, 1)" if c.batch_first else ""
    cell = f"nn.{_cell_module(c).__name__}"
    sources = "\n\n".join(inspect.getsource(f) for f in (make_cells, cell_loop))
    return f"""
# --- The loop the module runs: {cell}, one a layer and direction, its weights --
{sources}


def make_cell(inputs):
    \"\"\"An empty cell (make_cells puts the run's weights in place of its random init).\"\"\"
    return {cell}(inputs, {c.hidden}{_cell_options(c)})


x = {x}  # (T, B, E)
with torch.no_grad():
    cells = make_cells(make_cell, weights, {c.layers}, {c.directions})
    cell_loop_output, cell_loop_h_n, cell_loop_c_n = cell_loop(cells, x, {lengths}, h_0, c_0)
cell_loop_output = cell_loop_output{to_layout}
"""


class Paper(NamedTuple):
    """A GRU recomputed by hand with Cho et al.'s candidate n_t, the reset gate before W_hn."""

    output: torch.Tensor  # like the run's output
    h_n: torch.Tensor  # (L*D, B, H)


def paper(result: RunResult) -> Paper:
    """The hand recomputation (rnnviz.recompute.by_hand) with paper_gru_step for torch's gru_step."""
    c = result.config
    x = _time_major(result)  # (T, B, E)
    lengths = torch.tensor(result.batch.lengths if c.packed else [x.shape[0]] * x.shape[1])  # (B,)
    with contract_threads(), torch.no_grad():
        layers, _, h_n, _ = by_hand(paper_gru_step, x, lengths, dict(result.weights), c.layers, c.directions, c.hidden)
    return Paper(layers[-1].transpose(0, 1) if c.batch_first else layers[-1], h_n)


def _paper_code(result: RunResult) -> str:
    c = result.config
    to_layout = ".transpose(0, 1)" if c.batch_first else ""
    return f"""
{inspect.getsource(paper_gru_step)}

paper_layers, _, paper_h_n, _ = by_hand(paper_gru_step, x, steps, weights, {c.layers}, {c.directions}, {c.hidden})
paper_output = paper_layers[-1]{to_layout}  # the paper's GRU: r_t applied to h before W_hn
"""


class Masks(NamedTuple):
    """The dropout masks the forward drew, and the variational-dropout claim about them."""

    zeroed: torch.Tensor  # (L-1, T, B, D*H) bool, time-major: True where a unit of that layer's output was zeroed
    shared: torch.Tensor  # the same shape: each sequence's step-0 mask at every step it has


def dropout_masks(result: RunResult) -> Masks:
    """The masks of rnnviz.dropout.masks, stacked, with the claim that one mask serves every step."""
    zeroed = torch.stack(masks(result))  # (L-1, T, B, D*H)
    return Masks(zeroed, shared_across_time(zeroed, result.batch.lengths, result.config.packed))


def _masks_code(result: RunResult) -> str:
    c = result.config
    sources = "\n\n".join(inspect.getsource(f) for f in (draw_masks, shared_across_time))
    arguments = (
        f"{c.dropout!r}, torch.{c.dtype}, lengths, {c.packed}, {c.chunk}, {c.layers}, {c.directions * c.state_size}"
    )
    return f"""
# --- The dropout masks the forward drew, again from the generator's state ------
{sources}

dropout_zeroed = torch.stack(draw_masks(masks, {arguments}))  # (L-1, T, B, D*H): True where a unit was zeroed
dropout_shared = shared_across_time(dropout_zeroed, lengths, {c.packed})  # one mask for every step (variational)
for layer, zeroed in enumerate(dropout_zeroed):
    print(f"layer {{layer}}'s output: {{int(zeroed.sum())}} of {{zeroed.numel()}} units zeroed over every step")
"""


COMPARISONS = (
    Comparison(
        "ref",
        "The cell equations by hand from the weights (they start from zeros and drop nothing): h0 zeros, no masks.",
        applies=lambda r: recomputable(r.config),
        compute=lambda result, reference: reference,
        code=_by_hand_code,
        setup=(_step_code,),
    ),
    Comparison(
        "cpu",
        "The same config on the CPU: a run on CUDA.",
        applies=lambda r: r.device == "cuda",
        compute=lambda result, reference: run(result.config.replace(device="cpu"), result.weights_file),
        code=lambda r: "_, cpu_output, cpu_h_n, cpu_c_n, *_ = run('cpu')  # the same weights, on the CPU",
    ),
    Comparison(
        "whole",
        "The run in one piece from zeros: h0 carry, no masks (in train mode each call draws masks of its own).",
        applies=lambda r: r.config.h0 == "carry" and not r.config.draws_masks,
        compute=lambda result, reference: run(
            result.config.replace(h0="zeros", split=0, detach=False), result.weights_file
        ),
        code=lambda r: f"_, whole_output, whole_h_n, whole_c_n, *_ = run({r.device!r}, split=0)  # in one piece",
    ),
    Comparison(
        "eval",
        "The run in eval mode (this run where it is one): train mode or dropout set.",
        applies=lambda r: r.config.train_mode or bool(r.config.dropout),
        compute=lambda result, reference: (
            run(result.config.replace(train_mode=False), result.weights_file) if result.config.train_mode else result
        ),
        code=_eval_code,
    ),
    _rebuilt("by_layer", "One-layer modules, one a layer: two layers or more.", lambda r: r.config.layers > 1, "False"),
    _rebuilt(
        "by_direction",
        "Each direction a one-direction module, the backward one on reversed steps: bidirectional.",
        lambda r: r.config.bidirectional,
        "True",
        per_direction=True,
    ),
    _rebuilt(
        "mirror",
        "The backward module holding the forward direction's weights: bidirectional.",
        lambda r: r.config.bidirectional,
        'True, backward=""',
        per_direction=True,
        backward="",
    ),
    Comparison(
        "gate",
        "An LSTM's output gate where h_n is taken, from each layer's own output: h0 zeros or random, no masks.",
        applies=lambda r: CELLS[r.config.cell].has_cell_state and r.config.h0 != "carry" and not r.config.draws_masks,
        compute=lambda result, reference: gate(result),
        code=_gate_code,
        setup=(_rebuild_code, _step_code),
    ),
    Comparison(
        "nudged",
        "The stack from one-layer modules, with and without the top layer's forward row of h_0 moved: h0 random, "
        "L*D > 1, no masks.",
        applies=lambda r: (
            r.config.h0 == "random" and r.config.layers * r.config.directions > 1 and not r.config.draws_masks
        ),
        compute=lambda result, reference: nudged(result),
        code=_nudged_code,
        setup=(_rebuild_code,),
    ),
    Comparison(
        "transposed",
        "The stack from one-layer modules, its h_0 handed as [B, L*D, H]: h0 random, B == L*D, no masks.",
        applies=lambda r: (
            r.config.h0 == "random"
            and len(r.config.sequences) == r.config.layers * r.config.directions
            and not r.config.draws_masks
        ),
        compute=lambda result, reference: transposed(result),
        code=lambda result: TRANSPOSED_CODE,
        setup=(_rebuild_code,),
    ),
    Comparison(
        "alone",
        "Each sequence's last real step alone through the top layer's backward module, from zeros: packed, "
        "bidirectional, h0 zeros, in one piece, no masks.",
        applies=lambda r: (
            r.config.packed and r.config.bidirectional and r.config.h0 == "zeros" and not r.config.draws_masks
        ),
        compute=lambda result, reference: alone(result),
        code=_alone_code,
        setup=(_rebuild_code,),
    ),
    Comparison(
        "packed",
        "The same config packed: zero padding, not packed, a sequence shorter than T, h0 zeros or random, no masks.",
        applies=lambda r: r.config.pad == "zero" and not r.config.packed and r.config.h0 != "carry"
        and not r.config.draws_masks and min(r.batch.lengths) < r.batch.max_length,
        compute=lambda result, reference: run(result.config.replace(packed=True), result.weights_file),
        code=lambda r: f"_, packed_output, packed_h_n, packed_c_n, *_ = run({r.device!r}, packed=True)  # packed",
    ),
    Comparison(
        "short",
        "The same config without total_length: the batch padded to its longest sequence only: packed with "
        "total_length.",
        applies=lambda r: r.config.total_length > 0,
        compute=lambda result, reference: run(result.config.replace(total_length=0), result.weights_file),
        code=lambda r: _swapped_code(
            r,
            "short",
            f"inputs = inputs[{':, ' * r.config.batch_first}:max(lengths)]  # to the longest sequence: no total_length",
            "",
        ),
    ),
    Comparison(
        "unsorted",
        "The same config with the batch as given, packed with enforce_sorted=False: sort manual.",
        applies=lambda r: r.config.sort == "manual",
        compute=lambda result, reference: run(result.config.replace(sort="auto"), result.weights_file),
        code=lambda r: _swapped_code(
            r,
            "unsorted",
            "unsort = sorted(range(len(order)), key=order.__getitem__)  # the inverse permutation\n"
            f"inputs, lengths = inputs[{':, ' * (not r.config.batch_first)}unsort], [lengths[b] for b in unsort]",
            ", manual=False",
        ),
    ),
    Comparison(
        "attention",
        "A seeded query vector for dot-product attention over output: packed, a sequence shorter than T.",
        applies=lambda r: r.config.packed and min(r.batch.lengths) < r.batch.max_length,
        compute=lambda result, reference: query(result),
        code=_query_code,
    ),
    Comparison(
        "grad",
        "The gradients map and its finite-difference check: on request (--gradients, the Gradients tab).",
        applies=lambda r: True,
        compute=lambda result, reference: gradient_checks(result),
        code=None,
        on_request=True,
    ),
    Comparison(
        "bias_split",
        "The stack from one-layer modules, a seeded random part of every bias_hh moved into its bias_ih (a GRU's r "
        "and z rows only): always.",
        applies=lambda r: True,
        compute=lambda result, reference: bias_split(result),
        code=_bias_split_code,
        setup=(_rebuild_code, _weights_code),
    ),
    Comparison(
        "forget",
        "The stack from one-layer modules twice: every forget slice 1 in both biases, and 1 in bias_ih, 0 in "
        "bias_hh: LSTM.",
        applies=lambda r: CELLS[r.config.cell].has_cell_state,
        compute=lambda result, reference: forget(result),
        code=_forget_code,
        setup=(_rebuild_code, _weights_code),
    ),
    Comparison(
        "cell_loop",
        "A Python loop over nn.RNNCell, nn.LSTMCell or nn.GRUCell holding the weights: h0 zeros or random, no masks, "
        "no proj_size (nn.LSTMCell has no projection).",
        applies=lambda r: not r.config.proj and r.config.h0 != "carry" and not r.config.draws_masks,
        compute=lambda result, reference: loop(result),
        code=_loop_code,
    ),
    Comparison(
        "paper",
        "The cell equations by hand with Cho et al.'s GRU candidate, the reset gate before W_hn: GRU, h0 zeros, no "
        "masks.",
        applies=lambda r: is_gru(r.config) and r.config.h0 == "zeros" and not r.config.draws_masks,
        compute=lambda result, reference: paper(result),
        code=_paper_code,
    ),
    Comparison(
        "other_detach",
        "The same carry with detach flipped: h0 carry.",
        applies=lambda r: r.config.h0 == "carry",
        compute=lambda result, reference: run(
            result.config.replace(detach=not result.config.detach), result.weights_file
        ),
        code=lambda r: (
            f"_, other_detach_output, other_detach_h_n, other_detach_c_n, *_ = run({r.device!r}, "
            f"detach={not r.config.detach})  # detach flipped"
        ),
    ),
    Comparison(
        "dropout",
        "The dropout masks, drawn again from the generator's state where the forward drew them: train mode, "
        "dropout, two layers or more.",
        applies=lambda r: r.config.draws_masks,
        compute=lambda result, reference: dropout_masks(result),
        code=_masks_code,
    ),
)


def comparisons(result: RunResult, reference: Reference, gradients: bool = False) -> dict:
    """name -> the comparison's tensors, for every comparison that applies to the run (those on request only when
    asked for)."""
    return {
        c.name: c.compute(result, reference)
        for c in COMPARISONS
        if c.applies(result) and (gradients or not c.on_request)
    }
