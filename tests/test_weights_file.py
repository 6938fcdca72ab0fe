"""A saved state_dict as the layer to run: the layer read off torch's names and shapes, a model's layer found by its
prefix, files that are not such a state_dict (or would run code, or are too big) refused in one line before anything
runs, and `python -m rnnviz --weights` running exactly the file's weights."""

import hashlib
import io
import json
import os
import pickle
import subprocess
import sys

import pytest
import torch
from conftest import ROOT, configs
from hypothesis import given
from hypothesis import strategies as st
from test_cli import cli
from test_snippet import run_snippet
from torch import nn

import rnnviz.weights_file as weights_file
from rnnviz import Config, ConfigError, analyse_with_gradients, run
from rnnviz.cells import CELLS
from rnnviz.model import recurrent_module
from rnnviz.snippet import make_proof, make_snippet
from rnnviz.weights_file import Layer, read_weights


def saved(state: dict) -> bytes:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def module_of(config: Config, bias: bool = True) -> nn.Module:
    """A module of the config's layer, its own random weights (not rnnviz's seeded ones)."""
    kwargs = dict(num_layers=config.layers, bidirectional=config.bidirectional, bias=bias)
    if config.proj:
        kwargs["proj_size"] = config.proj
    return CELLS[config.cell].module(config.embedding, config.hidden, **kwargs)


class Model(nn.Module):
    """A whole model: an embedding, the recurrent layer under a prefix, a head."""

    def __init__(self, rnn: nn.Module):
        super().__init__()
        self.embedding = nn.Embedding(7, rnn.input_size)
        self.encoder = nn.Module()
        self.encoder.rnn = rnn
        self.head = nn.Linear(rnn.hidden_size, 2)


