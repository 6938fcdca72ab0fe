"""dashboard/server.py: what a server sets up once per process."""

import gc
import threading

import pytest
from apptest import fresh_app

from dashboard import server


def test_the_first_run_moves_the_imports_out_of_the_collectors_reach():
    """After the first run, torch's, pandas' and Streamlit's objects are frozen (a full collection skips them),
    once per process: a second session freezes nothing more."""
    fresh_app().run()
    fresh_app().run()
    assert gc.get_freeze_count() > 100_000
    assert server.freeze_imports.cache_info().misses == 1


def test_the_server_returns_large_freed_blocks_to_the_system(monkeypatch):
    """On glibc, mallopt(M_MMAP_THRESHOLD, 1 MiB) is accepted; the first run asks for it (bench/memory.py measures
    what it saves)."""
    assert server.return_large_blocks()
    asked = []
    monkeypatch.setattr(server, "return_large_blocks", lambda: asked.append(True))
    server.freeze_imports.cache_clear()
    fresh_app().run()
    assert asked == [True]


def in_a_thread(body) -> threading.Thread:
    """body running in a thread of its own (a session's script runs in one)."""
    thread = threading.Thread(target=body, daemon=True)
    thread.start()
    return thread


def test_runs_take_turns(monkeypatch):
    """A run that starts while another is running begins only when that one ends."""
    monkeypatch.setattr(server, "TURN_WAIT_S", 60)
    events, first_in, first_may_end = [], threading.Event(), threading.Event()

    def first():
        with server.turn():
            first_in.set()
            first_may_end.wait(10)
            events.append("first ends")

    def second():
        with server.turn():
            events.append("second begins")

    a = in_a_thread(first)
    assert first_in.wait(10)
    b = in_a_thread(second)
    b.join(0.3)
    assert events == []  # still waiting for its turn
    first_may_end.set()
    a.join(10)
    b.join(10)
    assert events == ["first ends", "second begins"]


def test_a_long_run_holds_the_next_one_up_for_turn_wait_s_only(monkeypatch):
    """Past TURN_WAIT_S, the next run goes ahead beside the long one; the turn is free once both are done."""
    monkeypatch.setattr(server, "TURN_WAIT_S", 0.05)
    long_in, long_may_end, second_in = threading.Event(), threading.Event(), threading.Event()

    def long_run():
        with server.turn():
            long_in.set()
            long_may_end.wait(10)

    def second():
        with server.turn():
            second_in.set()

    a = in_a_thread(long_run)
    assert long_in.wait(10)
    b = in_a_thread(second)
    assert second_in.wait(10)  # while the long run still holds its turn
    long_may_end.set()
    a.join(10)
    b.join(10)
    assert not server._TURN.locked()


def test_the_app_runs_in_turn(monkeypatch):
    """The dashboard's script waits for the turn (a run of another session holding it)."""
    monkeypatch.setattr(server, "TURN_WAIT_S", 60)
    at, done = fresh_app(), threading.Event()
    with server.turn():
        runner = in_a_thread(lambda: (at.run(), done.set()))
        assert not done.wait(1)
    runner.join(120)
    assert done.is_set() and not at.exception


def test_a_run_that_fails_gives_its_turn_back():
    """An exception (Streamlit stops a run with one when the next is asked for) ends the turn too."""
    with pytest.raises(RuntimeError), server.turn():
        raise RuntimeError("stopped")
    assert not server._TURN.locked()
