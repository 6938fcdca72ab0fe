"""The loop a recurrent module runs, written out in Python: nn.RNNCell, nn.LSTMCell or nn.GRUCell, one a layer and
direction holding the module's weights, stepped over time.

Plain torch with plain arguments, so the exported script carries their very source. An LSTM with
proj_size has no cell: nn.LSTMCell's state h is hidden_size wide, while the projected layer feeds back proj_size
numbers through a weight_hh of (4*hidden, proj); the comparison does not apply to it.
"""

import torch
from torch import nn


def make_cells(make, weights, layers, directions):
    """cells[l][d]: an empty cell from make(input_size), given layer l, direction d's weights (no copy: their own
    tensors, their dtype)."""
    cells = []
    for layer in range(layers):
        row = []
        for d in range(directions):
            suffix = f"_l{layer}" + ("_reverse" if d else "")
            w = {name: weights[name + suffix] for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
            cell = make(w["weight_ih"].shape[1])
            cell.load_state_dict(w, assign=True)
            row.append(cell)
        cells.append(row)
    return cells


def cell_loop(cells, x, lengths, h_0, c_0):
    """The stack stepped by hand: cells[l][d] on time-major x (T, B, E), sequence b stepping only while t < lengths[b]
    (forward from t = 0, backward from its last step, lengths[b] - 1), each layer reading the one below's directions
    side by side; from h_0 (and c_0) (L*D, B, H), or zeros where None. Returns output (T, B, D*H), h_n (L*D, B, H) and
    c_n (an LSTM's, else None)."""
    T, B, _ = x.shape
    live = torch.arange(T)[:, None] < torch.tensor(lengths)[None, :]  # (T, B): t is a real step of sequence b
    lstm = isinstance(cells[0][0], nn.LSTMCell)
    h_n, c_n = [], []
    for layer, row in enumerate(cells):
        outputs = []
        for d, cell in enumerate(row):
            k = layer * len(row) + d
            h = x.new_zeros(B, cell.hidden_size) if h_0 is None else h_0[k]  # (B, H)
            c = x.new_zeros(B, cell.hidden_size) if c_0 is None else c_0[k]  # (B, H), an LSTM's cell state
            out = x.new_zeros(T, B, cell.hidden_size)  # (T, B, H): zeros past each length
            for t in reversed(range(T)) if d else range(T):
                keep = live[t, :, None]  # (B, 1)
                if lstm:
                    new_h, new_c = cell(x[t], (h, c))
                    c = torch.where(keep, new_c, c)
                else:
                    new_h = cell(x[t], h)
                h = torch.where(keep, new_h, h)
                out[t] = torch.where(keep, h, 0)
            outputs.append(out)
            h_n.append(h)
            c_n.append(c)
        x = torch.cat(outputs, dim=2)  # (T, B, D*H): the next layer's input
    return x, torch.stack(h_n), torch.stack(c_n) if lstm else None
