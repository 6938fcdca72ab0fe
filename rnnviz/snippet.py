"""The exported code: a standalone torch script that rebuilds a run and asserts its relations.

User text enters the script only through repr(), so the script is valid Python
for any input; the call, the rebuild from one-layer modules and the hand recomputation
are the very source of rnnviz.model and rnnviz.recompute.
"""

import inspect

import torch

from rnnviz.brackets import TASK_VOCAB
from rnnviz.cells import CELLS, step_code
from rnnviz.model import (
    THREADS,
    cat_states,
    drop,
    forward,
    forward_in_chunks,
    layer_forward,
    layer_modules,
    reverse_steps,
    stack_forward,
    state_rows,
)
from rnnviz.recompute import by_hand, layer_weights, run_direction

REBUILDS = {  # prefix in the relations -> the rebuild's arguments (per_direction, backward)
    "by_layer": "False",
    "by_direction": "True",
    "mirror": 'True, backward=""',
}


def make_snippet(result, relations) -> str:
    """A Python script (torch only) that reproduces result's tensors and checks every relation."""
    c = result.config
    return "\n".join(
        [
            _header(result),
            _batch(c),
            _trained(result),
            _model(result),
            _other_runs(result, relations),
            _by_hand(c),
            _rebuilds(result, relations),
            _relations(result, relations),
        ]
    )


def _header(result) -> str:
    c = result.config
    tensors = "output, h_n and c_n" if CELLS[c.cell].has_cell_state else "output and h_n"
    return f'''"""Rebuild one rnnviz run and check how {tensors} relate.

Made by rnnviz with torch {torch.__version__}; run it with: python this_file.py
"""

from functools import partial

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

torch.set_num_threads({THREADS})  # rnnviz's contract: one thread gives the same bits on any machine
'''


def _batch(c) -> str:
    layout = "padded  # (B, T): batch_first" if c.batch_first else "padded.t().contiguous()  # (T, B): time-major"
    vocab = (
        f"vocab = {list(TASK_VOCAB)!r}  # the brackets task's: its embedding was trained on it"
        if c.task != "none"
        else 'vocab = ["<pad>"] + sorted(set("".join(sequences)))'
    )
    return f"""
# --- The batch: vocabulary, ids, zero padding ---------------------------------
sequences = {list(c.sequences)!r}
{vocab}
ids = [[vocab.index(ch) for ch in seq] for seq in sequences]
lengths = [len(seq) for seq in ids]
padded = torch.zeros(len(ids), max(lengths), dtype=torch.long)  # (B, T)
for b, seq in enumerate(ids):
    padded[b, : len(seq)] = torch.tensor(seq, dtype=torch.long)
inputs = {layout}
"""


def _trained(result) -> str:
    """The trained weights of a task, written out (exact: every float32 is a Python float)."""
    if result.training is None:
        return ""
    t = result.training
    parts = {part: {name: w.tolist() for name, w in getattr(t, part).items()} for part in ("embedding", "rnn")}
    return f"""
# --- The weights rnnviz trained on bracket text ({t.steps} Adam steps, seed {t.config.seed}), exactly
trained = {parts!r}
"""


