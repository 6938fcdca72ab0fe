"""End-to-end: the dashboard in a real Chromium, used as a person would, checked against the core.

One Streamlit server and one Chromium for the whole module; every test opens fresh browser contexts
(fresh sessions). Screenshots go to $RNNVIZ_SCREENSHOTS (default: pytest's tmp_path); the README's
screenshots are regenerated with

    RNNVIZ_SCREENSHOTS=docs python -m pytest tests/test_browser.py -k "first_screen or screenshot"

Latency is measured by the bench (bench/sec_browser.py), not here.
"""

import contextlib
import functools
import json
import math
import os
import random
import re
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import torch

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    if os.environ.get("CI") == "true":
        raise
    pytest.skip("playwright is not installed (pip install -r requirements-dev.txt)", allow_module_level=True)

import browser as ui

from bench.wsclient import serve
from dashboard.views import VIEWS
from rnnviz import PRESETS, Config, analyse
from rnnviz.anatomy import cells
from rnnviz.report import make_report

PRESET = "Preset (a lesson each)"
VIEWPORT = (1280, 800)  # functional tests; screenshots size their own viewport

# -----------------------------------------------------------------------------
# Fixtures: one server and one browser per module


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The dashboard on a free loopback port: (base URL, log path)."""
    ui.chromium_path()  # skip (or fail on CI) before paying for a server
    log = tmp_path_factory.mktemp("server") / "streamlit.log"
    with serve(ui.ROOT / "streamlit_app.py", log) as running:
        yield running.url, log


@pytest.fixture(scope="module")
def chromium(server):
    with sync_playwright() as playwright:
        browser = ui.launch_chromium(playwright)
        yield browser
        browser.close()


@pytest.fixture
def base(server):
    return server[0]


@pytest.fixture
def context(chromium):
    """A fresh browser context (its own cookies, so its own Streamlit session) with a tall viewport."""
    ctx = chromium.new_context(viewport={"width": VIEWPORT[0], "height": VIEWPORT[1]}, accept_downloads=True)
    yield ctx
    ctx.close()


@pytest.fixture
def shots(tmp_path) -> Path:
    folder = Path(os.environ.get("RNNVIZ_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# -----------------------------------------------------------------------------
# The core's view of a config


@functools.lru_cache(maxsize=64)
def core(config: Config):
    """rnnviz.analyse(config), cached (a Config is frozen and hashable)."""
    return analyse(config)


def expected(config: Config) -> list[tuple[str, str]]:
    return ui.expected_badges(core(config).relations)


def core_shapes(config: Config) -> dict:
    result = core(config).result
    return {
        "output": list(result.output.shape),
        "h_n": list(result.h_n.shape),
        "c_n": None if result.c_n is None else list(result.c_n.shape),
    }


def core_report(config: Config) -> dict:
    """The JSON report for config, as the download holds it (through json, as the dashboard sends it)."""
    result, _, relations = core(config)
    return json.loads(json.dumps(make_report(result, relations, tensors=True)))


def assert_page_shows(page, config: Config):
    """The badges (ids, order, colours) and the shapes are the core's for config; no error anywhere."""
    assert ui.badges(page) == expected(config)
    assert ui.shapes(page) == core_shapes(config)
    assert ui.exceptions(page) == []
    assert ui.alerts(page, "Error") == []


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-10)  # Vega prints 12 significant digits


INDEX = re.compile(r"(\w+)\[(\d+), (\d+), (\d+)\]")


def assert_chart_matches(chart: dict, config: Config) -> int:
    """Every cell of a heatmap is the number of the tensor its label names (output[t, b, j] or h_n[k, b, j])."""
    result = core(config).result
    seen = 0
    for cell in chart["cells"]:
        name, *index = INDEX.fullmatch(cell["index"]).groups()
        number = float(getattr(result, name)[tuple(int(i) for i in index)])
        assert close(ui.chart_number(cell["value"]), number), (cell, number)
        seen += 1
    return seen


def heatmaps(page, b: int) -> tuple[dict, dict]:
    """Sequence b's output and h_n heatmaps (clicking its button when another sequence is shown)."""
    button = page.get_by_role("radio", name=f"b={b}", exact=True)
    if button.get_attribute("aria-checked") != "true":
        ui.rerun_after(page, button.click, what=f"sequence b={b}")
    ui.wait_charts(page, 2)
    return tuple(ui.charts(page))


# -----------------------------------------------------------------------------
# Reading badge colours (no browser): Streamlit 1.67's light-theme badge text colours, measured


@pytest.mark.parametrize(
    ("css", "name"),
    [
        ("rgb(12, 90, 68)", "green"),
        ("rgb(104, 98, 85)", "gray"),
        ("rgb(158, 48, 59)", "red"),
        ("rgb(155, 69, 25)", "other(rgb(155, 69, 25))"),  # orange
        ("rgb(36, 79, 180)", "blue"),
        ("rgb(149, 107, 15)", "other(rgb(149, 107, 15))"),  # yellow
    ],
)
def test_badge_colour_names(css, name):
    assert ui.colour_name(css) == name


