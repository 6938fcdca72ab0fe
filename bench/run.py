"""rnnviz benchmark: `python bench/run.py` prints the machine, the ratio and target lines, then every figure.

Each section runs in a fresh process (cold imports, empty Streamlit caches, its own memory), one after the
other, under a time budget; a section that overruns is killed (its process group: the server and the
browser it started go with it) and reported as such. Options: `--only rerun,core,...` runs a subset,
`--json FILE` also writes the raw results.

Sections
  rerun    AppTest: rerun after a widget change, rnnviz vs bench/naive_app.py, interleaved, cached and new configs
  largest  AppTest: the largest config the limits allow, cold and warm, its page's payload, its tensors' bytes
  core     rnnviz.model.run + check_relations vs the bare torch forward; recompute cost and growth
  imports  python -X importtime: the core without torch, and the app's imports
  browser  streamlit run + Chromium: cold start, memory with 5 sessions, interaction latency
  classroom  40 students over Streamlit's websocket protocol on one server, rnnviz then the naive script
  explain  rnnviz.explain on a 2-layer bidirectional LSTM, 256 units, 32 x 200 steps, vs the module's own call
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import classroom
from common import BENCH, RESULT_MARK, ROOT, fmt_summary, loadavg, machine, ms

TOTAL_BUDGET_S = 830  # the whole run stays under 15 minutes
SECTIONS = {  # name: (command, time cap in seconds)
    "rerun": (["sec_apptest.py", "rerun"], 150),
    "core": (["sec_core.py", "core"], 170),
    "largest": (["sec_apptest.py", "largest"], 170),
    "imports": (["sec_core.py", "imports"], 100),
    "browser": (["sec_browser.py"], 420),
    "classroom": (["classroom.py"], 300),
    "explain": (["sec_explain.py"], 120),
}
MIN_SECTION_S = {"rerun": 30, "core": 40, "largest": 40, "imports": 20, "browser": 120, "classroom": 200, "explain": 60}


def run_section(name: str, budget_s: float) -> dict:
    """Run one section in its own process group; its result dict, or {'error': ...}."""
    script, *args = SECTIONS[name][0]
    log = Path(tempfile.mkstemp(prefix=f"rnnviz-bench-{name}-", suffix=".log")[1])
    partial = log.with_suffix(".partial.json")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(BENCH)]),
        "BENCH_BUDGET_S": str(budget_s),
        "BENCH_PARTIAL": str(partial),
    }
    start = time.perf_counter()
    with open(log, "w") as err:
        proc = subprocess.Popen(
            [sys.executable, str(BENCH / script), *args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            env=env,
            start_new_session=True,
        )
        try:
            stdout, _ = proc.communicate(timeout=budget_s)
        except subprocess.TimeoutExpired:
            stop(proc)
            kept = json.loads(partial.read_text()) if partial.exists() else {}
            partial.unlink(missing_ok=True)
            return {**kept, "error": f"timed out after {budget_s:.0f} s (killed); phases before that kept"}
    seconds = time.perf_counter() - start
    partial.unlink(missing_ok=True)
    for line in reversed(stdout.splitlines()):
        if line.startswith(RESULT_MARK):
            log.unlink(missing_ok=True)
            return {**json.loads(line[len(RESULT_MARK) :]), "seconds": seconds}
    tail = log.read_text(errors="replace").strip().splitlines()[-3:]
    return {"error": f"exit {proc.returncode}, no result: {' | '.join(tail)}", "log": str(log), "seconds": seconds}


def stop(proc: subprocess.Popen):
    """SIGTERM to the section's process group (its finally blocks stop the server), then SIGKILL."""
    for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


# -----------------------------------------------------------------------------
# Printing


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("PASS" if ok else "FAIL")


def mb(kib_or_bytes, kib: bool = False) -> str:
    """A size in MB, or in kB below 0.1 MB."""
    if kib_or_bytes is None:
        return "n/a"
    b = kib_or_bytes * 1024 if kib else kib_or_bytes
    return f"{b / 1e6:.1f} MB" if b >= 1e5 else f"{b / 1e3:.1f} kB"