def _model(result) -> str:
    c = result.config
    lstm = CELLS[c.cell].has_cell_state
    kwargs = f"num_layers={c.layers}, bidirectional={c.bidirectional}, batch_first={c.batch_first}"
    if CELLS[c.cell].has_nonlinearity:
        kwargs += f", nonlinearity={c.nonlinearity!r}"
    if c.proj:
        kwargs += f", proj_size={c.proj}"
    if c.dropout:
        kwargs += f", dropout={c.dropout!r}"
    rows, B = c.layers * c.directions, len(c.sequences)
    state = "None  # h_0 (and c_0): zeros, torch's default"
    if c.h0 == "random":
        h_0 = f"torch.randn({rows}, {B}, {c.state_size})"
        state = f"({h_0}, torch.randn({rows}, {B}, {c.hidden}))" if lstm else h_0
        state += "  # h_0 (then c_0): drawn right after building"
    load = (
        "\n    embedding.load_state_dict({k: torch.tensor(v) for k, v in trained['embedding'].items()})"
        "\n    rnn.load_state_dict({k: torch.tensor(v) for k, v in trained['rnn'].items()})"
        if c.task != "none"
        else ""
    )
    to = f"to(device=device, dtype=torch.{c.dtype})"
    move = f"tuple(s.{to} for s in state)" if lstm else f"state.{to}"
    masks = "torch.get_rng_state()  # train mode draws its dropout masks from here" if c.draws_masks else "None"
    pair = "h_n, c_n = final" if lstm else "h_n, c_n = final, None"
    handed = {"zeros": "None", "random": "state", "carry": "carried or (None, None)" if lstm else "carried"}[c.h0]
    handed = f"h_0, c_0 = {handed}" if lstm and c.h0 != "zeros" else f"h_0, c_0 = {handed}, None"
    sources = "\n\n".join(inspect.getsource(f) for f in (forward, forward_in_chunks))
    lines = f"""
# --- The model: seed, then nn.Embedding, then the recurrent layer, in that order
{sources}

def run(device, split={c.chunk}, train={c.train_mode}):
    torch.manual_seed({c.seed})
    embedding = nn.Embedding(len(vocab), {c.embedding})
    rnn = {CELLS[c.cell].module_name}({c.embedding}, {c.hidden}, {kwargs})
    state = {state}{load}
    embedding.{to}
    rnn.{to}
    state = None if state is None else {move}
    rnn.train(train)  # train mode: dropout on (between layers); eval mode: off
    with torch.no_grad(), torch.backends.cudnn.flags(enabled=True, deterministic=True, allow_tf32=False):
        masks = {masks}
        embedded = embedding(inputs.to(device))  # {"(B, T, E)" if c.batch_first else "(T, B, E)"}
        output, final, carried = forward_in_chunks(rnn, embedded, lengths, {c.packed}, state, split)
    {pair}
    {handed}  # the state handed to torch as h_0 (random: before t = 0; carry: to the second chunk)
    weights = {{name: p.detach().cpu() for name, p in rnn.named_parameters()}}
    cpu = [None if t is None else t.cpu() for t in (embedded, output, h_n, c_n, h_0, c_0)]
    return (*cpu, weights, masks)


embedded, output, h_n, c_n, h_0, c_0, weights, masks = run({result.device!r})
hv = h_n.view({c.layers}, {c.directions}, {B}, {c.state_size})  # (L, D, B, H)
print("output", tuple(output.shape), "h_n", tuple(h_n.shape), "c_n", None if c_n is None else tuple(c_n.shape))
"""
    return lines


def _other_runs(result, relations) -> str:
    """The other runs the relations compare with: on the CPU (CUDA), whole (chunks), in eval mode (dropout)."""
    c, used = result.config, _prefixes(relations)
    lines = []
    if "cpu" in used:
        lines.append("_, cpu_output, cpu_h_n, cpu_c_n, *_ = run('cpu')  # the same weights, on the CPU")
    if "whole" in used:
        lines.append(f"_, whole_output, whole_h_n, whole_c_n, *_ = run({result.device!r}, split=0)  # in one piece")
    if "eval" in used:
        lines.append(
            f"_, eval_output, eval_h_n, eval_c_n, *_ = run({result.device!r}, train=False)  # dropout off"
            if c.train_mode
            else "eval_output, eval_h_n, eval_c_n = output, h_n, c_n  # this run is in eval mode"
        )
    return "\n".join(lines) + "\n" if lines else ""


def _by_hand(c) -> str:
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


def _rebuilds(result, relations) -> str:
    """The stack again from one-layer modules: by layer, by direction, and the backward one with forward weights."""
    c = result.config
    used = [prefix for prefix in REBUILDS if prefix in _prefixes(relations)]
    if not used:
        return ""
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
    lines = [
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
            layers, x, lengths, {c.packed}, {initial}, {c.chunk}, {c.dropout if c.draws_masks else 0.0}
        )
    {pair}
    return outputs[-1]{to_layout}, h, c, h.view({c.layers}, {c.directions}, {len(c.sequences)}, {c.state_size})

""",
    ]
    lines += [f"{p}_output, {p}_h_n, {p}_c_n, {p}_hv = rebuild({REBUILDS[p]})" for p in used]
    return "\n".join(lines) + "\n"


def _prefixes(relations) -> set[str]:
    """The other runs' prefixes that the relations' expressions name (whole_output -> whole)."""
    names = {"cpu", "whole", "eval", *REBUILDS}
    return {name for name in names for rel in relations if f"{name}_" in rel.expression}


def _relations(result, relations) -> str:
    c = result.config
    lines = ["\n# --- The relations: guaranteed ones are asserted, lessons (tempting claims) printed ---"]
    if any("padding" in rel.expression for rel in relations):
        layout = ".t()" if c.batch_first else ""
        lines.append(
            f"padding = (torch.arange({result.batch.max_length})[:, None] >= torch.tensor(lengths)[None, :]){layout}"
            "  # past each length"
        )
    for rel in relations:
        if rel.expected:
            lines.append(f"assert {rel.expression}, {rel.id + ': ' + rel.statement!r}")
        else:
            lines.append(f"print({rel.id + ' (a lesson, usually False):'!r}, {rel.expression})")
    guaranteed = sum(rel.expected for rel in relations)
    lines.append(f'print("all {guaranteed} guaranteed relations hold")')
    return "\n".join(lines) + "\n"
