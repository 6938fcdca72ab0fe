"""An AppTest helper shared by the bench (sec_apptest.py, profile_rerun.py) and the tests: opening a tab."""

from streamlit.testing.v1 import AppTest


def open_tab(at: AppTest, label: str) -> AppTest:
    """Switch to a tab as a click does: its state and the address bar's `tab` change (only its section runs)."""
    at.session_state["tab"] = label
    at.query_params["tab"] = label  # else AppTest would send a link's first tab again on every run
    return at.run()
