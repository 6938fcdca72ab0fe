"""The dashboard's "Your weights" uploader: the file's layer runs in every view of this session only (never in the
link, never in the server's shared cache), the page names the file, and a file that cannot run says why in words
while the page goes on with rnnviz's own weights."""

import hashlib
import io

import torch
from apptest import fresh_app
from torch import nn

import dashboard.cached
from bench.apptest import open_tab
from rnnviz.model import contract_threads

LSTM = dict(input_size=4, hidden_size=6, num_layers=2, bidirectional=True, proj_size=3)


class Model(nn.Module):
    """A whole model around the layer, as people save theirs."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(11)
        self.embedding = nn.Embedding(9, 4)
        self.encoder = nn.LSTM(**LSTM)
        self.head = nn.Linear(3, 2)


def saved(state: dict) -> bytes:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def uploaded(data: bytes, name: str = "classifier.pt"):
    """The dashboard after uploading data as name."""
    at = fresh_app().run()
    at.file_uploader(key="weights").set_value((name, data, "application/octet-stream")).run()
    return at


def session_runs(at) -> list:
    """The analyses this session keeps for its own file (dashboard.cached.session_cache)."""
    return [value for key, (value, _) in at.session_state["own_cache"]._values.items() if key[0] == "analysis"]


def test_the_files_layer_runs_in_this_session_only():
    model = Model()
    data = saved(model.state_dict())
    at = uploaded(data)
    assert not at.exception
    info = " ".join(element.value for element in at.info)
    assert "classifier.pt" in info and hashlib.sha256(data).hexdigest()[:12] in info
    assert "LSTM, 2 layers, bidirectional, hidden 6, input 4, proj 3" in info
    for key, shown in {"cell": "LSTM", "layers": 2, "hidden": 6, "embedding": 4, "proj": 3}.items():
        widget = at.selectbox(key=key) if key == "cell" else at.number_input(key=key)
        assert widget.value == shown and widget.disabled, key
    assert at.toggle(key="bidirectional").value and at.toggle(key="bidirectional").disabled
    assert at.selectbox(key="task").disabled
    assert at.session_state["preset"] == "Custom"  # the file moved the controls off the landing preset

    (analysis,) = session_runs(at)
    result = analysis.result
    with contract_threads(), torch.no_grad():
        output, (h_n, c_n) = model.encoder(result.embedded)  # (T, B, 2*3): the user's own module, untouched
    assert torch.equal(result.output, output) and torch.equal(result.h_n, h_n) and torch.equal(result.c_n, c_n)

    shared = dashboard.cached.server_cache()._values.values()
    assert not any(getattr(getattr(value, "result", None), "weights_file", None) for value, _ in shared)
    assert all("weights" not in key and "classifier" not in value for key, value in at.query_params.items())

    for tab in ("output & h_n", "Unrolled by hand", "Compare", "Code & downloads"):
        open_tab(at, tab)
        assert not at.exception, tab
    script = " ".join(code.value for code in at.code)
    assert "torch.load('classifier.pt', map_location='cpu', weights_only=True)" in script
    flips = at.selectbox(key="compare").options
    assert "packed=true" in flips and not [flip for flip in flips if flip.startswith("cell=")]  # the file fixes it


def test_removing_the_file_gives_the_controls_back():
    at = uploaded(saved(Model().state_dict()))
    at.file_uploader(key="weights").set_value(None).run()
    assert not at.exception and not at.info
    assert not at.selectbox(key="cell").disabled and not at.number_input(key="hidden").disabled


def test_a_file_that_cannot_run_says_why_and_the_page_goes_on():
    at = uploaded(b"not a torch file", "notes.pt")
    assert not at.exception
    errors = " ".join(element.value for element in at.error)
    assert "Your weights cannot run" in errors and "notes.pt is not a file torch.save wrote" in errors
    assert at.get("vega_lite_chart") and not at.selectbox(key="cell").disabled  # rnnviz's own weights, drawn


def test_a_file_with_two_layers_asks_for_the_prefix():
    two = {**{f"encoder.{k}": v for k, v in nn.GRU(3, 2).state_dict().items()},
           **{f"decoder.{k}": v for k, v in nn.RNN(2, 5).state_dict().items()}}  # fmt: skip
    at = uploaded(saved(two), "seq2seq.pt")
    errors = " ".join(element.value for element in at.error)
    assert "under 'encoder.', 'decoder.': give the prefix of the one to run." in errors
    at.text_input(key="weights_prefix").input("decoder.").run()
    assert not at.error and "RNN, 1 layer, hidden 5, input 2" in at.info[0].value
    assert at.number_input(key="hidden").value == 5
