"""AppTest of the dashboard: every number and badge the page shows is checked against the core (rnnviz)."""

import ast
import dataclasses
import json
import re
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest
import torch
from apptest import badges, each_tab, fresh_app, tab_open

import dashboard.cached
from bench.apptest import open_tab
from dashboard.present import PATH
from rnnviz import PRESETS, Analysis, Config, ConfigError, analyse
from rnnviz.anatomy import cells
from rnnviz.config import CONFIG_DEFAULTS, MAX_CELLS, MAX_LENGTH, MAX_SEQUENCES
from rnnviz.dropout import masks
from rnnviz.links import CONFIG_KEYS, link_params, parse_link
from rnnviz.recipes import after_output
from rnnviz.report import make_report
from rnnviz.snippet import make_snippet
from rnnviz.tables import DIRECTION_NAMES

# The blog's shapes, section by section: (output, h_n), time-major.
BLOG_SHAPES = {
    "single-uni": ([8, 3, 5], [1, 3, 5]),
    "multi-uni": ([8, 3, 5], [2, 3, 5]),
    "single-bi": ([8, 3, 10], [2, 3, 5]),
    "multi-bi": ([8, 3, 10], [4, 3, 5]),
    "packed": ([8, 3, 10], [2, 3, 5]),
}
SNIPPET_START = '"""Rebuild one rnnviz run'
APP = Path(__file__).resolve().parent.parent / "streamlit_app.py"
# streamlit_app.LESSONS, read without running the app (importing it would): step -> (line, note)
LESSONS = next(
    ast.literal_eval(node.value)
    for node in ast.parse(APP.read_text(encoding="utf-8")).body
    if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["LESSONS"]
)


# -----------------------------------------------------------------------------
# Helpers: what the core says, and what the page shows


# docs/links.md's colour rule (Badge colours): (kind, holds) -> badge colour
COLOURS = {
    ("guaranteed", True): "green",
    ("guaranteed", False): "red",
    ("lesson", False): "gray",
    ("lesson", True): "blue",
}


def core_badges(config: Config) -> dict[str, str]:
    """Relation id -> colour, from the core's JSON report, by docs/links.md's colour rule."""
    result, _, relations = analyse(config)
    report = json.loads(json.dumps(make_report(result, relations)))
    return {rel["id"]: COLOURS[rel["kind"], rel["holds"]] for rel in report["relations"]}


def relation_badges(config: Config) -> dict[str, str]:
    """Relation id -> colour, from the Relation objects themselves."""
    return {rel.id: rel.colour for rel in analyse(config).relations}


def unescape(text: str) -> str:
    """Markdown-escaped text back to plain text."""
    return re.sub(r"\\(.)", r"\1", text)


def shapes_line(at) -> str:
    """The summary above the tabs: output's and h_n's shapes (and the relation counts)."""
    lines = [m.value for m in at.markdown if m.value.startswith("`output` [")]
    assert len(lines) == 1, lines
    return lines[0]


def assert_clean(at):
    """The page ran without an exception and shows no error."""
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def assert_shapes(at, output: list[int], h_n: list[int]):
    line = shapes_line(at)
    assert f"`output` {output}" in line
    assert f"`h_n` {h_n}" in line


def set_control(at, key: str, value):
    """Set one sidebar control the way a user would, and rerun."""
    if key == "sequences":
        at.text_area(key=key).input(value)
    elif key in ("bidirectional", "batch_first", "packed"):
        at.toggle(key=key).set_value(value)
    elif key in ("cell", "nonlinearity", "device", "dtype", "preset", "hand_direction"):
        at.selectbox(key=key).set_value(value)
    else:
        at.number_input(key=key).set_value(value)
    return at.run()


def snippet(at) -> str:
    found = [c.value for c in at.code if c.value.startswith(SNIPPET_START)]
    assert len(found) == 1
    return found[0]


def charts_with(at, field: str) -> list[tuple[dict, object]]:
    """The page's Vega-Lite charts whose rows have this field: (spec, rows as a DataFrame)."""
    found = []
    for chart in at.get("vega_lite_chart"):
        spec = json.loads(chart.proto.spec)
        datasets = {d.name: d.data.data for d in chart.proto.datasets}
        data = pa.ipc.open_stream(datasets[spec["data"]["name"]]).read_pandas()
        if field in data.columns:
            found.append((spec, data))
    return found


def max_abs_difference(at) -> float:
    found = [re.search(r"max abs difference \*\*(.+?)\*\*", m.value) for m in at.markdown]
    found = [m for m in found if m]
    assert len(found) == 1
    return float(found[0].group(1))


# -----------------------------------------------------------------------------
# Default page


def test_default_page_renders_the_blog_view():
    at = fresh_app().run()
    assert_clean(at)
    assert_shapes(at, [8, 3, 5], [1, 3, 5])
    assert (
        ":green[guaranteed, hold: 7] · :gray[lessons: 1] · :blue[coincidences: 0] · :gray[contradictions: 0]"
        in shapes_line(at)
    )
    assert at.session_state["preset"] == "single-uni"
    shown = badges(at)
    assert shown == core_badges(Config()) == relation_badges(Config())
    # The blog's lesson: padded, so the short sequences' h_n is not their true last step.
    assert shown == {
        "output-shape": "green",
        "h_n-shape": "green",
        "h_n-layout": "green",
        "final-output-is-forward-h_n": "green",
        "true-last-step-is-h_n": "gray",
        "reference-recompute": "green",
        "bias-split-is-free": "green",
        "cell-loop-equals-module": "green",
    }
    assert not at.warning


def test_a_contradiction_is_red_counted_and_named(monkeypatch):
    original = dashboard.cached.analyse_with_gradients

    def with_a_bug(config, gradients, weights):
        (result, reference, relations), checked = original(config, gradients, weights)
        flipped = dataclasses.replace(relations[0], holds=not relations[0].holds)  # as if torch broke output-shape
        return Analysis(result, reference, [flipped, *relations[1:]]), checked

    monkeypatch.setattr(dashboard.cached, "analyse_with_gradients", with_a_bug)
    at = fresh_app().run()
    assert not at.exception
    assert badges(at)["output-shape"] == "red"
    assert ":red[contradictions: 1]" in shapes_line(at)
    assert len(at.error) == 1 and "Contradiction: output-shape did not do what PyTorch documents" in at.error[0].value


# -----------------------------------------------------------------------------
# Presets


