"""The exported snippet: valid Python for any input, and run on its own it gives the run's tensors bit for bit (h_0,
chunks, train-mode dropout and trained weights included), every relation's verdict too."""

import ast
import contextlib
import io
import subprocess
import sys

import pytest
import torch
from conftest import DEVICES, HOSTILE_SEQUENCES, around_configs, configs
from hypothesis import given, settings

from dashboard.present import PATH
from rnnviz import PRESETS, Config, analyse
from rnnviz.snippet import make_proof, make_snippet

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
    "carry-detach-lstm-dropout-bf": Config(
        cell="lstm", h0="carry", split=3, detach=True, layers=3, dropout=0.5, train_mode=True, batch_first=True
    ),
    "task-brackets": Config(
        sequences=("(a(b))", "c)("), cell="gru", hidden=6, embedding=3, task="brackets", steps=5, bidirectional=True
    ),
    "total-length-lstm-bi-batch-first": Config(
        cell="lstm", packed=True, total_length=13, bidirectional=True, batch_first=True, h0="random"
    ),
    "total-length-carry-gru": Config(cell="gru", packed=True, total_length=10, h0="carry", split=2, layers=2),
    "manual-sort-lstm-random-h0": Config(
        sequences=("ab", "abcd", "xy", "abc"), cell="lstm", packed=True, sort="manual", h0="random", layers=2
    ),
    "manual-sort-total-length-dropout-batch-first": Config(
        sequences=("ab", "abcde", "abc"),
        packed=True,
        sort="manual",
        total_length=7,
        batch_first=True,
        layers=3,
        dropout=0.5,
        train_mode=True,
        bidirectional=True,
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


@pytest.mark.parametrize("name", [name for name in SUBPROCESS_CASES if "total-length" in name or "sort" in name])
def test_the_script_checks_total_length_and_the_manual_sort(name):
    """Its relations need the run without total_length, or the batch as given: the script computes them too."""
    config = SUBPROCESS_CASES[name]
    _, relations, source = snippet_for(config)
    ids = {rel.id for rel in relations}
    if config.total_length:
        assert "total-length-pads-output" in ids and "short_output" in source
        assert f"padded = torch.zeros(len(ids), {config.total_length}, dtype=torch.long)" in source
    if config.sort == "manual":
        assert {"manual-sort-needs-unsort", "sorted-h_n-is-in-input-order"} <= ids and "unsorted_h_n" in source
        assert "enforce_sorted=manual" in source and "sequences.sort(key=len, reverse=True)" in source


@settings(max_examples=4)
@given(around_configs())
def test_the_proof_with_total_length_or_a_manual_sort_runs_and_proves(config):
    assert_proof_proves(config, 32)


def test_the_snippet_builds_and_draws_in_the_contracts_order():
    config = Config(cell="lstm", layers=2, h0="random", dropout=0.5, train_mode=True)
    _, _, source = snippet_for(config)
    body = source.split("def run(")[1]
    order = ["torch.manual_seed(0)", "nn.Embedding(", "nn.LSTM(", "torch.randn(2, 3, 5), torch.randn(2, 3, 5)",
             "rnn.train(train)", "masks = torch.get_rng_state()", "forward_in_chunks("]  # fmt: skip
    positions = [body.index(text) for text in order]
    assert positions == sorted(positions)
    assert "dropout=0.5" in body and "def run(device, split=0, train=True, packed=False, detach=False)" in source
    _, _, eval_source = snippet_for(config.replace(train_mode=False, h0="zeros"))
    assert "masks = None" in eval_source and "torch.randn(2, 3" not in eval_source  # no h_0 drawn


def test_the_snippet_shows_the_cell_loop_the_edited_weights_and_the_papers_gru():
    _, relations, source = snippet_for(Config(cell="gru", layers=2, packed=True))
    assert {"cell-loop-equals-module", "bias-split-is-free", "gru-matches-paper"} <= {r.id for r in relations}
    assert "def cell_loop(cells, x, lengths, h_0, c_0):" in source and "return nn.GRUCell(inputs, 5)" in source
    assert "cell_loop(cells, x, lengths, h_0, c_0)" in source
    assert "weights = move_bias(right, 10, 0)" in source and "def paper_gru_step(x, h, c, w):" in source
    _, _, lstm = snippet_for(Config(cell="lstm"))
    assert "weights = forget_bias(right, 5, 1.0, 1.0)" in lstm and "def forget_bias(weights, hidden, ih, hh):" in lstm


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


def test_the_snippet_draws_the_dropout_masks_again_and_detaches(tmp_path):
    """Its masks are the run's (the counts it prints, and its lesson's verdict), and its run detaches at the split."""
    from rnnviz.dropout import masks

    config = SUBPROCESS_CASES["carry-detach-lstm-dropout-bf"]
    result, relations, source = snippet_for(config)
    assert "forward_in_chunks(rnn, embedded, lengths, packed, state, split, detach)" in source
    assert "def run(device, split=3, train=True, packed=False, detach=True):" in source
    proc, _ = run_snippet(source, tmp_path)
    for layer, zeroed in enumerate(masks(result)):
        assert f"layer {layer}'s output: {int(zeroed.sum())} of {zeroed.numel()} units zeroed" in proc.stdout
    ids = {rel.id for rel in relations}
    assert {"detach-keeps-values", "dropout-mask-shared-across-time"} <= ids
    assert "dropout-mask-shared-across-time (a lesson, usually False): False" in proc.stdout
    proof = make_proof(result, relations)
    assert "second, (h_n, c_n) = rnn(x[:, 3:], (h_0.detach(), c_0.detach()))" in proof


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


# -----------------------------------------------------------------------------
# The short proof: the view's relations in a page of code, run as is


def run_proof(source: str) -> tuple[dict, str]:
    """Run a proof in this process (torch is loaded already): the names it defined, and what it printed."""
    printed, namespace = io.StringIO(), {}
    try:
        with contextlib.redirect_stdout(printed):
            exec(compile(source, "proof.py", "exec"), namespace)
    finally:
        torch.set_grad_enabled(True)  # the proof turns autograd off, for the run's numbers
    return namespace, printed.getvalue()


def assert_proof_proves(config: Config, most_lines: int):
    """The proof is short, defines hv, asserts each guaranteed relation and prints each lesson that needs no other
    run; it runs, and (untrained layers aside) prints each lesson's outcome and holds the run's numbers."""
    result, relations, _ = snippet_for(config)
    source = make_proof(result, relations)
    assert 10 <= len(source.splitlines()) <= most_lines, source
    kept = [rel for rel in relations if not rel.needs]
    body = ast.parse(source).body
    asserted = [node.msg.value for node in body if isinstance(node, ast.Assert)]
    assert asserted == [rel.id for rel in kept if rel.expected]
    assert "hv = h_n.view(" in source
    namespace, printed = run_proof(source)
    lessons = [rel for rel in kept if not rel.expected]
    assert len(printed.splitlines()) == len(lessons)
    if config.task == "none":  # a task's layer runs untrained in the proof: its lessons may come out otherwise
        assert printed == "".join(f"{rel.id} (a lesson, usually False): {rel.holds}\n" for rel in lessons)
        assert torch.allclose(namespace["output"], result.output.cpu(), atol=1e-6, rtol=0)
    assert namespace["output"].shape == result.output.shape


@pytest.mark.parametrize("step", list(PATH))
def test_the_proof_of_each_lesson_is_at_most_20_lines(step):
    assert_proof_proves(PATH[step], 20)


@settings(max_examples=30)
@given(configs(extended=True))
def test_the_proof_of_any_view_runs_and_proves(config):
    assert_proof_proves(config, 32)


def test_the_proof_runs_as_is_in_a_fresh_interpreter(tmp_path):
    """Copied into a file with nothing else around it: torch only."""
    for name in PRESETS:
        result, relations, _ = snippet_for(PRESETS[name])
        path = tmp_path / f"{name}.py"
        path.write_text(make_proof(result, relations), encoding="utf-8")
        proc = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=120, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.count("(a lesson, usually False): ") == sum(rel.kind == "lesson" for rel in relations
                                                                       if not rel.needs)  # fmt: skip


def test_the_proofs_lessons_come_out_as_the_dashboard_says():
    """A task's proof runs an untrained layer of the task's shape and vocabulary: its asserts hold all the same."""
    assert_proof_proves(SUBPROCESS_CASES["task-brackets"], 20)
    result, relations, _ = snippet_for(Config(cell="lstm", proj=3, h0="random", dtype="float64", pad="zero"))
    source = make_proof(result, relations)
    assert "padding_idx=0" in source and "proj_size=3" in source and "torch.float64" in source
    assert_proof_proves(result.config, 20)