def print_machine(m: dict, threads: int | None):
    v = m["versions"]
    print(f"machine: {m['cpu']}, {m['cores']} cores ({m['affinity']} usable), {m['mem_gib']:.1f} GiB memory")
    print(f"  {m['os']}")
    print(
        f"  Python {v['python']}, torch {v['torch']} (intra-op threads {threads}), streamlit {v['streamlit']}, "
        f"pandas {v['pandas']}, altair {v['altair']}, pyarrow {v['pyarrow']}, playwright {v['playwright']}"
    )
    print(f"  load average at start: {m['loadavg']} (shared machine: medians and ratios, interleaved where paired)")


def browser_rerun_lines(b: dict) -> list[str]:
    """The landing view's rerun vs the naive script's in the browser: the target on a new seed, change -> drawn."""
    x = b.get("rerun_vs_naive")
    if not x:
        return [f"rerun ratio rnnviz/naive in the browser = n/a ({b.get('error', 'not run')})"]
    lines = []
    for kind, label in (("new", "a new seed (nothing cached)"), ("cached", "seeds 0 <-> 1 (cached)")):
        app, naive = x[kind]["rnnviz"]["drawn"]["median"], x[kind]["naive"]["drawn"]["median"]
        ratio = app / naive
        target = f" (target <= 1.5) {verdict(ratio <= 1.5)}" if kind == "new" else ""
        lines.append(
            f"rerun ratio rnnviz/naive in the browser, {label}, change -> page drawn, medians = {ms(app)} /"
            f" {ms(naive)} = {ratio:.2f}{target}"
        )
    return lines


def ratio_lines(r: dict) -> list[str]:
    lines = []
    rr = r.get("rerun", {})
    if "app" in rr:
        ratio = rr["app"]["median"] / rr["naive"]["median"]
        lines.append(f"rerun ratio rnnviz/naive, AppTest (the scripts alone, cached) = {ratio:.2f}")
    else:
        lines.append(f"rerun ratio rnnviz/naive, AppTest = n/a ({rr.get('error', 'not run')})")
    lines += browser_rerun_lines(r.get("browser", {}))
    c = r.get("core", {})
    for key in ("default", "largest"):
        if key in c:
            x = c[key]["ratio"]
            lines.append(
                f"core ratio run+check_relations/bare forward, {key} config = {x:.2f} (target <= 1.3) "
                f"{verdict(x <= 1.3)}"
            )
            lines.append(
                f"  the whole analyse (+ hand recomputation and the runs relations compare with)/bare, {key} = "
                f"{c[key]['ratio_analyse']:.2f}"
            )
    if "error" in c:
        lines.append(f"core ratios = n/a ({c['error']})")
    lg = r.get("largest", {})
    if "as_is" in lg:
        warm = lg["as_is"]["warm"].get("median")
        broken = any(lg["as_is"][k] for k in ("problems", "problems_after_warm", "problems_unrolled_tab"))
        note = " (page raised an exception: see section 2)" if broken else ""
        lines.append(f"largest config warm rerun (AppTest) = {warm:.2f} s (target < 2 s) {verdict(warm < 2)}{note}")
        charts = lg["as_is"]["payload"]["charts"]
        if charts:
            worst = max(ch["cells"] for ch in charts)
            lines.append(
                f"largest heatmap cells = {worst:,} vs MAX_CELLS {lg['max_cells']:,}: "
                f"{'respected' if worst <= lg['max_cells'] else 'EXCEEDED'}"
            )
    if lg.get("analysis_bytes"):
        per = lg["analysis_bytes"] + (lg.get("layers_bytes") or 0)
        lines.append(
            f"server cache worst case = {mb(lg['cache_max_bytes'])} of tensors (bounded in bytes as well as entries;"
            f" the largest config holds {mb(per)})"
        )
    b = r.get("browser", {})
    mem = b.get("memory")
    if mem and mem.get("hwm_kib"):
        peak = mem["hwm_kib"] * 1024 / 1e6
        lines.append(
            f"server peak RSS after {mem['sessions']} sessions x {mem['configs']} configs = {peak:.0f} MB "
            f"(target < 600 MB) {verdict(peak < 600)}"
        )
    if b.get("server_hwm_final_kib") and b.get("largest_first_page_s"):
        peak = b["server_hwm_final_kib"] * 1024 / 1e6
        lines.append(
            f"server peak RSS at the end, after the largest config and Layers 5 of it too = {peak:.0f} MB "
            f"(target < 600 MB) {verdict(peak < 600)}"
        )
    lines += classroom.ratio_lines(r["classroom"]) if "classroom" in r else []
    lines += [f"explain, {line.strip()}" for line in r.get("explain", {}).get("lines", []) if "target" in line]
    return lines


