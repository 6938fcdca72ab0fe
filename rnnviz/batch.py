"""The batch: characters -> vocabulary -> ids -> one padded tensor and the lengths."""

import unicodedata
from dataclasses import dataclass

import torch

PAD = "<pad>"


@dataclass(frozen=True)
class Batch:
    """A batch of character sequences, ready for nn.Embedding."""

    sequences: tuple[str, ...]
    vocab: tuple[str, ...]  # vocab[0] is <pad>, then the sorted characters
    ids: tuple[tuple[int, ...], ...]  # one list of ids per sequence, unpadded
    lengths: tuple[int, ...]
    padded: torch.Tensor  # (T, B) long, or (B, T) with batch_first
    batch_first: bool

    @property
    def max_length(self) -> int:
        """T, the padded length: the longest sequence's, or total_length's where the batch is padded further."""
        return self.padded.shape[1 if self.batch_first else 0]

    def token(self, t: int, b: int) -> str:
        """The token sequence b holds at time step t: a character or <pad>."""
        return self.sequences[b][t] if t < self.lengths[b] else PAD


def make_batch(sequences: tuple[str, ...], batch_first: bool = False, steps: int = 0) -> Batch:
    """Build the vocabulary, the ids and the zero-padded id tensor, as the blog does: padded to the longest sequence,
    or to steps where that is longer."""
    vocab = (PAD, *sorted(set("".join(sequences))))
    index = {ch: i for i, ch in enumerate(vocab)}
    ids = tuple(tuple(index[ch] for ch in seq) for seq in sequences)
    lengths = tuple(len(seq) for seq in ids)
    padded = torch.zeros(len(ids), max(*lengths, steps), dtype=torch.long)  # (B, T)
    for b, seq in enumerate(ids):
        padded[b, : len(seq)] = torch.tensor(seq, dtype=torch.long)
    if not batch_first:
        padded = padded.t().contiguous()  # (T, B)
    return Batch(tuple(sequences), vocab, ids, lengths, padded, batch_first)


def length_order(sequences) -> list[int]:
    """The sequences' indices by length, longest first, ties in their given order: batch[i] is sequences[order[i]]."""
    return sorted(range(len(sequences)), key=lambda b: -len(sequences[b]))


def char_label(token: str) -> str:
    """A visible, unambiguous label for a token: spaces, controls and combining marks made visible."""
    if token == PAD:
        return PAD
    if token == " ":
        return "␣"
    if token == "␣":
        return "U+2423"  # the real character, so it never reads as a space
    if unicodedata.combining(token):
        return "◌" + token
    if not token.isprintable():
        return f"U+{ord(token):04X}"
    return token
