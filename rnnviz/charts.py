"""Heatmaps (altair, returned as Vega-Lite dicts) of output over time and of h_n, with h_n's cells marked."""

import altair as alt
import pandas as pd
import torch

from rnnviz.batch import char_label
from rnnviz.tables import DIRECTION_NAMES, unit_names

# The app caps every heatmap at MAX_CELLS itself, so altair's own 5,000-row guard is lifted.
alt.data_transformers.disable_max_rows()

COLOURS = alt.Scale(scheme="redblue", reverse=True, domainMid=0)
MARK = {"filled": False, "stroke": "black", "strokeWidth": 2.5}


def h_n_blocks(result) -> torch.Tensor:
    """(T, B, D) bools: whether output's block at (t, b, direction d) is exactly the top layer's h_n for (d, b)."""
    c = result.config
    L, D, B, H = c.layers, c.directions, len(c.sequences), c.state_size
    out = result.output.transpose(0, 1) if c.batch_first else result.output  # (T, B, D*H)
    top = result.h_n.view(L, D, B, H)[-1]  # (D, B, H)
    blocks = out.reshape(out.shape[0], B, D, H)  # (T, B, D, H)
    return (blocks == top.transpose(0, 1)).all(dim=-1)  # (T, B, D)


def state_label(layer: int, d: int, directions: int) -> str:
    """A short row label for h_n: its index, layer and direction."""
    return f"[{layer * directions + d}] layer {layer} {('fwd', 'bwd')[d]}"


def sequence_label(result, b: int) -> str:
    """A facet title: the sequence's index and its text, cut to 24 characters."""
    text = result.batch.sequences[b]
    return f"b={b} {text[:24]}{'…' if len(text) > 24 else ''}"


def output_heatmap(result, sequences, max_units: int) -> dict:
    """output[:, b, :] over time for each chosen sequence; outlined cells hold exactly h_n's numbers."""
    c = result.config
    H, T = c.state_size, result.batch.max_length
    shown = min(H, max_units)
    out = result.output.transpose(0, 1) if c.batch_first else result.output  # (T, B, D*H)
    marked = h_n_blocks(result)  # (T, B, D)
    names = unit_names(c.directions, H)
    rows = [
        {
            "sequence": sequence_label(result, b),
            "step": f"{t} {char_label(result.batch.token(t, b))}",
            "t": t,
            "unit": names[d * H + k],
            "direction": DIRECTION_NAMES[d],
            "value": float(out[t, b, d * H + k]),
            "h_n": bool(marked[t, b, d]),
        }
        for b in sequences
        for t in range(T)
        for d in range(c.directions)
        for k in range(shown)
    ]
    units = [names[d * H + k] for d in range(c.directions) for k in range(shown)]
    base = alt.Chart(pd.DataFrame(rows)).encode(
        x=alt.X("step:N", sort=alt.SortField("t"), title="time step and token"),
        y=alt.Y("unit:N", sort=units, title="unit (fwd | bwd)" if c.directions == 2 else "unit"),
    )
    heat = base.mark_rect().encode(
        color=alt.Color("value:Q", scale=COLOURS, title="value"),
        tooltip=["sequence", "step", "unit", "direction", alt.Tooltip("value:Q", format=".5f"), "h_n"],
    )
    outline = base.transform_filter(alt.datum.h_n).mark_rect(**MARK)
    layered = alt.layer(heat, outline).properties(width=max(120, 26 * T), height=max(60, 16 * len(units)))
    return (
        layered.facet(row=alt.Row("sequence:N", title=None, sort=[sequence_label(result, b) for b in sequences]))
        .resolve_scale(x="independent")
        .to_dict()
    )


def h_n_heatmap(result, sequences, max_units: int) -> dict:
    """h_n for each chosen sequence, one row per layer and direction; the top layer's rows are outlined."""
    c = result.config
    L, D, H = c.layers, c.directions, c.state_size
    shown = min(H, max_units)
    hv = result.h_n.view(L, D, len(c.sequences), H)  # (L, D, B, H)
    rows = [
        {
            "sequence": sequence_label(result, b),
            "state": state_label(layer, d, D),
            "unit": k,
            "value": float(hv[layer, d, b, k]),
            "top": layer == L - 1,
        }
        for b in sequences
        for layer in range(L)
        for d in range(D)
        for k in range(shown)
    ]
    states = [state_label(layer, d, D) for layer in range(L) for d in range(D)]
    base = alt.Chart(pd.DataFrame(rows)).encode(
        x=alt.X("unit:O", title="unit"), y=alt.Y("state:N", sort=states, title=None)
    )
    heat = base.mark_rect().encode(
        color=alt.Color("value:Q", scale=COLOURS, title="value"),
        tooltip=["sequence", "state", "unit", alt.Tooltip("value:Q", format=".5f")],
    )
    outline = base.transform_filter(alt.datum.top).mark_rect(**MARK)
    layered = alt.layer(heat, outline).properties(width=max(120, 26 * shown), height=22 * len(states))
    return layered.facet(
        column=alt.Column("sequence:N", title=None, sort=[sequence_label(result, b) for b in sequences])
    ).to_dict()
