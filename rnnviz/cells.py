"""The cell types, one entry each: torch's module, the label, the step by hand and its equations.

The step functions are plain torch with plain arguments, so the exported script carries their very source
(inspect.getsource). A new cell type is one `Cell` entry in CELLS.
"""

from dataclasses import dataclass
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

# -----------------------------------------------------------------------------
# One step of each cell, by hand: every term by name, the new state under "h" (and "c" for an LSTM)


def rnn_step(x, h, c, w, nonlinearity="tanh"):
    """One RNN step: h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh). Returns every term by name."""
    x_part = F.linear(x, w["weight_ih"], w["bias_ih"])  # (B, H)
    h_part = F.linear(h, w["weight_hh"], w["bias_hh"])  # (B, H)
    act = torch.tanh if nonlinearity == "tanh" else torch.relu
    return {"x_part": x_part, "h_part": h_part, "h": act(x_part + h_part)}


def lstm_step(x, h, c, w):
    """One LSTM step: input, forget, cell and output gates, then c_t, h_t (and the projection)."""
    gates = F.linear(x, w["weight_ih"], w["bias_ih"]) + F.linear(h, w["weight_hh"], w["bias_hh"])  # (B, 4*hidden)
    i, f, g, o = gates.chunk(4, dim=1)  # each (B, hidden)
    i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
    c = f * c + i * g  # (B, hidden)
    h = o * torch.tanh(c)  # (B, hidden)
    terms = {"i": i, "f": f, "g": g, "o": o, "c": c}
    if "weight_hr" in w:
        terms["h_unprojected"] = h
        h = F.linear(h, w["weight_hr"])  # (B, proj)
    terms["h"] = h
    return terms


def gru_step(x, h, c, w):
    """One GRU step: reset and update gates, the candidate n_t, then h_t."""
    x_r, x_z, x_n = F.linear(x, w["weight_ih"], w["bias_ih"]).chunk(3, dim=1)  # each (B, H)
    h_r, h_z, h_n = F.linear(h, w["weight_hh"], w["bias_hh"]).chunk(3, dim=1)  # each (B, H)
    r = torch.sigmoid(x_r + h_r)
    z = torch.sigmoid(x_z + h_z)
    n = torch.tanh(x_n + r * h_n)
    return {"r": r, "z": z, "n": n, "h": (1 - z) * n + z * h}


def paper_gru_step(x, h, c, w):
    """One GRU step as Cho et al. (2014) wrote it, the reset gate on h before W_hn: n_t = tanh(W_in x_t + b_in +
    W_hn (r_t * h) + b_hn). torch's gru_step applies r_t after the product; the relation gru-matches-paper compares."""
    x_r, x_z, x_n = F.linear(x, w["weight_ih"], w["bias_ih"]).chunk(3, dim=1)  # each (B, H)
    h_r, h_z, _ = F.linear(h, w["weight_hh"], w["bias_hh"]).chunk(3, dim=1)  # each (B, H)
    r = torch.sigmoid(x_r + h_r)
    z = torch.sigmoid(x_z + h_z)
    n = torch.tanh(x_n + F.linear(r * h, w["weight_hh"].chunk(3)[2], w["bias_hh"].chunk(3)[2]))  # (B, H)
    return {"r": r, "z": z, "n": n, "h": (1 - z) * n + z * h}


# -----------------------------------------------------------------------------
# The registry


@dataclass(frozen=True)
class Cell:
    """Everything rnnviz knows about one cell type."""

    name: str  # as in Config.cell and on the command line
    label: str  # as the dashboard shows it (and links carry it)
    module: type  # nn.RNN, nn.LSTM or nn.GRU
    step: object  # the step by hand, above
    equations: tuple[str, ...]  # LaTeX; {prev} is t-1 forward, t+1 backward
    gates: tuple[str, ...]  # the blocks of hidden rows in weight_ih and weight_hh, in torch's order
    has_cell_state: bool = False  # c_n (and the projection, proj_size) exist
    has_nonlinearity: bool = False  # the nonlinearity option (tanh or relu) exists

    @property
    def module_name(self) -> str:
        """The module as code writes it: nn.LSTM."""
        return f"nn.{self.module.__name__}"


CELLS = {
    "rnn": Cell(
        "rnn",
        "RNN",
        nn.RNN,
        rnn_step,
        (r"h_t = ACT(W_{ih} x_t + b_{ih} + W_{hh} h_{prev} + b_{hh})",),
        ("h",),
        has_nonlinearity=True,
    ),
    "lstm": Cell(
        "lstm",
        "LSTM",
        nn.LSTM,
        lstm_step,
        (
            r"i_t = \sigma(W_{ii} x_t + b_{ii} + W_{hi} h_{prev} + b_{hi})",
            r"f_t = \sigma(W_{if} x_t + b_{if} + W_{hf} h_{prev} + b_{hf})",
            r"g_t = \tanh(W_{ig} x_t + b_{ig} + W_{hg} h_{prev} + b_{hg})",
            r"o_t = \sigma(W_{io} x_t + b_{io} + W_{ho} h_{prev} + b_{ho})",
            r"c_t = f_t \odot c_{prev} + i_t \odot g_t",
            r"h_t = o_t \odot \tanh(c_t)",
        ),
        ("i", "f", "g", "o"),
        has_cell_state=True,
    ),
    "gru": Cell(
        "gru",
        "GRU",
        nn.GRU,
        gru_step,
        (
            r"r_t = \sigma(W_{ir} x_t + b_{ir} + W_{hr} h_{prev} + b_{hr})",
            r"z_t = \sigma(W_{iz} x_t + b_{iz} + W_{hz} h_{prev} + b_{hz})",
            r"n_t = \tanh(W_{in} x_t + b_{in} + r_t \odot (W_{hn} h_{prev} + b_{hn}))",
            r"h_t = (1 - z_t) \odot n_t + z_t \odot h_{prev}",
        ),
        ("r", "z", "n"),
    ),
}
PROJECTION = r"h_t = W_{hr} \, (o_t \odot \tanh(c_t))"  # an LSTM's last line with proj_size


def cell_step(config):
    """The step function for the config's cell, its options bound."""
    step = CELLS[config.cell].step
    return partial(step, nonlinearity=config.nonlinearity) if CELLS[config.cell].has_nonlinearity else step


def step_code(config) -> str:
    """The step as the exported script writes it: lstm_step, or partial(rnn_step, nonlinearity='relu')."""
    cell = CELLS[config.cell]
    name = cell.step.__name__
    return f"partial({name}, nonlinearity={config.nonlinearity!r})" if cell.has_nonlinearity else name


def equations(config, direction: int) -> tuple[str, ...]:
    """The cell's equations in LaTeX, for the forward (t-1) or backward (t+1) direction."""
    lines = CELLS[config.cell].equations
    if config.proj:
        lines = (*lines[:-1], PROJECTION)
    act = r"\tanh" if config.nonlinearity == "tanh" else r"\mathrm{ReLU}"
    prev = "{t+1}" if direction else "{t-1}"
    return tuple(line.replace("ACT", act).replace("{prev}", prev) for line in lines)
