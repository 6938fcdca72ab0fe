"""Core sections: rnnviz's run + relations vs the bare torch forward, the hand recomputation, import costs.

`python bench/sec_core.py core|imports`, one process each.

Fairness of the core ratio: both sides build inside the timing (seed, nn.Embedding, the recurrent
module), because rnnviz.model.run must build for every new config (the reproducibility contract seeds
and builds in the blog's order), and both include making the padded batch from the sequences. Only the
bare side skips what rnnviz adds: validation, dtype/device moves, the weights copy, check_relations.
"""

import ast
import re
import statistics
import subprocess
import sys
import time

from common import APP, ROOT, emit, largest_kwargs, summary, timed

# -----------------------------------------------------------------------------
# 3. Core overhead


def bare_forward(sequences, cell, layers, bidirectional, hidden, embedding, seed=0):
    """The blog's code for the same config: vocab, padding, seed, nn.Embedding, the module, forward."""
    import torch
    from torch import nn

    vocab = ["<pad>", *sorted({ch for seq in sequences for ch in seq})]
    index = {ch: i for i, ch in enumerate(vocab)}
    ids = [[index[ch] for ch in seq] for seq in sequences]
    padded = torch.zeros(len(ids), max(map(len, ids)), dtype=torch.long)  # (B, T)
    for b, seq in enumerate(ids):
        padded[b, : len(seq)] = torch.tensor(seq)
    torch.manual_seed(seed)
    emb = nn.Embedding(len(vocab), embedding)
    module = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[cell]
    rnn = module(embedding, hidden, num_layers=layers, bidirectional=bidirectional)
    with torch.no_grad():
        return rnn(emb(padded.t()))  # output (T, B, D*H), state


def rnnviz_run_check(config):
    from rnnviz.model import run
    from rnnviz.relations import check_relations

    result = run(config)
    return result, check_relations(result)


def core_ratio(config, n: int) -> dict:
    """Interleaved medians, same config: rnnviz run + check_relations, the whole rnnviz.analyse (with the hand
    recomputation and the runs the relations compare with), and the bare forward."""
    from rnnviz import analyse

    kw = {k: getattr(config, k) for k in ("sequences", "cell", "layers", "bidirectional", "hidden", "embedding")}
    sides = {
        "core": lambda: rnnviz_run_check(config),
        "analyse": lambda: analyse(config),
        "bare": lambda: bare_forward(**kw),
    }
    for side in sides.values():  # warm-up: lazy imports, first kernels
        side()
    times = {name: [] for name in sides}
    for i in range(n):
        for name in list(sides)[i % 3 :] + list(sides)[: i % 3]:  # each goes first in turn
            times[name].append(timed(sides[name])[0])
    out = {name: summary(t) for name, t in times.items()}
    out["ratio"] = out["core"]["median"] / out["bare"]["median"]
    out["ratio_analyse"] = out["analyse"]["median"] / out["bare"]["median"]
    return out


def core_parts(config, n: int) -> dict:
    """Where rnnviz's time goes for one config: run's parts, check_relations, recompute, the whole analyse."""
    from rnnviz import analyse
    from rnnviz.batch import make_batch
    from rnnviz.model import build, run
    from rnnviz.recompute import recompute
    from rnnviz.relations import check_relations

    parts = {k: [] for k in ("make_batch", "build", "run", "check_relations", "recompute", "analyse")}
    for _ in range(n):
        parts["make_batch"].append(timed(make_batch, config.sequences, config.batch_first)[0])
        batch = make_batch(config.sequences, config.batch_first)
        parts["build"].append(timed(build, config, len(batch.vocab), len(config.sequences))[0])
        t, result = timed(run, config)
        parts["run"].append(t)
        parts["check_relations"].append(timed(check_relations, result)[0])
        parts["recompute"].append(timed(recompute, result)[0])
        parts["analyse"].append(timed(analyse, config)[0])
    return {k: summary(v) for k, v in parts.items()}


def recompute_table(reps: int = 3) -> list[dict]:
    """recompute(result) time as T, L and D grow (bi LSTM, H = E = 256, B = 16), one axis at a time."""
    from rnnviz import Config
    from rnnviz.model import run
    from rnnviz.recompute import recompute

    big = largest_kwargs()
    rows = []
    grid = [(T, 1, False) for T in (8, 16, 32, 64)]
    grid += [(64, L, False) for L in (2, 4, 6)]
    grid += [(64, 1, True), (64, 6, True)]
    for T, L, bi in grid:
        sequences = tuple(s[:T] for s in big["sequences"])
        config = Config(**{**big, "sequences": sequences, "layers": L, "bidirectional": bi})
        result = run(config)
        times = [timed(recompute, result)[0] for _ in range(reps)]
        D = 2 if bi else 1
        med = statistics.median(times)
        rows.append({"T": T, "L": L, "D": D, "steps": T * L * D, "median": med, "per_step": med / (T * L * D)})
    return rows


