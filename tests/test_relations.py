"""The relation catalog: each relation has its own test below, which recomputes from the tensors here (never from
rnnviz's expressions) whether it applies, its kind by docs/catalog.md's table, and whether its claim holds; then
properties that every relation shares: kinds fixed by the config alone, the shown expression is what ran, no red
for any corner of the configuration space (trained weights included), and red for a bug made on purpose."""

import dataclasses
import warnings

import pytest
import torch
import torch.nn.functional as F
from conftest import DEVICES, around_configs, configs, sequences, time_major
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnnviz import Config, analyse, comparisons, recompute, run
from rnnviz.relations import CATALOG, CUDA_TOLERANCE, RECOMPUTE_TOLERANCE, Relation, check_relations

# The extended configs run other runs and rebuilds for every relation: fewer examples per test keep the module fast
# (the properties below and the CI's thorough profile draw more).
FEW = settings(max_examples=20)


def by_id(relations) -> dict[str, Relation]:
    ids = [r.id for r in relations]
    assert len(ids) == len(set(ids)), ids
    return {r.id: r for r in relations}


class Run:
    """A run seen time-major, with the sizes the tests need, computed here."""

    def __init__(self, config: Config):
        self.config = config
        self.result, self.reference, relations = analyse(config)
        self.relations = by_id(relations)
        self.out = time_major(self.result.output, config.batch_first)  # (T, B, D*H)
        self.L, self.D, self.B = config.layers, 2 if config.bidirectional else 1, len(config.sequences)
        self.H = config.proj or config.hidden
        self.lengths = [len(s) for s in config.sequences]
        self.T = max(self.lengths)
        self.short = any(n < self.T for n in self.lengths)
        self.hv = self.result.h_n.view(self.L, self.D, self.B, self.H)  # (L, D, B, H)


def assert_relation(run_: Run, rid: str, applies: bool, guaranteed: bool = True, holds: bool = True):
    """The relation applies or not; if it does, its kind, and whether its claim holds, as computed by the test."""
    assert (rid in run_.relations) == applies, rid
    if applies:
        rel = run_.relations[rid]
        assert rel.kind == ("guaranteed" if guaranteed else "lesson"), rid
        assert rel.holds == holds, rid
        assert rel.expected == guaranteed


def all_equal(pairs) -> bool:
    return all(torch.equal(a, b) for a, b in pairs)


def tolerance(config: Config) -> float:
    return {"float32": 1e-5, "float64": 1e-10}[config.dtype]


def all_close(config: Config, pairs) -> bool:
    tol = tolerance(config)
    return all(torch.allclose(a, b, atol=tol, rtol=tol) for a, b in pairs if a is not None or b is not None)


def same_run(a, b, close_to=None) -> bool:
    """output, h_n and c_n of two runs: equal, or (close_to: a Config) allclose at its dtype's tolerance."""
    pairs = [(a.output, b.output), (a.h_n, b.h_n), (a.c_n, b.c_n)]
    return all_close(close_to, pairs) if close_to else all_equal(p for p in pairs if p[0] is not None)


