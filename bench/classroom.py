"""The classroom: N simulated students on one `streamlit run`, rnnviz vs the naive blog script.

`python bench/classroom.py [--users 40] [--links 1] [--changes 10] [--think 2 4] [--arrive 10]
[--apps rnnviz,naive] [--option runner.postScriptGC=true ...]` prints the figures, then one JSON line (run.py).

For each script (streamlit_app.py, then bench/naive_app.py), one server started from the repository root (so
.streamlit/config.toml applies to both), loaded over Streamlit's own websocket protocol (bench/wsclient.py):
  1. a teacher opens the page (the imports and the first run; not counted) and keeps it open;
  2. new sessions one at a time: the server's CPU per session, for a preset's link and for a link that also
     changes one of the preset's controls (an app that reruns itself to show that as Custom pays twice);
  3. one student alone: links and changes with a short think time, the baseline latencies;
  4. the class: --users students arrive within --arrive s; each opens --links preset links, each in a fresh
     session, and makes --changes control changes in each (seed, layers; the naive script's dummy toggle),
     --think s apart (the issue's first measurement was --links 5 --changes 0);
  5. rnnviz only, after the class: the largest config's link, then its 'output & h_n' tab (the memory peak),
     while a neighbour changes the seed of a small config beside it (what a long run costs the others).
Latency of a page: link sent -> its run finished; of a change: rerun sent -> finished. Every page's
numbers (badges, max abs diffs, shapes) are compared with rnnviz.analyse after the load; the server's
peak RSS (VmHWM) and CPU time are read from /proc.
"""

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

import wsclient
from common import APP, NAIVE_APP, emit, largest_kwargs, largest_query, machine, summary

SESSIONS_PER_KIND = 5  # fresh sessions opened one at a time, per kind of link, for the CPU per session
SOLO_THINK_S = (0.3, 0.5)
NEIGHBOUR_CHANGES, NEIGHBOUR_THINK_S = 6, (0.15, 0.25)  # changes beside the largest config's run (1.3 s)


def percentiles(samples: list[float]) -> dict:
    """n, p50, p95 and max of a list of seconds."""
    if len(samples) < 2:
        return {"n": len(samples), **dict.fromkeys(("p50", "p95", "max"), samples[0] if samples else None)}
    return {
        "n": len(samples),
        "p50": statistics.median(samples),
        "p95": statistics.quantiles(samples, n=20, method="inclusive")[18],
        "max": max(samples),
    }


