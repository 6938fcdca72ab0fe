"""A classroom on one server: students over Streamlit's websocket protocol, each seeing the core's numbers.

A bounded version of `python bench/classroom.py`: one `streamlit run` of the dashboard (with the project's
.streamlit/config.toml), 12 students at once, each opening two preset links in new sessions and changing the
seed and the layers. No timings are asserted (this machine is shared); errors and numbers are. Last, the
Community Cloud entry point (deploy/) shows what the dashboard shows.
"""

import asyncio
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from bench.wsclient import classroom, core_numbers, mismatches, page_numbers, rnnviz_students, serve, wrong_pages

ROOT = Path(__file__).resolve().parent.parent
STUDENTS, LINKS, CHANGES = 12, 2, 3


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The dashboard on a free loopback port, for this module."""
    with serve(ROOT / "streamlit_app.py", tmp_path_factory.mktemp("classroom") / "server.log") as server:
        yield server


@pytest.fixture(scope="module")
def lesson_records(server):
    """Every student's lessons and what each page showed."""
    students = rnnviz_students(STUDENTS, LINKS, CHANGES)
    return students, asyncio.run(classroom(server.url, students, arrive_s=2, think_s=(0.1, 0.4)))


def test_every_student_gets_every_page_without_an_error(server, lesson_records):
    _, records = lesson_records
    assert [e for r in records for e in r.errors] == []
    assert [len(r.pages) for r in records] == [LINKS * (1 + CHANGES)] * STUDENTS
    log = server.log.read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]


def test_every_page_shows_the_core_numbers_for_what_its_student_set(lesson_records):
    students, records = lesson_records
    assert wrong_pages(records, students) == []


def test_the_comparison_sees_a_page_of_another_seed(lesson_records):
    """The check can fail: a page compared with the core's numbers for a neighbouring seed does not match."""
    students, records = lesson_records
    lesson, page = students[1][0], records[1].pages[0]  # a link that sets a seed of its own
    config = lesson.configs[0]
    assert mismatches(page_numbers(page), core_numbers(config)) == []
    assert mismatches(page_numbers(page), core_numbers(config.replace(seed=config.seed + 1))) != []


def first_page(script: Path) -> tuple[list[str], list]:
    """The Markdown and the exceptions of a script's first page with the Relations tab open (AppTest, caches
    cleared)."""
    st.cache_data.clear()
    st.cache_resource.clear()
    at = AppTest.from_file(str(script), default_timeout=120)
    at.query_params["tab"] = "Relations"
    at.run()
    return [md.value for md in at.markdown], list(at.exception)


def test_the_cloud_entry_point_shows_the_dashboard():
    markdown, exceptions = first_page(ROOT / "deploy" / "streamlit_app.py")
    assert exceptions == []
    assert any(":green-badge[" in text for text in markdown)
    assert (markdown, exceptions) == first_page(ROOT / "streamlit_app.py")