def split_at(config: Config, T: int) -> int:
    """K, where a carry splits: the config's split, or T // 2 for 0; 0 when not carrying."""
    return (config.split or T // 2) if config.h0 == "carry" else 0


@dataclasses.dataclass(frozen=True)
class Own:
    """A run recomputed here: output laid out like the run's, h_n, c_n and hv = h_n.view(L, D, B, H)."""

    output: torch.Tensor
    h_n: torch.Tensor
    c_n: torch.Tensor | None
    hv: torch.Tensor


def own_stack(result, backward: str = "_reverse"):
    """The run recomputed here, one sequence, layer and direction at a time, with one-layer, one-direction modules
    (the backward one on the sequence's steps flipped), from the same h_0, in the same chunks, dropped with the same
    masks."""
    c = result.config
    L, D, H, B = c.layers, 2 if c.bidirectional else 1, c.proj or c.hidden, len(c.sequences)
    x = time_major(result.embedded, c.batch_first)  # (T, B, E)
    T, lengths, lstm = x.shape[0], result.batch.lengths, c.cell == "lstm"
    K = split_at(c, T)
    random = c.h0 == "random"
    h = [result.h_0[k].clone() if random else x.new_zeros(B, H) for k in range(L * D)]
    cell = [result.c_0[k].clone() if random and lstm else x.new_zeros(B, c.hidden) for k in range(L * D)]
    modules = []
    for k in range(L * D):
        layer, d = divmod(k, D)
        options = {"nonlinearity": c.nonlinearity} if c.cell == "rnn" else {"proj_size": c.proj} if lstm else {}
        with torch.random.fork_rng(devices=[]):
            module = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[c.cell](
                result.weights[f"weight_ih_l{layer}"].shape[1], c.hidden, **options
            ).to(x.dtype)
        suffix = f"_l{layer}" + (backward if d else "")
        module.load_state_dict({name: result.weights[name.replace("_l0", suffix)] for name in module.state_dict()})
        modules.append(module)
    masks = c.train_mode and c.dropout > 0 and L >= 2
    tops = []
    with torch.random.fork_rng(devices=[]), torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if masks:
            torch.set_rng_state(result.masks_state)
        for start, stop in [(0, T)] if not K else [(0, K), (K, T)]:
            steps = [min(n, stop) - start if c.packed else stop - start for n in lengths]
            inputs = x[start:stop]  # (Tc, B, .)
            for layer in range(L):
                out = x.new_zeros(stop - start, B, D * H)  # (Tc, B, D*H)
                for d in range(D):
                    k = layer * D + d
                    for b, n in enumerate(steps):
                        seq = inputs[:n, b : b + 1].flip(0) if d else inputs[:n, b : b + 1]  # (n, 1, .)
                        state = (h[k][b][None, None], cell[k][b][None, None])
                        o, new = modules[k](seq, state if lstm else state[0])
                        out[:n, b, d * H : (d + 1) * H] = (o.flip(0) if d else o)[:, 0]
                        h[k][b], cell[k][b] = (new[0][0, 0], new[1][0, 0]) if lstm else (new[0, 0], cell[k][b])
                inputs = out
                if masks and layer < L - 1:
                    if not c.packed:
                        inputs = F.dropout(out, c.dropout, training=True)
                    else:
                        seq = pack_padded_sequence(out, torch.tensor(steps), enforce_sorted=False)
                        seq = seq._replace(data=F.dropout(seq.data, c.dropout, training=True))
                        inputs = pad_packed_sequence(seq, total_length=stop - start)[0]
            tops.append(out)
    output = torch.cat(tops)  # (T, B, D*H)
    h_n = torch.stack(h)  # (L*D, B, H)
    layout = output.transpose(0, 1) if c.batch_first else output
    return Own(layout, h_n, torch.stack(cell) if lstm else None, h_n.view(L, D, B, H))


# -----------------------------------------------------------------------------
# One test per catalog entry (test_<entry function's name>); the next test checks that none is missing


def test_every_catalog_entry_has_its_own_test():
    missing = [e.spec.__name__ for e in CATALOG if f"test_{e.spec.__name__}" not in globals()]
    assert missing == []


@FEW
@given(configs(extended=True))
def test_output_shape(config):
    r = Run(config)
    lead = (r.B, r.T) if config.batch_first else (r.T, r.B)
    assert_relation(r, "output-shape", True, holds=tuple(r.result.output.shape) == (*lead, r.D * r.H))


@FEW
@given(configs(extended=True))
def test_h_n_shape(config):
    r = Run(config)
    assert_relation(r, "h_n-shape", True, holds=tuple(r.result.h_n.shape) == (r.L * r.D, r.B, r.H))


@FEW
@given(configs(extended=True))
def test_c_n_shape(config):
    r = Run(config)
    lstm = config.cell == "lstm"
    assert_relation(r, "c_n-shape", lstm, holds=lstm and tuple(r.result.c_n.shape) == (r.L * r.D, r.B, config.hidden))


@FEW
@given(configs(extended=True))
def test_h_n_layout(config):
    r = Run(config)
    pairs = [(r.hv[layer, d], r.result.h_n[layer * r.D + d]) for layer in range(r.L) for d in range(r.D)]
    assert_relation(r, "h_n-layout", True, holds=all_equal(pairs))


@FEW
@given(configs(extended=True))
def test_final_output_is_forward_h_n(config):
    r = Run(config)
    guaranteed = not config.packed or not r.short
    assert_relation(r, "final-output-is-forward-h_n", True, guaranteed, torch.equal(r.out[-1, :, : r.H], r.hv[-1, 0]))


@FEW
@given(configs(extended=True))
def test_true_last_step_is_h_n(config):
    r = Run(config)
    pairs = [(r.out[n - 1, b, : r.H], r.hv[-1, 0, b]) for b, n in enumerate(r.lengths)]
    assert_relation(r, "true-last-step-is-h_n", True, config.packed or not r.short, all_equal(pairs))


@FEW
@given(configs(extended=True))
def test_first_output_is_backward_h_n(config):
    r = Run(config)
    bi = config.bidirectional
    holds = bi and torch.equal(r.out[0, :, r.H :], r.hv[-1, 1])
    assert_relation(r, "first-output-is-backward-h_n", bi, config.h0 != "carry", holds)  # carried: it ends at K


@FEW
@given(configs(extended=True))
def test_final_output_backward_is_h_n(config):
    r = Run(config)
    bi = config.bidirectional
    holds = bi and torch.equal(r.out[-1, :, r.H :], r.hv[-1, 1])
    assert_relation(r, "final-output-backward-is-h_n", bi, split_at(config, r.T) == r.T - 1, holds)


@FEW
@given(configs(extended=True))
def test_lower_layer_h_n_is_final_output(config):
    r = Run(config)
    ends = [(n if config.packed else r.T) - 1 for n in r.lengths]
    pairs = [(r.out[t, b, : r.H], r.hv[0, 0, b]) for b, t in enumerate(ends)]
    holds = all_equal(pairs)
    assert_relation(r, "lower-layer-h_n-is-final-output", r.L >= 2, False, holds)


@FEW
@given(configs(extended=True))
def test_padding_output_is_zero(config):
    r = Run(config)
    applies = config.packed and r.short
    holds = all(not r.out[n:, b].any() for b, n in enumerate(r.lengths))
    assert_relation(r, "padding-output-is-zero", applies, holds=holds)


@FEW
@given(configs(extended=True))
def test_h_0_shape(config):
    r = Run(config)
    applies = config.h0 != "zeros"
    shapes = [(r.result.h_0, (r.L * r.D, r.B, r.H))]
    if config.cell == "lstm":
        shapes.append((r.result.c_0, (r.L * r.D, r.B, config.hidden)))
    holds = applies and all(tuple(t.shape) == shape for t, shape in shapes)
    assert_relation(r, "h_0-shape", applies, holds=holds)


@FEW
@given(configs(extended=True))
def test_chunks_equal_whole(config):
    r = Run(config)
    masks = config.train_mode and config.dropout > 0 and r.L >= 2
    applies = config.h0 == "carry" and not masks  # in train mode each call draws masks of its own
    holds = applies and same_run(r.result, run(config.replace(h0="zeros", split=0, detach=False)), close_to=config)
    assert_relation(r, "chunks-equal-whole", applies, not config.bidirectional, holds)


@FEW
@given(configs(extended=True, bidirectional=False, h0="carry", dropout=0.0))
def test_chunks_equal_whole_holds_for_a_unidirectional_layer(config):
    assert Run(config).relations["chunks-equal-whole"].verdict == "holds"


@FEW
@given(configs(extended=True, train_mode=True, dropout=0.5), st.integers(2, 4))
def test_layer_0_h_n_unaffected_by_dropout(config, layers):
    config = config.replace(layers=layers)
    r = Run(config)
    evaluated = run(config.replace(train_mode=False))
    pairs = [(r.result.h_n[: r.D], evaluated.h_n[: r.D])]
    if config.cell == "lstm":
        pairs.append((r.result.c_n[: r.D], evaluated.c_n[: r.D]))
    assert_relation(r, "layer-0-h_n-unaffected-by-dropout", True, holds=all_equal(pairs))


@FEW
@given(configs(extended=True))
def test_layer_0_h_n_unaffected_by_dropout_applies_to_dropout_in_train_mode(config):
    r = Run(config)
    applies = config.train_mode and config.dropout > 0 and r.L >= 2
    assert ("layer-0-h_n-unaffected-by-dropout" in r.relations) == applies
    if applies:
        assert r.relations["layer-0-h_n-unaffected-by-dropout"].verdict == "holds"


@FEW
@given(configs(extended=True))
def test_train_equals_eval(config):
    r = Run(config)
    applies = config.train_mode or config.dropout > 0
    guaranteed = config.dropout == 0 or r.L == 1 or not config.train_mode
    holds = applies and same_run(r.result, run(config.replace(train_mode=False)))
    assert_relation(r, "train-equals-eval", applies, guaranteed, holds)


@FEW
@given(configs(extended=True))
def test_stacked_is_layer_by_layer(config):
    r = Run(config)
    holds = r.L >= 2 and same_run(r.result, own_stack(r.result), close_to=config)
    assert_relation(r, "stacked-is-layer-by-layer", r.L >= 2, holds=holds)


@FEW
@given(configs(extended=True))
def test_backward_is_forward_on_reversed(config):
    r = Run(config)
    holds = r.D == 2 and same_run(r.result, own_stack(r.result), close_to=config)
    assert_relation(r, "backward-is-forward-on-reversed", r.D == 2, holds=holds)


@FEW
@given(configs(extended=True))
def test_reversed_input_is_backward(config):
    r = Run(config)
    holds = False
    if r.D == 2:
        mirror = own_stack(r.result, backward="")  # the backward direction with the forward direction's weights
        holds = all_close(config, [(r.out[..., r.H :], time_major(mirror.output, config.batch_first)[..., r.H :]),
                                   (r.hv[:, 1], mirror.hv[:, 1])])  # fmt: skip
    assert_relation(r, "reversed-input-is-backward", r.D == 2, False, holds)


@FEW
@given(configs(extended=True, bidirectional=True))
def test_reversed_input_is_backward_is_a_lesson_that_fails(config):
    rel = Run(config).relations["reversed-input-is-backward"]
    assert rel.verdict in ("lesson", "coincidence")
    if rel.verdict == "coincidence":
        assert "all zeros" in rel.why  # only a ReLU that gives 0 everywhere makes the two directions agree


def torch_module(result, layers: int | None = None) -> nn.RNNBase:
    """torch's own module of the run's cell holding its weights (its first `layers` layers), time-major."""
    c = result.config
    layers = layers or c.layers
    kwargs = {"nonlinearity": c.nonlinearity} if c.cell == "rnn" else {}
    kwargs.update({"proj_size": c.proj} if c.proj else {})
    module = getattr(nn, c.cell.upper())(c.embedding, c.hidden, layers, bidirectional=c.bidirectional, **kwargs)
    module = module.to(getattr(torch, c.dtype))
    module.load_state_dict({name: w for name, w in result.weights.items() if int(name.split("_l")[1][0]) < layers})
    return module


def torch_call(module, x, lengths, packed, state=None, grad=False):
    """module on time-major x (T, B, .), packed or not; output (T, B, D*H) and the final state (grad: autograd on)."""
    with torch.enable_grad() if grad else torch.no_grad():
        if not packed:
            return module(x, state)
        sequence = pack_padded_sequence(x, torch.tensor(lengths), enforce_sorted=False)
        output, final = module(sequence, state)
        return pad_packed_sequence(output, total_length=x.shape[0])[0], final


def initial(result, rows=slice(None)):
    """The run's h_0 (and c_0) rows as torch takes them, or None for zeros."""
    if result.h_0 is None:
        return None
    return result.h_0[rows] if result.c_0 is None else (result.h_0[rows], result.c_0[rows])


@FEW
@given(configs(extended=True))
def test_packed_backward_starts_at_last_real_step(config):
    r = Run(config)
    applies = config.packed and r.D == 2 and config.h0 == "zeros" and not config.draws_masks
    holds = False
    if applies:  # each sequence alone, unpadded, through torch's whole module: its backward half at its last step
        x = time_major(r.result.embedded, config.batch_first)  # (T, B, E)
        module = torch_module(r.result)
        alone = [torch_call(module, x[:n, b : b + 1], [n], False)[0][n - 1, 0, r.H :] for b, n in enumerate(r.lengths)]
        holds = all_close(config, [(r.out[n - 1, b, r.H :], alone[b]) for b, n in enumerate(r.lengths)])
    assert_relation(r, "packed-backward-starts-at-last-real-step", applies, holds=holds)


@FEW
@given(configs(extended=True, cell="lstm"))
def test_lstm_h_n_from_c_n(config):
    """The top layer's rows, from torch's own modules: o_T from the layer's input and the state before its last step."""
    r = Run(config)
    applies = config.h0 != "carry" and not config.draws_masks
    holds = False
    if applies:
        x = time_major(r.result.embedded, config.batch_first)  # (T, B, E)
        below = x if r.L == 1 else torch_call(torch_module(r.result, r.L - 1), x, r.lengths, config.packed,
                                              initial(r.result, slice(0, (r.L - 1) * r.D)))[0]  # fmt: skip
        pairs, hidden = [], config.hidden
        for d in range(r.D):
            k, suffix = (r.L - 1) * r.D + d, f"_l{r.L - 1}" + ("_reverse" if d else "")
            w = {name: r.result.weights[name + suffix] for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
            for b, n in enumerate(r.lengths):
                end = 0 if d else (n if config.packed else r.T) - 1
                start = (n if config.packed else r.T) - 1 if d else 0
                if end == start:
                    before = x.new_zeros(r.H) if r.result.h_0 is None else r.result.h_0[k, b]
                else:
                    before = r.out[end + (1 if d else -1), b, d * r.H : (d + 1) * r.H]
                gates = below[end, b] @ w["weight_ih"].T + w["bias_ih"] + before @ w["weight_hh"].T + w["bias_hh"]
                h = torch.sigmoid(gates[3 * hidden :]) * torch.tanh(r.result.c_n[k, b])
                if config.proj:
                    h = r.result.weights["weight_hr" + suffix] @ h
                pairs.append((r.result.h_n[k, b], h))
        holds = all_close(config, pairs)
    if applies and not holds:
        assert not r.relations["lstm-h_n-from-c_n"].holds
    elif applies:  # the top rows hold here; the relation checks every row
        assert r.relations["lstm-h_n-from-c_n"].verdict == "holds"
    assert ("lstm-h_n-from-c_n" in r.relations) == applies


@FEW
@given(configs(extended=True))
def test_c_n_is_in_output(config):
    r = Run(config)
    applies = config.cell == "lstm" and not config.proj
    holds = False
    if applies:
        k = (r.L - 1) * r.D
        ends = [(n if config.packed else r.T) - 1 for n in r.lengths]
        holds = all_equal([(r.out[t, b, : r.H], r.result.c_n[k, b]) for b, t in enumerate(ends)])
    assert_relation(r, "c_n-is-in-output", applies, False, holds)


@FEW
@given(configs(extended=True, h0="random"))
def test_h_0_layout(config):
    r = Run(config)
    applies = r.L * r.D > 1 and not config.draws_masks
    holds = False
    if applies:  # torch's own module, from h_0 as drawn and with the top layer's forward row moved
        k, x = (r.L - 1) * r.D, time_major(r.result.embedded, config.batch_first)
        module = torch_module(r.result)
        states = [r.result.h_0] + ([r.result.c_0] if r.result.c_0 is not None else [])
        moved = [torch.cat([s[:k], s[k : k + 1] + 1, s[k + 1 :]]) for s in states]
        as_taken = [states[0] if len(states) == 1 else tuple(states), moved[0] if len(moved) == 1 else tuple(moved)]
        (base, base_final), (out, final) = (torch_call(module, x, r.lengths, config.packed, s) for s in as_taken)
        base_h, h = (f[0] if isinstance(f, tuple) else f for f in (base_final, final))
        pairs = [(h[:k], base_h[:k]), (h[k + 1 :], base_h[k + 1 :]), (out[..., r.H :] if r.D == 2 else out[:0],
                 base[..., r.H :] if r.D == 2 else base[:0])]  # fmt: skip
        holds = all_equal(pairs)
    assert_relation(r, "h_0-layout", applies, holds=holds)


@FEW
@given(configs(extended=True, h0="random"), st.integers(1, 2), st.booleans())
def test_transposed_h_0_gives_same_output(config, layers, bidirectional):
    rows = layers * (2 if bidirectional else 1)
    config = config.replace(sequences=("abc", "de", "f", "ghij")[:rows], layers=layers, bidirectional=bidirectional,
                            split=0)  # fmt: skip
    r = Run(config)
    applies = not config.draws_masks
    holds = False
    if applies:  # torch's own module takes the transposed h_0 without a word: same shape
        x = time_major(r.result.embedded, config.batch_first)
        swap = [s.transpose(0, 1).contiguous() for s in (r.result.h_0, r.result.c_0) if s is not None]
        swapped = swap[0] if len(swap) == 1 else tuple(swap)
        out, final = torch_call(torch_module(r.result), x, r.lengths, config.packed, swapped)
        holds = all_close(config, [(r.out, out), (r.result.h_n, final[0] if isinstance(final, tuple) else final)])
    assert_relation(r, "transposed-h_0-gives-same-output", applies, False, holds)


@FEW
@given(configs(extended=True))
def test_zero_padding_is_harmless(config):
    r = Run(config)
    applies = config.pad == "zero" and not config.packed and r.short and config.h0 != "carry" and not config.draws_masks
    holds = False
    if applies:  # torch's own module, packed, on the same embedded batch (its pads embedded to zeros)
        x = time_major(r.result.embedded, config.batch_first)  # (T, B, E)
        final = torch_call(torch_module(r.result), x, r.lengths, True, initial(r.result))[1]
        holds = all_close(config, [(r.result.h_n, final[0] if isinstance(final, tuple) else final)])
        assert not x[r.T - 1, r.lengths.index(min(r.lengths))].any()  # a pad step: zeros
    assert_relation(r, "zero-padding-is-harmless", applies, False, holds)


def plain_part(config: Config) -> bool:
    """Whether a plain module call on the embedded batch is the run: in one piece, no dropout masks."""
    return config.h0 != "carry" and not config.draws_masks


@FEW
@given(around_configs())
def test_total_length_pads_output(config):
    r = Run(config)
    N, T = config.total_length or max(r.lengths), max(r.lengths)
    assert r.result.batch.max_length == N and r.out.shape[0] == N
    holds = not r.out[T:].any()  # past the longest sequence: pad_packed_sequence's zeros
    if plain_part(config):  # torch's own module on the batch cut to T, unpacked without total_length
        x = time_major(r.result.embedded, config.batch_first)[:T]  # (T, B, E)
        sequence = pack_padded_sequence(x, torch.tensor(r.result.batch.lengths), enforce_sorted=False)
        with torch.no_grad():
            out, final = torch_module(r.result)(sequence, initial(r.result))
        out = pad_packed_sequence(out)[0]  # (T, B, D*H): no total_length
        assert out.shape[0] == T
        h_n = final[0] if config.cell == "lstm" else final
        holds = holds and all_close(config, [(r.out[:T], out), (r.result.h_n, h_n)])
    assert_relation(r, "total-length-pads-output", config.total_length > 0, holds=holds)


@FEW
@given(around_configs(sort="manual"))
def test_manual_sort_needs_unsort(config):
    r = Run(config)
    order = sorted(range(r.B), key=lambda b: (-r.lengths[b], b))
    assert r.result.batch.sequences == tuple(config.sequences[b] for b in order)
    unsort = sorted(range(r.B), key=order.__getitem__)
    holds = True
    if plain_part(config):  # torch's own module on the batch as given, enforce_sorted=False
        x = time_major(r.result.embedded, config.batch_first)[:, unsort]  # (T, B, E), as given
        given_state = initial(r.result)  # its columns as given, too
        if given_state is not None:
            columns = [s[:, unsort] for s in (given_state if config.cell == "lstm" else [given_state])]
            given_state = tuple(columns) if config.cell == "lstm" else columns[0]
        out, final = torch_call(torch_module(r.result), x, r.lengths, True, given_state)  # r.lengths: as given
        h_n = final[0] if config.cell == "lstm" else final
        holds = all_close(config, [(r.out[:, unsort], out), (r.result.h_n[:, unsort], h_n)])
    assert_relation(r, "manual-sort-needs-unsort", True, holds=holds)
    assert "manual-sort-needs-unsort" not in Run(config.replace(sort="auto")).relations


@FEW
@given(around_configs(sort="manual"))
def test_sorted_h_n_is_in_input_order(config):
    """The claim holds where the sort moved nothing, or where the moved sequences' states happen to be equal."""
    r = Run(config)
    order = sorted(range(r.B), key=lambda b: (-r.lengths[b], b))
    given = run(config.replace(sort="auto"))  # the batch as given: column b is given sequence b
    same = order == list(range(r.B)) or all_close(config, [(r.result.h_n, given.h_n)])
    assert_relation(r, "sorted-h_n-is-in-input-order", True, False, same)
    if order == list(range(r.B)):
        assert r.relations["sorted-h_n-is-in-input-order"].verdict == "coincidence"


@FEW
@given(around_configs())
def test_packed_zeros_mask_attention(config):
    r = Run(config)
    N = r.out.shape[0]
    lengths = torch.tensor(r.result.batch.lengths)
    pads = torch.arange(N)[:, None] >= lengths[None, :]  # (T, B): past each length
    applies = bool(pads.any())
    query = torch.randn(r.D * r.H, generator=torch.Generator().manual_seed(0), dtype=r.out.dtype)
    weights = torch.softmax(r.out @ query, dim=0)  # (T, B): no mask
    assert_relation(r, "packed-zeros-mask-attention", applies, False, bool((weights[pads] == 0).all()))
    unpacked = config.replace(packed=False, total_length=0, sort="auto", split=0, h0="zeros", detach=False)
    assert "packed-zeros-mask-attention" not in Run(unpacked).relations
    if applies:
        assert not r.out[pads].any()  # the pads' outputs are zeros, their scores 0...
        masked = torch.softmax((r.out @ query).masked_fill(pads, float("-inf")), dim=0)
        assert not masked[pads].any()  # ...and only a mask gives them weight 0


@settings(max_examples=60)
@given(around_configs())
def test_no_contradiction_with_total_length_and_manual_sort(config):
    assert [r.id for r in analyse(config).relations if r.verdict == "contradiction"] == []


@FEW
@given(configs(extended=True))
def test_reference_recompute(config):
    r = Run(config)
    modelled = config.h0 == "zeros" and not (config.train_mode and config.dropout and config.layers > 1)
    assert_relation(r, "reference-recompute", modelled, holds=same_run(r.result, r.reference, close_to=config))
    if not modelled:
        return  # rnnviz.recompute starts from zeros and drops nothing: it does not model this run
    assert r.relations["reference-recompute"].holds  # and it does hold: the equations are right
    names = ("output", "h_n", "c_n") if config.cell == "lstm" else ("output", "h_n")
    gap = max(float((getattr(r.result, n) - getattr(r.reference, n)).abs().max()) for n in names)
    assert r.relations["reference-recompute"].max_abs_diff == gap


@pytest.mark.parametrize("device", DEVICES)
def test_cpu_matches_cuda(device):
    config = Config(cell="lstm", bidirectional=True, layers=2, packed=True, device=device)
    r = Run(config)
    if device == "cpu":
        assert_relation(r, "cpu-matches-cuda", False)
        return
    cpu = run(config.replace(device="cpu"))
    holds = all(
        torch.allclose(getattr(r.result, n), getattr(cpu, n), atol=CUDA_TOLERANCE, rtol=CUDA_TOLERANCE)
        for n in ("output", "h_n", "c_n")
    )
    assert_relation(r, "cpu-matches-cuda", True, holds=holds)
    assert holds


# -----------------------------------------------------------------------------
# Under the hood: the weights edited, the loop over cells, the paper's GRU, what a GRU returns


def direct(result):
    """Whether the run is one plain call here (no chunks, no dropout masks): the entries' tests call torch's module."""
    return result.config.h0 != "carry" and not result.config.draws_masks


def call_with(result, edit):
    """torch's own module of the run after edit(module) (its parameters, under no_grad), called as the run was:
    output (T, B, D*H), h_n and c_n (None for RNN and GRU)."""
    module = torch_module(result)
    with torch.no_grad():
        edit(module)
    x = time_major(result.embedded, result.config.batch_first)  # (T, B, E)
    out, final = torch_call(module, x, result.batch.lengths, result.config.packed, initial(result))
    h_n, c_n = final if isinstance(final, tuple) else (final, None)
    return out, h_n, c_n


def close_to_run(r: Run, out, h_n, c_n) -> bool:
    return all_close(r.config, [(r.out, out), (r.result.h_n, h_n), (r.result.c_n, c_n)])


@FEW
@given(configs(extended=True, cell="lstm"))
def test_forget_bias_is_one_slice(config):
    r = Run(config)
    H = config.hidden
    if not direct(r.result):  # chunks or masks: rnnviz's rebuild; the kind is the config's
        assert r.relations["forget-bias-is-one-slice"].kind == "lesson"
        return
    runs = []
    for hh in (1.0, 0.0):  # both slices 1, then bias_ih's 1 and bias_hh's 0

        def edit(module, hh=hh):
            for name, p in module.named_parameters():
                if name.startswith("bias_"):
                    p[H : 2 * H] = 1.0 if name.startswith("bias_ih") else hh
            assert torch.equal(module.bias_ih_l0[H : 2 * H] + module.bias_hh_l0[H : 2 * H], torch.full((H,), 1 + hh))

        runs.append(call_with(r.result, edit))
    holds = all_close(config, list(zip(*runs, strict=True)))
    assert_relation(r, "forget-bias-is-one-slice", True, False, holds)


def test_forget_bias_is_one_slice_only_for_an_lstm():
    for cell in ("rnn", "gru"):
        assert "forget-bias-is-one-slice" not in Run(Config(cell=cell)).relations
    rel = Run(Config(cell="lstm", hidden=4)).relations["forget-bias-is-one-slice"]
    assert (rel.verdict, rel.colour) == ("lesson", "gray")
    assert "`bias_ih_l0[4:8]` and `bias_hh_l0[4:8]` both to 1 gives a forget bias of 2" in rel.statement


@FEW
@given(configs(extended=True), st.integers(0, 2**32 - 1))
def test_bias_split_is_free(config, seed):
    """Any part (another seed than rnnviz's) of bias_hh moved into bias_ih, in torch's own module: the run's numbers;
    a GRU's r and z rows only."""
    r = Run(config)
    holds = r.relations["bias-split-is-free"].holds
    if direct(r.result):
        rows = (2 if config.cell == "gru" else {"rnn": 1, "lstm": 4}[config.cell]) * config.hidden
        generator = torch.Generator().manual_seed(seed)

        def edit(module):
            for name, p in module.named_parameters():
                if name.startswith("bias_hh"):
                    part = torch.randn(rows, generator=generator, dtype=p.dtype)
                    p[:rows] -= part
                    getattr(module, name.replace("bias_hh", "bias_ih"))[:rows] += part

        holds = close_to_run(r, *call_with(r.result, edit))
    assert_relation(r, "bias-split-is-free", True, holds=holds)
    assert holds


def test_bias_split_of_a_gru_n_rows_is_not_free():
    """Why bias-split-is-free leaves a GRU's n rows alone: moving them changes the numbers (r multiplies b_hn)."""
    r = Run(Config(cell="gru", hidden=4))

    def edit(module):
        module.bias_ih_l0[8:] += 1.0
        module.bias_hh_l0[8:] -= 1.0

    assert not close_to_run(r, *call_with(r.result, edit))
    assert "rows 0:8 (r and z)" in r.relations["bias-split-is-free"].statement
    assert "Rows 8:12 (n) are not free" in r.relations["bias-split-is-free"].statement


def own_cell_loop(result):
    """Each sequence alone through torch's cells, one layer and direction at a time, only its real steps when packed
    (the backward cell from its last one), from h_0 (and c_0): output (T, B, D*H), h_n, c_n."""
    c = result.config
    L, D, B, hidden = c.layers, 2 if c.bidirectional else 1, len(c.sequences), c.hidden
    x = time_major(result.embedded, c.batch_first)  # (T, B, E)
    T, lstm = x.shape[0], c.cell == "lstm"
    options = {"nonlinearity": c.nonlinearity} if c.cell == "rnn" else {}
    out = torch.zeros(T, B, D * hidden, dtype=x.dtype)
    h_n, c_n = torch.zeros(L * D, B, hidden, dtype=x.dtype), torch.zeros(L * D, B, hidden, dtype=x.dtype)
    with torch.no_grad():
        for b in range(B):
            n = result.batch.lengths[b] if c.packed else T
            inputs = x[:n, b]  # (n, E)
            for layer in range(L):
                below = torch.zeros(n, D * hidden, dtype=x.dtype)  # (n, D*H)
                for d in range(D):
                    k, suffix = layer * D + d, f"_l{layer}" + ("_reverse" if d else "")
                    with torch.random.fork_rng(devices=[]):
                        cell = {"rnn": nn.RNNCell, "lstm": nn.LSTMCell, "gru": nn.GRUCell}[c.cell](
                            inputs.shape[1], hidden, **options
                        ).to(x.dtype)
                    cell.load_state_dict({name: result.weights[name + suffix] for name in cell.state_dict()})
                    h = result.h_0[k, b : b + 1] if result.h_0 is not None else None
                    state = (h, result.c_0[k, b : b + 1]) if lstm and h is not None else h
                    for t in range(n - 1, -1, -1) if d else range(n):
                        state = cell(inputs[t : t + 1], state)
                        below[t, d * hidden : (d + 1) * hidden] = state[0][0] if lstm else state[0]
                    h_n[k, b] = state[0][0] if lstm else state[0]
                    c_n[k, b] = state[1][0] if lstm else 0
                inputs = below
            out[:n, b] = inputs
    return out, h_n, c_n if lstm else None


@FEW
@given(configs(extended=True))
def test_cell_loop_equals_module(config):
    r = Run(config)
    applies = not config.proj and direct(r.result)
    holds = applies and close_to_run(r, *own_cell_loop(r.result))
    assert_relation(r, "cell-loop-equals-module", applies, holds=holds)
    if applies:
        assert holds


def test_cell_loop_is_said_per_layer_and_direction():
    packed = Run(Config(cell="gru", layers=2, bidirectional=True, packed=True)).relations["cell-loop-equals-module"]
    assert "`nn.GRUCell`, 4 cells" in packed.statement
    assert "the backward cell from each sequence's last real step" in packed.statement
    assert "differ only because their weights do" in packed.why
    padded = Run(Config(cell="lstm", bidirectional=True)).relations["cell-loop-equals-module"]
    assert "the backward cell from t = T-1 = 7" in padded.statement
    assert "c_n" in padded.statement
    assert "cell-loop-equals-module" not in Run(Config(cell="lstm", hidden=4, proj=2)).relations


def paper_stack(result):
    """Cho et al.'s GRU by hand, each sequence alone (its real steps when packed): output (T, B, D*H), h_n."""
    c = result.config
    L, D, B, H = c.layers, 2 if c.bidirectional else 1, len(c.sequences), c.hidden
    x = time_major(result.embedded, c.batch_first)  # (T, B, E)
    T = x.shape[0]
    out, h_n = torch.zeros(T, B, D * H, dtype=x.dtype), torch.zeros(L * D, B, H, dtype=x.dtype)
    for b in range(B):
        n = result.batch.lengths[b] if c.packed else T
        inputs = x[:n, b]  # (n, E)
        for layer in range(L):
            below = torch.zeros(n, D * H, dtype=x.dtype)
            for d in range(D):
                suffix = f"_l{layer}" + ("_reverse" if d else "")
                W_i, W_h = result.weights["weight_ih" + suffix], result.weights["weight_hh" + suffix]  # (3H, .)
                b_i, b_h = result.weights["bias_ih" + suffix], result.weights["bias_hh" + suffix]  # (3H,)
                h = torch.zeros(H, dtype=x.dtype)
                for t in range(n - 1, -1, -1) if d else range(n):
                    gi, gh = W_i @ inputs[t] + b_i, W_h[: 2 * H] @ h + b_h[: 2 * H]
                    r, z = torch.sigmoid(gi[:H] + gh[:H]), torch.sigmoid(gi[H : 2 * H] + gh[H:])
                    candidate = torch.tanh(gi[2 * H :] + W_h[2 * H :] @ (r * h) + b_h[2 * H :])
                    h = (1 - z) * candidate + z * h
                    below[t, d * H : (d + 1) * H] = h
                h_n[layer * D + d, b] = h
            inputs = below
        out[:n, b] = inputs
    return out, h_n


@FEW
@given(configs(extended=True, cell="gru"))
def test_gru_matches_paper(config):
    r = Run(config)
    applies = config.h0 == "zeros" and not config.draws_masks
    holds = False
    if applies:
        out, h_n = paper_stack(r.result)
        holds = all_close(config, [(r.out, out), (r.result.h_n, h_n)])
        gap = max(float((r.out - out).abs().max()), float((r.result.h_n - h_n).abs().max()))
        assert r.relations["gru-matches-paper"].max_abs_diff == pytest.approx(gap, abs=10 * tolerance(config))
    assert_relation(r, "gru-matches-paper", applies, False, holds)


@FEW
@given(configs(extended=True, cell="gru"))
def test_gru_state_unpacks_as_h_c(config):
    """`h, c = gru(x)[1]` on torch's own module: a lesson where it raises, a coincidence where it splits two rows."""
    r = Run(config)
    x = time_major(r.result.embedded, config.batch_first)
    try:
        h, c = torch_call(torch_module(r.result), x, r.lengths, config.packed, initial(r.result))[1]
    except ValueError as error:
        holds = False
        assert f"raises `ValueError: {error}`" in r.relations["gru-state-unpacks-as-h-c"].statement
    else:
        holds = True
        if direct(r.result):  # one call, as the run was: two rows of its h_n, no cell state
            assert all_close(config, [(h, r.result.h_n[0]), (c, r.result.h_n[1])])
    assert holds == (r.L * r.D == 2)
    assert_relation(r, "gru-state-unpacks-as-h-c", True, False, holds)
    assert r.relations["gru-state-unpacks-as-h-c"].verdict == ("coincidence" if holds else "lesson")


def test_gru_state_unpacks_as_h_c_says_what_h_and_c_hold():
    two_layers = Run(Config(cell="gru", layers=2)).relations["gru-state-unpacks-as-h-c"]
    assert "`c` is `h_n[1]`, layer 1's forward final state" in two_layers.statement
    assert two_layers.colour == "blue" and "neither is a cell state" in two_layers.why
    bidirectional = Run(Config(cell="gru", bidirectional=True)).relations["gru-state-unpacks-as-h-c"]
    assert "`c` is `h_n[1]`, layer 0's backward final state" in bidirectional.statement
    assert "gru-state-unpacks-as-h-c" not in Run(Config(cell="lstm")).relations


# -----------------------------------------------------------------------------
# Every relation: kinds from the config alone, the shown expression is what ran, the derived fields


@FEW
@given(configs(extended=True), st.integers(0, 2**32 - 1))
def test_kinds_depend_on_the_config_alone(config, seed):
    """Another seed gives other numbers, never other kinds (nor other relations)."""
    kinds = {r.id: r.kind for r in analyse(config).relations}
    assert kinds == {r.id: r.kind for r in analyse(config.replace(seed=seed)).relations}


@FEW
@given(configs(extended=True))
def test_a_lesson_that_holds_says_why_it_is_a_coincidence(config):
    """(The verdict and colour of each kind and outcome: docs/links.md's table, checked by tests/test_docs.py.)"""
    for rel in analyse(config).relations:
        assert ("coincidence" in rel.why) == (rel.verdict == "coincidence")


def own_namespace(result, reference) -> dict:
    """The expressions' names, bound here without rnnviz.relations.namespace (nor rnnviz's rebuilds)."""
    c = result.config
    L, D, B, H = c.layers, 2 if c.bidirectional else 1, len(c.sequences), c.proj or c.hidden
    lengths = [len(s) for s in c.sequences]
    if c.sort == "manual":  # the batch sorted by hand: longest first
        lengths.sort(reverse=True)
    padding = torch.tensor([[t >= n for n in lengths] for t in range(c.total_length or max(lengths))])  # (T, B)
    ns = {
        "torch": torch,
        "output": result.output,
        "h_n": result.h_n,
        "c_n": result.c_n,
        "hv": result.h_n.view(L, D, B, H),
        "h_0": result.h_0,
        "c_0": result.c_0,
        "lengths": lengths,
        "padding": padding.t() if c.batch_first else padding,
        "attention_query": torch.randn(D * H, generator=torch.Generator().manual_seed(0), dtype=result.output.dtype),
    }
    others = {
        "ref": reference,
        "whole": run(c.replace(h0="zeros", split=0, detach=False)) if c.h0 == "carry" else None,
        "other_detach": run(c.replace(detach=not c.detach)) if c.h0 == "carry" else None,
        "eval": run(c.replace(train_mode=False)),
        "packed": run(c.replace(packed=True)) if c.pad == "zero" and not c.packed and c.h0 != "carry" else None,
        "by_layer": own_stack(result),
        "by_direction": own_stack(result),
        "mirror": own_stack(result, backward=""),
        "short": run(c.replace(total_length=0)) if c.total_length else None,
        "unsorted": run(c.replace(sort="auto")) if c.sort == "manual" else None,
    }
    for prefix, other in others.items():
        if other is not None:
            ns.update({f"{prefix}_{name}": getattr(other, name) for name in ("output", "h_n", "c_n")})
            ns[f"{prefix}_hv"] = other.h_n.view(L, D, B, H)
    # The comparisons that are checked against torch's own modules in their entries' tests above, as rnnviz made them
    for prefix, other in comparisons(result, reference).items():
        if prefix in ("gate", "alone", "transposed", "nudged", "bias_split", "forget", "cell_loop", "paper", "dropout"):
            ns.update({f"{prefix}_{name}": tensor for name, tensor in other._asdict().items()})
    return ns


@FEW
@given(configs(extended=True))
def test_shown_expression_evaluates_to_holds(config):
    result, reference, relations = analyse(config)
    ns = own_namespace(result, reference)
    for rel in relations:
        assert bool(eval(rel.expression, dict(ns))) is rel.holds, rel.id


@FEW
@given(around_configs())
def test_shown_expression_evaluates_to_holds_with_total_length_and_sort(config):
    test_shown_expression_evaluates_to_holds.hypothesis.inner_test(config)


@FEW
@given(configs(extended=True))
def test_comparison_max_abs_diff_and_per_sequence(config):
    for rel in analyse(config).relations:
        if rel.id.endswith("-shape"):
            assert (rel.comparison, rel.max_abs_diff, rel.per_sequence) == ("exact", None, None)
        elif rel.comparison == "exact":
            assert rel.holds == (rel.max_abs_diff == 0.0), rel.id
        elif rel.holds:  # allclose: a guaranteed relation, or a lesson that held by coincidence
            assert rel.max_abs_diff <= 10 * RECOMPUTE_TOLERANCE[config.dtype], rel.id
        if rel.per_sequence is not None:
            assert len(rel.per_sequence) == len(config.sequences)
            assert all(rel.per_sequence) == rel.holds, rel.id


@FEW
@given(configs(extended=True, batch_first=False))
def test_batch_first_gives_the_same_verdicts(config):
    tm = analyse(config).relations
    bf = analyse(config.replace(batch_first=True)).relations
    assert [(r.id, r.kind, r.holds) for r in tm] == [(r.id, r.kind, r.holds) for r in bf]


def test_multi_line_expressions_are_parenthesised():
    rel = by_id(analyse(Config(cell="lstm", dtype="float64")).relations)["reference-recompute"]
    assert rel.expression == (
        "(torch.allclose(output, ref_output, atol=1e-10, rtol=1e-10)\n"
        " and torch.allclose(h_n, ref_h_n, atol=1e-10, rtol=1e-10)\n"
        " and torch.allclose(c_n, ref_c_n, atol=1e-10, rtol=1e-10))"
    )


def test_batch_first_expressions_name_the_batch_axis_first():
    rels = by_id(analyse(Config(batch_first=True, bidirectional=True, packed=True)).relations)
    assert rels["final-output-is-forward-h_n"].expression == "torch.equal(output[:, -1, :5], hv[-1, 0])"
    assert rels["first-output-is-backward-h_n"].expression == "torch.equal(output[:, 0, 5:], hv[-1, 1])"
    assert "output[b, lengths[b] - 1, :5]" in rels["true-last-step-is-h_n"].expression
    tm = by_id(analyse(Config(bidirectional=True, packed=True)).relations)
    assert tm["final-output-is-forward-h_n"].expression == "torch.equal(output[-1, :, :5], hv[-1, 0])"
    assert "output[lengths[b] - 1, b, :5]" in tm["true-last-step-is-h_n"].expression


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("packed", [False, True])
def test_expressions_look_at_the_right_cells(batch_first, packed):
    """Change the one cell of output a holding relation compares, and it must turn into a contradiction."""
    config = Config(sequences=("abcd", "ab", "abc"), bidirectional=True, batch_first=batch_first, packed=packed)
    result = run(config)
    H, T = 5, 4
    targets = {  # relation id -> (t, b, feature) of output that it compares, time-major
        "final-output-is-forward-h_n": (T - 1, 0, 0),
        "first-output-is-backward-h_n": (0, 2, H),
        "true-last-step-is-h_n": (1, 1, H - 1),
        "padding-output-is-zero": (3, 1, 2),
    }
    holding = {r.id for r in check_relations(result) if r.verdict == "holds"}
    checked = 0
    for rid, (t, b, f) in targets.items():
        if rid not in holding:
            continue
        output = result.output.clone()
        output[(b, t, f) if batch_first else (t, b, f)] += 1.0
        broken = by_id(check_relations(dataclasses.replace(result, output=output)))[rid]
        assert (broken.verdict, broken.colour) == ("contradiction", "red"), rid
        checked += 1
    assert checked == (3 if packed else 2)


def test_a_bad_reference_is_a_contradiction():
    result = run(Config())
    reference = recompute(result)
    off = dataclasses.replace(reference, h_n=reference.h_n + 1e-3)
    rel = by_id(check_relations(result, extra={"ref": off}))["reference-recompute"]
    assert (rel.expected, rel.holds, rel.verdict) == (True, False, "contradiction")
    assert rel.max_abs_diff == pytest.approx(1e-3, rel=1e-3)


def test_a_guaranteed_relation_whose_sides_are_both_zero_can_still_be_red():
    """No verdict is rewritten after looking at the tensors: zeros that should differ from h_n are a bug."""
    result = run(Config(nonlinearity="relu", hidden=1, embedding=2, seed=3))
    zeros = dataclasses.replace(result, output=torch.zeros_like(result.output), h_n=torch.ones_like(result.h_n))
    rel = by_id(check_relations(zeros))["final-output-is-forward-h_n"]
    assert rel.verdict == "contradiction"


def test_as_dict_has_the_json_fields():
    rel = by_id(analyse(Config()).relations)["true-last-step-is-h_n"]
    d = rel.as_dict()
    assert list(d) == [
        "id", "kind", "verdict", "statement", "why", "expression", "expected", "holds", "comparison", "max_abs_diff"
    ]  # fmt: skip
    assert (d["kind"], d["verdict"], d["expected"], d["holds"]) == ("lesson", "lesson", False, False)


# -----------------------------------------------------------------------------
# No red anywhere in the corners: saturating sizes, many seeds, every cell, short and blog batches

CORNER_BATCHES = st.one_of(st.just(("long_str", "tiny", "medium")), st.just(("ab", "a")), sequences(3, 4))


def corner_configs(layers: int, **more) -> st.SearchStrategy[Config]:
    """Configs where floats saturate: hidden 1-2, embeddings up to 256, any seed, every cell, short and blog batches."""
    return st.builds(
        Config,
        sequences=CORNER_BATCHES,
        cell=st.sampled_from(("rnn", "lstm", "gru")),
        hidden=st.integers(1, 2),
        embedding=st.sampled_from((1, 2, 64, 256)),
        layers=st.integers(1, layers),
        bidirectional=st.booleans(),
        packed=st.booleans(),
        seed=st.integers(0, 2**32 - 1),
        device=st.just("cpu"),
        **more,
    )


@settings(max_examples=300)
@given(corner_configs(layers=2))
def test_no_contradiction_in_the_corners(config):
    assert [r.id for r in analyse(config).relations if r.verdict == "contradiction"] == []


@settings(max_examples=100)
@given(
    corner_configs(
        layers=3,
        h0=st.sampled_from(("zeros", "random")),
        dropout=st.sampled_from((0.0, 0.5)),
        train_mode=st.booleans(),
    )
)
def test_no_contradiction_in_the_corners_of_h_0_and_dropout(config):
    assert [r.id for r in analyse(config).relations if r.verdict == "contradiction"] == []


@settings(max_examples=60)
@given(configs(extended=True, h0="carry", hidden=1, embedding=256), st.integers(0, 2**32 - 1))
def test_no_contradiction_in_the_corners_of_carry(config, seed):
    assert [r.id for r in analyse(config.replace(seed=seed)).relations if r.verdict == "contradiction"] == []


TASK_BATCH = ("(a(b)c)", "((a)", "b)c(")


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"bidirectional": True, "layers": 2, "packed": True, "batch_first": True},
        {"h0": "random", "layers": 2, "dropout": 0.5, "train_mode": True},
        {"h0": "carry", "split": 3, "dtype": "float64"},
    ],
)
def test_guaranteed_relations_hold_on_trained_weights(cell, changes):
    config = Config(sequences=TASK_BATCH, cell=cell, hidden=16, embedding=8, task="brackets", steps=30, **changes)
    relations = by_id(analyse(config).relations)
    assert [r for r in relations.values() if r.verdict == "contradiction"] == []
    guaranteed = {rid for rid, r in relations.items() if r.kind == "guaranteed"}
    assert {"output-shape", "h_n-layout", "stacked-is-layer-by-layer"} & set(relations) <= guaranteed
    assert ("reference-recompute" in guaranteed) == (config.h0 == "zeros" and not config.draws_masks)


