"""Gradients section: rnnviz.gradients.connectivity at the cap, its growth in T, and forward mode vs naive jacobians.

`python bench/sec_gradients.py` prints the figures, then (for bench/run.py) one JSON line. One torch thread, as the
dashboard runs. Figures:
  largest   the limits' largest config (16 x 64 chars, 6-layer bi-LSTM) with H = E as large as the cap allows:
            estimate, warm median; then the cap's frontier: other shapes at their largest allowed H = E
  growth    T = 4 .. 64 at a fixed mid-size config (B = 4, 2-layer bi-LSTM, H = E = 8): seconds vs T
  naive     the same map from torch.autograd.functional.jacobian, one sequence at a time (a Python loop over
            outputs, and vectorize=True), interleaved with connectivity on one config; the largest difference
"""

import resource
import time

from common import LARGEST_SEQUENCES, emit, fmt_summary, loadavg, machine, summary, timed

# -----------------------------------------------------------------------------
# Configs


def config(T: int, B: int, layers: int, size: int, cell: str, bi: bool):
    """B distinct sequences of T characters; H = E = size."""
    from rnnviz import Config

    sequences = tuple(s[:T] for s in LARGEST_SEQUENCES[:B])
    return Config(sequences=sequences, cell=cell, layers=layers, bidirectional=bi, hidden=size, embedding=size)


def largest_allowed(T: int, B: int, layers: int, cell: str, bi: bool):
    """The config of that shape with the largest H = E the cap allows."""
    from rnnviz.gradients import MAX_GRADIENT_SECONDS, gradient_seconds

    sizes = [n for n in range(1, 257) if gradient_seconds(config(T, B, layers, n, cell, bi)) <= MAX_GRADIENT_SECONDS]
    return config(T, B, layers, max(sizes), cell, bi)


def warm_times(cfg, n: int) -> dict:
    """Wall and CPU seconds of n warm calls of connectivity (after one warm-up: first calls, torch's decompositions).

    The CPU time is this process's alone: on the shared machine, wall time also counts the waits for a core.
    """
    from rnnviz import run
    from rnnviz.gradients import connectivity

    result = run(cfg)
    connectivity(result)
    wall, cpu = [], []
    for _ in range(n):
        start = time.process_time()
        wall.append(timed(connectivity, result)[0])
        cpu.append(time.process_time() - start)
    return {"wall": summary(wall), "cpu": summary(cpu)}


def shape(cfg) -> str:
    T = max(map(len, cfg.sequences))
    bi = "bi-" if cfg.bidirectional else ""
    return f"{len(cfg.sequences)} x {T} chars, {cfg.layers}-layer {bi}{cfg.cell.upper()}, H = E = {cfg.hidden}"


# -----------------------------------------------------------------------------
# 1. The largest allowed config, and the cap's frontier


def section_largest(n: int = 5) -> dict:
    from rnnviz.gradients import MAX_GRADIENT_SECONDS, gradient_seconds

    frontier = [
        largest_allowed(T, 16, layers, cell, bi)
        for T in (64, 16)
        for cell in ("lstm", "rnn")
        for layers, bi in ((6, True), (1, False))
    ]
    rows = [
        {"config": shape(cfg), "estimate": gradient_seconds(cfg), **warm_times(cfg, n if i == 0 else 3)}
        for i, cfg in enumerate(frontier)
    ]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # MB (Linux reports kB)
    return {"cap_seconds": MAX_GRADIENT_SECONDS, "largest": rows[0], "frontier": rows, "peak_rss_mb": peak}


# -----------------------------------------------------------------------------
# 2. Growth in T


def section_growth(n: int = 3) -> list[dict]:
    from rnnviz.gradients import gradient_seconds

    rows = []
    for T in (4, 8, 16, 32, 64):
        cfg = config(T, 4, 2, 8, "lstm", True)
        rows.append({"T": T, **warm_times(cfg, n), "estimate": gradient_seconds(cfg)})
    return rows


# -----------------------------------------------------------------------------
# 3. Against naive jacobians


