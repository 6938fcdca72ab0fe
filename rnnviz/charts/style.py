"""What every chart shares: type sizes that read on a shared screen, the colour scale, and named rows.

A chart names its rows (a DataFrame under the spec's "datasets", which Streamlit sends as Arrow), so altair's
process-wide data transformer (and its 5,000-row guard) is never involved: each chart caps its own size.
"""

import altair as alt
import pandas as pd

DATA = "cells"
FONT_PX = 14  # ticks and labels at least this big
AXIS = {"labelFontSize": FONT_PX, "titleFontSize": FONT_PX}
LEGEND = alt.Legend(orient="bottom", title=None, labelFontSize=FONT_PX, symbolSize=200, labelLimit=400, columns=4)
VALUES = alt.Scale(scheme="redblue", reverse=True, domainMid=0)


def with_rows(spec: dict, rows: list[dict]) -> dict:
    """The spec with its rows as the named dataset."""
    return {**spec, "datasets": {DATA: pd.DataFrame(rows)}}
