"""The run: seed, build nn.Embedding then the recurrent module, and call it, padded or packed, whole or in chunks.

The reproducibility contract draws everything random from the CPU generator, in this order: the seed; the embedding;
the recurrent module; with h0 random, h_0 then (LSTM) c_0; in train mode with dropout, the masks, which the forward
draws chunk by chunk, layer by layer. All of it happens under BUILD_LOCK, without a break, so that concurrent
sessions never draw each other's numbers.

Below the first rule: the stack rebuilt from one-layer modules (plain torch with plain arguments, so the exported
script carries their very source), which checks how a stack and its backward direction are made.
"""

import threading
import warnings
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnnviz.batch import Batch, length_order, make_batch
from rnnviz.brackets import TASK_VOCAB
from rnnviz.cells import CELLS
from rnnviz.config import Config, ConfigError

# torch's random generator is global: two threads (two dashboard sessions) seeding and building at once would draw
# each other's numbers. Seeding, building, h_0 and a forward that draws masks happen under this lock; reentrant, so
# that run() holds it from the seed to the end of such a forward while build() takes it too.
BUILD_LOCK = threading.RLock()

# The reproducibility contract: torch computes on one intra-op thread, so the dashboard, the command line and the
# exported script give the same bits whatever the machine's thread count (2 threads split float64 sums differently).
THREADS = 1


@dataclass(frozen=True)
class RunResult:
    """What one forward pass returned, with every tensor on the CPU. Never mutate it."""

    config: Config
    device: str  # the device it ran on: "cpu" or "cuda"
    batch: Batch
    embedded: torch.Tensor  # (T, B, E), or (B, T, E) with batch_first
    output: torch.Tensor  # (T, B, D*H), or (B, T, D*H) with batch_first
    h_n: torch.Tensor  # (L*D, B, H)
    c_n: torch.Tensor | None  # (L*D, B, hidden) for an LSTM, else None
    weights: MappingProxyType  # name -> tensor, as in module.named_parameters()
    # The state handed to torch as h_0 (L*D, B, H): h0 random, the one drawn (before t = 0); carry, the first
    # chunk's h_n (before t = K); None for zeros, torch's default. c_0 likewise, for an LSTM (L*D, B, hidden).
    h_0: torch.Tensor | None = None
    c_0: torch.Tensor | None = None
    warnings: tuple[str, ...] = ()  # what torch warned while building the module, in its own words
    masks_state: torch.Tensor | None = None  # the CPU generator's state where the forward began drawing masks
    training: object = None  # the rnnviz.training.Training whose weights ran (a task), else None
    weights_file: object = None  # the rnnviz.weights_file.Weights whose recurrent weights ran (--weights), else None


def resolve_device(requested: str) -> str:
    """Turn auto/cpu/cuda into a device that exists here, or raise ConfigError."""
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device cuda was asked for, but this machine has no CUDA GPU; use auto or cpu.")
    return requested


def run_device(config: Config) -> str:
    """Where config runs: its device, but the CPU where it draws dropout masks (they come from the CPU generator)."""
    return "cpu" if config.draws_masks else resolve_device(config.device)


def build(config: Config, vocab_size: int, batch_size: int):
    """Seed, then build the embedding, the recurrent module and (h0 random) the initial state, in that order.

    Float32 on the CPU. Only the CPU generator draws these numbers, so only it is seeded: the same numbers as
    torch.manual_seed, which would also queue a seed for every GPU backend (0.12 ms, a fifth of the default config's
    whole run). Returns the embedding, the module, the state (None for zeros) and what torch warned, as it said it.
    """
    with BUILD_LOCK, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.default_generator.manual_seed(config.seed)
        embedding = nn.Embedding(vocab_size, config.embedding, padding_idx=0 if config.pad == "zero" else None)
        rnn = recurrent_module(config, config.embedding, config.layers, config.batch_first, config.dropout)
        state = initial_state(config, batch_size) if config.h0 == "random" else None
    return embedding, rnn, state, tuple(str(w.message) for w in caught)


