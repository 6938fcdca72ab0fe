"""Unrolled by hand: one time step of one layer, direction and sequence, term by term, next to torch's number."""

from dataclasses import dataclass

import torch

from rnnviz.cells import CELLS, cell_step, equations
from rnnviz.recompute import layer_weights

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
    terms = [("x_t", x), (f"h_{p}", h_prev)] + ([(f"c_{p}", c_prev)] if CELLS[c.cell].has_cell_state else [])
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
