"""dashboard/server.py: what a server sets up once per process."""

import gc

from apptest import fresh_app

from dashboard import server


def test_the_first_run_moves_the_imports_out_of_the_collectors_reach():
    """After the first run, torch's, pandas' and Streamlit's objects are frozen (a full collection skips them),
    once per process: a second session freezes nothing more."""
    fresh_app().run()
    fresh_app().run()
    assert gc.get_freeze_count() > 100_000
    assert server.freeze_imports.cache_info().misses == 1
