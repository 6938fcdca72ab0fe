"""Real-server sections: cold start to the first complete page, memory under 5 sessions, interaction latency.

`python bench/sec_browser.py`: one `streamlit run` on a free loopback port and one headless Chromium
(Playwright), in this order on the same server:
  1. cold start: process start -> health endpoint -> first complete page (script idle, a badge visible);
  2. the landing view's rerun against the naive script's (bench/naive_app.py on a second server), interleaved:
     a new seed each time (nothing cached, as the naive script recomputes everything), then seeds 0 <-> 1
     (cached), against the naive script's toggle; from the change to the run's end, and to the page drawn;
     latency, default view (sidebar Layers +1 / -1), the Relations tab open (its badges mark the end);
  3. memory: 5 browser contexts open 20 distinct configs by URL, 5 at a time; the server's VmHWM;
  4. latency, largest config (Layers 6 <-> 5);
The server is killed by its own process id at the end, whatever happens.
"""

import os
import re
import signal
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import browser as ui  # bench/browser.py and bench/wsclient.py: shared with the tests
import wsclient
from common import APP, NAIVE_APP, emit, largest_query, summary

BADGE = "[data-testid='stMain'] span.stMarkdownBadge"
MEMORY_BUDGET_S = 110  # the memory phase stops opening configs after this (each round is 5 loads)
BUDGET_S = float(os.environ.get("BENCH_BUDGET_S", "420"))  # this section's share of the run, set by run.py
LARGEST_RESERVE_S = 100  # what the largest config's page and its latency need, at least, under load


def vm_kib(pid: int, field: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def url(base: str, params: dict) -> str:
    """A link to the view params name, its Relations tab open (the badges say a run is drawn)."""
    return f"{base}/?{urlencode({**params, 'tab': 'Relations'})}"


def wait_page(page, timeout_ms: int):
    """The first run is over: a badge is visible, then the script is idle."""
    page.wait_for_selector(BADGE, state="visible", timeout=timeout_ms)
    page.wait_for_selector(ui.IDLE, timeout=timeout_ms)


def set_layers(page, value: int) -> float:
    """Type value into the sidebar's Layers input, Enter; seconds until the rerun ended and its badges are drawn.

    The page comes from browser.new_page, which follows the script's runs on the websocket; its set_number
    presses Enter once more (with a warning) if no run started within 15 s, as a person would.
    """
    start = time.perf_counter()
    ui.set_number(page, "Layers", value)
    page.wait_for_selector(BADGE, state="visible")
    return time.perf_counter() - start


def latency(page, values: tuple[int, int], n: int) -> dict:
    """Alternate Layers between two values: one warm-up round trip (computes and caches both), then n changes."""
    warm = [set_layers(page, values[1]), set_layers(page, values[0])]
    samples = [set_layers(page, values[(i + 1) % 2]) for i in range(n)]
    return {"changes": f"Layers {values[0]} <-> {values[1]}", "warm_up": warm, **summary(samples)}


VIEWPORT = {"viewport": {"width": 1280, "height": 720}, "device_scale_factor": 1.5}  # a workshop's screen
RERUNS = 20  # per script and kind of change, after two warm-up changes
NAIVE_SWITCH = "dummy control (reruns the script)"


def timed(page, action) -> tuple[float, float]:
    """(seconds to the end of the run the action causes, seconds until that run is drawn)."""
    page.bring_to_front()  # a tab in the background draws late (Chromium throttles its animation frames)
    start = time.perf_counter()
    finished = ui.rerun_after(page, action, what="a change", retry=True)
    return finished, time.perf_counter() - start


def rerun_vs_naive(browser, base: str, naive_base: str) -> dict:
    """The landing view (the Picture) against the naive script, each in its own tab, changes interleaved."""
    app, naive = (ui.new_page(browser.new_context(**VIEWPORT)) for _ in range(2))  # their runs are followed
    for page, address in ((app, base + "/"), (naive, naive_base + "/")):
        page.goto(address, timeout=ui.LOAD_TIMEOUT_MS)
        ui.wait_until(page, lambda page=page: ui.tracker(page).finished >= 1, ui.LOAD_TIMEOUT_MS, "first run")
        ui.settle(page, ui.LOAD_TIMEOUT_MS)
    seed = ui.sidebar(app).get_by_label("Seed", exact=True)
    switch = naive.locator("[data-testid='stCheckbox']").filter(has=naive.get_by_role("switch", name=NAIVE_SWITCH))

    def set_seed(value: int):
        return lambda: (seed.fill(str(value)), seed.press("Enter"))

    out = {}
    for kind, seeds in (("new", [100 + i for i in range(RERUNS + 2)]), ("cached", [i % 2 for i in range(RERUNS + 2)])):
        pairs = [(timed(app, set_seed(value)), timed(naive, switch.locator("label").click)) for value in seeds]
        pairs = pairs[2:]  # the first two warm up (and, cached, compute seeds 0 and 1)
        out[kind] = {
            name: {"finished": summary([p[i][0] for p in pairs]), "drawn": summary([p[i][1] for p in pairs])}
            for i, name in enumerate(("rnnviz", "naive"))
        }
    app.context.close()
    naive.context.close()
    return out


def memory_configs(n: int = 20) -> list[dict]:
    """n distinct small-to-medium configs as URL parameters (cells, layers, sizes, directions, seeds)."""
    cells = ["RNN", "LSTM", "GRU"]
    out = []
    for i in range(n):
        out.append(
            {
                "preset": "Custom",
                "cell": cells[i % 3],
                "layers": str(1 + i % 4),
                "hidden": str([5, 16, 32, 64][i % 4]),
                "embedding": str([5, 16, 32][i % 3]),
                "bidirectional": "true" if i % 2 == 0 else "false",
                "seed": str(i + 1),
            }
        )
    return out


class Clock:
    """This section's deadline (BENCH_BUDGET_S from its start, less a margin to stop the server)."""

    def __init__(self, t0: float):
        self.end = t0 + BUDGET_S - 25

    def left(self) -> float:
        return self.end - time.perf_counter()

    def ms(self, cap_s: float) -> int:
        """A Playwright timeout: cap_s, or what is left if less (at least one second)."""
        return int(1000 * max(1.0, min(cap_s, self.left())))


def save(out: dict):
    """Write what is measured so far where run.py looks if this section runs out of time."""
    partial = os.environ.get("BENCH_PARTIAL")
    if partial:
        import json

        Path(partial).write_text(json.dumps(out))


def main() -> dict:
    from playwright.sync_api import sync_playwright

    # run.py stops an overrunning section with SIGTERM: turn it into SystemExit so that the finally blocks
    # below stop the server and the browser this section started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    out: dict = {}
    log = Path(tempfile.mkstemp(prefix="rnnviz-bench-server-", suffix=".log")[1])
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(ui.CHROMIUM), args=ui.CHROMIUM_ARGS)
        t0 = time.perf_counter()
        try:
            with wsclient.serve(APP, log) as server:  # from the repository root, for its config
                out["health_s"] = time.perf_counter() - t0
                try:
                    drive(out, browser, server, t0, log)
                finally:
                    out["server_hwm_final_kib"] = vm_kib(server.proc.pid, "VmHWM")
        except Exception as error:  # a phase that failed or ran out of time: keep what was measured
            out["error"] = f"{type(error).__name__}: {str(error).splitlines()[0][:200] if str(error) else ''}"
        finally:
            browser.close()
    text = log.read_text(errors="replace")
    out["server_log_errors"] = sorted(set(re.findall(r"^[\w.]*(?:Error|Exception)\b[^\n]{0,160}", text, re.M)))[:5]
    out["server_log_tracebacks"] = text.count("Traceback")
    log.unlink(missing_ok=True)
    return out


