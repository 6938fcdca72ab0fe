"""The Code & downloads tab: the short proof of the view, the full standalone script, the JSON report and every
tensor as CSV."""

from functools import partial

import streamlit as st

from rnnviz import tables
from rnnviz.report import report_json
from rnnviz.snippet import make_proof, make_snippet

MIME_TYPES = {"py": "text/x-python", "json": "application/json", "csv": "text/csv"}


def code_ui(view):
    """The short proof, the downloads (built when clicked), then the full script."""
    if not view.reveal:
        st.info("Answer the question above first: the code asserts the answer.")
        return
    result, relations = view.analysis.result, view.analysis.relations
    st.caption(
        "The proof, short: this view's run in a few lines of torch, `hv` defined, an assert per guaranteed relation "
        "and a print per lesson. Copy it into a Python file or a notebook cell."
    )
    st.code(make_proof(result, relations), language="python")
    code = make_snippet(result, relations)
    st.caption(
        "The full script: needs torch only. It rebuilds this batch and model, prints the shapes, asserts every "
        "guaranteed relation (the comparisons with other runs too) and prints each lesson's outcome; same device "
        "and dtype give the same numbers, bit for bit."
    )
    report = partial(report_json, result, relations, tensors=True)
    downloads = [("snippet .py", code, "rnnviz_snippet.py"), ("report .json", report, "rnnviz_report.json")]
    for name, frame in tables.tensor_frames(result).items():
        downloads.append((f"{name} .csv", partial(frame.to_csv, index=False), f"{name}.csv"))
    for col, (label, data, file_name) in zip(st.columns(len(downloads)), downloads, strict=True):
        mime = MIME_TYPES[file_name.rsplit(".", 1)[1]]
        col.download_button(label, data, file_name, mime, on_click="ignore")  # a download changes nothing here
    st.code(code, language="python", line_numbers=True)
