"""Profile the dashboard's rerun (cProfile), default view and largest config: where does a rerun's time go?

`python bench/profile_rerun.py [default|new|largest] [--reruns N] [--top K]`

AppTest runs the script in a worker thread, which cProfile in this thread cannot see, so a small wrapper
script (written to a temporary folder) runs streamlit_app.py under cProfile inside that thread and adds
each run's stats to one file. Reruns are the same as the benchmark's: the Seed control 0 <-> 1 for the
default view, the Sequence control 0 <-> 1 (its 'output & h_n' tab open) for the largest config,
everything cached; `new` sets a new seed every rerun (nothing cached: what a class's changes cost).
"""

import argparse
import pstats
import sys
import tempfile
from pathlib import Path

import streamlit as st
from apptest import open_tab
from common import APP, ROOT, largest_query
from streamlit.testing.v1 import AppTest

WRAPPER = """
import cProfile, os, runpy, sys
sys.path.insert(0, {root!r})
if os.environ.get("RNNVIZ_PROFILE_ON") == "1":
    profile = cProfile.Profile()
    profile.enable()
    try:
        runpy.run_path({app!r}, run_name="__main__")
    finally:
        profile.disable()
        stats_path = {stats!r}
        n = len(os.listdir(os.path.dirname(stats_path)))
        profile.dump_stats(stats_path + f".{{n}}")
else:
    runpy.run_path({app!r}, run_name="__main__")
"""


def main():
    import os

    parser = argparse.ArgumentParser()
    parser.add_argument("view", choices=["default", "new", "largest"], nargs="?", default="default")
    parser.add_argument("--reruns", type=int, default=20)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--sort", default="cumulative")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="rnnviz-profile-"))
    (tmp / "stats").mkdir()
    stats = tmp / "stats" / "run"
    wrapper = tmp / "wrapped_app.py"
    wrapper.write_text(WRAPPER.format(root=str(ROOT), app=str(APP), stats=str(stats)))
    st.cache_data.clear()
    st.cache_resource.clear()
    at = AppTest.from_file(str(wrapper), default_timeout=600)
    if args.view == "largest":
        for k, v in largest_query().items():
            at.query_params[k] = v
    at.run()
    if args.view == "largest":
        open_tab(at, "output & h_n")  # where its Sequence control is (only the open tab runs)
    if args.view in ("default", "new"):
        key, values, widget = "seed", (0, 1), at.number_input
    else:
        key, values, widget = "tensor_sequence", (0, 1), at.segmented_control
    for v in (values[1], values[0], values[1]):  # warm-up: both cached
        widget(key=key).set_value(v)
        at.run()
    os.environ["RNNVIZ_PROFILE_ON"] = "1"
    for i in range(args.reruns):
        widget(key=key).set_value(100 + i if args.view == "new" else values[i % 2])
        at.run()
    os.environ["RNNVIZ_PROFILE_ON"] = "0"
    files = sorted(str(p) for p in (tmp / "stats").iterdir())
    if at.exception:
        print("page exception:", [e.value for e in at.exception], file=sys.stderr)
    p = pstats.Stats(*files)
    total = sum(v[3] for k, v in p.stats.items() if k[2] == "<module>" and k[0].endswith("streamlit_app.py"))
    print(f"{args.view}: {len(files)} profiled reruns; script body {total / len(files) * 1000:.1f} ms per rerun")
    p.strip_dirs().sort_stats(args.sort).print_stats(args.top)


if __name__ == "__main__":
    main()
