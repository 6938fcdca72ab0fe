"""Hardening: hostile, odd and out-of-range input to the core, the CLI and the dashboard.

Every valid input must run and give holds == expected for every relation; every invalid one
must be refused with a clear message (ConfigError, exit 2 with one line, or st.error), never a
traceback; user text must never be read as Markdown, HTML, badges or LaTeX; the same config must
give the same numbers everywhere; and the largest allowed config must finish in bounded time.
"""

import json
import os
import re
import string
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import streamlit.testing.v1.app_test as app_test_module
import torch
from apptest import BADGE, badges, each_tab, fresh_app, tab_open
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from streamlit.runtime.media_file_manager import MediaFileManager
from test_cli import cli

import rnnviz.controls
from dashboard.by_hand import PICKS
from rnnviz import Config, ConfigError, analyse
from rnnviz.config import (
    MAX_EMBEDDING,
    MAX_HIDDEN,
    MAX_LAYERS,
    MAX_LENGTH,
    MAX_SEED,
    MAX_SEQUENCES,
)
from rnnviz.controls import parse_sequences
from rnnviz.links import CONFIG_KEYS

ROOT = Path(__file__).resolve().parent.parent
SNIPPET_START = '"""Rebuild one rnnviz run'
NO_CUDA = not torch.cuda.is_available()
SEQUENCE_PICKS = ("picture_sequence", "tensor_sequence", "gradient_sequence")
BOUND_KEYS = ("preset", *CONFIG_KEYS, "tab", "ask", "present", *PICKS, *SEQUENCE_PICKS)  # every key bound to the URL
NUMBER_KEYS = ("layers", "hidden", "embedding", "proj", "seed")
DEFAULTS = {"layers": 1, "hidden": 5, "embedding": 5, "proj": 0, "seed": 0, "device": "auto", "cell": "RNN"}

# Odd but valid batches: each must run and give holds == expected everywhere.
ODD_VALID = {
    "one-character": ("a",),
    "control-characters": ("\x00", "\x1b[31m", "a\x7fb"),
    "right-to-left": ("שלום", "مرحبا", "ab\u202ecd"),
    "combining-marks": ("e\u0301", "\u0301", "a\u0308\u0323"),
    "outside-the-basic-plane": ("😀", "𝔘𝔫𝔦", "a\U0010fffdb", "👩‍👩‍👧"),
    "whitespace-around": (" a ", "\tb", "c\u00a0"),
    "zero-width": ("\u200b", "a\ufeffb"),
    "longest-line": ("x" * MAX_LENGTH,),
    "most-lines": tuple(chr(0x61 + i) for i in range(MAX_SEQUENCES)),
}

# Invalid batches: refused by Config with a ConfigError.
BAD_BATCHES = {
    "empty-batch": (),
    "blank-line": ("",),
    "blank-among-good": ("ab", "", "cd"),
    "only-spaces": ("   ",),
    "only-whitespace-kinds": (" \t\r\u3000\u2028",),
    "10000-character-line": ("x" * 10_000,),
    "5000-lines": ("ab",) * 5_000,
    "one-line-too-many": ("a",) * (MAX_SEQUENCES + 1),
    "one-character-too-long": ("x" * (MAX_LENGTH + 1),),
    "lone-surrogate": ("a\ud800b",),
}

# Invalid sizes and options: Config(**kwargs) raises ConfigError.
BAD_OPTIONS = {
    "layers-0": dict(layers=0),
    "layers-negative": dict(layers=-1),
    "layers-huge": dict(layers=10**30),
    "layers-text": dict(layers="2"),
    "layers-float": dict(layers=2.0),
    "layers-bool": dict(layers=True),
    "layers-none": dict(layers=None),
    "hidden-0": dict(hidden=0),
    "hidden-negative": dict(hidden=-5),
    "hidden-huge": dict(hidden=10**30),
    "hidden-nan": dict(hidden=float("nan")),
    "hidden-inf": dict(hidden=float("inf")),
    "embedding-0": dict(embedding=0),
    "embedding-huge": dict(embedding=10**30),
    "embedding-text": dict(embedding="five"),
    "seed-negative": dict(seed=-1),
    "seed-huge": dict(seed=10**30),
    "proj-negative": dict(cell="lstm", proj=-1),
    "proj-equals-hidden": dict(cell="lstm", hidden=5, proj=5),
    "proj-above-hidden": dict(cell="lstm", hidden=5, proj=6),
    "proj-with-gru": dict(cell="gru", proj=2),
    "proj-with-rnn": dict(cell="rnn", proj=2),
    "relu-with-lstm": dict(cell="lstm", nonlinearity="relu"),
    "relu-with-gru": dict(cell="gru", nonlinearity="relu"),
    "unknown-cell": dict(cell="transformer"),
    "upper-case-cell": dict(cell="LSTM"),
    "unknown-nonlinearity": dict(nonlinearity="sigmoid"),
    "unknown-device": dict(device="tpu"),
    "unknown-dtype": dict(dtype="float16"),
    "bidirectional-text": dict(bidirectional="yes"),
    "packed-int": dict(packed=1),
}

