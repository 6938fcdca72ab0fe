"""Memory after everything: the dashboard server's RSS while one browser tab visits every view.

`python bench/memory.py [--python PY] [--json FILE] [--smaps]` starts `streamlit run streamlit_app.py` on a free
loopback port (with interpreter PY: another venv's torch build) and drives one headless Chromium tab (Playwright,
from this interpreter) through links: every tab of every preset, a trained task, the largest gradients map the app
allows (rnnviz.gradients' cap), then the largest config in float32 and in float64. After each step it prints the
server's VmRSS, VmHWM and RssAnon from /proc (each link opens a new Streamlit session in the same tab; the one
before it closes). --smaps adds where the final RSS lies: the server's mappings by file, anonymous memory apart.
"""

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

from browser import CHROMIUM, CHROMIUM_ARGS
from common import ROOT, largest_query, machine
from sec_gradients import largest_allowed
from wsclient import stop

from dashboard.views import VIEWS  # common put the repository on the path

PRESETS = ("single-uni", "multi-uni", "single-bi", "multi-bi")
PAGE_TIMEOUT_MS = 180_000  # a first page imports torch; a task trains; the largest config runs for seconds
NO_SKELETON = """() => !document.querySelector("[data-testid='stSkeleton']")"""
EXCEPTION = "[data-testid='stException']"
LEFT_OUT = "cannot be used here"  # the warning of a link value the app dropped


def gradients_query() -> dict:
    """The largest gradients map the app allows: the limits' largest batch and stack, H = E as large as the cap lets."""
    cfg = largest_allowed(64, 16, 6, "lstm", True)
    return {**largest_query(), "hidden": str(cfg.hidden), "embedding": str(cfg.embedding), "tab": "Gradients"}


def task_query() -> dict:
    """The brackets task with the batch and sizes the sidebar gives it (a link's default batch is not the task's)."""
    from rnnviz.brackets import BRACKET_SEQUENCES
    from rnnviz.training import TASK_DEFAULTS

    sizes = {key: str(TASK_DEFAULTS[key]) for key in ("hidden", "embedding")}
    return {"task": "brackets", "sequences": "\n".join(BRACKET_SEQUENCES), **sizes, "tab": "Trained units"}


def steps() -> list[tuple[str, dict]]:
    """(name, URL parameters) of every step, in order."""
    out = [(f"{preset} / {tab}", {"preset": preset, "tab": tab}) for preset in PRESETS for tab in VIEWS]
    out.append(("task brackets / Trained units", task_query()))
    grads = gradients_query()
    out.append((f"gradients at the cap (16 x 64, 6-layer bi-LSTM, H = E = {grads['hidden']})", grads))
    largest = {**largest_query(), "tab": "output & h_n"}
    out.append(("largest config (H = E = 256) / output & h_n", largest))
    out.append(("the same in float64 (the largest cache entry)", {**largest, "dtype": "float64"}))
    return out


def vm_mb(pid: int) -> dict:
    """VmRSS, VmHWM and RssAnon (malloc'd memory: tensors, Python objects) of a process, in MB (10^6 bytes)."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM", "RssAnon"):
            fields[key] = int(value.split()[0]) * 1024 / 1e6
    return fields


def smaps_mb(pid: int, top: int = 12) -> list[tuple[str, float]]:
    """The process's resident memory by mapping: each file's mappings together, anonymous memory as '[anon]'."""
    sizes, name = {}, "[anon]"
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
            parts = line.split(maxsplit=5)
            name = parts[5] if len(parts) > 5 and not parts[5].startswith("[anon") else "[anon]"
        elif line.startswith("Rss:"):
            sizes[name] = sizes.get(name, 0) + int(line.split()[1]) * 1024 / 1e6
    return sorted(sizes.items(), key=lambda kv: -kv[1])[:top]


def line(name: str, mb: dict, extra: str = "") -> str:
    """One printed row: the step, then the server's RSS, peak RSS and anonymous RSS."""
    return f"{name:58} {mb['VmRSS']:6.0f} MB RSS {mb['VmHWM']:6.0f} MB HWM {mb['RssAnon']:6.0f} MB anon{extra}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(python: str, log) -> tuple[subprocess.Popen, str]:
    """`streamlit run streamlit_app.py` on loopback; the process and its base URL once it answers."""
    port = free_port()
    command = [
        python, "-m", "streamlit", "run", "streamlit_app.py", "--server.headless", "true",
        "--server.address", "127.0.0.1", "--server.port", str(port), "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    proc = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    url, deadline = f"http://127.0.0.1:{port}", time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return proc, url
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"streamlit did not start (exit {proc.poll()})")
        time.sleep(0.3)