def recurrent_module(
    config: Config, input_size: int, layers: int, batch_first: bool, dropout: float = 0.0
) -> nn.RNNBase:
    """nn.RNN, nn.LSTM or nn.GRU with the config's cell options."""
    kwargs = dict(num_layers=layers, bidirectional=config.bidirectional, batch_first=batch_first)
    cell = CELLS[config.cell]
    if cell.has_nonlinearity:
        kwargs["nonlinearity"] = config.nonlinearity
    if config.proj:
        kwargs["proj_size"] = config.proj
    if dropout:
        kwargs["dropout"] = dropout
    return cell.module(input_size, config.hidden, **kwargs)


def initial_state(config: Config, batch_size: int):
    """A random h_0 (L*D, B, H), and for an LSTM (h_0, c_0 (L*D, B, hidden)): torch.randn, float32, in that order.

    Drawn for the sequences as given: sorted by hand (sort manual), its columns are sorted with them.
    """
    rows = config.layers * config.directions
    h_0 = torch.randn(rows, batch_size, config.state_size)
    state = (h_0, torch.randn(rows, batch_size, config.hidden)) if CELLS[config.cell].has_cell_state else h_0
    if config.sort != "manual":
        return state
    order = length_order(config.sequences)
    return tuple(s[:, order] for s in state) if isinstance(state, tuple) else state[:, order]


def batch_sequences(config: Config) -> tuple[str, ...]:
    """The sequences in the batch's order: as given, or sorted by length, longest first (sort manual)."""
    if config.sort != "manual":
        return config.sequences
    return tuple(config.sequences[b] for b in length_order(config.sequences))


def task_batch(config: Config) -> Batch:
    """The batch with the task's vocabulary, TASK_VOCAB, which the trained embedding was trained on."""
    batch = make_batch(batch_sequences(config), config.batch_first, config.total_length)
    task_ids = torch.tensor([TASK_VOCAB.index(token) for token in batch.vocab])  # batch id -> task id
    ids = tuple(tuple(int(task_ids[i]) for i in seq) for seq in batch.ids)
    return replace(batch, vocab=TASK_VOCAB, ids=ids, padded=task_ids[batch.padded])


@contextmanager
def contract_threads():
    """Inside, torch runs on THREADS intra-op threads (a process-wide setting, put back on exit if it changed)."""
    before = torch.get_num_threads()
    if before != THREADS:
        torch.set_num_threads(THREADS)
    try:
        yield
    finally:
        if before != THREADS:
            torch.set_num_threads(before)


def run(config: Config, training=None, weights_file=None) -> RunResult:
    """Build the batch and the model for config, run it, and return everything on the CPU.

    A task's config runs its trained weights: training, the rnnviz.training.Training (rnnviz.run finds it). Else
    weights_file, an rnnviz.weights_file.Weights, replaces the recurrent module's weights (the embedding stays seeded).
    """
    if (config.task != "none") != (training is not None):
        raise ValueError("a task's config runs with its training, and only it: use rnnviz.run(config)")
    if training is not None and weights_file is not None:
        raise ValueError("a task's config runs its trained weights, not a file's")
    device, dtype = run_device(config), getattr(torch, config.dtype)
    if config.task == "none":
        batch = make_batch(batch_sequences(config), config.batch_first, config.total_length)
    else:
        batch = task_batch(config)
    with BUILD_LOCK if config.draws_masks else nullcontext():  # the masks come right after building
        embedding, rnn, state, caught = build(config, len(batch.vocab), len(batch.lengths))
        if training is not None:
            embedding.load_state_dict(training.embedding)
            rnn.load_state_dict(training.rnn)
        if weights_file is not None:
            rnn.load_state_dict(weights_file.rnn)
        if (device, dtype) != ("cpu", torch.float32):  # built there; .to() would re-flatten the weights for nothing
            embedding.to(device=device, dtype=dtype)
            rnn.to(device=device, dtype=dtype)
            state = to_state(state, device, dtype)
        rnn.train(config.train_mode)
        cudnn = torch.backends.cudnn.flags(enabled=True, deterministic=True, allow_tf32=False)
        with contract_threads(), torch.no_grad(), cudnn:
            masks_state = torch.get_rng_state() if config.draws_masks else None
            embedded = embedding(batch.padded.to(device))  # (T, B, E)
            output, final, carried = forward_in_chunks(
                rnn, embedded, batch.lengths, config.packed, state, config.chunk, config.detach, config.sort == "manual"
            )  # (T, B, D*H)
    h_n, c_n = split_state(final)  # (L*D, B, H)
    h_0, c_0 = split_state(carried if config.h0 == "carry" else state)
    weights = {name: p.detach().cpu() for name, p in rnn.named_parameters()}
    return RunResult(
        config=config,
        device=device,
        batch=batch,
        embedded=embedded.cpu(),
        output=output.cpu(),
        h_n=h_n.cpu(),
        c_n=_cpu(c_n),
        weights=MappingProxyType(weights),
        h_0=_cpu(h_0),
        c_0=_cpu(c_0),
        warnings=caught,
        masks_state=masks_state,
        training=training,
        weights_file=weights_file,
    )


