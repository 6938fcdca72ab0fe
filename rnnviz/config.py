"""What can be run: the Config, the blog's presets, and every limit and check in one place.

An invalid Config cannot be built, so nothing invalid ever reaches torch.
"""

import dataclasses
from dataclasses import dataclass

from rnnviz.cells import CELLS

BLOG_SEQUENCES = ("long_str", "tiny", "medium")

NONLINEARITIES = ("tanh", "relu")
DEVICES = ("auto", "cpu", "cuda")
DTYPES = ("float32", "float64")

# -----------------------------------------------------------------------------
# Limits: one link must never be able to take the server down.

MAX_SEQUENCES = 16
MAX_LENGTH = 64  # characters per sequence
MAX_LAYERS = 6
MAX_HIDDEN = 256
MAX_EMBEDDING = 256
MAX_SEED = 2**32 - 1
MAX_CELLS = 20_000  # numbers sent to the browser per heatmap; tables and downloads stay whole
CACHE_ENTRIES = 32  # analyses (and layer outputs) a dashboard server keeps...
CACHE_BYTES = 192 * 2**20  # ...while their tensors fit here: the largest config, in float64, holds ~155 MB


class ConfigError(ValueError):
    """An input the user can fix; its message says what is wrong and what is allowed."""


@dataclass(frozen=True)
class Config:
    """Everything that determines a run, and so every number rnnviz shows."""

    sequences: tuple[str, ...] = BLOG_SEQUENCES
    cell: str = "rnn"
    nonlinearity: str = "tanh"
    layers: int = 1
    bidirectional: bool = False
    hidden: int = 5
    embedding: int = 5
    proj: int = 0  # LSTM proj_size; 0 means no projection
    batch_first: bool = False
    packed: bool = False
    seed: int = 0
    device: str = "auto"
    dtype: str = "float32"

    def __post_init__(self):
        if not isinstance(self.sequences, (tuple, list)):
            raise ConfigError("sequences must be a list of strings, one per sequence.")
        object.__setattr__(self, "sequences", tuple(self.sequences))
        validate(self)

    @property
    def directions(self) -> int:
        """D: 2 for a bidirectional layer, else 1."""
        return 2 if self.bidirectional else 1

    @property
    def state_size(self) -> int:
        """H as it appears in output and h_n: proj_size for a projected LSTM, else hidden."""
        return self.proj or self.hidden

    def replace(self, **changes) -> "Config":
        """A copy with some fields changed (and validated again)."""
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict:
        """The config as plain JSON-ready values."""
        d = dataclasses.asdict(self)
        d["sequences"] = list(self.sequences)
        return d


# -----------------------------------------------------------------------------
# Validation


def validate(config: Config) -> None:
    """Raise ConfigError with a plain-words message if the config cannot be run."""
    _check_sequences(config.sequences)
    _check_choice("cell", config.cell, tuple(CELLS))
    _check_choice("nonlinearity", config.nonlinearity, NONLINEARITIES)
    _check_choice("device", config.device, DEVICES)
    _check_choice("dtype", config.dtype, DTYPES)
    _check_int("layers", config.layers, 1, MAX_LAYERS)
    _check_int("hidden", config.hidden, 1, MAX_HIDDEN)
    _check_int("embedding", config.embedding, 1, MAX_EMBEDDING)
    _check_int("proj", config.proj, 0, MAX_HIDDEN - 1)
    _check_int("seed", config.seed, 0, MAX_SEED)
    for name in ("bidirectional", "batch_first", "packed"):
        if not isinstance(getattr(config, name), bool):
            raise ConfigError(f"{name} must be true or false.")
    cell = CELLS[config.cell]
    if config.nonlinearity != "tanh" and not cell.has_nonlinearity:
        raise ConfigError(
            f"nonlinearity {config.nonlinearity} is only for the plain RNN cell: {cell.label} has fixed gate "
            "nonlinearities. Choose tanh, or the RNN cell."
        )
    if config.proj and not cell.has_cell_state:
        raise ConfigError(f"proj (proj_size) is only for the LSTM cell, not {cell.label}; set it to 0.")
    if config.proj >= config.hidden:
        raise ConfigError(
            f"proj must be smaller than hidden (got proj {config.proj}, hidden "
            f"{config.hidden}); 0 turns the projection off."
        )


def _check_sequences(sequences: tuple) -> None:
    if not sequences:
        raise ConfigError("The batch is empty: give at least one sequence.")
    if len(sequences) > MAX_SEQUENCES:
        raise ConfigError(f"{len(sequences)} sequences is too many: at most {MAX_SEQUENCES}.")
    for n, seq in enumerate(sequences, start=1):
        if not isinstance(seq, str):
            raise ConfigError(f"Sequence {n} is not text.")
        if not seq.strip():
            raise ConfigError(
                f"Sequence {n} is empty or only whitespace: every sequence needs at least one visible character."
            )
        if len(seq) > MAX_LENGTH:
            raise ConfigError(f"Sequence {n} has {len(seq)} characters: at most {MAX_LENGTH}.")
        for ch in seq:
            if 0xD800 <= ord(ch) <= 0xDFFF:
                raise ConfigError(
                    f"Sequence {n} holds U+{ord(ch):04X}, half of a broken "
                    "character (a lone surrogate), not a character."
                )


def _check_choice(name: str, value, choices: tuple) -> None:
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)} (got {value!r}).")


def _check_int(name: str, value, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name} must be a whole number (got {value!r}).")
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high} (got {value}).")


def parse_sequences(text: str) -> tuple[str, ...]:
    """Split text into sequences, one per line; empty lines are dropped."""
    return tuple(line.removesuffix("\r") for line in text.split("\n") if line.removesuffix("\r"))


# The blog's four sections: RNN, H = E = 5, one or two layers, one or two directions.
PRESETS = {
    "single-uni": Config(layers=1, bidirectional=False),
    "multi-uni": Config(layers=2, bidirectional=False),
    "single-bi": Config(layers=1, bidirectional=True),
    "multi-bi": Config(layers=2, bidirectional=True),
}


def preset_of(config: Config) -> str | None:
    """The preset that config is (its device aside: a preset never moves you off yours), or None."""
    return next((name for name, preset in PRESETS.items() if config.replace(device=preset.device) == preset), None)