def batch_vectorisation(reps: int = 3) -> dict:
    """recompute at the largest config with B = 16 (vectorised over b) vs B = 1 (x16 = a loop over b)."""
    from rnnviz import Config
    from rnnviz.model import run
    from rnnviz.recompute import recompute

    big = largest_kwargs()
    r16 = run(Config(**big))
    r1 = run(Config(**{**big, "sequences": big["sequences"][:1]}))
    t16, t1 = [], []
    for _ in range(reps):
        t16.append(timed(recompute, r16)[0])
        t1.append(timed(recompute, r1)[0])
    m16, m1 = statistics.median(t16), statistics.median(t1)
    return {"B16": m16, "B1": m1, "loop_estimate": 16 * m1, "speedup": 16 * m1 / m16}


def threads_what_if(config, n: int = 2) -> dict:
    """The largest config's analyse() with torch's default threads and with torch.set_num_threads(1)."""
    import torch

    from rnnviz import analyse

    default = torch.get_num_threads()
    out = {"default_threads": default}
    samples = {default: [], 1: []}
    start = time.perf_counter()
    for i in range(n):
        if i and time.perf_counter() - start > 60:  # under heavy load one round is enough
            break
        for threads in (default, 1):
            torch.set_num_threads(threads)
            samples[threads].append(timed(analyse, config)[0])
    torch.set_num_threads(default)
    out["analyse_default"] = summary(samples[default])
    out["analyse_1_thread"] = summary(samples[1])
    return out


def section_core() -> dict:
    import torch

    from rnnviz import Config

    default, largest = Config(), Config(**largest_kwargs())
    out = {"default_threads": torch.get_num_threads()}
    start = time.perf_counter()
    # The what-if first, with torch's default threads: on this shared 2-core machine, 2 OpenMP threads
    # fighting other processes make every small op wait at a barrier, and times swing 10x. The rest is
    # measured with one thread on both sides of every comparison, so that ratios and growth are stable.
    out["threads"] = threads_what_if(largest)
    torch.set_num_threads(1)
    out["torch_threads"] = torch.get_num_threads()
    out["default"] = core_ratio(default, n=40)
    out["largest"] = core_ratio(largest, n=5)
    out["parts_default"] = core_parts(default, n=10)
    out["parts_largest"] = core_parts(largest, n=2)
    out["recompute_table"] = recompute_table()
    out["batch"] = batch_vectorisation()
    out["seconds"] = time.perf_counter() - start
    return out


# -----------------------------------------------------------------------------
# 4b. Import costs (python -X importtime: self and cumulative microseconds per module)

IMPORTTIME = re.compile(r"import time:\s+(\d+)\s+\|\s+(\d+)\s+\|(\s*)(\S+)")


def importtime(statement: str) -> dict[str, int]:
    """Cumulative microseconds of each top-level import of a fresh interpreter running statement."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", statement],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        env={**__import__("os").environ, "PYTHONPATH": str(ROOT)},
    )
    cumulative: dict[str, int] = {}
    for line in proc.stderr.splitlines():
        m = IMPORTTIME.match(line)
        if m and len(m.group(3)) == 1:  # depth 0: one space before the name
            cumulative[m.group(4)] = cumulative.get(m.group(4), 0) + int(m.group(2))
        elif m and m.group(4) == "torch":  # torch imported inside another module: its own share
            cumulative["torch (nested)"] = int(m.group(2))
    if proc.returncode:
        cumulative["error"] = proc.returncode
    return cumulative


def app_imports() -> list[str]:
    """The modules streamlit_app.py imports at top level (read from its source, so it follows edits)."""
    tree = ast.parse(APP.read_text())
    names = []
    for node in tree.body:
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
            names += [
                f"{node.module}.{a.name}"
                for a in node.names
                if node.module == "rnnviz" and (ROOT / "rnnviz" / f"{a.name}.py").exists()
            ]
    return list(dict.fromkeys(names))


def wall(statement: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", statement], cwd=ROOT, check=False, timeout=180, capture_output=True)
    return time.perf_counter() - start


def section_imports(reps: int = 3) -> dict:
    mods = app_imports()
    core_stmt = "import rnnviz"
    app_stmt = "; ".join(f"import {m}" for m in mods)
    runs = {"core": [], "app": []}
    for _ in range(reps):
        runs["core"].append(importtime(core_stmt))
        runs["app"].append(importtime(app_stmt))
    walls = {"app imports": wall(app_stmt), "python -c pass": wall("pass")}

    def med(key, which):
        return statistics.median(r.get(key, 0) for r in runs[which]) / 1e6

    core_total, core_torch = med("rnnviz", "core"), med("torch (nested)", "core")
    app_mods = {}
    startup = set(importtime("pass"))  # what the interpreter imports before the statement runs
    for r in runs["app"]:
        for k in r:
            if k not in startup and k not in ("torch (nested)", "error"):
                app_mods.setdefault(k, None)
    app_table = {k: med(k, "app") for k in app_mods}
    return {
        "core_cumulative": core_total,
        "core_torch_share": core_torch,
        "core_without_torch": core_total - core_torch if core_torch else None,
        "app_modules": mods,
        "app_table": app_table,
        "app_total": sum(app_table.values()),
        "wall": walls,
    }


if __name__ == "__main__":
    section = sys.argv[1]
    emit({"core": section_core, "imports": section_imports}[section]())
