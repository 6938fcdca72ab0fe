"""User text in Markdown (and widget labels, which are Markdown): shown literally, never interpreted."""

import re

import streamlit as st


def sequence_label(result, b: int, width: int = 12) -> str:
    """A sequence's short label for a widget (widget labels are Markdown): b=1 tiny, its text cut and escaped."""
    text = result.batch.sequences[b]
    return plain(f"b={b} {text[:width]}{'…' if len(text) > width else ''}")


def plain(text: str) -> str:
    """Text shown literally on one line of Markdown: every Markdown, badge and LaTeX character escaped."""
    one_line = re.sub(r"[\r\n\t\v\f]", " ", text)
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|<>~:$&])", r"\\\1", one_line)


def pick_sequence(result, key: str, label: str = "Sequence") -> int:
    """One sequence of the batch, picked with a row of buttons (the first until one is picked)."""
    b = st.segmented_control(
        label, range(len(result.batch.sequences)), key=key, default=0, format_func=lambda i: sequence_label(result, i)
    )
    return 0 if b is None else b
