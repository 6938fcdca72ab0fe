"""`python -m rnnviz`: exit codes, one-line errors, the human report and the JSON contract."""

import dataclasses
import json
import os
import subprocess
import sys

import pytest
import torch
from conftest import ROOT

import rnnviz.__main__ as cli_module
from rnnviz import PRESETS, Analysis, Config, analyse, recompute, run
from rnnviz.__main__ import config_from_args, main, parse_args
from rnnviz.brackets import BRACKET_SEQUENCES
from rnnviz.relations import check_relations
from rnnviz.training import TASK_DEFAULTS, trained


def cli(argv, capsys):
    """Run main(argv) in-process; return (exit code, stdout, stderr). argparse's errors exit via SystemExit."""
    try:
        code = main(argv)
    except SystemExit as exit_:
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code, out, err):
    assert code == 2
    assert out == ""
    assert err.startswith("rnnviz: error: ")
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert "Traceback" not in err and "usage:" not in err


def json_report(argv, capsys) -> dict:
    code, out, err = cli([*argv, "--json"], capsys)
    assert (code, err) == (0, "")
    assert out.endswith("\n") and out.count("\n") == 1  # one object, one line
    return json.loads(out)


# -----------------------------------------------------------------------------
# Exit 0


def test_default_human_report(capsys):
    code, out, err = cli([], capsys)
    assert (code, err) == (0, "")
    relations = analyse(Config()).relations
    for rel in relations:
        line = next(line for line in out.splitlines() if f" {rel.id} " in line)
        assert rel.expression.replace("\n", "") in line
        assert line.split()[:2] == [rel.verdict, rel.kind]
    assert "RNN, 1 layer(s), unidirectional, hidden 5, embedding 5" in out
    assert "lengths [8, 4, 6]" in out
    assert "output [8, 3, 5]" in out and "h_n [1, 3, 5]" in out and "c_n" not in out.split("shapes:")[1].split("\n")[0]


@pytest.mark.parametrize("preset", list(PRESETS))
def test_each_preset_exits_0(preset, capsys):
    code, out, err = cli(["--preset", preset], capsys)
    assert (code, err) == (0, "")
    for rel in analyse(PRESETS[preset]).relations:
        assert f" {rel.id} " in out


def test_human_report_lists_every_relation_id(capsys):
    argv = [
        "--sequences",
        "ab",
        "abcd",
        "--cell",
        "lstm",
        "--proj",
        "2",
        "--bidirectional",
        "--packed",
        "--layers",
        "2",
    ]
    code, out, _ = cli(argv, capsys)
    assert code == 0
    listed = [line.split()[2] for line in out.splitlines()[5:]]
    assert listed == [rel.id for rel in analyse(config_from_args(parse_args(argv))).relations]
    assert "lesson" in out and "CONTRADICTION" not in out


def test_sequences_may_start_with_a_dash_among_others(capsys):
    argv = ["--sequences", "hello", "-x", "--y", "b-", "--cell", "gru"]
    assert config_from_args(parse_args(argv)) == Config(sequences=("hello", "-x", "--y", "b-"), cell="gru")
    assert config_from_args(parse_args(["--sequences=-x", "--sequences", "a"])).sequences == ("-x", "a")
    assert cli(argv, capsys)[0] == 0


@pytest.mark.parametrize("preset", list(PRESETS))
def test_preset_json(preset, capsys):
    report = json_report(["--preset", preset], capsys)
    config = PRESETS[preset]
    assert report["config"] == config.as_dict()
    D, L = config.directions, config.layers
    assert report["shapes"] == {
        "input": [8, 3],
        "embedded": [8, 3, 5],
        "output": [8, 3, 5 * D],
        "h_n": [L * D, 3, 5],
        "c_n": None,
    }
    assert all(r["verdict"] in ("holds", "lesson") for r in report["relations"])
    assert "tensors" not in report


def test_options_reach_the_config(capsys):
    argv = [
        "--preset", "multi-bi", "--sequences", "héllo", "wörld!", "🙂", "--cell", "lstm", "--layers", "3",
        "--hidden", "6", "--embedding", "4", "--proj", "2", "--batch-first", "--packed", "--seed", "17",
        "--device", "cpu", "--dtype", "float64",
    ]  # fmt: skip
    report = json_report(argv, capsys)
    expected = Config(
        sequences=("héllo", "wörld!", "🙂"), cell="lstm", layers=3, bidirectional=True, hidden=6, embedding=4,
        proj=2, batch_first=True, packed=True, seed=17, device="cpu", dtype="float64",
    )  # fmt: skip
    assert report["config"] == expected.as_dict()
    assert report["shapes"]["output"] == [3, 6, 4] and report["shapes"]["c_n"] == [6, 3, 6]
    assert config_from_args(parse_args(argv)) == expected


