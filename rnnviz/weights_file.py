"""A recurrent layer's weights from a saved state_dict: loaded without running code, the layer read off the shapes.

The file is a state_dict that torch.save wrote: of an nn.RNN, nn.LSTM or nn.GRU, or of a whole model holding one
under a prefix (encoder.rnn.weight_ih_l0). torch.load(..., weights_only=True) loads it, so a pickle that would run
code is refused, never run. The cell, layers, directions, hidden size, input size, projection and bias are read off
torch's names and shapes; an RNN's nonlinearity is not in them (the caller says it). A layer without biases runs with
zero biases in their place: the same sums.
"""

import hashlib
import io
import pickle
import re
import warnings
from dataclasses import dataclass
from types import MappingProxyType
from typing import NamedTuple

import torch

from rnnviz.cells import CELLS
from rnnviz.config import Config, ConfigError

MAX_BYTES = 200_000_000  # 200 MB: the largest layer Config allows is ~15 MB in float32
RECURRENT = re.compile(r"(weight_ih|weight_hh|bias_ih|bias_hh|weight_hr)_l(\d+)(_reverse)?")  # torch's names
FIRST = "weight_ih_l0"  # every recurrent layer has it: where one is found, its prefix is


class Layer(NamedTuple):
    """What a recurrent layer is, as its parameters' names and shapes say."""

    cell: str  # rnn, lstm or gru
    layers: int
    bidirectional: bool
    hidden: int
    input_size: int
    proj: int  # an LSTM's proj_size; 0: none
    bias: bool

    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        """torch's name -> shape of every parameter, in torch's order; the biases whether the layer has them or not."""
        rows, H = len(CELLS[self.cell].gates) * self.hidden, self.proj or self.hidden
        shapes = {}
        for k in range(self.layers):
            inputs = self.input_size if k == 0 else (2 if self.bidirectional else 1) * H
            for suffix in (f"_l{k}", f"_l{k}_reverse")[: 2 if self.bidirectional else 1]:
                shapes |= {f"weight_ih{suffix}": (rows, inputs), f"weight_hh{suffix}": (rows, H)}
                shapes |= {f"bias_ih{suffix}": (rows,), f"bias_hh{suffix}": (rows,)}
                if self.proj:
                    shapes[f"weight_hr{suffix}"] = (self.proj, self.hidden)
        return shapes

    def config_fields(self) -> dict:
        """The rnnviz.Config fields the layer sets."""
        return dict(
            cell=self.cell,
            layers=self.layers,
            bidirectional=self.bidirectional,
            hidden=self.hidden,
            embedding=self.input_size,
            proj=self.proj,
        )


@dataclass(frozen=True, eq=False)
class Weights:
    """A recurrent layer's weights read from a file, and the layer they describe. Never mutate it."""

    file: str  # the file's name, as given
    sha256: str  # of the file's bytes
    prefix: str  # the layer's names' prefix in the state_dict: "" for a layer's own, "encoder.rnn." in a model
    layer: Layer
    rnn: MappingProxyType  # torch's names without the prefix -> CPU tensor (zero biases where the layer has none)

    def as_dict(self) -> dict:
        """The report's config.weights."""
        return {"file": self.file, "sha256": self.sha256, "prefix": self.prefix, "sizes": self.layer._asdict()}


def read_weights(data: bytes, name: str, prefix: str | None = None) -> Weights:
    """The recurrent layer in a state_dict file's bytes (under prefix where it holds several), or ConfigError."""
    if len(data) > MAX_BYTES:
        raise ConfigError(f"{name} is {len(data) / 1e6:.0f} MB: rnnviz reads at most {MAX_BYTES // 10**6} MB.")
    state = _load(data, name)
    prefix = _prefix(state, name, prefix)
    found = {key[len(prefix) :]: t for key, t in state.items() if key.startswith(prefix)}
    found = {key: t for key, t in found.items() if RECURRENT.fullmatch(key)}
    layer = _layer(found, name)
    expected = layer.parameter_shapes()
    _check_parameters(found, expected, layer, name)
    try:
        Config(**layer.config_fields())
    except ConfigError as error:
        raise ConfigError(f"{name}: its layer ({describe(layer)}) does not fit rnnviz's limits: {error}") from None
    dtype = found[FIRST].dtype
    rnn = {key: found[key] if key in found else torch.zeros(shape, dtype=dtype) for key, shape in expected.items()}
    return Weights(name, hashlib.sha256(data).hexdigest(), prefix, layer, MappingProxyType(rnn))


def describe(layer: Layer) -> str:
    """The layer in words: LSTM, 2 layers, bidirectional, hidden 8, input 5, proj 3, no bias."""
    parts = [CELLS[layer.cell].label, f"{layer.layers} layer{'s' * (layer.layers > 1)}"]
    parts += ["bidirectional"] * layer.bidirectional + [f"hidden {layer.hidden}", f"input {layer.input_size}"]
    return ", ".join(parts + [f"proj {layer.proj}"] * bool(layer.proj) + ["no bias"] * (not layer.bias))