class Runs:
    """Counts the script runs that finished, from the page's websocket frames (Streamlit's ForwardMsg)."""

    def __init__(self, page):
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        self.msg, self.done = ForwardMsg, 0
        self.ok = ForwardMsg.ScriptFinishedStatus.Value("FINISHED_SUCCESSFULLY")
        page.on("websocket", lambda ws: ws.on("framereceived", self.frame))

    def frame(self, payload):
        if not isinstance(payload, bytes | bytearray) or len(payload) > 4096:
            return
        msg = self.msg()
        try:
            msg.ParseFromString(bytes(payload))
        except Exception:
            return
        if msg.WhichOneof("type") == "script_finished" and msg.script_finished == self.ok:
            self.done += 1


def visit(page, runs: Runs, url: str) -> float:
    """Open url in the tab; seconds until its run finished and the page is drawn."""
    start, before = time.perf_counter(), runs.done
    page.goto(url)
    deadline = time.monotonic() + PAGE_TIMEOUT_MS / 1000
    while runs.done == before:
        if time.monotonic() > deadline:
            raise TimeoutError(f"no finished run within {PAGE_TIMEOUT_MS / 1000:.0f} s: {url}")
        page.wait_for_timeout(50)
    page.wait_for_function(NO_SKELETON, timeout=PAGE_TIMEOUT_MS)
    return time.perf_counter() - start


def main():
    """Start the server, visit every step, print the server's memory after each."""
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default=sys.executable, help="the server's interpreter (default: this one)")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    parser.add_argument("--smaps", action="store_true", help="where the final RSS lies, by mapping")
    args = parser.parse_args()
    version = subprocess.run(
        [args.python, "-c", "import sys, torch; print(sys.version.split()[0], torch.__version__)"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    print(f"server: Python / torch {version}; driver: {machine()['versions']}; load {os.getloadavg()[0]:.1f}")
    out = {"server": version, "steps": []}
    log_path = Path(tempfile.mkstemp(prefix="rnnviz-memory-", suffix=".log")[1])
    with open(log_path, "wb") as log:
        proc, base = start_server(args.python, log)
    print(f"server log: {log_path}")
    try:
        out["idle"] = vm_mb(proc.pid)
        print(line("server started, no session", out["idle"]))
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 720})
            runs = Runs(page)
            for name, params in steps():
                seconds = visit(page, runs, f"{base}/?{urlencode(params)}")
                errors, dropped = page.locator(EXCEPTION).count(), page.get_by_text(LEFT_OUT).count()
                row = {"step": name, "seconds": seconds, "exceptions": errors, "dropped": dropped, **vm_mb(proc.pid)}
                out["steps"].append(row)
                flag = f"  {errors} exception(s) on the page" if errors else ""
                flag += "  the link had values left out" if dropped else ""
                print(line(name, row, f" {seconds:5.1f} s{flag}"))
            browser.close()
        time.sleep(2)
        out["end"] = vm_mb(proc.pid)
        print(line("end (browser closed)", out["end"]))
        if args.smaps:
            out["smaps"] = smaps_mb(proc.pid)
            print("final RSS by mapping:")
            for name, mb in out["smaps"]:
                print(f"  {mb:7.1f} MB  {name}")
    finally:
        stop(proc)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
