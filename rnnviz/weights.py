"""The parameters of the layer: each one's name, shape, layer, direction and gate rows, in torch's order.

Above the rule, plain torch on a name -> tensor dict (RunResult.weights, or dict(module.named_parameters())), so the
exported script carries their very source: the weights with every forget slice set, and with a part of bias_hh moved
into bias_ih.
"""

import copy
import math
import re
from typing import NamedTuple

import pandas as pd
import torch

from rnnviz.cells import CELLS
from rnnviz.model import BUILD_LOCK, RunResult, recurrent_module


def forget_bias(weights, hidden, ih, hh):
    """A copy of an LSTM's weights with every forget slice (rows hidden:2*hidden of the biases: i, f, g, o) set to ih
    in bias_ih and hh in bias_hh."""
    edited = dict(weights)
    for name, p in weights.items():
        if name.startswith("bias_"):
            edited[name] = p.clone()
            edited[name][hidden : 2 * hidden] = ih if name.startswith("bias_ih") else hh
    return edited


def move_bias(weights, rows, seed):
    """A copy of the weights with a random part of rows :rows of every bias_hh moved into its bias_ih (drawn from its
    own generator, seeded): each pair's sum is the same."""
    generator = torch.Generator().manual_seed(seed)
    moved = dict(weights)
    for name, b_hh in weights.items():
        if name.startswith("bias_hh"):
            part = torch.zeros_like(b_hh)  # (gates*hidden,)
            part[:rows] = torch.randn(rows, generator=generator, dtype=b_hh.dtype)
            ih = name.replace("bias_hh", "bias_ih")
            moved[name], moved[ih] = b_hh - part, weights[ih] + part
    return moved


# -----------------------------------------------------------------------------
# The anatomy of a module's parameters

NAME = re.compile(r"(weight|bias)_(ih|hh|hr)_l(\d+)(_reverse)?")
READS = {"ih": "the layer's input x_t", "hh": "the state from the step before", "hr": "o_t * tanh(c_t)"}
PROJECTION = "proj"  # weight_hr's rows: the projection, not a gate


class Parameter(NamedTuple):
    """One parameter of a recurrent module, as torch names and lays it out."""

    name: str  # weight_ih_l0_reverse
    kind: str  # weight_ih, weight_hh, bias_ih, bias_hh or weight_hr
    layer: int
    direction: int  # 0 forward, 1 backward (_reverse)
    shape: tuple[int, ...]
    blocks: tuple[tuple[str, int, int], ...]  # (gate, first row, row after): the rows each gate owns, in order

    @property
    def numel(self) -> int:
        """How many numbers it holds."""
        return math.prod(self.shape)


def anatomy(weights, cell: str) -> tuple[Parameter, ...]:
    """Every parameter of a module of this cell (weights: name -> tensor, in named_parameters() order), with the rows
    each gate owns: the gates stacked in torch's order (LSTM i, f, g, o; GRU r, z, n; RNN h), hidden rows each."""
    gates = CELLS[cell].gates
    found = []
    for name, p in weights.items():
        kind, rows, layer, reverse = NAME.fullmatch(name).groups()
        size = p.shape[0]
        if rows == "hr":
            blocks = ((PROJECTION, 0, size),)
        else:
            hidden = size // len(gates)
            blocks = tuple((g, i * hidden, (i + 1) * hidden) for i, g in enumerate(gates))
        found.append(Parameter(name, f"{kind}_{rows}", int(layer), int(bool(reverse)), tuple(p.shape), blocks))
    return tuple(found)


def parameter_count(parameters) -> int:
    """How many numbers the module learns: sum(p.numel() for p in module.parameters())."""
    return sum(p.numel for p in parameters)


def _rows(p: Parameter) -> str:
    return " · ".join(f"{gate} {start}:{stop}" for gate, start, stop in p.blocks)


def parameters_frame(parameters) -> pd.DataFrame:
    """A row per parameter: its name, shape, which rows each gate owns, layer, direction, what it multiplies."""
    rows = []
    for p in parameters:
        columns = READS[p.kind[-2:]] if p.kind.startswith("weight") else "added (no input)"
        if p.kind.startswith("weight"):
            columns += f", {p.shape[1]} wide"
        rows.append(
            {
                "name": p.name,
                "shape": str(list(p.shape)),
                "rows by gate": _rows(p),
                "layer": p.layer,
                "direction": ("forward", "backward")[p.direction],
                "columns read": columns,
                "numbers": p.numel,
            }
        )
    return pd.DataFrame(rows)


def blocks_frame(parameters) -> pd.DataFrame:
    """A row per gate block of every parameter (long form, for a chart): parameter, gate, first row, row after."""
    return pd.DataFrame(
        [
            {"parameter": p.name, "gate": gate, "start": start, "stop": stop, "rows": f"{gate} {start}:{stop}"}
            for p in parameters
            for gate, start, stop in p.blocks
        ]
    )


class ForgetSlices(NamedTuple):
    """The forget gate's slice of layer 0's forward biases, as the recipe reads them from torch's module."""

    code: str  # the recipe, on a module named rnn
    bias_ih: torch.Tensor  # (hidden,) rnn.bias_ih_l0[H:2*H]
    bias_hh: torch.Tensor  # (hidden,) rnn.bias_hh_l0[H:2*H]
    after: torch.Tensor  # (hidden,) their sum once the recipe set a forget bias of 1: ones


FORGET_CODE = """H = rnn.hidden_size
b_ih = rnn.bias_ih_l0[H : 2 * H]  # the forget gate's rows (i, f, g, o)
b_hh = rnn.bias_hh_l0[H : 2 * H]
before = b_ih.detach().clone(), b_hh.detach().clone()
with torch.no_grad():  # they add: 1 and 0 make a forget bias of 1
    b_ih.fill_(1.0)
    b_hh.fill_(0.0)
after = b_ih + b_hh"""


def forget_slices(rnn: torch.nn.LSTM) -> ForgetSlices:
    """FORGET_CODE run on a copy of an LSTM module: its forget slices before, and their sum after (ones)."""
    ns = {"torch": torch, "rnn": copy.deepcopy(rnn)}
    exec(FORGET_CODE, ns)  # the recipe as shown (rnnviz's own text, never user input), on the module
    return ForgetSlices(FORGET_CODE, *ns["before"], ns["after"].detach())


def module(result: RunResult) -> torch.nn.RNNBase:
    """torch's own module of the run, holding its weights (on the CPU, in the run's dtype)."""
    c = result.config
    with BUILD_LOCK, torch.random.fork_rng(devices=[]):  # its random init is overwritten: leave the RNG alone
        rnn = recurrent_module(c, c.embedding, c.layers, c.batch_first)
    rnn.load_state_dict(dict(result.weights), assign=True)
    return rnn
