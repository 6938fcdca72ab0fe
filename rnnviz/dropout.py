"""The dropout masks a train-mode forward drew: which units of each layer's output were zeroed, at every step.

On the CPU, torch's recurrent layer applies dropout between layers with at::dropout on each layer's output but the
last: one Bernoulli(1 - P) draw per element of that (T, B, D*H) tensor, all steps at once (of its packed data when
packed), chunk by chunk, layer by layer, from the CPU generator. Only shapes decide what is drawn, so the masks come
again from the generator's state where the forward began drawing (RunResult.masks_state), without running a layer.
"""

import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


def draw_masks(state, p, dtype, lengths, packed, split, layers, width):
    """The masks drawn from the generator state `state`: layers - 1 bool tensors (T, B, width), True where a unit
    was zeroed (packed, steps past a length draw nothing: False). The generator is put back afterwards."""
    T, B = max(lengths), len(lengths)
    zeroed = [[] for _ in range(layers - 1)]
    with torch.random.fork_rng(devices=[]):
        torch.set_rng_state(state)
        for start, stop in [(0, T)] if not split else [(0, split), (split, T)]:
            steps = [min(max(n - start, 0), stop - start) for n in lengths]
            for chunks in zeroed:
                output = torch.empty(stop - start, B, width, dtype=dtype)  # (T', B, D*H): the layer's output
                if not packed:
                    kept = output.bernoulli_(1 - p)  # 1: kept (then scaled by 1/(1-P)), 0: zeroed
                else:
                    sequence = pack_padded_sequence(output, torch.tensor(steps), enforce_sorted=False)
                    sequence = sequence._replace(data=sequence.data.bernoulli_(1 - p))  # (sum of steps, D*H)
                    kept = pad_packed_sequence(sequence, padding_value=1.0, total_length=stop - start)[0]
                chunks.append(kept == 0)  # (T', B, D*H)
    return tuple(torch.cat(chunks) for chunks in zeroed)


def shared_across_time(zeroed, lengths, packed):
    """The variational-dropout claim for masks zeroed (L-1, T, B, D*H): each sequence's step-0 mask at every step it
    has (packed: its real steps), nothing zeroed past them."""
    T = zeroed.shape[1]
    steps = torch.tensor(lengths if packed else [T] * len(lengths))
    real = torch.arange(T)[:, None] < steps[None, :]  # (T, B)
    return zeroed[:, :1] & real[None, :, :, None]  # (L-1, T, B, D*H)


def masks(result) -> tuple[torch.Tensor, ...]:
    """The masks result's forward drew (train mode with dropout, two layers or more): L-1 bool tensors (T, B, D*H),
    time-major whatever batch_first, True where a unit of that layer's output was zeroed."""
    c = result.config
    width = c.directions * c.state_size
    dtype = getattr(torch, c.dtype)
    return draw_masks(result.masks_state, c.dropout, dtype, result.batch.lengths, c.packed, c.chunk, c.layers, width)