# One step above (or below) every limit.
ONE_STEP_OUT = {
    "sequences": dict(sequences=("a",) * (MAX_SEQUENCES + 1)),
    "length": dict(sequences=("x" * (MAX_LENGTH + 1),)),
    "layers-above": dict(layers=MAX_LAYERS + 1),
    "layers-below": dict(layers=0),
    "hidden-above": dict(hidden=MAX_HIDDEN + 1),
    "hidden-below": dict(hidden=0),
    "embedding-above": dict(embedding=MAX_EMBEDDING + 1),
    "embedding-below": dict(embedding=0),
    "proj-above": dict(cell="lstm", hidden=MAX_HIDDEN, proj=MAX_HIDDEN),
    "proj-below": dict(cell="lstm", hidden=MAX_HIDDEN, proj=-1),
    "seed-above": dict(seed=MAX_SEED + 1),
    "seed-below": dict(seed=-1),
}
LARGEST = dict(
    sequences=tuple(chr(0x41 + i) * MAX_LENGTH for i in range(MAX_SEQUENCES)),
    cell="lstm",
    layers=MAX_LAYERS,
    bidirectional=True,
    hidden=MAX_HIDDEN,
    embedding=MAX_EMBEDDING,
)

# Hostile lines: Markdown, HTML, badges, LaTeX, backticks, braces. Two batches of at most 16.
HOSTILE_A = (
    "**bold**",
    "# h",
    "[link](http://x)",
    "<b>x</b>",
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    ":red-badge[x]",
    "$x$",
    "$$\\frac12$$",
    "`tick`",
    "{braces}",
    "&amp; &lt;",
    "| a | b |",
    "~~strike~~",
    ":material/home: :smile:",
    "_under_ ![i](x)",
)
HOSTILE_B = (
    "- item",
    "1. one",
    "> quote",
    "```",
    "    indented",
    "___",
    "<!-- c -->",
    "'\"\\",
    "${x}",
    "a\u202eb<i>",
    "e\u0301*x*",
    "😀**",
    "\x00<b>",
    ":blue[x]",
    "===",
    "<a href=javascript:alert(1)>j</a>",
)


# -----------------------------------------------------------------------------
# Helpers: Markdown rendered literally, the page's Markdown sources, downloads, the CLI

INLINE_ACTIVE = set("\\`*_[]<>~:$&|")  # emphasis, code, links, HTML, strike, badges/emoji, LaTeX, entities, tables
LINE_START_ACTIVE = set("#+-=>")  # headings, lists, setext underlines, quotes
MARKDOWN_FIELDS = ("body", "label", "help")  # proto fields Streamlit renders as Markdown
NOT_MARKDOWN = ("code", "dataframe", "vega_lite_chart", "exception", "text_area", "download_button")
FENCED_CODE = re.compile(r"^(`{3,})[^`\n]*\n(?:.*?\n)??\1`*[ \t]*$", re.MULTILINE | re.DOTALL)  # simplified CommonMark


def rendered(md: str) -> list[tuple[str, bool]]:
    """Markdown as (character, is literal) pairs: backslash-escaped ASCII punctuation, or inside a fenced code block."""
    out, i = [], 0
    while i < len(md):
        if fence := FENCED_CODE.match(md, i):
            out += [(c, True) for c in fence.group(0)]
            i = fence.end()
        elif md[i] == "\\" and i + 1 < len(md) and md[i + 1] in string.punctuation:
            out.append((md[i + 1], True))
            i += 2
        else:
            out.append((md[i], False))
            i += 1
    return out


def literal(md: str) -> str:
    """The text a backslash-escaped Markdown string reads as."""
    return "".join(c for c, _ in rendered(md))


def markdown_problem(md: str, text: str) -> str | None:
    """Why text, where md shows it, would be read as Markdown (None: it renders literally, or is absent)."""
    if not set(text) & (INLINE_ACTIVE | LINE_START_ACTIVE | {"\n", "\r"}):
        return None  # nothing in it Markdown could act on
    chars = rendered(md)
    lit = "".join(c for c, _ in chars)
    start = lit.find(text)
    while start != -1:
        for j in range(start, start + len(text)):
            c, escaped = chars[j]
            line_start = j == 0 or lit[j - 1] in "\r\n"
            if c in "\r\n":
                return f"{text!r} breaks the line in {md!r}"
            if not escaped and (c in INLINE_ACTIVE or (line_start and c in LINE_START_ACTIVE)):
                return f"{text!r} is shown with an unescaped {c!r} in {md!r}"
        start = lit.find(text, start + 1)
    return None


@pytest.mark.parametrize(
    ("md", "shown_literally"),
    [
        ("a **b** c", False),
        ("a \\*\\*b\\*\\* c", True),
        ("x\n\n```python\n**b**\n```\n\ny", True),
        ("```python\nok\n```\n\n**b**", False),  # after the block: Markdown again
        ("```\n```\n**b**\n```", False),  # the second line closes the block: **b** is Markdown
    ],
)
def test_the_markdown_checker_knows_escapes_and_fenced_code(md, shown_literally):
    assert (markdown_problem(md, "**b**") is None) is shown_literally


def nodes(at):
    for root in (at.main, at.sidebar):
        yield from root


def markdown_sources(at):
    """(element type, field, text, is LaTeX) for every string the page renders as Markdown or LaTeX."""
    for node in nodes(at):
        proto = getattr(node, "proto", None)
        if node.type in NOT_MARKDOWN or not hasattr(proto, "ListFields"):
            continue
        for field, value in proto.ListFields():
            if field.name in MARKDOWN_FIELDS and isinstance(value, str):
                yield node.type, field.name, value, node.type == "latex"