@pytest.mark.parametrize("preset", list(PRESETS))
def test_preset_sets_controls_badges_and_shapes(preset):
    at = fresh_app().run()
    # Move off every preset first, so that choosing one has to set each control.
    for key, value in (("cell", "GRU"), ("layers", 3), ("bidirectional", preset.endswith("uni")), ("hidden", 7)):
        set_control(at, key, value)
    set_control(at, "embedding", 3)
    assert at.session_state["preset"] == "Custom"
    set_control(at, "preset", preset)
    assert_clean(at)
    config = PRESETS[preset]
    assert at.session_state["preset"] == preset
    assert at.selectbox(key="cell").value == "RNN"
    assert at.number_input(key="layers").value == config.layers
    assert at.toggle(key="bidirectional").value is config.bidirectional
    assert at.toggle(key="packed").value is config.packed
    assert at.number_input(key="hidden").value == 5
    assert at.number_input(key="embedding").value == 5
    assert at.text_area(key="sequences").value == "long_str\ntiny\nmedium"
    assert badges(at) == relation_badges(config) == core_badges(config)
    assert_shapes(at, *BLOG_SHAPES[preset])


# -----------------------------------------------------------------------------
# Every control, one after another

CONTROL_STEPS = [
    ("sequences", "hello\nhi\nhey there\nq"),
    ("nonlinearity", "relu"),
    ("layers", 3),
    ("bidirectional", True),
    ("hidden", 7),
    ("embedding", 4),
    ("batch_first", True),
    ("packed", True),
    ("seed", 42),
    ("dtype", "float64"),
    ("device", "cpu"),
    ("nonlinearity", "tanh"),
    ("cell", "GRU"),
    ("cell", "LSTM"),
    ("proj", 3),
]


def test_every_control_rerenders_with_the_cores_badges():
    at = fresh_app().run()
    assert at.session_state["preset"] == "single-uni"
    fields = Config().as_dict()
    for key, value in CONTROL_STEPS:
        set_control(at, key, value)
        assert_clean(at)
        if key == "sequences":
            fields[key] = tuple(value.split("\n"))
        elif key == "cell":
            fields[key] = value.lower()
        else:
            fields[key] = value
        config = Config(**fields)
        assert at.session_state[key] == value, key
        assert at.session_state["preset"] == "Custom", key
        assert badges(at) == core_badges(config), (key, value)
        result, _, relations = analyse(config)
        assert_shapes(at, list(result.output.shape), list(result.h_n.shape))
        open_tab(at, "Code & downloads")
        assert snippet(at) == make_snippet(result, relations).rstrip("\n"), key  # every field counts
        open_tab(at, "Relations")
    # The final view: LSTM, projected, so c_n keeps hidden units while h_n has proj units.
    assert "`c_n` [6, 4, 7]" in shapes_line(at)
    assert_shapes(at, [4, 9, 6], [6, 4, 3])


def test_one_control_off_the_preset_makes_it_custom_and_back():
    at = fresh_app(preset="multi-uni").run()
    assert at.session_state["preset"] == "multi-uni"
    set_control(at, "seed", 1)
    assert at.session_state["preset"] == "Custom"
    assert_clean(at)
    set_control(at, "seed", 0)  # back on the preset's values: still Custom until a preset is chosen
    assert at.session_state["preset"] == "Custom"
    set_control(at, "preset", "multi-uni")
    assert at.session_state["preset"] == "multi-uni"
    assert badges(at) == core_badges(PRESETS["multi-uni"])


# -----------------------------------------------------------------------------
# URL parameters


def test_url_opens_an_lstm_bidirectional_packed_view():
    at = fresh_app(cell="LSTM", layers="3", bidirectional="true", packed="true").run()
    assert_clean(at)
    s = at.session_state
    assert (s["cell"], s["layers"], s["bidirectional"], s["packed"]) == ("LSTM", 3, True, True)
    assert s["preset"] == "Custom"
    assert not at.warning
    config = Config(cell="lstm", layers=3, bidirectional=True, packed=True)
    shown = badges(at)
    assert shown == core_badges(config)
    assert shown["c_n-shape"] == "green"
    assert shown["padding-output-is-zero"] == "green"
    assert shown["true-last-step-is-h_n"] == "green"
    line = shapes_line(at)
    assert "`c_n` [6, 3, 5]" in line
    assert_shapes(at, [8, 3, 10], [6, 3, 5])


def test_url_preset_alone_opens_the_preset():
    at = fresh_app(preset="multi-bi").run()
    assert_clean(at)
    assert at.session_state["preset"] == "multi-bi"
    assert at.session_state["layers"] == 2
    assert at.session_state["bidirectional"] is True
    assert badges(at) == core_badges(PRESETS["multi-bi"])
    assert_shapes(at, *BLOG_SHAPES["multi-bi"])


def test_url_preset_with_a_changed_control_shows_custom():
    at = fresh_app(preset="multi-bi", hidden="6").run()
    assert_clean(at)
    assert at.session_state["preset"] == "Custom"
    assert (at.session_state["layers"], at.session_state["hidden"]) == (2, 6)
    assert badges(at) == core_badges(PRESETS["multi-bi"].replace(hidden=6))


