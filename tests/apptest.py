"""Shared AppTest helpers: a fresh dashboard with cleared caches, the badges it shows, its tabs."""

import re
from contextlib import contextmanager
from pathlib import Path

import streamlit as st
from streamlit.testing.v1 import AppTest

from bench.apptest import open_tab
from dashboard.views import GROUPS, VIEWS

APP = str(Path(__file__).resolve().parent.parent / "streamlit_app.py")
BADGE = re.compile(r":(\w+)-badge\[(?::material/\w+: )?([^\]]+)\]")  # as st.badge writes it, in any Markdown


def fresh_app(**query_params) -> AppTest:
    """An AppTest of the dashboard, caches cleared (they are shared within a process), URL parameters set."""
    st.cache_data.clear()
    st.cache_resource.clear()
    at = AppTest.from_file(APP, default_timeout=180)
    for key, value in query_params.items():
        at.query_params[key] = value
    return at


def badges(at: AppTest) -> dict[str, str]:
    """Relation id -> badge colour, as the Relations tab shows them (opened first, as a click does, if it is not)."""
    if at.session_state["tab"] != "Relations" and not at.exception:
        open_tab(at, "Relations")
    return {m.group(2): m.group(1) for md in at.markdown for m in BADGE.finditer(md.value)}


def each_tab(at: AppTest):
    """Open every view in turn and yield its label; the landing view (the Picture) is open again at the end."""
    assert [tab.label for tab in at.tabs] == list(GROUPS)
    for label in VIEWS[1:] + VIEWS[:1]:
        open_tab(at, label)
        yield label


@contextmanager
def tab_open(at: AppTest, label: str):
    """Inside: the page with that tab open. After: the first tab (the Picture) open again."""
    open_tab(at, label)
    yield at
    open_tab(at, "Picture")