def print_rerun(r: dict):
    print("\n== 1. Rerun after a widget change, default view (AppTest, same process, interleaved) ==")
    if "error" in r:
        print(f"  ERROR: {r['error']}")
        return
    print(
        "  rnnviz: the Seed control flips 0 <-> 1; both configs were computed and cached during warm-up, so"
        "\n  each rerun is the dashboard's own per-run cost (the sidebar, the summary and the open tab, the Picture:"
        "\n  cache look-ups, building and sending their elements; the closed tabs do not run)."
        "\n  naive: a dummy toggle flips; the script recomputes the blog's model each run."
    )
    print("  Public APIs only: AppTest re-reads and compiles each main script on every run, both sides alike.")
    print(f"  rnnviz rerun (cached config):     {fmt_summary(r['app'])}")
    print(f"  naive rerun (recomputes):         {fmt_summary(r['naive'])}")
    print(f"  rnnviz rerun, new seed each time: {fmt_summary(r['app_uncached'])}")
    print(f"  naive, interleaved with those:    {fmt_summary(r['naive_during_uncached'])}")
    print(f"  rnnviz first run (cache empty, imports done): {r['app_first_run_cold_cache']:.2f} s")
    print(f"  pages ok (no exception, the picture drawn): {r['ok']}; problems: {r['problems']}")


def print_payload(p: dict, max_cells: int):
    for i, ch in enumerate(p["charts"]):
        flag = "ok" if ch["cells"] <= max_cells else "OVER MAX_CELLS"
        print(
            f"    chart {i}: {ch['cells']:,} cells ({ch['numbers']:,} numbers), {mb(ch['bytes'])} proto, "
            f"spec {ch['spec_bytes']:,} B  [{flag}]"
        )
    for i, f in enumerate(p["frames"]):
        print(f"    dataframe {i}: {f['rows']} x {f['cols']}, {f['numbers']:,} numbers, {mb(f['bytes'])}")
    print(f"    whole page: {p['elements']} elements, {mb(p['total_bytes'])} of element protos")


def print_largest(r: dict):
    print("\n== 2. Largest config (16 x 64 chars, 6 layers, bidirectional LSTM, H = E = 256), AppTest ==")
    if "error" in r:
        print(f"  ERROR: {r['error']}")
        return
    print(f"  torch intra-op threads: {r['torch_threads']} (as the app leaves them)")
    x = r["as_is"]
    print(f"    first run (caches empty, imports done): {x['cold_first_run']:.2f} s")
    print("    then opened the 'output & h_n' tab (only the open tab runs): the reruns and payload below are of it")
    print(f"    warm rerun ({x['warm_widget']}): {fmt_summary(x['warm'], 's')}")
    print(
        f"    exceptions: first run {x['problems'] or 'none'}, after the warm reruns"
        f" {x['problems_after_warm'] or 'none'}; the picture drawn on the first run: {x['picture']}"
    )
    print_payload(x["payload"], r["max_cells"])
    print(
        f"    then the 'Unrolled by hand' tab, first open (computes layer outputs):"
        f" {x['unrolled_tab_first_run']:.2f} s;"
        f" exceptions {x['problems_unrolled_tab'] or 'none'}"
    )
    if r.get("analysis_bytes"):
        print(
            f"  server cache per largest config: analysis {mb(r['analysis_bytes'])} + layer outputs"
            f" {mb(r['layers_bytes'])} of tensors, within its bound of {mb(r['cache_max_bytes'])}"
        )


