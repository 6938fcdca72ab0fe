"""The exported snippet: valid Python for any input, and run on its own it gives the run's tensors bit for bit (h_0,
chunks, train-mode dropout and trained weights included), every relation's verdict too."""

import ast
import subprocess
import sys

import pytest
import torch
from conftest import DEVICES, HOSTILE_SEQUENCES, configs
from hypothesis import given, settings

from rnnviz import Config, analyse
from rnnviz.snippet import make_snippet

RUN_AND_SAVE = (
    "import runpy, sys, torch; path, out = sys.argv[1], sys.argv[2]; g = runpy.run_path(path); "
    "torch.save({k: g[k] for k in ('output', 'h_n', 'c_n')}, out)"
)


def snippet_for(config: Config):
    result, _, relations = analyse(config)
    return result, relations, make_snippet(result, relations)


def run_snippet(source: str, tmp_path):
    """Run the snippet in a fresh interpreter; return (completed process, its output, h_n, c_n)."""
    path, out = tmp_path / "snippet.py", tmp_path / "tensors.pt"
    path.write_text(source, encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-c", RUN_AND_SAVE, str(path), str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,  # no rnnviz on the path: the snippet must stand alone
    )
    assert proc.returncode == 0, proc.stderr
    return proc, torch.load(out)


def sequences_literal(source: str):
    """The value of the snippet's `sequences = [...]` line, read back as a literal."""
    found = [
        ast.literal_eval(node.value)
        for node in ast.parse(source).body
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["sequences"]
    ]
    assert len(found) == 1
    return found[0]


# -----------------------------------------------------------------------------
# Valid Python, for any input


@given(configs(extended=True))
def test_snippet_compiles(config):
    _, relations, source = snippet_for(config)
    compile(source, "snippet.py", "exec")
    assert sequences_literal(source) == list(config.sequences)  # the user's text, intact
    asserts = [node for node in ast.parse(source).body if isinstance(node, ast.Assert)]
    assert len(asserts) == sum(rel.kind == "guaranteed" for rel in relations)  # lessons are printed, not asserted


@pytest.mark.parametrize(
    "sequences",
    [HOSTILE_SEQUENCES[:8], HOSTILE_SEQUENCES[8:], ("\\",), ('"',), ("'''\"\"\"",), ("\\'", '\\"', "\\\\n")],
)
def test_snippet_with_hostile_sequences_compiles(sequences):
    config = Config(sequences=sequences, cell="lstm", proj=2, bidirectional=True, packed=True)
    _, _, source = snippet_for(config)
    compile(source, "snippet.py", "exec")
    assert sequences_literal(source) == list(sequences)
    for seq in sequences:  # text that would break the source never appears raw, only as its repr
        if any(ch in seq for ch in "\n\x00\u202e"):
            assert seq not in source


def test_snippet_asserts_guaranteed_relations_and_prints_lessons():
    _, relations, source = snippet_for(Config(packed=True, bidirectional=True, layers=2))
    for rel in relations:
        if rel.kind == "guaranteed":
            assert f"assert {rel.expression}, " in source, rel.id
        else:
            assert f"print({rel.id + ' (a lesson, usually False):'!r}, {rel.expression})" in source, rel.id
            assert f"assert {rel.expression}" not in source
    assert {rel.kind for rel in relations} == {"guaranteed", "lesson"}


def lesson_lines(relations) -> list[str]:
    """What the script prints for each lesson: its id and whether the tempting claim held."""
    return [f"{rel.id} (a lesson, usually False): {rel.holds}" for rel in relations if rel.kind == "lesson"]


def guaranteed_line(relations) -> str:
    return f"all {sum(rel.kind == 'guaranteed' for rel in relations)} guaranteed relations hold"


def test_snippet_carries_the_config():
    _, _, source = snippet_for(
        Config(cell="lstm", layers=3, hidden=7, embedding=4, proj=3, bidirectional=True, batch_first=True, seed=42)
    )
    assert "torch.manual_seed(42)" in source
    assert "nn.Embedding(len(vocab), 4)" in source
    assert "nn.LSTM(4, 7, num_layers=3, bidirectional=True, batch_first=True, proj_size=3)" in source
    assert "nonlinearity" not in source.split("def run(")[1].split("\n\n")[0]
    _, _, source = snippet_for(Config(nonlinearity="relu", dtype="float64"))
    assert "nn.RNN(5, 5, num_layers=1, bidirectional=False, batch_first=False, nonlinearity='relu')" in source
    assert "dtype=torch.float64" in source


# -----------------------------------------------------------------------------
# Run on its own: exit 0, every relation as expected, the same tensors bit for bit (a few subprocesses, ~2 s each)


