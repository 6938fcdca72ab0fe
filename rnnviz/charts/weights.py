"""The parameters' gate rows: a bar per parameter, its rows in blocks coloured by the gate that owns them."""

import altair as alt

from rnnviz.charts.style import DATA, FONT_PX, INK, axis, layout, legend, with_rows

ROW_PX = 30  # one parameter's bar
GATE_COLOURS = {  # light enough for the ink-coloured gate names on them
    "i": "#a6cee3",
    "f": "#fdbf6f",
    "g": "#b2df8a",
    "o": "#cab2d6",
    "r": "#fb9a99",
    "z": "#8dd3c7",
    "n": "#ffed6f",
    "h": "#bebada",
    "proj": "#d9d9d9",
}


def gate_rows_chart(parameters) -> dict:
    """Every parameter's rows (rnnviz.weights.anatomy), a block per gate, in torch's order."""
    rows = [
        {"parameter": p.name, "gate": gate, "start": start, "stop": stop, "rows": f"{start}:{stop}"}
        for p in parameters
        for gate, start, stop in p.blocks
    ]
    gates = tuple(dict.fromkeys(row["gate"] for row in rows))
    return with_rows(gate_rows_layout(tuple(p.name for p in parameters), gates), rows)


@layout
def gate_rows_layout(names: tuple[str, ...], gates: tuple[str, ...]):
    """The chart without its rows: names top to bottom, the gates' colours in their order."""
    base = alt.Chart(alt.NamedData(name=DATA)).encode(
        y=alt.Y("parameter:N", sort=list(names), title=None, axis=axis(labelLimit=0)),
        tooltip=["parameter:N", "gate:N", "rows:N"],
    )
    blocks = base.mark_bar(stroke="white", strokeWidth=2).encode(
        x=alt.X("start:Q", title="row", scale=alt.Scale(nice=False), axis=axis(tickMinStep=1)),
        x2="stop:Q",
        color=alt.Color(
            "gate:N",
            scale=alt.Scale(domain=list(gates), range=[GATE_COLOURS[g] for g in gates]),
            legend=legend(gates),
        ),
    )
    labels = base.mark_text(fontSize=FONT_PX, color=INK).encode(x="middle:Q", text="gate:N")
    return (
        alt.layer(blocks, labels)
        .transform_calculate(middle="(datum.start + datum.stop) / 2")
        .properties(width="container", height=alt.Step(ROW_PX))
    )
