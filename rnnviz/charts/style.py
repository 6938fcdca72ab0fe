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
FONT_PX = 14  # ticks and labels at least this big
AXIS = {"labelFontSize": FONT_PX, "titleFontSize": FONT_PX}
LEGEND = alt.Legend(orient="bottom", title=None, labelFontSize=FONT_PX, symbolSize=200, labelLimit=400, columns=4)
VALUES = alt.Scale(scheme="redblue", reverse=True, domainMid=0)
LAYOUTS = 64  # layouts kept per chart function


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
    """The spec with its rows as the named dataset: a column for every key of any row, null where a row lacks it."""
    names = dict.fromkeys(key for row in rows for key in row)
    return {**spec, "datasets": {DATA: pa.table({name: [row.get(name) for row in rows] for name in names})}}