def test_a_broken_other_run_is_a_contradiction():
    """Each relation that compares with another run turns red when that run is off by 1e-3 (a bug made on purpose)."""
    cases = {
        Config(h0="carry", layers=2, dropout=0.5): (
            "chunks-equal-whole",
            "train-equals-eval",
            "stacked-is-layer-by-layer",
            "detach-keeps-values",
        ),
        Config(layers=2, dropout=0.5, train_mode=True, bidirectional=True): (
            "layer-0-h_n-unaffected-by-dropout",
            "backward-is-forward-on-reversed",
        ),
    }
    for config, rids in cases.items():
        result = run(config)
        extra = comparisons(result, recompute(result))
        off = {
            prefix: Own(other.output + 1e-3, other.h_n + 1e-3, other.c_n, (other.h_n + 1e-3).view(result.h_n.shape))
            for prefix, other in extra.items()
            if hasattr(other, "output")  # a run's tensors (not the masks)
        }
        rels = by_id(check_relations(result, extra=off))
        for rid in rids:
            assert (rels[rid].kind, rels[rid].verdict) == ("guaranteed", "contradiction"), rid
            assert rels[rid].max_abs_diff == pytest.approx(1e-3, rel=1e-2), rid


@pytest.mark.parametrize(("cell", "seed"), [("gru", 20), ("rnn", None)])
def test_saturation_makes_a_coincidence_not_a_contradiction(cell, seed):
    """hidden 1, embedding 256: a gate (GRU) or tanh (RNN) saturates to an exact value on <pad>, so h_n equals the
    state at the last real character by accident, about 1 run in 40."""
    seeds = [seed] if seed is not None else range(400)
    for s in seeds:
        rel = by_id(analyse(Config(cell=cell, hidden=1, embedding=256, seed=s)).relations)["true-last-step-is-h_n"]
        assert rel.verdict in ("lesson", "coincidence")
        if rel.verdict == "coincidence":
            assert (rel.kind, rel.holds, rel.colour, rel.max_abs_diff) == ("lesson", True, "blue", 0.0)
            assert rel.why.startswith("It holds here by coincidence: the `<pad>` steps left the state")
            return
    pytest.fail("no saturating seed found")


