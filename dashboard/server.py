"""Once per server process, not per session or run: what every session's scripts share."""

import functools
import gc


@functools.cache
def freeze_imports():
    """Move every object alive at the first run (torch, pandas, altair, Streamlit: ~260k) out of the garbage
    collector's reach: a full collection walked them all, 120-140 ms holding the GIL while every session waited."""
    gc.freeze()