SUBPROCESS_CASES = {
    "hostile-lstm-proj-packed-bf": Config(
        sequences=HOSTILE_SEQUENCES[:8],
        cell="lstm",
        proj=2,
        hidden=4,
        layers=2,
        bidirectional=True,
        packed=True,
        batch_first=True,
    ),
    "hostile-gru-float64": Config(sequences=HOSTILE_SEQUENCES[8:], cell="gru", layers=2, dtype="float64", seed=9),
    "relu-bi-packed": Config(
        sequences=("a", "abc", "🙂🙂"), nonlinearity="relu", bidirectional=True, packed=True, seed=2**32 - 1
    ),
    "train-mode-dropout-bi-packed-lstm": Config(
        cell="lstm", layers=3, bidirectional=True, packed=True, dropout=0.5, train_mode=True, h0="random"
    ),
    "train-mode-dropout-gru-batch-first": Config(cell="gru", layers=2, dropout=0.3, train_mode=True, batch_first=True),
    "carry-rnn-bi-float64": Config(h0="carry", split=3, layers=2, bidirectional=True, dtype="float64"),
    "carry-lstm-packed-dropout": Config(
        sequences=("abcdef", "abc", "abcde"),
        cell="lstm",
        h0="carry",
        split=2,
        packed=True,
        dropout=0.4,
        train_mode=True,
        layers=2,
    ),
    "task-brackets": Config(
        sequences=("(a(b))", "c)("), cell="gru", hidden=6, embedding=3, task="brackets", steps=5, bidirectional=True
    ),
}


@pytest.mark.parametrize("name", list(SUBPROCESS_CASES))
def test_snippet_reproduces_the_run(name, tmp_path):
    result, relations, source = snippet_for(SUBPROCESS_CASES[name])
    proc, tensors = run_snippet(source, tmp_path)
    assert guaranteed_line(relations) in proc.stdout
    assert all(line in proc.stdout for line in lesson_lines(relations))
    assert torch.equal(tensors["output"], result.output)
    assert torch.equal(tensors["h_n"], result.h_n)
    if result.c_n is None:
        assert tensors["c_n"] is None
    else:
        assert torch.equal(tensors["c_n"], result.c_n)


def test_the_snippet_builds_and_draws_in_the_contracts_order():
    config = Config(cell="lstm", layers=2, h0="random", dropout=0.5, train_mode=True)
    _, _, source = snippet_for(config)
    body = source.split("def run(")[1]
    order = ["torch.manual_seed(0)", "nn.Embedding(", "nn.LSTM(", "torch.randn(2, 3, 5), torch.randn(2, 3, 5)",
             "rnn.train(train)", "masks = torch.get_rng_state()", "forward_in_chunks("]  # fmt: skip
    positions = [body.index(text) for text in order]
    assert positions == sorted(positions)
    assert "dropout=0.5" in body and "def run(device, split=0, train=True)" in source
    _, _, eval_source = snippet_for(config.replace(train_mode=False, h0="zeros"))
    assert "masks = None" in eval_source and "torch.randn" not in eval_source


def test_a_trained_model_carries_its_weights_exactly():
    config = SUBPROCESS_CASES["task-brackets"]
    _, _, source = snippet_for(config)
    assert "trained = {'embedding': {'weight': [[" in source
    assert "vocab = ['<pad>', '(', ')', 'a', 'b', 'c']" in source
    assert "rnn.load_state_dict(" in source.split("def run(")[1]


@pytest.mark.parametrize("device", DEVICES)
def test_snippet_on_device(device, tmp_path):
    """The blog's own setup, on each device; on CUDA the snippet also checks the CPU."""
    result, relations, source = snippet_for(Config(device=device))
    assert f"run({device!r})" in source
    assert ("cpu_output" in source) == (device == "cuda")
    proc, tensors = run_snippet(source, tmp_path)
    assert guaranteed_line(relations) in proc.stdout
    assert torch.equal(tensors["output"], result.output)
    assert torch.equal(tensors["h_n"], result.h_n)
    assert tensors["c_n"] is None


@settings(max_examples=3)
@given(configs(extended=True))
def test_snippet_reproduces_generated_configs(tmp_path_factory, config):
    result, _, source = snippet_for(config)
    _, tensors = run_snippet(source, tmp_path_factory.mktemp("snippet"))
    assert torch.equal(tensors["output"], result.output)
    assert torch.equal(tensors["h_n"], result.h_n)
    assert (tensors["c_n"] is None) == (result.c_n is None)
    if result.c_n is not None:
        assert torch.equal(tensors["c_n"], result.c_n)


def test_a_failing_assert_fails_the_snippet(tmp_path):
    """The asserts are live: a snippet whose guaranteed relation is broken exits non-zero, naming it."""
    _, _, source = snippet_for(Config())
    claim = "assert torch.equal(output[-1, :, :5], hv[-1, 0]),"
    assert claim in source
    source = source.replace(claim, "assert torch.equal(output[-1, :, :5], hv[-1, 0] + 1),")
    path = tmp_path / "broken.py"
    path.write_text(source, encoding="utf-8")
    proc = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 1
    assert "AssertionError: final-output-is-forward-h_n" in proc.stderr


def test_a_coincidence_is_printed_and_does_not_fail_the_snippet(tmp_path):
    """A GRU whose update gate saturates to exactly 1 on <pad>: the lesson holds by accident; the script says so."""
    result, relations, source = snippet_for(Config(cell="gru", hidden=1, embedding=256, seed=20))
    assert {rel.id: rel.verdict for rel in relations}["true-last-step-is-h_n"] == "coincidence"
    proc, tensors = run_snippet(source, tmp_path)
    assert "true-last-step-is-h_n (a lesson, usually False): True" in proc.stdout
    assert guaranteed_line(relations) in proc.stdout
    assert torch.equal(tensors["h_n"], result.h_n)
