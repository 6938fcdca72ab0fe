"""What can be run: the Config, the blog's presets, and every limit and check in one place.

An invalid Config cannot be built, so nothing invalid ever reaches torch.
"""

import dataclasses
from dataclasses import dataclass

from rnnviz.brackets import TASK_VOCAB
from rnnviz.cells import CELLS

BLOG_SEQUENCES = ("long_str", "tiny", "medium")

NONLINEARITIES = ("tanh", "relu")
DEVICES = ("auto", "cpu", "cuda")
DTYPES = ("float32", "float64")
INITIAL_STATES = ("zeros", "random", "carry")  # h_0: torch's default, drawn after building, or carried over a split
TASKS = ("none", "brackets")
GATES = {"rnn": 1, "lstm": 4, "gru": 3}  # weight blocks per cell: the recurrent weights are GATES x hidden rows

# -----------------------------------------------------------------------------
# Limits: one link must never be able to take the server down.

MAX_SEQUENCES = 16
MAX_LENGTH = 64  # characters per sequence
MAX_LAYERS = 6
MAX_HIDDEN = 256
MAX_EMBEDDING = 256
MAX_SEED = 2**32 - 1
MAX_CELLS = 20_000  # numbers sent to the browser per heatmap; tables and downloads stay whole
CACHE_ENTRIES = 32  # analyses (and their layer outputs and pictures) a dashboard server keeps...
CACHE_BYTES = 192 * 2**20  # ...while their tensors fit here: the largest config, in float64, holds ~155 MB
MAX_STEPS = 1000  # Adam steps of a task's training
# Recurrent weights a task may train: a step costs ~10 ms + ~0.15 us a weight on the 2-core machine, so the largest
# (1000 steps of 100,000 weights) trains in ~25 s, and the exported script carries at most ~2 MB of weights.
MAX_TASK_WEIGHTS = 100_000
TRAININGS = 4  # trained models a process keeps (rnnviz.model.trained), the most recently used


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
    h0: str = "zeros"  # the initial state: zeros (torch's default), random (seeded, drawn after building), carry
    split: int = 0  # with h0 carry: the first chunk's length K (1 <= K < T); 0 means T // 2
    dropout: float = 0.0  # nn.RNN's dropout P: on each layer's output but the last, in train mode only
    train_mode: bool = False  # the module in train mode (dropout on), else eval mode
    task: str = "none"  # none, or brackets: first train next-character prediction, then run the trained weights
    steps: int = 0  # with a task: its Adam steps; 0 means the task's default (TASK_DEFAULTS["steps"])

    def __post_init__(self):
        if not isinstance(self.sequences, (tuple, list)):
            raise ConfigError("sequences must be a list of strings, one per sequence.")
        object.__setattr__(self, "sequences", tuple(self.sequences))
        if isinstance(self.dropout, int) and not isinstance(self.dropout, bool):
            object.__setattr__(self, "dropout", float(self.dropout))  # 0 and 0.0 are one config, written 0.0
        validate(self)

    @property
    def directions(self) -> int:
        """D: 2 for a bidirectional layer, else 1."""
        return 2 if self.bidirectional else 1

    @property
    def state_size(self) -> int:
        """H as it appears in output and h_n: proj_size for a projected LSTM, else hidden."""
        return self.proj or self.hidden

    @property
    def chunk(self) -> int:
        """K, the first chunk's length when carrying (split, or T // 2 for split 0); 0 when not carrying."""
        if self.h0 != "carry":
            return 0
        return self.split or max(len(seq) for seq in self.sequences) // 2

    @property
    def draws_masks(self) -> bool:
        """Whether the forward draws dropout masks: train mode, P > 0 and a layer above the first to feed."""
        return self.train_mode and self.dropout > 0 and self.layers >= 2

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
    for name in ("bidirectional", "batch_first", "packed", "train_mode"):
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
    _check_initial_state(config)
    _check_dropout(config)
    _check_task(config)


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


def _check_initial_state(config: Config) -> None:
    _check_choice("h0", config.h0, INITIAL_STATES)
    _check_int("split", config.split, 0, MAX_LENGTH - 1)
    if config.h0 != "carry":
        if config.split:
            raise ConfigError("split is the first chunk's length when h0 is carry: set h0 to carry, or split to 0.")
        return
    lengths = [len(seq) for seq in config.sequences]
    T, K = max(lengths), config.chunk
    if T < 2:
        raise ConfigError("carry runs every sequence in two chunks, so the longest needs at least 2 characters.")
    if K >= T:
        raise ConfigError(f"split must be at least 1 and below T = {T}, the longest sequence (got {K}).")
    if config.packed and min(lengths) <= K:
        n = lengths.index(min(lengths)) + 1
        raise ConfigError(
            f"Packed, sequence {n} ({min(lengths)} characters) leaves an empty second chunk at split {K}, and "
            f"pack_padded_sequence cannot take a length of 0: use a split below {min(lengths)}, or turn packing off."
        )


def _check_dropout(config: Config) -> None:
    p = config.dropout
    if isinstance(p, bool) or not isinstance(p, (int, float)):
        raise ConfigError(f"dropout must be a number (got {p!r}).")
    if not 0 <= p < 1:
        raise ConfigError(f"dropout must be at least 0 and below 1 (got {p}): the chance that a unit is zeroed.")
    if config.draws_masks and config.device == "cuda":
        raise ConfigError(
            "Train mode with dropout draws its masks from the CPU generator, so it runs on the CPU: "
            "use device cpu or auto (cuDNN keeps a dropout state of its own that no seed reproduces)."
        )


def _check_task(config: Config) -> None:
    _check_choice("task", config.task, TASKS)
    _check_int("steps", config.steps, 0, MAX_STEPS)
    if config.task == "none":
        if config.steps:
            raise ConfigError("steps is for a task's training: set task to brackets, or steps to 0.")
        return
    allowed = set(TASK_VOCAB[1:])
    for n, seq in enumerate(config.sequences, start=1):
        stray = sorted(set(seq) - allowed)
        if stray:
            raise ConfigError(
                f"Sequence {n} has characters outside the brackets task's vocabulary, {''.join(TASK_VOCAB[1:])}: "
                f"{''.join(stray)!r}."
            )
    weights = recurrent_weights(config)
    if weights > MAX_TASK_WEIGHTS:
        raise ConfigError(
            f"The brackets task would train {weights:,} recurrent weights, more than the {MAX_TASK_WEIGHTS:,} "
            "allowed: use fewer layers, one direction, or a smaller hidden or embedding size."
        )


def recurrent_weights(config: Config) -> int:
    """How many weights the recurrent layer has (biases aside): what a training step costs, roughly."""
    H, total = config.state_size, 0
    for layer in range(config.layers):
        inputs = config.embedding if layer == 0 else config.directions * H
        total += config.directions * (GATES[config.cell] * config.hidden * (inputs + H) + config.proj * config.hidden)
    return total


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