def test_a_dead_relu_coincidence_says_so():
    for seed in range(200):
        rels = by_id(analyse(Config(nonlinearity="relu", hidden=1, embedding=2, packed=True, seed=seed)).relations)
        rel = rels["final-output-is-forward-h_n"]
        if rel.verdict == "coincidence":
            assert "all zeros" in rel.why
            return
    pytest.fail("no all-zero ReLU seed found")


# -----------------------------------------------------------------------------
# The lessons' sentences say what is true


def test_lesson_sentences_say_what_happens_not_the_claim():
    rels = by_id(analyse(Config(bidirectional=True, layers=2)).relations)
    late = "after them, at t = T-1 = 7: for sequence 1, `h_n[2, 1]` is `output[7, 1, 0:5]`, not `output[3, 1, 0:5]`"
    assert late in rels["true-last-step-is-h_n"].statement
    assert "starts at t = T-1 = 7, reading the `<pad>` steps first" in rels["final-output-backward-is-h_n"].statement
    assert "`h_n[3]`, is its last state, at t = 0" in rels["final-output-backward-is-h_n"].statement
    assert "output holds the top layer only" in rels["lower-layer-h_n-is-final-output"].statement
    one_step = by_id(analyse(Config(sequences=("a", "b"), bidirectional=True)).relations)
    assert one_step["final-output-backward-is-h_n"].kind == "guaranteed"
    assert one_step["final-output-backward-is-h_n"].verdict == "holds"


