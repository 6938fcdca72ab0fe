"""The run: seed, build nn.Embedding then the recurrent module, and call it, padded or packed."""

import threading
from contextlib import contextmanager
from dataclasses import dataclass
from types import MappingProxyType

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnnviz.batch import Batch, make_batch
from rnnviz.cells import CELLS
from rnnviz.config import Config, ConfigError

# torch's random generator is global: two threads (two dashboard sessions) seeding and building at once
# would draw each other's numbers. Seeding and building happen under this lock.
BUILD_LOCK = threading.Lock()

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


def resolve_device(requested: str) -> str:
    """Turn auto/cpu/cuda into a device that exists here, or raise ConfigError."""
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device cuda was asked for, but this machine has no CUDA GPU; use auto or cpu.")
    return requested


def build(config: Config, vocab_size: int) -> tuple[nn.Embedding, nn.RNNBase]:
    """Seed, then build the embedding and the recurrent module in that order (float32, CPU).

    Only the CPU generator draws these weights, so only it is seeded: the same numbers as torch.manual_seed,
    which would also queue a seed for every GPU backend (0.12 ms, a fifth of the default config's whole run).
    """
    with BUILD_LOCK:
        torch.default_generator.manual_seed(config.seed)
        embedding = nn.Embedding(vocab_size, config.embedding)
        return embedding, recurrent_module(config, config.embedding, config.layers, config.batch_first)


def recurrent_module(config: Config, input_size: int, layers: int, batch_first: bool) -> nn.RNNBase:
    """nn.RNN, nn.LSTM or nn.GRU with the config's cell options."""
    kwargs = dict(num_layers=layers, bidirectional=config.bidirectional, batch_first=batch_first)
    cell = CELLS[config.cell]
    if cell.has_nonlinearity:
        kwargs["nonlinearity"] = config.nonlinearity
    if config.proj:
        kwargs["proj_size"] = config.proj
    return cell.module(input_size, config.hidden, **kwargs)


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


def forward(rnn: nn.RNNBase, embedded: torch.Tensor, lengths: tuple[int, ...], packed: bool):
    """Call the module on padded input, or packed and unpacked back to the full length T."""
    if not packed:
        return rnn(embedded)
    sequence = pack_padded_sequence(embedded, torch.tensor(lengths), batch_first=rnn.batch_first, enforce_sorted=False)
    packed_output, state = rnn(sequence)
    output, _ = pad_packed_sequence(packed_output, batch_first=rnn.batch_first, total_length=max(lengths))
    return output, state


def run(config: Config) -> RunResult:
    """Build the batch and the model for config, run it, and return everything on the CPU."""
    device = resolve_device(config.device)
    dtype = getattr(torch, config.dtype)
    batch = make_batch(config.sequences, config.batch_first)
    embedding, rnn = build(config, len(batch.vocab))
    if (device, dtype) != ("cpu", torch.float32):  # built there; .to() would re-flatten the weights for nothing
        embedding.to(device=device, dtype=dtype)
        rnn.to(device=device, dtype=dtype)
    cudnn = torch.backends.cudnn.flags(enabled=True, deterministic=True, allow_tf32=False)
    with contract_threads(), torch.no_grad(), cudnn:
        embedded = embedding(batch.padded.to(device))  # (T, B, E)
        output, state = forward(rnn, embedded, batch.lengths, config.packed)  # (T, B, D*H)
    h_n, c_n = state if CELLS[config.cell].has_cell_state else (state, None)  # (L*D, B, H)
    weights = {name: p.detach().cpu() for name, p in rnn.named_parameters()}
    return RunResult(
        config=config,
        device=device,
        batch=batch,
        embedded=embedded.cpu(),
        output=output.cpu(),
        h_n=h_n.cpu(),
        c_n=None if c_n is None else c_n.cpu(),
        weights=MappingProxyType(weights),
    )


def layer_by_layer(result: RunResult) -> tuple[torch.Tensor, ...]:
    """Torch's own output of every layer, time-major (T, B, D*H): each layer run alone with its weights."""
    c = result.config
    x = result.embedded.transpose(0, 1) if c.batch_first else result.embedded  # (T, B, E)
    outputs = []
    for layer in range(c.layers):
        with BUILD_LOCK, torch.random.fork_rng(devices=[]):  # its random init is overwritten below: leave the RNG alone
            rnn = recurrent_module(c, x.shape[2], layers=1, batch_first=False).to(x.dtype)
        rnn.load_state_dict(
            {name: result.weights[name.replace("_l0", f"_l{layer}")] for name, _ in rnn.named_parameters()}
        )
        with contract_threads(), torch.no_grad():
            x, _ = forward(rnn, x, result.batch.lengths, c.packed)  # (T, B, D*H)
        outputs.append(x)
    return tuple(outputs)