# -----------------------------------------------------------------------------
# Opening the page


def test_default_page_shows_the_core_badges(base, context):
    page = ui.open_page(context, f"{base}/")
    config = Config()
    assert_page_shows(page, config)
    shown = ui.badges_raw(page)
    colours = {ui.colour_name(b["color"]) for b in shown}
    assert colours <= {"green", "gray", "blue", "red"}, shown
    assert "gray" in colours and "green" in colours  # the default batch teaches one lesson
    verdicts = [r.verdict for r in core(config).relations]
    assert ui.relation_counts(page) == {v: verdicts.count(v) for v in ui.VERDICTS}
    assert ui.selected(page, PRESET) == "single-uni"
    assert ui.sequences_value(page) == "\n".join(config.sequences)
    assert ui.alerts(page, "Warning") == []


def test_each_preset_changes_shapes_and_badges(base, context):
    page = ui.open_page(context, f"{base}/")
    notes = {ui.lesson(page)}
    for name in ("multi-uni", "single-bi", "multi-bi", "packed", "single-uni"):
        ui.select_option(page, PRESET, name)
        config = PRESETS[name]
        assert ui.selected(page, PRESET) == name
        assert ui.number_value(page, "Layers") == config.layers
        assert ui.switch_state(page, "Bidirectional") == config.bidirectional
        assert_page_shows(page, config)
        notes.add(ui.lesson(page))
    assert len(notes) == len(PRESETS)  # each preset explains itself


def test_lstm_bidirectional_three_layers_packed_shows_c_n(base, context):
    page = ui.open_page(context, f"{base}/")
    ui.select_option(page, "Cell", "LSTM")
    assert_page_shows(page, Config(cell="lstm"))
    ui.set_toggle(page, "Bidirectional", True)
    ui.set_number(page, "Layers", 3)
    ui.set_toggle(page, "Packed (pack_padded_sequence)", True)
    config = Config(cell="lstm", bidirectional=True, layers=3, packed=True)
    assert ui.selected(page, PRESET) == "Custom"  # moved off the preset
    assert_page_shows(page, config)
    ids = [rel_id for rel_id, _ in ui.badges(page)]
    assert {"c_n-shape", "first-output-is-backward-h_n", "padding-output-is-zero"} <= set(ids)
    ui.open_tab(page, "output & h_n")
    assert ui.shapes(page)["c_n"] == [6, 3, 5]
    assert "c_n, the LSTM's final cell state" in ui.subheaders(page)
    assert page.get_by_role("heading", name="c_n, the LSTM's final cell state").is_visible()


def test_typing_a_new_batch(base, context):
    page = ui.open_page(context, f"{base}/")
    sequences = ("hello world", "rnn", "output vs h_n", "ab")
    ui.type_sequences(page, sequences)
    config = Config(sequences=sequences)
    assert_page_shows(page, config)
    ui.open_tab(page, "Batch")
    batch = core(config).result.batch
    assert page.get_by_text(f"4 sequences → vocabulary of {len(batch.vocab)} tokens").is_visible()


# -----------------------------------------------------------------------------
# Shared links


def test_shared_link_opens_the_same_view_and_numbers(base, context):
    url = ui.url_for(base, cell="LSTM", layers=2, bidirectional=True, packed=True)
    config = Config(cell="lstm", layers=2, bidirectional=True, packed=True)
    page = ui.open_page(context, url)
    assert ui.selected(page, "Cell") == "LSTM"
    assert ui.number_value(page, "Layers") == 2
    assert ui.switch_state(page, "Bidirectional") and ui.switch_state(page, "Packed (pack_padded_sequence)")
    assert ui.selected(page, PRESET) == "Custom"
    assert ui.alerts(page, "Warning") == []  # every value of the link was taken
    assert_page_shows(page, config)
    ui.open_tab(page, "output & h_n")
    result = core(config).result
    for b in range(len(config.sequences)):
        output_chart, h_n_chart = heatmaps(page, b)
        assert assert_chart_matches(output_chart, config) == result.output[:, b].numel()
        assert assert_chart_matches(h_n_chart, config) == result.h_n[:, b].numel()
    report = ui.download_report(page)
    assert report["config"] == config.as_dict()
    assert torch.equal(torch.tensor(report["tensors"]["c_n"]), core(config).result.c_n)


