"""docs/catalog.md is the catalog as the code has it: regenerate it with `python -m rnnviz.catalog_doc`."""

from pathlib import Path

from rnnviz.catalog_doc import catalog_markdown, kinds
from rnnviz.relations import CATALOG

DOC = Path(__file__).resolve().parent.parent / "docs" / "catalog.md"


def test_docs_catalog_is_the_code_catalog():
    assert DOC.read_text() == catalog_markdown(), "run: python -m rnnviz.catalog_doc > docs/catalog.md"


def test_every_entry_has_a_kind_and_a_docstring():
    found = kinds()
    for e in CATALOG:
        assert found[e.id], e.id  # the sweep reaches every relation
        assert e.doc.strip().endswith("."), e.id
