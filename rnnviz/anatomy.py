"""The anatomy of a run: every state (sequence, layer, direction, t), and where output and h_n took it from.

Marks come from positions, never from equal values: h_n[k, b] is taken at the step where direction d of layer l
ends (forward at T-1, or at len_b - 1 when packed; backward at t = 0), whatever numbers happen to repeat.
"""

import numpy as np
import pandas as pd

from rnnviz.batch import char_label

COLUMNS = ("sequence", "layer", "direction", "t", "token", "padding", "computed", "in_output", "h_n_row")


def cells(result) -> pd.DataFrame:
    """One row per (sequence, layer, direction, t), in that order: token, padding, computed, in_output, h_n_row."""
    c = result.config
    L, D, B, T = c.layers, c.directions, len(c.sequences), result.batch.max_length
    b, layer, d, t = (a.ravel() for a in np.meshgrid(range(B), range(L), range(D), range(T), indexing="ij"))
    lengths = np.array(result.batch.lengths)[b]
    padding = t >= lengths
    computed = ~padding if c.packed else np.ones_like(padding)
    ends = np.where(d == 1, 0, lengths - 1 if c.packed else T - 1)
    tokens = {(bb, tt): char_label(result.batch.token(tt, bb)) for bb in range(B) for tt in range(T)}
    return pd.DataFrame(
        {
            "sequence": b,
            "layer": layer,
            "direction": d,
            "t": t,
            "token": [tokens[bb, tt] for bb, tt in zip(b, t, strict=True)],
            "padding": padding,
            "computed": computed,
            "in_output": (layer == L - 1) & computed,
            "h_n_row": np.where(t == ends, layer * D + d, -1),
        }
    )


def output_index(config, t: int, b: int, direction: int) -> str:
    """Where output holds a top-layer state: output[t, b, d*H:(d+1)*H] (b first with batch_first)."""
    H = config.state_size
    at = f"{b}, {t}" if config.batch_first else f"{t}, {b}"
    return f"output[{at}, {direction * H}:{(direction + 1) * H}]"


def state_name(config, layer: int, direction: int) -> str:
    """A state's row in h_n in words: h_n[3]: layer 1 backward."""
    k = layer * config.directions + direction
    return f"h_n[{k}]: layer {layer} {('forward', 'backward')[direction]}"


def places(result, b: int, layer: int, direction: int, t: int) -> list[str]:
    """Where one state sits in what the layer returned, by position: output[...], h_n[k, b] (and c_n), or nothing."""
    frame = cells(result)
    cell = frame[(frame.sequence == b) & (frame.layer == layer) & (frame.direction == direction) & (frame.t == t)]
    row = cell.iloc[0]
    found = [output_index(result.config, t, b, direction)] if row.in_output else []
    if row.h_n_row >= 0:
        found.append(f"h_n[{row.h_n_row}, {b}]")
        if result.c_n is not None:
            found.append(f"c_n[{row.h_n_row}, {b}]")
    return found