def test_address_bar_after_changes_reproduces_the_view(base, chromium, context):
    """Change controls in one tab, copy the address bar into a fresh browser: same view, same numbers."""
    page = ui.open_page(context, f"{base}/")
    ui.select_option(page, "Cell", "GRU")
    ui.set_number(page, "Seed", 7)
    ui.set_number(page, "Hidden size", 4)
    ui.set_toggle(page, "batch_first", True)
    ui.select_option(page, "dtype", "float64")
    config = Config(cell="gru", seed=7, hidden=4, batch_first=True, dtype="float64")
    assert_page_shows(page, config)
    other = chromium.new_context(viewport={"width": VIEWPORT[0], "height": VIEWPORT[1]}, accept_downloads=True)
    try:
        shared = ui.open_page(other, page.url)
        assert ui.alerts(shared, "Warning") == []
        assert_page_shows(shared, config)
        assert ui.download_report(shared) == ui.download_report(page) == core_report(config)
    finally:
        other.close()


def test_a_link_opens_a_tab_and_the_address_bar_follows_the_open_tab(base, chromium, context):
    config = Config(cell="gru")
    page = ui.open_page(context, ui.url_for(base, cell="GRU", tab="Unrolled by hand"))
    assert ui.open_tab_name(page) == "Unrolled by hand"
    assert page.locator("[data-testid='stMain'] .katex").count() > 0  # its equations are drawn
    assert page.evaluate(ui.READ_BADGES) == []  # the Relations tab is closed: its section did not run
    assert ui.shapes(page) == core_shapes(config)  # the summary above the tabs is always there
    ui.open_tab(page, "Code & downloads")
    assert "tab=Code" in page.url
    other = chromium.new_context(viewport={"width": VIEWPORT[0], "height": VIEWPORT[1]})
    try:
        shared = ui.open_page(other, page.url)
        assert ui.open_tab_name(shared) == "Code & downloads"
        assert shared.get_by_role("button", name="report .json").is_visible()
        assert ui.alerts(shared, "Warning") == []
    finally:
        other.close()
    ui.open_tab(page, "Picture")
    assert "tab=" not in page.url  # the first tab is the default: the link stays short
    assert_page_shows(page, config)


@pytest.mark.parametrize(
    ("params", "config"),
    [({"hidden": 1}, Config(hidden=1)), ({"cell": "LSTM", "preset": "Custom"}, Config(cell="lstm"))],
    ids=["hidden=1", "preset=Custom"],
)
def test_link_value_equal_to_a_widget_default_is_taken(base, context, params, config):
    """hidden=1 is the number input's own default (its minimum), Custom the preset box's first option:
    Streamlit's URL binding alone would drop them (fixed in the app by setting every link value itself)."""
    page = ui.open_page(context, ui.url_for(base, **params))
    assert ui.alerts(page, "Warning") == []
    assert_page_shows(page, config)


def test_address_bar_keeps_hidden_size_one(base, chromium, context):
    page = ui.open_page(context, f"{base}/")
    ui.set_number(page, "Hidden size", 1)
    ui.set_number(page, "Seed", 4)
    config = Config(hidden=1, seed=4)
    assert_page_shows(page, config)
    other = chromium.new_context(viewport={"width": VIEWPORT[0], "height": VIEWPORT[1]})
    try:
        shared = ui.open_page(other, page.url)  # observed: page.url is /?seed=4
        assert_page_shows(shared, config)  # observed: hidden 5
    finally:
        other.close()


def test_heatmap_of_more_than_5000_cells(base, context):
    """Above altair's default 5,000-row guard (each chart caps itself at MAX_CELLS = 20,000)."""
    config = Config(sequences=("x" * 64,), hidden=200, bidirectional=True)  # 64 * 2 * 156 shown = 19,968 cells
    page = ui.open_page(context, ui.url_for(base, sequences="x" * 64, hidden=200, bidirectional=True))
    assert_page_shows(page, config)
    ui.open_tab(page, "output & h_n")
    ui.wait_charts(page, 2)
    for chart in ui.charts(page):  # this big, Vega draws on a canvas: no marks to read, only its size
        assert (chart["svg"] or chart["canvas"]) and chart["width"] > 100 and chart["height"] > 50, chart
    assert ui.exceptions(page) == []
    assert ui.download_report(page) == core_report(config)


# -----------------------------------------------------------------------------
# Bad input, then recovery


def test_empty_batch_shows_an_error_then_recovers(base, context):
    page = ui.open_page(context, f"{base}/")
    ui.type_sequences(page, [""])
    errors = ui.alerts(page, "Error")
    assert len(errors) == 1 and "The batch is empty: give at least one sequence." in errors[0]
    assert page.get_by_text("Showing the last valid configuration until the input is fixed.").is_visible()
    assert ui.badges(page) == expected(Config())  # the last valid view stays
    assert ui.exceptions(page) == []
    sequences = ("abc", "a")
    ui.type_sequences(page, sequences)
    assert_page_shows(page, Config(sequences=sequences))
    assert page.get_by_text("Showing the last valid configuration").count() == 0


