"""Streamlit Community Cloud's entry point: the dashboard itself, deployed with this folder's requirements.txt.

Cloud installs the dependency file that sits beside the entry point, so pointing it here gives the deployed
app deploy/requirements.txt (torch's CPU-only build) while the project keeps installing from PyPI (README,
"Deploy on Streamlit Community Cloud"). This runs ../streamlit_app.py, compiled once per server.
"""

import sys
from pathlib import Path

import streamlit as st

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "streamlit_app.py"
if str(ROOT) not in sys.path:  # rnnviz and the UI's modules live at the root, beside the app
    sys.path.insert(0, str(ROOT))


@st.cache_resource(show_spinner=False)
def app_code():
    """The dashboard's code object."""
    return compile(APP.read_text(encoding="utf-8"), str(APP), "exec")


exec(app_code(), {"__name__": "__main__", "__file__": str(APP)})