def proc_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process, all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_kib(pid: int, field: str) -> int:
    """A /proc/PID/status memory field (VmHWM, VmRSS) in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def latencies(records) -> tuple[list[float], list[float]]:
    """The seconds of every page (a link opened in a new session) and of every change."""
    pages = [p for r in records for p in r.pages]
    return [p.seconds for p in pages if p.link], [p.seconds for p in pages if not p.link]


async def session_cpu(server, query: dict) -> float:
    """Server CPU seconds per new session that opens this link, one session at a time."""
    before = proc_cpu_s(server.proc.pid)
    await wsclient.classroom(server.url, [[wsclient.Lesson(query, [])] * SESSIONS_PER_KIND], 0, (0, 0))
    return (proc_cpu_s(server.proc.pid) - before) / SESSIONS_PER_KIND


async def largest(server) -> dict:
    """After the class: the largest config's link (its numbers checked), then with the 'output & h_n' tab open
    (the heatmaps), while a neighbour makes changes on a small config beside it (runs take turns, and a long run
    holds another session's up for a moment at most); the seconds of both pages and of the neighbour's changes, the
    server's peak RSS."""
    from rnnviz import PRESETS, Config

    lessons = [
        wsclient.Lesson({**largest_query(), "tab": "Relations"}, [], [Config(**largest_kwargs())], badges=True),
        wsclient.Lesson({**largest_query(), "tab": "output & h_n"}, []),
    ]
    seeds = range(500, 500 + NEIGHBOUR_CHANGES)
    configs = [PRESETS["single-uni"], *(PRESETS["single-uni"].replace(seed=seed) for seed in seeds)]
    neighbour = [wsclient.Lesson({"preset": "single-uni"}, [("seed", seed) for seed in seeds], configs)]
    records = await wsclient.classroom(server.url, [lessons, neighbour], 0, NEIGHBOUR_THINK_S)
    problems = [e for r in records for e in r.errors] + wsclient.wrong_pages(records, [lessons, neighbour])
    beside = [page.seconds for page in records[1].pages if not page.link]
    return {
        "pages_s": [page.seconds for page in records[0].pages],
        "neighbour_changes": percentiles(beside),
        "hwm_kib": proc_kib(server.proc.pid, "VmHWM"),
        "problems": problems[:5],
    }


async def lesson_plan(name: str, server, make, args) -> tuple[dict, list, list]:
    """Steps 1-5 on one server, the teacher's tab open throughout (Streamlit recompiles the script whenever the
    last session closes, which a class never lets happen). The figures, the students and their records."""
    pid, out = server.proc.pid, {}
    async with wsclient.Session.open(server.url) as teacher:
        out["teacher_page_s"] = (await teacher.load("")).seconds
        out["rss_first_page_kib"] = proc_kib(pid, "VmRSS")
        out["session_cpu_s"] = {"link": await session_cpu(server, {"preset": "multi-bi"})}
        if name == "rnnviz":
            link = {"preset": "multi-bi", "seed": "7"}
            out["session_cpu_s"]["link_changing_a_control"] = await session_cpu(server, link)
        alone = make(1, 4, 5, seed=99) if name == "rnnviz" else make(1, 4, 5)  # configs of its own, not the class's
        solo = await wsclient.classroom(server.url, alone, 0, SOLO_THINK_S)
        pages, changes = latencies(solo)  # four links (two change a control), 20 changes
        out["solo"] = {"page": summary(pages), "change": summary(changes)}
        students = make(args.users, args.links, args.changes)
        cpu, start = proc_cpu_s(pid), time.perf_counter()
        records = await wsclient.classroom(server.url, students, args.arrive, tuple(args.think))
        out["seconds"], out["cpu_s"] = time.perf_counter() - start, proc_cpu_s(pid) - cpu
        out["hwm_kib"], out["rss_kib"] = proc_kib(pid, "VmHWM"), proc_kib(pid, "VmRSS")
        if name == "rnnviz":
            out["largest"] = await largest(server)
    return out, students, records


def figures(out: dict, students: list, records: list, log: Path) -> dict:
    """A plan's figures with the class's latencies, errors (the students', the server log's) and wrong pages."""
    pages, changes = latencies(records)
    errors = [f"student {i}: {e}" for i, r in enumerate(records) for e in r.errors]
    errors += [f"server log: {line}" for line in log.read_text(errors="replace").splitlines() if "Traceback" in line]
    wrong = wsclient.wrong_pages(records, students)
    out["class"] = {
        "page": percentiles(pages),
        "change": percentiles(changes),
        "pages": sum(len(r.pages) for r in records),
        "runs": sum(p.runs for r in records for p in r.pages),
        "errors": len(errors),
        "error_samples": errors[:5],
        "wrong": len(wrong),
        "wrong_samples": wrong[:5],
        "seconds": out.pop("seconds"),
        "cpu_s": out.pop("cpu_s"),
    }
    return out


def measure(name: str, args) -> dict:
    """One server for the script, alone on the machine with its class; its figures."""
    script, make = (APP, wsclient.rnnviz_students) if name == "rnnviz" else (NAIVE_APP, wsclient.naive_students)
    options = [part for option in args.option for part in ("--" + option.split("=", 1)[0], option.split("=", 1)[1])]
    log = Path(tempfile.mkstemp(prefix=f"rnnviz-classroom-{name}-", suffix=".log")[1])
    with wsclient.serve(script, log, *options) as server:  # from the repository root, for its config
        out = figures(*asyncio.run(lesson_plan(name, server, make, args)), log)
    log.unlink(missing_ok=True)
    return {"script": script.name, "versions": machine()["versions"], **out}


# -----------------------------------------------------------------------------
# Printing


def ratio_lines(r: dict) -> list[str]:
    """The classroom's target lines: rnnviz's p95 vs the naive script's, a change's p95 vs one user alone, errors."""
    if "rnnviz" not in r or "naive" not in r:
        return [f"classroom ratios = n/a ({r.get('error', 'rnnviz and naive were not both run')})"]
    app, base, lines = r["rnnviz"]["class"], r["naive"]["class"], []
    for kind in ("page", "change"):  # the 1.5x is a page's (what it measured); a change has its own below
        if app[kind]["n"] and base[kind]["n"]:
            ratio = app[kind]["p95"] / base[kind]["p95"]
            target = "target <= 1.5" if kind == "page" else "<= 1.5 if the target is read for a change too"
            target = f" ({target}) {verdict(ratio <= 1.5)}"
            lines.append(
                f"classroom ({r['users']} users) p95 of a {kind}, rnnviz/naive = {app[kind]['p95']:.3f} s /"
                f" {base[kind]['p95']:.3f} s = {ratio:.2f}{target}"
            )
    if app["change"]["n"]:
        solo = r["rnnviz"]["solo"]["change"]["median"]
        ratio = app["change"]["p95"] / solo
        lines.append(
            f"classroom p95 of a change / one user's median = {app['change']['p95']:.3f} s / {solo:.3f} s ="
            f" {ratio:.1f} (target <= 3) {verdict(ratio <= 3)}"
        )
    bad = app["errors"] + app["wrong"]
    lines.append(f"classroom errors and wrong numbers: {bad} (target 0) {verdict(bad == 0)}")
    return lines


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def spread(p: dict) -> str:
    """p50, p95 and max of a percentiles dict, or 'none'."""
    if not p["n"]:
        return "none"
    return f"p50 {p['p50']:.3f} s, p95 {p['p95']:.3f} s, max {p['max']:.3f} s (n = {p['n']})"


def mb(kib: int) -> str:
    return f"{kib * 1024 / 1e6:.0f} MB"


def report(r: dict) -> list[str]:
    """Every figure of the section, one line each."""
    lines = [
        f"{r['users']} students arriving within {r['arrive_s']:g} s, each opening {r['links']} preset link(s) in"
        f" new sessions with {r['changes']} changes in each, {r['think_s'][0]:g}-{r['think_s'][1]:g} s apart;"
        f" server options: {', '.join(r['options']) or 'those of .streamlit/config.toml'}"
    ]
    for name in ("rnnviz", "naive"):
        x = r.get(name)
        if not x:
            continue
        c, solo, versions, big = x["class"], x["solo"], x["versions"], x.get("largest")
        cpu = ", ".join(f"{k.replace('_', ' ')} {v * 1000:.0f} ms" for k, v in x["session_cpu_s"].items())
        lines += [
            f"  {name} ({x['script']}): teacher's first page {x['teacher_page_s']:.1f} s",
            f"    server CPU per new session: {cpu}",
            f"    one student alone: page median {solo['page']['median']:.3f} s (n = {solo['page']['n']}),"
            f" change median {solo['change']['median']:.3f} s (n = {solo['change']['n']})",
            f"    class, page:   {spread(c['page'])}",
            f"    class, change: {spread(c['change'])}",
            f"    {c['pages']} pages, {c['runs']} script runs in {c['seconds']:.0f} s; server CPU {c['cpu_s']:.1f} s"
            f" ({c['cpu_s'] / c['seconds']:.2f} cores)",
            f"    errors {c['errors']} {c['error_samples'] or ''}",
            f"    wrong numbers {c['wrong']} {c['wrong_samples'] or ''}",
            f"    server memory (Python {versions['python']}, torch {versions['torch']}): RSS after the first page"
            f" {mb(x['rss_first_page_kib'])}; peak after the class {mb(x['hwm_kib'])}",
        ]
        if big:
            lines.append(
                f"    then the largest config's link, and with 'output & h_n' open:"
                f" {', '.join(f'{t:.1f} s' for t in big['pages_s'])}; peak RSS {mb(big['hwm_kib'])},"
                f" problems {big['problems'] or 'none'}"
            )
            lines.append(f"    a neighbour's changes beside it (a small config): {spread(big['neighbour_changes'])}")
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=40)
    parser.add_argument("--links", type=int, default=1, help="links each student opens, each in a new session")
    parser.add_argument("--changes", type=int, default=10, help="control changes in each session")
    parser.add_argument("--think", type=float, nargs=2, default=[2.0, 4.0], metavar=("MIN_S", "MAX_S"))
    parser.add_argument("--arrive", type=float, default=10.0, help="students arrive within this many seconds")
    parser.add_argument("--apps", default="rnnviz,naive")
    parser.add_argument("--option", action="append", default=[], help="a server option for both, KEY=VALUE")
    args = parser.parse_args()
    result = {"users": args.users, "links": args.links, "changes": args.changes, "think_s": args.think}
    result["arrive_s"] = args.arrive
    result["options"] = args.option
    for name in args.apps.split(","):
        result[name] = measure(name, args)
    print("\n".join(report(result) + ratio_lines(result)))
    emit(result)


if __name__ == "__main__":
    main()
