"""Heatmaps (altair, returned as Vega-Lite dicts) of output over time and of h_n, with h_n's cells marked.

Each chart caps its own size at MAX_CELLS and names its rows (a DataFrame under the spec's "datasets", which
Streamlit sends as Arrow), so altair's process-wide data transformer (and its 5,000-row guard) is never
involved. Marks come from the anatomy (positions), never from equal values.
"""

import altair as alt
import pandas as pd

from rnnviz.anatomy import cells
from rnnviz.batch import char_label
from rnnviz.config import MAX_CELLS
from rnnviz.tables import DIRECTION_NAMES, unit_names

COLOURS = alt.Scale(scheme="redblue", reverse=True, domainMid=0)
DATA = "cells"
MARK = {"filled": False, "stroke": "black", "strokeWidth": 2.5}


def units_shown(result, sequences) -> int:
    """How many units per direction a heatmap of these sequences shows: all of them, up to MAX_CELLS numbers."""
    c = result.config
    return max(1, min(c.state_size, MAX_CELLS // (result.batch.max_length * c.directions * len(sequences))))


def h_n_positions(result) -> set[tuple[int, int, int]]:
    """(t, b, d) where output holds the top layer's h_n for direction d of sequence b, by position."""
    top = cells(result).query("in_output and h_n_row >= 0")
    return set(zip(top.t, top.sequence, top.direction, strict=True))


def state_label(layer: int, d: int, directions: int) -> str:
    """A short row label for h_n: its index, layer and direction."""
    return f"[{layer * directions + d}] layer {layer} {('fwd', 'bwd')[d]}"


def with_rows(spec: dict, rows: list[dict]) -> dict:
    """The spec with its rows as the named dataset."""
    return {**spec, "datasets": {DATA: pd.DataFrame(rows)}}


def sequence_label(result, b: int) -> str:
    """A facet title: the sequence's index and its text, cut to 24 characters."""
    text = result.batch.sequences[b]
    return f"b={b} {text[:24]}{'…' if len(text) > 24 else ''}"


def output_heatmap(result, sequences) -> dict:
    """output[:, b, :] over time for each chosen sequence; outlined: the cells h_n was taken from."""
    c = result.config
    H, T = c.state_size, result.batch.max_length
    shown = units_shown(result, sequences)
    out = result.output.transpose(0, 1) if c.batch_first else result.output  # (T, B, D*H)
    marked = h_n_positions(result)
    names = unit_names(c.directions, H)
    rows = [
        {
            "sequence": sequence_label(result, b),
            "step": f"{t} {char_label(result.batch.token(t, b))}",
            "t": t,
            "unit": names[d * H + k],
            "direction": DIRECTION_NAMES[d],
            "value": float(out[t, b, d * H + k]),
            "h_n": (t, b, d) in marked,
        }
        for b in sequences
        for t in range(T)
        for d in range(c.directions)
        for k in range(shown)
    ]
    units = [names[d * H + k] for d in range(c.directions) for k in range(shown)]
    base = alt.Chart(alt.NamedData(name=DATA)).encode(
        x=alt.X("step:N", sort=alt.SortField("t"), title="time step and token"),
        y=alt.Y("unit:N", sort=units, title="unit (fwd | bwd)" if c.directions == 2 else "unit"),
    )
    heat = base.mark_rect().encode(
        color=alt.Color("value:Q", scale=COLOURS, title="value"),
        tooltip=["sequence:N", "step:N", "unit:N", "direction:N", alt.Tooltip("value:Q", format=".5f"), "h_n:N"],
    )
    outline = base.transform_filter(alt.datum.h_n).mark_rect(**MARK)
    layered = alt.layer(heat, outline).properties(width=max(120, 26 * T), height=max(60, 16 * len(units)))
    faceted = layered.facet(row=alt.Row("sequence:N", title=None, sort=[sequence_label(result, b) for b in sequences]))
    return with_rows(faceted.resolve_scale(x="independent").to_dict(), rows)


def h_n_heatmap(result, sequences) -> dict:
    """h_n for each chosen sequence, one row per layer and direction; the top layer's rows are outlined."""
    c = result.config
    L, D, H = c.layers, c.directions, c.state_size
    shown = units_shown(result, sequences)
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
    base = alt.Chart(alt.NamedData(name=DATA)).encode(
        x=alt.X("unit:O", title="unit"), y=alt.Y("state:N", sort=states, title=None)
    )
    heat = base.mark_rect().encode(
        color=alt.Color("value:Q", scale=COLOURS, title="value"),
        tooltip=["sequence:N", "state:N", "unit:O", alt.Tooltip("value:Q", format=".5f")],
    )
    outline = base.transform_filter(alt.datum.top).mark_rect(**MARK)
    layered = alt.layer(heat, outline).properties(width=max(120, 26 * shown), height=22 * len(states))
    faceted = layered.facet(
        column=alt.Column("sequence:N", title=None, sort=[sequence_label(result, b) for b in sequences])
    )
    return with_rows(faceted.to_dict(), rows)