class Hostile:
    """Unpickled, it writes a marker file: what a state_dict file must never be allowed to do."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


# -----------------------------------------------------------------------------
# The layer, read off the shapes


@given(configs(), st.booleans())
def test_the_layer_is_read_off_the_shapes(config, bias):
    torch.manual_seed(config.seed)
    module = module_of(config, bias)
    weights = read_weights(saved(module.state_dict()), "layer.pt")
    assert weights.layer == Layer(
        config.cell, config.layers, config.bidirectional, config.hidden, config.embedding, config.proj, bias
    )
    assert weights.prefix == "" and weights.file == "layer.pt"
    assert list(weights.rnn) == [name for name, _ in recurrent_module(config, config.embedding, config.layers,
                                                                      False).named_parameters()]  # fmt: skip
    for name, tensor in weights.rnn.items():
        expected = module.state_dict().get(name, torch.zeros_like(tensor))  # no bias: zeros in its place
        assert torch.equal(tensor, expected), name


def test_a_models_layer_is_found_by_its_prefix():
    rnn = nn.GRU(3, 4, num_layers=2, bidirectional=True)
    data = saved(Model(rnn).state_dict())
    weights = read_weights(data, "model.pt")
    assert weights.prefix == "encoder.rnn."
    assert weights.layer == Layer("gru", 2, True, 4, 3, 0, True)
    assert all(torch.equal(weights.rnn[name], p) for name, p in rnn.state_dict().items())
    assert weights.sha256 == hashlib.sha256(data).hexdigest()


def test_several_layers_need_a_prefix():
    model = nn.Module()
    model.encoder, model.decoder = nn.LSTM(3, 4), nn.RNN(4, 2, bias=False)
    data = saved(model.state_dict())
    with pytest.raises(ConfigError, match=r"2 recurrent layers, under 'encoder\.', 'decoder\.'"):
        read_weights(data, "two.pt")
    assert read_weights(data, "two.pt", prefix="decoder").layer == Layer("rnn", 1, False, 2, 4, 0, False)
    assert read_weights(data, "two.pt", prefix="encoder.").layer.cell == "lstm"
    with pytest.raises(ConfigError, match=r"no recurrent layer under the prefix 'head\.'"):
        read_weights(data, "two.pt", prefix="head")


# -----------------------------------------------------------------------------
# Files that are refused, in one line


def refused(data: bytes, match: str, **kwargs):
    with pytest.raises(ConfigError, match=match) as raised:
        read_weights(data, "f.pt", **kwargs)
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize("pickled", ["torch.save", "pickle"])
def test_a_pickle_that_would_run_code_is_refused_and_never_run(pickled, tmp_path):
    marker = tmp_path / "marker"
    state = {"weight_ih_l0": Hostile(marker)}
    data = saved(state) if pickled == "torch.save" else pickle.dumps(state)
    refused(data, "holds more than tensors")
    assert not marker.exists()
    if pickled == "pickle":  # the file is as hostile as it says: plain unpickling writes the marker
        pickle.loads(data)
        assert marker.exists()


def test_a_truncated_file_is_refused():
    data = saved(nn.LSTM(3, 4).state_dict())
    refused(data[: len(data) // 2], r"not a file torch.save wrote, or it is cut short \(RuntimeError")
    refused(b"", "cut short")


def test_a_linear_layers_state_dict_is_refused():
    refused(saved(nn.Linear(3, 4).state_dict()), r"holds no recurrent layer: none of its 2 names \(weight, bias\)")


@pytest.mark.parametrize(
    ("state", "match"),
    [
        ([torch.zeros(2)], "holds a list, not a state_dict"),
        ({"weight_ih_l0": torch.zeros(4, 3)}, "must be matrices"),
        ({"weight_ih_l0": torch.zeros(8, 3), "weight_hh_l0": torch.zeros(8, 4)}, "not 1 .RNN., 3 .GRU. or 4"),
        ({**nn.GRU(3, 4, num_layers=2).state_dict(), "weight_hh_l1": torch.zeros(12, 5)}, r"weight_hh_l1 is \[12, 5\]"),
        ({k: v for k, v in nn.GRU(3, 4, num_layers=2).state_dict().items() if k != "bias_hh_l1"}, "missing bias_hh_l1"),
        ({k: v.long() for k, v in nn.RNN(3, 4).state_dict().items()}, "not a floating-point tensor"),
    ],
)
def test_what_is_not_one_recurrent_layer_is_refused(state, match):
    refused(saved(state), match)


def test_a_layer_beyond_configs_limits_is_refused():
    refused(saved(nn.GRU(3, 300).state_dict()), r"\(GRU, 1 layer, hidden 300, input 3\) does not fit .* hidden must be")


def test_a_file_over_the_cap_is_refused(monkeypatch):
    data = saved(nn.RNN(2, 2).state_dict())
    monkeypatch.setattr(weights_file, "MAX_BYTES", len(data) - 1)
    refused(data, f"is 0 MB: rnnviz reads at most {(len(data) - 1) // 10**6} MB")


# -----------------------------------------------------------------------------
# The run: rnnviz's batch and seeded embedding, then the file's weights


@given(configs(extended=True))
def test_a_run_holds_the_files_weights_and_rnnviz_embedding(config):
    torch.manual_seed(config.seed + 1)
    module = module_of(config)
    weights = read_weights(saved(module.state_dict()), "layer.pt")
    (result, _, relations), _ = analyse_with_gradients(config, False, weights)
    assert result.weights_file is weights
    dtype = getattr(torch, config.dtype)
    assert all(torch.equal(result.weights[name], p.to(dtype)) for name, p in module.state_dict().items())
    assert torch.equal(result.embedded, run(config).embedded)  # the seeded embedding, drawn first as without
    assert not any(rel.verdict == "contradiction" for rel in relations)  # the reruns (eval, whole) take the file too


@pytest.mark.parametrize(
    "config, bias, prefix",
    [
        (Config(cell="lstm", layers=2, bidirectional=True, proj=3, packed=True), True, "encoder.rnn."),
        (Config(cell="gru", h0="random", dtype="float64"), False, ""),
    ],
)
def test_the_exported_script_and_proof_load_the_file(config, bias, prefix, tmp_path):
    """The script and the short proof read the file from where the user keeps it: the script's numbers are the
    run's, bit for bit; the proof's assertions hold on them (a missing bias is zeros in both)."""
    torch.manual_seed(5)
    module = module_of(config, bias)
    state = Model(module).state_dict() if prefix else module.state_dict()
    (tmp_path / "my model.pt").write_bytes(saved(state))
    weights = read_weights((tmp_path / "my model.pt").read_bytes(), "my model.pt")
    (result, _, relations), _ = analyse_with_gradients(config, False, weights)
    script = make_snippet(result, relations)
    assert "torch.load('my model.pt', map_location='cpu', weights_only=True)" in script
    _, tensors = run_snippet(script, tmp_path)
    for name in ("output", "h_n", "c_n"):
        mine = getattr(result, name)
        assert (tensors[name] is None) == (mine is None) and (mine is None or torch.equal(tensors[name], mine)), name
    proof = make_proof(result, relations)
    completed = subprocess.run([sys.executable, "-c", proof], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert completed.returncode == 0, completed.stderr


# -----------------------------------------------------------------------------
# python -m rnnviz --weights


def test_the_json_report_names_the_file(tmp_path, capsys):
    path = tmp_path / "model.pt"
    torch.save(Model(nn.LSTM(4, 6, num_layers=2, proj_size=2)).state_dict(), path)
    code, out, err = cli(["--weights", str(path), "--sequences", "ab", "abc", "--json"], capsys)
    assert (code, err) == (0, "")
    report = json.loads(out)
    assert report["config"]["weights"] == {
        "file": "model.pt",
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "prefix": "encoder.rnn.",
        "sizes": {"cell": "lstm", "layers": 2, "bidirectional": False, "hidden": 6, "input_size": 4, "proj": 2,
                  "bias": True},
    }  # fmt: skip
    assert {k: report["config"][k] for k in ("cell", "layers", "hidden", "embedding", "proj")} == {
        "cell": "lstm", "layers": 2, "hidden": 6, "embedding": 4, "proj": 2
    }  # fmt: skip


def test_the_human_report_and_the_rnns_nonlinearity(tmp_path, capsys):
    path = tmp_path / "layer.pt"
    torch.save(nn.RNN(5, 5, nonlinearity="relu", bias=False).state_dict(), path)
    code, out, _ = cli(["--weights", str(path), "--nonlinearity", "relu", "--preset", "multi-bi"], capsys)
    assert code == 0
    assert out.startswith("RNN, 1 layer(s), unidirectional, hidden 5, embedding 5,") and "weights layer.pt" in out


def one_line_error(code, out, err, match: str):
    assert (code, out) == (2, "")
    assert err.startswith("rnnviz: error: ") and err.count("\n") == 1 and match in err, err


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["--hidden", "7"], "--hidden 7, but layer.pt holds a layer with hidden 6"),
        (["--task", "brackets"], "give one of them"),
        (["--prefix", "x"], "no recurrent layer under the prefix 'x.'"),
    ],
)
def test_options_that_contradict_the_file(tmp_path, capsys, argv, match):
    path = tmp_path / "layer.pt"
    torch.save(nn.GRU(4, 6).state_dict(), path)
    one_line_error(*cli(["--weights", str(path), *argv], capsys), match)


def test_files_refused_on_the_command_line(tmp_path, capsys):
    truncated, linear, big = tmp_path / "cut.pt", tmp_path / "linear.pt", tmp_path / "big.pt"
    truncated.write_bytes(saved(nn.LSTM(2, 2).state_dict())[:100])
    torch.save(nn.Linear(2, 3).state_dict(), linear)
    with open(big, "wb") as f:
        f.truncate(weights_file.MAX_BYTES + 1)  # sparse: nothing written
    one_line_error(*cli(["--weights", str(truncated)], capsys), "cut.pt is not a file torch.save wrote")
    one_line_error(*cli(["--weights", str(linear)], capsys), "linear.pt holds no recurrent layer")
    one_line_error(*cli(["--weights", str(big)], capsys), "is over 200 MB")
    one_line_error(*cli(["--weights", str(tmp_path / "none.pt")], capsys), "cannot read")
    one_line_error(*cli(["--prefix", "rnn"], capsys), "--prefix only goes with --weights")


def test_a_hostile_pickle_on_the_command_line_runs_nothing(tmp_path):
    marker, path = tmp_path / "marker", tmp_path / "evil.pt"
    torch.save({"rnn.weight_ih_l0": Hostile(marker)}, path)
    done = subprocess.run(
        [sys.executable, "-m", "rnnviz", "--weights", str(path), "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=120,
    )
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.startswith("rnnviz: error: evil.pt holds more than tensors") and done.stderr.count("\n") == 1
    assert not marker.exists()
