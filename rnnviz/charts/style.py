"""What every chart shares: type sizes that read on a shared screen, the colour scale, and named rows.

A chart names its rows (an Arrow table under the spec's "datasets", which Streamlit sends as it is), so altair's
process-wide data transformer (and its 5,000-row guard) is never involved: each chart caps its own size. Its
layout (everything but the rows) is built by a function of a few hashable values, once per distinct values: altair
takes 15-60 ms to build a spec, and a new seed changes the rows only.
"""

import functools
import json

import altair as alt
import pyarrow as pa

DATA = "cells"
FONT_PX = 16  # ticks and labels at least this big
LARGE_FONT_PX = 18  # presenter mode: a projector across a room
INK = "#31333f"  # the page's own text colour: labels as dark as the words around them
CHAR_EM = 0.5  # a label's character, in em, at most (estimates of a label's width)
FIT_WIDTH = {"type": "fit-x", "contains": "padding"}  # the container's width; the height the plot's and its axes'
VALUES = alt.Scale(scheme="redblue", reverse=True, domainMid=0)
LAYOUTS = 64  # layouts kept per chart function


def axis(font: int = FONT_PX, **options) -> alt.Axis:
    """An axis with labels and title in the page's ink at font px."""
    return alt.Axis(labelFontSize=font, titleFontSize=font, labelColor=INK, titleColor=INK, **options)


def legend(labels, font: int = FONT_PX, **options) -> alt.Legend:
    """A legend under the chart for these labels, as many entries a row as the plot's width holds whole (the rest
    wrap to the next row)."""
    entry = round((CHAR_EM * max(map(len, labels)) + 3) * font)  # a swatch, the longest label, the gap after it
    return alt.Legend(
        orient="bottom", title=None, labelFontSize=font, labelColor=INK, symbolSize=12 * font, labelLimit=0,
        columns=alt.ExprRef(f"max(1, floor(width / {entry}))"), columnPadding=font, **options,
    )  # fmt: skip


def scale_legend(title: str, **options) -> alt.Legend:
    """A colour scale's legend: a horizontal bar under the chart, its title at its left."""
    options = {"orient": "bottom", "gradientLength": 200, **options}
    return alt.Legend(
        direction="horizontal", title=title, titleOrient="left", labelFontSize=FONT_PX, titleFontSize=FONT_PX,
        labelColor=INK, titleColor=INK, **options,
    )  # fmt: skip


def layout(build):
    """Decorate build (hashable values -> an altair chart without rows): it returns the chart's Vega-Lite dict,
    built once per distinct values and a fresh copy for every caller."""

    @functools.lru_cache(maxsize=LAYOUTS)
    def as_json(*values) -> str:
        return json.dumps(build(*values).to_dict())

    @functools.wraps(build)
    def fresh(*values) -> dict:
        return json.loads(as_json(*values))

    fresh.cache_info = as_json.cache_info
    return fresh


def with_rows(spec: dict, rows: list[dict]) -> dict:
    """The spec with its rows as the named dataset: a column for every key of any row, null where a row lacks it. A
    chart as wide as its container keeps its plot's height: axes and legends are added to it, never taken from it."""
    names = dict.fromkeys(key for row in rows for key in row)
    fit = {"autosize": FIT_WIDTH} if spec.get("width") == "container" else {}
    return {**spec, **fit, "datasets": {DATA: pa.table({name: [row.get(name) for row in rows] for name in names})}}