def _load(data: bytes, name: str) -> dict:
    """torch.load with weights_only=True: tensors and plain containers, never code."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch warns about pickle protocols on its way to refusing them
            state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        pickled = data[:1] == b"\x80" or "Unsupported global" in str(error)  # a pickle's first byte; code it names
        if not pickled:
            raise ConfigError(f"{name} is not a file torch.save wrote (its bytes are not a pickle).") from None
        raise ConfigError(
            f"{name} holds more than tensors (Python objects, code, a whole pickled model): rnnviz loads weights only "
            "and never unpickles code; save model.state_dict() instead."
        ) from None
    except Exception as error:  # a cut or foreign file: torch raises RuntimeError, EOFError, KeyError, ...
        detail = (str(error).split(". ")[0].splitlines() or [""])[0]
        raise ConfigError(
            f"{name} is not a file torch.save wrote, or it is cut short ({type(error).__name__}"
            f"{': ' + detail if detail else ''})."
        ) from None
    if not isinstance(state, dict) or not all(isinstance(key, str) for key in state):
        raise ConfigError(f"{name} holds a {type(state).__name__}, not a state_dict (names -> tensors).")
    return state


def _prefix(state: dict, name: str, asked: str | None) -> str:
    """The prefix of the recurrent layer's names: the one asked for, or the only one there is."""
    prefixes = [key[: -len(FIRST)] for key in state if key.endswith(FIRST)]
    prefixes = [p for p in prefixes if p == "" or p.endswith(".")]
    listed = ", ".join(repr(p) for p in prefixes)
    if asked is not None:
        asked = asked if asked == "" or asked.endswith(".") else asked + "."
        if asked not in prefixes:
            raise ConfigError(f"{name} has no recurrent layer under the prefix {asked!r}; it has: {listed or 'none'}.")
        return asked
    if not prefixes:
        keys = ", ".join(list(state)[:4]) + (", ..." if len(state) > 4 else "")
        raise ConfigError(
            f"{name} holds no recurrent layer: none of its {len(state)} names ({keys or 'none'}) is weight_ih_l0, "
            "or ends with .weight_ih_l0 as an nn.RNN, nn.LSTM or nn.GRU's do."
        )
    if len(prefixes) > 1:
        raise ConfigError(
            f"{name} holds {len(prefixes)} recurrent layers, under {listed}: give the prefix of the one to run."
        )
    return prefixes[0]


def _layer(found: dict, name: str) -> Layer:
    """The layer that the first layer's shapes describe (the rest are checked against it)."""
    bad = [key for key, t in found.items() if not isinstance(t, torch.Tensor) or not t.is_floating_point()]
    if bad:
        raise ConfigError(f"{name}: {bad[0]} is not a floating-point tensor.")
    ih, hh, hr = (found.get(f"{kind}_l0") for kind in ("weight_ih", "weight_hh", "weight_hr"))
    if hh is None or ih.dim() != 2 or hh.dim() != 2 or (hr is not None and hr.dim() != 2):
        raise ConfigError(f"{name}: weight_ih_l0 and weight_hh_l0 must be matrices, as torch's recurrent layers save.")
    hidden = hr.shape[1] if hr is not None else hh.shape[1]
    gates = {len(cell.gates): key for key, cell in CELLS.items()}
    cell = gates.get(ih.shape[0] // hidden) if hidden and ih.shape[0] % hidden == 0 else None
    if cell is None or (hr is not None and cell != "lstm"):
        raise ConfigError(
            f"{name}: weight_ih_l0 has {ih.shape[0]} rows, hidden is {hidden}: not 1 (RNN), 3 (GRU) or 4 (LSTM) blocks."
        )
    layers = 1 + max(int(RECURRENT.fullmatch(key).group(2)) for key in found)
    return Layer(
        cell=cell,
        layers=layers,
        bidirectional=f"{FIRST}_reverse" in found,
        hidden=hidden,
        input_size=ih.shape[1],
        proj=0 if hr is None else hr.shape[0],
        bias="bias_ih_l0" in found,
    )


def _check_parameters(found: dict, expected: dict, layer: Layer, name: str) -> None:
    """Every parameter such a layer has, each of its shape, and nothing else."""
    needed = {key for key in expected if layer.bias or not key.startswith("bias")}
    missing, extra = sorted(needed - set(found)), sorted(set(found) - needed)
    if missing or extra:
        parts = [f"{word} {', '.join(keys[:3])}" for word, keys in (("missing", missing), ("extra", extra)) if keys]
        raise ConfigError(f"{name}: not the parameters of one {describe(layer)} layer: {'; '.join(parts)}.")
    for key in sorted(needed):
        if tuple(found[key].shape) != expected[key]:
            raise ConfigError(
                f"{name}: {key} is {list(found[key].shape)}, but a {describe(layer)} layer's is {list(expected[key])}."
            )
