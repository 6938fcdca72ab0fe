"""The run: rnnviz.run() gives exactly the tensors of plain PyTorch written out here (h_0, chunks and train-mode
dropout included), the blog's shapes, torch's own warnings and errors, and the trained weights of a task."""

import threading
import warnings

import pytest
import torch
from conftest import DEVICES, around_configs, configs, requires_cuda, time_major
from hypothesis import given
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnnviz import PRESETS, Config, ConfigError, run
from rnnviz.brackets import TASK_VOCAB
from rnnviz.model import (
    batch_first_h_0_error,
    forward_in_chunks,
    layer_by_layer,
    rebuild,
    recurrent_module,
    resolve_device,
)
from rnnviz.training import trained


def plain_pytorch(config: Config, device: str = "cpu"):
    """docs/reproducibility.md's contract, written without rnnviz: returns embedded, output, h_n, c_n, rnn."""
    data = list(config.sequences)
    order = sorted(range(len(data)), key=lambda b: (-len(data[b]), b))  # sort manual: longest first, ties as given
    if config.sort == "manual":
        data = [data[b] for b in order]
    vocab = ["<pad>", *sorted({ch for seq in data for ch in seq})]
    ids = [[vocab.index(ch) for ch in seq] for seq in data]
    lengths = [len(seq) for seq in ids]
    width = config.total_length or max(lengths)  # total_length: padded further, and unpacked to it
    padded = torch.zeros(len(ids), width, dtype=torch.long)  # (B, T)
    for b, seq in enumerate(ids):
        padded[b, : len(seq)] = torch.LongTensor(seq)
    inputs = padded if config.batch_first else padded.t()

    torch.manual_seed(config.seed)
    embedding = nn.Embedding(len(vocab), config.embedding, padding_idx=0 if config.pad == "zero" else None)
    module = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[config.cell]
    kwargs = {"num_layers": config.layers, "bidirectional": config.bidirectional, "batch_first": config.batch_first}
    if config.cell == "rnn":
        kwargs["nonlinearity"] = config.nonlinearity
    if config.cell == "lstm":
        kwargs["proj_size"] = config.proj
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # dropout with one layer
        rnn = module(config.embedding, config.hidden, dropout=config.dropout, **kwargs)
    L_D, B = config.layers * (2 if config.bidirectional else 1), len(data)
    state = None
    if config.h0 == "random":  # drawn right after building: h_0, then c_0
        state = torch.randn(L_D, B, config.proj or config.hidden)
        if config.cell == "lstm":
            state = (state, torch.randn(L_D, B, config.hidden))
        if config.sort == "manual":  # drawn for the sequences as given, sorted with them
            state = tuple(s[:, order] for s in state) if config.cell == "lstm" else state[:, order]
    dtype = {"float32": torch.float32, "float64": torch.float64}[config.dtype]
    embedding = embedding.to(device=device, dtype=dtype)
    rnn = rnn.to(device=device, dtype=dtype)
    if state is not None:
        state = tuple(s.to(device, dtype) for s in state) if config.cell == "lstm" else state.to(device, dtype)
    rnn.train(config.train_mode)

    def call(x, steps, state, total_length):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "LSTM with projections is not supported with oneDNN"
            if not config.packed:
                return rnn(x, state)
            packed = pack_padded_sequence(
                x, torch.tensor(steps), batch_first=config.batch_first, enforce_sorted=config.sort == "manual"
            )
            packed_output, state = rnn(packed, state)
            output, _ = pad_packed_sequence(packed_output, batch_first=config.batch_first, total_length=total_length)
            return output, state

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the contract's one thread (two split a GRU's sums from a random h_0 differently)
    try:
        with torch.no_grad(), torch.backends.cudnn.flags(enabled=True, deterministic=True, allow_tf32=False):
            embedded = embedding(inputs.to(device))
            if config.h0 != "carry":
                output, state = call(embedded, lengths, state, width)
            else:  # [0, K), then [K, T) from the first chunk's final state
                K, axis = config.split or max(lengths) // 2, 1 if config.batch_first else 0
                first, middle = call(embedded.narrow(axis, 0, K), [min(n, K) for n in lengths], None, K)
                if config.detach:  # the second chunk from the state cut from its history: the same numbers
                    middle = tuple(s.detach() for s in middle) if config.cell == "lstm" else middle.detach()
                rest, state = call(embedded.narrow(axis, K, width - K), [n - K for n in lengths], middle, width - K)
                output = torch.cat([first, rest], dim=axis)
    finally:
        torch.set_num_threads(threads)
    h_n, c_n = state if config.cell == "lstm" else (state, None)
    return embedded.cpu(), output.cpu(), h_n.cpu(), None if c_n is None else c_n.cpu(), rnn


