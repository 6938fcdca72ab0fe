"""The unrolled run: every state of every layer and direction over time, and which of them output and h_n hold.

Time runs across, layers are stacked (the top layer on top), each direction is a lane read the way it runs
(→ forward, ← backward), the input characters sit below; an LSTM's cell state c_t has a lane of its own under its
h lane. The cells output holds are filled dark, h_n's (and c_n's) are outlined and named (h_n[3]), padding steps
are shaded and steps a packed run never ran are left empty; a random h_0 sits beside the step that reads it, named
by its row, and a carry's split is a dashed line. All of it comes from the anatomy (positions), never from equal
values. Hover a cell for its vector and where it sits.
"""

import altair as alt

from rnnviz.anatomy import cells, initial_states, output_index
from rnnviz.charts.style import DATA, FONT_PX, INK, LARGE_FONT_PX, axis, layout, with_rows
from rnnviz.recompute import recomputable
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
H_0 = "h_0: random, drawn after building"  # the state a run starts from, beside the step that reads it
H_0_AND_C_0 = "h_0 and c_0: random, drawn after building"  # an LSTM's
HIDDEN_ROLES = ("a state", "a state: a <pad> step", ROLES[4])  # before the reveal: nothing says which is output
HIDDEN_COLOURS = ("#9db7d5", "#dfe7f1", "#ffffff")
CELL_STATE, CELL_STATE_COLOUR = "an LSTM's cell state c_t (kept inside: c_n is its last)", "#e4d3ee"
SPLIT, SPLIT_COLOUR = "the split: the first chunk's h_n is the second chunk's h_0 (dashed line)", "#c0392b"
MAX_UNITS_SHOWN = 8  # of a vector, in the tooltip
DIRECTIONS = ("forward", "backward")


def lane(b: int, layer: int, direction: int, state: str = "") -> str:
    """A lane's label: b=0 · layer 1 ←; an LSTM's cell state lane: b=0 · layer 1 ← c_t."""
    return f"b={b} · layer {layer} {ARROWS[direction]}" + (f" {state}" if state else "")


def input_lane(result, b: int) -> str:
    """The input row's label: b=0 · input 'tiny' (cut)."""
    text = result.batch.sequences[b]
    return f"b={b} · input {text[:12]}{'…' if len(text) > 12 else ''}"


def lanes(result, sequences) -> list[str]:
    """Every row, top to bottom: per sequence, the top layer first (an LSTM's c_t under each h), then the input."""
    c = result.config
    kinds = ("", "c_t") if result.c_n is not None else ("",)
    per_sequence = [(layer, d, k) for layer in reversed(range(c.layers)) for d in range(c.directions) for k in kinds]
    rows = []
    for b in sequences:
        rows += [lane(b, layer, d, k) for layer, d, k in per_sequence]
        rows.append(input_lane(result, b))
    return rows


def vector_text(vector: list[float]) -> str:
    """A state's numbers, cut after MAX_UNITS_SHOWN."""
    shown = ", ".join(f"{x:.3f}" for x in vector[:MAX_UNITS_SHOWN])
    return f"[{shown}{', …' if len(vector) > MAX_UNITS_SHOWN else ''}]"


