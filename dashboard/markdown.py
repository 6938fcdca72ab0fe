"""User text in Markdown: shown literally, never interpreted."""

import re


def sequence_label(result, b: int, width: int = 12) -> str:
    """A sequence's short label for a widget (widget labels are Markdown): b=1 tiny, its text cut and escaped."""
    text = result.batch.sequences[b]
    return plain(f"b={b} {text[:width]}{'…' if len(text) > width else ''}")


def plain(text: str) -> str:
    """Text shown literally on one line of Markdown: every Markdown, badge and LaTeX character escaped."""
    one_line = re.sub(r"[\r\n\t\v\f]", " ", text)
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|<>~:$&])", r"\\\1", one_line)