def html_sources(at):
    """Every string the page renders as raw HTML (unsafe_allow_html, st.html)."""
    for node in nodes(at):
        proto = getattr(node, "proto", None)
        fields = {f.name: v for f, v in proto.ListFields()} if hasattr(proto, "ListFields") else {}
        if node.type == "html" or fields.get("allow_html") or fields.get("unsafe_allow_html"):
            yield str(fields.get("body", proto))


def assert_user_text_literal(at, texts):
    """In every tab, each user text is escaped wherever Markdown shows it, never in LaTeX, never in raw HTML."""
    problems = []
    for tab in each_tab(at):
        for kind, field, md, is_latex in markdown_sources(at):
            for text in texts:
                if is_latex:
                    if len(text) > 1 and text in md:
                        problems.append(f"{tab}: {text!r} inside LaTeX {md!r}")
                elif problem := markdown_problem(md, text):
                    problems.append(f"{tab}: {kind}.{field}: {problem}")
        for body in html_sources(at):
            problems += [f"{tab}: {text!r} in raw HTML {body!r}" for text in texts if text.strip() and text in body]
    assert not problems, "\n".join(problems)


def assert_no_traceback(at):
    assert not at.exception, [e.value for e in at.exception]
    shown = [md for *_, md, _ in markdown_sources(at)] + [c.value for c in at.code]
    assert not [s for s in shown if "Traceback (most recent call last)" in s]


def assert_only_relation_badges(at, config):
    """The badges are exactly the relations' (one each, their colour); no other text became a badge."""
    relations = analyse(config).relations
    assert badges(at) == {rel.id: rel.colour for rel in relations}  # (the Relations tab open)
    found = [m.group(0) for md in at.markdown for m in re.finditer(r":\w+-badge\[.*?\]", md.value)]
    assert [m.group(0) for m in map(BADGE.fullmatch, found) if m] == found  # each is a well-formed badge...
    assert len(found) == len(relations), found  # ...and there is one per relation, no more


def assert_normal_page(at):
    """Every tab runs without exception or error; the Relations tab (open at the end) has badges, none red."""
    for tab in each_tab(at):
        assert_no_traceback(at)
        assert not at.error, (tab, [e.value for e in at.error])
    shown = badges(at)
    assert shown, "no relation badges on the page"
    assert "red" not in shown.values(), shown


def sequences_shown(at) -> list[str]:
    """The sequences column of the Batch tab's table."""
    with tab_open(at, "Batch"):
        (frame,) = [d.value for d in at.dataframe if "sequence" in d.value.columns]
    return list(frame["sequence"])


SHARED = {}


def open_app(**query_params):
    """fresh_app(**query_params), run once.

    Each new AppTest rescans every installed package's metadata for custom components (about 70% of a
    fresh run here); the dashboard uses none, so every AppTest after the first reuses the first one's scan.
    """
    at = fresh_app(**query_params)
    if SHARED.get("components") is not None:  # a private attribute of AppTest (Streamlit 1.67); absent: no reuse
        at._bidi_component_manager = SHARED["components"]
    at.run()
    SHARED.setdefault("components", getattr(at, "_bidi_component_manager", None))
    return at


def snippet_of(at) -> str:
    """The snippet the Code tab shows."""
    with tab_open(at, "Code & downloads"):
        (code,) = [c.value for c in at.code if c.value.startswith(SNIPPET_START)]
    return code


class KeptMedia(MediaFileManager):
    """AppTest's media file manager, kept after the run so a download can be clicked and read."""

    last = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        KeptMedia.last = self


@pytest.fixture
def download(monkeypatch):
    """download(at, label) -> the bytes of that download button of the Code tab, as a click serves them."""
    monkeypatch.setattr(app_test_module, "MediaFileManager", KeptMedia)

    def get(at, label: str) -> bytes:
        with tab_open(at, "Code & downloads"):
            (button,) = [b for b in at.get("download_button") if b.label == label]
            proto, manager = button.proto, KeptMedia.last
            url = manager.execute_deferred(proto.deferred_file_id) if proto.deferred_file_id else proto.url
            return manager._storage.get_file(url.rsplit("/", 1)[-1]).content

    return get


def python(*args, timeout=120) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def assert_one_error_line(code, out, err):
    assert code == 2, (code, out, err)
    assert err.startswith("rnnviz: error: "), err
    assert err.endswith("\n") and err.count("\n") == 1, repr(err)
    assert "Traceback" not in err and not out, (out, err)


def twin_verdicts(config: Config) -> list[tuple[str, str]]:
    """Each relation's verdict on config with plain letters of the same lengths: odd characters change no verdict
    (a lesson may hold by coincidence there too: one step from zeros needs no forget gate, a GRU's two rows of h_n
    unpack as two names)."""
    letters = tuple("".join(string.ascii_lowercase[i % 26] for i in range(len(s))) for s in config.sequences)
    return [(r.id, r.verdict) for r in analyse(config.replace(sequences=letters)).relations]


def assert_relations_as_expected(relations, config: Config):
    """No contradiction, and each verdict is the one the same shapes get from plain letters."""
    assert not [r["id"] for r in relations if r["verdict"] == "contradiction"]
    assert [(r["id"], r["verdict"]) for r in relations] == twin_verdicts(config)


