"""rnnviz dashboard, UI only: sidebar -> Config -> cached core calls -> render."""

import re
from functools import partial

import streamlit as st
import torch

from rnnviz import PRESETS, Config, ConfigError, analyse, charts, tables
from rnnviz.cache import TensorCache
from rnnviz.config import (
    CACHE_BYTES,
    CACHE_ENTRIES,
    MAX_CELLS,
    MAX_EMBEDDING,
    MAX_HIDDEN,
    MAX_LAYERS,
    MAX_SEED,
    parse_sequences,
)
from rnnviz.model import layer_by_layer
from rnnviz.report import report_json
from rnnviz.snippet import make_snippet
from rnnviz.trace import latex_vector, step_exists, trace_step

# Every session's script runs in a thread of its own: torch's intra-op threads would only fight them for the
# same few cores (largest config on this 2-core machine, busy: 4.7 s with 2 threads, 1.2 s with 1; same numbers).
torch.set_num_threads(1)

CUSTOM = "Custom"
CELL_LABELS = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}
DEVICES = ["auto", "cpu", "cuda"] if torch.cuda.is_available() else ["auto", "cpu"]
CONTROL_KEYS = (
    "sequences",
    "cell",
    "nonlinearity",
    "layers",
    "bidirectional",
    "hidden",
    "embedding",
    "proj",
    "batch_first",
    "packed",
    "seed",
    "device",
    "dtype",
)
PRESET_KEYS = tuple(k for k in CONTROL_KEYS if k != "device")  # a preset never moves you off your device
NUMBER_BOUNDS = {
    "layers": (1, MAX_LAYERS),
    "seed": (0, MAX_SEED),
    "hidden": (1, MAX_HIDDEN),
    "embedding": (1, MAX_EMBEDDING),
    "proj": (0, MAX_HIDDEN - 1),
}
TABS = ["Relations", "Batch", "output & h_n", "Unrolled by hand", "Code & downloads"]
OPTIONS = {
    "preset": [CUSTOM, *PRESETS],
    "cell": list(CELL_LABELS.values()),
    "nonlinearity": ["tanh", "relu"],
    "device": DEVICES,
    "dtype": ["float32", "float64"],
    "tab": TABS,
}
TOGGLES = ("bidirectional", "batch_first", "packed")
MIME_TYPES = {"py": "text/x-python", "json": "application/json", "csv": "text/csv"}
VERDICT_ICONS = {"holds": ":material/check:", "lesson": ":material/school:", "contradiction": ":material/error:"}
PICK_KEYS = ("tensor_sequence", "hand_t", "hand_layer", "hand_direction", "hand_sequence")  # widgets inside tabs

PRESET_NOTES = {
    "single-uni": "**One layer, one direction.** The layer reads each sequence left to right. `output` keeps "
    "the state after every step; `h_n` keeps only the last one. So the last row of `output` is `h_n`, number "
    "for number. Watch the gray badge: the short sequences were fed `<pad>` steps too, so their `h_n` is not "
    "the state at their real last character. Tick *packed* to fix that.",
    "multi-uni": "**Two layers, one direction.** Layer 1 reads the output of layer 0. `output` is the top "
    "layer only, while `h_n` has one row per layer: `h_n[-1]` is the top layer and equals the last row of "
    "`output`; `h_n[0]` (layer 0) appears nowhere in `output`.",
    "single-bi": "**One layer, two directions.** A forward and a backward pass run side by side; `output` "
    "stacks their states in its last axis (forward first, H units each). The forward pass ends at the last "
    "step and the backward pass ends at step 0, so `h_n[1]` sits in the *first* row of `output`'s backward "
    "half, not in the last row (the gray badge).",
    "multi-bi": "**Two layers, two directions.** `h_n` has L*D = 4 rows: layer 0 forward, layer 0 backward, "
    "layer 1 forward, layer 1 backward. `h_n.view(L, D, B, H)` names them; only the top layer (`hv[-1]`) "
    "appears in `output`.",
}
CUSTOM_NOTE = (
    "**Custom.** Every badge is recomputed for this configuration: green holds, gray does not hold and is not "
    "expected to (a lesson), red would contradict PyTorch's documented behaviour."
)


# -----------------------------------------------------------------------------
# Cached core calls: keyed by the (frozen, hashable) Config, shared by every session, never mutated