def drive(out: dict, browser, server, t0, log: Path):
    """The phases, in order; each adds to out and saves it, so a timeout keeps the phases before it."""
    clock, base, pid = Clock(t0), server.url, server.proc.pid
    out["rss_idle_kib"] = vm_kib(pid, "VmRSS")
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = ui.new_page(ctx)  # its script runs are followed (the latency phases)
    t_goto = time.perf_counter()
    page.goto(url(base, {}), timeout=clock.ms(120))
    wait_page(page, clock.ms(120))
    out["first_page_s"] = time.perf_counter() - t0
    out["first_page_after_health_s"] = time.perf_counter() - t_goto
    # A second page in a new context: the server is warm (torch imported, front end served once).
    ctx2 = browser.new_context()
    page2 = ctx2.new_page()
    t = time.perf_counter()
    page2.goto(url(base, {}), timeout=clock.ms(120))
    wait_page(page2, clock.ms(120))
    out["second_page_s"] = time.perf_counter() - t
    ctx2.close()
    save(out)
    naive_log = log.with_suffix(".naive.log")
    with wsclient.serve(NAIVE_APP, naive_log) as naive:
        out["rerun_vs_naive"] = rerun_vs_naive(browser, base, naive.url)
    naive_log.unlink(missing_ok=True)
    save(out)
    out["latency_default"] = latency(page, (1, 2), n=10)
    save(out)
    ctx.close()

    # Memory: 5 sessions, 20 distinct configs, 5 page loads in flight at a time.
    configs = memory_configs(20)
    contexts = [browser.new_context() for _ in range(5)]
    pages = [c.new_page() for c in contexts]
    t = time.perf_counter()
    loads = []
    for round_start in range(0, len(configs), len(pages)):
        late = time.perf_counter() - t > MEMORY_BUDGET_S or clock.left() < LARGEST_RESERVE_S
        if round_start and late:
            break  # bounded: report what was opened
        starts = {}
        for page_i, config in zip(pages, configs[round_start : round_start + len(pages)], strict=False):
            starts[id(page_i)] = time.perf_counter()
            page_i.goto(url(base, config), wait_until="commit", timeout=clock.ms(120))
        for page_i in pages:
            wait_page(page_i, clock.ms(180))
            loads.append(time.perf_counter() - starts[id(page_i)])
        out["memory"] = {
            "configs": len(loads),
            "sessions": len(pages),
            "seconds": time.perf_counter() - t,
            "page_load": summary(loads),
            "hwm_kib": vm_kib(pid, "VmHWM"),
            "rss_kib": vm_kib(pid, "VmRSS"),
        }
        save(out)
    for c in contexts:
        c.close()

    if clock.left() < LARGEST_RESERVE_S:
        out["latency_largest_skipped"] = f"less than {LARGEST_RESERVE_S} s of this section's budget left"
    else:
        ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = ui.new_page(ctx)
        t = time.perf_counter()
        page.goto(url(base, largest_query()), timeout=clock.ms(300))
        wait_page(page, clock.ms(300))
        out["largest_first_page_s"] = time.perf_counter() - t
        out["largest_page_exceptions"] = page.locator("[data-testid='stException']").count()
        save(out)
        out["latency_largest"] = latency(page, (6, 5), n=5)
        save(out)
        ctx.close()


if __name__ == "__main__":
    emit(main())