def test_h0_dropout_and_train_mode_reach_the_config(capsys):
    argv = ["--layers", "3", "--h0", "carry", "--split", "5", "--dropout", "0.25", "--train-mode", "--cell", "gru"]
    report = json_report(argv, capsys)
    expected = Config(layers=3, h0="carry", split=5, dropout=0.25, train_mode=True, cell="gru")
    assert report["config"] == expected.as_dict() == config_from_args(parse_args(argv)).as_dict()
    assert [r["id"] for r in report["relations"]] == [r.id for r in analyse(expected).relations]
    assert {"layer-0-h_n-unaffected-by-dropout", "train-equals-eval", "stacked-is-layer-by-layer"} <= {
        r["id"] for r in report["relations"]
    }


VALID = {
    "random h0, bi lstm": ["--h0", "random", "--cell", "lstm", "--bidirectional", "--layers", "2"],
    "carry at the default split": ["--h0", "carry"],
    "carry bi packed": ["--h0", "carry", "--split", "3", "--packed", "--bidirectional", "--batch-first"],
    "dropout, one layer, train mode": ["--dropout", "0.5", "--train-mode"],
    "dropout in eval mode": ["--dropout", "0.9", "--layers", "2", "--dtype", "float64"],
    "every new option": ["--h0", "carry", "--split", "2", "--dropout", "0.1", "--train-mode", "--layers", "4",
                         "--bidirectional", "--cell", "lstm", "--proj", "2"],
}  # fmt: skip


@pytest.mark.parametrize("argv", list(VALID.values()), ids=list(VALID))
def test_every_valid_combination_exits_0(argv, capsys):
    code, out, err = cli(argv, capsys)
    assert (code, err) == (0, "")
    assert "CONTRADICTION" not in out


def test_torchs_dropout_warning_is_reported_as_torch_said_it(capsys):
    code, out, _ = cli(["--dropout", "0.5"], capsys)
    warnings = run(Config(dropout=0.5)).warnings
    assert code == 0 and len(warnings) == 1
    assert f"torch warned: {warnings[0]}" in out.splitlines()


def test_a_task_trains_first_and_reports_its_training(capsys):
    argv = ["--task", "brackets", "--steps", "20", "--cell", "lstm"]
    config = config_from_args(parse_args(argv))
    assert config == Config(
        sequences=BRACKET_SEQUENCES, cell="lstm", task="brackets", steps=20,
        hidden=TASK_DEFAULTS["hidden"], embedding=TASK_DEFAULTS["embedding"],
    )  # fmt: skip
    report = json_report(argv, capsys)
    assert report["training"] == trained(config).as_dict()
    assert report["training"]["steps"] == 20 and len(report["training"]["loss"]) == 20
    assert report["vocab"] == ["<pad>", "(", ")", "a", "b", "c"]
    assert all(r["verdict"] != "contradiction" for r in report["relations"])
    given = config_from_args(parse_args([*argv, "--hidden", "4", "--sequences", "(a)", "b"]))
    assert (given.hidden, given.embedding, given.sequences) == (4, TASK_DEFAULTS["embedding"], ("(a)", "b"))
    assert "training" not in json_report([], capsys)


def test_nonlinearity_option(capsys):
    report = json_report(["--nonlinearity", "relu", "--seed", "3"], capsys)
    assert report["config"]["nonlinearity"] == "relu"


def test_no_option_keeps_the_preset():
    assert config_from_args(parse_args(["--preset", "single-bi"])) == PRESETS["single-bi"]
    assert config_from_args(parse_args([])) == Config()


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["--cell", "lstm", "--proj", "3", "--bidirectional", "--layers", "2", "--packed"],
        ["--cell", "gru", "--batch-first", "--dtype", "float64", "--sequences", "a", "é🙂", "\\'\""],
        ["--cell", "lstm", "--packed", "--total-length", "11", "--sort", "manual", "--bidirectional"],
    ],
)
def test_tensors_bit_for_bit(argv, capsys):
    report = json_report([*argv, "--tensors"], capsys)
    config = config_from_args(parse_args(argv))
    result = run(config)
    dtype = getattr(torch, config.dtype)
    assert set(report["tensors"]) == {"output", "h_n", "c_n"}
    assert torch.equal(torch.tensor(report["tensors"]["output"], dtype=dtype), result.output)
    assert torch.equal(torch.tensor(report["tensors"]["h_n"], dtype=dtype), result.h_n)
    if result.c_n is None:
        assert report["tensors"]["c_n"] is None
    else:
        assert torch.equal(torch.tensor(report["tensors"]["c_n"], dtype=dtype), result.c_n)
    assert report["shapes"]["output"] == list(result.output.shape)


