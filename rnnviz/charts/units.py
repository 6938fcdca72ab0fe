"""A trained model's charts: the loss curve, held-out text coloured by its best unit, each unit's correlation with
the bracket depth, and the linear probe's depth next to the true one."""

import altair as alt

from rnnviz.charts.style import DATA, VALUES, axis, layout, legend, scale_legend, with_rows

LINE_PX = 30  # one line of coloured text
TEXTS_SHOWN = 6


def loss_chart(loss, floor: float | None = None) -> dict:
    """The training loss at each step; with floor, the generator's own loss drawn as a rule."""
    rows = [{"step": step, "loss": value} for step, value in enumerate(loss, start=1)]
    return with_rows(loss_layout(floor), rows)


@layout
def loss_layout(floor: float | None):
    """The loss chart without its rows."""
    base = alt.Chart(alt.NamedData(name=DATA))
    layers = [base.mark_line().encode(x=alt.X("step:Q", axis=axis()), y=alt.Y("loss:Q", axis=axis()))]
    if floor is not None:
        layers.append(base.mark_rule(strokeDash=[6, 4], color="gray").encode(y=alt.datum(floor)))
    return alt.layer(*layers).properties(width="container", height=220)


def coloured_text(texts, values, depths) -> dict:
    """The first held-out texts, each character coloured by the best unit's value there (depth in the tooltip)."""
    rows = [
        {"text": f"text {i}", "position": j, "char": char, "value": value, "depth": depth}
        for i, (text, unit, depth_row) in enumerate(zip(texts[:TEXTS_SHOWN], values, depths, strict=False))
        for j, (char, value, depth) in enumerate(zip(text, unit, depth_row, strict=True))
    ]
    return with_rows(text_layout(min(len(texts), TEXTS_SHOWN)), rows)


@layout
def text_layout(lines: int):
    """The coloured text without its rows, lines texts tall."""
    base = alt.Chart(alt.NamedData(name=DATA)).encode(
        x=alt.X("position:O", axis=None),
        y=alt.Y("text:N", title=None, axis=axis(labelOverlap=False)),
    )
    cells = base.mark_rect().encode(
        color=alt.Color("value:Q", scale=VALUES, legend=scale_legend("best unit")),
        tooltip=["char:N", alt.Tooltip("value:Q", format=".3f"), "depth:Q"],
    )
    chars = base.mark_text(fontSize=16, font="monospace").encode(text="char:N")
    return alt.layer(cells, chars).properties(width="container", height=alt.Step(LINE_PX))


def correlations_chart(correlations, best: int) -> dict:
    """Each unit's Pearson r with the depth, the best one marked."""
    rows = [{"unit": k, "r": r, "best": "best unit" if k == best else "other"} for k, r in enumerate(correlations)]
    return with_rows(correlations_layout(), rows)


@layout
def correlations_layout():
    """The correlations chart without its rows."""
    return (
        alt.Chart(alt.NamedData(name=DATA))
        .mark_bar()
        .encode(
            x=alt.X("unit:O", axis=axis(labelAngle=0)),
            y=alt.Y("r:Q", scale=alt.Scale(domain=[-1, 1]), title="r with depth", axis=axis()),
            color=alt.Color(
                "best:N",
                scale=alt.Scale(domain=["best unit", "other"], range=["#2f6fb0", "#a9c6e4"]),
                legend=legend(["best unit", "other"]),
            ),
            tooltip=["unit:O", alt.Tooltip("r:Q", format=".3f")],
        )
        .properties(width="container", height=220)
    )


def probe_chart(text: str, depths, predicted) -> dict:
    """One held-out text: the true depth and the linear probe's, character by character."""
    rows = [
        {"position": j, "char": char, "depth": float(value), "series": series}
        for series, values in (("true depth", depths), ("probe", predicted))
        for j, (char, value) in enumerate(zip(text, values, strict=True))
    ]
    return with_rows(probe_layout(), rows)


@layout
def probe_layout():
    """The probe chart without its rows."""
    return (
        alt.Chart(alt.NamedData(name=DATA))
        .mark_line(point=True)
        .encode(
            x=alt.X("position:O", title=None, axis=alt.Axis(labelExpr="''", ticks=False)),
            y=alt.Y("depth:Q", axis=axis()),
            color=alt.Color("series:N", legend=legend(["true depth", "probe"])),
            tooltip=["char:N", "series:N", alt.Tooltip("depth:Q", format=".2f")],
        )
        .properties(width="container", height=200)
    )
