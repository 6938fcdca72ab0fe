"""Cached core calls, keyed by the (frozen, hashable) Config, shared by every session and never mutated; a session
running its own weights file keeps those runs in a cache of its own."""

import streamlit as st

from dashboard import your_weights
from rnnviz import Config, analyse_with_gradients
from rnnviz.cache import TensorCache
from rnnviz.charts.diagram import diagram
from rnnviz.charts.heatmaps import h_n_heatmap, output_heatmap
from rnnviz.config import CACHE_BYTES, CACHE_ENTRIES
from rnnviz.model import layer_by_layer


@st.cache_resource(show_spinner=False)
def server_cache() -> TensorCache:
    """The analyses and layer outputs of recent configs: one cache per server, bounded in entries and bytes."""
    return TensorCache(max_entries=CACHE_ENTRIES, max_bytes=CACHE_BYTES)


def session_cache() -> TensorCache:
    """This session's runs of its uploaded weights: a few, never seen by another session."""
    if "own_cache" not in st.session_state:
        st.session_state.own_cache = TensorCache(max_entries=CACHE_ENTRIES // 8, max_bytes=CACHE_BYTES // 8)
    return st.session_state.own_cache


def get(key: tuple, make):
    """key's value from the cache this session's runs belong in (make() computes it once)."""
    weights = your_weights.current()
    if weights is None:
        return server_cache().get(key, make)
    return session_cache().get((*key, weights.sha256, weights.prefix), make)


def analysis(config: Config):
    """The run (of this session's weights file, where it has one), its hand recomputation and its relations."""
    return get(("analysis", config), lambda: analyse_with_gradients(config, False, your_weights.current())[0])


def layers(config: Config):
    """Torch's own output of every layer, for the unrolled step."""
    return get(("layers", config), lambda: layer_by_layer(analysis(config).result))


# Streamlit copies a spec before it touches one: the cached specs are shared by every session, never mutated.


def picture(config: Config, sequences: tuple[int, ...], reveal: bool, large: bool) -> dict:
    """The diagram's Vega-Lite spec for these sequences (large: presenter mode's type)."""

    def draw() -> dict:
        done = analysis(config)
        return diagram(done.result, layers(config), sequences, reveal, large, done.reference.layer_cells)

    return get(("picture", config, sequences, reveal, large), draw)


def heatmaps(config: Config, b: int, reveal: bool) -> tuple[dict, dict]:
    """The Vega-Lite specs of sequence b's output and h_n heatmaps."""
    result = analysis(config).result
    key = ("heatmaps", config, b, reveal)
    return get(key, lambda: (output_heatmap(result, b, reveal), h_n_heatmap(result, b, reveal)))
