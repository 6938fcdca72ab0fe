"""AppTest sections: rerun cost vs the naive script; the largest config (time, payload, bytes of its tensors).

Run one section per process: `python bench/sec_apptest.py rerun|largest`. AppTest runs the script
in this process, so Streamlit's caches are shared with it: they are cleared before each app's setup.
"""

import logging
import sys

import streamlit as st
from apptest import open_tab
from common import APP, NAIVE_APP, emit, largest_kwargs, largest_query, summary, timed
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Block

TIMEOUT = 600
# Public APIs only. AppTest re-reads and compiles the main script on every run (`streamlit run` compiles it once):
# both sides pay that, the app's ~130-line script and the naive one alike; the app's modules import once.


class _Uncaught(logging.Handler):
    """Keeps the exceptions the script raised: the page redacts them (client.showErrorDetails = none)."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.seen: list[str] = []

    def emit(self, record):
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            self.seen.append(f"{type(error).__name__}: {str(error).splitlines()[0][:200] if str(error) else ''}")


UNCAUGHT = _Uncaught()
logging.getLogger("streamlit.error_util").addHandler(UNCAUGHT)  # logs "Uncaught app execution"


def clear_caches():
    st.cache_data.clear()
    st.cache_resource.clear()


def new_app(path, **query) -> AppTest:
    at = AppTest.from_file(str(path), default_timeout=TIMEOUT)
    for key, value in query.items():
        at.query_params[key] = value
    return at


def elements(at: AppTest):
    """Every element of the page (main area and sidebar), depth first."""

    def walk(node):
        if isinstance(node, Block):
            for child in node.children.values():
                yield from walk(child)
        else:
            yield node

    yield from walk(at.main)
    yield from walk(at.sidebar)


def badge_count(at: AppTest) -> int:
    return sum(1 for m in at.markdown if "-badge[" in m.value)


def picture_drawn(at: AppTest) -> bool:
    """The landing view's picture (the unrolled run) is on the page."""
    return any('"lane"' in chart.proto.spec for chart in at.get("vega_lite_chart"))


def problems(at: AppTest) -> list[str]:
    """The exceptions the last run raised, as type and message (the page itself may show them redacted)."""
    if not at.exception:
        return []
    logged = list(dict.fromkeys(UNCAUGHT.seen))
    return logged or [e.value[:200] for e in at.exception]


# -----------------------------------------------------------------------------
# 1. Rerun after a widget change: rnnviz (configs cached) vs the naive script


def section_rerun(n: int = 40, n_uncached: int = 36) -> dict:
    clear_caches()
    naive = new_app(NAIVE_APP)
    naive.run()
    clear_caches()
    app = new_app(APP)
    cold_first, _ = timed(app.run)
    seed = app.number_input(key="seed")
    seed.set_value(1)
    timed(app.run)  # seed 1 computed and cached; seed 0 already is
    for i in range(4):  # warm-up: both configs cached, every code path visited
        app.number_input(key="seed").set_value(i % 2)
        app.run()
        naive.toggle(key="dummy").set_value(i % 2 == 0)
        naive.run()
    times = {"app": [], "naive": []}
    for i in range(n):
        for who in ("app", "naive") if i % 2 else ("naive", "app"):  # alternate who goes first
            if who == "app":
                app.number_input(key="seed").set_value(i % 2)  # warm-up left it at 1: every run is a change
                times[who].append(timed(app.run)[0])
            else:
                naive.toggle(key="dummy").set_value(i % 2 == 0)
                times[who].append(timed(naive.run)[0])
    ok = not app.exception and not naive.exception and picture_drawn(app) and badge_count(naive) == 1
    # Uncached: each rerun asks for a seed never seen (a config change the cache cannot serve).
    t_new, t_naive2 = [], []
    for s in range(n_uncached):
        app.number_input(key="seed").set_value(100 + s)
        t_new.append(timed(app.run)[0])
        naive.toggle(key="dummy").set_value(s % 2 == 0)
        t_naive2.append(timed(naive.run)[0])
    return {
        "app": summary(times["app"]),
        "naive": summary(times["naive"]),
        "app_uncached": summary(t_new),
        "naive_during_uncached": summary(t_naive2),
        "app_first_run_cold_cache": cold_first,
        "picture_app": picture_drawn(app),
        "ok": ok,
        "problems": problems(app) + problems(naive),
    }