def test_the_new_lessons_say_what_is_true():
    carried = by_id(analyse(Config(h0="carry", bidirectional=True, layers=2)).relations)
    assert "carrying h_n forward cannot give it the future" in carried["chunks-equal-whole"].statement
    assert "ends at t = K = 4" in carried["first-output-is-backward-h_n"].statement
    assert carried["first-output-is-backward-h_n"].kind == "lesson"
    assert "weights of its own" in carried["reversed-input-is-backward"].statement
    assert "is its last state, at t = 4" in carried["final-output-backward-is-h_n"].statement
    last_step = by_id(analyse(Config(h0="carry", split=7, bidirectional=True)).relations)  # one step in chunk 2
    assert last_step["final-output-backward-is-h_n"].verdict == "holds"
    dropped = by_id(analyse(Config(layers=3, dropout=0.25, train_mode=True)).relations)
    assert "layers 1 to 2, output and their h_n differ from eval mode" in dropped["train-equals-eval"].statement
    assert dropped["train-equals-eval"].verdict == "lesson"
    assert "P = 0.25" in dropped["layer-0-h_n-unaffected-by-dropout"].statement
    assert by_id(analyse(Config(dropout=0.25, train_mode=True)).relations)["train-equals-eval"].verdict == "holds"


def test_the_default_config_computes_no_other_run():
    """Only what applies is computed: the default config's analysis stays as cheap as before."""
    result = run(Config())
    assert list(comparisons(result, recompute(result))) == ["ref", "bias_split", "cell_loop"]
    ids = [r.id for r in analyse(Config()).relations]
    assert ids == [
        "output-shape", "h_n-shape", "h_n-layout", "final-output-is-forward-h_n", "true-last-step-is-h_n",
        "reference-recompute", "bias-split-is-free", "cell-loop-equals-module",
    ]  # fmt: skip


