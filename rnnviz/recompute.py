"""The hand recomputation: a whole stack run step by step with the cells' equations, from the module's weights.

Everything above the rule is plain torch with plain arguments, so the exported
snippet carries these very functions (inspect.getsource) rather than a copy.
"""

from dataclasses import dataclass

import torch

from rnnviz.cells import cell_step


def layer_weights(weights, layer, direction):
    """The weights of one layer and direction, under names without the _l{k}[_reverse] suffix."""
    suffix = f"_l{layer}" + ("_reverse" if direction else "")
    return {name[: -len(suffix)]: p for name, p in weights.items() if name.endswith(suffix)}


def run_direction(step, x, lengths, w, hidden, reverse):
    """Run one direction of one layer over time; sequence b only steps while t < lengths[b]."""
    T, B, _ = x.shape
    h = x.new_zeros(B, w["weight_hr"].shape[0] if "weight_hr" in w else hidden)  # (B, H)
    c = x.new_zeros(B, hidden)  # (B, hidden)
    outputs, cells = x.new_zeros(T, B, h.shape[1]), x.new_zeros(T, B, hidden)
    for t in reversed(range(T)) if reverse else range(T):
        live = (t < lengths).unsqueeze(1)  # (B, 1)
        terms = step(x[t], h, c, w)
        h = torch.where(live, terms["h"], h)
        c = torch.where(live, terms.get("c", c), c)
        outputs[t] = torch.where(live, h, 0)  # a padded step outputs 0, as pad_packed_sequence does
        cells[t] = torch.where(live, c, 0)
    return outputs, cells, h, c


def by_hand(step, x, lengths, weights, layers, directions, hidden):
    """Recompute a whole stack from its weights: per-layer outputs and cells (T, B, D*.), h_n, c_n."""
    layer_outputs, layer_cells, h_n, c_n = [], [], [], []
    for layer in range(layers):
        runs = [
            run_direction(step, x, lengths, layer_weights(weights, layer, d), hidden, reverse=d == 1)
            for d in range(directions)
        ]
        x = torch.cat([r[0] for r in runs], dim=2)  # (T, B, D*H): the next layer's input
        layer_outputs.append(x)
        layer_cells.append(torch.cat([r[1] for r in runs], dim=2))  # (T, B, D*hidden)
        h_n += [r[2] for r in runs]
        c_n += [r[3] for r in runs]
    return layer_outputs, layer_cells, torch.stack(h_n), torch.stack(c_n)  # h_n: (L*D, B, H)


def output_gates(step, x, layer_outputs, weights, starts, ends, h_0):
    """An LSTM's output gate o_t of every layer and direction at the step where h_n is taken: (L*D, B, hidden).

    x: the stack's input (T, B, E); layer_outputs: every layer's output (T, B, D*H); starts[d][b], ends[d][b]: where
    direction d's run begins and ends; h_0: the state before the first step (L*D, B, H), or None for zeros. o_t reads
    only x_t and the state before it, h_{t-1} (h_{t+1} backward), so c_{t-1} does not matter here.
    """
    D = len(ends)
    H = layer_outputs[0].shape[2] // D
    gates = []
    for layer, output in enumerate(layer_outputs):
        inputs = x if layer == 0 else layer_outputs[layer - 1]  # (T, B, E or D*H)
        for d in range(D):
            w = layer_weights(weights, layer, d)
            hidden = w["weight_hh"].shape[0] // 4
            for b, (start, t) in enumerate(zip(starts[d], ends[d], strict=True)):
                if t != start:
                    before = output[t - 1 if d == 0 else t + 1, b, d * H : (d + 1) * H]  # (H,)
                else:
                    before = x.new_zeros(H) if h_0 is None else h_0[layer * D + d, b]  # (H,)
                terms = step(inputs[t, b][None], before[None], x.new_zeros(1, hidden), w)
                gates.append(terms["o"][0])  # (hidden,)
    B = x.shape[1]
    return torch.stack(gates).view(len(layer_outputs) * D, B, -1)  # (L*D, B, hidden)


# -----------------------------------------------------------------------------
# The same, applied to a RunResult


@dataclass(frozen=True)
class Reference:
    """The hand-recomputed tensors for a run, time-major per layer, laid out like torch's at the top."""

    layer_inputs: tuple  # L tensors (T, B, E or D*H)
    layer_outputs: tuple  # L tensors (T, B, D*H)
    layer_cells: tuple  # L tensors (T, B, D*hidden); zeros for RNN and GRU
    output: torch.Tensor  # like result.output
    h_n: torch.Tensor  # (L*D, B, H)
    c_n: torch.Tensor | None  # (L*D, B, hidden) for an LSTM


def recomputable(config) -> bool:
    """Whether the hand recomputation is the run's own: it starts from zeros and drops nothing (h0 zeros, no
    dropout masks)."""
    return config.h0 == "zeros" and not config.draws_masks


def recompute(result) -> Reference:
    """Recompute output, h_n and c_n of a RunResult by hand, on the CPU in the run's dtype."""
    config = result.config
    x = result.embedded.transpose(0, 1) if config.batch_first else result.embedded  # (T, B, E)
    lengths = torch.tensor(result.batch.lengths if config.packed else [x.shape[0]] * x.shape[1])  # (B,)
    layer_outputs, layer_cells, h_n, c_n = by_hand(
        cell_step(config), x, lengths, dict(result.weights), config.layers, config.directions, config.hidden
    )
    output = layer_outputs[-1].transpose(0, 1) if config.batch_first else layer_outputs[-1]
    return Reference(
        layer_inputs=(x, *layer_outputs[:-1]),
        layer_outputs=tuple(layer_outputs),
        layer_cells=tuple(layer_cells),
        output=output,
        h_n=h_n,
        c_n=None if result.c_n is None else c_n,
    )
