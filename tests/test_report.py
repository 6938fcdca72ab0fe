"""The JSON report: the contract's keys and shapes, and tensors that survive a JSON round trip bit for bit."""

import json

import pytest
import torch
from conftest import configs
from hypothesis import given

from rnnviz import PRESETS, Config, analyse, run
from rnnviz.relations import check_relations
from rnnviz.report import make_report, report_json, shape

TOP_KEYS = {"config", "device", "vocab", "lengths", "shapes", "relations"}
RELATION_KEYS = [
    *("id", "kind", "verdict", "statement", "why", "expression", "expected", "holds", "comparison", "max_abs_diff")
]


def round_trip(report: dict) -> dict:
    return json.loads(json.dumps(report, allow_nan=False))


@given(configs(extended=True))
def test_report_contract(config):
    result, _, relations = analyse(config)
    report = round_trip(make_report(result, relations))
    assert set(report) == TOP_KEYS
    assert report["config"] == config.as_dict()
    assert Config(**report["config"]) == config
    assert report["device"] == "cpu"
    assert report["vocab"] == ["<pad>", *sorted(set("".join(config.sequences)))]
    assert report["lengths"] == [len(s) for s in config.sequences]

    L, D, B, H = config.layers, config.directions, len(config.sequences), config.state_size
    T = max(report["lengths"])
    lead = [B, T] if config.batch_first else [T, B]
    assert report["shapes"] == {
        "input": lead,
        "embedded": [*lead, config.embedding],
        "output": [*lead, D * H],
        "h_n": [L * D, B, H],
        "c_n": [L * D, B, config.hidden] if config.cell == "lstm" else None,
    }

    assert [r["id"] for r in report["relations"]] == [r.id for r in relations]
    for entry, rel in zip(report["relations"], relations, strict=True):
        assert list(entry) == RELATION_KEYS
        assert isinstance(entry["statement"], str) and entry["statement"]
        assert isinstance(entry["expression"], str) and entry["expression"]
        assert isinstance(entry["expected"], bool) and isinstance(entry["holds"], bool)
        assert entry["comparison"] in ("exact", "allclose")
        assert entry["max_abs_diff"] is None or isinstance(entry["max_abs_diff"], float)
        assert (entry["expected"], entry["holds"], entry["max_abs_diff"]) == (rel.expected, rel.holds, rel.max_abs_diff)
        assert (entry["kind"], entry["verdict"]) == (rel.kind, rel.verdict)
        assert entry["expected"] == (entry["kind"] == "guaranteed")
    assert "tensors" not in report


@given(configs())
def test_tensors_survive_json_bit_for_bit(config):
    result = run(config)
    report = round_trip(make_report(result, check_relations(result), tensors=True))
    tensors = report["tensors"]
    assert set(tensors) == {"output", "h_n", "c_n"}
    dtype = getattr(torch, config.dtype)
    assert torch.equal(torch.tensor(tensors["output"], dtype=dtype), result.output)
    assert torch.equal(torch.tensor(tensors["h_n"], dtype=dtype), result.h_n)
    if config.cell == "lstm":
        assert torch.equal(torch.tensor(tensors["c_n"], dtype=dtype), result.c_n)
    else:
        assert tensors["c_n"] is None


@pytest.mark.parametrize("preset", list(PRESETS))
def test_presets_report(preset):
    result, _, relations = analyse(PRESETS[preset])
    report = round_trip(make_report(result, relations, tensors=True))
    assert report["vocab"] == ["<pad>", "_", "d", "e", "g", "i", "l", "m", "n", "o", "r", "s", "t", "u", "y"]
    assert report["lengths"] == [8, 4, 6]
    assert report["shapes"]["input"] == [8, 3]
    assert report["shapes"]["embedded"] == [8, 3, 5]
    assert len(report["tensors"]["output"]) == 8 and len(report["tensors"]["output"][0]) == 3
    assert {r["id"] for r in report["relations"]} >= {"output-shape", "h_n-shape", "h_n-layout", "reference-recompute"}


def test_a_task_adds_its_training():
    config = Config(sequences=("(a)", "b)"), cell="lstm", hidden=4, embedding=2, task="brackets", steps=3)
    result, _, relations = analyse(config)
    report = round_trip(make_report(result, relations))
    assert set(report) == TOP_KEYS | {"training"}
    assert report["training"] == round_trip(result.training.as_dict())
    assert report["training"]["task"] == "brackets" and report["training"]["steps"] == 3
    assert {"loss", "unit_correlations", "best_unit", "best_corr", "probe_r"} <= set(report["training"])


def test_relations_may_be_empty_and_shape_of_none():
    result = run(Config())
    assert make_report(result, [])["relations"] == []
    assert shape(None) is None
    assert shape(torch.zeros(2, 3, 4)) == [2, 3, 4]


def test_report_is_plain_json_for_odd_text():
    config = Config(sequences=('"quoted"', "back\\slash", "🙂\x00\u202e", "new\nline"))
    result, _, relations = analyse(config)
    text = report_json(result, relations, tensors=True)  # what the CLI prints and the dashboard's download holds
    assert "\n" not in text
    assert json.loads(text) == round_trip(make_report(result, relations, tensors=True))
    assert json.loads(text)["config"]["sequences"] == list(config.sequences)