def test_reference_tolerance_per_dtype():
    assert RECOMPUTE_TOLERANCE == {"float32": 1e-5, "float64": 1e-10}


# -----------------------------------------------------------------------------
# The gradient relations (rnnviz.analyse(config, gradients=True)); the map itself is tested in test_gradients.py

SMALL = {"sequences": sequences(3, 4), "hidden": 3, "embedding": 2}


def gradient_run(config: Config):
    """The analysis with its gradient relations, and the map they checked."""
    from rnnviz import analyse_with_gradients

    analysis, gradients = analyse_with_gradients(config)
    return by_id(analysis.relations), gradients


@settings(max_examples=10)
@given(configs(**{k: v for k, v in SMALL.items() if k != "sequences"}, layers=1))
def test_layer_0_is_causal(config):
    rels, g = gradient_run(config)
    v, T = g.values, g.values.shape[-1]
    future = [(t, s) for t in range(T) for s in range(T) if s > t]
    holds = all(v[0, 0, :, t, s].eq(0).all() for t, s in future)
    holds = holds and all(v[0, 1, :, s, t].eq(0).all() for t, s in future) if config.bidirectional else holds
    assert (rels["layer-0-is-causal"].kind, rels["layer-0-is-causal"].holds) == ("guaranteed", holds)
    assert holds