# -----------------------------------------------------------------------------
# 2. The largest config: cold and warm run, and the payload the page would send


def is_number(arrow_type) -> bool:
    import pyarrow as pa

    return pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type)


def payload(at: AppTest) -> dict:
    """Numbers and bytes of every dataframe and chart element, and of the whole page's element protos."""
    import json

    import pyarrow as pa

    frames, charts, total_bytes, n_elements = [], [], 0, 0
    for e in elements(at):
        proto = getattr(e, "proto", None)
        if proto is None:
            continue
        n_elements += 1
        size = proto.ByteSize()
        total_bytes += size
        if e.type == "dataframe":
            table = pa.ipc.open_stream(proto.arrow_data.data).read_all()
            numeric = sum(table.num_rows for f in table.schema if is_number(f.type))
            frames.append({"rows": table.num_rows, "cols": table.num_columns, "numbers": numeric, "bytes": size})
        elif e.type in ("vega_lite_chart", "arrow_vega_lite_chart"):
            rows = numbers = 0
            for ds in proto.datasets:
                table = pa.ipc.open_stream(ds.data.data).read_all()
                rows += table.num_rows
                numbers += sum(table.num_rows for f in table.schema if is_number(f.type))
            spec = json.loads(proto.spec) if proto.spec else {}
            inline = spec.get("data", {}).get("values") if isinstance(spec.get("data"), dict) else None
            if inline:
                rows += len(inline)
            charts.append({"cells": rows, "numbers": numbers, "bytes": size, "spec_bytes": len(proto.spec)})
    return {
        "frames": frames,
        "charts": charts,
        "total_bytes": total_bytes,
        "elements": n_elements,
    }


def measure_largest(warm_n: int) -> dict:
    clear_caches()
    at = new_app(APP, **largest_query())
    UNCAUGHT.seen.clear()
    cold, _ = timed(at.run)
    out = {"cold_first_run": cold, "problems": problems(at), "picture": picture_drawn(at)}
    open_tab(at, "output & h_n")  # the heatmaps and tables run only in their own tab
    # Warm rerun: flip the "Sequence" control between two sequences whose charts are both cached, so the rerun
    # recomputes nothing: what a user pays for any widget change once seen.
    for i in range(2):  # visit both choices once (the second computes its charts)
        at.segmented_control(key="tensor_sequence").set_value(1 - i)
        at.run()
    warm = []
    for i in range(warm_n):
        at.segmented_control(key="tensor_sequence").set_value(i % 2)
        warm.append(timed(at.run)[0])
    out["warm_widget"] = "the Sequence control 0 <-> 1 (both cached)"
    out["warm"] = summary(warm)
    UNCAUGHT.seen.clear()
    at.run()
    out["payload"] = payload(at)
    out["problems_after_warm"] = problems(at)
    UNCAUGHT.seen.clear()
    out["unrolled_tab_first_run"], _ = timed(open_tab, at, "Unrolled by hand")  # computes and caches layer outputs
    out["problems_unrolled_tab"] = problems(at)
    return out


def section_largest() -> dict:
    import torch

    from rnnviz import Config, analyse
    from rnnviz.cache import tensor_bytes
    from rnnviz.config import CACHE_BYTES, MAX_CELLS
    from rnnviz.model import layer_by_layer

    # Pay the imports and AppTest's first-run overhead on the default view, so "cold" means cache-cold.
    clear_caches()
    new_app(APP).run()
    out = {"max_cells": MAX_CELLS, "torch_threads": torch.get_num_threads(), "as_is": measure_largest(warm_n=7)}
    # What the server caches for this config, in bytes of tensors: its analysis and its layer outputs (the core's
    # own values, measured as rnnviz.cache measures them), against the cache's bound.
    analysis = analyse(Config(**largest_kwargs()))
    out["analysis_bytes"] = tensor_bytes(analysis)
    out["layers_bytes"] = tensor_bytes(layer_by_layer(analysis.result))
    out["cache_max_bytes"] = CACHE_BYTES
    return out


if __name__ == "__main__":
    section = sys.argv[1]
    emit({"rerun": section_rerun, "largest": section_largest}[section]())
