"""Training section: the bracket task at its defaults, per cell, each in a fresh process like the command line.

`python bench/sec_training.py [--seeds N]` prints, for LSTM, GRU, RNN (tanh) and a bidirectional LSTM: the
import time, the training's seconds (text, build, steps, analysis) and its CPU seconds (what the load
does not change), the whole process's wall time, the final
training loss, the held-out loss next to the generator's own (the floor), the best unit's correlation with the
depth and the linear probe's r. Seeds after the first run warm, in the same process, to show the spread.
Targets: training <= 5 s; probe r >= 0.95 and |best corr| >= 0.85 for the unidirectional cells.
"""

import argparse
import json
import subprocess
import sys
import time

from common import ROOT, emit, loadavg

CELLS = (("lstm", False), ("gru", False), ("rnn", False), ("lstm", True))


def one_cell(cell: str, bidirectional: bool, seeds: int) -> dict:
    """In this (fresh) process: import, then train at the defaults for seeds 0..seeds-1."""
    start = time.perf_counter()
    from rnnviz import Config
    from rnnviz.training import TASK_DEFAULTS, train

    imported = time.perf_counter() - start
    sizes = {k: v for k, v in TASK_DEFAULTS.items() if k != "steps"}
    runs = []
    for seed in range(seeds):
        cpu = time.process_time()
        t = train(Config(cell=cell, bidirectional=bidirectional, seed=seed, **sizes), TASK_DEFAULTS["steps"])
        h = t.heldout
        runs.append(
            {
                "seed": seed,
                "seconds": t.seconds,
                "cpu": time.process_time() - cpu,
                "final_loss": t.loss[-1],
                "heldout_loss": h.loss,
                "floor": h.floor,
                "best_unit": h.best_unit,
                "best_corr": h.best_corr,
                "probe_r": h.probe_r,
            }
        )
    return {"import": imported, "runs": runs, **TASK_DEFAULTS}


def measure(seeds: int) -> dict:
    """Every cell in its own process; the wall time of the first process covers import + one training."""
    out = {"loadavg_before": loadavg(), "cells": {}}
    for cell, bidirectional in CELLS:
        name = ("bi-" if bidirectional else "") + cell
        start = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, __file__, "--one", cell, str(bidirectional), "--seeds", str(seeds)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=600,
        )
        wall = time.perf_counter() - start
        if proc.returncode:
            out["cells"][name] = {"error": proc.stderr.strip().splitlines()[-1:]}
            continue
        out["cells"][name] = {**json.loads(proc.stdout.splitlines()[-1]), "process_wall": wall}
    out["loadavg_after"] = loadavg()
    return out


def show(result: dict) -> None:
    print(f"load average {result['loadavg_before']} -> {result['loadavg_after']}")
    print(
        f"{'cell':<8} {'seed':>4} {'import':>7} {'train':>7} {'cpu':>6} {'process':>8} {'loss':>6} {'held-out':>8} "
        f"{'floor':>6} {'best unit':>9} {'corr':>6} {'probe r':>7}"
    )
    for name, cell in result["cells"].items():
        if "error" in cell:
            print(f"{name:<8} error: {cell['error']}")
            continue
        for i, r in enumerate(cell["runs"]):
            cold = f"{cell['import']:>6.2f}s" if i == 0 else f"{'':>7}"
            wall = f"{cell['process_wall']:>7.2f}s" if i == 0 else f"{'':>8}"
            print(
                f"{name:<8} {r['seed']:>4} {cold} {r['seconds']:>6.2f}s {r['cpu']:>5.2f}s {wall} "
                f"{r['final_loss']:>6.3f} {r['heldout_loss']:>8.3f} {r['floor']:>6.3f} {r['best_unit']:>9} "
                f"{r['best_corr']:>6.3f} {r['probe_r']:>7.3f}"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=1, help="seeds 0..N-1 per cell (the first one cold)")
    parser.add_argument("--one", nargs=2, metavar=("CELL", "BIDIRECTIONAL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_cell(args.one[0], args.one[1] == "True", args.seeds)))
    else:
        result = measure(args.seeds)
        show(result)
        emit(result)