def config_argv(config: Config) -> list[str]:
    """The command line for config."""
    argv = ["--sequences", *config.sequences, "--cell", config.cell, "--nonlinearity", config.nonlinearity]
    for name in ("layers", "hidden", "embedding", "proj", "seed"):
        argv += [f"--{name}", str(getattr(config, name))]
    argv += ["--device", config.device, "--dtype", config.dtype]
    for name in ("bidirectional", "batch_first", "packed"):
        if getattr(config, name):
            argv.append("--" + name.replace("_", "-"))
    return argv


# -----------------------------------------------------------------------------
# Core: odd valid input runs as expected; invalid input is a ConfigError


@pytest.mark.timeout(60)
@pytest.mark.parametrize("sequences", ODD_VALID.values(), ids=ODD_VALID.keys())
def test_core_odd_valid_batch_runs_as_expected(sequences):
    for options in (dict(), dict(cell="lstm", bidirectional=True, packed=True, batch_first=True, proj=3)):
        config = Config(sequences=sequences, **options)
        result, _, relations = analyse(config)
        assert result.batch.sequences == sequences
        assert list(result.batch.lengths) == [len(s) for s in sequences]
        assert [(r.id, r.verdict) for r in relations] == twin_verdicts(config)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("sequences", BAD_BATCHES.values(), ids=BAD_BATCHES.keys())
def test_core_bad_batch_is_a_config_error(sequences):
    with pytest.raises(ConfigError) as error:
        Config(sequences=sequences)
    assert "\n" not in str(error.value) and str(error.value).strip()


@pytest.mark.timeout(60)
@pytest.mark.parametrize("options", BAD_OPTIONS.values(), ids=BAD_OPTIONS.keys())
def test_core_bad_option_is_a_config_error(options):
    with pytest.raises(ConfigError) as error:
        Config(**options)
    assert "\n" not in str(error.value) and str(error.value).strip()


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "text",
    ["", "\n", "\n\n\n", "\r\n", "  \n\t\n", " ", "\u3000"],
    ids=["empty", "newline", "newlines", "crlf", "whitespace-lines", "space", "ideographic-space"],
)
def test_core_text_with_no_visible_sequence_is_refused(text):
    with pytest.raises(ConfigError):
        Config(sequences=parse_sequences(text))


@pytest.mark.timeout(60)
@pytest.mark.skipif(not NO_CUDA, reason="this machine has CUDA")
def test_core_cuda_without_a_gpu_is_a_config_error():
    with pytest.raises(ConfigError, match="cuda"):
        analyse(Config(device="cuda"))


# -----------------------------------------------------------------------------
# Resource bounds


@pytest.mark.timeout(60)
@pytest.mark.parametrize("options", ONE_STEP_OUT.values(), ids=ONE_STEP_OUT.keys())
def test_one_step_outside_a_limit_is_refused(options):
    with pytest.raises(ConfigError):
        Config(**options)


@pytest.mark.timeout(60)
def test_every_limit_itself_is_allowed():
    Config(**LARGEST)
    Config(**LARGEST, proj=MAX_HIDDEN - 1, seed=MAX_SEED, dtype="float64", packed=True)
    Config(sequences=("a",), layers=1, hidden=1, embedding=1, seed=0)


@pytest.mark.timeout(180)
def test_largest_allowed_config_runs_in_bounded_time():
    wall, cpu = time.perf_counter(), time.process_time()
    result, _, relations = analyse(Config(**LARGEST))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    # About 3 s of CPU on this 2-core machine; wall time also counts whatever else the machine runs.
    assert cpu < 60 and wall < 120, f"the largest allowed config took {cpu:.1f} s of CPU, {wall:.1f} s in all"
    assert list(result.output.shape) == [MAX_LENGTH, MAX_SEQUENCES, 2 * MAX_HIDDEN]
    assert [(r.id, r.holds) for r in relations] == [(r.id, r.expected) for r in relations]


# -----------------------------------------------------------------------------
# CLI: exit 0 with holds == expected, or exit 2 with one line on stderr


@pytest.mark.timeout(60)
@pytest.mark.parametrize("sequences", ODD_VALID.values(), ids=ODD_VALID.keys())
def test_cli_odd_valid_batch_exits_0_as_expected(sequences, capsys):
    code, out, err = cli(["--sequences", *sequences, "--json"], capsys)
    assert code == 0, (out, err)
    report = json.loads(out)
    assert report["config"]["sequences"] == list(sequences)
    assert_relations_as_expected(report["relations"], Config(sequences=sequences))


