"""Unrolled by hand: one time step of one layer, direction and sequence, term by term, next to torch's number."""

from dataclasses import dataclass

import torch

from rnnviz.recompute import cell_step, layer_weights

EQUATIONS = {
    "rnn": (r"h_t = ACT(W_{ih} x_t + b_{ih} + W_{hh} h_{prev} + b_{hh})",),
    "lstm": (
        r"i_t = \sigma(W_{ii} x_t + b_{ii} + W_{hi} h_{prev} + b_{hi})",
        r"f_t = \sigma(W_{if} x_t + b_{if} + W_{hf} h_{prev} + b_{hf})",
        r"g_t = \tanh(W_{ig} x_t + b_{ig} + W_{hg} h_{prev} + b_{hg})",
        r"o_t = \sigma(W_{io} x_t + b_{io} + W_{ho} h_{prev} + b_{ho})",
        r"c_t = f_t \odot c_{prev} + i_t \odot g_t",
        r"h_t = o_t \odot \tanh(c_t)",
    ),
    "gru": (
        r"r_t = \sigma(W_{ir} x_t + b_{ir} + W_{hr} h_{prev} + b_{hr})",
        r"z_t = \sigma(W_{iz} x_t + b_{iz} + W_{hz} h_{prev} + b_{hz})",
        r"n_t = \tanh(W_{in} x_t + b_{in} + r_t \odot (W_{hn} h_{prev} + b_{hn}))",
        r"h_t = (1 - z_t) \odot n_t + z_t \odot h_{prev}",
    ),
}
PROJECTION = r"h_t = W_{hr} \, (o_t \odot \tanh(c_t))"

TERM_LABELS = {
    "x_part": "W_ih x_t + b_ih",
    "h_part": "W_hh h_prev + b_hh",
    "h_unprojected": "o_t * tanh(c_t)",
}


@dataclass(frozen=True)
class StepTrace:
    """Every number of one cell step, and torch's value for the same state."""

    t: int
    layer: int
    direction: int
    sequence: int
    equations: tuple[str, ...]  # LaTeX, with prev written as t-1 (forward) or t+1 (backward)
    terms: tuple[tuple[str, torch.Tensor], ...]  # (label, vector): inputs, gates, states, result
    h: torch.Tensor  # (H,) recomputed by hand
    torch_h: torch.Tensor  # (H,) torch's number
    torch_source: str  # where torch's number comes from
    max_abs_diff: float


def equations(config, direction: int) -> tuple[str, ...]:
    """The cell's equations in LaTeX, for the forward (t-1) or backward (t+1) direction."""
    lines = (*EQUATIONS[config.cell][:-1], PROJECTION) if config.proj else EQUATIONS[config.cell]
    act = r"\tanh" if config.nonlinearity == "tanh" else r"\mathrm{ReLU}"
    prev = "{t+1}" if direction else "{t-1}"
    return tuple(line.replace("ACT", act).replace("{prev}", prev) for line in lines)


def step_exists(result, t: int, sequence: int) -> bool:
    """Whether the layer ran step t for this sequence (with packing, not past its length)."""
    return not result.config.packed or t < result.batch.lengths[sequence]


def trace_step(result, reference, torch_layers, t: int, layer: int, direction: int, sequence: int) -> StepTrace:
    """Recompute one step from the weights; torch_layers is model.layer_by_layer(result)."""
    c = result.config
    H, hidden = c.state_size, c.hidden
    x = reference.layer_inputs[layer][t, sequence]  # (E) or (D*H)
    prev = t + 1 if direction else t - 1
    outputs, cells = reference.layer_outputs[layer], reference.layer_cells[layer]  # (T, B, D*H), (T, B, D*hidden)
    inside = 0 <= prev < outputs.shape[0]
    h_prev = outputs[prev, sequence, direction * H : (direction + 1) * H] if inside else x.new_zeros(H)
    c_prev = cells[prev, sequence, direction * hidden : (direction + 1) * hidden] if inside else x.new_zeros(hidden)
    step_terms = cell_step(c)(
        x[None], h_prev[None], c_prev[None], layer_weights(dict(result.weights), layer, direction)
    )
    h = step_terms["h"][0]  # (H,)
    if layer == c.layers - 1:
        at = f"{sequence}, {t}" if c.batch_first else f"{t}, {sequence}"
        torch_h = result.output[(sequence, t) if c.batch_first else (t, sequence)][direction * H : (direction + 1) * H]
        source = f"output[{at}, {direction * H}:{(direction + 1) * H}]"
    else:
        torch_h = torch_layers[layer][t, sequence, direction * H : (direction + 1) * H]
        source = f"layer {layer} run alone by torch, step {t}, units {direction * H}:{(direction + 1) * H}"
    p = "t+1" if direction else "t-1"
    terms = [("x_t", x), (f"h_{p}", h_prev)] + ([(f"c_{p}", c_prev)] if c.cell == "lstm" else [])
    terms += [(TERM_LABELS.get(name, name + "_t").replace("prev", p), v[0]) for name, v in step_terms.items()]
    return StepTrace(
        t=t,
        layer=layer,
        direction=direction,
        sequence=sequence,
        equations=equations(c, direction),
        terms=tuple(terms),
        h=h,
        torch_h=torch_h,
        torch_source=source,
        max_abs_diff=float((h - torch_h).abs().max()),
    )


def latex_vector(v: torch.Tensor, digits: int = 3, max_units: int = 6) -> str:
    """A vector as a LaTeX row matrix, cut with dots past max_units."""
    shown = [f"{float(x):.{digits}f}" for x in v[:max_units]]
    if len(v) > max_units:
        shown.append(r"\cdots")
    return r"\begin{bmatrix}" + " & ".join(shown) + r"\end{bmatrix}"