def diagram_rows(result, layer_outputs, sequences, reveal: bool = True, layer_cells=None) -> list[dict]:
    """One row per state of the chosen sequences (an LSTM's c_t too), and one per input character; layer_outputs is
    model.layer_by_layer(result), layer_cells the hand recomputation's (rnnviz.recompute.Reference.layer_cells) or
    None. With reveal False, nothing says where output's and h_n's numbers are."""
    c = result.config
    H, T = c.state_size, result.batch.max_length
    states = [out.tolist() for out in layer_outputs]  # (T, B, D*H) each, as lists: far quicker to index
    frame = cells(result)
    frame = frame[frame.sequence.isin(sequences)]
    rows = []
    for cell in frame.itertuples():
        b, t, layer, d = int(cell.sequence), int(cell.t), int(cell.layer), int(cell.direction)
        if not cell.computed:
            role = ROLES[4]
        elif reveal:
            role = ROLES[(0 if layer == c.layers - 1 else 2) + bool(cell.padding)]
        else:
            role = HIDDEN_ROLES[bool(cell.padding)]
        k = int(cell.h_n_row)
        name = f"h_n[{k}]" if k >= 0 and reveal else ""
        rows.append(
            {
                "lane": lane(b, layer, d),
                "t": t,
                "sequence": b,
                "layer": layer,
                "direction": d,
                "role": role,
                "h_n": name,
                "name": name,
                "token": cell.token,
                "where": f"layer {layer} {DIRECTIONS[d]}, t = {t}, b = {b}",
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
    if result.c_n is not None:
        rows += cell_state_rows(result, frame, reveal, layer_cells)
    return rows


def cell_state_rows(result, frame, reveal: bool, layer_cells) -> list[dict]:
    """An LSTM's cell state c_t, a cell per state in frame (the anatomy's rows); c_n's cells are outlined and named.
    torch returns only c_n: a step's numbers are the hand recomputation's (layer_cells) where it is this run's,
    else only c_n's are shown."""
    hidden, exact = result.config.hidden, layer_cells is not None and recomputable(result.config)
    values = [cs.tolist() for cs in layer_cells] if exact else None  # (T, B, D*hidden) each
    source = "recomputed by hand" if exact else "torch returns only c_n"
    rows = []
    for cell in frame.itertuples():
        b, t, layer, d, k = (int(v) for v in (cell.sequence, cell.t, cell.layer, cell.direction, cell.h_n_row))
        name = f"c_n[{k}]" if k >= 0 and reveal else ""
        if k >= 0:
            vector = vector_text(result.c_n[k, b].tolist())
        elif exact and cell.computed:
            vector = vector_text(values[layer][t][b][d * hidden : (d + 1) * hidden])
        else:
            vector = ""
        rows.append(
            {
                "lane": lane(b, layer, d, "c_t"),
                "t": t,
                "sequence": b,
                "layer": layer,
                "direction": d,
                "role": CELL_STATE if cell.computed else ROLES[4],
                "h_n": name,
                "name": name,
                "where": f"c_t of layer {layer} {DIRECTIONS[d]}, t = {t}, b = {b} ({source})",
                "output": "never in output" if reveal else "?",
                "in h_n": (f"c_n[{k}, {b}]" if k >= 0 else "not in c_n") if reveal else "?",
                "vector": vector,
            }
        )
    return rows


def initial_rows(result, b: int) -> list[dict]:
    """A random h_0 (and an LSTM's c_0) as cells of their own, named by their row, one step before the step that
    reads them (after it, going backward)."""
    if result.h_0 is None or result.config.h0 != "random":
        return []
    first = initial_states(result).query(f"sequence == {b} and chunk == 0")
    kinds = [("h_0", "", result.h_0)] + ([("c_0", "c_t", result.c_0)] if result.c_0 is not None else [])
    return [
        {
            "lane": lane(b, int(r.layer), int(r.direction), kind),
            "t": int(r.before_t) + (1 if r.direction else -1),
            "sequence": b,
            "layer": int(r.layer),
            "direction": int(r.direction),
            "role": initial_role(result),
            "h_n": "",
            "name": f"{name}[{r.h_0_row}]",
            "where": f"{name} of layer {r.layer} {DIRECTIONS[r.direction]}, read first at t = {r.before_t}",
            "output": "not in output",
            "in h_n": f"{name}[{r.h_0_row}, {b}]",
            "vector": vector_text(tensor[int(r.h_0_row), b].tolist()),
        }
        for name, kind, tensor in kinds
        for r in first.itertuples()
    ]


def initial_role(result) -> str:
    """The legend's words for a random initial state: h_0, and an LSTM's c_0 too."""
    return H_0 if result.c_n is None else H_0_AND_C_0


def diagram(result, layer_outputs, sequences, reveal: bool = True, large: bool = False, layer_cells=None) -> dict:
    """The Vega-Lite spec of the unrolled run for the chosen sequences (click a cell: selection 'cell'); large:
    presenter mode's type; layer_cells: the hand recomputation's cell states, for an LSTM's c_t lanes (None: only
    c_n's numbers). Its colours' legend, (role, colour) pairs, is the spec's usermeta "legend": the page draws it
    under the chart, where it wraps at any width."""
    rows = diagram_rows(result, layer_outputs, sequences, reveal, layer_cells)
    roles, colours = (ROLES, ROLE_COLOURS) if reveal else (HIDDEN_ROLES, HIDDEN_COLOURS)
    roles, colours = (*roles, CELL_STATE, initial_role(result)), (*colours, CELL_STATE_COLOUR, H_0_COLOUR)
    present = {row["role"] for row in rows}
    drawn = tuple((role, colour) for role, colour in zip(roles, colours, strict=True) if role in present)
    split = result.config.chunk
    order = tuple(lanes(result, sequences))
    font = LARGE_FONT_PX if large else FONT_PX
    spec = with_rows(diagram_layout(result.batch.max_length, order, drawn, reveal, font, split), rows)
    legend = drawn + (((SPLIT, SPLIT_COLOUR),) if split else ())
    return {**spec, "usermeta": {"legend": [list(pair) for pair in legend]}}


@layout
def diagram_layout(T: int, order: tuple[str, ...], shown: tuple[tuple[str, str], ...], reveal: bool, font: int,
                   split: int):  # fmt: skip
    """The diagram without its rows: T steps, the lanes top to bottom, the (role, colour) pairs drawn, type at font
    px, a carry's split before step split (0: none). A lane is a fixed step tall, so the axis and the legend never
    squeeze it."""
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
        layers.append(states.transform_filter("datum.h_n != ''").mark_rect(filled=False, stroke="black", strokeWidth=3))
    if T <= 24:  # room for the names (h_n[2], c_n[2], h_0[1]), as large as the cell lets them be
        size = alt.ExprRef(f"min({font}, {ROW_PX / 1.6:.1f}, bandwidth('x') / {NAME_EM})")
        named = states.transform_filter("datum.name != ''")
        layers.append(named.mark_text(fontSize=size, fontWeight="bold", color="black").encode(text="name:N"))
    if split:  # at the left edge of step split's band: between the two chunks, across every lane
        edge = base.transform_filter(f"datum.role == 'input' && datum.t == {split}")
        rule = edge.mark_rule(color=SPLIT_COLOUR, strokeWidth=3, strokeDash=[6, 4])
        layers.append(rule.encode(x=alt.X("t:O", bandPosition=0), y=alt.value(0), y2=alt.value("height")))
    tokens = base.transform_filter("datum.role == 'input'")
    token = alt.ExprRef(f"min({font}, bandwidth('x') / {TOKEN_EM})")
    layers.append(tokens.mark_text(fontSize=token).encode(text="token:N", color=alt.value(INK)))
    return alt.layer(*layers).properties(width="container", height=alt.Step(ROW_PX))
