"""Gradients through time: how strongly each state of each layer and direction depends on each input step.

connectivity(result)[l, d, b, t, s] is the Frobenius norm of d h^(l,d)_t[b] / d x_s[b], x the embedded input.
Forward-mode autograd computes it: one tangent per input unit (s, e), a block of them at a time under vmap, pushed
through torch's own one-layer, one-direction modules rebuilt from the run's weights. A tangent seeded at x_s[:, e]
serves every sequence b at once (the sequences of a batch never mix) and every layer and direction it reaches.

Below: the checks the gradient relations report (numbers, not verdicts), and the cap on the cost.
"""

import threading
from functools import partial

import torch
from torch.func import jvp, vmap

from rnnviz.cells import CELLS
from rnnviz.config import Config, ConfigError, recurrent_weights
from rnnviz.model import BUILD_LOCK, detached, layer_modules, recurrent_module, reverse_steps, state_rows, to_state

# -----------------------------------------------------------------------------
# What the map models, and the cap: a cost model of connectivity() on the project's 2-core machine, one torch thread:
# the tangents' multiply-adds; the gate units they pass through (elementwise work, which dominates below H ~ 100);
# and a fixed cost per step of each layer and direction for every block of tangents (the ops' overhead). Fitted to
# 35 configs from 4 ms to 6 s (CPU time, bench/sec_gradients.py), it was within 0.77x to 1.3x of each; a busier
# machine (load 4 to 5 on the 2 cores) stretched times to 1.8x. A 1 s estimate keeps the largest maps under 2 s.

NS_PER_MULTIPLY_ADD = 0.069
NS_PER_GATE_UNIT = 9.5
MS_PER_STEP = 0.45
MAX_GRADIENT_SECONDS = 1.0
BLOCK_ELEMENTS = 2**21  # a block's tangents of the gates, seeds x T x B x D x gates x hidden: 16 MB, ~6 such at once

# torch's forward-mode levels are process-wide: two threads (two dashboard sessions) pushing tangents at once break
# each other's levels ("no level exists"). One map is computed at a time.
FORWARD_AD_LOCK = threading.Lock()