def test_help_exits_0(capsys):
    code, out, _ = cli(["--help"], capsys)
    assert code == 0
    for option in ("--preset", "--sequences", "--cell", "--json", "--tensors", "--batch-first"):
        assert option in out


# -----------------------------------------------------------------------------
# Exit 1: a relation that did not do what it was expected to


def with_one_output_cell_changed(config: Config) -> Analysis:
    """A real run whose output has one number changed at t = T-1 (a bug, made on purpose), checked as usual."""
    result = run(config)
    output = result.output.clone()
    output[-1, 0, 0] += 1.0
    broken = dataclasses.replace(result, output=output)
    reference = recompute(result)
    return Analysis(broken, reference, check_relations(broken, extra={"ref": reference}))


def test_a_broken_guaranteed_relation_is_a_contradiction_and_exits_1(capsys, monkeypatch):
    monkeypatch.setattr(
        cli_module, "analyse_with_gradients", lambda config, *_: (with_one_output_cell_changed(config), None)
    )
    code, out, _ = cli([], capsys)
    assert code == 1
    line = next(line for line in out.splitlines() if " final-output-is-forward-h_n " in line)
    assert line.split()[:2] == ["CONTRADICTION", "guaranteed"]
    code, out, _ = cli(["--json"], capsys)
    assert code == 1
    verdicts = {r["id"]: (r["verdict"], r["expected"], r["holds"]) for r in json.loads(out)["relations"]}
    assert verdicts["final-output-is-forward-h_n"] == ("contradiction", True, False)
    assert verdicts["reference-recompute"] == ("contradiction", True, False)


def test_lessons_and_coincidences_exit_0(capsys):
    """The GRU's update gate saturates to exactly 1 on <pad>: the lesson holds by coincidence, never red."""
    argv = ["--cell", "gru", "--hidden", "1", "--embedding", "256", "--seed", "20"]
    code, out, _ = cli(argv, capsys)
    assert code == 0
    line = next(line for line in out.splitlines() if " true-last-step-is-h_n " in line)
    assert line.split()[:2] == ["coincidence", "lesson"]
    assert cli(["--preset", "multi-bi"], capsys)[0] == 0  # lessons that fail as usual


# -----------------------------------------------------------------------------
# Exit 2: invalid input, one line on stderr, no traceback


INVALID = {
    "layers 0": ["--layers", "0"],
    "layers x": ["--layers", "x"],
    "hidden too big": ["--hidden", "100000"],
    "negative seed": ["--seed", "-1"],
    "unknown preset": ["--preset", "quadruple-bi"],
    "unknown cell": ["--cell", "transformer"],
    "unknown option": ["--colour", "red"],
    "relu with lstm": ["--cell", "lstm", "--nonlinearity", "relu"],
    "relu with gru": ["--cell", "gru", "--nonlinearity", "relu"],
    "proj with rnn": ["--proj", "2"],
    "proj = hidden": ["--cell", "lstm", "--proj", "5"],
    "no sequences after --sequences": ["--sequences"],
    "empty sequence": ["--sequences", ""],
    "blank sequence": ["--sequences", "ok", "   "],
    "too many sequences": ["--sequences", *["s"] * 17],
    "10,000 characters": ["--sequences", "x" * 10_000],
    "tensors without json": ["--tensors"],
    "unknown dtype": ["--dtype", "float16"],
    "split past the batch": ["--h0", "carry", "--split", "8"],
    "split without carry": ["--split", "3"],
    "carry of one step": ["--h0", "carry", "--sequences", "a", "b"],
    "packed carry with an empty chunk": ["--h0", "carry", "--packed"],
    "dropout 1": ["--dropout", "1"],
    "dropout -0.1": ["--dropout", "-0.1"],
    "dropout nan": ["--dropout", "nan"],
    "dropout x": ["--dropout", "x"],
    "unknown h0": ["--h0", "ones"],
    "steps without a task": ["--steps", "5"],
    "a task on other characters": ["--task", "brackets", "--sequences", "hello"],
    "too many steps": ["--task", "brackets", "--steps", "1001"],
    "a task too big to train": ["--task", "brackets", "--cell", "lstm", "--hidden", "200"],
}


