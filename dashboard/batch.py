"""The Batch tab: sequences -> vocabulary -> ids -> padding -> embedding, with every shape."""

import streamlit as st

from rnnviz import tables


def batch_ui(config, analysis):
    """The blog's initial setup: sequences, vocabulary, ids, padding, shapes."""
    result = analysis.result
    b = result.batch
    T, B = b.max_length, len(b.sequences)
    st.markdown(
        f"{B} sequences → vocabulary of {len(b.vocab)} tokens (`<pad>` is id 0) → ids, zero-padded to T = {T} → "
        f"input `{list(b.padded.shape)}` ({'[B, T], batch_first' if config.batch_first else '[T, B], time-major'}) "
        f"→ `nn.Embedding` → embedded `{list(result.embedded.shape)}`."
    )
    left, right = st.columns([3, 1])
    left.dataframe(tables.sequences_frame(b), hide_index=True, width="stretch")
    right.dataframe(tables.vocab_frame(b), hide_index=True, width="stretch", height=250)
    st.caption("Padded ids, as they enter nn.Embedding")
    st.dataframe(tables.padded_frame(b), width="stretch")
