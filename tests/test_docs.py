"""docs/ against the code: every JSON key, command-line option, anatomy column, URL key and badge colour the code
has is on its page (and nothing the code lacks), the numbers the pages quote are the code's, the rnnviz names and
the tests they cite exist, and every relative link of docs/ and README.md resolves to a file of this repository."""

import argparse
import ast
import dataclasses
import importlib
import inspect
import json
import os
import re
from pathlib import Path
from unittest import mock

import pytest
from conftest import ROOT

from rnnviz import Config

DOCS = ROOT / "docs"
PAGES = sorted([ROOT / "README.md", *DOCS.glob("*.md")])
SCHEMES = ("http://", "https://", "mailto:")


def page(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


def without_code_blocks(markdown: str) -> str:
    """Markdown with its fenced code blocks blanked out (their lines kept, empty)."""
    lines, fenced = [], False
    for line in markdown.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            lines.append("")
        else:
            lines.append("" if fenced else line)
    return "\n".join(lines)


def tables(markdown: str, first: str) -> list[list[list[str]]]:
    """The tables whose header starts with the cell `first`: each a list of rows, each row a list of cells."""
    found, rows, header = [], None, None
    for line in [*without_code_blocks(markdown).splitlines(), ""]:
        if line.startswith("|"):
            cells = [cell.strip().replace("\\|", "|") for cell in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
            if rows is None:
                rows, header = [], cells
            elif not set("".join(cells)) <= set("-: "):
                rows.append(cells)
            continue
        if rows is not None and header[0] == first:
            found.append(rows)
        rows = None
    return found


def names(cell: str) -> list[str]:
    """The `code` spans of a cell, in order."""
    return re.findall(r"`([^`]+)`", cell)


def first_names(markdown: str, first: str) -> list[str]:
    """The names in the first cell of every row of the tables headed `first`, in order."""
    return [name for table in tables(markdown, first) for row in table for name in names(row[0])]


def row_of(markdown: str, first: str, name: str) -> str:
    """The whole row (cells joined) whose first cell names `name`."""
    rows = [" | ".join(row) for table in tables(markdown, first) for row in table if name in names(row[0])]
    assert len(rows) == 1, f"{name}: {len(rows)} rows in the tables headed {first!r}"
    return rows[0]


def assigned(path: Path, name: str) -> ast.expr:
    """The expression a module assigns to `name` at its top level, read without importing the module."""
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            return node.value
    raise LookupError(f"{path.name} assigns no {name}")


# -----------------------------------------------------------------------------
# json.md: every key of the report, run for real


def key_paths(value, prefix: str = ""):
    """(parent, key) of every key in a JSON value: `shapes.input` is ("shapes", "input"), entries of a list of
    objects are `relations[].id`."""
    if isinstance(value, dict):
        for key, child in value.items():
            yield prefix, key
            if f"{prefix}.{key}" != "compare.config":  # documented once, as `config`
                yield from key_paths(child, f"{prefix}.{key}" if prefix else key)
    elif isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
        for item in value:
            yield from key_paths(item, prefix + "[]")


def joined(parent: str, key: str) -> str:
    return f"{parent}.{key}" if parent else key


@pytest.fixture(scope="module")
def reports() -> list[dict]:
    """Reports of real runs, as report_json writes them: plain; with tensors, the gradients map and a comparison;
    a task's."""
    from rnnviz import analyse, analyse_with_gradients
    from rnnviz.compare import compare
    from rnnviz.report import report_json

    analysis, gradients = analyse_with_gradients(Config(sequences=("ab", "a"), cell="lstm"), True)
    task = analyse(Config(sequences=("(a)", "b)"), cell="gru", hidden=4, embedding=2, task="brackets", steps=3))
    side = compare(analysis.result, "packed=true")
    texts = [
        report_json(analysis.result, analysis.relations),
        report_json(analysis.result, analysis.relations, tensors=True, gradients=gradients.values, compare=side),
        report_json(task.result, task.relations, tensors=True),
    ]
    return [json.loads(text) for text in texts]


def test_every_key_of_the_json_report_is_in_json_md(reports):
    documented = first_names(page("json.md"), "key")
    actual = {joined(*path) for report in reports for path in key_paths(report)}
    assert sorted(actual - set(documented)) == [], "keys the report has that docs/json.md does not name"
    assert sorted(set(documented) - actual) == [], "keys docs/json.md names that no report has"
    assert len(documented) == len(set(documented)), "a key documented twice"


def test_json_md_lists_the_keys_in_the_reports_order(reports):
    """Each object's keys come in the order docs/json.md lists them (a key that does not apply is left out)."""
    documented = first_names(page("json.md"), "key")
    for report in reports:
        by_parent = {}
        for parent, key in key_paths(report):
            by_parent.setdefault(parent, []).append(key)
        for parent, keys in by_parent.items():
            order = [path for path in documented if path in {joined(parent, key) for key in keys}]
            assert order == list(dict.fromkeys(joined(parent, key) for key in keys)), parent or "the top level"


# -----------------------------------------------------------------------------
# cli.md: every option of the parser


class _Captured(Exception):
    pass


def cli_parser() -> argparse.ArgumentParser:
    """The command line's parser: rnnviz.__main__.parser() where there is one, else the one parse_args builds."""
    import rnnviz.__main__ as cli

    if callable(getattr(cli, "parser", None)):
        return cli.parser()
    captured = []

    def capture(self, *args, **kwargs):
        captured.append(self)
        raise _Captured

    with mock.patch.object(argparse.ArgumentParser, "parse_known_args", capture), pytest.raises(_Captured):
        cli.parse_args([])
    return captured[0]


def test_every_option_of_the_command_line_is_in_cli_md():
    options = {option for action in cli_parser()._actions for option in action.option_strings}
    documented = first_names(page("cli.md"), "option")
    assert sorted(options - set(documented)) == [], "options the parser has that docs/cli.md does not name"
    assert sorted(set(documented) - options) == [], "options docs/cli.md names that the parser does not have"
    assert len(documented) == len(set(documented)), "an option documented twice"


def test_cli_md_names_every_choice_of_an_option():
    markdown = page("cli.md")
    for action in cli_parser()._actions:
        for choice in action.choices or ():
            assert f"`{choice}`" in row_of(markdown, "option", action.option_strings[0]), (action.dest, choice)


def test_cli_md_has_the_three_exit_codes():
    assert [row[0] for table in tables(page("cli.md"), "exit") for row in table] == ["0", "1", "2"]


# -----------------------------------------------------------------------------
# links.md: the URL parameters are the widget keys


def picks() -> tuple[str, ...]:
    return ast.literal_eval(assigned(ROOT / "dashboard" / "by_hand.py", "PICKS"))


def kept_picks() -> list[str]:
    """streamlit_app.KEPT_PICKS, read without running the app (its *PICKS spelled out)."""
    keys = []
    for item in assigned(ROOT / "streamlit_app.py", "KEPT_PICKS").elts:
        keys.extend(picks() if isinstance(item, ast.Starred) else [ast.literal_eval(item)])
    return keys


def tab_labels() -> list[str]:
    return [ast.literal_eval(key) for key in assigned(ROOT / "streamlit_app.py", "SECTIONS").keys]


def bound_keys() -> set[str]:
    """The key of every widget the dashboard's code binds to the URL (`bind=`) with a key written out."""
    keys = set()
    for path in [ROOT / "streamlit_app.py", *sorted((ROOT / "dashboard").glob("*.py"))]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            keywords = {k.arg: k.value for k in node.keywords}
            bind, key = keywords.get("bind"), keywords.get("key")
            unbound = bind is None or (isinstance(bind, ast.Constant) and bind.value is None)
            if not unbound and isinstance(key, ast.Constant):
                keys.add(key.value)
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name == "number_ui" and len(node.args) >= 3 and isinstance(node.args[2], ast.Constant):
                keys.add(node.args[2].value)  # number_ui(container, label, key): binds key
    return keys


CONFIG_FIELDS = [field.name for field in dataclasses.fields(Config)]


def test_every_url_key_is_in_links_md():
    """Every Config field, the preset, the open tab, the ask toggle and the unrolled step's picks, and every key the
    dashboard's code binds: exactly the rows of the URL table."""
    expected = {*CONFIG_FIELDS, "preset", "tab", "ask", *picks(), *bound_keys()}
    documented = first_names(page("links.md"), "key")
    assert sorted(expected - set(documented)) == [], "URL keys docs/links.md does not name"
    assert sorted(set(documented) - expected) == [], "keys docs/links.md names that nothing binds to the URL"
    assert len(documented) == len(set(documented)), "a key documented twice"


def test_links_md_gives_each_config_keys_default_and_choices():
    from rnnviz.cells import CELLS
    from rnnviz.config import DEVICES, DTYPES, INITIAL_STATES, NONLINEARITIES, PRESETS, TASKS

    markdown = page("links.md")
    choices = {
        "cell": [cell.label for cell in CELLS.values()],
        "nonlinearity": NONLINEARITIES,
        "device": DEVICES,
        "dtype": DTYPES,
        "h0": INITIAL_STATES,
        "task": TASKS,
        "preset": [*PRESETS, "Custom"],
        "tab": tab_labels(),
    }
    for field in dataclasses.fields(Config):
        row = row_of(markdown, "key", field.name)
        default = field.default
        if isinstance(default, tuple):
            shown = list(default)
        elif isinstance(default, bool):
            shown, choices[field.name] = [str(default).lower()], ["true", "false"]
        else:
            shown = [CELLS[default].label if field.name == "cell" else str(default)]
        for value in shown:
            assert f"`{value}`" in row.rsplit("|", 1)[1], (field.name, value, "the default")
    for key, values in choices.items():
        for value in values:
            assert f"`{value}`" in row_of(markdown, "key", key), (key, value)


def test_links_md_names_the_picks_kept_while_their_tab_is_closed():
    markdown = page("links.md")
    for key in kept_picks():
        assert f"`{key}`" in markdown, key


def test_quoted_limits_are_the_codes():
    """`MAX_LAYERS` (6) on any page: the constant of that name has that value."""
    import rnnviz.config
    import rnnviz.gradients
    import rnnviz.model
    import rnnviz.relations
    import rnnviz.training

    modules = [rnnviz.config, rnnviz.gradients, rnnviz.model, rnnviz.relations, rnnviz.training]
    quoted = [
        (path.name, name, value)
        for path in PAGES
        for name, value in re.findall(r"`(MAX_[A-Z_]+)` \(([0-9][0-9.]*)\)", path.read_text(encoding="utf-8"))
    ]
    assert quoted, "no limit quoted at all"
    for where, name, value in quoted:
        owners = [m for m in modules if hasattr(m, name)]
        assert owners, f"{where} quotes {name}, which no core module defines"
        assert float(getattr(owners[0], name)) == float(value), (where, name, value)


# -----------------------------------------------------------------------------
# The badge colours: links.md's table is Relation.verdict and VERDICT_COLOURS


def test_the_badge_colour_table_is_the_verdict_rule():
    from rnnviz.relations import VERDICT_COLOURS, Relation

    rows = [row for table in tables(page("links.md"), "verdict") for row in table]
    assert sorted(names(row[0])[0] for row in rows) == sorted(VERDICT_COLOURS)
    seen = set()
    for row in rows:
        verdict, kind, holds, colour = (names(cell)[0] if names(cell) else cell for cell in row[:4])
        assert holds in ("true", "false"), row
        rel = Relation("x", kind, "", "", holds == "true", "exact", None, "")
        assert (rel.verdict, rel.colour) == (verdict, colour), row
        seen.add((kind, holds))
    assert seen == {(kind, holds) for kind in ("guaranteed", "lesson") for holds in ("true", "false")}


# -----------------------------------------------------------------------------
# anatomy.md: the columns of cells() and initial_states()


def test_anatomy_md_has_every_column_in_order():
    from rnnviz.anatomy import COLUMNS, INITIAL_COLUMNS

    found = [[name for row in table for name in names(row[0])] for table in tables(page("anatomy.md"), "column")]
    assert found == [list(COLUMNS), list(INITIAL_COLUMNS)]


def test_anatomy_md_names_every_source_of_an_initial_state():
    from rnnviz import run
    from rnnviz.anatomy import initial_states

    sources = set()
    for h0 in ("zeros", "random", "carry"):
        sources.update(initial_states(run(Config(h0=h0))).source)
    row = row_of(page("anatomy.md"), "column", "source")
    assert sources == {"zeros", "random", "carried"}
    for source in sources:
        assert f"`{source}`" in row, source


# -----------------------------------------------------------------------------
# reproducibility.md: the numbers it quotes


def test_reproducibility_md_quotes_the_tolerances_and_the_thread_count():
    from rnnviz.gradients import FD_TOLERANCE
    from rnnviz.model import THREADS
    from rnnviz.relations import CUDA_TOLERANCE, RECOMPUTE_TOLERANCE

    markdown = page("reproducibility.md")
    assert f"`THREADS = {THREADS}`" in markdown
    constants = {
        "RECOMPUTE_TOLERANCE": list(RECOMPUTE_TOLERANCE.values()),
        "CUDA_TOLERANCE": [CUDA_TOLERANCE],
        "FD_TOLERANCE": [FD_TOLERANCE],
    }
    for name, values in constants.items():
        lines = [line for line in markdown.splitlines() if f"`{name}`" in line]
        assert lines, name
        for line in lines:
            after = line.split(f"`{name}`", 1)[1]
            quoted = [float(x) for x in re.findall(r"\d+(?:\.\d+)?e-\d+", after)]
            assert quoted[: len(values)] == values, (name, line)
    for dtype in RECOMPUTE_TOLERANCE:
        assert f"{dtype} {RECOMPUTE_TOLERANCE[dtype]:.0e}".replace("e-0", "e-") in markdown, dtype


# -----------------------------------------------------------------------------
# Every page: the tests it cites exist, its relative links resolve inside the repository


def defined_tests(path: Path) -> set[str]:
    return {node.name for node in ast.parse(path.read_text(encoding="utf-8")).body if isinstance(node, ast.FunctionDef)}


@pytest.mark.parametrize("path", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_cited_tests_exist(path):
    missing = []
    for module, name in re.findall(r"tests/(test_\w+\.py)::(\w+)", path.read_text(encoding="utf-8")):
        source = ROOT / "tests" / module
        if not source.exists() or name not in defined_tests(source):
            missing.append(f"tests/{module}::{name}")
    assert not missing, "\n".join(missing)


def resolve(dotted: str):
    """The object a dotted name such as rnnviz.anatomy.cells names: the longest importable module, then attributes."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            found = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attribute in parts[cut:]:
            found = getattr(found, attribute)
        return found
    raise ModuleNotFoundError(dotted)


@pytest.mark.parametrize("path", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_named_code_exists(path):
    """Every `rnnviz.module.name` a page names exists; written as a call, it takes that many arguments."""
    wrong = []
    for dotted, args in re.findall(r"`(rnnviz(?:\.\w+)+)(\([^`)]*\))?", path.read_text(encoding="utf-8")):
        try:
            found = resolve(dotted)
        except (AttributeError, ModuleNotFoundError):
            wrong.append(f"{dotted}: no such thing")
            continue
        if args and callable(found):
            given = len([a for a in args[1:-1].split(",") if a.strip()])
            parameters = inspect.signature(found).parameters.values()
            required = [p for p in parameters if p.default is p.empty and p.kind is not p.VAR_KEYWORD]
            if not len(required) <= given <= len(parameters):
                wrong.append(f"{dotted}{args}: takes {len(required)} to {len(parameters)} arguments")
    assert not wrong, "\n".join(wrong)


def link_targets(markdown: str) -> list[str]:
    """The targets of a page's Markdown links and images, code left out."""
    prose = re.sub(r"`[^`\n]*`", "", without_code_blocks(markdown))
    return re.findall(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)", prose)


def slug(heading: str) -> str:
    """A heading's anchor as GitHub makes it."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower().replace("`", ""))
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    headings = re.findall(r"^#{1,6}\s+(.+?)\s*#*$", without_code_blocks(path.read_text(encoding="utf-8")), re.M)
    return {slug(h) for h in headings}


@pytest.mark.parametrize("path", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve_inside_the_repository(path):
    broken = []
    for target in link_targets(path.read_text(encoding="utf-8")):
        if target.startswith(SCHEMES):
            continue
        file, _, anchor = target.partition("#")
        resolved = (path.parent / file).resolve() if file else path
        if file.startswith("/") or not resolved.is_relative_to(ROOT):
            broken.append(f"{target}: outside the repository")
        elif not resolved.exists():
            broken.append(f"{target}: no such file")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            broken.append(f"{target}: no such heading")
    assert not broken, "\n".join(broken)


def test_the_index_lists_every_page():
    index = page("README.md")
    for path in DOCS.glob("*.md"):
        if path.name != "README.md":
            assert f"]({path.name})" in index, path.name


def test_nothing_in_the_repository_points_outside_it():
    """The contracts live in docs/: no file cites the design notes they began in, outside the repository."""
    outside = re.compile(r"\b" + "DESI" + r"GN\b|/work/" + "shared")  # the notes, and the folder they are in
    skipped = {".git", "__pycache__", ".hypothesis", ".pytest_cache", ".ruff_cache", ".venv", "venv", "node_modules"}
    found = []
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in skipped]
        for file in files:
            path = Path(folder) / file
            if path.suffix not in {".py", ".md", ".toml", ".txt", ".cfg", ".yml", ".yaml", ".css", ".sh", ""}:
                continue
            try:
                text = path.read_text(encoding="utf-8")
            except (UnicodeDecodeError, OSError):
                continue
            found.extend(f"{path.relative_to(ROOT)}: {match.group()}" for match in outside.finditer(text))
    assert not found, "\n".join(found)