@pytest.mark.parametrize("bidirectional", [False, True])
def test_top_layer_forward_is_causal(bidirectional):
    rels, g = gradient_run(Config(sequences=("abcd", "ab"), layers=2, bidirectional=bidirectional, hidden=3))
    rel = rels["top-layer-forward-is-causal"]
    leak = g.values[-1, 0].triu(1)  # (B, T, T): s > t
    assert (rel.kind, rel.holds) == (("lesson", False) if bidirectional else ("guaranteed", True))
    assert bool(leak.any()) is bidirectional
    assert "top-layer-forward-is-causal" not in gradient_run(Config(sequences=("ab",), hidden=2))[0]  # one layer


@pytest.mark.parametrize(("packed", "bidirectional", "kind", "holds"), [
    (False, False, "guaranteed", True), (True, True, "guaranteed", True), (False, True, "lesson", False)
])  # fmt: skip
def test_padding_has_no_influence(packed, bidirectional, kind, holds):
    config = Config(sequences=("abcd", "ab"), packed=packed, bidirectional=bidirectional, hidden=3, embedding=2)
    rels, g = gradient_run(config)
    rel = rels["padding-has-no-influence"]
    n = 2  # 'ab' is real at t < 2; s >= 2 is its padding
    assert (rel.kind, rel.holds) == (kind, holds)
    assert bool(g.values[:, :, 1, :n, n:].any()) is not holds
    assert "padding-has-no-influence" not in gradient_run(Config(sequences=("ab", "cd"), hidden=2))[0]  # no pads