def to_state(state, device: str, dtype: torch.dtype):
    """A state (None, a tensor, or an LSTM's (h, c)) moved to device and dtype."""
    if state is None or isinstance(state, torch.Tensor):
        return None if state is None else state.to(device=device, dtype=dtype)
    return tuple(s.to(device=device, dtype=dtype) for s in state)


def split_state(state) -> tuple:
    """(h, c) of a state: an LSTM's pair as it is, (h, None) for a tensor, (None, None) for None."""
    return tuple(state) if isinstance(state, tuple) else (state, None)


def _cpu(tensor):
    return None if tensor is None else tensor.cpu()


def batch_first_h_0_error(config: Config) -> str | None:
    """What torch says when h_0 is shaped like a batch-first input, [B, L*D, H]: its own message, raised now.

    None where the two shapes coincide (B == L*D), so that torch has nothing to object to.
    """
    B, rows = len(config.sequences), config.layers * config.directions
    if rows == B:
        return None
    with BUILD_LOCK, torch.random.fork_rng(devices=[]), warnings.catch_warnings():  # its init is thrown away
        warnings.simplefilter("ignore")
        rnn = recurrent_module(config, config.embedding, config.layers, batch_first=True)
    x = torch.zeros(B, 1, config.embedding)  # (B, T, E)
    h_0 = torch.zeros(B, rows, config.state_size)  # (B, L*D, H): the batch axis first, as in x
    state = (h_0, torch.zeros(B, rows, config.hidden)) if CELLS[config.cell].has_cell_state else h_0
    try:
        with torch.no_grad():
            rnn(x, state)
    except RuntimeError as error:
        return str(error)
    return None


# -----------------------------------------------------------------------------
# Plain torch: the call, whole or in chunks, and the stack rebuilt from one-layer modules


def forward(rnn, x, lengths, packed, state=None, enforce_sorted=False):
    """Call the module on padded x from state (None: zeros), or packed and unpacked back to x's padded length.

    enforce_sorted: the lengths are already longest first (sorted by hand); else pack_padded_sequence sorts them.
    """
    if not packed:
        return rnn(x, state)
    T = x.shape[1 if rnn.batch_first else 0]  # the padded length: max(lengths), or a total_length beyond it
    sequence = pack_padded_sequence(
        x, torch.tensor(lengths), batch_first=rnn.batch_first, enforce_sorted=enforce_sorted
    )
    packed_output, state = rnn(sequence, state)
    output, _ = pad_packed_sequence(packed_output, batch_first=rnn.batch_first, total_length=T)
    return output, state


def forward_in_chunks(rnn, x, lengths, packed, state, split, detach=False, enforce_sorted=False):
    """x whole (split 0), or steps [0, split) then [split, T) from the first chunk's final state (detach: from
    its .detach(), truncated backprop: the same numbers, no gradient back into the first chunk).

    Returns the output (the chunks' outputs concatenated in time), the final state, and the state carried from the
    first chunk to the second (None when whole).
    """
    if not split:
        return (*forward(rnn, x, lengths, packed, state, enforce_sorted), None)
    time = 1 if rnn.batch_first else 0
    T = x.shape[time]
    first, carried = forward(
        rnn, x.narrow(time, 0, split), [min(n, split) for n in lengths], packed, state, enforce_sorted
    )
    handed = detached(carried) if detach else carried
    second, final = forward(
        rnn, x.narrow(time, split, T - split), [n - split for n in lengths], packed, handed, enforce_sorted
    )
    return torch.cat([first, second], dim=time), final, carried


