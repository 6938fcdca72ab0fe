"""Real-browser helpers for the dashboard's end-to-end tests (not a test module).

Debian's Chromium driven by Playwright, and small helpers that do what a person does in the sidebar
(flip a toggle, pick an option, type sequences, open a tab) and read what the page shows (relation
badges, shapes, errors, heatmap cells, the downloaded JSON report) and what the server logged. Following
a page's runs and typing a number are bench.browser's (re-exported here); the server is bench.wsclient.serve's.

Every wait is bounded.
"""

import colorsys
import json
import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from bench.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    IDLE,
    LOAD_TIMEOUT_MS,
    RERUN_TIMEOUT_MS,
    new_page,
    rerun_after,
    settle,
    sidebar,
    tracker,
    wait_until,
)
from bench.browser import SIDEBAR as SIDEBAR  # re-exported for the tests
from bench.browser import set_number as set_number

ROOT = Path(__file__).resolve().parent.parent

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
# The server (started by bench.wsclient.serve, the same for the classroom tests and the bench)


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
# Pages and reruns (a page from new_page, its runs followed)


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


def wait_run_finished(page, finished_before: int, timeout_ms: int = RERUN_TIMEOUT_MS, what: str = ""):
    """Wait until the page has finished more runs than finished_before, and drawn the last one."""
    wait_until(page, lambda: tracker(page).finished > finished_before, timeout_ms, f"{what}: a finished rerun")
    page.wait_for_selector(IDLE, timeout=timeout_ms)
    settle(page, timeout_ms)


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
