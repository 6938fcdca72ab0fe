"""The comparisons registry: each catalog entry names what it needs, each comparison is needed, computed only
where it applies, and written into the exported script only where a relation uses it; rnnviz imports no circle."""

import ast
from pathlib import Path

import pytest

from rnnviz import Config, analyse
from rnnviz.relations import CATALOG
from rnnviz.runs import COMPARISONS, run
from rnnviz.snippet import make_snippet

PACKAGE = Path(__file__).resolve().parent.parent / "rnnviz"


def test_every_need_is_a_comparison_and_every_comparison_is_needed():
    names = [c.name for c in COMPARISONS]
    assert len(names) == len(set(names))
    needed = {need for e in CATALOG for need in e.needs}
    assert needed == set(names)


@pytest.mark.parametrize(
    ("config", "computed"),
    [
        (Config(), {"ref", "bias_split", "cell_loop"}),
        (
            Config(layers=2, bidirectional=True),
            {"ref", "by_layer", "by_direction", "mirror", "bias_split", "cell_loop"},
        ),
        (Config(h0="carry"), {"whole", "bias_split", "other_detach"}),
        (Config(layers=2, dropout=0.5, train_mode=True), {"eval", "by_layer", "bias_split", "dropout"}),
        (Config(dropout=0.5), {"ref", "eval", "bias_split", "cell_loop"}),
        (Config(cell="lstm", proj=2), {"ref", "gate", "bias_split", "forget"}),
        (Config(cell="gru"), {"ref", "bias_split", "cell_loop", "paper"}),
    ],
)
def test_only_the_comparisons_that_apply_are_computed_and_written(config, computed):
    analysis = analyse(config)
    used = {need for rel in analysis.relations for need in rel.needs}
    assert used == computed
    script = make_snippet(analysis.result, analysis.relations)
    for c in COMPARISONS:
        if c.code is not None:
            assert (c.code(analysis.result) in script) == (c.name in computed), c.name


def test_a_task_runs_its_training():
    config = Config(sequences=("(a)",), task="brackets", hidden=3, embedding=2, steps=2)
    assert run(config).training.steps == 2


def imports(path: Path) -> set[str]:
    """The rnnviz modules a module imports, anywhere in it: `from rnnviz import model` is rnnviz.model, `from rnnviz
    import Config` is rnnviz itself."""
    modules, found = {module_name(p) for p in PACKAGE.rglob("*.py")}, set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            named = {f"{node.module}.{alias.name}" for alias in node.names}
            found |= (named & modules) or {node.module}
    return found & modules


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_no_import_circles_in_rnnviz():
    graph = {module_name(p): imports(p) - {module_name(p)} for p in PACKAGE.rglob("*.py")}

    def reaches(start: str, goal: str, seen: set) -> bool:
        return any(n == goal or (n not in seen and not seen.add(n) and reaches(n, goal, seen)) for n in graph[start])

    circles = sorted(m for m in graph if reaches(m, m, set()))
    assert not circles, circles
