"""What can be run: the Config, the blog's presets, and every limit and check in one place.

An invalid Config cannot be built, so nothing invalid ever reaches torch.
"""

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from rnnviz.brackets import TASK_VOCAB
from rnnviz.cells import CELLS
from rnnviz.controls import Control, control

BLOG_SEQUENCES = ("long_str", "tiny", "medium")

NONLINEARITIES = ("tanh", "relu")
DEVICES = ("auto", "cpu", "cuda")
DTYPES = ("float32", "float64")
INITIAL_STATES = ("zeros", "random", "carry")  # h_0: torch's default, drawn after building, or carried over a split
TASKS = ("none", "brackets")
PADS = ("learned", "zero")  # the <pad> token's embedding: a learned row like any token's, or zeros (padding_idx=0)
SORTS = ("auto", "manual")  # packing: enforce_sorted=False (torch sorts), or the batch sorted by hand (enforce_sorted)

# -----------------------------------------------------------------------------
# Limits: one link must never be able to take the server down.

MAX_SEQUENCES = 16
MAX_LENGTH = 64  # characters per sequence
MAX_LAYERS = 6
MAX_HIDDEN = 256
MAX_EMBEDDING = 256
MAX_SEED = 2**32 - 1
MAX_DROPOUT = 0.95
MAX_CELLS = 20_000  # numbers sent to the browser per heatmap; tables and downloads stay whole
CACHE_ENTRIES = 32  # analyses (and their layer outputs and pictures) a dashboard server keeps...
CACHE_BYTES = 192 * 2**20  # ...while their tensors fit here: the largest config, in float64, holds ~155 MB
MAX_STEPS = 1000  # Adam steps of a task's training
# Recurrent weights a task may train: a step costs ~10 ms + ~0.15 us a weight on the 2-core machine, so the largest
# (1000 steps of 100,000 weights) trains in ~25 s, and the exported script carries at most ~2 MB of weights.
MAX_TASK_WEIGHTS = 100_000
TRAININGS = 4  # trained models a process keeps (rnnviz.training.trained), the most recently used


class ConfigError(ValueError):
    """An input the user can fix; its message says what is wrong and what is allowed."""


def _cell_label(name: str) -> str:
    return CELLS[name].label


def _rnn_only(values) -> str | None:
    cell = CELLS.get(values["cell"])
    return None if cell is None or cell.has_nonlinearity else f"only for the RNN cell: {cell.label} has fixed gates"


def _lstm_only(values) -> str | None:
    cell = CELLS.get(values["cell"])
    return None if cell is None or cell.has_cell_state else f"only for the LSTM cell, not {cell.label}"


def _carry_only(values) -> str | None:
    return None if values["h0"] == "carry" else "the first chunk's length when h0 is carry"


def _detach_carry_only(values) -> str | None:
    return None if values["h0"] == "carry" else "only for h0 carry: a run in one piece carries no state to detach"


def _own_embedding(values) -> str | None:
    return None if values["task"] == "none" else "for rnnviz's own embedding, not a task's trained one"


def _packed_only(values) -> str | None:
    return None if values["packed"] else "only for a packed batch: pack_padded_sequence and pad_packed_sequence take it"


def _task_only(values) -> str | None:
    return None if values["task"] != "none" else "for a task's training (task brackets)"