def test_proj_not_below_hidden_shows_an_error_then_recovers(base, context):
    # A link value that cannot go with the others: named and left out; the rest of the link opens.
    page = ui.open_page(context, ui.url_for(base, cell="LSTM", proj=7))  # hidden stays 5
    warnings = ui.alerts(page, "Warning")
    assert len(warnings) == 1 and "proj=7: proj must be smaller than hidden (got proj 7, hidden 5)" in warnings[0]
    assert_page_shows(page, Config(cell="lstm"))
    ui.set_number(page, "Hidden size", 8)
    ui.set_number(page, "proj_size", 7)
    assert_page_shows(page, Config(cell="lstm", proj=7, hidden=8))
    # Break it from the sidebar: the error, and the last valid view stays.
    ui.set_number(page, "proj_size", 8)
    errors = ui.alerts(page, "Error")
    assert len(errors) == 1 and "proj must be smaller than hidden (got proj 8, hidden 8)" in errors[0], errors
    assert ui.badges(page) == expected(Config(cell="lstm", proj=7, hidden=8))
    ui.set_number(page, "proj_size", 3)
    assert_page_shows(page, Config(cell="lstm", proj=3, hidden=8))
    assert ui.shapes(page) == {"output": [8, 3, 3], "h_n": [1, 3, 3], "c_n": [1, 3, 8]}


# -----------------------------------------------------------------------------
# Downloads and the heatmap


def test_downloaded_json_report_equals_the_core(base, context):
    url = ui.url_for(base, cell="GRU", layers=2, bidirectional=True, packed=True, batch_first=True, seed=3)
    config = Config(cell="gru", layers=2, bidirectional=True, packed=True, batch_first=True, seed=3)
    page = ui.open_page(context, url)
    report = ui.download_report(page)
    want = core_report(config)
    assert [r["id"] for r in report["relations"]] == [r["id"] for r in want["relations"]]
    assert report["relations"] == want["relations"]
    for name in ("output", "h_n", "c_n"):
        got, ref = report["tensors"][name], getattr(core(config).result, name)
        assert (got is None) == (ref is None)
        if ref is not None:
            assert torch.equal(torch.tensor(got, dtype=ref.dtype), ref), name
    assert report == want


def test_heatmap_is_drawn_with_h_n_cells_outlined(base, context):
    config = PRESETS["multi-bi"].replace(packed=True)
    page = ui.open_page(context, ui.url_for(base, preset="multi-bi", packed=True))
    assert_page_shows(page, config)
    ui.open_tab(page, "output & h_n")
    result = core(config).result
    frame = cells(result)
    H = config.state_size
    for b in range(len(config.sequences)):
        output_chart, h_n_chart = heatmaps(page, b)
        assert output_chart["svg"], "the cell checks below read Vega's SVG marks"
        assert output_chart["width"] > 400 and h_n_chart["width"] > 400  # they fill the column
        assert abs(output_chart["x"] - h_n_chart["x"]) < 1 and abs(output_chart["width"] - h_n_chart["width"]) < 1
        assert assert_chart_matches(output_chart, config) == result.output[:, b].numel()
        assert assert_chart_matches(h_n_chart, config) == result.h_n[:, b].numel()
        # Outlined output cells: the blocks h_n was taken from, by position; the top layer's rows of h_n
        top = frame.query(f"sequence == {b} and in_output and h_n_row >= 0")
        want = {(int(r.t), int(r.direction)) for r in top.itertuples()}
        got = {
            (int(c["step"].split()[0].removeprefix("t=")), c["unit"].startswith("←"))
            for c in output_chart["outlined"]
        }
        assert got == want == {(result.batch.lengths[b] - 1, 0), (0, 1)}
        assert len(output_chart["outlined"]) == 2 * H
        assert {c["layer"] for c in h_n_chart["outlined"]} == {"layer 1: h_n[2] →, h_n[3] ←"}


def test_the_picture_is_the_landing_view_and_a_hover_says_where(base, context):
    config = PRESETS["single-bi"]
    page = ui.open_page(context, ui.url_for(base, preset="single-bi"))
    ui.wait_charts(page)
    [picture] = ui.charts(page)
    result = core(config).result
    named = {(c["lane"], c["t"]) for c in picture["outlined"]}
    assert named == {(f"b={b} · layer 0 {arrow}", str(t)) for b in range(3) for arrow, t in (("→", 7), ("←", 0))}
    cell = page.locator("[data-testid='stVegaLiteChart'] g.mark-rect").first.locator("path").nth(8)  # b=0, t=0, ←
    cell.hover()
    tooltip = page.locator("#vg-tooltip-element")
    expect(tooltip).to_contain_text("output[0, 0, 5:10]", timeout=5_000)
    expect(tooltip).to_contain_text("h_n[1, 0]")
    values = ", ".join(f"{float(x):.3f}" for x in result.output[0, 0, 5:10])
    expect(tooltip).to_contain_text(values)


# -----------------------------------------------------------------------------
# Many people at once