@pytest.mark.parametrize("argv", list(INVALID.values()), ids=list(INVALID))
def test_invalid_input_exits_2_with_one_line(argv, capsys):
    assert_one_line_error(*cli(argv, capsys))


def test_total_length_and_sort_reach_the_report(capsys):
    report = json_report(["--packed", "--total-length", "12", "--sort", "manual"], capsys)
    assert (report["config"]["total_length"], report["config"]["sort"]) == (12, "manual")
    assert report["lengths"] == [8, 6, 4] and report["shapes"]["output"] == [12, 3, 5]  # sorted, padded to 12
    verdicts = {rel["id"]: rel["verdict"] for rel in report["relations"]}
    assert verdicts["total-length-pads-output"] == verdicts["manual-sort-needs-unsort"] == "holds"
    assert verdicts["sorted-h_n-is-in-input-order"] == verdicts["packed-zeros-mask-attention"] == "lesson"


def test_total_length_and_sort_refusals_say_why_in_one_line(capsys):
    code, out, err = cli(["--packed", "--total-length", "5"], capsys)
    assert_one_line_error(code, out, err)
    assert "total_length 5 is shorter than T = 8, the longest sequence" in err
    code, out, err = cli(["--sort", "manual"], capsys)
    assert_one_line_error(code, out, err)
    assert "only for a packed batch" in err


def test_error_messages_name_the_problem(capsys):
    assert "layers" in cli(["--layers", "0"], capsys)[2]
    assert "--layers" in cli(["--layers", "x"], capsys)[2]
    assert "quadruple-bi" in cli(["--preset", "quadruple-bi"], capsys)[2]
    assert "relu" in cli(["--cell", "lstm", "--nonlinearity", "relu"], capsys)[2]
    assert "10000 characters" in cli(["--sequences", "x" * 10_000], capsys)[2]
    assert "--json" in cli(["--tensors"], capsys)[2]
    assert "split" in cli(["--h0", "carry", "--split", "8"], capsys)[2]
    assert "pack_padded_sequence" in cli(["--h0", "carry", "--packed"], capsys)[2]
    assert "between 0.0 and 0.95 (got 1.0)" in cli(["--dropout", "1"], capsys)[2]
    assert "(got -0.1)" in cli(["--dropout", "-0.1"], capsys)[2]


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")
def test_cuda_without_gpu_exits_2(capsys):
    code, out, err = cli(["--device", "cuda"], capsys)
    assert_one_line_error(code, out, err)
    assert "cuda" in err
    assert_one_line_error(*cli(["--device", "cuda", "--json"], capsys))


# -----------------------------------------------------------------------------
# The real entry point, in a subprocess (each imports torch: a couple of seconds)


def python_m_rnnviz(*argv):
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run(
        [sys.executable, "-m", "rnnviz", *argv], capture_output=True, text=True, timeout=120, cwd=ROOT, env=env
    )


def test_python_m_rnnviz_json_tensors():
    proc = python_m_rnnviz("--preset", "multi-bi", "--packed", "--json", "--tensors")
    assert (proc.returncode, proc.stderr) == (0, "")
    report = json.loads(proc.stdout)
    config = PRESETS["multi-bi"].replace(packed=True)
    assert report["config"] == config.as_dict()
    result = run(config)
    assert torch.equal(torch.tensor(report["tensors"]["output"]), result.output)  # another process, same numbers
    assert torch.equal(torch.tensor(report["tensors"]["h_n"]), result.h_n)
    assert [r["id"] for r in report["relations"]] == [rel.id for rel in analyse(config).relations]


@pytest.mark.parametrize("threads", ["1", "2", "3"])
def test_the_same_bits_whatever_the_thread_count(threads):
    """float64, 3 layers, bidirectional, packed LSTM: 2 threads would change 10 numbers by ~3e-17 without the
    contract's one thread; the CLI with any OMP_NUM_THREADS gives this process's bits."""
    argv = ["--cell", "lstm", "--layers", "3", "--bidirectional", "--packed", "--dtype", "float64", "--seed", "42"]
    env = {**os.environ, "OMP_NUM_THREADS": threads, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "rnnviz", *argv, "--json", "--tensors"], capture_output=True, text=True, env=env
    )
    assert proc.returncode == 0, proc.stderr
    tensors = json.loads(proc.stdout)["tensors"]
    result = run(config_from_args(parse_args(argv)))
    for name in ("output", "h_n", "c_n"):
        assert torch.equal(torch.tensor(tensors[name], dtype=torch.float64), getattr(result, name)), name


