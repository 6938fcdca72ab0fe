"""The dashboard's page sections, one module a view; streamlit_app.py puts them together (UI only)."""

from typing import NamedTuple

import streamlit as st

from rnnviz import Analysis, Config


class View(NamedTuple):
    """What every page section draws from: the config, its analysis, whether the answers may show yet, and whether
    the page is presented (a projector: larger type)."""

    config: Config
    analysis: Analysis
    reveal: bool  # False in ask mode until the question is answered: marks and verdicts stay hidden
    present: bool = False


def bind(key: str) -> str | None:
    """A widget's URL binding: bound, except on a link's first run where the link wrote its value otherwise (or
    it was left out); the widget would read the link's text instead of the view's value (sidebar.open_link)."""
    return None if key in st.session_state.get("unbound", ()) else "query-params"
