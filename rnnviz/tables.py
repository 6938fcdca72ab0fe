"""Labelled tables: the batch and the tensors as pandas frames whose rows and columns say what they are."""

import pandas as pd

from rnnviz.anatomy import cells
from rnnviz.batch import char_label

DIRECTION_NAMES = ("forward", "backward")
ARROWS = ("→", "←")  # the reading direction of forward and backward


def unit_names(directions: int, size: int) -> list[str]:
    """Column names for the last axis: fwd 0.. bwd 0.. for two directions, unit 0.. for one."""
    if directions == 1:
        return [f"unit {k}" for k in range(size)]
    return [f"{name} {k}" for name in ("fwd", "bwd") for k in range(size)]


def vocab_frame(batch) -> pd.DataFrame:
    """The vocabulary as one row, read left to right: each token's column holds its id, <pad> (0) first."""
    return pd.DataFrame([range(len(batch.vocab))], columns=[char_label(tok) for tok in batch.vocab], index=["id"])


def sequences_frame(batch) -> pd.DataFrame:
    """One row per sequence: its text, length and ids."""
    return pd.DataFrame(
        {
            "b": range(len(batch.sequences)),
            "sequence": list(batch.sequences),
            "length": list(batch.lengths),
            "ids": [" ".join(map(str, ids)) for ids in batch.ids],
        }
    )


def padded_frame(batch) -> pd.DataFrame:
    """The padded id tensor as it enters nn.Embedding: rows t and columns b (or the other way with batch_first)."""
    ids = batch.padded.numpy()
    if batch.batch_first:
        return pd.DataFrame(ids, columns=[f"t={t}" for t in range(ids.shape[1])]).rename_axis("b")
    return pd.DataFrame(ids, columns=[f"b={b}" for b in range(ids.shape[1])]).rename_axis("t")


def output_frame(result, sequences=None) -> pd.DataFrame:
    """output, one row per (time step, sequence) in the tensor's own order, with the token read there and the
    rows of h_n taken from it (by position: the anatomy), e.g. 'h_n[2] →'."""
    c = result.config
    seqs = range(len(c.sequences)) if sequences is None else sequences
    T = result.batch.max_length
    order = [(b, t) for b in seqs for t in range(T)] if c.batch_first else [(b, t) for t in range(T) for b in seqs]
    out = result.output.transpose(0, 1) if c.batch_first else result.output  # (T, B, D*H)
    rows = out[[t for _, t in order], [b for b, _ in order]].numpy()  # (rows, D*H)
    tokens = [char_label(result.batch.token(t, b)) for b, t in order]
    frame = cells(result)
    top = frame[frame.in_output & (frame.h_n_row >= 0)]
    names = {}
    for r in top.itertuples():
        names.setdefault((r.sequence, r.t), []).append(f"h_n[{r.h_n_row}] {ARROWS[r.direction]}")
    h_n = [", ".join(names.get((b, t), [])) for b, t in order]
    labels = pd.DataFrame({"t": [t for _, t in order], "b": [b for b, _ in order], "token": tokens, "h_n": h_n})
    values = pd.DataFrame(rows, columns=unit_names(c.directions, c.state_size))
    return pd.concat([labels, values], axis=1)


def state_frame(tensor, config, view: bool = False) -> pd.DataFrame:
    """h_n or c_n, one row per (layer and direction, sequence): as [L*D, B, H], or as the view [L, D, B, H]."""
    LD, B, size = tensor.shape
    D = config.directions
    rows = [(i, b) for i in range(LD) for b in range(B)]
    labels = (
        {"layer": [i // D for i, _ in rows], "direction": [DIRECTION_NAMES[i % D] for i, _ in rows]}
        if view
        else {"index": [i for i, _ in rows]}
    )
    labels["b"] = [b for _, b in rows]
    values = pd.DataFrame(tensor.reshape(LD * B, size).numpy(), columns=[f"unit {k}" for k in range(size)])
    return pd.concat([pd.DataFrame(labels), values], axis=1)


def tensor_frames(result) -> dict[str, pd.DataFrame]:
    """output, and h_n and c_n as the view [L, D, B, H]: every number, as the CSV downloads hold them."""
    frames = {"output": output_frame(result), "h_n": state_frame(result.h_n, result.config, view=True)}
    if result.c_n is not None:
        frames["c_n"] = state_frame(result.c_n, result.config, view=True)
    return frames


def trace_frames(trace, config) -> list[pd.DataFrame]:
    """An unrolled step's terms, one row each, grouped by size so no column is empty: the input x_t (its units
    named after where they come from: the embedding, or the layer below's forward|backward units), then the
    states and gates (H, or hidden and proj for a projected LSTM)."""
    groups = {}
    for label, vector in trace.terms:
        groups.setdefault(len(vector) if label != "x_t" else "x_t", []).append((label, vector))
    frames = []
    for size, terms in groups.items():
        if size == "x_t":
            size = len(terms[0][1])
            below = unit_names(config.directions, config.state_size)
            columns = (
                [f"e {k}" for k in range(size)] if trace.layer == 0 else [f"layer {trace.layer - 1} {n}" for n in below]
            )
        else:
            columns = [f"unit {k}" for k in range(size)]
        rows = {label: [float(x) for x in v] for label, v in terms}
        frames.append(pd.DataFrame.from_dict(rows, orient="index", columns=columns).rename_axis("term"))
    return frames