def test_python_m_rnnviz_reproduces_a_train_mode_run():
    argv = ["--layers", "3", "--dropout", "0.5", "--train-mode", "--h0", "random", "--cell", "lstm", "--packed"]
    proc = python_m_rnnviz(*argv, "--json", "--tensors")
    assert (proc.returncode, proc.stderr) == (0, "")
    tensors = json.loads(proc.stdout)["tensors"]
    result = run(config_from_args(parse_args(argv)))
    for name in ("output", "h_n", "c_n"):
        assert torch.equal(torch.tensor(tensors[name]), getattr(result, name)), name  # the same masks, bit for bit


def test_python_m_rnnviz_invalid_input():
    proc = python_m_rnnviz("--cell", "lstm", "--nonlinearity", "relu")
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.startswith("rnnviz: error: ") and proc.stderr.count("\n") == 1
    assert "Traceback" not in proc.stderr


def test_gradients_add_their_relations_and_the_map(capsys):
    argv = ["--sequences", "abc", "a", "--bidirectional", "--layers", "2", "--gradients"]
    report = json_report(argv, capsys)
    verdicts = {r["id"]: r["verdict"] for r in report["relations"]}
    assert verdicts["layer-0-is-causal"] == "holds"
    assert verdicts["top-layer-forward-is-causal"] == "lesson"  # the layer below is bidirectional
    assert verdicts["padding-has-no-influence"] == "lesson"  # unpacked: the backward direction reads the pads first
    assert verdicts["gradient-matches-finite-differences"] == "holds"
    values = torch.tensor(report["gradients"]["values"])  # [l][d][b][t][s]
    assert values.shape == (2, 2, 2, 3, 3)
    assert (values[0, 0].triu(1) == 0).all() and values[1, 0].triu(1).any()
    assert "gradients" not in json_report(argv[:-1], capsys)


def test_detach_reaches_the_config_and_cuts_the_gradients(capsys):
    argv = ["--sequences", "abcd", "ab", "--cell", "lstm", "--h0", "carry", "--split", "2", "--detach", "--gradients"]
    report = json_report(argv, capsys)
    assert report["config"] == Config(sequences=("abcd", "ab"), cell="lstm", h0="carry", split=2, detach=True).as_dict()
    verdicts = {r["id"]: r["verdict"] for r in report["relations"]}
    assert verdicts["detach-keeps-values"] == verdicts["detach-cuts-gradients"] == "holds"
    assert not torch.tensor(report["gradients"]["values"])[..., 2:, :2].any()  # [l][d][b][t][s]: t >= 2, s < 2
    undetached = json_report([*argv[:-2], "--no-detach", "--gradients"], capsys)
    verdicts = {r["id"]: r["verdict"] for r in undetached["relations"]}
    assert verdicts["detach-cuts-gradients"] == "lesson"  # without detach the gradient crosses the split
    code, out, err = cli(["--detach"], capsys)  # h0 zeros: nothing is carried
    assert_one_line_error(code, out, err)
    assert "detach" in err and "h0 carry" in err


# -----------------------------------------------------------------------------
# --compare: the same run with one control flipped


def test_compare_adds_the_flipped_runs_differences(capsys):
    code, out, _ = cli(["--compare", "packed=true", "--json"], capsys)
    report = json.loads(out)
    assert code == 0 and report["compare"]["config"]["packed"] is True
    h_n = run(Config()).h_n - run(Config(packed=True)).h_n  # (1, B, H)
    assert report["compare"]["h_n_max_abs_diff"] == [[float(h_n[0, b].abs().max()) for b in range(3)]]
    assert len(report["compare"]["output_max_abs_diff"]) == 3
    code, out, _ = cli(["--compare", "cell=LSTM"], capsys)
    assert code == 0 and "compare cell=LSTM: max abs diff per sequence" in out and "h_n[0]" in out


@pytest.mark.parametrize("assignment", ["packed", "hidden=3", "seed=-1", "cell=transformer"])
def test_a_bad_compare_is_one_line(assignment, capsys):
    assert_one_line_error(*cli(["--compare", assignment], capsys))
