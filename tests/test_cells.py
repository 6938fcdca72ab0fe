"""The cell registry: each entry's module, options, equations and step by hand, checked against torch's own cells."""

import subprocess
import sys
import warnings

import pytest
import torch
from apptest import each_tab, fresh_app
from torch import nn

from rnnviz import Config, analyse
from rnnviz.__main__ import config_from_args, parse_args
from rnnviz.cells import CELLS, Cell, cell_step, equations, gru_step, lstm_step, rnn_step, step_code
from rnnviz.links import parse_link
from rnnviz.snippet import make_snippet


def test_gates_are_the_blocks_of_the_weights():
    for name, cell in CELLS.items():
        module = cell.module(2, 3)
        assert module.weight_ih_l0.shape == (len(cell.gates) * 3, 2), name


# -----------------------------------------------------------------------------
# A fourth cell type is one entry: here a GRU under another name, which must give the GRU's numbers everywhere

FOURTH = Cell("gru2", "GRU2", nn.GRU, gru_step, CELLS["gru"].equations, CELLS["gru"].gates)


@pytest.fixture
def fourth_cell(monkeypatch):
    monkeypatch.setitem(CELLS, "gru2", FOURTH)


def test_a_fourth_cell_runs_in_the_core_the_cli_links_and_the_script(fourth_cell, tmp_path):
    config = Config(sequences=("abcd", "ab"), cell="gru2", layers=2, bidirectional=True, packed=True)
    mine, gru = analyse(config), analyse(config.replace(cell="gru"))
    assert torch.equal(mine.result.output, gru.result.output) and torch.equal(mine.result.h_n, gru.result.h_n)
    assert [(r.id, r.verdict) for r in mine.relations] == [(r.id, r.verdict) for r in gru.relations]
    assert config_from_args(parse_args(["--cell", "gru2"])).cell == "gru2"
    assert parse_link({"cell": "GRU2"}).config.cell == "gru2"
    script = tmp_path / "script.py"
    script.write_text(make_snippet(mine.result, mine.relations))
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "guaranteed relations hold" in proc.stdout, proc.stderr


def test_a_fourth_cell_is_offered_and_shown_by_the_dashboard(fourth_cell):
    at = fresh_app(cell="GRU2", layers="2", hidden="3", embedding="2").run()
    assert "GRU2" in at.selectbox(key="cell").options
    for label in each_tab(at):
        assert not at.exception, (label, [e.value for e in at.exception])
        assert not at.error, (label, [e.value for e in at.error])


