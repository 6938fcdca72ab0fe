"""The Batch tab: sequences -> vocabulary -> ids -> padding -> embedding, with every shape."""

import html

import streamlit as st

from rnnviz import tables
from rnnviz.batch import char_label


def vocab_html(batch) -> str:
    """The vocabulary, each token and its id, in rows that wrap: every id in sight at any width (dashboard/page.css
    styles it). Tokens are user text, escaped."""
    entries = " ".join(  # the spaces between them are where a row wraps
        f"<span><code>{html.escape(char_label(token))}</code> {i}</span>" for i, token in enumerate(batch.vocab)
    )
    return f'<div class="rnnviz-vocab" data-testid="rnnviz-vocab">{entries}</div>'


def batch_ui(view):
    """The blog's initial setup: sequences, vocabulary, ids, padding, shapes."""
    config, result = view.config, view.analysis.result
    b = result.batch
    T, B = b.max_length, len(b.sequences)
    st.markdown(
        f"{B} sequences → vocabulary of {len(b.vocab)} tokens (`<pad>` is id 0) → ids, zero-padded to T = {T} → "
        f"input `{list(b.padded.shape)}` ({'[B, T], batch_first' if config.batch_first else '[T, B], time-major'}) "
        f"→ `nn.Embedding` → embedded `{list(result.embedded.shape)}`."
    )
    st.dataframe(tables.sequences_frame(b), hide_index=True, width="stretch")
    st.caption("The vocabulary: each token and its id")
    st.html(vocab_html(b))
    st.caption("Padded ids, as they enter nn.Embedding")
    st.dataframe(tables.padded_frame(b), width="stretch")