def test_eight_sessions_at_once_each_see_their_own_numbers(server, chromium):
    base, log = server
    configs = [Config(seed=seed, cell=("rnn", "lstm", "gru")[seed % 3]) for seed in range(8)]
    log_start = log.stat().st_size  # earlier tests may have logged on purpose
    start = time.monotonic()
    contexts = [chromium.new_context(viewport={"width": VIEWPORT[0], "height": VIEWPORT[1]}) for _ in configs]
    try:
        pages = [ui.new_page(ctx) for ctx in contexts]
        for page, config in zip(pages, configs, strict=True):  # all eight ask before any is served
            page.goto(ui.url_for(base, seed=config.seed, cell=config.cell.upper()), wait_until="commit")
        for page in pages:
            ui.wait_loaded(page)
        for page, config in zip(pages, configs, strict=True):
            assert_page_shows(page, config)
        # All eight flip bidirectional at nearly the same moment, then each checks its own numbers.
        finished = [ui.tracker(page).finished for page in pages]
        for page in pages:
            page.get_by_role("switch", name="Bidirectional", exact=True).locator("xpath=ancestor::label").click()
        for page, before in zip(pages, finished, strict=True):
            ui.wait_run_finished(page, before, what="Bidirectional -> True")
        values = set()
        for page, config in zip(pages, configs, strict=True):
            config = config.replace(bidirectional=True)
            assert_page_shows(page, config)
            ui.open_tab(page, "output & h_n")
            ui.wait_charts(page, 2)
            _, h_n_chart = ui.charts(page)
            assert assert_chart_matches(h_n_chart, config) == core(config).result.h_n[:, 0].numel()
            values.add(h_n_chart["cells"][0]["value"])
        assert len(values) == len(configs)  # eight different numbers: nobody saw someone else's
    finally:
        for ctx in contexts:
            ctx.close()
    assert time.monotonic() - start < 180
    assert ui.server_log_problems(log, log_start) == []


# -----------------------------------------------------------------------------
# Screenshots (README and workshop check: 1280 x 720 at 150%)


@contextlib.contextmanager
def workshop_view(chromium, url: str, path: Path, viewport=(1280, 720), scale=1.5):
    """Open url at viewport (CSS px) and device scale factor; check that the question, the lesson and the picture
    are on the screen beside the sidebar; save a PNG of the screen; yield (page, the picture's box)."""
    ctx = chromium.new_context(viewport={"width": viewport[0], "height": viewport[1]}, device_scale_factor=scale)
    try:
        page = ui.open_page(ctx, url)
        ui.wait_charts(page)
        page.evaluate("document.fonts.ready")  # icons and text in their real fonts
        page.wait_for_timeout(500)
        assert ui.exceptions(page) == [] and ui.alerts(page, "Error") == [] and ui.alerts(page, "Warning") == []
        bar = page.locator(ui.SIDEBAR).bounding_box()
        assert bar and bar["width"] > 150 and bar["x"] >= 0, "sidebar not visible"
        question = page.get_by_role("heading", name=re.compile("What does")).bounding_box()
        assert question and question["y"] >= 0 and question["y"] + question["height"] <= viewport[1]
        picture = page.locator("[data-testid='stMain'] [data-testid='stVegaLiteChart']").first.bounding_box()
        assert picture and picture["x"] >= bar["x"] + bar["width"], "the picture overlaps the sidebar"
        ui.screenshot(page, path)
        yield page, picture
    finally:
        ctx.close()


README_SHOTS = {"single-uni": "screenshot-default.png", "single-bi": "screenshot-single-bi.png"}


@pytest.mark.parametrize("preset", list(PRESETS))
def test_first_screen_holds_the_question_the_lesson_and_the_picture(chromium, base, shots, tmp_path, preset):
    """Every step of the workshop's walk: at 1280 x 720, scale 1.5 (a projector), the whole picture on the first
    screen; at a true 150 % zoom (853 x 480 CSS px), the picture starts on it."""
    url = ui.url_for(base, preset=preset)
    path = shots / README_SHOTS[preset] if preset in README_SHOTS else tmp_path / f"{preset}.png"
    with workshop_view(chromium, url, path) as (_, picture):
        assert picture["y"] + picture["height"] <= 720, f"the picture ends at {picture['y'] + picture['height']}"
    with workshop_view(chromium, url, tmp_path / "zoom150.png", viewport=(853, 480)) as (_, picture):
        assert picture["y"] < 480, f"the picture starts at {picture['y']}, below the first screen"


def test_screenshot_lstm(chromium, base, shots):
    url = ui.url_for(base, cell="LSTM", layers=2, bidirectional=True, packed=True, tab="output & h_n")
    ctx = chromium.new_context(viewport={"width": 1280, "height": 900}, device_scale_factor=1.5)
    try:
        page = ui.open_page(ctx, url)
        ui.wait_charts(page, 2)
        page.wait_for_timeout(500)
        assert ui.exceptions(page) == []
        ui.screenshot(page, shots / "screenshot-lstm.png")
    finally:
        ctx.close()


# -----------------------------------------------------------------------------
# Fit for the room: ask mode, links that reopen the view, presenter mode, legibility, words for bad values


