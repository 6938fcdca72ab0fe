"""The Relations tab, and the summary above the tabs: a badge per relation, what is true, the claim evaluated."""

import streamlit as st

from rnnviz.model import batch_first_h_0_error

ICONS = {
    "holds": ":material/check:",
    "lesson": ":material/school:",
    "coincidence": ":material/casino:",
    "contradiction": ":material/error:",
}
VERDICT_WORDS = {
    "holds": "guaranteed · holds",
    "lesson": "lesson · the claim fails here, as it usually does",
    "coincidence": "lesson · the claim holds here only by coincidence",
    "contradiction": "guaranteed · FAILS: this contradicts PyTorch's documented behaviour",
}
CLAIM_WORDS = {
    "holds": "Checked, and true:",
    "lesson": "The tempting claim, checked (False here):",
    "coincidence": "The tempting claim, checked (True here, by coincidence):",
    "contradiction": "Checked, and FALSE:",
}


def summary_ui(result, relations, reveal: bool):
    """The shapes; how many relations hold, are lessons or coincidences (once revealed); any contradiction, loudly."""
    c = result.config
    shapes = f"`output` {list(result.output.shape)} · `h_n` {list(result.h_n.shape)}"
    if result.c_n is not None:
        shapes += f" · `c_n` {list(result.c_n.shape)}"
    count = {v: [r.id for r in relations if r.verdict == v] for v in ICONS}
    bad = count["contradiction"]
    sizes = f"{shapes} · L = {c.layers}, D = {c.directions}, B = {len(c.sequences)}, H = {c.state_size}"
    if not reveal:
        st.markdown(sizes)
        return
    st.markdown(
        f"{sizes} · **:green[guaranteed, hold: {len(count['holds'])}] · :gray[lessons: {len(count['lesson'])}] · "
        f":blue[coincidences: {len(count['coincidence'])}] · :{'red' if bad else 'gray'}[contradictions: {len(bad)}]**"
    )
    if bad:
        st.error(f"Contradiction: {', '.join(bad)} did not do what PyTorch documents. This is a bug worth reporting.")


def per_sequence_text(rel) -> str:
    """Which sequences the claim holds for, where it splits (b=0 ✓ · b=1 ✗), else empty."""
    if rel.per_sequence is None or len(set(rel.per_sequence)) < 2:
        return ""
    return " · ".join(f"b={b} {'✓' if ok else '✗'}" for b, ok in enumerate(rel.per_sequence))


def relation_markdown(rel) -> str:
    """One relation as one Markdown block: badge, verdict, what is true, the claim evaluated, why."""
    diff = ""
    if rel.max_abs_diff is not None:
        diff = " · max abs diff " + ("0 (exactly equal)" if rel.max_abs_diff == 0 else f"{rel.max_abs_diff:.3g}")
    lines = [
        f":{rel.colour}-badge[{ICONS[rel.verdict]} {rel.id}] :small[:gray[{VERDICT_WORDS[rel.verdict]} · "
        f"{rel.comparison}{diff}]]",
        rel.statement,  # Markdown: the catalog's own words (code in backticks), never user text
        f":small[{CLAIM_WORDS[rel.verdict]}]\n```python\n{rel.expression}\n```",
    ]
    split = per_sequence_text(rel)
    if split:
        lines.append(f":small[per sequence: {split}]")
    lines.append(f":small[:gray[{rel.why}]]")
    return "\n\n".join(lines)


@st.cache_data(max_entries=32, show_spinner=False)
def h_0_error(config) -> str | None:
    """torch's own error for an h_0 shaped like a batch-first input (raised once per config)."""
    return batch_first_h_0_error(config)


def relations_ui(view):
    """One block per relation (a single element each: the page has many and reruns often)."""
    if not view.reveal:
        st.info("Answer the question above first: the verdicts stay hidden until then.")
        return
    c = view.config
    st.caption(
        f"In the expressions, `hv = h_n.view({c.layers}, {c.directions}, {len(c.sequences)}, {c.state_size})`: "
        "`hv[l, d]` is layer l, direction d (L, D, B, H)."
    )
    for rel in view.analysis.relations:
        st.markdown(relation_markdown(rel))
        if rel.id == "h_0-shape" and (error := h_0_error(view.config)) is not None:
            st.caption("What torch itself says to an h_0 shaped like a batch-first input, [B, L*D, H]:")
            st.code(error, language=None, wrap_lines=True)
