"""Predict, then reveal: a question about where h_n sits, answered before the marks and verdicts are shown."""

from dataclasses import dataclass

import streamlit as st

from dashboard.markdown import plain
from rnnviz.anatomy import cells

NOWHERE = "nowhere in output"


@dataclass(frozen=True)
class Question:
    """One question, its options and the answer read off the anatomy (positions)."""

    text: str
    options: tuple[str, ...]
    answer: str
    why: str


def question(result) -> Question:
    """The question this configuration asks best: backward (bi), lower layers (multi), padding (one layer)."""
    c = result.config
    L, D, T = c.layers, c.directions, result.batch.max_length
    frame = cells(result)
    b = min(range(len(c.sequences)), key=lambda i: result.batch.lengths[i])  # the shortest: padding shows
    name = f"b={b} ({result.batch.sequences[b][:20]!r}, {result.batch.lengths[b]} of T = {T} steps)"
    steps = tuple(f"t = {t}" for t in range(T))
    if D == 2 and L >= 2:
        k = int(frame.query(f"sequence == {b} and in_output and direction == 1 and t == 0").h_n_row.iloc[0])
        return Question(
            f"For {name}, which row of h_n is output's backward half at t = 0?",
            tuple(f"h_n[{i}]" for i in range(L * D)),
            f"h_n[{k}]",
            f"Rows are layer-major, directions inside: h_n[l*D + d]. The top layer's backward state is "
            f"h_n[{(L - 1) * D + 1}], and the backward direction ends at t = 0.",
        )
    if D == 2:
        t = int(frame.query(f"sequence == {b} and in_output and direction == 1 and h_n_row >= 0").t.iloc[0])
        return Question(
            f"For {name}, at which time step does output's backward half hold h_n[1]?",
            steps,
            f"t = {t}",
            "The backward direction reads from the end to the start: it finishes, and h_n is taken, at t = 0.",
        )
    if L >= 2:
        return Question(
            f"For {name}, where in output is h_n[0], layer 0's final state?",
            (*steps, NOWHERE),
            NOWHERE,
            "output holds the top layer only; the lower layers' final states are only in h_n.",
        )
    t = int(frame.query(f"sequence == {b} and in_output and h_n_row >= 0").t.iloc[0])
    return Question(
        f"For {name}, at which time step does output hold h_n[0]?",
        steps,
        f"t = {t}",
        "Packed: each sequence stops at its own length, where h_n is taken."
        if c.packed
        else "Not packed: the layer reads the <pad> steps too, so h_n is taken at t = T-1, after the padding.",
    )


def ask_ui(result) -> bool:
    """Ask, take an answer, then say whether it was right and why. Returns whether the answers may be shown."""
    q = question(result)
    choice = st.radio(plain(q.text), q.options, index=None, horizontal=True, key=f"ask:{q.text}")
    if choice is None:
        st.caption("The marks and the verdicts stay hidden until you answer.")
        return False
    if choice == q.answer:
        st.success(plain(f"Yes: {q.answer}. {q.why}"), icon=":material/check:")
    else:
        st.error(plain(f"Not quite: it is {q.answer}, not {choice}. {q.why}"), icon=":material/school:")
    return True