@st.cache_resource(show_spinner=False)
def server_cache() -> TensorCache:
    """The analyses and layer outputs of recent configs: one cache per server, bounded in entries and bytes."""
    return TensorCache(max_entries=CACHE_ENTRIES, max_bytes=CACHE_BYTES)


def cached_analysis(config: Config):
    """The run, its hand recomputation and its relations."""
    return server_cache().get(("analysis", config), lambda: analyse(config))


def cached_layers(config: Config):
    """Torch's own output of every layer, for the unrolled step."""
    return server_cache().get(("layers", config), lambda: layer_by_layer(cached_analysis(config).result))


@st.cache_data(max_entries=32, show_spinner=False)
def cached_charts(config: Config, sequences: tuple[int, ...], max_units: int) -> tuple[dict, dict]:
    """The Vega-Lite specs of the output and h_n heatmaps."""
    result = cached_analysis(config).result
    return charts.output_heatmap(result, sequences, max_units), charts.h_n_heatmap(result, sequences, max_units)


# -----------------------------------------------------------------------------
# Sidebar


def preset_values(name: str) -> dict:
    """A preset's control values, as the widgets hold them."""
    return widget_values(PRESETS[name])


def widget_values(config: Config) -> dict:
    """A config as widget values (labels for selectboxes, one sequence per line)."""
    values = {k: getattr(config, k) for k in CONTROL_KEYS}
    values["sequences"] = "\n".join(config.sequences)
    values["cell"] = CELL_LABELS[config.cell]
    return values


def apply_preset():
    """Callback: the chosen preset sets every control it fixes."""
    if st.session_state.preset != CUSTOM:
        st.session_state.update({k: v for k, v in preset_values(st.session_state.preset).items() if k in PRESET_KEYS})


def matches_preset(name: str) -> bool:
    """Whether the controls hold exactly the preset's values."""
    values = preset_values(name)
    return all(st.session_state.get(k) == values[k] for k in PRESET_KEYS)


def link_value(key: str, text: str):
    """The control value a link's text stands for; ValueError if that control cannot take it."""
    if key in NUMBER_BOUNDS:
        number, (low, high) = int(float(text)), NUMBER_BOUNDS[key]  # as Streamlit reads it: 2.7 -> 2
        if not low <= number <= high:
            raise ValueError(f"{key} must be a whole number from {low} to {high}")
        return number
    if key in TOGGLES:
        if text.lower() not in ("true", "false"):
            raise ValueError(f"{key} must be true or false")
        return text.lower() == "true"
    if key in OPTIONS and text not in OPTIONS[key]:
        raise ValueError(f"{key} must be one of {OPTIONS[key]}")
    return text


def open_link():
    """First run: the link's values go into the controls; a preset it names fills the ones it omits.

    Returns the `key=value` texts the controls cannot take. Streamlit would drop those silently (and a link
    value equal to a widget's own default too, which is why every value is set here).
    """
    values, ignored = {}, []
    for key, text in st.query_params.to_dict().items():
        if key in OPTIONS or key in NUMBER_BOUNDS or key in TOGGLES or key == "sequences":
            try:
                values[key] = link_value(key, text)
            except (ValueError, OverflowError):  # OverflowError: int(float("inf"))
                ignored.append(f"{key}={text}")
    preset = values.pop("preset", "single-uni")
    base = preset_values(preset) if preset in PRESETS else widget_values(Config())
    st.session_state.update({**base, **values, "preset": preset})
    # Streamlit 1.67's number_input crashes on a link number it cannot make an int (inf, 1e400): such a
    # control stays off the URL for this session, and its bad parameter is removed.
    st.session_state.unbound = {key for key in NUMBER_BOUNDS if not finite(st.query_params.get(key, "0"))}
    for key in st.session_state.unbound:
        del st.query_params[key]
    return ignored


def finite(text: str) -> bool:
    """Whether a link's number text is not infinite (text that is no number counts as finite)."""
    try:
        return abs(float(text)) < float("inf")
    except ValueError:
        return True  # not a number at all: Streamlit drops it by itself


def number_ui(container, label: str, key: str, **kwargs):
    """A number input bound to the URL (unless a link made that impossible this session)."""
    low, high = NUMBER_BOUNDS[key]
    bind = None if key in st.session_state.unbound else "query-params"
    # The URL leaves out a value equal to the widget's default: make that default rnnviz's, not the minimum.
    default = getattr(Config(), key)
    container.number_input(label, low, high, default, key=key, bind=bind, **kwargs)


