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


def pick_sequence(result, label: str = "Sequence", **widget) -> int:
    """One sequence of the batch, picked with a row of buttons b=0, b=1, .. (the first until one is picked; a link
    holds the button's words); widget: its key and its URL binding, as for any widget."""
    return st.segmented_control(
        label, range(len(result.batch.sequences)), default=0, required=True, format_func=button, **widget
    )


def button(b: int) -> str:
    """A sequence's button, and its words in a link: b=2."""
    return f"b={b}"