@contextlib.contextmanager
def room(chromium, url: str, viewport=(1280, 720), scale=1.5):
    """A fresh page on url at viewport (CSS px) and device scale factor, drawn in its real fonts."""
    ctx = chromium.new_context(viewport={"width": viewport[0], "height": viewport[1]}, device_scale_factor=scale)
    try:
        page = ui.open_page(ctx, url)
        ui.wait_charts(page, 0 if "tab=Batch" in url else 1)
        page.evaluate("document.fonts.ready")
        page.wait_for_timeout(300)
        yield page
    finally:
        ctx.close()


def answer(page, option: str) -> float:
    """Pick an option of the question above the tabs; wait for the rerun."""
    radio = page.locator("[data-testid='stMain'] [data-testid='stRadio']")
    return ui.rerun_after(page, lambda: radio.get_by_text(option, exact=True).click(), what=f"answer {option!r}")


@pytest.mark.parametrize("preset", list(PRESETS))
def test_ask_mode_gives_nothing_away_then_reveals_with_the_picture_in_place(chromium, base, preset):
    """Before the answer, no lesson, no Why?, no marks, no verdict counts; the question is about a sequence the
    picture shows. After it: the verdict and the lesson, the marks, and the picture where it was, whole on screen."""
    url = ui.url_for(base, preset=preset, ask=True, present=True)
    with room(chromium, url) as page:
        question = page.locator("[data-testid='stMain'] [data-testid='stRadio']")
        label = question.locator("[data-testid='stWidgetLabel']").inner_text()
        assert page.get_by_role("button", name="Why?").count() == 0
        assert "guaranteed, hold" not in ui.main_text(page)
        [picture] = ui.charts(page)
        assert picture["outlined"] == [] and not [c for c in picture["cells"] if "h_n[" in c.get("in h_n", "")]
        shown = {c["where"].rsplit("b = ", 1)[1] for c in picture["cells"] if "where" in c}
        assert re.search(r"\bb=(\d)", label).group(1) in shown  # the question's sequence is one the picture shows
        before = ui.picture_box(page)
        options = question.locator("label").all_inner_texts()
        answer(page, options[-1])
        assert page.locator("[data-testid='stMain'] [data-testid='stRadio']").count() == 0
        assert re.search(r"(Right|Not quite)", ui.lesson(page))
        assert page.get_by_role("button", name="Why?").is_visible()
        after = ui.picture_box(page)
        assert abs(after["y"] - before["y"]) <= 40 and after["y"] + after["height"] <= 720, (before, after)
        assert ui.charts(page)[0]["outlined"], "the marks are revealed"


ACTIONS = ("preset", "cell", "layers", "seed", "hidden", "bidirectional", "packed", "batch_first", "tab", "pick")
PICK_TABS = ("Picture", "output & h_n", "Unrolled by hand", "Gradients")


def random_change(page, rng):
    """One change a person makes: a control, a preset, a tab, or a pick in the open tab."""
    kind = rng.choice(ACTIONS)
    if kind == "preset":
        ui.select_option(page, PRESET, rng.choice(list(PRESETS)))
    elif kind == "cell":
        ui.select_option(page, "Cell", rng.choice(("RNN", "LSTM", "GRU")))
    elif kind in ("layers", "seed", "hidden"):
        label, low, high = {"layers": ("Layers", 1, 3), "seed": ("Seed", 0, 9), "hidden": ("Hidden size", 2, 7)}[kind]
        value = rng.randint(low, high)
        if ui.number_value(page, label) != value:
            ui.set_number(page, label, value)
    elif kind in ("bidirectional", "packed", "batch_first"):
        label = {"bidirectional": "Bidirectional", "packed": "Packed (pack_padded_sequence)"}.get(kind, kind)
        ui.set_toggle(page, label, rng.random() < 0.5)
    elif kind == "tab":
        ui.open_tab(page, rng.choice((*PICK_TABS, "Batch")))
    elif page.locator(f"{ui.OPEN_PANEL} button", has_text=re.compile("^b=0$")).count():
        ui.pick_sequence(page, rng.randint(0, 2))
    elif page.locator(ui.OPEN_PANEL).get_by_label("time step t", exact=True).count():
        ui.set_main_number(page, "time step t", rng.randint(0, 7))


