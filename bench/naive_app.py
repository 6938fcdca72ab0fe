"""The baseline: the blog's code pasted into a Streamlit script, recomputed on every run, no caching.

It builds the vocabulary and the padded batch, seeds, builds nn.Embedding(15, 5) and nn.RNN(5, 5),
runs the forward pass and shows output, h_n and one badge. The toggle is a dummy control: changing it
only triggers a rerun, which is what the benchmark times.
"""

import streamlit as st
import torch
from torch import nn

st.toggle("dummy control (reruns the script)", key="dummy")

data = ["long_str", "tiny", "medium"]
vocab = ["<pad>", *sorted({char for seq in data for char in seq})]
vectorized = [[vocab.index(tok) for tok in seq] for seq in data]
lengths = torch.LongTensor([len(seq) for seq in vectorized])
sequence_tensor = torch.zeros(len(vectorized), int(lengths.max()), dtype=torch.long)  # (B, T)
for idx, (seq, seq_len) in enumerate(zip(vectorized, lengths, strict=True)):
    sequence_tensor[idx, :seq_len] = torch.LongTensor(seq)
sequence_tensor = sequence_tensor.t()  # (T, B), time-major

torch.manual_seed(0)
embedding = nn.Embedding(len(vocab), 5)  # len(vocab) == 15
rnn = nn.RNN(5, 5)
with torch.no_grad():
    output, h_n = rnn(embedding(sequence_tensor))  # (T, B, H), (1, B, H)

st.dataframe(output.reshape(-1, 5).numpy())
st.dataframe(h_n.reshape(-1, 5).numpy())
holds = torch.equal(output[-1], h_n[-1])
st.badge("final-output-is-h_n", color="green" if holds else "red")