def assert_same_as_plain_pytorch(config: Config, device: str = "cpu"):
    result = run(config)
    embedded, output, h_n, c_n, rnn = plain_pytorch(config, device)
    assert result.device == device
    assert torch.equal(result.embedded, embedded)
    assert torch.equal(result.output, output)
    assert torch.equal(result.h_n, h_n)
    if config.cell == "lstm":
        assert torch.equal(result.c_n, c_n)
    else:
        assert result.c_n is None
    params = dict(rnn.named_parameters())
    assert set(result.weights) == set(params)
    for name, p in params.items():
        assert torch.equal(result.weights[name], p.detach().cpu()), name
    return result


# -----------------------------------------------------------------------------
# Bit for bit against plain PyTorch


@pytest.mark.parametrize("device", DEVICES)
@given(config=configs(extended=True))
def test_run_is_plain_pytorch(device, config):
    device = "cpu" if config.draws_masks else device  # the masks come from the CPU generator
    assert_same_as_plain_pytorch(config.replace(device=device), device)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"packed": True},
        {"packed": True, "batch_first": True, "bidirectional": True, "layers": 3},
        {"cell": "lstm", "proj": 3, "bidirectional": True, "layers": 2, "packed": True},
        {"cell": "gru", "dtype": "float64", "batch_first": True},
        {"nonlinearity": "relu", "seed": 2**32 - 1},
        {"cell": "lstm", "h0": "random", "layers": 2, "bidirectional": True, "batch_first": True},
        {"cell": "gru", "h0": "carry", "split": 3, "packed": True, "bidirectional": True},
        {"h0": "carry", "layers": 3, "dropout": 0.5, "batch_first": True},
        {"cell": "lstm", "h0": "carry", "detach": True, "layers": 2, "dropout": 0.5, "train_mode": True},
        {"cell": "lstm", "dropout": 0.5, "layers": 1, "train_mode": True},
        {"packed": True, "total_length": 12, "cell": "lstm", "bidirectional": True, "batch_first": True},
        {"packed": True, "total_length": 9, "h0": "carry", "split": 2, "layers": 2},
        {"packed": True, "sort": "manual", "h0": "random", "cell": "lstm", "layers": 2, "bidirectional": True},
        {"packed": True, "sort": "manual", "total_length": 10, "dropout": 0.5, "layers": 3, "train_mode": True},
    ],
)
def test_run_is_plain_pytorch_examples(device, changes):
    assert_same_as_plain_pytorch(Config(device=device, **changes), device)


@given(config=around_configs())
def test_total_length_and_manual_sort_are_plain_pytorch(config):
    assert_same_as_plain_pytorch(config.replace(device="cpu"), "cpu")


def test_total_length_pads_the_batch_and_output_to_n():
    """The batch padded to N = 11 steps: <pad> past each length; output's steps from T = 8 on are exactly 0."""
    result = run(Config(packed=True, total_length=11))
    assert result.batch.max_length == 11 and tuple(result.batch.padded.shape) == (11, 3)
    assert result.batch.token(10, 0) == "<pad>" and result.output.shape[0] == 11
    assert not result.output[max(result.batch.lengths) :].any()