CLI_BAD = {
    "no-sequence-after-option": ["--sequences"],
    "empty-sequence": ["--sequences", ""],
    "whitespace-sequence": ["--sequences", " \t "],
    "blank-among-good": ["--sequences", "ab", "", "cd"],
    "10000-character-line": ["--sequences", "x" * 10_000],
    "5000-lines": ["--sequences", *["ab"] * 5_000],
    "lone-surrogate": ["--sequences", "a\ud800"],
    "layers-0": ["--layers", "0"],
    "layers-negative": ["--layers", "-1"],
    "layers-huge": ["--layers", str(10**30)],
    "layers-expression": ["--layers", "10**30"],
    "layers-text": ["--layers", "abc"],
    "layers-empty": ["--layers", ""],
    "layers-float": ["--layers", "2.0"],
    "layers-newline": ["--layers", "1\n2"],
    "hidden-0": ["--hidden", "0"],
    "hidden-huge": ["--hidden", str(10**30)],
    "embedding-negative": ["--embedding", "-5"],
    "seed-negative": ["--seed", "-1"],
    "seed-too-big": ["--seed", str(MAX_SEED + 1)],
    "proj-equals-hidden": ["--cell", "lstm", "--proj", "5"],
    "proj-above-hidden": ["--cell", "lstm", "--hidden", "3", "--proj", "4"],
    "proj-with-gru": ["--cell", "gru", "--proj", "2"],
    "relu-with-lstm": ["--cell", "lstm", "--nonlinearity", "relu"],
    "relu-with-gru": ["--cell", "gru", "--nonlinearity", "relu"],
    "cell-with-newline": ["--cell", "a\nb"],
    "unknown-device": ["--device", "tpu"],
    "unknown-dtype": ["--dtype", "float16"],
    "unknown-preset": ["--preset", "nope"],
    "unknown-option": ["--bogus"],
    "tensors-without-json": ["--tensors"],
}
if NO_CUDA:
    CLI_BAD["cuda-without-gpu"] = ["--device", "cuda"]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("argv", CLI_BAD.values(), ids=CLI_BAD.keys())
def test_cli_bad_input_exits_2_with_one_line(argv, capsys):
    assert_one_error_line(*cli(argv, capsys))


@pytest.mark.timeout(180)
def test_cli_subprocess_bad_input_exits_2_with_one_line():
    done = python("-m", "rnnviz", "--layers", "-1")
    assert_one_error_line(done.returncode, done.stdout, done.stderr)