@pytest.mark.parametrize("seed", range(1, 7))
def test_the_address_bar_reopens_the_view_after_any_changes(chromium, base, context, seed):
    """Property: random changes and picks, then the address bar in a fresh browser: the same configuration, tab and
    picks (every tab's), and the same address."""
    rng = random.Random(seed)
    page = ui.open_page(context, ui.url_for(base, preset=rng.choice(list(PRESETS))))
    for _ in range(8):
        random_change(page, rng)
    other = chromium.new_context(viewport={"width": VIEWPORT[0], "height": VIEWPORT[1]})
    try:
        shared = ui.open_page(other, page.url)
        assert ui.alerts(shared, "Warning") == []
        state, reopened = ui.view_state(page), ui.view_state(shared)
        link, own = parse_qs(urlsplit(page.url).query), parse_qs(urlsplit(shared.url).query)
        if state[PRESET] == "Custom":  # moved off a preset and back onto its values: the link opens that preset
            reopened[PRESET] = "Custom"
            own.pop("preset", None)
        assert reopened == state
        assert own == link  # the reopened view's own link is the link it was opened with
        for tab in PICK_TABS:  # the picks of the tabs that were closed
            ui.open_tab(page, tab)
            ui.open_tab(shared, tab)
            assert ui.view_state(shared)["picks"] == ui.view_state(page)["picks"], tab
        assert ui.exceptions(shared) == []
    finally:
        other.close()


def test_a_preset_then_a_change_keeps_the_presets_values_in_the_link(base, chromium, context):
    """The issue's case: ?preset=multi-bi, a new seed, the cell: the link still opens two layers, two directions."""
    page = ui.open_page(context, ui.url_for(base, preset="multi-bi"))
    ui.set_number(page, "Seed", 3)
    ui.select_option(page, "Cell", "GRU")
    config = PRESETS["multi-bi"].replace(seed=3, cell="gru")
    other = chromium.new_context(viewport={"width": VIEWPORT[0], "height": VIEWPORT[1]})
    try:
        shared = ui.open_page(other, page.url)
        assert_page_shows(shared, config)
    finally:
        other.close()


def test_presenter_mode_at_853_holds_the_whole_single_uni_picture(chromium, base, shots):
    """853 x 480 at 1.5, a true 150 % zoom: the sidebar folded, the title on one line, the whole picture (its
    legend too) on the first screen, its labels at least 18 px."""
    with room(chromium, ui.url_for(base, present=True), (853, 480)) as page:
        assert page.locator(ui.SIDEBAR).bounding_box()["x"] < 0 or not page.locator(ui.SIDEBAR).is_visible()
        title = ui.box(page, "h3")
        assert title["height"] < 45, "the title wraps"
        picture = ui.picture_box(page)
        assert picture["y"] >= 0 and picture["y"] + picture["height"] <= 480, picture
        assert min(ui.font_sizes(page).values()) >= 18
        assert ui.text_problems(page) == []
        ui.screenshot(page, shots / "screenshot-present-853.png")


def test_presenter_mode_at_1280_holds_the_multi_bi_picture_and_its_question(chromium, base):
    with room(chromium, ui.url_for(base, preset="multi-bi", present=True, ask=True)) as page:
        question = ui.box(page, "[data-testid='stRadio']")
        picture = ui.picture_box(page)
        assert question["y"] >= 0 and picture["y"] + picture["height"] <= 720, (question, picture)


def test_the_presenter_walks_the_lesson_path_with_the_keyboard(chromium, base, shots):
    """At 853 x 480: PageDown through the presets, packing, an LSTM's c_n and a carry, each asking its question;
    an answer, then on; PageUp goes back."""
    steps = ["single-uni", "multi-uni", "single-bi", "multi-bi", "packed", "lstm-c_n", "carry-h_0"]
    with room(chromium, ui.url_for(base, present=True, ask=True), (853, 480)) as page:
        for n, step in enumerate(steps):
            radio = page.locator("[data-testid='stMain'] [data-testid='stRadio']")
            assert radio.is_visible(), step
            answer(page, radio.locator("label").all_inner_texts()[1])  # its first option (the question comes first)
            assert re.search(r"(Right|Not quite)", ui.lesson(page)), step
            assert ui.picture_box(page)["y"] < 480, step
            ui.screenshot(page, shots / f"present-{n + 1}-{step}.png")
            if n == 0:  # the title row shares the header's band: its buttons take a click
                ui.rerun_after(page, page.get_by_role("button", name=re.compile("Next")).click, what="click Next")
            elif n + 1 < len(steps):
                page.locator("h3").first.click()  # the keys go to the page, not to a field
                ui.rerun_after(page, lambda: page.keyboard.press("PageDown"), what=f"PageDown from {step}")
        assert page.get_by_role("button", name=re.compile("Next")).is_disabled()
        page.locator("h3").first.click()
        ui.rerun_after(page, lambda: page.keyboard.press("PageUp"), what="PageUp")
        assert "cell=LSTM" in page.url
        page.locator("[data-testid='stExpandSidebarButton']").click()  # the header's button still unfolds the sidebar
        expect(ui.sidebar(page).get_by_role("heading", name="rnnviz")).to_be_in_viewport(timeout=5_000)