def test_gradient_matches_finite_differences():
    rels, g = gradient_run(Config(sequences=("abc", "a"), cell="lstm", layers=2, hidden=3, embedding=2))
    rel = rels["gradient-matches-finite-differences"]
    assert (rel.kind, rel.holds, rel.comparison) == ("guaranteed", True, "allclose")
    assert rel.max_abs_diff == float((g.autograd - g.differences).abs().max()) <= g.tolerance


# -----------------------------------------------------------------------------
# Truncated backprop (h0 carry, detach) and dropout's masks


def torch_second_chunk(result, detach: bool):
    """The run's second chunk in plain torch, autograd on: its module from the run's weights, the first chunk's
    final state handed over as it is or detached. Returns the second chunk's output (time-major), its final state
    and the embedded input x (T, B, E), which requires grad."""
    c = result.config
    x = time_major(result.embedded, c.batch_first).clone().requires_grad_()  # (T, B, E)
    K, lengths = c.chunk, result.batch.lengths
    rnn = torch_module(result)
    with warnings.catch_warnings(), torch.random.fork_rng(devices=[]):
        warnings.simplefilter("ignore")
        if c.draws_masks:
            torch.set_rng_state(result.masks_state)
        rnn.train(c.train_mode)
        _, carried = torch_call(rnn, x[:K], [min(n, K) for n in lengths], c.packed, None, grad=True)
        if detach:
            carried = carried.detach() if isinstance(carried, torch.Tensor) else tuple(s.detach() for s in carried)
        second, final = torch_call(rnn, x[K:], [n - K for n in lengths], c.packed, carried, grad=True)
    return second, final, x


@FEW
@given(configs(extended=True))
def test_detach_keeps_values(config):
    r = Run(config)
    applies = config.h0 == "carry"
    holds = False
    if applies:  # torch's own module, both ways, autograd on; and the run with detach flipped
        K = config.chunk
        kept, detached = torch_second_chunk(r.result, False), torch_second_chunk(r.result, True)
        finals = [s if isinstance(s, tuple) else (s,) for s in (kept[1], detached[1])]
        assert all_equal([(kept[0], detached[0]), *zip(*finals, strict=True)])  # plain torch: detach moves no number
        other = run(config.replace(detach=not config.detach))
        mine = [(r.out[K:], time_major(other.output, config.batch_first)[K:]), (r.result.h_n, other.h_n)]
        holds = all_equal(mine + ([(r.result.c_n, other.c_n)] if config.cell == "lstm" else []))
    assert_relation(r, "detach-keeps-values", applies, holds=holds)


@pytest.mark.parametrize("detach", [True, False])
@pytest.mark.parametrize(
    "changes", [{}, {"cell": "lstm", "layers": 2, "packed": True}, {"cell": "gru", "batch_first": True}]
)
def test_detach_cuts_gradients(detach, changes):
    config = Config(sequences=("abcde", "abcd"), hidden=3, embedding=2, h0="carry", split=2, detach=detach, **changes)
    rels, g = gradient_run(config)
    rel = rels["detach-cuts-gradients"]
    K = config.chunk
    # plain torch, reverse mode: the second chunk's states against the first chunk's inputs
    second, _, x = torch_second_chunk(run(config), detach)
    second.sum().backward()
    reaches = bool(x.grad[:K].any())
    assert reaches is not detach
    assert bool(g.values[:, :, :, K:, :K].any()) is reaches
    assert (rel.kind, rel.holds) == (("guaranteed", True) if detach else ("lesson", False))
    assert "detach-cuts-gradients" not in gradient_run(Config(sequences=("abcde",), hidden=2))[0]  # no carry


@FEW
@given(configs(extended=True, train_mode=True, dropout=0.5))  # one layer: no masks, it does not apply
def test_dropout_mask_shared_across_time(config):
    r = Run(config)
    applies = config.draws_masks and r.T > 1
    holds = False
    if applies:  # the masks again, here: F.dropout on ones, chunk by chunk, layer by layer, from the run's state
        K, B, width = config.chunk, r.B, r.D * r.H
        zeroed = [[] for _ in range(r.L - 1)]
        with torch.random.fork_rng(devices=[]):
            torch.set_rng_state(r.result.masks_state)
            for start, stop in [(0, r.T)] if not K else [(0, K), (K, r.T)]:
                steps = [min(n, stop) - start for n in r.lengths]
                for masks in zeroed:
                    ones = torch.ones(stop - start, B, width, dtype=r.out.dtype)
                    if config.packed:
                        seq = pack_padded_sequence(ones, torch.tensor(steps), enforce_sorted=False)
                        seq = seq._replace(data=F.dropout(seq.data, config.dropout, training=True))
                        ones = pad_packed_sequence(seq, total_length=stop - start, padding_value=1.0)[0]
                    else:
                        ones = F.dropout(ones, config.dropout, training=True)
                    masks.append(ones == 0)
        zeroed = torch.stack([torch.cat(masks) for masks in zeroed])  # (L-1, T, B, D*H)
        assert torch.equal(zeroed, comparisons(r.result, r.reference)["dropout"].zeroed)
        real = [n if config.packed else r.T for n in r.lengths]
        holds = all(torch.equal(zeroed[:, t, b], zeroed[:, 0, b]) for b, n in enumerate(real) for t in range(n))
    assert_relation(r, "dropout-mask-shared-across-time", applies, False, holds)