def test_registry_names_torchs_modules():
    assert {name: cell.module for name, cell in CELLS.items()} == {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
    assert [cell.module_name for cell in CELLS.values()] == ["nn.RNN", "nn.LSTM", "nn.GRU"]
    assert [name for name, cell in CELLS.items() if cell.has_cell_state] == ["lstm"]
    assert [name for name, cell in CELLS.items() if cell.has_nonlinearity] == ["rnn"]
    for name, cell in CELLS.items():
        module = cell.module(2, 3)
        assert hasattr(module, "nonlinearity") == cell.has_nonlinearity, name


def test_cell_step_picks_the_equations():
    assert cell_step(Config(cell="lstm")) is lstm_step
    assert cell_step(Config(cell="gru")) is gru_step
    relu = cell_step(Config(nonlinearity="relu"))
    assert relu.func is rnn_step and relu.keywords == {"nonlinearity": "relu"}


def test_step_code_names_the_step_as_the_script_writes_it():
    assert step_code(Config(cell="lstm")) == "lstm_step"
    assert step_code(Config(nonlinearity="relu")) == "partial(rnn_step, nonlinearity='relu')"


@pytest.mark.parametrize("cell", list(CELLS))
def test_equations_read_back_in_time_by_direction(cell):
    forward, backward = equations(Config(cell=cell), 0), equations(Config(cell=cell), 1)
    assert all("{prev}" not in line and "ACT" not in line for line in forward + backward)
    assert any("{t-1}" in line for line in forward) and not any("{t+1}" in line for line in forward)
    assert any("{t+1}" in line for line in backward) and not any("{t-1}" in line for line in backward)


def test_equations_show_relu_and_the_projection():
    assert r"\mathrm{ReLU}" in equations(Config(nonlinearity="relu"), 0)[0]
    lines = equations(Config(cell="lstm", proj=2), 0)
    assert lines[-1].startswith("h_t = W_{hr}") and len(lines) == len(CELLS["lstm"].equations)


# -----------------------------------------------------------------------------
# One step against torch's own cells, with the same weights


def cell_weights(cell: nn.Module) -> dict:
    return {name: p.detach() for name, p in cell.named_parameters()}


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_rnn_step_is_rnn_cell(dtype, nonlinearity):
    torch.manual_seed(1)
    cell = nn.RNNCell(3, 4, nonlinearity=nonlinearity).to(dtype)
    x, h = torch.randn(5, 3, dtype=dtype), torch.randn(5, 4, dtype=dtype)
    terms = rnn_step(x, h, None, cell_weights(cell), nonlinearity=nonlinearity)
    with torch.no_grad():
        expected = cell(x, h)
    torch.testing.assert_close(terms["h"], expected, atol=1e-6 if dtype == torch.float32 else 1e-12, rtol=0)
    w = cell_weights(cell)
    torch.testing.assert_close(terms["x_part"], x @ w["weight_ih"].T + w["bias_ih"])
    torch.testing.assert_close(terms["h_part"], h @ w["weight_hh"].T + w["bias_hh"])


def test_rnn_step_default_is_tanh():
    torch.manual_seed(2)
    cell = nn.RNNCell(2, 3)
    x, h = torch.randn(4, 2), torch.randn(4, 3)
    with torch.no_grad():
        torch.testing.assert_close(rnn_step(x, h, None, cell_weights(cell))["h"], cell(x, h), atol=1e-6, rtol=0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_lstm_step_is_lstm_cell(dtype):
    torch.manual_seed(3)
    cell = nn.LSTMCell(3, 4).to(dtype)
    x, h, c = torch.randn(5, 3, dtype=dtype), torch.randn(5, 4, dtype=dtype), torch.randn(5, 4, dtype=dtype)
    terms = lstm_step(x, h, c, cell_weights(cell))
    with torch.no_grad():
        h1, c1 = cell(x, (h, c))
    atol = 1e-6 if dtype == torch.float32 else 1e-12
    torch.testing.assert_close(terms["h"], h1, atol=atol, rtol=0)
    torch.testing.assert_close(terms["c"], c1, atol=atol, rtol=0)
    assert set(terms) == {"i", "f", "g", "o", "c", "h"}
    for gate in ("i", "f", "o"):
        assert ((terms[gate] > 0) & (terms[gate] < 1)).all()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_lstm_step_with_projection_is_one_step_of_lstm(dtype):
    """LSTMCell has no proj_size: compare with one time step of nn.LSTM(proj_size=2)."""
    torch.manual_seed(4)
    lstm = nn.LSTM(3, 5, proj_size=2).to(dtype)
    x, h, c = torch.randn(4, 3, dtype=dtype), torch.randn(4, 2, dtype=dtype), torch.randn(4, 5, dtype=dtype)
    w = {name.removesuffix("_l0"): p.detach() for name, p in lstm.named_parameters()}
    terms = lstm_step(x, h, c, w)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, (h1, c1) = lstm(x.unsqueeze(0), (h.unsqueeze(0), c.unsqueeze(0)))
    atol = 1e-6 if dtype == torch.float32 else 1e-12
    torch.testing.assert_close(terms["h"], h1[0], atol=atol, rtol=0)
    torch.testing.assert_close(terms["c"], c1[0], atol=atol, rtol=0)
    assert terms["h_unprojected"].shape == (4, 5) and terms["h"].shape == (4, 2)
    torch.testing.assert_close(terms["h"], terms["h_unprojected"] @ w["weight_hr"].T)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_gru_step_is_gru_cell(dtype):
    torch.manual_seed(5)
    cell = nn.GRUCell(3, 4).to(dtype)
    x, h = torch.randn(5, 3, dtype=dtype), torch.randn(5, 4, dtype=dtype)
    terms = gru_step(x, h, None, cell_weights(cell))
    with torch.no_grad():
        expected = cell(x, h)
    torch.testing.assert_close(terms["h"], expected, atol=1e-6 if dtype == torch.float32 else 1e-12, rtol=0)
    assert set(terms) == {"r", "z", "n", "h"}
    torch.testing.assert_close(terms["h"], (1 - terms["z"]) * terms["n"] + terms["z"] * h)