@dataclass(frozen=True)
class Config:
    """Everything that determines a run, and so every number rnnviz shows; each field carries its Control."""

    sequences: tuple[str, ...] = control(
        BLOG_SEQUENCES, "Sequences, one per line", "The batch, one sequence per line (an argument each).", "lines"
    )
    cell: str = control(
        "rnn", "Cell", "The recurrent layer: nn.RNN, nn.LSTM or nn.GRU.", "select", choices=CELLS,
        labels=_cell_label, trains=True,
    )  # fmt: skip
    nonlinearity: str = control(
        "tanh", "Nonlinearity", "The RNN cell's activation.", "select", choices=NONLINEARITIES, off=_rnn_only,
        trains=True,
    )  # fmt: skip
    layers: int = control(1, "Layers", "num_layers: each layer reads the output of the one below.", "number",
                          bounds=(1, MAX_LAYERS), trains=True)  # fmt: skip
    bidirectional: bool = control(
        False, "Bidirectional", "A second direction, with weights of its own, reads each sequence from its end.",
        "toggle", trains=True,
    )  # fmt: skip
    hidden: int = control(5, "Hidden size", "hidden_size: the units of each layer and direction.", "number",
                          bounds=(1, MAX_HIDDEN), trains=True)  # fmt: skip
    embedding: int = control(5, "Embedding size", "E, the embedding's size: the layer's input_size.", "number",
                             bounds=(1, MAX_EMBEDDING), trains=True)  # fmt: skip
    proj: int = control(
        0, "proj_size", "LSTM only: h is projected to this many units; 0, no projection. Below the hidden size.",
        "number", bounds=(0, MAX_HIDDEN - 1), off=_lstm_only, trains=True,
    )  # fmt: skip
    batch_first: bool = control(False, "batch_first", "output (B, T, D*H) instead of (T, B, D*H).", "toggle")
    packed: bool = control(
        False, "Packed (pack_padded_sequence)", "Each sequence stops at its own length.", "toggle"
    )
    pad: str = control(
        "learned", "Padding's embedding", "learned: a row of its own, like any token's; zero: "
        "nn.Embedding(padding_idx=0) embeds the `<pad>` token to zeros.", "select", choices=PADS, off=_own_embedding,
    )  # fmt: skip
    total_length: int = control(
        0, "total_length", "Packed: the batch padded to N steps and pad_packed_sequence(..., total_length=N); 0: off, "
        "the output stops at the longest sequence.", "number", bounds=(0, MAX_LENGTH), off=_packed_only,
    )  # fmt: skip
    sort: str = control(
        "auto", "Sort by length", "auto: pack_padded_sequence(enforce_sorted=False) sorts inside; manual: the batch "
        "sorted by length, longest first, and packed with enforce_sorted=True.", "select", choices=SORTS,
        off=_packed_only,
    )  # fmt: skip
    seed: int = control(0, "Seed", "Seeds the embedding, the layer's weights and every random draw.", "number",
                        bounds=(0, MAX_SEED), trains=True)  # fmt: skip
    device: str = control("auto", "Device", "auto: CUDA where there is one, else the CPU.", "select", choices=DEVICES)
    dtype: str = control("float32", "dtype", "The module's and the input's floating-point type.", "select",
                         choices=DTYPES)  # fmt: skip
    h0: str = control(
        "zeros", "Initial state h_0", "zeros (torch's default), random (seeded, drawn after building), or carry: "
        "the first chunk's h_n starts the second.", "select", choices=INITIAL_STATES,
    )  # fmt: skip
    split: int = control(
        0, "split K (first chunk)", "With h_0 carry: the first chunk's length K; 0: T // 2.", "number",
        bounds=(0, MAX_LENGTH - 1), off=_carry_only,
    )  # fmt: skip
    detach: bool = control(
        False, "detach (truncated backprop)", "With h_0 carry: the second chunk starts from the first's "
        "h_n.detach(): the same numbers, but no gradient flows back into the first chunk.", "toggle",
        off=_detach_carry_only,
    )  # fmt: skip
    dropout: float = control(
        0.0, "dropout", "Between layers, in train mode only: on each layer's output but the last.", "fraction",
        bounds=(0.0, MAX_DROPOUT),
    )  # fmt: skip
    train_mode: bool = control(False, "Train mode (dropout on)", "The module in train mode, else eval mode.", "toggle")
    task: str = control(
        "none", "Task: train first", "brackets: train next-character prediction on generated bracket text, then "
        "show the trained layer.", "select", choices=TASKS,
    )  # fmt: skip
    steps: int = control(0, "training steps", "With a task: its Adam steps; 0: the task's default.", "number",
                         bounds=(0, MAX_STEPS), off=_task_only)  # fmt: skip

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
    values = vars(config)
    for name, ctl in controls().items():
        _check_control(name, values[name], ctl)
    for name, ctl in controls().items():
        reason = ctl.off and ctl.off(values)
        default = CONFIG_DEFAULTS[name]
        if reason and values[name] != default:
            raise ConfigError(f"{name} {values[name]} is {reason}; set {name} to {default}.")
    if config.proj >= config.hidden:
        raise ConfigError(
            f"proj must be smaller than hidden (got proj {config.proj}, hidden "
            f"{config.hidden}); 0 turns the projection off."
        )
    _check_initial_state(config)
    _check_total_length(config)
    _check_dropout(config)
    _check_task(config)


