"""Real-browser helpers for the dashboard's end-to-end tests (not a test module).

Debian's Chromium driven by Playwright, and small helpers that do what a person does in the sidebar
(type a number, flip a toggle, pick an option, type sequences) and read what the page shows (relation
badges, shapes, errors, heatmap cells, the downloaded JSON report) and what the server logged. The
server itself is wsclient.serve's.

Every wait is bounded.
"""

import colorsys
import json
import os
import re
import time
import warnings
from pathlib import Path

import pytest
from playwright.sync_api import expect
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
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
# Chromium discovery


def chromium_path() -> str:
    """Debian's Chromium; skip when it is missing, except on CI (CI=true), where that is a failure."""
    if CHROMIUM.exists():
        return str(CHROMIUM)
    reason = f"Chromium not found at {CHROMIUM} (Playwright cannot download its own browser here)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; on CI the browser tests must run: install Debian's chromium package.")
    pytest.skip(f"{reason}; install Debian's chromium package to run the browser tests.")


def launch_chromium(playwright):
    """A headless Chromium, sandbox and network extras off (loopback only)."""
    return playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)


# -----------------------------------------------------------------------------
# The server (started by wsclient.serve, the same for the classroom tests and the bench)


def server_log_problems(log_path: Path, start: int = 0) -> list[str]:
    """Lines of the server log, from byte offset start on, that report an error or a traceback."""
    pattern = re.compile(r"Traceback|Error|Exception|Uncaught", re.IGNORECASE)
    with open(log_path, "rb") as log:
        log.seek(start)
        text = log.read().decode(errors="replace")
    return [line for line in text.splitlines() if pattern.search(line)]


def url_for(base: str, **params) -> str:
    """base + '/?' + the URL parameters, encoded as the dashboard binds them (booleans as true/false)."""
    from urllib.parse import urlencode

    def as_url(value):
        return str(value).lower() if isinstance(value, bool) else str(value)

    query = urlencode({k: as_url(v) for k, v in params.items()})
    return f"{base}/?{query}" if query else f"{base}/"


# -----------------------------------------------------------------------------
# Pages and reruns

# Script runs are followed on the websocket: the server sends a ForwardMsg `new_session` when a run starts and
# `script_finished` when it ends. (stApp's data-test-script-state attribute is not enough: a fast rerun can go
# running -> notRunning inside one React render, and the DOM never shows "running".)
SMALL_FRAME = 4096  # start/finish messages are tens to hundreds of bytes; deltas are not parsed


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


FINISHED = ForwardMsg.ScriptFinishedStatus.Value("FINISHED_SUCCESSFULLY")
COMPILE_ERROR = ForwardMsg.ScriptFinishedStatus.Value("FINISHED_WITH_COMPILE_ERROR")
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
    """A new tab whose script runs are tracked (see tracker); open it with page.goto, then wait_loaded."""
    page = context.new_page()
    page.rnnviz_runs = RunTracker()
    page.rnnviz_runs.attach(page)
    return page


def tracker(page) -> RunTracker:
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


SCRIPT_STATE = """() => document.querySelector("[data-testid='stApp']")?.getAttribute('data-test-script-state')"""


def wait_loaded(page, timeout_ms: int = LOAD_TIMEOUT_MS):
    """Wait until the first complete run is over and drawn: script idle, the page header there."""
    wait_until(page, lambda: tracker(page).finished >= 1, timeout_ms, "first run")
    page.wait_for_selector(IDLE, timeout=timeout_ms)
    heading = "[data-testid='stMain'] h1, [data-testid='stMain'] [data-testid='stHeading']"
    page.wait_for_selector(heading, timeout=timeout_ms)
    settle(page, timeout_ms)


def open_page(context, url: str, timeout_ms: int = LOAD_TIMEOUT_MS):
    """A new tab on url, returned once the dashboard has finished its first run."""
    page = new_page(context)
    page.goto(url, timeout=timeout_ms)
    wait_loaded(page, timeout_ms)
    return page


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


def wait_run_finished(page, finished_before: int, timeout_ms: int = RERUN_TIMEOUT_MS, what: str = ""):
    """Wait until the page has finished more runs than finished_before, and drawn the last one."""
    wait_until(page, lambda: tracker(page).finished > finished_before, timeout_ms, f"{what}: a finished rerun")
    page.wait_for_selector(IDLE, timeout=timeout_ms)
    settle(page, timeout_ms)


def sidebar(page):
    return page.locator(SIDEBAR)


def set_number(page, label: str, value: int) -> float:
    """Type value into the sidebar number input labelled label, press Enter, wait for the rerun."""
    field = sidebar(page).get_by_label(label, exact=True)

    def action():
        field.fill(str(value))
        field.press("Enter")

    return rerun_after(page, action, what=f"{label}: {field.input_value()!r} -> {value!r}", retry=True)


def switch_state(page, label: str) -> bool:
    return sidebar(page).get_by_role("switch", name=label, exact=True).is_checked()