LEGIBLE = {
    "single-uni": {},
    "multi-bi": {"preset": "multi-bi"},
    "lstm-packed": {"cell": "LSTM", "layers": 2, "bidirectional": True, "packed": True},
    "heatmaps": {"preset": "multi-bi", "tab": "output & h_n"},
    "heatmaps-relu": {"nonlinearity": "relu", "hidden": 12, "tab": "output & h_n"},
    "gradients": {"preset": "single-bi", "tab": "Gradients"},
    "batch": {"tab": "Batch"},
    "trained": {"sequences": "(a)\n((b))", "hidden": 16, "embedding": 8, "task": "brackets", "steps": 30,
                "tab": "Trained units"},
    "weights": {"cell": "LSTM", "layers": 2, "bidirectional": True, "proj": 3, "tab": "Weights"},
    "detached": {"h0": "carry", "detach": True, "tab": "Gradients"},
    "lstm-carry-random": {"cell": "LSTM", "h0": "random", "bidirectional": True},
}  # fmt: skip


@pytest.mark.parametrize("viewport", [(853, 480), (1280, 720)], ids=["853", "1280"])
def test_every_label_and_legend_is_whole(chromium, base, viewport):
    """Every chart's labels, legends and names in cells, and the page's legends: whole, never shortened, never on
    top of each other; labels at the page's size."""
    for name, params in LEGIBLE.items():
        with room(chromium, ui.url_for(base, **params), viewport) as page:
            if params.get("tab") not in (None, "Batch", "Weights"):
                ui.wait_charts(page, 2)
            assert ui.text_problems(page) == [], name
            if name == "heatmaps":  # every unit keeps its label: →0 1 2 3 4 ←0 1 2 3 4
                assert [label for label in ui.axis_labels(page) if not label.startswith("t=")] == [
                    "→0", *"1234", "←0", *"1234"
                ]
            sizes = ui.font_sizes(page)
            assert min(sizes.get("axis", 16), sizes.get("legend", 16)) >= 16, name  # labels: the page's own size
            assert sizes.get("mark", 10) >= 10, name  # names and tokens shrink to their cell, down to 10 px


@pytest.mark.parametrize("viewport", [(853, 480), (1280, 720)], ids=["853", "1280"])
def test_the_tab_bar_fits_beside_the_sidebar_and_opens_every_view(chromium, base, viewport):
    """The views are grouped so that every tab is in sight beside the open sidebar, none scrolled off; each view
    opens from its group (a click on the tab, then on its button) and the address bar names it."""
    with room(chromium, ui.url_for(base), viewport) as page:
        assert page.locator(ui.SIDEBAR).is_visible()
        bar = page.locator("[data-testid='stMain'] [role='tablist']").first
        scroll, client = bar.evaluate("(list) => [list.scrollWidth, list.clientWidth]")
        assert scroll <= client, f"the tab bar needs {scroll} px of {client}"
        for view in VIEWS[1:]:
            ui.open_tab(page, view)
            assert ui.open_tab_name(page) == view and parse_qs(urlsplit(page.url).query)["tab"] == [view]
            assert ui.exceptions(page) == []
        ui.open_tab(page, VIEWS[0])
        assert "tab" not in parse_qs(urlsplit(page.url).query)


@pytest.mark.parametrize("viewport", [(1280, 720), (853, 480)], ids=["1280", "853"])
def test_the_compare_view_reads_in_the_room(chromium, base, shots, viewport):
    """Padded and packed (single-bi): both pictures drawn, whole and legible, one above the other (each as wide as
    the page: side by side, their names would shrink below legible), and the differences under them."""
    url = ui.url_for(base, preset="single-bi", tab="Compare", compare="packed=true")
    with room(chromium, url, viewport) as page:
        ui.wait_charts(page, 2)
        assert ui.text_problems(page) == [] and ui.exceptions(page) == []
        pictures = page.locator("[data-testid='stMain'] [data-testid='stVegaLiteChart']")
        this, other = pictures.nth(0).bounding_box(), pictures.nth(1).bounding_box()
        assert this["y"] + this["height"] <= other["y"] and abs(this["width"] - other["width"]) < 2, (this, other)
        table = page.locator("[data-testid='stMain'] [data-testid='stDataFrame']")
        expect(table).to_be_visible()
        if viewport[0] == 1280:  # the docs' picture of it: tall enough for both
            page.set_viewport_size({"width": 1280, "height": 1280})
            page.wait_for_timeout(500)
            ui.screenshot(page, shots / "screenshot-compare.png")


def test_a_number_typed_out_of_range_is_said_in_words(base, context):
    """The box says what is allowed, under it; the page says why at the top, and that it keeps the last view."""
    page = ui.open_page(context, f"{base}/")
    for value in (0, 10_000):
        ui.set_number(page, "Hidden size", value)
        assert ui.sidebar(page).get_by_text(f"{value} is out of range. Allowed: 1 to 256.").is_visible()
        [error] = ui.alerts(page, "Error")
        assert f"hidden must be between 1 and 256 (got {value})" in error
        assert page.get_by_text("Showing the last valid configuration until the input is fixed.").is_visible()
    ui.set_number(page, "Hidden size", 4)
    assert_page_shows(page, Config(hidden=4))
    assert ui.sidebar(page).get_by_text("is out of range").count() == 0