@pytest.mark.timeout(180)
def test_cli_subprocess_odd_text_exits_0_as_expected():
    sequences = ["שלום\u202e", "😀e\u0301", "\x1b[31m", "x" * MAX_LENGTH]
    done = python("-m", "rnnviz", "--sequences", *sequences, "--cell", "gru", "--bidirectional", "--packed", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["config"]["sequences"] == sequences
    assert_relations_as_expected(report["relations"], Config(sequences=tuple(sequences), cell="gru", bidirectional=True,
                                                             packed=True))  # fmt: skip


# -----------------------------------------------------------------------------
# Dashboard: bad input is an st.error, odd input a normal page, and the page recovers

DASH_BAD_TEXT = {
    "empty": "",
    "newlines-only": "\n\n\n",
    "whitespace-only": "   \n\t\n\u3000",
    "one-blank-line-of-spaces": "ab\n   \ncd",
    "10000-character-line": "x" * 10_000,
    "5000-lines": "\n".join(["ab"] * 5_000),
    "one-line-too-many": "\n".join("a" * (MAX_SEQUENCES + 1)),
    "one-character-too-long": "x" * (MAX_LENGTH + 1),
}
GOOD_TEXT = "ab\ncde"


@pytest.mark.timeout(300)
def test_dashboard_bad_text_shows_an_error_and_recovers():
    at = open_app()
    assert_normal_page(at)
    for name, text in DASH_BAD_TEXT.items():
        at.text_area(key="sequences").set_value(text).run()
        assert_no_traceback(at)
        with pytest.raises(ConfigError) as error:
            Config(sequences=parse_sequences(text))
        assert [literal(e.value) for e in at.error] == [str(error.value)], name
        assert any("last valid configuration" in c.value for c in at.caption), name
        at.text_area(key="sequences").set_value(GOOD_TEXT).run()
        assert_normal_page(at)
        assert sequences_shown(at) == GOOD_TEXT.split("\n"), name


@pytest.mark.timeout(300)
def test_dashboard_odd_valid_text_renders_a_normal_page():
    at = open_app()
    for name, sequences in ODD_VALID.items():
        at.text_area(key="sequences").set_value("\n".join(sequences)).run()
        assert_normal_page(at)
        assert sequences_shown(at) == list(sequences), name
        assert_only_relation_badges(at, Config(sequences=sequences))


@pytest.mark.timeout(300)
def test_dashboard_conflicting_controls_show_an_error_and_recover():
    """proj >= hidden is an error until fixed; options the cell does not have are disabled, at their defaults, and
    never conflict."""
    at = open_app()

    def expect_error(**options):
        assert_no_traceback(at)
        with pytest.raises(ConfigError) as error:
            Config(**options)
        assert [literal(e.value) for e in at.error] == [str(error.value)]

    at.selectbox(key="nonlinearity").set_value("relu").run()
    at.selectbox(key="cell").set_value("LSTM").run()
    assert_normal_page(at)  # relu waits in the disabled control
    at.number_input(key="proj").set_value(5).run()
    expect_error(cell="lstm", proj=5)  # proj == hidden
    at.number_input(key="hidden").set_value(4).run()
    expect_error(cell="lstm", hidden=4, proj=5)  # proj > hidden
    at.number_input(key="proj").set_value(2).run()
    assert_normal_page(at)
    assert "c_n-shape" in badges(at)
    at.selectbox(key="cell").set_value("RNN").run()
    assert_normal_page(at)  # proj and relu went back to their defaults while their controls were off
    assert (at.session_state["proj"], at.session_state["nonlinearity"]) == (0, "tanh")
    assert_only_relation_badges(at, Config(hidden=4))


@pytest.mark.timeout(300)
def test_dashboard_numbers_out_of_range_are_said_and_by_hand_follows_a_shrinking_config():
    for tab_while_shrinking in ("Unrolled by hand", "Relations"):
        at = open_app(layers="3", bidirectional="true", tab="Unrolled by hand")
        assert at.number_input(key="hand_layer").value == 2  # the top layer first: the one output shows
        # The unrolled-by-hand pickers at their largest, then the config shrinks under them: each pick moves to
        # the nearest one that still exists (not back to 0), whether or not the tab was open meanwhile.
        at.number_input(key="hand_t").set_value(at.number_input(key="hand_t").max)
        at.number_input(key="hand_layer").set_value(2)
        at.selectbox(key="hand_direction").set_value("backward")
        at.number_input(key="hand_sequence").set_value(2).run()
        assert_no_traceback(at)
        assert at.latex
        with tab_open(at, tab_while_shrinking):
            at.text_area(key="sequences").set_value("abcde\nxy").run()  # T 8 -> 5, B 3 -> 2, L 3 -> 2, D 2 -> 1
            at.number_input(key="layers").set_value(2)
            at.toggle(key="bidirectional").set_value(False).run()
            assert_no_traceback(at)
        with tab_open(at, "Unrolled by hand"):
            assert_no_traceback(at)
            picks = [at.number_input(key=k).value for k in ("hand_t", "hand_layer", "hand_sequence")]
            picks.append(at.selectbox(key="hand_direction").value)
            assert picks == [4, 1, 1, "forward"], tab_while_shrinking
        assert_normal_page(at)
    # A value outside a control's range is refused in words, under the control and at the top; the view stays.
    bounds = {"layers": (1, MAX_LAYERS), "hidden": (1, MAX_HIDDEN), "seed": (0, MAX_SEED)}
    for key, value in (("layers", -1), ("layers", MAX_LAYERS + 1), ("hidden", 10_000), ("seed", MAX_SEED + 1)):
        low, high = bounds[key]
        allowed = f"{low} to {high}"
        at.number_input(key=key).set_value(value).run()
        assert_no_traceback(at)
        assert [literal(e.value) for e in at.error] == [f"{key} must be between {low} and {high} (got {value})."]
        assert any(f"Allowed: {allowed}." in c.value for c in at.sidebar.caption), (key, value)
        at.number_input(key=key).set_value({"layers": 2, "hidden": 5, "seed": 0}[key]).run()
        assert_normal_page(at)


BIG_HEATMAPS = {
    "16-lines-of-64": dict(sequences="\n".join(chr(0x41 + i) * MAX_LENGTH for i in range(MAX_SEQUENCES))),
    "8-lines-of-64-bidirectional": dict(
        sequences="\n".join(chr(0x41 + i) * MAX_LENGTH for i in range(8)), bidirectional="true"
    ),
    "one-line-hidden-79": dict(sequences="x" * MAX_LENGTH, hidden="79"),
}


@pytest.mark.timeout(120)
@pytest.mark.parametrize("params", BIG_HEATMAPS.values(), ids=BIG_HEATMAPS.keys())
def test_dashboard_large_valid_config_renders(params):
    at = open_app(**params)
    assert_normal_page(at)


URL_IGNORED = {
    "layers-negative": dict(layers="-1"),
    "layers-0": dict(layers="0"),
    "layers-above": dict(layers=str(MAX_LAYERS + 1)),
    "layers-huge": dict(layers=str(10**30)),
    "layers-expression": dict(layers="10**30"),
    "layers-text": dict(layers="abc"),
    "layers-empty": dict(layers=""),
    "hidden-0": dict(hidden="0"),
    "hidden-above": dict(hidden=str(MAX_HIDDEN + 1)),
    "hidden-exponent": dict(hidden="1e3"),
    "hidden-nan": dict(hidden="nan"),
    "embedding-negative": dict(embedding="-5"),
    "proj-negative": dict(proj="-1"),
    "proj-above": dict(proj=str(MAX_HIDDEN)),
    "seed-negative": dict(seed="-1"),
    "seed-above": dict(seed=str(MAX_SEED + 1)),
    "cell-unknown": dict(cell="Transformer"),
    "nonlinearity-unknown": dict(nonlinearity="sigmoid"),
    "dtype-unknown": dict(dtype="float16"),
    "device-unknown": dict(device="tpu"),
    "preset-unknown": dict(preset="nope"),
    "bidirectional-not-a-bool": dict(bidirectional="maybe"),
    "packed-not-a-bool": dict(packed="2"),
    "tab-unknown": dict(tab="Secrets"),
    "tab-lower-case": dict(tab="batch"),
}
if NO_CUDA:
    URL_IGNORED["device-cuda-without-gpu"] = dict(device="cuda")


@pytest.mark.timeout(120)
@pytest.mark.parametrize("params", URL_IGNORED.values(), ids=URL_IGNORED.keys())
def test_url_value_the_controls_cannot_take_is_named_and_the_page_renders(params):
    at = open_app(**params)
    (key, value), *_ = params.items()
    assert len(at.warning) == 1, [w.value for w in at.warning]  # on the link's first run only
    assert f"{key}={value}" in literal(at.warning[0].value)
    if key in DEFAULTS:
        assert at.session_state[key] == DEFAULTS[key]
    assert_normal_page(at)


URL_INFINITE = {
    "layers-inf": dict(layers="inf"),
    "hidden-minus-inf": dict(hidden="-inf"),
    "seed-Infinity": dict(seed="Infinity"),
    "embedding-1e400": dict(embedding="1e400"),
    "proj-400-digits": dict(proj="9" * 400),
}


@pytest.mark.timeout(120)
@pytest.mark.parametrize("params", URL_INFINITE.values(), ids=URL_INFINITE.keys())
def test_url_infinite_number_is_named_and_the_page_renders(params):
    at = open_app(**params)
    (key, value), *_ = params.items()
    assert f"{key}={value if len(value) <= 80 else value[:79] + '…'}" in literal(at.warning[0].value)
    assert_normal_page(at)


URL_APPLIED = {
    "leading-zero": dict(layers="02"),
    "plus-sign": dict(layers="+2"),
    "fullwidth-digit": dict(layers="\uff12"),
    "underscore": dict(seed="1_0"),
    "float-form": dict(layers="2.0"),
    "capitalised-bool": dict(bidirectional="True"),
    "cell-as-the-command-line-says-it": dict(cell="lstm"),
    "custom-preset-with-a-control": dict(preset="Custom", layers="2"),
}


@pytest.mark.timeout(120)
@pytest.mark.parametrize("params", URL_APPLIED.values(), ids=URL_APPLIED.keys())
def test_url_value_that_was_applied_is_not_called_ignored(params):
    at = open_app(**params)
    named = [w.value for w in at.warning]
    assert not named, f"warning says defaults were used, but the state is {dict(at.session_state)}: {named}"
    assert_normal_page(at)


# -----------------------------------------------------------------------------
# Hostile text is shown literally, never as Markdown, HTML, badges or LaTeX


@pytest.mark.timeout(300)
def test_hostile_sequences_are_shown_literally_and_exported_exactly(download, tmp_path):
    at = open_app()
    for n, batch in enumerate((HOSTILE_A, HOSTILE_B)):
        text = "\n".join(batch)
        assert parse_sequences(text) == batch
        at.text_area(key="sequences").set_value(text).run()
        assert_normal_page(at)
        assert_user_text_literal(at, batch)
        assert_only_relation_badges(at, Config(sequences=batch))
        # Shown in a non-Markdown element: the batch table; the by-hand picker takes b (0 to B-1).
        assert sequences_shown(at) == list(batch)
        with tab_open(at, "Unrolled by hand"):
            assert at.number_input(key="hand_sequence").max == len(batch) - 1
        # The report and the snippet carry the text exactly.
        report = json.loads(download(at, "report .json"))
        assert report["config"]["sequences"] == list(batch)
        snippet = snippet_of(at)
        compile(snippet, "rnnviz_snippet.py", "exec")
        path = tmp_path / f"snippet_{n}.py"
        path.write_text(snippet, encoding="utf-8")
        runner = textwrap.dedent(
            """
            import json, runpy, sys
            g = runpy.run_path(sys.argv[1], run_name="__main__")
            print("RESULT " + json.dumps({"sequences": g["sequences"], "output": g["output"].tolist(),
                                          "h_n": g["h_n"].tolist()}))
            """
        )
        done = python("-c", runner, str(path))
        assert done.returncode == 0, done.stderr[-3000:]
        got = json.loads(done.stdout.rsplit("RESULT ", 1)[1])
        assert got["sequences"] == list(batch)
        assert got["output"] == report["tensors"]["output"]
        assert got["h_n"] == report["tensors"]["h_n"]


URL_HOSTILE = dict(
    layers="**bold**",
    hidden="<script>alert(1)</script>",
    seed=":red-badge[x]",
    embedding="$$\\frac12$$",
    preset="[link](http://x)",
    cell="`x` {y}",
    dtype="<img src=x onerror=alert(1)>",
    proj="$x$",
    nonlinearity="# h",
    tab="<b>Relations</b>",
    device="~~s~~ &amp; | a |",
    zzz="<b>unknown key</b>",
)


@pytest.mark.timeout(120)
def test_hostile_url_values_are_named_literally():
    at = open_app(**URL_HOSTILE)
    texts = [*URL_HOSTILE.values(), *(f"{k}={v}" for k, v in URL_HOSTILE.items())]
    for kind, field, md, _ in markdown_sources(at):  # the warning shows on the link's first run only
        problems = [markdown_problem(md, text) for text in texts]
        assert not any(problems), (kind, field, problems)
    (warning,) = at.warning
    shown = literal(warning.value)
    for key, value in URL_HOSTILE.items():
        assert (f"{key}={value}" in shown) == (key in BOUND_KEYS), key
    assert_normal_page(at)
    assert_only_relation_badges(at, Config())
    assert_user_text_literal(at, texts)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("value", ["5\n===", "x\n\n    indented code"], ids=["setext-heading", "code-block"])
def test_url_value_with_a_line_break_is_named_literally(value):
    at = open_app(hidden=value)
    problems = [markdown_problem(md, text) for *_, md, _ in markdown_sources(at) for text in (value, f"hidden={value}")]
    assert at.warning and not any(problems), problems  # the warning, on the link's first run
    assert_normal_page(at)
    assert_user_text_literal(at, [value, f"hidden={value}"])


# -----------------------------------------------------------------------------
# Reproducibility: the same URL gives the same numbers, bit for bit, everywhere

REPRO_URLS = {
    "lstm-bi-packed": dict(
        sequences="héllo\nw😀rld\n\u202ez",
        cell="LSTM",
        layers="2",
        bidirectional="true",
        packed="true",
        hidden="4",
        embedding="3",
        proj="2",
        seed="7",
    ),
    "gru-batch-first-float64": dict(
        sequences="a\x7fb\n:red-badge[x]", cell="GRU", batch_first="true", dtype="float64", seed="123", hidden="6"
    ),
}


@pytest.mark.timeout(300)
@pytest.mark.parametrize("url", REPRO_URLS.values(), ids=REPRO_URLS.keys())
def test_same_url_gives_the_same_numbers_everywhere(url, download):
    reports = []
    for _ in range(2):  # two independent sessions, caches cleared between them
        at = open_app(**url)
        assert not at.warning, [w.value for w in at.warning]
        assert_normal_page(at)
        reports.append(json.loads(download(at, "report .json")))
    first, second = reports
    assert first == second
    config = Config(**{**first["config"], "sequences": tuple(first["config"]["sequences"])})
    assert config.sequences == parse_sequences(url["sequences"])
    # The core, in this process.
    result = analyse(config).result
    dtype = getattr(torch, config.dtype)
    for name in ("output", "h_n", "c_n"):
        tensor = getattr(result, name)
        if tensor is None:
            assert first["tensors"][name] is None
        else:
            assert torch.equal(torch.tensor(first["tensors"][name], dtype=dtype), tensor), name
    # A fresh process: python -m rnnviz --json --tensors with the same config.
    done = python("-m", "rnnviz", *config_argv(config), "--json", "--tensors")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == first


# -----------------------------------------------------------------------------
# Property tests

ANY_CHARACTER = st.characters(exclude_categories=())  # all of Unicode, surrogates included
SURROGATE = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF, exclude_categories=())
LINE = st.text(st.one_of(ANY_CHARACTER, SURROGATE, st.sampled_from(" \t\r\x00\x1b\x7f\u202e\u0301")), max_size=70)
TEXTS = st.one_of(
    st.text(ANY_CHARACTER),
    st.lists(st.one_of(LINE, st.sampled_from(HOSTILE_A + HOSTILE_B)), max_size=MAX_SEQUENCES + 2).map("\n".join),
)


