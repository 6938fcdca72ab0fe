"""docs/catalog.md, written from the relation catalog: `python -m rnnviz.catalog_doc > docs/catalog.md`.

Each entry's kind is found by asking it, over a sweep of configurations, whether it is guaranteed there; what it
claims and when it applies is its docstring; what it needs is its declared comparisons.
"""

import itertools

from rnnviz.cells import CELLS
from rnnviz.config import Config
from rnnviz.relations import CATALOG, Gradients, Sizes
from rnnviz.runs import COMPARISONS

EQUAL, UNEQUAL = ("abcd", "efgh"), ("abcd", "ef")  # every sequence T long; one shorter


def sweep() -> list[Config]:
    """Configs across every option a relation's kind depends on."""
    options = itertools.product(
        CELLS, (1, 2), (False, True), (False, True), (EQUAL, UNEQUAL), ("zeros", "random", "carry"), (0, 1)
    )
    configs = []
    for cell, layers, bidirectional, packed, sequences, h0, split in options:
        if (h0 == "carry") == bool(split):
            for train_mode, dropout in ((False, 0.0), (True, 0.5)):
                configs.append(
                    Config(sequences=sequences, cell=cell, layers=layers, bidirectional=bidirectional, packed=packed,
                           h0=h0, split=split, train_mode=train_mode, dropout=dropout)
                )  # fmt: skip
    for split in (1, 3):  # the second chunk one step long, and not
        configs.append(Config(sequences=EQUAL, bidirectional=True, h0="carry", split=split))
    configs.append(Config(sequences=EQUAL, h0="carry", split=1, detach=True))  # truncated backprop
    return configs


def kinds() -> dict[str, set[str]]:
    """Relation id -> the kinds it takes over the sweep (guaranteed, lesson)."""
    every = {c.name: Gradients(None, None, None, 1e-6) for c in COMPARISONS}  # each entry's needs present
    found = {e.id: set() for e in CATALOG}
    for config in sweep():
        lengths = tuple(len(seq) for seq in config.sequences)
        s = Sizes(config, config.layers, config.directions, len(lengths), config.state_size, max(lengths), lengths)
        for e in CATALOG:
            spec = e.spec(s, every)
            if spec is not None:
                found[e.id].add("guaranteed" if spec.guaranteed else "lesson")
    return found


def catalog_markdown() -> str:
    """The catalog as a markdown page: one row per relation, in the order the page shows them."""
    lines = [
        "# The relation catalog",
        "",
        "Written by `python -m rnnviz.catalog_doc > docs/catalog.md` from `rnnviz/relations.py`; "
        "`tests/test_catalog_doc.py` fails when the two disagree.",
        "",
        "Each relation is checked on the run's own tensors. **guaranteed**: PyTorch promises it (green when it "
        "holds, red would be a bug). **lesson**: a tempting claim PyTorch does not promise (gray when it fails, as "
        "it usually does; blue when it holds by coincidence). A relation with both kinds is guaranteed in some "
        "configurations and a lesson in others, as its claim says. **needs**: the other computations of the run it "
        "compares with (`rnnviz.runs.COMPARISONS`); it applies only where they are computed.",
        "",
        "| id | kind | needs | what it claims, and when it applies |",
        "|---|---|---|---|",
    ]
    found = kinds()
    for e in CATALOG:
        kind = " or ".join(k for k in ("guaranteed", "lesson") if k in found[e.id])
        needs = ", ".join(f"`{need}`" for need in e.needs) or "-"
        lines.append(f"| `{e.id}` | {kind} | {needs} | {' '.join(e.doc.split()).replace('<', '&lt;')} |")
    lines += [
        "",
        "## The comparisons",
        "",
        "Other computations of the same run; their tensors are named with the prefix: `whole_output`, `whole_h_n`.",
        "",
        "| name | what, and when it is computed | in the exported script |",
        "|---|---|---|",
    ]
    lines += [f"| `{c.name}` | {c.what} | {'yes' if c.code else 'no'} |" for c in COMPARISONS]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(catalog_markdown(), end="")
