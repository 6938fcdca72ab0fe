"""The exported code: a standalone torch script that rebuilds a run and asserts its relations.

User text enters the script only through repr(), so the script is valid Python for any input; the call is the very
source of rnnviz.model, and each comparison the relations need writes its own code (rnnviz.runs.COMPARISONS).
"""

import inspect

import torch

from rnnviz.brackets import TASK_VOCAB
from rnnviz.cells import CELLS
from rnnviz.config import changes
from rnnviz.model import THREADS, detached, forward, forward_in_chunks
from rnnviz.runs import COMPARISONS

SCRIPTED = {comparison.name: comparison.code is not None for comparison in COMPARISONS}

def make_snippet(result, relations) -> str:
    """A Python script (torch only) that reproduces result's tensors and checks every relation it can (the gradient
    relations are rnnviz's own: not in the script)."""
    c = result.config
    relations = [rel for rel in relations if all(SCRIPTED.get(need) for need in rel.needs)]
    return "\n".join(
        [
            _header(result),
            _batch(c),
            _trained(result),
            _model(result),
            _comparisons(result, relations),
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
config = {changes(c)!r}  # the rnnviz Config this rebuilds: its values that are not the defaults
'''


def _batch(c) -> str:
    layout = "padded  # (B, T): batch_first" if c.batch_first else "padded.t().contiguous()  # (T, B): time-major"
    vocab = (
        f"vocab = {list(TASK_VOCAB)!r}  # the brackets task's: its embedding was trained on it"
        if c.task != "none"
        else 'vocab = ["<pad>"] + sorted(set("".join(sequences)))'
    )
    order = (
        "\norder = sorted(range(len(sequences)), key=lambda b: -len(sequences[b]))  # longest first, ties as given"
        "\nsequences.sort(key=len, reverse=True)  # by hand, for enforce_sorted=True: sequences[i] is given order[i]"
        if c.sort == "manual"
        else ""
    )
    steps = f"{c.total_length}" if c.total_length else "max(lengths)"
    return f"""
# --- The batch: vocabulary, ids, zero padding ---------------------------------
sequences = {list(c.sequences)!r}{order}
{vocab}
ids = [[vocab.index(ch) for ch in seq] for seq in sequences]
lengths = [len(seq) for seq in ids]
padded = torch.zeros(len(ids), {steps}, dtype=torch.long)  # (B, T){": T is total_length" * bool(c.total_length)}
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
        else "".join(f"\n    {line}" for line in _file_weights(result))
    )
    to = f"to(device=device, dtype=torch.{c.dtype})"
    move = f"tuple(s.{to} for s in state)" if lstm else f"state.{to}"
    masks = "torch.get_rng_state()  # train mode draws its dropout masks from here" if c.draws_masks else "None"
    pair = "h_n, c_n = final" if lstm else "h_n, c_n = final, None"
    handed = {"zeros": "None", "random": "state", "carry": "carried or (None, None)" if lstm else "carried"}[c.h0]
    handed = f"h_0, c_0 = {handed}" if lstm and c.h0 != "zeros" else f"h_0, c_0 = {handed}, None"
    sources = "\n\n".join(inspect.getsource(f) for f in (forward, forward_in_chunks, detached))
    manual = sorted_arg = sort_state = ""
    if c.sort == "manual":
        manual, sorted_arg = ", manual=True", ", enforce_sorted=manual"
        if c.h0 == "random":
            columns = "tuple(s[:, order] for s in state)" if lstm else "state[:, order]"
            sort_state = f"\n    state = {columns} if manual else state  # its columns sorted with the sequences"
    lines = f"""
# --- The model: seed, then nn.Embedding, then the recurrent layer, in that order
{sources}

def run(device, split={c.chunk}, train={c.train_mode}, packed={c.packed}, detach={c.detach}{manual}):
    torch.manual_seed({c.seed})
    embedding = nn.Embedding(len(vocab), {c.embedding}{", padding_idx=0" if c.pad == "zero" else ""})
    rnn = {CELLS[c.cell].module_name}({c.embedding}, {c.hidden}, {kwargs})
    state = {state}{sort_state}{load}
    embedding.{to}
    rnn.{to}
    state = None if state is None else {move}
    rnn.train(train)  # train mode: dropout on (between layers); eval mode: off
    with torch.no_grad(), torch.backends.cudnn.flags(enabled=True, deterministic=True, allow_tf32=False):
        masks = {masks}
        embedded = embedding(inputs.to(device))  # {"(B, T, E)" if c.batch_first else "(T, B, E)"}
        output, final, carried = forward_in_chunks(rnn, embedded, lengths, packed, state, split, detach{sorted_arg})
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


def _file_weights(result) -> list[str]:
    """The lines that put a weights file's recurrent layer into rnn (none without one): the file, read as rnnviz read
    it (weights only, on the CPU), a missing bias as zeros."""
    w = result.weights_file
    if w is None:
        return []
    return [
        f"saved = torch.load({w.file!r}, map_location='cpu', weights_only=True)  # your file, sha256 {w.sha256[:12]}",
        f"rnn.load_state_dict({{name: saved.get({w.prefix!r} + name, torch.zeros_like(p)) "
        "for name, p in rnn.named_parameters()})  # a layer without biases: zeros",
    ]


def _comparisons(result, relations) -> str:
    """The other computations the relations compare the run with (rnnviz.runs.COMPARISONS), each one's shared setup
    written once before it."""
    used, lines, written = {need for rel in relations for need in rel.needs}, [], set()
    for comparison in COMPARISONS:
        if comparison.name not in used:
            continue
        for setup in comparison.setup:
            if setup not in written:
                lines.append(setup(result))
                written.add(setup)
        lines.append(comparison.code(result))
    return "\n".join(lines) + "\n" if lines else ""


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


# -----------------------------------------------------------------------------
# The short proof: the view's relations in a page of code


def make_proof(result, relations) -> str:
    """A short script (torch only) for the view at hand: the batch and the run in a few lines, hv defined, then an
    assert for each guaranteed relation and a print for each lesson, of those that need no other computation (the
    full script, make_snippet, has those). It runs on the CPU with the run's numbers (a weights file's layer read
    from the file; a task's layer untrained: its relations hold for any weights)."""
    c = result.config
    cell = CELLS[c.cell]
    B, H, rows, T = len(c.sequences), c.state_size, c.layers * c.directions, result.batch.max_length
    options = f"num_layers={c.layers}, bidirectional={c.bidirectional}"
    options += ", batch_first=True" * c.batch_first
    options += f", nonlinearity={c.nonlinearity!r}" * (cell.has_nonlinearity and c.nonlinearity != "tanh")
    options += f", proj_size={c.proj}" * bool(c.proj) + f", dropout={c.dropout}" * bool(c.dropout)
    vocab = f"vocab = {list(TASK_VOCAB)!r}  # the brackets task's" if c.task != "none" else (
        'vocab = ["<pad>"] + sorted(set("".join(sequences)))'
    )  # fmt: skip
    sort_lines = [
        "order = sorted(range(len(sequences)), key=lambda b: -len(sequences[b]))",
        "sequences.sort(key=len, reverse=True)  # sorted by hand: longest first, ties as given",
    ] if c.sort == "manual" else []  # fmt: skip
    steps = c.total_length or "max(lengths)"
    lines = [
        "import torch",
        "torch.set_grad_enabled(False)  # no autograd: the run's very numbers",
        f"sequences = {list(c.sequences)!r}",
        *sort_lines,
        vocab,
        "lengths = [len(s) for s in sequences]",
        f"ids = torch.tensor([[vocab.index(ch) for ch in s] + [0] * ({steps} - len(s)) for s in sequences])",
        f"torch.manual_seed({c.seed})",
        f"embedding, rnn = torch.nn.Embedding(len(vocab), {c.embedding}{', padding_idx=0' * (c.pad == 'zero')}), "
        f"torch.{cell.module_name}({c.embedding}, {c.hidden}, {options})",
    ]
    lines += _file_weights(result)
    dtype = f"torch.{c.dtype}"
    state = ""
    if c.h0 == "random":
        h_0 = f"torch.randn({rows}, {B}, {H}){'[:, order]' * (c.sort == 'manual')}.to({dtype})"
        c_0 = f"torch.randn({rows}, {B}, {c.hidden}){'[:, order]' * (c.sort == 'manual')}.to({dtype})"
        lines.append(f"h_0, c_0 = {h_0}, {c_0}" if cell.has_cell_state
                     else f"h_0 = {h_0}")  # fmt: skip
        state = ", (h_0, c_0)" if cell.has_cell_state else ", h_0"
    if c.dtype != "float32" or c.dropout:
        lines.append(f"rnn.train({c.train_mode}).to({dtype})")
    inputs = f"embedding(ids{'' if c.batch_first else '.t()'})" + f".to({dtype})" * (c.dtype != "float32")
    lines += _proof_forward(c, inputs, "(h_n, c_n)" if cell.has_cell_state else "h_n", state)
    lines.append(f"hv = h_n.view({c.layers}, {c.directions}, {B}, {H})  # (L, D, B, H): h_n's row l*D + d")
    kept = [rel for rel in relations if not rel.needs]
    if any("padding" in rel.expression for rel in kept):
        past = f"(torch.arange({T})[:, None] >= torch.tensor(lengths)){'.t()' * c.batch_first}"
        lines.append(f"padding = {past}  # past each length, on output's first two axes")
    for rel in kept:
        if rel.expected:
            lines.append(f"assert {rel.expression}, {rel.id!r}")
        else:
            lines.append(f"print({rel.id + ' (a lesson, usually False):'!r}, {rel.expression})")
    return "\n".join(lines) + "\n"


def _proof_forward(c, inputs: str, final: str, state: str) -> list[str]:
    """The run in the short proof: whole, packed, or in two chunks, the first one's final state carried over."""
    bf = ", batch_first=True" * c.batch_first
    pack = f"torch.nn.utils.rnn.pack_padded_sequence({{}}, {{}}{bf}, enforce_sorted={c.sort == 'manual'})"
    unpack = f"torch.nn.utils.rnn.pad_packed_sequence({{}}{bf}, total_length={{}})[0]"
    steps = str(c.total_length) if c.total_length else "max(lengths)"
    if c.h0 != "carry":
        if not c.packed:
            return [f"output, {final} = rnn({inputs}{state})"]
        return [
            f"packed, {final} = rnn({pack.format(inputs, 'lengths')}{state})  # each sequence stops at its length",
            f"output = {unpack.format('packed', steps)}",
        ]
    K, time = c.chunk, "[:, {}]" if c.batch_first else "[{}]"
    carried = "(h_0, c_0)" if final != "h_n" else "h_0"
    handed = ("(h_0.detach(), c_0.detach())" if final != "h_n" else "h_0.detach()") if c.detach else carried
    cut = ", detached: no gradient back into the first chunk" * c.detach
    first, second = f"x{time.format(f':{K}')}", f"x{time.format(f'{K}:')}"
    lines = [f"x = {inputs}"]
    if c.packed:
        lines += [
            "def run(x, lengths, *state):  # packed: each sequence stops at its own length",
            f"    out, final = rnn({pack.format('x', 'lengths')}, *state)",
            f"    return {unpack.format('out', f'x.shape[{int(c.batch_first)}]')}, final",
        ]
        first, second = f"run({first}, [min(n, {K}) for n in lengths])", f"run({second}, [n - {K} for n in lengths], "
    else:
        first, second = f"rnn({first})", f"rnn({second}, "
    return [
        *lines,
        f"first, {carried} = {first}  # the first {K} steps",
        f"second, {final} = {second}{handed})  # from the state they left{cut}",
        f"output = torch.cat([first, second], dim={int(c.batch_first)})",
    ]
