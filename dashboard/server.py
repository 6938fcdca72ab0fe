"""Once per server process, not per session or run: what every session's scripts share."""

import functools
import gc
import threading
from contextlib import contextmanager

TURN_WAIT_S = 0.05  # the longest a run waits for the one before it: a long one (training) never holds up a class
_TURN = threading.Lock()


@functools.cache
def freeze_imports():
    """Move every object alive at the first run (torch, pandas, altair, Streamlit: ~260k) out of the garbage
    collector's reach: a full collection walked them all, 120-140 ms holding the GIL while every session waited."""
    gc.freeze()


@contextmanager
def turn():
    """One session's run at a time: wait up to TURN_WAIT_S for the run before it to end, then go ahead anyway.

    Every session's script is a thread of this process, and they share one GIL: two runs interleaved both end late,
    one after the other the first ends early and the second no later.
    """
    mine = _TURN.acquire(timeout=TURN_WAIT_S)
    try:
        yield
    finally:
        if mine:
            _TURN.release()
