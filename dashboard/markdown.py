"""User text in Markdown: shown literally, never interpreted."""

import re


def plain(text: str) -> str:
    """Text shown literally on one line of Markdown: every Markdown, badge and LaTeX character escaped."""
    one_line = re.sub(r"[\r\n\t\v\f]", " ", text)
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|<>~:$&])", r"\\\1", one_line)
