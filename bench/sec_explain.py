"""rnnviz.explain on a user-sized model: a 2-layer bidirectional LSTM, 256 units, 32 sequences of up to 200 steps.

`python bench/sec_explain.py` prints the figures (run.py's `explain` section runs it too). Target: explain() under
1 s on the project's 2-core machine, gradients excluded, its output, h_n and c_n bit for bit the module's own call.
Timed: explain() as a user calls it (the call, the catalog's relations), beside the bare call under the same thread
rule, both recording gradients as a plain call does (none computed); then recipes(), and compare=True (the
relations that rebuild the run from the weights) once each.
"""

import statistics

import torch
from common import emit, summary, timed
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from rnnviz import explain
from rnnviz.model import contract_threads

LAYERS, HIDDEN, INPUT, BATCH, STEPS = 2, 256, 256, 32, 200
REPEATS = 5


def model_and_batch():
    """The LSTM, a padded time-major batch of lengths 100..200 (one of 200), and it packed."""
    generator = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    lstm = nn.LSTM(INPUT, HIDDEN, num_layers=LAYERS, bidirectional=True).eval()
    x = torch.randn(STEPS, BATCH, INPUT, generator=generator)  # (T, B, E)
    lengths = torch.randint(STEPS // 2, STEPS + 1, (BATCH,), generator=generator)
    lengths[0] = STEPS
    return lstm, x, lengths, pack_padded_sequence(x, lengths, enforce_sorted=False)


def bare(lstm, x):
    """The module's own call as a user writes it (gradients recorded, none computed), under the same thread rule."""
    with contract_threads():
        return lstm(x)


def same_bits(explanation, returned) -> bool:
    output, (h_n, c_n) = returned
    out = output.data if isinstance(output, nn.utils.rnn.PackedSequence) else output
    mine = explanation.output.data if isinstance(output, nn.utils.rnn.PackedSequence) else explanation.output
    return torch.equal(mine, out) and torch.equal(explanation.h_n, h_n) and torch.equal(explanation.c_n, c_n)


def measure() -> dict:
    lstm, x, lengths, packed = model_and_batch()
    result = {"torch_threads_during": 1}
    for name, inputs, kwargs in (("padded", x, {"lengths": lengths}), ("packed", packed, {})):
        explain(lstm, inputs, **kwargs)  # warm-up
        explains, bares = [], []
        for _ in range(REPEATS):  # interleaved
            seconds, explanation = timed(explain, lstm, inputs, **kwargs)
            explains.append(seconds)
            bares.append(timed(bare, lstm, inputs)[0])
        result[name] = {
            "explain": summary(explains),
            "bare": summary(bares),
            "overhead": statistics.median(explains) - statistics.median(bares),
            "bit_for_bit": same_bits(explanation, bare(lstm, inputs)),
            "relations": len(explanation.relations),
            "recipes_s": timed(explanation.recipes)[0],
            "compare_s": timed(explain, lstm, inputs, compare=True, **kwargs)[0],
        }
    return result


def report(r: dict) -> list[str]:
    """The figures, a line each."""
    lines = [
        f"explain: nn.LSTM({INPUT}, {HIDDEN}, num_layers={LAYERS}, bidirectional=True), B = {BATCH}, T = {STEPS} "
        "(lengths 100..200), 1 torch thread (the thread rule), medians of 5, interleaved with the bare call"
    ]
    for name in ("padded", "packed"):
        x = r[name]
        e = x["explain"]["median"]
        lines.append(
            f"  {name}: explain {e:.2f} s (target < 1 s) {'PASS' if e < 1 else 'FAIL'}; bare module call "
            f"{x['bare']['median']:.2f} s; explain adds {x['overhead'] * 1000:.0f} ms ({x['relations']} relations); "
            f"bit for bit: {x['bit_for_bit']}"
        )
        lines.append(
            f"  {name}: then recipes() {x['recipes_s'] * 1000:.0f} ms; explain(compare=True) {x['compare_s']:.2f} s"
        )
    return lines


if __name__ == "__main__":
    figures = measure()
    lines = report(figures)
    print("\n".join(lines))
    emit({**figures, "lines": lines})