def print_core(r: dict):
    print("\n== 3. Core overhead (in-process, interleaved) ==")
    if "error" in r:
        print(f"  ERROR: {r['error']}")
        return
    th = r["threads"]
    print(
        f"  torch threads: default {th['default_threads']}; the comparisons below use {r['torch_threads']} thread on"
        " both sides\n  (2 OpenMP threads on 2 shared, busy cores stall at every barrier; see the what-if)."
    )
    print(
        "  Both sides build inside the timing (seed, nn.Embedding, module) and make the padded batch: rnnviz must"
        "\n  build for every new config. Bare = blog code; rnnviz = model.run(config) + check_relations(result)."
    )
    for key in ("default", "largest"):
        x = r[key]
        print(f"  {key}: rnnviz {fmt_summary(x['core'])}")
        print(f"  {' ' * len(key)}  bare   {fmt_summary(x['bare'])}  -> ratio {x['ratio']:.2f}")
    for key in ("parts_default", "parts_largest"):
        parts = ", ".join(f"{k} {ms(v['median'])}" for k, v in r[key].items())
        print(f"  {key.replace('parts_', '')} parts (medians): {parts}")
    print("  recompute(result), bidirectional LSTM H = E = 256, B = 16, one axis grown at a time:")
    print("      T   L   D   steps   median      per step")
    for row in r["recompute_table"]:
        print(
            f"    {row['T']:3d} {row['L']:3d} {row['D']:3d} {row['steps']:7d}  {row['median'] * 1000:8.1f} ms"
            f"  {row['per_step'] * 1e6:8.0f} us"
        )
    b = r["batch"]
    print(
        f"  batch vectorisation (largest config): B=16 {ms(b['B16'])}, B=1 {ms(b['B1'])}; a loop over b would take"
        f" ~{ms(b['loop_estimate'])} -> vectorised is {b['speedup']:.1f}x faster"
    )
    print(
        f"  what-if threads, analyse(largest): default ({th['default_threads']}) "
        f"{fmt_summary(th['analyse_default'], 's')}\n{' ' * 37}1 thread    {fmt_summary(th['analyse_1_thread'], 's')}"
    )


def print_imports(r: dict):
    print("\n== 4b. Import cost (python -X importtime, cumulative, median of 3 fresh interpreters) ==")
    if "error" in r:
        print(f"  ERROR: {r['error']}")
        return
    print(
        f"  import rnnviz: {r['core_cumulative']:.2f} s, of which torch {r['core_torch_share']:.2f} s -> core without"
        f" torch {ms(r['core_without_torch'])}"
    )
    table = ", ".join(f"{k} {v:.2f} s" for k, v in sorted(r["app_table"].items(), key=lambda kv: -kv[1]) if v > 0.001)
    print(f"  the app's imports ({', '.join(r['app_modules'])}):")
    print(f"    {table}; total {r['app_total']:.2f} s (one wall-clock run {r['wall']['app imports']:.2f} s,"
          f" bare interpreter {r['wall']['python -c pass']:.2f} s)")  # fmt: skip