@pytest.mark.parametrize(
    "params",
    [
        {"layers": "99", "cell": "FOO", "hidden": "abc"},
        {"layers": "99"},
        {"cell": "FOO"},
        {"hidden": "abc"},
        {"packed": "maybe"},
        {"tab": "Secrets"},
    ],
    ids=lambda p: ",".join(p),
)
def test_url_value_the_controls_cannot_take_is_named_in_a_warning(params):
    at = fresh_app(**params).run()
    assert_clean(at)
    assert len(at.warning) == 1
    warning = unescape(at.warning[0].value)
    for key, value in params.items():
        assert f"{key}={value}" in warning
    assert badges(at) == core_badges(Config())
    assert_shapes(at, [8, 3, 5], [1, 3, 5])
    at.run()  # the warning is about the link, shown once
    assert not at.warning


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"hidden": "1"}, {"hidden": 1, "preset": "Custom"}),
        ({"embedding": "1"}, {"embedding": 1, "preset": "Custom"}),
        ({"preset": "multi-bi", "layers": "1"}, {"layers": 1, "bidirectional": True, "preset": "single-bi"}),
        ({"preset": "multi-bi", "layers": "1", "seed": "0"}, {"layers": 1, "seed": 0, "preset": "single-bi"}),
        (
            {"preset": "single-bi", "bidirectional": "false"},
            {"layers": 1, "bidirectional": False, "preset": "single-uni"},
        ),
    ],
    ids=["hidden=1", "embedding=1", "multi-bi,layers=1", "multi-bi,layers=1,seed=0", "single-bi,bidirectional=false"],
)
def test_url_value_equal_to_the_widget_default_opens_that_view(params, expected):
    """A link's values are taken even where they equal a widget's default; a view that is exactly a preset is
    shown as that preset."""
    at = fresh_app(**params).run()
    assert_clean(at)
    assert {key: at.session_state[key] for key in expected} == expected
    assert not at.warning, [w.value for w in at.warning]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"layers": "03"}, {"layers": 3}),
        ({"bidirectional": "True"}, {"bidirectional": True}),
        ({"preset": "Custom", "layers": "3"}, {"preset": "Custom", "layers": 3}),
    ],
    ids=["layers=03", "bidirectional=True", "preset=Custom"],
)
def test_url_value_taken_in_another_spelling_is_not_reported_as_ignored(params, expected):
    at = fresh_app(**params).run()
    assert_clean(at)
    assert {key: at.session_state[key] for key in expected} == expected  # the value was taken...
    assert not at.warning, [w.value for w in at.warning]  # ...so no warning may say it was ignored


# -----------------------------------------------------------------------------
# Tabs: only the open one runs, a link opens one, picks made in a tab survive leaving it

TAB_CONTENT = {  # what only that tab's section puts on the page
    "Picture": lambda at: charts_with(at, "lane"),
    "Relations": lambda at: [m for m in at.markdown if "-badge[" in m.value],
    "Batch": lambda at: [d for d in at.dataframe if "sequence" in d.value.columns],
    "output & h_n": lambda at: charts_with(at, "step"),
    "Unrolled by hand": lambda at: at.latex,
    "Code & downloads": lambda at: at.get("download_button"),
    "Weights": lambda at: charts_with(at, "gate"),
}


@pytest.mark.parametrize("tab", list(TAB_CONTENT))
def test_only_the_open_tab_runs_and_a_link_opens_it(tab):
    at = fresh_app(tab=tab, cell="LSTM").run()
    assert_clean(at)
    assert not at.warning
    assert at.session_state["tab"] == tab
    assert {name: bool(content(at)) for name, content in TAB_CONTENT.items()} == {
        name: name == tab for name in TAB_CONTENT
    }
    assert_shapes(at, [8, 3, 5], [1, 3, 5])  # the summary stays above the tabs
    open_tab(at, "Relations")
    assert badges(at) == core_badges(Config(cell="lstm"))


def test_picks_in_a_closed_tab_are_kept():
    at = fresh_app(tab="Unrolled by hand").run()
    set_control(at, "hand_t", 5)
    set_control(at, "hand_sequence", 2)
    open_tab(at, "Relations")
    at.run()
    open_tab(at, "Unrolled by hand")
    assert (at.number_input(key="hand_t").value, at.number_input(key="hand_sequence").value) == (5, 2)


# -----------------------------------------------------------------------------
# Invalid input