def detached(state):
    """A state (a tensor, or an LSTM's (h, c)) with the same numbers, cut from the autograd graph that made it."""
    return state.detach() if isinstance(state, torch.Tensor) else tuple(s.detach() for s in state)


def state_rows(state, start, stop):
    """Rows start:stop of a state: None, a tensor (L*D, B, .), or an LSTM's (h, c)."""
    if state is None or isinstance(state, torch.Tensor):
        return None if state is None else state[start:stop]
    return tuple(s[start:stop] for s in state)


def cat_states(states):
    """States (tensors, or LSTM (h, c) pairs) joined along their rows."""
    if isinstance(states[0], torch.Tensor):
        return torch.cat(states)
    return tuple(torch.cat(part) for part in zip(*states, strict=True))


def reverse_steps(x, lengths):
    """Time-major x (T, B, .) with each sequence's first lengths[b] steps in reverse order, the rest left in place."""
    t = torch.arange(x.shape[0]).unsqueeze(1)  # (T, 1)
    n = torch.tensor(lengths).unsqueeze(0)  # (1, B)
    index = torch.where(t < n, n - 1 - t, t)  # (T, B)
    return x.gather(0, index.unsqueeze(2).expand_as(x))


def layer_modules(make, weights, layer, directions, per_direction, backward="_reverse"):
    """Layer `layer` of a stack as one module of both directions, or (per_direction) one module per direction.

    make(input_size, bidirectional) builds an empty one-layer module; it takes the weights' own tensors (their dtype,
    no copy: a rebuild of the largest config would copy 36 MB). Per direction, the backward one holds the weights
    named with `backward` after the layer: "_reverse" (its own), or "" (the forward direction's).
    """
    inputs = weights[f"weight_ih_l{layer}"].shape[1]
    if per_direction:
        suffixes = [f"_l{layer}", f"_l{layer}{backward}"][:directions]
        modules = [make(inputs, False) for _ in suffixes]
    else:
        suffixes, modules = [f"_l{layer}"], [make(inputs, directions == 2)]
    for suffix, rnn in zip(suffixes, modules, strict=True):
        rnn.load_state_dict({name: weights[name.replace("_l0", suffix)] for name in rnn.state_dict()}, assign=True)
    return modules


def layer_forward(modules, x, lengths, packed, state):
    """One layer on time-major x (T, B, .) from its rows of the state: its output (T, B, D*H) and final state.

    modules: [both directions] or [forward, backward]; the backward one runs forward over each sequence reversed (its
    real steps when packed, the whole padded row when not), and its output is flipped back.
    """
    if len(modules) == 1:
        return forward(modules[0], x, lengths, packed, state)
    steps = lengths if packed else [x.shape[0]] * x.shape[1]
    outputs, finals = [], []
    for d, rnn in enumerate(modules):
        inputs = x if d == 0 else reverse_steps(x, steps)  # (T, B, .)
        output, final = forward(rnn, inputs, lengths, packed, state_rows(state, d, d + 1))
        outputs.append(output if d == 0 else reverse_steps(output, steps))
        finals.append(final)
    return torch.cat(outputs, dim=2), cat_states(finals)


def drop(x, lengths, packed, p):
    """F.dropout on a layer's output (T, B, D*H) as torch's forward applies it: on the packed data when packed."""
    if not packed:
        return F.dropout(x, p, training=True)
    sequence = pack_padded_sequence(x, torch.tensor(lengths), enforce_sorted=False)
    sequence = sequence._replace(data=F.dropout(sequence.data, p, training=True))
    return pad_packed_sequence(sequence, total_length=x.shape[0])[0]


