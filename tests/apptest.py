"""Shared AppTest helpers: a fresh dashboard with cleared caches, and the badges it shows."""

import re
from pathlib import Path

import streamlit as st
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parent.parent / "streamlit_app.py")
BADGE = re.compile(r"^:(\w+)-badge\[(?::material/\w+: )?(.+)\]$")


def fresh_app(**query_params) -> AppTest:
    """An AppTest of the dashboard, caches cleared (they are shared within a process), URL parameters set."""
    st.cache_data.clear()
    st.cache_resource.clear()
    at = AppTest.from_file(APP, default_timeout=180)
    for key, value in query_params.items():
        at.query_params[key] = value
    return at


def badges(at: AppTest) -> dict[str, str]:
    """Relation id -> badge colour, as the page shows them."""
    found = (BADGE.match(m.value) for m in at.markdown)
    return {m.group(2): m.group(1) for m in found if m}
