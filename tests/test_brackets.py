"""The bracket generator: depths recounted by hand, the depth bound, seeds, the vocab contract, the generator's loss."""

import math
import random
from collections import Counter

import torch
from hypothesis import given
from hypothesis import strategies as st

from rnnviz.batch import make_batch
from rnnviz.brackets import (
    CLOSE_AT_MAX,
    LETTERS,
    MAX_DEPTH,
    OPEN,
    TASK_VOCAB,
    bracket_text,
    encode,
    generator_loss,
    next_char_probs,
)


def recount(text: str) -> list[int]:
    """The depth after each character, by a plain counter."""
    depth, depths = 0, []
    for ch in text:
        depth += {"(": 1, ")": -1}.get(ch, 0)
        depths.append(depth)
    return depths


@given(
    n=st.integers(1, 6),
    length=st.integers(1, 40),
    seed=st.integers(0, 2**32 - 1),
    max_depth=st.integers(1, 6),
)
def test_depths_are_the_running_count_and_stay_in_bounds(n, length, seed, max_depth):
    texts, depths = bracket_text(n, length, seed, max_depth)
    assert len(texts) == len(depths) == n
    for text, depth_row in zip(texts, depths, strict=True):
        assert len(text) == length
        assert set(text) <= set(TASK_VOCAB[1:])
        assert list(depth_row) == recount(text)
        assert all(0 <= d <= max_depth for d in depth_row)


def test_depth_counts_the_bracket_just_read():
    texts, depths = bracket_text(20, 32, seed=0)
    for text, depth_row in zip(texts, depths, strict=True):
        for t in range(1, len(text)):
            step = depth_row[t] - depth_row[t - 1]
            assert step == {"(": 1, ")": -1}.get(text[t], 0)
        assert depth_row[0] == (text[0] == "(")  # every sequence starts at depth 0, before its first character


def test_the_deepest_level_is_reached():
    _, depths = bracket_text(200, 32, seed=1)
    assert max(max(row) for row in depths) == MAX_DEPTH


@given(seed=st.integers(0, 2**32 - 2))
def test_a_seed_gives_the_same_text_and_another_seed_another(seed):
    assert bracket_text(4, 32, seed) == bracket_text(4, 32, seed)
    assert bracket_text(4, 32, seed)[0] != bracket_text(4, 32, seed + 1)[0]


def test_the_global_random_generators_are_left_alone():
    torch_state, python_state = torch.random.get_rng_state(), random.getstate()
    bracket_text(5, 20, seed=3)
    assert torch.equal(torch.random.get_rng_state(), torch_state)
    assert random.getstate() == python_state


def test_task_vocab_follows_the_project_vocab_contract():
    texts, _ = bracket_text(50, 32, seed=0)
    assert ("<pad>", *sorted(set("".join(texts)))) == TASK_VOCAB
    batch = make_batch(texts)
    assert batch.vocab == TASK_VOCAB
    assert torch.equal(encode(texts), batch.padded)  # (T, B), the same ids as the dashboard's batch


@given(max_depth=st.integers(1, 8))
def test_next_char_probs_are_a_distribution_that_respects_the_bounds(max_depth):
    for depth in range(max_depth + 1):
        probs = next_char_probs(depth, max_depth)
        assert set(probs) == set(TASK_VOCAB[1:])
        assert all(p >= 0 for p in probs.values())
        assert math.isclose(sum(probs.values()), 1.0)
        assert (probs[")"] == 0) == (depth == 0)
        assert (probs["("] == 0) == (depth == max_depth)
        assert math.isclose(probs[")"], CLOSE_AT_MAX * depth / max_depth)


def test_the_text_follows_next_char_probs():
    texts, depths = bracket_text(1000, 32, seed=2)
    counts = {d: Counter() for d in range(MAX_DEPTH + 1)}
    for text, depth_row in zip(texts, depths, strict=True):
        for t in range(len(text) - 1):
            counts[depth_row[t]][text[t + 1]] += 1
    for depth, counter in counts.items():
        total = sum(counter.values())
        assert total > 2000
        for ch, p in next_char_probs(depth).items():
            assert abs(counter[ch] / total - p) < 0.02, (depth, ch)


def test_generator_loss_by_hand():
    # "(a)": after "(" (depth 1) comes "a"; after "a" (depth 1) comes ")". At depth 1 of 3:
    p_close = CLOSE_AT_MAX / 3
    p_letter = (1 - OPEN - p_close) / len(LETTERS)
    expected = (-math.log(p_letter) - math.log(p_close)) / 2
    assert math.isclose(generator_loss(("(a)",), ((1, 1, 0),), max_depth=3), expected)