def test_manual_sort_sorts_the_batch_longest_first_ties_as_given():
    result = run(Config(packed=True, sort="manual", sequences=("ab", "abcd", "xy", "abc")))
    assert result.batch.sequences == ("abcd", "abc", "ab", "xy") and result.batch.lengths == (4, 3, 2, 2)


@pytest.mark.parametrize(
    "changes, words",
    [
        ({"packed": True, "total_length": 5}, "total_length 5 is shorter than T = 8, the longest sequence"),
        ({"total_length": 9}, "total_length 9 is only for a packed batch"),
        ({"sort": "manual"}, "sort manual is only for a packed batch"),
        ({"packed": True, "total_length": 65}, "total_length must be between 0 and 64"),
    ],
)
def test_total_length_and_sort_refuse_what_cannot_run(changes, words):
    with pytest.raises(ConfigError, match=words):
        Config(**changes)


def test_run_is_reproducible_and_seed_matters():
    a, b = run(Config(seed=7)), run(Config(seed=7))
    assert torch.equal(a.output, b.output) and torch.equal(a.h_n, b.h_n)
    assert not torch.equal(run(Config(seed=8)).output, a.output)


def test_run_does_not_depend_on_earlier_random_state():
    torch.manual_seed(123)
    torch.rand(1000)
    a = run(Config(seed=3))
    torch.manual_seed(999)
    b = run(Config(seed=3))
    assert torch.equal(a.output, b.output)


# -----------------------------------------------------------------------------
# Shapes, dtypes, layouts


@given(configs())
def test_shapes_per_design(config):
    result = run(config)
    L, D, B, H = config.layers, config.directions, len(config.sequences), config.state_size
    T, E = max(len(s) for s in config.sequences), config.embedding
    lead = (B, T) if config.batch_first else (T, B)
    assert result.batch.padded.shape == lead
    assert result.embedded.shape == (*lead, E)
    assert result.output.shape == (*lead, D * H)
    assert result.h_n.shape == (L * D, B, H)  # batch_first never moves h_n
    if config.cell == "lstm":
        assert result.c_n.shape == (L * D, B, config.hidden)  # never projected
    dtype = getattr(torch, config.dtype)
    for t in (result.embedded, result.output, result.h_n, result.c_n):
        if t is not None:
            assert t.dtype == dtype and t.device.type == "cpu"
    for p in result.weights.values():
        assert p.dtype == dtype and not p.requires_grad