def controls_ui() -> tuple[Config | None, str | None]:
    """The sidebar; returns the config, or None and the reason it is invalid."""
    sb = st.sidebar
    sb.title("rnnviz")
    sb.selectbox(
        "Preset (the blog's four sections)",
        OPTIONS["preset"],
        key="preset",
        on_change=apply_preset,
        bind="query-params",
        help="Walk through single/multi-layer, uni/bi-directional step by step.",
    )
    sb.text_area("Sequences, one per line", key="sequences", bind="query-params", height=110)
    sb.selectbox("Cell", OPTIONS["cell"], key="cell", bind="query-params")
    sb.selectbox("Nonlinearity (RNN only)", OPTIONS["nonlinearity"], key="nonlinearity", bind="query-params")
    left, right = sb.columns(2)
    number_ui(left, "Layers", "layers")
    number_ui(right, "Seed", "seed")
    number_ui(left, "Hidden size", "hidden")
    number_ui(right, "Embedding size", "embedding")
    number_ui(left, "proj_size (LSTM)", "proj", help="0: no projection. Must be smaller than the hidden size.")
    sb.toggle("Bidirectional", key="bidirectional", bind="query-params")
    sb.toggle("batch_first", key="batch_first", bind="query-params")
    sb.toggle("Packed (pack_padded_sequence)", key="packed", bind="query-params")
    left, right = sb.columns(2)
    left.selectbox("Device", OPTIONS["device"], key="device", bind="query-params")
    right.selectbox("dtype", OPTIONS["dtype"], key="dtype", bind="query-params")
    if "cuda" not in DEVICES:
        sb.caption("cuda is not offered: this server has no CUDA GPU.")
    s = st.session_state
    try:
        config = Config(
            sequences=parse_sequences(s.sequences),
            cell=s.cell.lower(),
            nonlinearity=s.nonlinearity,
            layers=s.layers,
            bidirectional=s.bidirectional,
            hidden=s.hidden,
            embedding=s.embedding,
            proj=s.proj,
            batch_first=s.batch_first,
            packed=s.packed,
            seed=s.seed,
            device=s.device,
            dtype=s.dtype,
        )
    except ConfigError as error:
        return None, str(error)
    return config, None


# -----------------------------------------------------------------------------
# Page sections


def plain(text: str) -> str:
    """Text shown literally on one line of Markdown: every Markdown, badge and LaTeX character escaped."""
    one_line = re.sub(r"[\r\n\t\v\f]", " ", text)
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|<>~:$&])", r"\\\1", one_line)


def summary_ui(result, relations):
    """The shapes; how many relations hold and how many are lessons; any contradiction, loudly."""
    c = result.config
    shapes = f"`output` {list(result.output.shape)} · `h_n` {list(result.h_n.shape)}"
    if result.c_n is not None:
        shapes += f" · `c_n` {list(result.c_n.shape)}"
    holds, lessons, bad = ([r.id for r in relations if r.verdict == v] for v in ("holds", "lesson", "contradiction"))
    st.markdown(
        f"{shapes} · L = {c.layers}, D = {c.directions}, B = {len(c.sequences)}, H = {c.state_size}\n\n"
        f"**:green[hold, as expected: {len(holds)}] · :gray[lessons (do not hold, as expected): {len(lessons)}] · "
        f":{'red' if bad else 'gray'}[contradictions: {len(bad)}]**"
    )
    if bad:
        st.error(f"Contradiction: {', '.join(bad)} did not do what PyTorch documents. This is a bug worth reporting.")


def relation_markdown(rel) -> str:
    """One relation as one Markdown block: badge, verdict, statement, the expression evaluated, the lesson."""
    diff = "" if rel.max_abs_diff is None else f" · max abs diff {rel.max_abs_diff:.3g}"
    badge = f":{rel.colour}-badge[{VERDICT_ICONS[rel.verdict]} {rel.id}]"
    lines = [
        f"{badge} :small[:gray[{rel.verdict} · {rel.comparison}{diff}]]",
        plain(rel.statement),
        f"```python\n{rel.expression}\n```",
        f":small[:gray[{plain(rel.why)}]]",
    ]
    return "\n\n".join(lines)