def print_browser(r: dict):
    print("\n== 4, 5, 6. Real server (streamlit run, loopback) and headless Chromium ==")
    if "error" in r:
        print(f"  ERROR: {r['error']}")
    if "first_page_s" not in r:
        return
    print(
        f"  4. cold start: health endpoint after {r['health_s']:.2f} s; first complete page (script idle, badge"
        f" visible) {r['first_page_s']:.2f} s after process start ({r['first_page_after_health_s']:.2f} s after"
        f" health);\n     a second page on the warm server {r['second_page_s']:.2f} s"
    )
    mem = r.get("memory")
    if mem:
        print(
            f"  5. memory: {mem['sessions']} browser contexts opened {mem['configs']} distinct configs by URL in"
            f" {mem['seconds']:.0f} s (page load {fmt_summary(mem['page_load'], 's')})"
        )
        print(
            f"     server VmHWM {mb(mem['hwm_kib'], kib=True)}, VmRSS {mb(mem['rss_kib'], kib=True)} (idle before"
            f" any page: {mb(r['rss_idle_kib'], kib=True)}); VmHWM at the very end, after the largest config:"
            f" {mb(r.get('server_hwm_final_kib'), kib=True)}"
        )
    for kind, x in r.get("rerun_vs_naive", {}).items():
        print(f"  6. the landing view vs the naive script, 1280x720 x1.5, {kind} configs, interleaved:")
        for name, d in x.items():
            print(f"     {name:6}  run ended {fmt_summary(d['finished'])}; page drawn {fmt_summary(d['drawn'])}")
    for key, label in (("latency_default", "default view"), ("latency_largest", "largest config")):
        x = r.get(key)
        if x:
            print(
                f"  6. latency, {label}, {x['changes']} in the sidebar -> rerun ended with badges shown:"
                f"\n     {fmt_summary(x, 's')}; warm-up changes {', '.join(f'{w:.2f}' for w in x['warm_up'])} s"
            )
    if "largest_first_page_s" in r:
        print(
            f"     largest config page by URL: {r['largest_first_page_s']:.2f} s (cold compute);"
            f" exception boxes on it: {r['largest_page_exceptions']}"
        )
    if r.get("latency_largest_skipped"):
        print(f"  6. largest config latency skipped: {r['latency_largest_skipped']}")
    if "server_log_tracebacks" in r:
        print(f"  server log: {r['server_log_tracebacks']} tracebacks; errors: {r['server_log_errors'] or 'none'}")


def print_classroom(r: dict):
    print("\n== 7. A classroom on one server (bench/classroom.py: Streamlit's websocket protocol) ==")
    if "error" in r:
        print(f"  ERROR: {r['error']}")
    if "rnnviz" in r or "naive" in r:
        print("\n".join("  " + line for line in classroom.report(r)))


def print_explain(r: dict):
    print("\n== 8. rnnviz.explain on a user's model (bench/sec_explain.py) ==")
    if "error" in r:
        print(f"  ERROR: {r['error']}")
    print("\n".join("  " + line for line in r.get("lines", [])))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=",".join(SECTIONS), help="comma-separated sections to run")
    parser.add_argument("--json", help="also write the raw results to this file")
    args = parser.parse_args()
    wanted = [s for s in SECTIONS if s in args.only.split(",")]
    start = time.perf_counter()
    m = machine()
    results = {}
    for i, name in enumerate(wanted):
        left = TOTAL_BUDGET_S - (time.perf_counter() - start)
        later = sum(MIN_SECTION_S[s] for s in wanted[i + 1 :])
        budget = max(MIN_SECTION_S[name], min(SECTIONS[name][1], left - later))
        print(f"[{time.perf_counter() - start:5.0f} s] {name} (budget {budget:.0f} s) ...", file=sys.stderr, flush=True)
        results[name] = run_section(name, budget)
    threads = results.get("core", {}).get("default_threads") or results.get("largest", {}).get("torch_threads")

    print("rnnviz benchmark")
    print_machine(m, threads)
    print(f"  load average at end: {loadavg()}; total {time.perf_counter() - start:.0f} s")
    print("\n== Ratios and targets ==")
    for line in ratio_lines(results):
        print(line)
    printers = {
        "rerun": print_rerun,
        "largest": print_largest,
        "core": print_core,
        "imports": print_imports,
        "browser": print_browser,
        "classroom": print_classroom,
        "explain": print_explain,
    }
    for name in ("rerun", "largest", "core", "browser", "classroom", "imports", "explain"):
        if name in results:
            try:
                printers[name](results[name])
            except (KeyError, TypeError, ZeroDivisionError) as error:  # a partial result: show it raw
                print(f"\n== {name}: partial result ({type(error).__name__}: {error}) ==")
                print(json.dumps(results[name])[:2000])
    print("\nsection wall times: " + ", ".join(f"{k} {v.get('seconds', 0):.0f} s" for k, v in results.items()))
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": m, "results": results}, indent=1))


if __name__ == "__main__":
    main()
