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
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
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
from dashboard.views import GROUP_OF, GROUPS

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
        try:
            page.get_by_role("option", name=option, exact=True).click(timeout=5_000)
        except PlaywrightTimeoutError:  # the list did not open (or opened elsewhere): type the option, as a person can
            box.fill(option)
            box.press("Enter")
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
    """Open the view named name: click its group's tab, then (a group of several views) its button; a view's
    section runs only while it is open, so each click reruns the script. Returns the seconds the reruns took."""
    group, took = GROUP_OF[name], 0.0
    tab = page.get_by_role("tab", name=group, exact=True)
    if tab.get_attribute("aria-selected") != "true":
        took += rerun_after(page, tab.click, what=f"tab {group!r}")
    if len(GROUPS[group]) > 1:
        button = view_button(page, name)
        if button.get_attribute("aria-checked") != "true":
            took += rerun_after(page, button.click, what=f"view {name!r}")
    return took


def view_button(page, name: str):
    """The open group's button for the view named name."""
    return page.locator(f"{OPEN_PANEL} button", has_text=re.compile(f"^{re.escape(name)}$"))


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
          return charts.length >= n && charts.every(c => c.querySelector('g.role-mark, canvas'));
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


# -----------------------------------------------------------------------------
# Legibility and the first screen

# Every text Vega drew in a chart of the main area, and the page's own legends: what is cut by the chart's box (or
# the page's), what Vega shortened with an ellipsis, and names or tokens wider than their cell or on top of another.
TEXT_PROBLEMS = """() => {
  const problems = [];
  const main = document.querySelector("[data-testid='stMainBlockContainer']").getBoundingClientRect();
  // a text's box holds its font's whole line (ascent to descent), across when it is turned: a few px may spill
  const inside = (r, box, slack = 1) => r.left >= box.left - slack && r.right <= box.right + slack &&
    r.top >= box.top - slack && r.bottom <= box.bottom + slack;
  const shown = t => t.textContent.trim() && t.getBoundingClientRect().width > 0 && t.closest("[opacity='0']") === null;
  for (const chart of document.querySelectorAll("[data-testid='stMain'] [data-testid='stVegaLiteChart']")) {
    const svg = chart.querySelector("svg.marks");
    if (!svg) continue;
    const outer = chart.getBoundingClientRect(), drawn = svg.getBoundingClientRect();
    const box = {left: Math.max(outer.left, drawn.left), right: Math.min(outer.right, drawn.right, main.right),
                 top: drawn.top, bottom: drawn.bottom};
    for (const t of [...svg.querySelectorAll("text")].filter(shown)) {
      const slack = 0.3 * parseFloat(getComputedStyle(t).fontSize);
      if (!inside(t.getBoundingClientRect(), box, slack)) problems.push("cut: " + t.textContent);
      if (t.textContent.endsWith("…")) problems.push("shortened: " + t.textContent);
    }
    const cell = svg.querySelector("g.mark-rect path, g.mark-rect rect");
    const width = cell ? cell.getBoundingClientRect().width : Infinity;
    for (const group of svg.querySelectorAll("g.mark-text.role-mark")) {
      const texts = [...group.querySelectorAll("text")].filter(shown);
      const boxes = texts.map(t => [t.textContent, t.getBoundingClientRect()]);
      for (const [text, r] of boxes) if (r.width > width + 1) problems.push("wider than its cell: " + text);
      boxes.forEach(([a, r], i) => boxes.slice(i + 1).forEach(([b, q]) => {
        if (r.left < q.right - 1 && q.left < r.right - 1 && r.top < q.bottom - 1 && q.top < r.bottom - 1)
          problems.push("overlap: " + a + " / " + b);
      }));
    }
  }
  for (const entry of document.querySelectorAll(".rnnviz-legend > span, .rnnviz-vocab > span")) {
    const r = entry.getBoundingClientRect();
    if (r.width > 0 && !inside(r, main)) problems.push("cut: " + entry.textContent);
  }
  return problems;
}"""

# The smallest font size of each kind of chart text: axis labels, legend labels, names and tokens in the cells.
FONT_SIZES = """() => {
  const sizes = {};
  for (const t of document.querySelectorAll("[data-testid='stMain'] [data-testid='stVegaLiteChart'] svg.marks text")) {
    if (!t.textContent.trim()) continue;
    const kind = t.closest("g.role-axis-label") ? "axis" : t.closest("g.role-legend-label") ? "legend" : "mark";
    const size = parseFloat(getComputedStyle(t).fontSize);
    sizes[kind] = Math.min(sizes[kind] ?? Infinity, size);
  }
  return sizes;
}"""


