"""Shared pieces of the benchmark: paths, the two configs measured, timing helpers, the machine description.

Every section module runs in its own process (a cold start, caches and memory of its own), prints one
JSON object on its last stdout line, and run.py gathers and prints them.
"""

import json
import os
import platform
import statistics
import string
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
APP = ROOT / "streamlit_app.py"
NAIVE_APP = BENCH / "naive_app.py"
RESULT_MARK = "BENCH-RESULT "

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# 16 distinct 64-character sequences: every limit of rnnviz.config at once (no padding: all T = 64).
_ALPHABET = string.ascii_letters + string.digits + "_-"
LARGEST_SEQUENCES = tuple((_ALPHABET[i:] + _ALPHABET[:i])[:64] for i in range(16))


def largest_kwargs() -> dict:
    """Config fields of the largest config the limits allow: 16 x 64 chars, 6 layers, bi LSTM, H = E = 256."""
    from rnnviz.config import MAX_EMBEDDING, MAX_HIDDEN, MAX_LAYERS, MAX_LENGTH, MAX_SEQUENCES

    sequences = tuple(s[:MAX_LENGTH] for s in LARGEST_SEQUENCES[:MAX_SEQUENCES])
    return dict(
        sequences=sequences,
        cell="lstm",
        layers=MAX_LAYERS,
        bidirectional=True,
        hidden=MAX_HIDDEN,
        embedding=MAX_EMBEDDING,
    )


def largest_query() -> dict:
    """The largest config as the dashboard's URL parameters (bind='query-params')."""
    k = largest_kwargs()
    return {
        "preset": "Custom",
        "sequences": "\n".join(k["sequences"]),
        "cell": k["cell"].upper(),
        "layers": str(k["layers"]),
        "bidirectional": "true",
        "hidden": str(k["hidden"]),
        "embedding": str(k["embedding"]),
    }


# -----------------------------------------------------------------------------
# Timing


def timed(fn, *args, **kwargs) -> tuple[float, object]:
    start = time.perf_counter()
    value = fn(*args, **kwargs)
    return time.perf_counter() - start, value


def summary(samples: list[float]) -> dict:
    """Median, quartiles, min, max and n of a list of seconds."""
    s = sorted(samples)
    if not s:
        return {"n": 0}
    q = statistics.quantiles(s, n=4) if len(s) >= 2 else [s[0], s[0], s[0]]
    return {"n": len(s), "median": statistics.median(s), "q1": q[0], "q3": q[2], "min": s[0], "max": s[-1]}


def ms(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds * 1000:.1f} ms"


def fmt_summary(d: dict, unit: str = "ms") -> str:
    if not d or not d.get("n"):
        return "n/a"
    k = 1000 if unit == "ms" else 1
    return (
        f"median {d['median'] * k:.1f} {unit} (IQR {d['q1'] * k:.1f}-{d['q3'] * k:.1f}, "
        f"min {d['min'] * k:.1f}, max {d['max'] * k:.1f}, n={d['n']})"
    )


def emit(result: dict):
    """Print a section's result as the last stdout line, for run.py."""
    sys.stdout.flush()
    print(RESULT_MARK + json.dumps(result), flush=True)


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


# -----------------------------------------------------------------------------
# The machine


def machine() -> dict:
    """CPU model, cores, memory, versions: what the numbers were measured on."""
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gib = int(line.split()[1]) / 2**20
    except OSError:
        pass
    versions = {"python": platform.python_version()}
    for name in ("torch", "streamlit", "pandas", "altair", "pyarrow", "playwright"):
        try:
            from importlib.metadata import version

            versions[name] = version(name)
        except Exception:
            versions[name] = "not installed"
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "mem_gib": mem_gib,
        "os": platform.platform(),
        "versions": versions,
        "loadavg": loadavg(),
    }


def torch_threads() -> int:
    import torch

    return torch.get_num_threads()
