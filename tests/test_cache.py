"""rnnviz.cache: the LRU keeps what fits in its entries and bytes, computes each key once, and sizes tensors."""

import threading
import time
from types import MappingProxyType

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnviz import Config, analyse, run
from rnnviz.cache import TensorCache, tensor_bytes


def floats(n: int) -> torch.Tensor:
    return torch.zeros(n, dtype=torch.float32)  # 4 n bytes


# -----------------------------------------------------------------------------
# tensor_bytes


def test_tensor_bytes_counts_each_storage_once():
    a, b = floats(10), floats(25)
    nested = {"a": a, "view": a[2:5], "more": [b, (b.view(5, 5), MappingProxyType({"again": a}))], "text": "x"}
    assert tensor_bytes(nested) == 4 * (10 + 25)
    assert tensor_bytes("no tensors") == tensor_bytes(None) == 0


def test_tensor_bytes_counts_a_charts_rows():
    """The dashboard caches chart specs too: their Arrow rows count against the byte bound."""
    from rnnviz.charts.heatmaps import output_heatmap

    spec = output_heatmap(run(Config()), 0)
    assert tensor_bytes(spec) == spec["datasets"]["cells"].nbytes > 0


def test_tensor_bytes_of_an_analysis_is_its_weights_states_and_recomputation():
    analysis = analyse(Config(cell="lstm", layers=2, bidirectional=True))
    weights = sum(p.numel() for p in analysis.result.weights.values()) * 4
    assert weights < tensor_bytes(analysis) < weights + 64 * 1024  # the small default batch adds a little
    assert tensor_bytes(analyse(Config(cell="lstm", layers=2, bidirectional=True, dtype="float64"))) > 2 * weights - 1


# -----------------------------------------------------------------------------
# TensorCache


def test_hit_returns_the_same_object_without_computing():
    cache = TensorCache(max_entries=4, max_bytes=1000)
    calls = []
    first = cache.get("k", lambda: calls.append(1) or floats(3))
    assert cache.get("k", lambda: calls.append(2) or floats(3)) is first
    assert calls == [1] and len(cache) == 1 and cache.bytes == 12


def test_least_recently_used_goes_first_when_entries_run_out():
    cache = TensorCache(max_entries=2, max_bytes=10_000)
    cache.get("a", lambda: floats(1))
    cache.get("b", lambda: floats(1))
    cache.get("a", lambda: floats(1))  # a is now the most recent
    cache.get("c", lambda: floats(1))
    assert "a" in cache and "c" in cache and "b" not in cache


def test_bytes_bound_evicts_until_the_new_value_fits():
    cache = TensorCache(max_entries=10, max_bytes=400)  # 100 floats
    for key in "abc":
        cache.get(key, lambda: floats(30))
    assert len(cache) == 3 and cache.bytes == 360
    cache.get("big", lambda: floats(70))  # 280 bytes: a and b must go
    assert [k for k in "abc" if k in cache] == ["c"] and "big" in cache and cache.bytes == 400


def test_a_value_larger_than_the_whole_budget_is_returned_but_not_kept():
    cache = TensorCache(max_entries=10, max_bytes=100)
    cache.get("small", lambda: floats(5))
    huge = cache.get("huge", lambda: floats(1000))
    assert huge.numel() == 1000
    assert "huge" not in cache and "small" in cache and cache.bytes == 20


def test_a_failing_compute_raises_and_leaves_nothing_behind():
    cache = TensorCache(max_entries=4, max_bytes=1000)

    def fail():
        raise ValueError("no")

    with pytest.raises(ValueError):
        cache.get("k", fail)
    assert "k" not in cache and cache.bytes == 0
    assert cache.get("k", lambda: floats(1)).numel() == 1  # the key can be computed later


def test_concurrent_gets_of_one_key_compute_it_once():
    cache = TensorCache(max_entries=4, max_bytes=1000)
    calls, results = [], []

    def slow():
        calls.append(threading.get_ident())
        time.sleep(0.2)
        return floats(2)

    threads = [threading.Thread(target=lambda: results.append(cache.get("k", slow))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1
    assert len(results) == 8 and all(r is results[0] for r in results)


@settings(max_examples=200, deadline=None)
@given(
    max_entries=st.integers(1, 6),
    max_bytes=st.integers(0, 200),
    requests=st.lists(st.tuples(st.integers(0, 9), st.integers(0, 30)), max_size=60),
)
def test_property_never_past_its_bounds_and_always_the_right_value(max_entries, max_bytes, requests):
    cache = TensorCache(max_entries=max_entries, max_bytes=max_bytes)
    size_of = {}
    for key, size in requests:
        size_of.setdefault(key, size)  # a key always stands for the same value, as a Config does
        value = cache.get(key, lambda key=key: floats(size_of[key]))
        assert value.numel() == size_of[key]
        assert len(cache) <= max_entries and cache.bytes <= max_bytes
        assert (key in cache) == (4 * size_of[key] <= max_bytes)  # the newest value is kept if it fits at all