def relations_ui(relations):
    """One block per relation (a single element each: the page has many and reruns often)."""
    for rel in relations:
        st.markdown(relation_markdown(rel))


def batch_ui(result):
    """The blog's initial setup: sequences, vocabulary, ids, padding, shapes."""
    b, c = result.batch, result.config
    T, B = b.max_length, len(b.sequences)
    st.markdown(
        f"{B} sequences → vocabulary of {len(b.vocab)} tokens (`<pad>` is id 0) → ids, zero-padded to T = {T} → "
        f"input `{list(b.padded.shape)}` ({'[B, T], batch_first' if c.batch_first else '[T, B], time-major'}) → "
        f"`nn.Embedding` → embedded `{list(result.embedded.shape)}`."
    )
    left, right = st.columns([3, 1])
    left.dataframe(tables.sequences_frame(b), hide_index=True, width="stretch")
    right.dataframe(tables.vocab_frame(b), hide_index=True, width="stretch", height=250)
    st.caption("Padded ids, as they enter nn.Embedding")
    st.dataframe(tables.padded_frame(b), width="stretch")


def shown_sequences(result, key: str) -> tuple[int, ...]:
    """All sequences when the tensors are small; otherwise the one the user picks."""
    B = len(result.config.sequences)
    if result.output.numel() <= MAX_CELLS:
        return tuple(range(B))
    b = st.selectbox(
        "Sequence shown (the downloads hold every sequence)",
        range(B),
        key=key,
        format_func=lambda i: f"b={i}: {result.batch.sequences[i]}",
    )
    return (b,)


