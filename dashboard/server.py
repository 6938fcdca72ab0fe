"""Once per server process, not per session or run: what every session's scripts share."""

import ctypes
import functools
import gc
import threading
from contextlib import contextmanager

TURN_WAIT_S = 0.05  # the longest a run waits for the one before it: a long one (training) never holds up a class
_TURN = threading.Lock()
M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter
MMAP_THRESHOLD = 2**20  # blocks this large or larger are mapped, and go back to the system when freed


@functools.cache
def freeze_imports():
    """Once per server: move every object alive at the first run (torch, pandas, altair, Streamlit: ~260k) out of
    the garbage collector's reach (a full collection walked them all, 120-140 ms holding the GIL while every session
    waited); and have glibc hand freed tensors of 1 MiB or more back to the system (it kept 76-108 MB of a gradients
    map's 19 MB resident after it was freed; docs/performance.md)."""
    gc.freeze()
    return_large_blocks()


def return_large_blocks() -> bool:
    """glibc's mallopt(M_MMAP_THRESHOLD, 1 MiB): a fixed threshold instead of one that grows with each large free.
    Returns whether it was set (False off glibc)."""
    try:
        return bool(ctypes.CDLL("libc.so.6").mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD))
    except (OSError, AttributeError):
        return False


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
