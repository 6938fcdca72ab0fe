"""Where each direction's run starts and ends, per sequence: the one source of the anatomy's marks (rnnviz.anatomy)
and of every position a catalog sentence names (rnnviz.relations).

The run that h_n keeps is the whole run, or the second chunk when carried over a split K. Forward, it goes from K
(0 whole) to the sequence's last real step when packed, else to T-1 through the <pad> steps; backward, it goes the
other way: it starts at that last step and ends at K.
"""

import numpy as np


def last_real(config, lengths, T: int):
    """The last step each sequence runs: len_b - 1 when packed, else T - 1 (the <pad> steps are read too)."""
    lengths = np.asarray(lengths)
    return lengths - 1 if config.packed else np.full_like(lengths, T - 1)


def first_step(config, lengths, T: int, direction):
    """Where direction d's run that h_n keeps starts, per sequence (direction: an int, or an array like lengths)."""
    return np.where(np.asarray(direction) == 1, last_real(config, lengths, T), config.chunk)


def last_step(config, lengths, T: int, direction):
    """Where direction d's run that h_n keeps ends, per sequence: where h_n[l*D + d, b] is taken."""
    return np.where(np.asarray(direction) == 1, config.chunk, last_real(config, lengths, T))