@given(configs(batch_first=False))
def test_batch_first_only_transposes(config):
    tm, bf = run(config), run(config.replace(batch_first=True))
    assert torch.equal(bf.embedded, tm.embedded.transpose(0, 1))
    # torch's batch_first path may round differently in the last bit (seen with GRU), so: close, not equal
    torch.testing.assert_close(bf.output, tm.output.transpose(0, 1), atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(bf.h_n, tm.h_n, atol=1e-6, rtol=1e-5)


def alone(result, b: int) -> torch.Tensor:
    """h_n of sequence b run by itself, unpadded, through a module with the run's weights: (L*D, H)."""
    c = result.config
    rnn = recurrent_module(c, c.embedding, c.layers, batch_first=False).to(result.h_n.dtype)
    rnn.load_state_dict(dict(result.weights))
    x = time_major(result.embedded, c.batch_first)[: result.batch.lengths[b], b : b + 1]  # (len_b, 1, E)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, state = rnn(x)
    return (state[0] if c.cell == "lstm" else state)[:, 0]


@given(configs(packed=True))
def test_packed_h_n_is_in_original_order(config):
    """h_n[:, b] belongs to sequence b as given (pack_padded_sequence sorts internally, then unsorts)."""
    result = run(config)
    out = time_major(result.output, config.batch_first)  # (T, B, D*H)
    H, L, D = config.state_size, config.layers, config.directions
    hv = result.h_n.view(L, D, len(config.sequences), H)
    for b, n in enumerate(result.batch.lengths):
        assert torch.equal(out[n - 1, b, :H], hv[-1, 0, b])  # forward ends at the true last step
        if D == 2:
            assert torch.equal(out[0, b, H:], hv[-1, 1, b])  # backward ends at t = 0
        assert not out[n:, b].any()  # past the length: padding, zero
        # the same weights on sequence b alone give row b of h_n
        torch.testing.assert_close(alone(result, b), result.h_n[:, b], atol=1e-6, rtol=1e-5)


def test_packed_unsorted_example():
    """The blog's batch is not sorted by length (8, 4, 6): h_n row 1 is 'tiny', row 2 'medium'."""
    result = run(Config(packed=True))
    padded = run(Config())
    for b, n in enumerate((8, 4, 6)):
        torch.testing.assert_close(alone(result, b), result.h_n[:, b], atol=1e-6, rtol=1e-5)
        assert torch.equal(result.output[n - 1, b], result.h_n[0, b])
        torch.testing.assert_close(result.output[:n, b], padded.output[:n, b], atol=1e-6, rtol=1e-5)  # same steps
    assert not torch.allclose(result.h_n[0, 1], padded.h_n[0, 1])  # 'tiny' padded reads 4 <pad> steps more
    torch.testing.assert_close(result.h_n[0, 0], padded.h_n[0, 0], atol=1e-6, rtol=1e-5)  # no padding


def test_lstm_projection_sizes():
    result = run(Config(cell="lstm", hidden=6, proj=2, layers=2, bidirectional=True))
    assert result.output.shape == (8, 3, 4)
    assert result.h_n.shape == (4, 3, 2)
    assert result.c_n.shape == (4, 3, 6)
    assert result.weights["weight_hr_l0"].shape == (2, 6)
    assert result.weights["weight_ih_l1_reverse"].shape == (24, 4)


def test_result_weights_are_read_only_mapping():
    result = run(Config())
    with pytest.raises(TypeError):
        result.weights["weight_ih_l0"] = torch.zeros(5, 5)
    assert set(result.weights) == {"weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"}


# -----------------------------------------------------------------------------
# Devices


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")
def test_cuda_without_gpu_is_a_config_error():
    with pytest.raises(ConfigError, match="cuda"):
        run(Config(device="cuda"))
    with pytest.raises(ConfigError, match="cuda"):
        resolve_device("cuda")
    assert resolve_device("auto") == "cpu"
    assert run(Config(device="auto")).device == "cpu"


@pytest.mark.cuda
@requires_cuda
def test_auto_picks_cuda_where_there_is_one():
    assert resolve_device("auto") == "cuda"


def test_cpu_is_cpu():
    assert resolve_device("cpu") == "cpu"
    assert run(Config(device="cpu")).device == "cpu"


# -----------------------------------------------------------------------------
# The blog's four sections, and the blog's own assertions


BLOG_SHAPES = {  # (input, output, hidden), time-major
    "single-uni": ((8, 3), (8, 3, 5), (1, 3, 5)),
    "multi-uni": ((8, 3), (8, 3, 5), (2, 3, 5)),
    "single-bi": ((8, 3), (8, 3, 10), (2, 3, 5)),
    "multi-bi": ((8, 3), (8, 3, 10), (4, 3, 5)),
}


@pytest.mark.parametrize("preset", list(BLOG_SHAPES))
def test_blog_shapes(preset):
    result = assert_same_as_plain_pytorch(PRESETS[preset])
    shapes = (tuple(result.batch.padded.shape), tuple(result.output.shape), tuple(result.h_n.shape))
    assert shapes == BLOG_SHAPES[preset]


def test_blog_single_layer_uni_directional():
    output, hidden = run(PRESETS["single-uni"]).output, run(PRESETS["single-uni"]).h_n
    assert (output[-1, :, :] == hidden[0]).all()


def test_blog_multi_layer_uni_directional():
    result = run(PRESETS["multi-uni"])
    output, hidden = result.output, result.h_n
    assert (output[-1, :, :] == hidden[-1]).all()
    assert not (output[-1, :, :] == hidden[0]).all()  # layer 0's state is not the output


def test_blog_single_layer_bi_directional():
    result = run(PRESETS["single-bi"])
    output, hidden, hidden_dim = result.output, result.h_n, 5
    assert (output[-1, :, :hidden_dim] == hidden[0]).all()
    assert (output[0, :, hidden_dim:] == hidden[-1]).all()
    assert not (output[-1, :, hidden_dim:] == hidden[-1]).all()  # backward's last output is its first state


def test_blog_multi_layer_bi_directional():
    result = run(PRESETS["multi-bi"])
    output, n_layers, hidden_dim = result.output, 2, 5
    batch_size = result.batch.padded.shape[1]
    hidden = result.h_n.view(n_layers, 2, batch_size, hidden_dim)
    assert hidden.shape == (2, 2, 3, 5)
    assert (output[-1, :, :5] == hidden[1][0]).all()
    assert (output[0, :, 5:] == hidden[1][1]).all()
    assert (output[-1, :, :hidden_dim] == hidden[n_layers - 1][0]).all()
    assert (output[0, :, hidden_dim:] == hidden[n_layers - 1][1]).all()
    assert not (output[-1, :, :5] == hidden[0][0]).all()  # layer 0 is not the top layer


# -----------------------------------------------------------------------------
# Torch's per-layer outputs


@given(configs(extended=True))
def test_layer_by_layer_ends_in_the_output(config):
    result = run(config)
    layers = layer_by_layer(result)
    T, B = result.batch.max_length, len(config.sequences)
    assert len(layers) == config.layers
    for x in layers:
        assert x.shape == (T, B, config.directions * config.state_size)
        assert x.dtype == getattr(torch, config.dtype)
    torch.testing.assert_close(layers[-1], time_major(result.output, config.batch_first), atol=1e-6, rtol=1e-6)


@given(configs(extended=True))
def test_a_one_layer_run_is_its_own_layer_by_layer_to_the_bit(config):
    """layer_by_layer skips the rebuild of a one-layer CPU run: the rebuild gives the very same bits."""
    result = run(config.replace(layers=1, dropout=0.0))
    assert torch.equal(layer_by_layer(result)[0], rebuild(result).layers[0])


def test_concurrent_runs_each_get_their_own_seed():
    """Dashboard sessions run in threads: torch's global RNG must not mix their seeds."""
    expected = {seed: run(Config(seed=seed)).h_n for seed in range(8)}
    wrong = []

    def runs(seed):
        wrong.extend(seed for _ in range(20) if not torch.equal(run(Config(seed=seed)).h_n, expected[seed]))

    threads = [threading.Thread(target=runs, args=(seed,)) for seed in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []


@pytest.mark.parametrize(
    "config",
    [
        Config(sequences=("abcdefgh" * 4,) * 8, cell="lstm", layers=2, bidirectional=True, hidden=96, embedding=64),
        Config(sequences=("xyz" * 9, "q"), cell="gru", hidden=128, embedding=32, dtype="float64", packed=True),
        Config(sequences=("hello", "hi"), cell="rnn", layers=3, hidden=200, embedding=100, batch_first=True),
    ],
    ids=["lstm-bi", "gru-float64-packed", "rnn-batch-first"],
)
def test_one_torch_thread_gives_the_same_numbers_as_several(config):
    """The dashboard runs torch on one thread; the CLI and the snippet on torch's default: the same bits."""
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(4)
        several = run(config)
        torch.set_num_threads(1)
        one = run(config)
    finally:
        torch.set_num_threads(before)
    for name in ("embedded", "output", "h_n", "c_n"):
        a, b = getattr(several, name), getattr(one, name)
        assert (a is None and b is None) or torch.equal(a, b), name


# -----------------------------------------------------------------------------
# h_0, chunks and dropout: the contract's draws, torch's own words


@given(configs(extended=True, h0="random"))
def test_random_h_0_is_drawn_right_after_building(config):
    result = run(config)
    torch.manual_seed(config.seed)
    nn.Embedding(len(result.batch.vocab), config.embedding)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        recurrent_module(config, config.embedding, config.layers, config.batch_first, config.dropout)
    rows, B = config.layers * config.directions, len(config.sequences)
    dtype = getattr(torch, config.dtype)
    assert torch.equal(result.h_0, torch.randn(rows, B, config.state_size).to(dtype))
    if config.cell == "lstm":
        assert torch.equal(result.c_0, torch.randn(rows, B, config.hidden).to(dtype))
    else:
        assert result.c_0 is None


@given(configs(extended=True, h0="carry"))
def test_carry_hands_the_first_chunks_final_state_to_the_second(config):
    result = run(config)
    K, lengths = config.chunk, result.batch.lengths
    x = time_major(result.embedded, config.batch_first)[:K]  # (K, B, E)
    rnn = recurrent_module(config, config.embedding, config.layers, batch_first=False).to(x.dtype)
    rnn.load_state_dict(dict(result.weights))
    rnn.eval()  # the state at the split: dropout would draw other masks
    steps = torch.tensor([min(n, K) for n in lengths])
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, state = rnn(pack_padded_sequence(x, steps, enforce_sorted=False) if config.packed else x)
    h, c = state if config.cell == "lstm" else (state, None)
    if not config.draws_masks:
        torch.testing.assert_close(result.h_0, h, atol=1e-6, rtol=1e-5)
        if c is not None:
            torch.testing.assert_close(result.c_0, c, atol=1e-6, rtol=1e-5)
    D = config.directions
    torch.testing.assert_close(result.h_0[:D], h[:D], atol=1e-6, rtol=1e-5)  # layer 0 is never dropped


@pytest.mark.parametrize("cell", [nn.RNN, nn.LSTM, nn.GRU])
@pytest.mark.parametrize("packed", [False, True])
def test_detach_cuts_the_graph_at_the_split_not_the_numbers(cell, packed):
    """forward_in_chunks with autograd on: the second chunk's output is the same, and with detach no gradient of it
    reaches a first-chunk input."""
    torch.manual_seed(0)
    rnn, lengths = cell(3, 4, num_layers=2), [6, 4]
    grads, outputs = [], []
    for detach in (False, True):
        x = torch.randn(6, 2, 3, generator=torch.Generator().manual_seed(1)).requires_grad_()  # (T, B, E)
        output, _, _ = forward_in_chunks(rnn, x, lengths, packed, None, 3, detach)
        output[3:].sum().backward()
        grads.append(x.grad)
        outputs.append(output.detach())
    assert torch.equal(outputs[0], outputs[1])
    assert grads[0][:3].abs().sum() > 0 and not grads[1][:3].any()
    assert torch.equal(grads[0][3:], grads[1][3:])


def test_zeros_hand_no_state():
    result = run(Config(cell="lstm"))
    assert (result.h_0, result.c_0, result.masks_state, result.warnings, result.training) == (
        None,
        None,
        None,
        (),
        None,
    )


def dropout_warning(config: Config) -> list[str]:
    """What torch warns when it builds config's module, caught here."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        recurrent_module(config, config.embedding, config.layers, config.batch_first, config.dropout)
    return [str(w.message) for w in caught]


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_torchs_own_dropout_warning_is_kept(cell):
    config = Config(cell=cell, dropout=0.3)
    expected = dropout_warning(config)
    assert len(expected) == 1 and "num_layers greater than 1" in expected[0]
    assert run(config).warnings == tuple(expected)
    assert run(config).warnings == tuple(expected)  # every time, not once per process
    assert run(config.replace(layers=2)).warnings == ()
    assert run(config.replace(dropout=0.0)).warnings == ()


@pytest.mark.parametrize("changes", [{}, {"cell": "lstm"}, {"cell": "gru", "bidirectional": True, "layers": 3}])
def test_the_batch_first_h_0_error_is_torchs(changes):
    config = Config(batch_first=True, **changes)
    B, rows = len(config.sequences), config.layers * config.directions
    rnn = recurrent_module(config, config.embedding, config.layers, batch_first=True)
    h_0 = torch.zeros(B, rows, config.state_size)
    state = (h_0, torch.zeros(B, rows, config.hidden)) if config.cell == "lstm" else h_0
    with pytest.raises(RuntimeError) as info:
        rnn(torch.zeros(B, 4, config.embedding), state)
    assert batch_first_h_0_error(config) == str(info.value)
    assert "Expected hidden" in str(info.value)
    rnn(
        torch.zeros(B, 4, config.embedding),
        tuple(s.transpose(0, 1) for s in state) if config.cell == "lstm" else state.transpose(0, 1),
    )  # fmt: skip: [L*D, B, H] runs


def test_no_batch_first_h_0_error_where_the_shapes_coincide():
    assert batch_first_h_0_error(Config(sequences=("ab",))) is None  # B = L*D = 1
    assert batch_first_h_0_error(Config(sequences=("ab", "c"), bidirectional=True)) is None  # B = L*D = 2


def test_the_h_0_error_leaves_the_rng_alone():
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    batch_first_h_0_error(Config(layers=2))
    assert torch.equal(torch.rand(3), expected)


def test_masks_run_on_the_cpu():
    config = Config(dropout=0.5, train_mode=True, layers=2)
    result = run(config)
    assert result.device == "cpu" and result.masks_state is not None
    assert not torch.equal(result.output, run(config.replace(train_mode=False)).output)
    assert torch.equal(result.output, run(config).output)  # the same masks every time


def test_concurrent_train_mode_runs_draw_their_own_masks():
    """Dashboard sessions run in threads: a forward that draws masks must not draw another session's numbers."""
    configs_ = [Config(seed=seed, layers=3, dropout=0.5, train_mode=True, cell="gru") for seed in range(6)]
    expected = {c.seed: run(c).output for c in configs_}
    wrong = []

    def runs(config):
        wrong.extend(config.seed for _ in range(15) if not torch.equal(run(config).output, expected[config.seed]))

    threads = [threading.Thread(target=runs, args=(c,)) for c in configs_]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []


# -----------------------------------------------------------------------------
# A task: the trained weights, the task's vocabulary


TASK = Config(sequences=("(a(b))", "c)("), cell="gru", hidden=6, embedding=3, task="brackets", steps=5)


def test_a_task_runs_the_trained_weights_on_its_vocabulary():
    result = run(TASK)
    training = trained(TASK)
    assert result.training is training and trained(TASK.replace(packed=True, seed=0)) is training  # trained once
    assert result.batch.vocab == TASK_VOCAB
    ids = [[TASK_VOCAB.index(ch) for ch in seq] for seq in TASK.sequences]
    assert list(result.batch.padded[:, 1][:3]) == ids[1]
    assert torch.equal(result.embedded[:6, 0], training.embedding["weight"][ids[0]])
    assert all(torch.equal(result.weights[name], w) for name, w in training.rnn.items())
    assert training.steps == 5 and len(training.loss) == 5


def test_a_task_is_trained_once_per_model_and_steps():
    assert trained(TASK.replace(steps=6)) is not trained(TASK)
    assert trained(TASK.replace(seed=1)) is not trained(TASK)
    assert trained(TASK.replace(h0="random", dropout=0.5, train_mode=True, batch_first=True)) is trained(TASK)


def test_zero_padding_embeds_pad_to_zeros_and_draws_the_same_numbers():
    learned, zero = run(Config()), run(Config(pad="zero"))
    pads = learned.batch.padded == 0  # (T, B)
    assert not zero.embedded[pads].any() and learned.embedded[pads].any()
    assert torch.equal(zero.embedded[~pads], learned.embedded[~pads])  # the other rows: the same draws
    assert all(torch.equal(zero.weights[k], w) for k, w in learned.weights.items())
