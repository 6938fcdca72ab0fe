"""Predict, then reveal: a question about where the picture's sequence left its final states, answered before the
lesson, the marks and the verdicts are shown."""

from dataclasses import dataclass

import streamlit as st

from dashboard.markdown import plain
from rnnviz.anatomy import cells

NOWHERE = "nowhere in output"
SAME = "yes, the same numbers"
BLIND = "no: the first chunk's backward pass never read the steps after the split"
CARRY_OPTIONS = (SAME, "no: the second chunk starts again from zeros", BLIND)


@dataclass(frozen=True)
class Question:
    """One question, its options and the answer read off the anatomy (positions)."""

    text: str
    options: tuple[str, ...]
    answer: str
    why: str


def question(result, b: int) -> Question:
    """The question this configuration asks best, about sequence b: a carry, packing, the backward direction, lower
    layers, an LSTM's cell state, or padding, in that order."""
    c = result.config
    L, D, T = c.layers, c.directions, result.batch.max_length
    frame = cells(result).query(f"sequence == {b} and in_output")
    name = f"b={b} ({result.batch.sequences[b][:20]!r}, {result.batch.lengths[b]} of T = {T} steps)"
    steps = tuple(f"t = {t}" for t in range(T))
    top = (L - 1) * D  # the top layer's forward row of h_n
    half = "output's forward half" if D == 2 else "output"
    end = int(frame.query(f"direction == 0 and h_n_row == {top}").t.iloc[0])
    if c.h0 == "carry":
        return Question(
            f"Run in two chunks split at t = {c.chunk}, the first one's h_n the second one's h_0: for {name}, is "
            "output the same as one whole run?",
            CARRY_OPTIONS,
            SAME if D == 1 else BLIND,
            "Carrying h_n over as h_0 continues the recurrence exactly where it stopped: the split changes nothing "
            "but the rounding."
            if D == 1
            else "Carrying h_n over works forward only: the whole run's backward pass had read the steps after the "
            "split before it reached them, the first chunk's never does.",
        )
    if c.packed:
        return Question(
            f"For {name}, at which time step does {half} hold h_n[{top}]?",
            steps,
            f"t = {end}",
            "Packed, each sequence stops at its own length: h_n is taken at its last real step, and output past it "
            "is zeros.",
        )
    if D == 2 and L >= 2:
        k = int(frame.query("direction == 1 and t == 0").h_n_row.iloc[0])
        return Question(
            f"For {name}, which row of h_n is output's backward half at t = 0?",
            tuple(f"h_n[{i}]" for i in range(L * D)),
            f"h_n[{k}]",
            f"Rows are layer-major, directions inside: h_n[l*D + d]. The top layer's backward state is h_n[{k}], and "
            "the backward direction ends at t = 0.",
        )
    if D == 2:
        t = int(frame.query("direction == 1 and h_n_row >= 0").t.iloc[0])
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
    if result.c_n is not None:
        return Question(
            f"For {name}, output at t = {end} is h_n[0]. Where in output is c_n[0], the final cell state?",
            (*steps, NOWHERE),
            NOWHERE,
            "output holds each step's hidden state h only; the cell state c stays inside the layer, and c_n returns "
            "its last value.",
        )
    return Question(
        f"For {name}, at which time step does output hold h_n[0]?",
        steps,
        f"t = {end}",
        "Not packed, the layer reads the <pad> steps too, so h_n is taken at t = T-1, after the padding.",
    )


def keep_answer(key: str):
    """Callback: keep the answer picked; an answered question is not drawn again (its verdict is, in one line)."""
    st.session_state.answers = {**st.session_state.get("answers", {}), key: st.session_state[key]}


def ask_ui(result, b: int) -> tuple[str, str] | None:
    """Ask about sequence b and take an answer: None until answered, then the verdict (one line of Markdown) and
    why the answer is what it is, the question first."""
    q = question(result, b)
    key = f"ask:{q.text}"
    choice = st.session_state.get("answers", {}).get(key)
    if choice is None:
        st.radio(
            plain(q.text),
            q.options,
            index=None,
            horizontal=True,
            key=key,
            on_change=keep_answer,
            args=(key,),
            help="The lesson, the marks and the verdicts stay hidden until you answer.",
        )
        return None
    why = f"{q.text} {q.answer}. {q.why}"
    if choice == q.answer:
        return f"**:green[:material/check: Right: {plain(q.answer)}.]**", why
    return f"**:red[:material/school: Not quite: it is {plain(q.answer)}, not {plain(choice)}.]**", why
