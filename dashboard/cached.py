"""Cached core calls, keyed by the (frozen, hashable) Config, shared by every session and never mutated."""

import streamlit as st

from rnnviz import Config, analyse
from rnnviz.cache import TensorCache
from rnnviz.charts.diagram import diagram
from rnnviz.charts.heatmaps import h_n_heatmap, output_heatmap
from rnnviz.config import CACHE_BYTES, CACHE_ENTRIES
from rnnviz.model import layer_by_layer


@st.cache_resource(show_spinner=False)
def server_cache() -> TensorCache:
    """The analyses and layer outputs of recent configs: one cache per server, bounded in entries and bytes."""
    return TensorCache(max_entries=CACHE_ENTRIES, max_bytes=CACHE_BYTES)


def analysis(config: Config):
    """The run, its hand recomputation and its relations."""
    return server_cache().get(("analysis", config), lambda: analyse(config))


def layers(config: Config):
    """Torch's own output of every layer, for the unrolled step."""
    return server_cache().get(("layers", config), lambda: layer_by_layer(analysis(config).result))


# Streamlit copies a spec before it touches one: the cached specs are shared by every session, never mutated.


def picture(config: Config, sequences: tuple[int, ...], reveal: bool, large: bool) -> dict:
    """The diagram's Vega-Lite spec for these sequences (large: presenter mode's type)."""
    key = ("picture", config, sequences, reveal, large)
    return server_cache().get(key, lambda: diagram(analysis(config).result, layers(config), sequences, reveal, large))


def heatmaps(config: Config, b: int, reveal: bool) -> tuple[dict, dict]:
    """The Vega-Lite specs of sequence b's output and h_n heatmaps."""
    result = analysis(config).result
    key = ("heatmaps", config, b, reveal)
    return server_cache().get(key, lambda: (output_heatmap(result, b, reveal), h_n_heatmap(result, b, reveal)))
