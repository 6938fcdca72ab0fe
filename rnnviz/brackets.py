"""Bracket text: a seeded generator of brackets with letters between, and the depth at every character.

Every sequence starts at depth 0 and never leaves 0..max_depth. `depths[b][t]` is the depth *after*
reading `texts[b][t]`: it counts the bracket just read, so "(a)" has depths 1, 1, 0. That is what a
recurrent layer's state at t can know, having read t.

Sequences are not forced to be balanced: they stop where their length stops, with brackets maybe still
open (every sequence is the start of a balanced text). Forcing the last brackets shut would make them
depend on how many characters are left, so a model would have to count positions too; this way what
comes next depends on the depth alone, and the depth is all there is to learn.
"""

import math
import random

import torch

from rnnviz.batch import PAD

LETTERS = "abc"
TASK_VOCAB = (PAD, *sorted("()" + LETTERS))  # ('<pad>', '(', ')', 'a', 'b', 'c'): the project's vocab contract
MAX_DEPTH = 3
BRACKET_SEQUENCES = ("(a(b)c)ab", "((a)b)", "c(a)((b))(")  # a task's batch when none is given
OPEN = 0.25  # the chance of "(" below the deepest level
CLOSE_AT_MAX = 0.4  # the chance of ")" at the deepest level; it grows from 0 at depth 0 in proportion to the depth


def next_char_probs(depth: int, max_depth: int = MAX_DEPTH) -> dict[str, float]:
    """The generator's chance of each next character at a depth: the deeper, the likelier a close."""
    p_open = OPEN if depth < max_depth else 0.0
    p_close = CLOSE_AT_MAX * depth / max_depth
    p_letter = (1 - p_open - p_close) / len(LETTERS)
    return {"(": p_open, ")": p_close, **dict.fromkeys(LETTERS, p_letter)}


def bracket_text(
    n_sequences: int, length: int, seed: int, max_depth: int = MAX_DEPTH
) -> tuple[tuple[str, ...], tuple[tuple[int, ...], ...]]:
    """n_sequences texts of `length` characters and the depth after each character, from random.Random(seed)."""
    rng = random.Random(seed)
    texts, depths = [], []
    for _ in range(n_sequences):
        depth, chars, depth_row = 0, [], []
        for _ in range(length):
            probs = next_char_probs(depth, max_depth)
            ch = rng.choices(tuple(probs), weights=tuple(probs.values()))[0]
            depth += (ch == "(") - (ch == ")")
            chars.append(ch)
            depth_row.append(depth)
        texts.append("".join(chars))
        depths.append(tuple(depth_row))
    return tuple(texts), tuple(depths)


def encode(texts: tuple[str, ...]) -> torch.Tensor:
    """Texts of one length as TASK_VOCAB ids, time-major: (T, B) long."""
    index = {ch: i for i, ch in enumerate(TASK_VOCAB)}
    return torch.tensor([[index[ch] for ch in text] for text in texts], dtype=torch.long).t().contiguous()  # (T, B)


def generator_loss(texts: tuple[str, ...], depths: tuple[tuple[int, ...], ...], max_depth: int = MAX_DEPTH) -> float:
    """Mean -log p(next character | depth) under the generator: the best loss a left-to-right reader can expect."""
    surprises = [
        -math.log(next_char_probs(depth_row[t], max_depth)[text[t + 1]])
        for text, depth_row in zip(texts, depths, strict=True)
        for t in range(len(text) - 1)
    ]
    return sum(surprises) / len(surprises)
