"""The dashboard's page sections, one module a view; streamlit_app.py puts them together (UI only)."""

from typing import NamedTuple

from rnnviz import Analysis, Config


class View(NamedTuple):
    """What every page section draws from: the config, its analysis, and whether the answers may show yet."""

    config: Config
    analysis: Analysis
    reveal: bool  # False in ask mode until the question is answered: marks and verdicts stay hidden