# case -> (steps to the last good view, that view, the bad step, the fix, words the message must hold, the bad config)
BAD_INPUTS = {
    "empty sequences": ([], Config(), ("sequences", ""), "long_str\ntiny\nmedium", "batch is empty", {"sequences": ()}),
    "whitespace-only line": (
        [],
        Config(),
        ("sequences", "abc\n   \nxyz"),
        "abc\nxyz",
        "only whitespace",
        {"sequences": ("abc", "   ", "xyz")},
    ),
    "proj >= hidden": (
        [("cell", "LSTM")],
        Config(cell="lstm"),
        ("proj", 5),
        0,
        "proj must be smaller than hidden",
        {"cell": "lstm", "proj": 5},
    ),
    "too long": (
        [],
        Config(),
        ("sequences", "a" * 100),
        "a" * MAX_LENGTH,
        f"at most {MAX_LENGTH}",
        {"sequences": ("a" * 100,)},
    ),
    "too many": (
        [],
        Config(),
        ("sequences", "\n".join(f"s{i}" for i in range(MAX_SEQUENCES + 1))),
        "\n".join(f"s{i}" for i in range(MAX_SEQUENCES)),
        f"at most {MAX_SEQUENCES}",
        {"sequences": tuple(f"s{i}" for i in range(MAX_SEQUENCES + 1))},
    ),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_invalid_input_shows_the_error_and_keeps_the_last_good_view(case):
    before, good, (key, bad), fix, words, bad_fields = BAD_INPUTS[case]
    at = fresh_app().run()
    for step in before:
        set_control(at, *step)
        assert_clean(at)
    assert badges(at) == core_badges(good)
    set_control(at, key, bad)
    assert not at.exception, [e.value for e in at.exception]
    assert len(at.error) == 1
    message = unescape(at.error[0].value)
    assert words in message
    with pytest.raises(ConfigError) as error:
        Config(**bad_fields)
    assert str(error.value) in message  # the core's own message, word for word
    assert badges(at) == core_badges(good)  # the last good view stays
    set_control(at, key, fix)
    assert_clean(at)
    assert at.session_state[key] == fix
    fixed = {"sequences": tuple(str(fix).split("\n")), "proj": fix, "cell": str(fix).lower()}[key]
    assert badges(at) == core_badges(good.replace(**{key: fixed}))


def test_invalid_link_value_is_named_and_the_rest_of_the_link_opens():
    at = fresh_app(sequences="a" * 100, cell="LSTM").run()
    assert_clean(at)
    assert len(at.warning) == 1
    assert f"at most {MAX_LENGTH}" in unescape(at.warning[0].value)
    assert badges(at) == core_badges(Config(cell="lstm"))
    set_control(at, "sequences", "abc")
    assert_clean(at)
    assert badges(at) == core_badges(Config(sequences=("abc",), cell="lstm"))


@pytest.mark.parametrize(
    ("params", "dropped", "config"),
    [
        ({"proj": "3"}, "proj=3", Config()),
        ({"cell": "GRU", "nonlinearity": "relu", "layers": "2"}, "nonlinearity=relu", Config(cell="gru", layers=2)),
        ({"cell": "LSTM", "hidden": "2", "proj": "3"}, "proj=3", Config(cell="lstm", hidden=2)),
    ],
    ids=["proj-with-rnn", "relu-with-gru", "proj-over-hidden"],
)
def test_link_value_that_cannot_go_with_the_others_is_dropped(params, dropped, config):
    at = fresh_app(**params).run()
    assert_clean(at)
    assert len(at.warning) == 1 and dropped in unescape(at.warning[0].value)
    assert badges(at) == core_badges(config)
    at.number_input(key="seed").set_value(1).run()  # the dropped value does not come back from the URL
    assert_clean(at)
    assert badges(at) == core_badges(config.replace(seed=1))


def test_controls_that_do_not_apply_are_disabled_with_the_reason_and_show_their_default():
    """A disabled control shows the value that counts, its default: the link never holds one that does not."""
    at = fresh_app().run()
    assert not at.selectbox(key="nonlinearity").disabled and at.number_input(key="proj").disabled
    assert at.number_input(key="proj").help.startswith("Off: only for the LSTM cell, not RNN.")
    set_control(at, "nonlinearity", "relu")
    set_control(at, "cell", "LSTM")
    assert_clean(at)
    nonlinearity = at.selectbox(key="nonlinearity")
    assert nonlinearity.disabled and "only for the RNN cell" in nonlinearity.help
    assert nonlinearity.value == "tanh" and "nonlinearity" not in at.query_params
    assert badges(at) == core_badges(Config(cell="lstm"))
    set_control(at, "proj", 3)
    set_control(at, "cell", "GRU")
    assert_clean(at)
    assert at.number_input(key="proj").value == 0 and "proj" not in at.query_params
    assert badges(at) == core_badges(Config(cell="gru"))
    set_control(at, "cell", "RNN")
    assert badges(at) == core_badges(Config())


# -----------------------------------------------------------------------------
# Heatmap


@pytest.mark.parametrize(
    "params",
    [{}, {"cell": "LSTM", "bidirectional": "true", "packed": "true", "batch_first": "true", "layers": "2"}],
    ids=["default", "lstm-bi-packed-batch-first"],
)
def test_heatmap_outlines_exactly_the_h_n_cells(params):
    at = fresh_app(tab="output & h_n", **params).run()
    assert_clean(at)
    config = Config(
        cell=params.get("cell", "RNN").lower(),
        bidirectional="bidirectional" in params,
        packed="packed" in params,
        batch_first="batch_first" in params,
        layers=int(params.get("layers", 1)),
    )
    result = analyse(config).result
    T, D, H = result.batch.max_length, config.directions, config.state_size
    for b in range(len(config.sequences)):
        at.segmented_control(key="tensor_sequence").set_value(b).run()
        [(spec, data)] = charts_with(at, "step")
        outlines = [layer for layer in spec["layer"] if layer["mark"].get("filled") is False]
        assert len(outlines) == 1 and {"filter": "datum.h_n != ''"} in outlines[0]["transform"]
        assert len(data) == T * D * H
        values = torch.tensor(data.value.to_numpy(), dtype=torch.float32).view(T, D * H)
        assert torch.equal(values, result.output[b] if config.batch_first else result.output[:, b])
        marked = data[data.h_n != ""]
        shown = {(int(r.step.split()[0].removeprefix("t=")), r.unit.startswith("←")) for r in marked.itertuples()}
        top = cells(result).query(f"sequence == {b} and in_output and h_n_row >= 0")
        assert shown == {(int(r.t), bool(r.direction)) for r in top.itertuples()}
        # forward where the sequence ends (t = T-1, or its true last step when packed), backward at t = 0
        end = (result.batch.lengths[b] if config.packed else T) - 1
        assert shown == {(end, False)} | ({(0, True)} if D == 2 else set())


def test_what_comes_after_output_shows_the_recipes_of_the_run():
    """At the end of the output & h_n tab: each recipe's code, its shape and check, each wrong way with its diff."""
    params = {"packed": "true", "total_length": "11", "sort": "manual", "bidirectional": "true"}
    at = fresh_app(tab="output & h_n", **params).run()
    assert_clean(at)
    assert "What comes after output" in [h.value for h in at.subheader]
    config = Config(packed=True, total_length=11, sort="manual", bidirectional=True)
    found = after_output(analyse(config).result)
    assert found.setup in [c.value for c in at.code]
    shown = [md.value for md in at.markdown]
    for recipe in found:
        [block] = [md for md in shown if f"```python\n{recipe.code}\n```" in md and recipe.need in md]
        assert f"shape `{list(recipe.value.shape)}`" in block
        if recipe.lesson:
            assert block.startswith(":gray[**wrong way**]")
            diff = "another shape" if recipe.max_abs_diff is None else f"max abs diff {recipe.max_abs_diff:.3g}"
            assert diff in block
        else:
            assert block.startswith(":green[**recipe**]") and "checked: True" in block and recipe.check in block
    assert sum(recipe.lesson for recipe in found) == 5  # one wrong way each: padding everywhere, two directions


def test_the_picture_shows_total_length_s_steps_as_padding():
    """Packed with total_length 11, the batch's 8 steps and 3 more: <pad> inputs the layer never runs."""
    at = fresh_app(packed="true", total_length="11").run()
    assert_clean(at)
    [(_, data)] = [(spec, rows) for spec, rows in charts_with(at, "role") if "lane" in rows.columns]
    states, inputs = data[data.role != "input"], data[data.role == "input"]
    assert int(states.t.max()) == int(inputs.t.max()) == 10
    longest = max(len(seq) for seq in Config().sequences)
    assert (states[states.t >= longest].role == "never run (packed)").all()
    assert (inputs[inputs.t >= longest].token == "<pad>").all()


@pytest.mark.parametrize("bidirectional", ["false", "true"])
def test_every_tab_runs_with_total_length_and_a_manual_sort(bidirectional):
    at = fresh_app(packed="true", total_length="12", sort="manual", bidirectional=bidirectional, cell="LSTM").run()
    for _ in each_tab(at):
        assert_clean(at)
    config = Config(packed=True, total_length=12, sort="manual", bidirectional=bidirectional == "true", cell="lstm")
    assert badges(at) == core_badges(config)


def test_large_valid_config_renders_its_heatmap_capped():
    """64 steps, two directions of 200 units: 25,600 numbers, capped at MAX_CELLS (past altair's 5,000-row guard)."""
    at = fresh_app(tab="output & h_n", sequences="x" * 64, hidden="200", bidirectional="true").run()
    assert_clean(at)
    [(_, data)] = charts_with(at, "step")
    assert 5000 < len(data) <= MAX_CELLS
    assert any("first 156 of 200 units" in c.value for c in at.caption)


# -----------------------------------------------------------------------------
# Unrolled by hand


@pytest.mark.parametrize(
    ("params", "picks", "symbols"),
    [
        ({}, [(0, 0, 0, 0), (7, 0, 0, 1), (3, 0, 0, 2)], ["h_t", r"\tanh"]),
        (
            {"cell": "GRU", "layers": "2", "bidirectional": "true"},
            [(3, 0, 1, 2), (7, 1, 0, 0), (0, 1, 1, 1)],
            ["r_t", "z_t", "n_t"],
        ),
        (
            {"cell": "LSTM", "layers": "2", "bidirectional": "true", "packed": "true", "proj": "3", "hidden": "6"},
            [(2, 0, 0, 1), (5, 1, 1, 2), (7, 1, 1, 0)],
            ["i_t", "f_t", "c_t", "W_{hr}"],
        ),
    ],
    ids=["rnn", "gru-bi", "lstm-proj-packed"],
)
def test_unrolled_by_hand_matches_torch(params, picks, symbols):
    at = fresh_app(tab="Unrolled by hand", **params).run()
    assert_clean(at)
    for t, layer, direction, b in picks:
        set_control(at, "hand_t", t)
        set_control(at, "hand_layer", layer)
        set_control(at, "hand_direction", DIRECTION_NAMES[direction])
        set_control(at, "hand_sequence", b)
        assert_clean(at)
        assert not at.info or all("has only" not in i.value for i in at.info)
        equations = [tex.value for tex in at.latex]
        assert len(equations) >= 2
        text = "\n".join(equations)
        for symbol in symbols:
            assert symbol in text
        assert ("{t+1}" if direction else "{t-1}") in text
        assert max_abs_difference(at) < 1e-5


def test_unrolled_by_hand_packed_past_the_length_shows_info():
    at = fresh_app(tab="Unrolled by hand", packed="true").run()
    assert_clean(at)
    set_control(at, "hand_sequence", 1)  # "tiny", 4 characters of T = 8
    set_control(at, "hand_t", 6)
    assert_clean(at)
    infos = [i.value for i in at.info if "has only" in i.value]
    assert len(infos) == 1
    assert "b=1" in infos[0] and "4 characters" in infos[0]
    assert not at.latex
    set_control(at, "hand_t", 3)  # its true last step: computed again
    assert not [i for i in at.info if "has only" in i.value]
    assert at.latex
    assert max_abs_difference(at) < 1e-5


# -----------------------------------------------------------------------------
# Exported snippet


@pytest.mark.parametrize(
    ("params", "config"),
    [
        ({}, Config()),
        (
            {"cell": "LSTM", "bidirectional": "true", "packed": "true"},
            Config(cell="lstm", bidirectional=True, packed=True),
        ),
        (
            {
                "cell": "GRU",
                "layers": "2",
                "h0": "carry",
                "split": "3",
                "detach": "true",
                "dropout": "0.5",
                "train_mode": "true",
            },
            Config(cell="gru", layers=2, h0="carry", split=3, detach=True, dropout=0.5, train_mode=True),
        ),
    ],
    ids=["default", "lstm-bi-packed", "gru-detached-carry-masks"],
)
def test_exported_snippet_runs(params, config, tmp_path):
    at = fresh_app(tab="Code & downloads", **params).run()
    assert_clean(at)
    code = snippet(at)
    path = tmp_path / "rnnviz_snippet.py"
    path.write_text(code)
    done = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    result, _, relations = analyse(config)
    assert code == make_snippet(result, relations).rstrip("\n")  # st.code drops the final newline
    c_n = None if result.c_n is None else tuple(result.c_n.shape)
    shapes = f"output {tuple(result.output.shape)} h_n {tuple(result.h_n.shape)} c_n {c_n}"
    assert shapes in done.stdout
    assert f"all {sum(rel.expected for rel in relations)} guaranteed relations hold" in done.stdout


# -----------------------------------------------------------------------------
# Caching


def test_unchanged_rerun_does_not_recompute(monkeypatch):
    calls = []
    original = dashboard.cached.analyse_with_gradients

    def counting(config, gradients, weights):
        calls.append(config)
        return original(config, gradients, weights)

    monkeypatch.setattr(dashboard.cached, "analyse_with_gradients", counting)
    at = fresh_app().run()
    assert_clean(at)
    assert calls == [Config()]
    at.run()
    open_tab(at, "Unrolled by hand")
    set_control(at, "hand_t", 2)  # a change that does not touch the config
    assert calls == [Config()]
    set_control(at, "seed", 1)
    assert calls == [Config(), Config(seed=1)]
    set_control(at, "seed", 0)  # back to a config seen before: cached
    open_tab(at, "Relations")
    assert calls == [Config(), Config(seed=1)]
    assert badges(at) == core_badges(Config())


# -----------------------------------------------------------------------------
# The picture (the landing view) and ask mode


@pytest.mark.parametrize("preset", list(PRESETS))
def test_each_preset_lands_on_the_picture_marked_by_position(preset):
    at = fresh_app(preset=preset).run()
    assert_clean(at)
    assert at.session_state["tab"] == "Picture"
    config = PRESETS[preset]
    result = analyse(config).result
    [(spec, data)] = charts_with(at, "lane")
    assert spec["width"] == "container"
    shown = sorted(set(data.sequence))
    if len(shown) < len(config.sequences):  # a tall picture shows one sequence at a time
        assert shown == [0] and at.segmented_control(key="picture_sequence").value == 0
    named = data[(data.role != "input") & (data.h_n != "")]
    frame = cells(result)
    expected = frame[(frame.h_n_row >= 0) & frame.sequence.isin(shown)]
    assert {(r.sequence, r.layer, r.direction, r.t) for r in named.itertuples()} == {
        (r.sequence, r.layer, r.direction, r.t) for r in expected.itertuples()
    }
    assert any(m.value.startswith(":blue-background[") for m in at.markdown)  # the preset's one-line lesson


def lesson_lines(at) -> list[str]:
    """The lesson line above the tabs (with its verdict, in ask mode), as shown."""
    return [m.value for m in at.markdown if ":blue-background[" in m.value]


def marked(at) -> set[str]:
    """The h_n names the picture marks."""
    [(_, data)] = charts_with(at, "lane")
    return set(data.h_n.dropna()) - {""}


ASKED = {  # the view -> what its question asks, the answer, and the sequence it is about (the picture's)
    "single-uni": ("at which time step does output hold h_n[0]?", "t = 7", "b=1 ('tiny'"),
    "multi-uni": ("where in output is h_n[0], layer 0's final state?", "nowhere in output", "b=1 ('tiny'"),
    "single-bi": ("at which time step does output's backward half hold h_n[1]?", "t = 0", "b=1 ('tiny'"),
    "multi-bi": ("which row of h_n is output's backward half at t = 0?", "h_n[3]", "b=0 ('long_str'"),
    "packed": ("at which time step does output's forward half hold h_n[0]?", "t = 3", "b=1 ('tiny'"),
    "lstm-c_n": ("Where in output is c_n[0], the final cell state?", "nowhere in output", "b=1 ('tiny'"),
    "carry-h_0": ("is output the same as one whole run?", "yes, the same numbers", "b=1 ('tiny'"),
}


@pytest.mark.parametrize("step", list(ASKED))
def test_ask_mode_gives_nothing_away_then_reveals_with_the_lesson(step):
    """Before the answer: no lesson line, no Why?, no marks, no verdicts or their counts, no h_n names in the
    heatmaps, no code; the question is about the picture's sequence. After: the verdict with the lesson, the marks."""
    at = fresh_app(ask="true", **link_params(PATH[step])).run()
    assert_clean(at)
    [question] = at.radio
    asked, answer, about = ASKED[step]
    assert asked in unescape(question.label) and f"or {about}" in unescape(question.label)  # For b=1, for b=1
    assert answer in question.options
    assert lesson_lines(at) == [] and not at.get("popover")
    assert marked(at) == set() and "guaranteed, hold" not in shapes_line(at)
    with tab_open(at, "output & h_n"):
        assert not any("h_n[" in label for _, data in charts_with(at, "step") for label in data.step)
        assert not any("h_n[" in label for _, data in charts_with(at, "layer") for label in data.layer)
    with tab_open(at, "Unrolled by hand"):  # the step's equations, not where torch keeps its state
        assert not [m.value for m in at.markdown if "output[" in m.value or "h_n[" in m.value]
    with tab_open(at, "Code & downloads"):
        assert not at.code and any("Answer the question above first" in i.value for i in at.info)
    wrong = next(option for option in question.options if option != answer)
    question.set_value(wrong).run()
    assert_clean(at)
    assert not at.radio  # answered: the question gives way to its verdict, and the picture keeps its place
    [line] = lesson_lines(at)
    assert line.startswith("**:red[:material/school: Not quite: it is ") and LESSONS[step][0] in line
    assert marked(at) and "guaranteed, hold" in shapes_line(at)
    at.run()
    assert lesson_lines(at) == [line]  # an answer stays given


def test_ask_mode_right_answer_and_the_question_follows_the_pictures_sequence():
    at = fresh_app(ask="true", preset="multi-bi").run()
    at.segmented_control(key="picture_sequence").set_value(2).run()
    [question] = at.radio
    assert unescape(question.label).startswith("For b=2 ('medium', 6 of T = 8 steps), which row of h_n")
    question.set_value("h_n[3]").run()
    [line] = lesson_lines(at)
    assert line.startswith("**:green[:material/check: Right: h\\_n\\[3\\].]**")
    assert badges(at) == core_badges(PRESETS["multi-bi"])


def test_unrolled_step_says_where_its_state_sits_and_steps_through_time():
    at = fresh_app(tab="Unrolled by hand", preset="single-bi").run()
    set_control(at, "hand_direction", "backward")
    assert_clean(at)
    assert any(m.value == "h_t is `output[0, 0, 5:10]` and `h_n[1, 0]`." for m in at.markdown)
    at.button[1].click().run()  # t+1
    assert at.number_input(key="hand_t").value == 1
    assert any(m.value == "h_t is `output[1, 0, 5:10]`." for m in at.markdown)
    at.button[0].click().run()  # t-1
    assert at.number_input(key="hand_t").value == 0


def test_a_link_opens_an_unrolled_step_and_names_picks_it_cannot_take():
    at = fresh_app(tab="Unrolled by hand", bidirectional="true", hand_t="6", hand_direction="backward").run()
    assert_clean(at)
    assert (at.number_input(key="hand_t").value, at.selectbox(key="hand_direction").value) == (6, "backward")
    at = fresh_app(tab="Unrolled by hand", hand_t="8", hand_direction="backward", ask="maybe").run()
    warning = unescape(at.warning[0].value)
    assert "hand_t=8: a whole number from 0 to 7" in warning
    assert "hand_direction=backward: one of forward" in warning and "ask=maybe" in warning
    assert at.number_input(key="hand_t").value == 0


# -----------------------------------------------------------------------------
# Beyond the seed: h_0, dropout, gradients, a trained model


def test_dropout_in_train_mode_shows_torchs_own_warning_and_its_relations():
    at = fresh_app(dropout="0.5", train_mode="true").run()  # one layer: dropout has nothing to act on
    assert_clean(at)
    warned = [w.value for w in at.warning if w.value.startswith("torch warned")]
    assert len(warned) == 1 and "dropout" in unescape(warned[0])
    config = Config(dropout=0.5, train_mode=True)
    assert badges(at) == core_badges(config)
    assert badges(at)["train-equals-eval"] == "green"
    at = fresh_app(dropout="0.5", train_mode="true", layers="2").run()
    shown = badges(at)
    assert shown["layer-0-h_n-unaffected-by-dropout"] == "green" and shown["train-equals-eval"] == "gray"


def test_carry_splits_the_run_and_the_page_says_what_cannot_run():
    at = fresh_app(h0="carry", split="3").run()
    assert_clean(at)
    assert badges(at) == core_badges(Config(h0="carry", split=3))
    at = fresh_app(h0="carry", split="5", packed="true").run()  # 'tiny' has 4 characters: an empty second chunk
    assert "pack_padded_sequence" in unescape(at.warning[0].value)


def test_h_0_shape_shows_torchs_own_error_for_a_batch_first_h_0():
    at = fresh_app(batch_first="true", h0="random").run()
    assert badges(at)["h_0-shape"] == "green"  # (the Relations tab open)
    codes = [c.value for c in at.code]
    assert "Expected hidden size (1, 3, 5), got [3, 1, 5]" in codes


def test_the_gradients_tab_draws_the_map_and_the_reach():
    at = fresh_app(tab="Gradients", packed="true").run()
    assert_clean(at)
    maps = charts_with(at, "map")
    reach = charts_with(at, "cell")
    assert len(maps) == 1 and len(reach) == 1
    assert set(reach[0][1].cell) == {"RNN", "LSTM", "GRU"}
    assert any("norm at s = 0 over the norm at the last step" in c.value for c in at.caption)


def test_a_detached_carry_draws_the_cut_on_the_gradients_map():
    at = fresh_app(tab="Gradients", h0="carry", split="3", detach="true").run()
    assert_clean(at)
    ((spec, rows),) = charts_with(at, "zero")
    rules = [layer for layer in spec["spec"]["layer"] if layer["mark"]["type"] == "rule"]
    assert len(rules) == 1 and "datum.t == 3" in json.dumps(rules[0])
    cut = rows[(rows.t >= 3) & (rows.s < 3)]
    assert len(cut) and (cut.norm == 0).all() and (cut.zero != "").all()  # gray: exactly 0
    assert any("reach no second-chunk state" in unescape(c.value) for c in at.caption)
    at = fresh_app(tab="Gradients", h0="carry", split="3").run()  # not detached: no rule, no such sentence
    ((spec, rows),) = charts_with(at, "zero")
    assert not [layer for layer in spec["spec"]["layer"] if layer["mark"]["type"] == "rule"]
    assert (rows[(rows.t >= 3) & (rows.s < 3)].norm > 0).all()
    assert not any("reach no second-chunk state" in unescape(c.value) for c in at.caption)


def test_the_dropout_masks_show_in_train_mode_with_dropout():
    at = fresh_app(layers="3", dropout="0.5", train_mode="true", bidirectional="true").run()
    assert_clean(at)
    (expander,) = [e for e in at.expander if e.label == "Dropout masks"]
    zeroed = masks(analyse(Config(layers=3, dropout=0.5, train_mode=True, bidirectional=True)).result)

    def assert_shows(b: int):  # unit →3 of layer l at step t: zeroed exactly where the core's mask says
        ((_, rows),) = charts_with(at, "mask")
        assert set(rows.layer) == {"layer 0's output, read by layer 1", "layer 1's output, read by layer 2"}
        assert len(rows) == 2 * 8 * 10  # every step and unit of the two dropped layers (T = 8, D*H = 10)
        shown = {(int(r.layer.split()[1][0]), r.t, "→←".index(r.unit[0]) * 5 + int(r.unit[1:])): r.mask
                 for r in rows.itertuples()}  # fmt: skip
        assert shown == {(layer, t, u): "zeroed" if bool(zeroed[layer][t, b, u]) else "kept (scaled by 1/(1-P))"
                         for layer in range(2) for t in range(8) for u in range(10)}  # fmt: skip

    assert_shows(0)
    assert any("not one mask for the whole sequence" in c.value for c in expander.caption)
    at.segmented_control(key="dropout_sequence").set_value(2).run()  # another sequence
    assert_shows(2)
    at = fresh_app(layers="3", dropout="0.5", train_mode="true", bidirectional="true", dropout_sequence="b=2").run()
    assert at.segmented_control(key="dropout_sequence").value == 2 and not at.warning
    assert_shows(2)
    open_tab(at, "Relations")  # closed, the Picture still draws the pick (hidden): its value and link survive
    assert at.segmented_control(key="dropout_sequence").value == 2
    assert not [e for e in fresh_app(layers="3", dropout="0.5").run().expander if e.label == "Dropout masks"]


def test_a_task_trains_with_progress_then_every_view_shows_the_trained_layer():
    at = fresh_app(tab="Trained units").run()
    assert any("Choose the task" in i.value for i in at.info)
    at.selectbox(key="task").set_value("brackets").run()  # sets its own batch and sizes
    assert_clean(at)
    assert (at.session_state["hidden"], at.session_state["embedding"]) == (16, 8)
    config = Config(sequences=("(a(b)c)ab", "((a)b)", "c(a)((b))("), hidden=16, embedding=8, task="brackets")
    assert any("probe of all units" in m.value for m in at.markdown)
    assert charts_with(at, "loss") and charts_with(at, "char") and charts_with(at, "r")
    assert badges(at) == core_badges(config)  # the guaranteed relations hold for a trained layer too
    assert "red" not in badges(at).values()


# -----------------------------------------------------------------------------
# Links that reopen the view, presenter mode, words for bad values


@pytest.mark.parametrize(
    ("params", "own"),
    [
        ({"preset": "multi-bi"}, {"preset": "multi-bi", "layers": "2", "bidirectional": "true"}),
        (
            {"cell": "lstm", "bidirectional": "True", "tab": "Batch"},
            {"cell": "LSTM", "bidirectional": "true", "tab": "Batch"},
        ),
        (
            {"layers": "03", "hand_t": "05", "tensor_sequence": "b=2", "zzz": "1"},
            {"layers": "3", "hand_t": "5", "tensor_sequence": "b=2"},
        ),
        ({"preset": "Custom", "seed": "1e99", "ask": "TRUE"}, {"ask": "true"}),
    ],
    ids=["preset", "respelled", "picks", "dropped"],
)
def test_a_link_opens_with_the_views_own_link_in_the_address_bar(params, own):
    """Every value off the default config (a preset's too), the preset, the tab and the picks, as the widgets write
    them; what was left out or is unknown is gone."""
    at = fresh_app(**params).run()
    assert_clean(at)
    assert dict(at.query_params) == own
    link = {key: value for key, value in own.items() if key in CONFIG_KEYS}
    assert link == link_params(Config(**{k: v for k, v in parse_link(own).config.as_dict().items()}))


def test_changing_a_control_after_a_preset_keeps_the_presets_values_in_the_link():
    """?preset=multi-bi, then a new seed: the view is Custom and its link still says two layers, two directions."""
    at = fresh_app(preset="multi-bi").run()
    set_control(at, "seed", 3)
    assert at.session_state["preset"] == "Custom"
    config = PRESETS["multi-bi"].replace(seed=3)
    assert parse_link(dict(at.query_params) | {"seed": "3"}).config == config  # the browser writes the seed itself
    assert {k: v for k, v in at.query_params.items() if k in CONFIG_KEYS} == {"layers": "2", "bidirectional": "true"}


def test_the_presenter_walks_the_lesson_path_with_next_and_back():
    at = fresh_app(present="true", ask="true").run()
    assert_clean(at)
    assert [b.label for b in at.button if "▶" in b.label or "◀" in b.label][:2] == ["◀ Back", "Next ▶"]
    assert at.session_state["tab"] == "Picture"
    seen = []
    for step, config in PATH.items():
        back, forward = (b for b in at.button if b.label in ("◀ Back", "Next ▶"))
        assert (back.disabled == (step == "single-uni") and not forward.disabled) or step == "carry-h_0"
        assert at.session_state["preset"] == (step if step in PRESETS else "Custom")
        assert at.session_state["layers"] == config.layers and at.session_state["packed"] == config.packed
        [question] = at.radio  # each step asks its own question
        assert ASKED[step][0] in unescape(question.label)
        seen.append(step)
        if step != "carry-h_0":
            forward.click().run()
            assert_clean(at)
    assert seen == list(PATH) and forward.disabled
    next(b for b in at.button if b.label == "◀ Back").click().run()
    assert at.session_state["cell"] == "LSTM"


def test_every_step_of_the_path_has_a_lesson():
    assert list(LESSONS) == list(PATH)
    for line, note in LESSONS.values():
        assert line.endswith(".") and note.startswith("**")


@pytest.mark.parametrize(
    ("key", "value", "allowed"),
    [
        ("hidden", 0, "1 to 256"),
        ("hidden", 10_000, "1 to 256"),
        ("layers", 7, "1 to 6"),
        ("seed", -1, "0 to 4294967295"),
    ],
)
def test_a_typed_value_out_of_range_says_what_is_allowed_in_words(key, value, allowed):
    at = fresh_app().run()
    set_control(at, key, value)
    assert not at.exception
    [error] = at.error
    assert f"{key} must be between {allowed.replace(' to ', ' and ')} (got {value})" in unescape(error.value)
    [caption] = [c for c in at.sidebar.caption if "out of range" in c.value]  # under the control
    assert unescape(caption.value) == f":red[{value} is out of range. Allowed: {allowed}.]"
    assert any("Showing the last valid configuration" in c.value for c in at.caption)
    assert badges(at) == core_badges(Config())  # the last good view, said in words
    set_control(at, key, CONFIG_DEFAULTS[key])
    assert_clean(at)
    assert not [c for c in at.sidebar.caption if "out of range" in c.value]


def test_link_warnings_are_sentences_one_a_line():
    at = fresh_app(h0="carry", split="50", packed="true", seed="1e99", proj="7").run()
    [warning] = at.warning
    lines = unescape(warning.value).split("\n")
    assert lines[0] == "This link had values that cannot be used here, so they were left out:"
    items = [line.removeprefix("- ") for line in lines if line.startswith("- ")]
    assert items == [
        "proj=7: proj is only for the LSTM cell, not RNN.",
        "seed=1e99: seed must be between 0 and 4294967295 (got 1e+99).",
        "h0=carry and split=50: split must be at least 1 and below T = 8, the longest sequence (got 50).",
    ]


def test_the_code_tab_puts_the_short_proof_above_the_full_script():
    at = fresh_app(tab="Code & downloads", preset="packed").run()
    proof, full = (c.value for c in at.code)
    assert full.startswith(SNIPPET_START) and "hv = h_n.view(1, 2, 3, 5)" in proof
    assert 10 <= len(proof.splitlines()) <= 20
    namespace = {}
    exec(compile(proof, "proof", "exec"), namespace)  # it runs as is
    torch.set_grad_enabled(True)  # the proof turned autograd off, for its exact numbers
    assert torch.equal(namespace["output"], analyse(PRESETS["packed"]).result.output)


@pytest.mark.parametrize(
    ("params", "config"),
    [
        ({"cell": "RNN"}, Config()),
        ({"cell": "LSTM", "proj": "2", "layers": "2"}, Config(cell="lstm", proj=2, layers=2)),
        ({"cell": "GRU", "bidirectional": "true"}, Config(cell="gru", bidirectional=True)),
    ],
)
def test_the_weights_tab_shows_every_parameter_its_gate_rows_and_the_count(params, config):
    """Against torch's own module of the config's sizes: names, shapes, the gates' rows in torch's order, the count."""
    at = fresh_app(tab="Weights", **params).run()
    assert_clean(at)
    kwargs = {"proj_size": config.proj} if config.proj else {}
    rnn = getattr(torch.nn, config.cell.upper())(config.embedding, config.hidden, config.layers,
                                                 bidirectional=config.bidirectional, **kwargs)  # fmt: skip
    named = [(name, str(list(w.shape))) for name, w in rnn.named_parameters()]
    (table,) = [d.value for d in at.dataframe if "rows by gate" in d.value.columns]
    assert list(zip(table["name"], table["shape"], strict=True)) == named
    count = sum(w.numel() for w in rnn.parameters())
    assert any(f"learns **{count:,}** numbers" in m.value for m in at.markdown)
    (chart,) = charts_with(at, "gate")
    rows = chart[1]
    gates = {"rnn": ["h"], "lstm": ["i", "f", "g", "o"], "gru": ["r", "z", "n"]}[config.cell]
    H = config.hidden
    for name, w in rnn.named_parameters():
        blocks = rows[rows.parameter == name]
        if name.startswith("weight_hr"):
            assert list(blocks.gate) == ["proj"] and list(blocks.stop) == [config.proj]
            continue
        assert list(blocks.gate) == gates, name
        assert list(zip(blocks.start, blocks.stop, strict=True)) == [(k * H, (k + 1) * H) for k in range(len(gates))]
        assert w.shape[0] == len(gates) * H
    forget = [d.value for d in at.dataframe if "forget bias" in d.value.columns]
    if config.cell == "lstm":  # the recipe's numbers: the run's own forget slices, and a forget bias of 1 after
        weights = analyse(config).result.weights
        (frame,) = forget
        assert list(frame["bias_ih_l0[f]"]) == weights["bias_ih_l0"][H : 2 * H].tolist()
        assert list(frame["bias_hh_l0[f]"]) == weights["bias_hh_l0"][H : 2 * H].tolist()
        assert list(frame["after"]) == [1.0] * H
        assert any("rnn.bias_ih_l0[H : 2 * H]" in c.value for c in at.code)
    else:
        assert forget == []
