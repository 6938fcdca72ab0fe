"""The JSON report shared by `python -m rnnviz --json` and the dashboard's download."""

import json


def shape(tensor) -> list[int] | None:
    """A tensor's shape as a list, or None for a missing tensor."""
    return None if tensor is None else list(tensor.shape)


def make_report(result, relations, tensors: bool = False, gradients=None, compare=None) -> dict:
    """One JSON-ready object: config (with the weights file's, where one ran), device, vocab, lengths, shapes,
    relations (training for a task, the gradients map, a side-by-side comparison (rnnviz.compare), and tensors)."""
    config = result.config.as_dict()
    if result.weights_file is not None:
        config["weights"] = result.weights_file.as_dict()
    report = {
        "config": config,
        "device": result.device,
        "vocab": list(result.batch.vocab),
        "lengths": list(result.batch.lengths),
        "shapes": {
            "input": shape(result.batch.padded),
            "embedded": shape(result.embedded),
            "output": shape(result.output),
            "h_n": shape(result.h_n),
            "c_n": shape(result.c_n),
        },
        "relations": [rel.as_dict() for rel in relations],
    }
    if result.training is not None:
        report["training"] = result.training.as_dict()
    if gradients is not None:  # values[l][d][b][t][s], as docs/json.md lays it out
        report["gradients"] = {"values": gradients.tolist()}
    if compare is not None:
        report["compare"] = compare.as_dict()
    if tensors:
        report["tensors"] = {
            name: None if t is None else t.tolist()
            for name, t in (("output", result.output), ("h_n", result.h_n), ("c_n", result.c_n))
        }
    return report


def report_json(result, relations, tensors: bool = False, gradients=None, compare=None) -> str:
    """The report as one line of JSON text: what the CLI prints and the dashboard's download holds."""
    return json.dumps(make_report(result, relations, tensors, gradients, compare))
