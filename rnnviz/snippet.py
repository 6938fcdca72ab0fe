"""The exported code: a standalone torch script that rebuilds a run and asserts its relations.

User text enters the script only through repr(), so the script is valid Python
for any input; the hand recomputation is the very source of rnnviz.recompute.
"""

import inspect

import torch

from rnnviz.cells import CELLS, step_code
from rnnviz.model import THREADS
from rnnviz.recompute import by_hand, layer_weights, run_direction


def make_snippet(result, relations) -> str:
    """A Python script (torch only) that reproduces result's tensors and checks every relation."""
    c = result.config
    return "\n".join(
        [
            _header(result),
            _batch(c),
            _model(result),
            _by_hand(c),
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
    return f"""
# --- The batch: vocabulary, ids, zero padding ---------------------------------
sequences = {list(c.sequences)!r}
vocab = ["<pad>"] + sorted(set("".join(sequences)))
ids = [[vocab.index(ch) for ch in seq] for seq in sequences]
lengths = [len(seq) for seq in ids]
padded = torch.zeros(len(ids), max(lengths), dtype=torch.long)  # (B, T)
for b, seq in enumerate(ids):
    padded[b, : len(seq)] = torch.tensor(seq, dtype=torch.long)
inputs = {layout}
"""


def _model(result) -> str:
    c = result.config
    kwargs = f"num_layers={c.layers}, bidirectional={c.bidirectional}, batch_first={c.batch_first}"
    if CELLS[c.cell].has_nonlinearity:
        kwargs += f", nonlinearity={c.nonlinearity!r}"
    if c.proj:
        kwargs += f", proj_size={c.proj}"
    if c.packed:
        call = f"""packed = pack_padded_sequence(
            embedded, torch.tensor(lengths), batch_first={c.batch_first}, enforce_sorted=False)
        packed_output, state = rnn(packed)
        output, _ = pad_packed_sequence(packed_output, batch_first={c.batch_first}, total_length=max(lengths))"""
    else:
        call = "output, state = rnn(embedded)"
    unpack = "(h_n, c_n) = state" if CELLS[c.cell].has_cell_state else "h_n, c_n = state, None"
    lines = f"""
# --- The model: seed, then nn.Embedding, then the recurrent layer, in that order
def run(device):
    torch.manual_seed({c.seed})
    embedding = nn.Embedding(len(vocab), {c.embedding})
    rnn = {CELLS[c.cell].module_name}({c.embedding}, {c.hidden}, {kwargs})
    embedding.to(device=device, dtype=torch.{c.dtype})
    rnn.to(device=device, dtype=torch.{c.dtype})
    with torch.no_grad(), torch.backends.cudnn.flags(enabled=True, deterministic=True, allow_tf32=False):
        embedded = embedding(inputs.to(device))  # {"(B, T, E)" if c.batch_first else "(T, B, E)"}
        {call}
    {unpack}
    weights = {{name: p.detach().cpu() for name, p in rnn.named_parameters()}}
    return embedded.cpu(), output.cpu(), h_n.cpu(), None if c_n is None else c_n.cpu(), weights


embedded, output, h_n, c_n, weights = run({result.device!r})
hv = h_n.view({c.layers}, {c.directions}, {len(c.sequences)}, {c.state_size})  # (L, D, B, H)
print("output", tuple(output.shape), "h_n", tuple(h_n.shape), "c_n", None if c_n is None else tuple(c_n.shape))
"""
    if result.device == "cuda":
        lines += "_, cpu_output, cpu_h_n, cpu_c_n, _ = run('cpu')  # the same weights, on the CPU\n"
    return lines


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
