"""The unrolled run: every state of every layer and direction over time, and which of them output and h_n hold.

Time runs across, layers are stacked (the top layer on top), each direction is a lane read the way it runs
(→ forward, ← backward), the input characters sit below. The cells output holds are filled dark, h_n's are
outlined and named (h_n[3]), padding steps are shaded and steps a packed run never ran are left empty. All of
it comes from the anatomy (positions), never from equal values. Hover a cell for its vector and where it sits.
"""

import altair as alt

from rnnviz.anatomy import cells, initial_states, output_index
from rnnviz.charts.style import DATA, FONT_PX, INK, LARGE_FONT_PX, axis, layout, with_rows
from rnnviz.tables import ARROWS

ROW_PX = 30  # the height of one lane
NAME_EM, TOKEN_EM = 3.2, 3.1  # "h_n[0]" in bold, "<pad>": their width in em, with a margin; each shrinks to its cell
ROLES = (
    "output holds it",
    "output holds it: a <pad> step",
    "a lower layer (not in output)",
    "a lower layer: a <pad> step",
    "never run (packed)",
)
ROLE_COLOURS = ("#2f6fb0", "#93b3d8", "#c3d5ea", "#e8eef5", "#ffffff")
H_0_COLOUR = "#f2c14e"
H_0 = "h_0 (random, drawn after building)"  # the state a run starts from, drawn beside the step that reads it
HIDDEN_ROLES = ("a state", "a state: a <pad> step", ROLES[4])  # before the reveal: nothing says which is output
HIDDEN_COLOURS = ("#9db7d5", "#dfe7f1", "#ffffff")
MAX_UNITS_SHOWN = 8  # of a vector, in the tooltip


def lane(b: int, layer: int, direction: int) -> str:
    """A lane's label: b=0 · layer 1 ←."""
    return f"b={b} · layer {layer} {ARROWS[direction]}"


def input_lane(result, b: int) -> str:
    """The input row's label: b=0 · input 'tiny' (cut)."""
    text = result.batch.sequences[b]
    return f"b={b} · input {text[:12]}{'…' if len(text) > 12 else ''}"


def lanes(result, sequences) -> list[str]:
    """Every row, top to bottom: per sequence, the top layer first, then the input."""
    c = result.config
    rows = []
    for b in sequences:
        rows += [lane(b, layer, d) for layer in reversed(range(c.layers)) for d in range(c.directions)]
        rows.append(input_lane(result, b))
    return rows


def vector_text(vector: list[float]) -> str:
    """A state's numbers, cut after MAX_UNITS_SHOWN."""
    shown = ", ".join(f"{x:.3f}" for x in vector[:MAX_UNITS_SHOWN])
    return f"[{shown}{', …' if len(vector) > MAX_UNITS_SHOWN else ''}]"


def diagram_rows(result, layer_outputs, sequences, reveal: bool = True) -> list[dict]:
    """One row per state of the chosen sequences, and one per input character; layer_outputs is
    model.layer_by_layer(result). With reveal False, nothing says where output's and h_n's numbers are."""
    c = result.config
    H, T, lstm = c.state_size, result.batch.max_length, result.c_n is not None
    states = [out.tolist() for out in layer_outputs]  # (T, B, D*H) each, as lists: far quicker to index
    frame = cells(result)
    rows = []
    for cell in frame[frame.sequence.isin(sequences)].itertuples():
        b, t, layer, d = int(cell.sequence), int(cell.t), int(cell.layer), int(cell.direction)
        if not cell.computed:
            role = ROLES[4]
        elif reveal:
            role = ROLES[(0 if layer == c.layers - 1 else 2) + bool(cell.padding)]
        else:
            role = HIDDEN_ROLES[bool(cell.padding)]
        k = int(cell.h_n_row)
        h_n = f"h_n[{k}]" + (f" c_n[{k}]" if lstm else "") if k >= 0 else ""
        rows.append(
            {
                "lane": lane(b, layer, d),
                "t": t,
                "sequence": b,
                "layer": layer,
                "direction": d,
                "role": role,
                "h_n": h_n if reveal else "",
                "token": cell.token,
                "where": f"layer {layer} {('forward', 'backward')[d]}, t = {t}, b = {b}",
                "output": (output_index(c, t, b, d) if cell.in_output else "not in output") if reveal else "?",
                "in h_n": (f"h_n[{k}, {b}]" if k >= 0 else "not in h_n") if reveal else "?",
                "vector": vector_text(states[layer][t][b][d * H : (d + 1) * H]) if cell.computed else "",
            }
        )
        if layer == 0 and d == 0 and cell.t == 0:
            rows += initial_rows(result, b)
        if layer == 0 and d == 0:
            token = cell.token if T <= 24 or not cell.padding else "·"  # room for <pad> in a short run only
            rows.append({"lane": input_lane(result, b), "t": t, "sequence": b, "role": "input", "token": token})
    return rows