def naive(result, vectorize: bool):
    """The map from torch.autograd.functional.jacobian, one sequence at a time, through the packed stack."""
    import torch
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    from rnnviz.model import recurrent_module

    c = result.config
    x = result.embedded.double()  # (T, B, E)
    T, B, E = x.shape
    D = c.directions
    layers = []
    for k in range(c.layers):
        rnn = recurrent_module(c, E if k == 0 else D * c.state_size, layers=1, batch_first=False).double()
        rnn.load_state_dict({name: result.weights[name.replace("_l0", f"_l{k}")] for name in rnn.state_dict()})
        layers.append(rnn)
    lengths = torch.tensor(result.batch.lengths)

    def stack(x):  # (T, B, E) -> (L, T, B, D*H)
        sequence, outputs = pack_padded_sequence(x, lengths, enforce_sorted=False), []
        for rnn in layers:
            sequence, _ = rnn(sequence)
            outputs.append(pad_packed_sequence(sequence, total_length=T)[0])
        return torch.stack(outputs)

    values = torch.zeros(c.layers, D, B, T, T, dtype=torch.float64)
    for b in range(B):

        def column(xb, b=b):  # sequence b's inputs (T, E) -> its states (L, T, D*H)
            return stack(torch.cat([x[:, :b], xb.unsqueeze(1), x[:, b + 1 :]], dim=1))[:, :, b]

        jacobian = torch.autograd.functional.jacobian(column, x[:, b], vectorize=vectorize)  # (L, T, D*H, T, E)
        values[:, :, b] = jacobian.view(c.layers, T, D, -1, T, E).pow(2).sum((3, 5)).sqrt().transpose(1, 2)
    return values


def section_naive(n: int = 2) -> dict:
    from rnnviz import run
    from rnnviz.gradients import connectivity

    cfg = config(16, 4, 2, 8, "lstm", True)
    result = run(cfg)
    ours = connectivity(result)
    diff = max((ours - naive(result, vectorize)).abs().max().item() for vectorize in (False, True))
    samples = {"connectivity": [], "jacobian loop": [], "jacobian vectorize=True": []}
    for _ in range(n):  # interleaved
        samples["connectivity"].append(timed(connectivity, result)[0])
        samples["jacobian loop"].append(timed(naive, result, False)[0])
        samples["jacobian vectorize=True"].append(timed(naive, result, True)[0])
    return {"config": shape(cfg), "max_abs_diff": diff, "times": {k: summary(v) for k, v in samples.items()}}


# -----------------------------------------------------------------------------
# Printing


def main():
    import torch

    torch.set_num_threads(1)  # as the dashboard runs
    m = machine()
    print(f"machine: {m['cpu']}, {m['cores']} cores; torch {m['versions']['torch']}, 1 intra-op thread")
    print(f"load average at start: {m['loadavg']} (a shared machine: read medians)")
    start = time.perf_counter()
    out = {"largest": section_largest(), "growth": section_growth(), "naive": section_naive()}

    lg = out["largest"]
    big = lg["largest"]
    print(f"\n== Gradients: the largest allowed config (cap: {lg['cap_seconds']} s estimated) ==")
    print(f"  {big['config']}: estimate {big['estimate']:.2f} s, warm {fmt_summary(big['wall'], 's')}")
    print("  the cap's frontier (each shape at its largest allowed H = E), warm medians, wall and this process's CPU:")
    for row in lg["frontier"]:
        wall, cpu = row["wall"]["median"], row["cpu"]["median"]
        print(f"    {row['config']:<44} {wall:.2f} s, CPU {cpu:.2f} s (estimate {row['estimate']:.2f} s)")
    for kind in ("wall", "cpu"):
        worst = max(row[kind]["median"] for row in lg["frontier"])
        print(f"  worst {kind} median on the frontier: {worst:.2f} s (target < 2 s) {'PASS' if worst < 2 else 'FAIL'}")
    print(f"  peak RSS of this process: {lg['peak_rss_mb']:.0f} MB")

    print("\n== Gradients: cost as T grows (4 sequences, 2-layer bi-LSTM, H = E = 8), warm medians ==")
    for row in out["growth"]:
        wall, cpu, estimate = (1000 * x for x in (row["wall"]["median"], row["cpu"]["median"], row["estimate"]))
        print(f"  T = {row['T']:>2}: {wall:7.1f} ms, CPU {cpu:7.1f} ms (estimate {estimate:.1f} ms)")

    nv = out["naive"]
    times = {k: v["median"] for k, v in nv["times"].items()}
    print(f"\n== Gradients: forward mode vs jacobians one sequence at a time ({nv['config']}, interleaved) ==")
    for name, seconds in times.items():
        print(f"  {name:<25} {seconds * 1000:8.1f} ms  ({seconds / times['connectivity']:.1f}x connectivity's time)")
    print(f"  largest difference between the maps: {nv['max_abs_diff']:.1e}")
    out["seconds"] = time.perf_counter() - start
    out["loadavg_end"] = loadavg()
    print(f"\n({out['seconds']:.0f} s; load average at the end {out['loadavg_end']})")
    emit(out)


if __name__ == "__main__":
    main()
