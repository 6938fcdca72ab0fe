"""examples/explain.ipynb runs top to bottom in a real Jupyter kernel: the classifier trains, explain renders its
picture and relations, the recipes show the classifier's indexing, and the padded batch's lessons name sequences."""

import json

import nbformat
import pytest
from conftest import ROOT
from nbclient import NotebookClient

NOTEBOOK = ROOT / "examples" / "explain.ipynb"


@pytest.fixture(scope="module")
def executed() -> nbformat.NotebookNode:
    """The notebook, executed where Jupyter runs it (its own folder), cell by cell; a failing cell fails here."""
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": NOTEBOOK.parent}}
    ).execute()
    return notebook


def outputs(notebook, source_start: str) -> list[dict]:
    """The outputs of the one code cell whose source starts so."""
    [cell] = [c for c in notebook.cells if c.cell_type == "code" and c.source.startswith(source_start)]
    return cell.outputs


def text(cell_outputs: list[dict], mime: str = "text/plain") -> str:
    """A cell's printed text and its result's data of one mime type, joined."""
    parts = [o.get("text", "") for o in cell_outputs if o.output_type == "stream"]
    parts += [o.data.get(mime, "") for o in cell_outputs if o.output_type == "execute_result"]
    return "".join(parts)


def test_the_stored_notebook_has_no_outputs():
    """Outputs are made by running it, never stored (a picture's HTML would hold a script loader)."""
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    assert all(
        not c.get("outputs") and c.get("execution_count") is None for c in notebook.cells if c.cell_type == "code"
    )


def test_the_classifier_trains_in_seconds(executed):
    printed = text(outputs(executed, "model = Classifier()"))
    seconds, accuracy = float(printed.split("trained in ")[1].split(" s")[0]), float(printed.split("accuracy ")[1])
    assert seconds < 60 and accuracy > 0.9, printed


def test_explain_renders_its_picture_and_a_line_per_relation(executed):
    [result] = [o for o in outputs(executed, "ids, lengths, labels = batch(6)") if o.output_type == "execute_result"]
    lines = result.data["text/plain"].splitlines()
    assert lines[0].startswith("LSTM, 2 layers, bidirectional, hidden 16, input 8; batch_first, packed")
    assert "✓ holds: stacked-is-layer-by-layer" in lines and "✓ holds: reference-recompute" in lines
    assert not any("contradiction" in line for line in lines)
    chart = json.dumps({mime: data for mime, data in result.data.items() if mime != "text/plain"})
    assert "datasets" in chart and "layer 1" in chart and "input" in chart  # the picture, its lanes
    assert all(line.split(": ")[1] in chart for line in lines[1:])  # each relation's line, under the picture


def test_the_recipes_show_the_classifiers_indexing(executed):
    recipes = outputs(executed, "explanation.recipes()")
    shown = text(recipes, "text/html")
    assert "torch.cat([h_n[-2], h_n[-1]], dim=1)" in shown and "pad_packed_sequence(output, batch_first=True)" in shown
    assert "lesson" in shown and "output[:, -1]" in shown
    assert "as the recipe says" in text(outputs(executed, "features = next("))


def test_the_padded_batch_has_lessons_with_sequences(executed):
    printed = text(outputs(executed, "padded = explain("))
    assert "h_n[-2]" in printed and "wrong for sequences [" in printed