def set_toggle(page, label: str, on: bool = True) -> float:
    """Set the sidebar toggle labelled label (a click on it, as a person does); wait for the rerun."""
    if switch_state(page, label) == on:
        return 0.0
    switch = page.get_by_role("switch", name=label, exact=True)
    widget = sidebar(page).locator("[data-testid='stCheckbox']").filter(has=switch)
    return rerun_after(page, lambda: widget.locator("label").click(), what=f"{label} -> {on}")


def selected(page, label: str) -> str:
    """The option a sidebar selectbox shows."""
    return sidebar(page).get_by_role("combobox", name=label, exact=True).input_value()


def select_option(page, label: str, option: str) -> float:
    """Open the sidebar selectbox labelled label, click option; wait for the rerun."""
    box = sidebar(page).get_by_role("combobox", name=label, exact=True)
    if box.input_value() == option:
        return 0.0

    def action():
        box.click()
        page.get_by_role("option", name=option, exact=True).click()
        expect(box).to_have_value(option, timeout=10_000)  # the click landed on the option asked for

    return rerun_after(page, action, what=f"{label}: {box.input_value()!r} -> {option!r}", retry=True)


SEQUENCES_LABEL = "Sequences, one per line"


def type_sequences(page, sequences) -> float:
    """Replace the sequences text area's content (one sequence per line), commit it, wait for the rerun."""
    area = sidebar(page).get_by_label(SEQUENCES_LABEL, exact=True)

    def action():
        area.fill("\n".join(sequences))
        area.press("Control+Enter")  # commits a text area, like clicking elsewhere

    return rerun_after(page, action, what=f"sequences -> {list(sequences)!r}", retry=True)


def number_value(page, label: str) -> int:
    return int(sidebar(page).get_by_label(label, exact=True).input_value())


def sequences_value(page) -> str:
    return sidebar(page).get_by_label(SEQUENCES_LABEL, exact=True).input_value()


def open_tab(page, name: str) -> float:
    """Click the tab named name; a tab's section runs only while it is open, so the click reruns the script."""
    tab = page.get_by_role("tab", name=name, exact=True)
    if tab.get_attribute("aria-selected") == "true":
        return 0.0
    return rerun_after(page, tab.click, what=f"tab {name!r}")


# -----------------------------------------------------------------------------
# Reading the page

# st.badge renders <span class="stMarkdownBadge" style="background-color: ...; color: ...">, with the
# Material icon as a child <span role="img">; the colour is only in that inline style (no class).
READ_BADGES = """() => [...document.querySelectorAll('[data-testid="stMain"] span.stMarkdownBadge')].map(b => {
  const copy = b.cloneNode(true);
  copy.querySelectorAll('[role="img"]').forEach(icon => icon.remove());
  const style = getComputedStyle(b);
  return {id: copy.textContent.trim(), color: style.color, background: style.backgroundColor,
          icon: b.querySelector('[role="img"]')?.textContent.trim() ?? null};
})"""


def rgb(css: str) -> tuple[int, int, int]:
    """'rgb(12, 90, 68)' or 'rgba(...)' -> (12, 90, 68)."""
    r, g, b = (int(float(x)) for x in re.findall(r"[\d.]+", css)[:3])
    return r, g, b


def colour_name(css: str) -> str:
    """Name a badge's text colour by its hue: gray (unsaturated), green, blue, red; anything else 'other(...)'.

    Streamlit's badge palettes differ by theme (light, dark, custom) but keep these hues.
    """
    r, g, b = rgb(css)
    h = colorsys.rgb_to_hls(r / 255, g / 255, b / 255)[0]
    if max(r, g, b) - min(r, g, b) < 32:
        return "gray"
    hue = h * 360
    if 75 <= hue <= 190:
        return "green"
    if hue <= 20 or hue >= 335:
        return "red"
    if 200 <= hue <= 240:
        return "blue"
    return f"other({css})"


def badges(page) -> list[tuple[str, str]]:
    """The relation badges in page order, as (relation id, colour name), from the Relations tab (opened first)."""
    return [(b["id"], colour_name(b["color"])) for b in badges_raw(page)]


def badges_raw(page) -> list[dict]:
    """The badges with their computed CSS colours and icon names, from the Relations tab (opened first)."""
    if page.get_by_role("tab", name="Relations", exact=True).count():  # none on a page that shows only an error
        open_tab(page, "Relations")
    return page.evaluate(READ_BADGES)


def expected_badges(relations) -> list[tuple[str, str]]:
    """What the page should show for the core's relations: (id, colour), in order."""
    return [(rel.id, rel.colour) for rel in relations]


SHAPES = re.compile(r"output \[([\d, ]+)\] · h_n \[([\d, ]+)\](?: · c_n \[([\d, ]+)\])?")