def text_problems(page) -> list[str]:
    """Chart texts (labels, legends, names in cells) that are cut, shortened, too wide or overlapping; page legends
    that are cut."""
    return page.evaluate(TEXT_PROBLEMS)


def font_sizes(page) -> dict[str, float]:
    """The smallest font size (CSS px) of the charts' axis labels, legend labels and marks."""
    return page.evaluate(FONT_SIZES)


def box(page, selector: str) -> dict:
    """The bounding box (CSS px, viewport) of the main area's first element matching selector."""
    found = page.locator(f"[data-testid='stMain'] {selector}").first.bounding_box()
    assert found, f"nothing at {selector}"
    return found


def picture_box(page) -> dict:
    """The picture's box, its legend (under it) included."""
    chart, legend = box(page, "[data-testid='stVegaLiteChart']"), box(page, "[data-testid='rnnviz-legend']")
    bottom = max(chart["y"] + chart["height"], legend["y"] + legend["height"])
    return {**chart, "height": bottom - chart["y"]}


def main_text(page) -> str:
    """Every word the main area shows (the sidebar aside)."""
    return page.locator("[data-testid='stMain']").inner_text()


# -----------------------------------------------------------------------------
# A view's state as the page shows it: the sidebar's configuration, the open tab, the open tab's picks

SIDEBAR_NUMBERS = ("Layers", "Seed", "Hidden size", "Embedding size")
SIDEBAR_SELECTS = ("Preset (a lesson each)", "Cell")
SIDEBAR_SWITCHES = ("Bidirectional", "batch_first", "Packed (pack_padded_sequence)")
OPEN_PICKS = """() => {
  // the open tab's panel: a closed tab's is there too, hidden (it still draws its picks)
  const panel = [...document.querySelectorAll("[data-testid='stMain'] [role='tabpanel']")]
    .find(p => p.getClientRects().length > 0);
  if (!panel) return [];
  const inputs = panel.querySelectorAll("[data-testid='stNumberInput'] input, [data-testid='stSelectbox'] input");
  return [...[...panel.querySelectorAll("button[aria-checked='true']")].map(b => b.innerText),
          ...[...inputs].map(i => i.value)];
}"""


OPEN_PANEL = "[data-testid='stMain'] [role='tabpanel']:visible"  # a closed tab's panel is there too, hidden


def open_tab_name(page) -> str:
    """The open view: its group's tab, and in a group of several, its checked button."""
    group = page.locator("[data-testid='stMain'] [role='tab'][aria-selected='true']").inner_text().strip()
    views = GROUPS[group]
    if len(views) == 1:
        return views[0]
    return next(view for view in views if view_button(page, view).get_attribute("aria-checked") == "true")


def view_state(page) -> dict:
    """What a person sees of the view: the sidebar's values, the open tab, the picks in it."""
    state = {label: selected(page, label) for label in SIDEBAR_SELECTS}
    state.update({label: number_value(page, label) for label in SIDEBAR_NUMBERS})
    state.update({label: switch_state(page, label) for label in SIDEBAR_SWITCHES})
    state["sequences"] = sequences_value(page)
    return {**state, "tab": open_tab_name(page), "picks": page.evaluate(OPEN_PICKS)}


def pick_sequence(page, b: int) -> float:
    """Click the open tab's button b=b (a sequence picker); wait for the rerun."""
    button = page.locator(f"{OPEN_PANEL} button", has_text=re.compile(f"^b={b}$"))
    if button.get_attribute("aria-checked") == "true":
        return 0.0
    return rerun_after(page, button.click, what=f"b={b}")


def set_main_number(page, label: str, value: int):
    """Type value into the open tab's number input labelled label (an unrolled-step pick), press Enter, and wait
    for its rerun: the tab's fragment only (a fragment's run is not counted as finished, only as started)."""
    field = page.locator(OPEN_PANEL).get_by_label(label, exact=True)
    if field.input_value() == str(value):
        return
    runs = tracker(page)
    started = runs.started
    field.fill(str(value))
    field.press("Enter")
    wait_until(page, lambda: runs.started > started, RERUN_TIMEOUT_MS, f"{label} -> {value}: a rerun")
    page.wait_for_selector(IDLE, timeout=RERUN_TIMEOUT_MS)
    settle(page, RERUN_TIMEOUT_MS)


def axis_labels(page, chart: int = 0) -> list[str]:
    """The labels a chart's axes show (those Vega hid, for want of room, left out)."""
    return page.locator("[data-testid='stMain'] [data-testid='stVegaLiteChart']").nth(chart).evaluate(
        """(c) => [...c.querySelectorAll("g.role-axis-label text")]
            .filter(t => t.closest("[opacity='0']") === null && t.getAttribute("opacity") !== "0")
            .map(t => t.textContent)"""
    )
