"""The anatomy of a run: every state (sequence, layer, direction, t), and where output and h_n took it from.

Marks come from positions, never from equal values: h_n[k, b] is taken at the step where direction d of layer l
ends (rnnviz.positions: forward at T-1, or at len_b - 1 when packed; backward at t = 0, or at the split K when
carried in two chunks), whatever numbers happen to repeat. The states before a run's first step (h_0) are rows of
their own, in initial_states(): cells() keeps one row per step that a layer computes.
"""

import numpy as np
import pandas as pd

from rnnviz.batch import char_label
from rnnviz.positions import last_step

COLUMNS = ("sequence", "layer", "direction", "t", "token", "padding", "computed", "in_output", "h_n_row")
INITIAL_COLUMNS = ("sequence", "layer", "direction", "chunk", "before_t", "source", "h_0_row", "from_t")


def cells(result) -> pd.DataFrame:
    """One row per (sequence, layer, direction, t), in that order: token, padding, computed, in_output, h_n_row."""
    c = result.config
    L, D, B, T = c.layers, c.directions, len(c.sequences), result.batch.max_length
    b, layer, d, t = (a.ravel() for a in np.meshgrid(range(B), range(L), range(D), range(T), indexing="ij"))
    lengths = np.array(result.batch.lengths)[b]
    padding = t >= lengths
    computed = ~padding if c.packed else np.ones_like(padding)
    ends = last_step(c, lengths, T, d)
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


def places(result, b: int, layer: int, direction: int, t: int) -> tuple[list[str], str | None]:
    """Where one step's states sit in what the layer returned, by position: h_t in output[...] and h_n[k, b] (or
    nowhere); an LSTM's c_t in c_n[k, b] (else None), never in output."""
    frame = cells(result)
    cell = frame[(frame.sequence == b) & (frame.layer == layer) & (frame.direction == direction) & (frame.t == t)]
    row = cell.iloc[0]
    found = [output_index(result.config, t, b, direction)] if row.in_output else []
    if row.h_n_row >= 0:
        found.append(f"h_n[{row.h_n_row}, {b}]")
    c_place = f"c_n[{row.h_n_row}, {b}]" if row.h_n_row >= 0 and result.c_n is not None else None
    return found, c_place


def initial_states(result) -> pd.DataFrame:
    """One row per state a run starts from, per (sequence, layer, direction, chunk); chunk 1 only when carrying.

    before_t: the step that reads it first (forward: the chunk's first step; backward: the chunk's last step of that
    sequence); source: zeros (torch's default), random (h_0[h_0_row, b], drawn after building) or carried (the first
    chunk's h_n[h_0_row, b], taken at its step from_t); h_0_row and from_t are -1 where they do not apply.
    """
    c = result.config
    T, K = result.batch.max_length, c.chunk
    chunks = [(0, K or T, "random" if c.h0 == "random" else "zeros")] + ([(K, T, "carried")] if K else [])
    rows = []
    for b, n in enumerate(result.batch.lengths):
        for layer in range(c.layers):
            for d in range(c.directions):
                for chunk, (start, stop, source) in enumerate(chunks):
                    last = min(n, stop) - 1 if c.packed else stop - 1  # the chunk's last step that sequence b runs
                    row = -1 if source == "zeros" else layer * c.directions + d
                    taken = (0 if d else K - 1) if source == "carried" else -1
                    rows.append((b, layer, d, chunk, last if d else start, source, row, taken))
    return pd.DataFrame(rows, columns=INITIAL_COLUMNS)