def shapes(page) -> dict:
    """The shapes in the summary above the tabs: {'output': [...], 'h_n': [...], 'c_n': [...] or None}."""
    text = page.locator("[data-testid='stMain'] [data-testid='stMarkdownContainer']").filter(has_text=SHAPES).first
    match = SHAPES.search(text.inner_text() if text.is_visible() else text.text_content())
    assert match, "no shapes line on the page"

    def parse(group):
        return None if group is None else [int(x) for x in group.split(",")]

    return {"output": parse(match.group(1)), "h_n": parse(match.group(2)), "c_n": parse(match.group(3))}


def alerts(page, kind: str) -> list[str]:
    """The texts of the main area's alerts of a kind: 'Error', 'Warning', 'Info' or 'Success'."""
    return page.locator(f"[data-testid='stMain'] [data-testid='stAlertContent{kind}']").all_text_contents()


def lesson(page) -> str:
    """The view's one-line lesson under the question (the main area's first Markdown element)."""
    return page.locator("[data-testid='stMain'] [data-testid='stMarkdown']").first.inner_text()


def exceptions(page) -> list[str]:
    """Any exception box Streamlit drew (an uncaught error in the script)."""
    return page.locator("[data-testid='stException']").all_text_contents()


def subheaders(page) -> list[str]:
    return [t.strip() for t in page.locator("[data-testid='stMain'] h3").all_text_contents()]


COUNTS = re.compile(r"guaranteed, hold: (\d+) · lessons: (\d+) · coincidences: (\d+) · contradictions: (\d+)")
VERDICTS = ("holds", "lesson", "coincidence", "contradiction")


def relation_counts(page) -> dict[str, int]:
    """The summary's counts of relations: {'holds': n, 'lesson': n, 'coincidence': n, 'contradiction': n}."""
    text = page.locator("[data-testid='stMain'] [data-testid='stMarkdownContainer']").filter(has_text=COUNTS).first
    match = COUNTS.search(text.inner_text())
    assert match, "no relation counts on the page"
    return dict(zip(VERDICTS, map(int, match.groups()), strict=True))


# Vega (SVG renderer) gives every rect mark an aria-label "field: value; field: value; ...", grouped by layer.
READ_CHART = """(chart) => {
  const svg = chart.querySelector('svg.marks');
  const canvas = chart.querySelector('canvas');
  const box = (svg || canvas)?.getBoundingClientRect();
  const groups = [...chart.querySelectorAll('g.mark-rect')].map(g => [...g.children].map(p => ({
    label: p.getAttribute('aria-label'), stroke: p.getAttribute('stroke'), fill: p.getAttribute('fill')})));
  return {svg: !!svg, canvas: !!canvas, x: box?.x ?? 0, y: box?.y ?? 0, width: box?.width ?? 0,
    height: box?.height ?? 0, groups};
}"""


def parse_label(label: str) -> dict[str, str]:
    """'step: t=0 l; unit: fwd 0; value: 0.5' -> {'step': 't=0 l', 'unit': 'fwd 0', 'value': '0.5'}."""
    fields = {}
    for part in (label or "").split("; "):
        key, _, value = part.partition(": ")
        fields[key] = value
    return fields


def chart_number(text: str) -> float:
    """A number as Vega prints it (with a Unicode minus sign)."""
    return float(text.replace("\u2212", "-"))


def charts(page) -> list[dict]:
    """Every Vega-Lite chart in the main area: drawn as svg and/or canvas, its box, its cells (the first rect
    layer) and its outlined cells (black stroke, no fill), each cell's aria-label parsed into a dict."""
    out = []
    for chart in page.locator("[data-testid='stMain'] [data-testid='stVegaLiteChart']").all():
        data = chart.evaluate(READ_CHART)
        groups = data.pop("groups")
        data["cells"] = [parse_label(m["label"]) for m in (groups[0] if groups else [])]
        data["outlined"] = [
            parse_label(m["label"]) for group in groups[1:] for m in group if m["stroke"] == "black" and not m["fill"]
        ]
        out.append(data)
    return out


def wait_charts(page, count: int = 1, timeout_ms: int = 30_000):
    """Wait until count Vega charts have drawn their marks (they render after the script run)."""
    page.wait_for_function(
        """(n) => {
          const charts = [...document.querySelectorAll("[data-testid='stMain'] [data-testid='stVegaLiteChart']")];
          return charts.length >= n && charts.every(c => c.querySelector('g.mark-rect, canvas'));
        }""",
        arg=count,
        timeout=timeout_ms,
    )


def download_report(page, timeout_ms: int = 30_000) -> dict:
    """Tab 'Code & downloads', button 'report .json': the downloaded file, parsed."""
    open_tab(page, "Code & downloads")
    with page.expect_download(timeout=timeout_ms) as info:
        page.get_by_role("button", name="report .json").click()
    download = info.value
    return json.loads(Path(download.path()).read_text())


def screenshot(page, path: Path):
    """A PNG of the viewport (Streamlit scrolls inside its own container: size the viewport instead)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path))
    return path