def browser_text(text: str) -> str:
    """What a browser's text area could hold: surrogate pairs joined, lone surrogates replaced."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


@pytest.mark.timeout(600)
def test_property_any_text_gives_an_error_or_a_normal_page(monkeypatch):
    """Any str as the sequences: the page shows the ConfigError or a normal page, never an exception.

    A text area (and AppTest's protobuf widget state) cannot hold a lone surrogate, so such text is put
    in the text area as a browser would send it, and the exact str is handed to the app where it reads
    the text area (parse_sequences), so the app's own handling of surrogates is exercised too.
    """
    exact = {}
    original = rnnviz.controls.parse_sequences
    monkeypatch.setattr(rnnviz.controls, "parse_sequences", lambda text: original(exact.get(text, text)))
    at = open_app(hidden="2", embedding="2")
    assert_normal_page(at)

    @settings(
        max_examples=300,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(text=TEXTS)
    def check(text):
        shown = browser_text(text)
        exact.clear()
        if shown != text:
            exact[shown] = text
        at.text_area(key="sequences").set_value(shown).run()
        assert_no_traceback(at)
        try:
            config = Config(sequences=original(text), hidden=2, embedding=2)
        except ConfigError as error:
            assert [literal(e.value) for e in at.error] == [str(error)]
        else:
            assert_normal_page(at)
            assert sequences_shown(at) == list(config.sequences)

    check()


def infinite_number(params: dict) -> bool:
    """The known crash (see test_url_infinite_number_is_named_and_the_page_renders)."""
    for key in NUMBER_KEYS:
        try:
            if abs(float(params.get(key, "0"))) == float("inf"):
                return True
        except ValueError:
            pass
    return False


URL_TEXT = st.characters(codec="utf-8")  # a URL carries no lone surrogates
URL_VALUES = st.one_of(
    st.text(URL_TEXT, max_size=30),
    st.sampled_from(
        [
            *("", "-1", "0", "1", "2", "3", "7", "257", "true", "false", "True", "RNN", "LSTM", "GRU", "relu"),
            *("tanh", "cpu", "auto", "cuda", "float64", "Custom", "multi-bi", "single-bi", "1e3", "nan", " 2"),
            *("02", "ab\ncd", "Batch", "output & h_n", "Unrolled by hand", "Code & downloads", "Gradients"),
            *("Picture", "forward", "backward", "b=0", "b=2", "b=9", *HOSTILE_A),
        ]
    ),
    st.integers(-3, 12).map(str),
)
URL_KEYS = st.one_of(
    st.sampled_from(BOUND_KEYS),
    st.sampled_from(["embed", "embed_options", "page", "hand_t", "tensor_sequence", "last_good", "ignored_link"]),
    st.text(URL_TEXT, min_size=1, max_size=12),
)
URL_PARAMS = st.dictionaries(URL_KEYS, URL_VALUES, max_size=8)


@pytest.mark.timeout(600)
def test_property_any_url_gives_a_page_without_exception():
    @settings(
        max_examples=300,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )
    @given(params=URL_PARAMS)
    def check(params):
        assume(not infinite_number(params))
        at = open_app(**params)
        assert_no_traceback(at)
        assert at.subheader, "the page did not render"
        if at.error:
            assert len(at.error) == 1
        else:
            assert_normal_page(at)

    check()
