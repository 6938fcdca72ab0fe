"""Following a dashboard page in Chromium (Playwright): its script runs, its reruns, a sidebar number input.

Public: the bench (sec_browser.py) and the tests (tests/browser.py builds its helpers on these) share it.
A page from `new_page` counts its script runs from its websocket frames; `rerun_after` does a change and waits
until the rerun it caused has finished and is drawn. Every wait is bounded.
"""

import time
import warnings
from pathlib import Path

from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

CHROMIUM = Path("/usr/bin/chromium")  # Debian's (Playwright cannot download its own browser here)
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"
SIDEBAR = "[data-testid='stSidebar']"
LOAD_TIMEOUT_MS = 90_000  # first page: torch import and the front end's first load
RERUN_TIMEOUT_MS = 60_000

# -----------------------------------------------------------------------------
# Pages and reruns

# Script runs are followed on the websocket: the server sends a ForwardMsg `new_session` when a run starts and
# `script_finished` when it ends. (stApp's data-test-script-state attribute is not enough: a fast rerun can go
# running -> notRunning inside one React render, and the DOM never shows "running".)
SMALL_FRAME = 4096  # start/finish messages are tens to hundreds of bytes; deltas are not parsed
FINISHED = ForwardMsg.ScriptFinishedStatus.Value("FINISHED_SUCCESSFULLY")
COMPILE_ERROR = ForwardMsg.ScriptFinishedStatus.Value("FINISHED_WITH_COMPILE_ERROR")
SCRIPT_STATE = """() => document.querySelector("[data-testid='stApp']")?.getAttribute('data-test-script-state')"""


class RunTracker:
    """Counts the script runs of one page, from its websocket frames."""

    def __init__(self):
        self.started = 0
        self.finished = 0  # runs that ran to the end (not those cut short by st.rerun or a newer rerun)
        self.finished_at = None  # time.perf_counter() of the last one

    def frame(self, payload):
        if not isinstance(payload, bytes | bytearray) or len(payload) > SMALL_FRAME:
            return
        msg = ForwardMsg()
        try:
            msg.ParseFromString(bytes(payload))
        except Exception:  # not a ForwardMsg: not ours to judge
            return
        kind = msg.WhichOneof("type")
        if kind == "new_session":
            self.started += 1
        elif kind == "script_finished" and msg.script_finished in (FINISHED, COMPILE_ERROR):
            self.finished += 1
            self.finished_at = time.perf_counter()

    def attach(self, page):
        page.on("websocket", lambda ws: ws.on("framereceived", self.frame))


RETRY_AFTER_MS = 15_000  # no rerun started by then: the change did not register
SETTLE = "() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))"
# The front end loads element code lazily and shows a skeleton until it is there (widgets and metrics on a
# fresh page): a page is drawn only when no skeleton is left.
NO_SKELETON = """() => !document.querySelector("[data-testid='stSkeleton']")"""


def settle(page, timeout_ms: int):
    """Wait until everything the last run sent is drawn: no skeleton left, two animation frames."""
    page.wait_for_function(NO_SKELETON, timeout=timeout_ms)
    page.evaluate(SETTLE)


def new_page(context):
    """A new tab whose script runs are tracked (see tracker); open it with page.goto."""
    page = context.new_page()
    page.rnnviz_runs = RunTracker()
    page.rnnviz_runs.attach(page)
    return page


def tracker(page) -> RunTracker:
    """The run counter of a page from new_page."""
    return page.rnnviz_runs


def wait_until(page, condition, timeout_ms: int, what: str):
    """Poll condition() while Playwright delivers the page's events; AssertionError after timeout_ms."""
    deadline = time.monotonic() + timeout_ms / 1000
    while not condition():
        if time.monotonic() > deadline:
            runs = tracker(page)
            raise AssertionError(
                f"{what}: not within {timeout_ms} ms (runs started {runs.started}, finished {runs.finished}, "
                f"script state {page.evaluate(SCRIPT_STATE)!r})"
            )
        page.wait_for_timeout(10)


def rerun_after(page, action, timeout_ms: int = RERUN_TIMEOUT_MS, what: str = "", retry: bool = False) -> float:
    """Do action (a widget change), wait until the rerun it causes has finished and is drawn; return the
    seconds from the action's start to the end of the run (its finish message).

    With retry, an action that started no run within RETRY_AFTER_MS is done once more, as a person would
    press Enter again; that is reported as a warning, so a flaky input stays visible.
    """
    runs = tracker(page)
    started, finished = runs.started, runs.finished
    start = time.perf_counter()
    action()
    if retry:
        try:
            wait_until(page, lambda: runs.started > started or runs.finished > finished, RETRY_AFTER_MS, what)
        except AssertionError as error:
            warnings.warn(f"{error}; retried", stacklevel=2)
            action()
    wait_until(page, lambda: runs.finished > finished, timeout_ms, f"{what}: a finished rerun")
    page.wait_for_selector(IDLE, timeout=timeout_ms)
    settle(page, timeout_ms)
    return runs.finished_at - start


def sidebar(page):
    """The page's sidebar (where the controls are)."""
    return page.locator(SIDEBAR)


def set_number(page, label: str, value: int) -> float:
    """Type value into the sidebar number input labelled label, press Enter, wait for the rerun."""
    field = sidebar(page).get_by_label(label, exact=True)

    def action():
        field.fill(str(value))
        field.press("Enter")

    return rerun_after(page, action, what=f"{label}: {field.input_value()!r} -> {value!r}", retry=True)