def stack_forward(layers, x, lengths, packed, state, split, dropout):
    """A stack run one layer at a time: layers[l] is layer l's modules (see layer_forward), x time-major (T, B, E).

    state: the stack's h_0 (None: zeros); split: the first chunk's length when carrying (0: whole); dropout: P in
    train mode (else 0), applied with F.dropout to each layer's output but the last, where torch's forward draws its
    masks: chunk by chunk, layer by layer. Returns every layer's output (T, B, D*H) and the final state.
    """
    T = x.shape[0]
    outputs = [[] for _ in layers]
    for start, stop in [(0, T)] if not split else [(0, split), (split, T)]:
        h, steps = x[start:stop], [min(max(n - start, 0), stop - start) for n in lengths]
        finals = []
        for layer, modules in enumerate(layers):
            D = len(modules) * (2 if modules[0].bidirectional else 1)
            h, final = layer_forward(modules, h, steps, packed, state_rows(state, layer * D, (layer + 1) * D))
            outputs[layer].append(h)
            finals.append(final)
            if dropout and layer < len(layers) - 1:
                h = drop(h, steps, packed, dropout)
        state = cat_states(finals)
    return [torch.cat(chunks) for chunks in outputs], state


# -----------------------------------------------------------------------------
# The same, applied to a RunResult


class Stack(NamedTuple):
    """A run rebuilt from one-layer modules, laid out like the run's tensors."""

    layers: tuple  # every layer's output, time-major (T, B, D*H)
    output: torch.Tensor  # like the run's output
    h_n: torch.Tensor  # (L*D, B, H)
    c_n: torch.Tensor | None  # (L*D, B, hidden) for an LSTM


def rebuild(result: RunResult, per_direction: bool = False, backward: str = "_reverse") -> Stack:
    """The run again, from one-layer modules holding its weights (see layer_modules), on the CPU.

    The same h_0, chunks and (train mode) dropout masks: the CPU generator is set to where the run drew them, and put
    back afterwards.
    """
    c, L = result.config, result.config.layers
    one_direction = c.replace(bidirectional=False)

    def make(inputs, bidirectional):
        return recurrent_module(c if bidirectional else one_direction, inputs, layers=1, batch_first=False)

    with BUILD_LOCK, torch.random.fork_rng(devices=[]):  # their random init is overwritten: leave the RNG alone
        layers = [layer_modules(make, result.weights, k, c.directions, per_direction, backward) for k in range(L)]
    x = result.embedded.transpose(0, 1) if c.batch_first else result.embedded  # (T, B, E)
    state = None
    if c.h0 == "random":
        state = result.h_0 if result.c_0 is None else (result.h_0, result.c_0)
    masks = c.draws_masks
    # Only a forward that draws masks touches the global generator: it then draws them again, under the lock,
    # from where the run drew them, and puts the generator back. Forking it without the lock would let this
    # thread put back a state under another session that is seeding and building (wrong weights for it).
    drawing = (BUILD_LOCK, torch.random.fork_rng(devices=[])) if masks else (nullcontext(), nullcontext())
    with drawing[0], drawing[1], contract_threads(), torch.no_grad():
        if masks:
            torch.set_rng_state(result.masks_state)
        outputs, final = stack_forward(
            layers, x, result.batch.lengths, c.packed, state, c.chunk, c.dropout if masks else 0.0
        )
    h_n, c_n = split_state(final)
    output = outputs[-1].transpose(0, 1) if c.batch_first else outputs[-1]
    return Stack(tuple(outputs), output, h_n, c_n)


def direction_module(result: RunResult, layer: int, direction: int) -> nn.RNNBase:
    """Layer `layer`'s direction d alone: a one-layer, one-direction, time-major module holding its weights."""
    c = result.config

    def make(inputs, bidirectional):
        return recurrent_module(c.replace(bidirectional=False), inputs, layers=1, batch_first=False)

    with BUILD_LOCK, torch.random.fork_rng(devices=[]):  # its random init is overwritten: leave the RNG alone
        return layer_modules(make, result.weights, layer, c.directions, per_direction=True)[direction]


def layer_by_layer(result: RunResult) -> tuple[torch.Tensor, ...]:
    """Torch's own output of every layer, time-major (T, B, D*H): each layer run alone with its weights (a one-layer
    run on the CPU is that already: the same module, weights and kernel; a test holds it to the rebuild's bits)."""
    if result.config.layers == 1 and result.device == "cpu":
        return (result.output.transpose(0, 1) if result.config.batch_first else result.output,)  # (T, B, D*H)
    return rebuild(result).layers
