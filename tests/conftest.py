"""Shared test setup for the core: the hypothesis profile, strategies over the configuration space, and devices.

Strategies stay small (a few short sequences, tiny layers) so that hundreds of runs fit in seconds on two CPU cores.
Test modules import them with `from conftest import configs` (pytest puts tests/ on sys.path).
"""

import sys
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, assume, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # so that plain `pytest` (not only `python -m pytest`) finds rnnviz and bench
    sys.path.insert(0, str(ROOT))

from rnnviz.cells import CELLS  # noqa: E402
from rnnviz.config import NONLINEARITIES, PADS, Config  # noqa: E402

# -----------------------------------------------------------------------------
# Hypothesis: no deadline (torch's first calls are slow), a modest number of examples, loaded by default

settings.register_profile(
    "rnnviz",
    deadline=None,
    max_examples=40,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("rnnviz-thorough", parent=settings.get_profile("rnnviz"), max_examples=400)
settings.load_profile("rnnviz")

# -----------------------------------------------------------------------------
# Devices: every device-parametrised test runs on the CPU, and on CUDA where there is a GPU

requires_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine")
DEVICES = ["cpu", pytest.param("cuda", marks=[pytest.mark.cuda, requires_cuda])]


def pytest_configure(config):
    config.addinivalue_line("markers", "cuda: needs a CUDA GPU (skipped where torch.cuda.is_available() is False)")


@pytest.fixture(params=DEVICES)
def device(request) -> str:
    """cpu, then cuda (skipped without a GPU); @given tests use @pytest.mark.parametrize("device", DEVICES)."""
    return request.param


# -----------------------------------------------------------------------------
# Strategies: characters, sequences, batches, configs

# A mixed alphabet: ASCII, spaces and tabs, quotes and backslashes, accents, a combining mark, CJK, emoji,
# and characters that are hostile to source code and terminals (NUL, newline, RTL override, braces).
ALPHABET = (
    "abcxyz_AZ09 "
    "'\"`\\{}#%"
    "\t\n\x00\u202e"
    "éßñжλ中"
    "\u0301"  # combining acute accent
    "🙂🚀"
)
HOSTILE_SEQUENCES = (
    "it's",
    'say "hi"',
    '"""',
    "'''",
    "back\\slash\\",
    "new\nline",
    "nul\x00",
    "\u202eevil",
    "{x}",
    "}{",
    "🙂👍🏽",
    "é\u0301",
)


def characters() -> st.SearchStrategy[str]:
    """One character from the mixed alphabet, or now and then any non-surrogate code point."""
    return st.one_of(
        st.sampled_from(ALPHABET),
        st.characters(exclude_categories=("Cs",)),
    )


def sequence(length: int) -> st.SearchStrategy[str]:
    """A sequence of exactly `length` characters with at least one that is not whitespace."""
    return st.lists(characters(), min_size=length, max_size=length).map("".join).filter(lambda s: s.strip() != "")


@st.composite
def sequences(draw, max_sequences: int = 5, max_length: int = 7) -> tuple[str, ...]:
    """A batch of 1..max_sequences sequences: all one length, or each its own (single characters included)."""
    count = draw(st.integers(1, max_sequences))
    if draw(st.booleans()):
        lengths = [draw(st.integers(1, max_length))] * count
    else:
        lengths = draw(st.lists(st.integers(1, max_length), min_size=count, max_size=count))
    return tuple(draw(sequence(n)) for n in lengths)


@st.composite
def configs(draw, extended: bool = False, **fixed) -> Config:
    """A valid Config from the whole configuration space, kept small; keyword arguments pin fields.

    extended: also draw h0 (zeros, random, carry, its split and detach), dropout, train mode and the <pad> embedding;
    the other fields of Config (a task) stay at their defaults. Without it every one of them does, for modules that do
    not model them.
    """

    def pick(name, strategy):
        return fixed[name] if name in fixed else draw(strategy)

    cell = pick("cell", st.sampled_from(tuple(CELLS)))
    hidden = pick("hidden", st.integers(1, 12))
    proj = 0
    if CELLS[cell].has_cell_state and hidden > 1:
        proj = pick("proj", st.one_of(st.just(0), st.integers(1, hidden - 1)))
    config = Config(
        sequences=pick("sequences", sequences()),
        cell=cell,
        nonlinearity=pick("nonlinearity", st.sampled_from(NONLINEARITIES)) if CELLS[cell].has_nonlinearity else "tanh",
        layers=pick("layers", st.integers(1, 4)),
        bidirectional=pick("bidirectional", st.booleans()),
        hidden=hidden,
        embedding=pick("embedding", st.integers(1, 8)),
        proj=proj,
        batch_first=pick("batch_first", st.booleans()),
        packed=pick("packed", st.booleans()),
        seed=pick("seed", st.one_of(st.integers(0, 1000), st.just(2**32 - 1))),
        device=fixed.get("device", "cpu"),
        dtype=pick("dtype", st.sampled_from(("float32", "float64"))),
    )
    if not extended:
        return config
    lengths = [len(seq) for seq in config.sequences]
    longest_split = (min(lengths) if config.packed else max(lengths)) - 1  # packed: no empty second chunk
    h0 = pick("h0", st.sampled_from(("zeros", "random", "carry")))
    if h0 == "carry" and longest_split < 1:
        assume("h0" not in fixed)  # no split can run this batch: another batch where carry is asked for
        h0 = "random"
    split = 0
    if h0 == "carry":
        default_runs = max(lengths) // 2 <= longest_split
        split = pick("split", st.integers(0 if default_runs else 1, longest_split))
    dropout = pick("dropout", st.sampled_from((0.0, 0.0, 0.25, 0.5, 0.9)))
    train_mode = pick("train_mode", st.booleans())
    if config.device == "cuda" and train_mode:
        dropout = 0.0  # train mode with dropout draws its masks on the CPU only
    pad = pick("pad", st.sampled_from(PADS))
    detach = pick("detach", st.booleans()) if h0 == "carry" else False
    return config.replace(h0=h0, split=split, dropout=dropout, train_mode=train_mode, pad=pad, detach=detach)


@st.composite
def around_configs(draw, **fixed) -> Config:
    """An extended config, packed, with a total_length (0 or from T to T + 4) and a sort (auto or manual) drawn."""
    config = draw(configs(extended=True, packed=True, **fixed))
    T = max(len(seq) for seq in config.sequences)
    total_length = fixed.get("total_length", draw(st.sampled_from((0, T, T + 1, T + 4))))
    sort = fixed.get("sort", draw(st.sampled_from(("auto", "manual"))))
    return config.replace(total_length=total_length, sort=sort)


# -----------------------------------------------------------------------------
# Small helpers shared by several modules


def time_major(tensor: torch.Tensor, batch_first: bool) -> torch.Tensor:
    """(T, B, ...) whichever layout the tensor came in."""
    return tensor.transpose(0, 1) if batch_first else tensor