def block_steps(config: Config) -> int:
    """How many input steps s one block of tangents covers (all E units of each)."""
    c = config
    gate_rows = len(CELLS[c.cell].gates) * c.hidden
    per_step = c.embedding * max(map(len, c.sequences)) * len(c.sequences) * c.directions * gate_rows
    return max(1, BLOCK_ELEMENTS // per_step)


def gradient_seconds(config: Config) -> float:
    """The estimated time connectivity(run(config)) takes on the project's machine (the cost model above)."""
    c = config
    T, B, L, D = max(map(len, c.sequences)), len(c.sequences), c.layers, c.directions
    tangents = c.embedding * T * B * T  # seeds (s, e) x sequences x steps
    gate_units = L * D * len(CELLS[c.cell].gates) * c.hidden
    blocks = -(-T // block_steps(c))
    return (
        tangents * (recurrent_weights(c) * NS_PER_MULTIPLY_ADD + gate_units * NS_PER_GATE_UNIT) * 1e-9
        + blocks * T * L * D * MS_PER_STEP * 1e-3
    )


def check_gradients(config: Config) -> None:
    """Raise ConfigError where connectivity() would not model the run, or would take longer than allowed."""
    if config.h0 == "carry" and config.bidirectional:
        raise ConfigError(
            "The gradients map is for a run in one piece: a bidirectional run carried over two chunks is another "
            "function of its input. Set h0 to zeros or random, or turn bidirectional off."
        )
    if config.draws_masks:
        raise ConfigError("The gradients map is for eval mode: turn train mode off, or set dropout to 0.")
    seconds = gradient_seconds(config)
    if seconds > MAX_GRADIENT_SECONDS:
        raise ConfigError(
            f"The gradients map of this config would take about {seconds:.1f} s to compute, more than the "
            f"{MAX_GRADIENT_SECONDS} s allowed: use shorter or fewer sequences, fewer layers, or a smaller "
            "embedding or hidden size."
        )


# -----------------------------------------------------------------------------
# The stack, rebuilt in float64 from the run's weights, one forward-running module per layer and direction


def stack_modules(result) -> list[list[torch.nn.RNNBase]]:
    """[layer][direction]: a one-layer, one-direction float64 module holding that direction's weights."""
    c = result.config
    one_direction = c.replace(bidirectional=False)

    def make(inputs, bidirectional):
        return recurrent_module(one_direction, inputs, layers=1, batch_first=False).requires_grad_(False)

    weights = {name: w.double() for name, w in result.weights.items()}
    with BUILD_LOCK, torch.random.fork_rng(devices=[]):  # their random init is overwritten: leave the RNG alone
        return [layer_modules(make, weights, k, c.directions, per_direction=True) for k in range(c.layers)]


def inputs(result):
    """x (T, B, E) float64, the steps each sequence runs (T_b), and the initial state (float64; None for zeros)."""
    c = result.config
    x = result.embedded.transpose(0, 1) if c.batch_first else result.embedded
    x = x.double().contiguous()  # (T, B, E), laid out alike whatever batch_first: the same bits either way
    T, B, _ = x.shape
    state = None if c.h0 != "random" else result.h_0 if result.c_0 is None else (result.h_0, result.c_0)
    return x, result.batch.lengths if c.packed else (T,) * B, to_state(state, "cpu", torch.float64)


def state_columns(state, index):
    """The sequences `index` of a state: None, a tensor (L*D, B, .), or an LSTM's (h, c)."""
    if state is None or isinstance(state, torch.Tensor):
        return None if state is None else state[:, index]
    return tuple(s[:, index] for s in state)


def layer_output(modules, x: torch.Tensor, lengths, state) -> torch.Tensor:
    """One layer's output (T, B, D*H) for its input x (T, B, .), from its rows of the initial state (None: zeros).

    The backward module runs forward over each sequence reversed within its length: exactly a packed run (a plain
    one when every length is T), yet without pack_padded_sequence, which has no forward-mode derivative. Steps past
    a length hold values a packed run never computes; they reach no real step: each direction reads only its past.
    """
    outputs = []
    for d, rnn in enumerate(modules):
        output, _ = rnn(x if d == 0 else reverse_steps(x, lengths), state_rows(state, d, d + 1))  # (T, B, H)
        outputs.append(output if d == 0 else reverse_steps(output, lengths))
    return torch.cat(outputs, dim=2)


def detached_layer_output(modules, x: torch.Tensor, lengths, state, split: int) -> torch.Tensor:
    """One forward-only layer's output (T, B, H) run in two chunks, steps [0, split) then [split, T), the second from
    the first's final state detached (truncated backprop): no derivative crosses the split through the state.

    Every sequence runs all T steps, as in layer_output (packed, each is longer than the split: its final state at
    split - 1 is the one carried)."""
    (rnn,) = modules
    first, carried = rnn(x[:split], state)  # (split, B, H)
    second, _ = rnn(x[split:], detached(carried))  # (T - split, B, H)
    return torch.cat([first, second])


def layer_function(config: Config):
    """How the map runs one layer: layer_output, or for a detached carry detached_layer_output at the split."""
    return partial(detached_layer_output, split=config.chunk) if config.detach else layer_output


def states(layers, x: torch.Tensor, lengths, state, run_layer=layer_output) -> tuple[torch.Tensor, ...]:
    """Every layer's output for x (T, B, E): L tensors (T, B, D*H); run_layer: see layer_function."""
    outputs = []
    for k, modules in enumerate(layers):
        D = len(modules)
        x = run_layer(modules, x, lengths=lengths, state=state_rows(state, k * D, (k + 1) * D))
        outputs.append(x)
    return tuple(outputs)


# -----------------------------------------------------------------------------
# The map


def connectivity(result) -> torch.Tensor:
    """(L, D, B, T, T) float64: [l, d, b, t, s] = ||d h^(l,d)_t[b] / d x_s[b]||_F, 0 where t was never run.

    From the run's h_0 (zeros or random; a unidirectional carry is the whole run, or with detach the two chunks, the
    state between them detached); check_gradients says what else it refuses. Computed in float64 whatever the run's
    dtype: the weights and embeddings of a float32 run are exact in float64, and torch's float32 LSTM kernel on the
    CPU (oneDNN) has no forward-mode derivative.
    """
    c = result.config
    check_gradients(c)
    x, lengths, state = inputs(result)
    T, B, E = x.shape
    layers = stack_modules(result)
    run_layer = layer_function(c)

    def squares(seed):
        """A tangent (T, B, E) -> (L, T, B, D): its square at every state, summed over the state's units."""
        h, tangent, out = x, seed, []
        for k, modules in enumerate(layers):
            rows = state_rows(state, k * c.directions, (k + 1) * c.directions)
            h, tangent = jvp(partial(run_layer, modules, lengths=lengths, state=rows), (h,), (tangent,))
            out.append(tangent.view(T, B, c.directions, -1).pow(2).sum(3))
        return torch.stack(out)

    seeds = torch.eye(T * E, dtype=x.dtype).view(T * E, T, 1, E).expand(T * E, T, B, E)  # seed (s, e): 1 at x[s, :, e]
    with FORWARD_AD_LOCK, torch.no_grad():
        summed = torch.cat([vmap(squares)(block) for block in seeds.split(block_steps(c) * E)])  # (T*E, L, T, B, D)
    values = summed.view(T, E, c.layers, T, B, c.directions).sum(1).sqrt().permute(1, 4, 3, 2, 0)  # (L, D, B, T, S)
    ran = torch.arange(T).view(1, T) < torch.tensor(lengths).view(B, 1)  # (B, T): t < T_b
    return torch.where(ran.view(B, T, 1), values, 0)


# -----------------------------------------------------------------------------
# The checks: each returns numbers; the relations decide


# Central differences in float64: truncation ~ FD_STEP^2 * |h'''|, rounding ~ 1e-16 * |h| / FD_STEP; measured over
# 2400 sampled entries of 150 random configs (ReLU included), the largest error was 1e-9 at FD_STEP = 1e-6
# (1e-10 at 1e-5, 8e-9 at 1e-7). The tolerance leaves a factor 1000 for that, and a smaller step makes it unlikely
# that a ReLU kink lies within the step. A wrong derivative is off by a fraction of the norm itself.
FD_STEP = 1e-6
FD_TOLERANCE = 1e-6  # rtol and atol of allclose(autograd, finite differences)


def finite_difference_check(result, values: torch.Tensor, samples: int = 8, seed: int = 0):
    """Sampled entries of values, and the same entries by float64 central differences: two (samples,) tensors.

    Entries are drawn by a generator of their own (the global RNG is left alone), among the steps each sequence
    runs (t, s < T_b). The differences run the stack itself on nudged copies of the sequence: no tangent involved.
    With detach, an entry across the split (t >= K > s) is moved to an input of the second chunk: there the map is 0
    by the cut, while the numbers (which differences see) still depend on that input.
    """
    L, D, B, T, _ = values.shape
    x, lengths, state = inputs(result)
    E = x.shape[2]
    layers = stack_modules(result)
    cut, run_layer = result.config.chunk if result.config.detach else 0, layer_function(result.config)
    generator = torch.Generator().manual_seed(seed)
    units = torch.arange(E)
    autograd, differences = [], []
    for _ in range(samples):
        layer, direction, b = (int(torch.randint(n, (), generator=generator)) for n in (L, D, B))
        t, s = torch.randint(lengths[b], (2,), generator=generator).tolist()
        if t >= cut > s:
            s = cut + s % (lengths[b] - cut)  # (packed, every sequence is longer than the split)
        nudges = torch.zeros(T, 2, E, E, dtype=x.dtype)  # copy (sign, e) of sequence b moves x_s[b, e] by +-FD_STEP
        nudges[s, 0, units, units], nudges[s, 1, units, units] = FD_STEP, -FD_STEP
        copies = x[:, b].view(T, 1, E) + nudges.view(T, 2 * E, E)  # (T, 2*E, E)
        with torch.no_grad():
            every = states(layers, copies, (lengths[b],) * 2 * E, state_columns(state, [b] * 2 * E), run_layer)
        h = every[layer][t].view(2, E, D, -1)[:, :, direction]  # (2*E, D*H) -> (2, E, H)
        differences.append(torch.linalg.vector_norm((h[0] - h[1]) / (2 * FD_STEP)))  # the (H, E) block's norm
        autograd.append(values[layer, direction, b, t, s])
    return torch.stack(autograd), torch.stack(differences)
