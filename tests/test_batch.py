"""The batch: vocabulary, ids, zero padding, lengths and layouts, against the blog's own numbers."""

import unicodedata

import pytest
import torch
from conftest import sequences
from hypothesis import given
from hypothesis import strategies as st

from rnnviz.batch import PAD, char_label, make_batch

BLOG = ("long_str", "tiny", "medium")
BLOG_VOCAB = ["<pad>", "_", "d", "e", "g", "i", "l", "m", "n", "o", "r", "s", "t", "u", "y"]
BLOG_IDS = [[6, 9, 8, 4, 1, 11, 12, 10], [12, 5, 8, 14], [7, 3, 2, 5, 13, 7]]
BLOG_PADDED = [  # the blog's sequence_tensor before .t(): (B, T)
    [6, 9, 8, 4, 1, 11, 12, 10],
    [12, 5, 8, 14, 0, 0, 0, 0],
    [7, 3, 2, 5, 13, 7, 0, 0],
]


# -----------------------------------------------------------------------------
# The blog's batch, number for number


def test_blog_vocab_ids_and_lengths():
    batch = make_batch(BLOG)
    assert list(batch.vocab) == BLOG_VOCAB
    assert [list(seq) for seq in batch.ids] == BLOG_IDS
    assert batch.lengths == (8, 4, 6)
    assert batch.max_length == 8
    assert batch.sequences == BLOG


def test_blog_padded_tensor_time_major():
    batch = make_batch(BLOG)
    assert batch.padded.dtype == torch.long
    assert batch.padded.shape == (8, 3)  # [max_len, batch_size], as the blog's sequence_tensor.t()
    assert torch.equal(batch.padded, torch.tensor(BLOG_PADDED).t())
    assert batch.padded.is_contiguous()
    assert not batch.batch_first


def test_blog_padded_tensor_batch_first():
    batch = make_batch(BLOG, batch_first=True)
    assert batch.padded.shape == (3, 8)
    assert torch.equal(batch.padded, torch.tensor(BLOG_PADDED))
    assert batch.batch_first


def test_blog_tokens():
    batch = make_batch(BLOG)
    assert [batch.token(t, 1) for t in range(8)] == ["t", "i", "n", "y", PAD, PAD, PAD, PAD]
    assert "".join(batch.token(t, 0) for t in range(8)) == "long_str"
    assert batch.token(5, 2) == "m" and batch.token(6, 2) == PAD


def test_pad_is_id_zero_and_never_a_character_id():
    batch = make_batch(("<pad>", "<"))  # the characters of "<pad>" are ordinary characters
    assert batch.vocab[0] == PAD == "<pad>"
    assert batch.vocab == ("<pad>", "<", ">", "a", "d", "p")
    assert all(i > 0 for seq in batch.ids for i in seq)
    assert batch.lengths == (5, 1)


# -----------------------------------------------------------------------------
# Any text


@given(sequences(max_sequences=6, max_length=9), st.booleans())
def test_any_batch(seqs, batch_first):
    batch = make_batch(seqs, batch_first)
    chars = sorted(set("".join(seqs)))
    assert list(batch.vocab) == ["<pad>", *chars]
    assert batch.lengths == tuple(len(s) for s in seqs)
    B, T = len(seqs), max(len(s) for s in seqs)
    padded = batch.padded if batch_first else batch.padded.t()  # (B, T)
    assert batch.padded.shape == ((B, T) if batch_first else (T, B))
    assert padded.dtype == torch.long
    for b, s in enumerate(seqs):
        assert batch.ids[b] == tuple(batch.vocab.index(ch) for ch in s)
        assert padded[b].tolist() == [batch.vocab.index(ch) for ch in s] + [0] * (T - len(s))
        assert "".join(batch.vocab[i] for i in batch.ids[b]) == s
        for t in range(T):
            assert batch.token(t, b) == (s[t] if t < len(s) else PAD)


@given(sequences())
def test_layouts_are_transposes(seqs):
    assert torch.equal(make_batch(seqs, batch_first=True).padded, make_batch(seqs).padded.t())


# -----------------------------------------------------------------------------
# char_label: visible and unambiguous


@pytest.mark.parametrize(
    ("token", "label"),
    [
        ("<pad>", "<pad>"),
        (" ", "␣"),
        ("␣", "U+2423"),  # the real character, so it never reads as a space
        ("a", "a"),
        ("é", "é"),
        ("🙂", "🙂"),
        ('"', '"'),
        ("\\", "\\"),
        ("\x00", "U+0000"),
        ("\t", "U+0009"),
        ("\n", "U+000A"),
        ("\x7f", "U+007F"),
        ("\u00a0", "U+00A0"),  # no-break space
        ("\u202e", "U+202E"),  # right-to-left override
        ("\u200b", "U+200B"),  # zero width space
        ("\u0301", "◌\u0301"),  # combining acute accent, shown on a dotted circle
        ("\u0308", "◌\u0308"),
        ("\U000e0001", "U+E0001"),  # language tag: five hex digits
    ],
)
def test_char_label(token, label):
    assert char_label(token) == label


@given(st.characters(exclude_categories=("Cs",)))
def test_char_label_is_visible(ch):
    label = char_label(ch)
    assert label and label.isprintable()
    assert not label.isspace()
    if ch.isprintable() and ch not in (" ", "␣") and not unicodedata.combining(ch):  # ␣ stands for the space
        assert label == ch
    elif not ch.isprintable():
        assert label == f"U+{ord(ch):04X}"


@given(st.characters(exclude_categories=("Cs",)), st.characters(exclude_categories=("Cs",)))
def test_char_label_distinguishes_characters_other_than_the_space_sign(a, b):
    if a != b and "␣" not in (a, b):
        assert char_label(a) != char_label(b)


def test_char_label_space_and_open_box_differ():
    assert char_label(" ") != char_label("␣")