def initial_rows(result, b: int) -> list[dict]:
    """A random h_0 as cells of its own, one step before the step that reads it (after it, going backward)."""
    if result.h_0 is None or result.config.h0 != "random":
        return []
    first = initial_states(result).query(f"sequence == {b} and chunk == 0")
    return [
        {
            "lane": lane(b, int(r.layer), int(r.direction)),
            "t": int(r.before_t) + (1 if r.direction else -1),
            "sequence": b,
            "layer": int(r.layer),
            "direction": int(r.direction),
            "role": H_0,
            "h_n": "",
            "where": f"h_0 of layer {r.layer} {('forward', 'backward')[r.direction]}, read first at t = {r.before_t}",
            "output": "not in output",
            "in h_n": f"h_0[{r.h_0_row}, {b}]",
            "vector": vector_text(result.h_0[int(r.h_0_row), b].tolist()),
        }
        for r in first.itertuples()
    ]


def diagram(result, layer_outputs, sequences, reveal: bool = True, large: bool = False) -> dict:
    """The Vega-Lite spec of the unrolled run for the chosen sequences (click a cell: selection 'cell'); large:
    presenter mode's type. Its colours' legend, (role, colour) pairs, is the spec's usermeta "legend": the page
    draws it under the chart, where it wraps at any width."""
    rows = diagram_rows(result, layer_outputs, sequences, reveal)
    roles, colours = (ROLES, ROLE_COLOURS) if reveal else (HIDDEN_ROLES, HIDDEN_COLOURS)
    roles, colours = (*roles, H_0), (*colours, H_0_COLOUR)
    present = {row["role"] for row in rows}
    legend = tuple((role, colour) for role, colour in zip(roles, colours, strict=True) if role in present)
    order = tuple(lanes(result, sequences))
    font = LARGE_FONT_PX if large else FONT_PX
    names = 2 if result.c_n is not None else 1  # lines of a cell's name: h_n[k], and c_n[k] under it
    spec = with_rows(diagram_layout(result.batch.max_length, order, legend, reveal, font, names), rows)
    return {**spec, "usermeta": {"legend": [list(pair) for pair in legend]}}


@layout
def diagram_layout(T: int, order: tuple[str, ...], shown: tuple[tuple[str, str], ...], reveal: bool, font: int,
                   names: int):  # fmt: skip
    """The diagram without its rows: T steps, the lanes top to bottom, the (role, colour) pairs drawn, type at font
    px, a cell's name in names lines. A lane is a fixed step tall, so the axis and the legend never squeeze it."""
    row = ROW_PX + 10 * (names - 1)  # two lines of names need the room
    base = alt.Chart(alt.NamedData(name=DATA)).encode(
        x=alt.X(
            "t:O",
            title=None,
            axis=axis(
                font,
                orient="top",
                labelAngle=0,
                ticks=False,
                domain=False,
                labelExpr=f"datum.value < 0 || datum.value >= {T} ? 'h_0' : 't=' + datum.label",
            ),
        ),
        y=alt.Y(
            "lane:N", sort=list(order), title=None, axis=axis(font, labelLimit=0, labelOverlap=False, labelFlush=False)
        ),
    )
    states = base.transform_filter("datum.role != 'input'")
    pick = alt.selection_point(name="cell", fields=["sequence", "layer", "direction", "t"], on="click")
    role = alt.Color("role:N", scale=alt.Scale(domain=[r for r, _ in shown], range=[c for _, c in shown]), legend=None)
    tooltip = ["where:N", "token:N", "output:N", "in h_n:N", "vector:N"]
    layers = [states.mark_rect(stroke="#9aa5b1", strokeWidth=1).encode(color=role, tooltip=tooltip).add_params(pick)]
    if reveal:
        marked = states.transform_filter("datum.h_n != ''")
        layers.append(marked.mark_rect(filled=False, stroke="black", strokeWidth=3))
        if T <= 24:  # room for the names: one a line (h_n[2], then c_n[2]), as large as the cell lets them be
            size = f"min({font}, {row / (1.2 * names + 0.4):.1f}, bandwidth('x') / {NAME_EM})"
            name = marked.mark_text(
                fontSize=alt.ExprRef(size),
                lineHeight=alt.ExprRef(f"1.15 * {size}"),
                dy=alt.ExprRef(f"-{0.575 * (names - 1)} * {size}"),  # the lines centred on the cell, not the first
                fontWeight="bold",
                color="black",
                lineBreak=" ",
            )
            layers.append(name.encode(text="h_n:N"))
    tokens = base.transform_filter("datum.role == 'input'")
    token = alt.ExprRef(f"min({font}, bandwidth('x') / {TOKEN_EM})")
    layers.append(tokens.mark_text(fontSize=token).encode(text="token:N", color=alt.value(INK)))
    return alt.layer(*layers).properties(width="container", height=alt.Step(row))