def _check_control(name: str, value, ctl: Control) -> None:
    """The checks every control of its widget kind needs: its type, and its choices or bounds."""
    if ctl.widget == "lines":
        _check_sequences(value)
    elif ctl.widget == "select":
        _check_choice(name, value, tuple(ctl.choices))
    elif ctl.widget == "number":
        _check_int(name, value, *ctl.bounds)
    elif ctl.widget == "toggle" and not isinstance(value, bool):
        raise ConfigError(f"{name} must be true or false.")
    elif ctl.widget == "fraction":
        low, high = ctl.bounds
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{name} must be a number (got {value!r}).")
        if not low <= value <= high:
            raise ConfigError(f"{name} must be between {low} and {high} (got {value}).")


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
    if config.h0 != "carry":
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


def _check_total_length(config: Config) -> None:
    T = max(len(seq) for seq in config.sequences)
    if config.total_length and config.total_length < T:
        raise ConfigError(
            f"total_length {config.total_length} is shorter than T = {T}, the longest sequence: pad_packed_sequence "
            f"pads the output to total_length and never cuts it; use 0 (off) or {T} to {MAX_LENGTH}."
        )


def _check_dropout(config: Config) -> None:
    if config.draws_masks and config.device == "cuda":
        raise ConfigError(
            "Train mode with dropout draws its masks from the CPU generator, so it runs on the CPU: use device cpu "
            "or auto. On CUDA, cuDNN draws them from a dropout state of its own: a seed (or a restored generator "
            "state) rebuilds it, but each call moves it on by itself, so only the first call after that draws its "
            "masks again, and they are not the CPU's: the CPU run and the exported script's numbers could not be "
            "matched."
        )


def _check_task(config: Config) -> None:
    if config.task == "none":
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
    """How many weights the recurrent layer has (biases aside): the multiply-adds of one step of the stack for one
    sequence, and roughly what a training step costs."""
    c, H, rows = config, config.state_size, len(CELLS[config.cell].gates) * config.hidden
    inputs = [c.embedding] + [c.directions * H] * (c.layers - 1)
    return sum(c.directions * (rows * (n + H) + c.proj * c.hidden) for n in inputs)


def _check_choice(name: str, value, choices: tuple) -> None:
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)} (got {value!r}).")


def _check_int(name: str, value, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name} must be a whole number (got {value!r}).")
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high} (got {value}).")


# -----------------------------------------------------------------------------
# The controls: every field's Control, and configs made from (or told as) the controls' values


def controls() -> dict[str, Control]:
    """Every Config field's Control, in the fields' order."""
    return {f.name: f.metadata["control"] for f in dataclasses.fields(Config)}


CONFIG_DEFAULTS = MappingProxyType({f.name: f.default for f in dataclasses.fields(Config)})


def off_reasons(values: Mapping) -> dict[str, str]:
    """name -> why that control does not apply to the other values (its widget is disabled), for those that don't."""
    return {name: reason for name, ctl in controls().items() if ctl.off and (reason := ctl.off(values))}


def config_from_controls(values: Mapping) -> Config:
    """The Config of every control's value (name -> value), a control that does not apply taking its default, as a
    disabled widget's value does not count. ConfigError if the rest cannot be run."""
    values = dict(values)
    values.update({name: CONFIG_DEFAULTS[name] for name in off_reasons(values)})
    return Config(**values)


def changes(config: Config) -> dict:
    """The fields whose values differ from the default Config's, as JSON-ready values."""
    return {name: value for name, value in config.as_dict().items() if getattr(config, name) != CONFIG_DEFAULTS[name]}


# The blog's four sections (RNN, H = E = 5, one or two layers, one or two directions), then its batch packed: each
# sequence stops at its own length.
PRESETS = {
    "single-uni": Config(layers=1, bidirectional=False),
    "multi-uni": Config(layers=2, bidirectional=False),
    "single-bi": Config(layers=1, bidirectional=True),
    "multi-bi": Config(layers=2, bidirectional=True),
    "packed": Config(layers=1, bidirectional=True, packed=True),
}


def preset_of(config: Config) -> str | None:
    """The preset that config is (its device aside: a preset never moves you off yours), or None."""
    return next((name for name, preset in PRESETS.items() if config.replace(device=preset.device) == preset), None)
