"""Every run of a config: the run itself (a task's training first), and the comparisons its relations need.

A comparison is another computation of the same run (by hand, on the CPU, in one piece, in eval mode, rebuilt
from one-layer modules) whose tensors the relations name with its prefix: whole_output, whole_h_n, whole_c_n. Each
is one Comparison entry: when it applies, how it is computed, and the code the exported script writes for it. A
catalog entry that compares with one says so (rnnviz.relations.entry's needs).
"""

import inspect
from collections.abc import Callable
from dataclasses import dataclass

from rnnviz import model
from rnnviz.cells import CELLS, step_code
from rnnviz.config import Config
from rnnviz.model import (
    RunResult,
    cat_states,
    drop,
    layer_forward,
    layer_modules,
    rebuild,
    reverse_steps,
    stack_forward,
    state_rows,
)
from rnnviz.recompute import Reference, by_hand, layer_weights, run_direction
from rnnviz.relations import Gradients
from rnnviz.training import trained


def run(config: Config) -> RunResult:
    """Run config: a task's config trains first (once per process, rnnviz.training.trained), then runs its weights."""
    return model.run(config, None if config.task == "none" else trained(config))


@dataclass(frozen=True)
class Comparison:
    """Another computation of a run that relations compare it with; its tensors are {name}_output, {name}_h_n, ..."""

    name: str
    what: str  # in words, for docs/catalog.md
    applies: Callable[[RunResult], bool]
    compute: Callable[[RunResult, Reference], object]  # (the run, its hand recomputation) -> tensors of the run
    code: Callable[[RunResult], str] | None  # the exported script's lines for it; None: not in the script
    setup: Callable[[RunResult], str] | None = None  # script code that comparisons share, written once before them
    on_request: bool = False  # computed only when asked for (the gradients)


def _by_hand_code(result: RunResult) -> str:
    c = result.config
    sources = [inspect.getsource(f) for f in (CELLS[c.cell].step, layer_weights, run_direction, by_hand)]
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
        setup=_rebuild_code,
    )


def _eval_code(result: RunResult) -> str:
    if not result.config.train_mode:
        return "eval_output, eval_h_n, eval_c_n = output, h_n, c_n  # this run is in eval mode"
    return f"_, eval_output, eval_h_n, eval_c_n, *_ = run({result.device!r}, train=False)  # dropout off"


def gradient_checks(result: RunResult) -> Gradients:
    """The connectivity map of a run and its finite-difference check."""
    from rnnviz.gradients import FD_TOLERANCE, connectivity, finite_difference_check  # torch.func: when asked

    values = connectivity(result)
    return Gradients(values, *finite_difference_check(result, values), FD_TOLERANCE)


COMPARISONS = (
    Comparison(
        "ref",
        "The cell equations by hand from the weights (they start from zeros and drop nothing): h0 zeros, no masks.",
        applies=lambda r: r.config.h0 == "zeros" and not r.config.draws_masks,
        compute=lambda result, reference: reference,
        code=_by_hand_code,
    ),
    Comparison(
        "cpu",
        "The same config on the CPU: a run on CUDA.",
        applies=lambda r: r.device == "cuda",
        compute=lambda result, reference: run(result.config.replace(device="cpu")),
        code=lambda r: "_, cpu_output, cpu_h_n, cpu_c_n, *_ = run('cpu')  # the same weights, on the CPU",
    ),
    Comparison(
        "whole",
        "The run in one piece from zeros: h0 carry, no masks (in train mode each call draws masks of its own).",
        applies=lambda r: r.config.h0 == "carry" and not r.config.draws_masks,
        compute=lambda result, reference: run(result.config.replace(h0="zeros", split=0)),
        code=lambda r: f"_, whole_output, whole_h_n, whole_c_n, *_ = run({r.device!r}, split=0)  # in one piece",
    ),
    Comparison(
        "eval",
        "The run in eval mode (this run where it is one): train mode or dropout set.",
        applies=lambda r: r.config.train_mode or bool(r.config.dropout),
        compute=lambda result, reference: (
            run(result.config.replace(train_mode=False)) if result.config.train_mode else result
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
        "grad",
        "The gradients map and its finite-difference check: on request (--gradients, the Gradients tab).",
        applies=lambda r: True,
        compute=lambda result, reference: gradient_checks(result),
        code=None,
        on_request=True,
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