def tensors_ui(config, result):
    """output, h_n and c_n as heatmaps and labelled tables."""
    c = config
    H = c.state_size
    seqs = shown_sequences(result, "tensor_sequence")
    max_units = max(1, min(H, MAX_CELLS // (result.batch.max_length * c.directions * len(seqs))))
    if max_units < H:
        st.caption(
            f"The heatmaps show the first {max_units} of {H} units per direction; the tables and "
            "downloads hold them all."
        )
    out_spec, h_spec = cached_charts(config, seqs, max_units)
    st.subheader("output over time")
    st.caption(
        "Outlined cells are exactly h_n's numbers (top layer): forward at the last step a sequence "
        "really took, backward at step 0."
        if c.directions == 2
        else "Outlined cells are exactly h_n's numbers (top layer)."
    )
    st.vega_lite_chart(out_spec, width="content")
    st.dataframe(tables.output_frame(result, seqs), hide_index=True, width="stretch")
    st.subheader("h_n, one row per layer and direction")
    st.caption("Outlined: the top layer, hv[-1], the only layer that output shows.")
    st.vega_lite_chart(h_spec, width="content")
    left, right = st.columns(2)
    left.caption(f"as returned, [L*D, B, H] = {list(result.h_n.shape)}")
    left.dataframe(tables.state_frame(result.h_n, c), hide_index=True, width="stretch")
    right.caption(f"as the view h_n.view(L, D, B, H) = {[c.layers, c.directions, len(c.sequences), H]}")
    right.dataframe(tables.state_frame(result.h_n, c, view=True), hide_index=True, width="stretch")
    if result.c_n is not None:
        st.subheader("c_n, the LSTM's final cell state")
        st.caption(f"[L*D, B, hidden] = {list(result.c_n.shape)}: never projected, so hidden_size units.")
        st.dataframe(tables.state_frame(result.c_n, c, view=True), hide_index=True, width="stretch")


@st.fragment
def by_hand_ui(config):
    """One step unrolled: pick t, layer, direction and sequence (a fragment: only this part reruns)."""
    result, reference, _ = cached_analysis(config)
    T, B = result.batch.max_length, len(config.sequences)
    for key, high in (
        ("hand_t", T - 1),
        ("hand_layer", config.layers - 1),
        ("hand_direction", config.directions - 1),
        ("hand_sequence", B - 1),
    ):  # the config may have shrunk since
        st.session_state[key] = min(st.session_state.get(key, high if key == "hand_layer" else 0), high)
    cols = st.columns(4)
    t = cols[0].number_input("time step t", 0, T - 1, key="hand_t")
    layer = cols[1].number_input("layer", 0, config.layers - 1, key="hand_layer")
    direction = cols[2].selectbox(
        "direction", range(config.directions), key="hand_direction", format_func=lambda d: tables.DIRECTION_NAMES[d]
    )
    b = cols[3].selectbox(
        "sequence", range(B), key="hand_sequence", format_func=lambda i: f"b={i}: {result.batch.sequences[i]}"
    )
    if not step_exists(result, t, b):
        st.info(
            f"Sequence b={b} has only {result.batch.lengths[b]} characters and the batch is packed: the "
            f"layer never runs step {t} for it, and output there is padding (0)."
        )
        return
    tr = trace_step(result, reference, cached_layers(config), t, layer, direction, b)
    for line in tr.equations:
        st.latex(line)
    st.latex(
        r"\begin{aligned} h_t^{\text{by hand}} &= "
        + latex_vector(tr.h)
        + r" \\ h_t^{\text{torch}} &= "
        + latex_vector(tr.torch_h)
        + r"\end{aligned}"
    )
    st.markdown(f"By hand vs torch (`{tr.torch_source}`): max abs difference **{tr.max_abs_diff:.3g}**.")
    st.dataframe(tables.trace_frame(tr), width="stretch")


def code_ui(config):
    """The exported snippet, and the downloads (built when clicked)."""
    result, _, relations = cached_analysis(config)
    code = make_snippet(result, relations)
    st.caption(
        "Standalone: needs torch only. It rebuilds this batch and model, prints the shapes and asserts "
        "every relation (lessons as `not`); same device and dtype give the same numbers, bit for bit."
    )
    report = partial(report_json, result, relations, tensors=True)
    downloads = [("snippet .py", code, "rnnviz_snippet.py"), ("report .json", report, "rnnviz_report.json")]
    for name, frame in tables.tensor_frames(result).items():
        downloads.append((f"{name} .csv", partial(frame.to_csv, index=False), f"{name}.csv"))
    for col, (label, data, file_name) in zip(st.columns(len(downloads)), downloads, strict=True):
        mime = MIME_TYPES[file_name.rsplit(".", 1)[1]]
        col.download_button(label, data, file_name, mime, on_click="ignore")  # a download changes nothing here
    st.code(code, language="python", line_numbers=True)


# -----------------------------------------------------------------------------
# Main


def keep_picks():
    """Keep the picks made in tabs that are closed this run: Streamlit drops the state of widgets it does not draw."""
    for key in PICK_KEYS:
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]


def main():
    """Sidebar -> Config -> cached core calls -> the page."""
    st.set_page_config(page_title="rnnviz: output vs h_n", page_icon=":material/repeat:", layout="wide")
    first_run = "preset" not in st.session_state
    if first_run:
        st.session_state.ignored_link = open_link()
    elif st.session_state.preset != CUSTOM and not matches_preset(st.session_state.preset):
        st.session_state.preset = CUSTOM  # a control was moved off the preset
    config, problem = controls_ui()
    if first_run and st.session_state.preset != CUSTOM and not matches_preset(st.session_state.preset):
        st.rerun()  # the link named a preset but changed a control: show it as Custom

    st.header("What does `output, h_n = rnn(x)` return?", anchor=False)
    preset = st.session_state.preset
    st.info(PRESET_NOTES.get(preset, CUSTOM_NOTE))
    ignored = st.session_state.pop("ignored_link", [])
    if ignored:
        st.warning(
            "This link had values the controls cannot take, so the defaults were used for: "
            + ", ".join(plain(v if len(v) <= 80 else v[:79] + "…") for v in ignored)
        )
    if problem:
        st.error(plain(problem), icon=":material/edit:")
        config = st.session_state.get("last_good")
        if config is None:
            return
        st.caption("Showing the last valid configuration until the input is fixed.")
    st.session_state.last_good = config
    result, _, relations = cached_analysis(config)
    summary_ui(result, relations)
    sections = (  # in TABS' order
        lambda: relations_ui(relations),
        lambda: batch_ui(result),
        lambda: tensors_ui(config, result),
        lambda: by_hand_ui(config),
        lambda: code_ui(config),
    )
    keep_picks()
    for tab, section in zip(st.tabs(TABS, key="tab", bind="query-params"), sections, strict=True):
        if tab.open:  # lazy: only the open tab's section runs (switching tabs reruns the script)
            with tab:
                section()


main()
