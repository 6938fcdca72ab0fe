"""A browser stand-in for load tests: Streamlit sessions over Streamlit's own websocket protocol.

`serve` runs `streamlit run` on a free loopback port. A `Session` speaks what the front end speaks on
`/_stcore/stream` (subprotocol "streamlit"): it sends a `BackMsg.rerun_script` (the link's query string, the
widget states it changed, the hashes of the messages it has cached) and reads `ForwardMsg`s until the run
finishes; a run the script cuts short with st.rerun() counts as part of the same page. `student` is one
learner (links, each in a new session, and control changes, with think time), `classroom` many at once;
`page_numbers` reads the badges, the max abs diffs and the shapes a page sent, `core_numbers` the same from
the core, and `wrong_pages` compares them for every page of a class.

Public: the bench (classroom.py, sec_browser.py) and the tests (`from bench.wsclient import serve`) share it.
"""

import asyncio
import contextlib
import random
import re
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.NumberInput_pb2 import NumberInput
from websockets.asyncio.client import connect

ROOT = Path(__file__).resolve().parent.parent
FINISHED = ForwardMsg.ScriptFinishedStatus.Value("FINISHED_SUCCESSFULLY")
COMPILE_ERROR = ForwardMsg.ScriptFinishedStatus.Value("FINISHED_WITH_COMPILE_ERROR")
RUN_TIMEOUT_S = 180  # one page or one change, however loaded the server is
BADGE = re.compile(r":(\w+)-badge\[(?::material/\w+: )?([^\]]+)\]")  # as st.badge writes it
DIFF = re.compile(r"max abs diff ([-+0-9.e]+|nan|inf)")
SHAPE = re.compile(r"`(output|h_n|c_n)` \[([\d, ]+)\]")

# -----------------------------------------------------------------------------
# The server


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    """A running `streamlit run`: its base URL and process."""

    url: str
    proc: subprocess.Popen
    log: Path


@contextlib.contextmanager
def serve(script: Path, log: Path, *options: str, cwd: Path = ROOT, timeout_s: float = 90):
    """`streamlit run script` from cwd (whose .streamlit/config.toml applies); yield a Server.

    options: more `--section.option value` flags. The server is killed by its own process id at the end.
    """
    port = free_port()
    command = [
        sys.executable, "-m", "streamlit", "run", str(script),
        "--server.headless", "true", "--server.address", "127.0.0.1", "--server.port", str(port),
        "--browser.gatherUsageStats", "false", *options,
    ]  # fmt: skip
    with open(log, "wb") as out:
        proc = subprocess.Popen(command, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while not healthy(url):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"streamlit did not start (exit {proc.poll()}):\n{log.read_text()[-2000:]}")
            time.sleep(0.2)
        yield Server(url, proc, log)
    finally:
        stop(proc)


def stop(proc: subprocess.Popen):
    """End a server process: terminate, then kill if it has not gone within 10 s."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def healthy(url: str) -> bool:
    """Whether the server answers its health check."""
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


# -----------------------------------------------------------------------------
# One session


@dataclass
class Page:
    """What one finished page (or rerun) sent: its elements in order, how many script runs it took, how long."""

    elements: list = field(default_factory=list)  # Element protos of the last run
    runs: int = 0  # script runs started (2 when the script reran itself)
    seconds: float = 0.0  # request sent -> script_finished
    link: bool = False  # the first page of a session (a link opened), else a change's rerun

    def markdown(self) -> list[str]:
        return [e.markdown.body for e in self.elements if e.WhichOneof("type") == "markdown"]

    def exceptions(self) -> list[str]:
        return [e.exception.message for e in self.elements if e.WhichOneof("type") == "exception"]


class Session:
    """One browser tab: a websocket, the widget ids the server sent, the values this tab set, its message cache."""

    def __init__(self, ws):
        self.ws = ws
        self.query = ""
        self.widgets: dict[str, object] = {}  # key -> the widget's latest element proto (its id, its type)
        self.states: dict[str, object] = {}  # key -> the value this tab set
        self.cache: dict[str, ForwardMsg] = {}  # hash -> message, as the front end caches them

    @classmethod
    @contextlib.asynccontextmanager
    async def open(cls, base_url: str):
        """A connected session (nothing runs until the first request)."""
        ws_url = base_url.replace("http", "ws", 1) + "/_stcore/stream"
        # No keepalive pings from this side (a browser sends none): a busy server must not count as a dead one.
        async with connect(
            ws_url, subprotocols=["streamlit"], max_size=None, open_timeout=RUN_TIMEOUT_S, ping_interval=None
        ) as ws:
            yield cls(ws)

    async def load(self, query: str) -> Page:
        """Open a link: the first run with the link's query string and no widget states."""
        self.query = query
        page = await self.request()
        page.link = True
        return page

    async def change(self, key: str, value) -> Page:
        """Set the control with this key, as a person does in the sidebar; the rerun that follows."""
        self.states[key] = value
        return await self.request()

    async def request(self) -> Page:
        """Send a rerun with this tab's state; read until the run finishes (FINISHED_SUCCESSFULLY)."""
        msg = BackMsg()
        msg.rerun_script.query_string = self.query
        msg.rerun_script.cached_message_hashes.extend(self.cache)
        for key, value in self.states.items():
            self.widget_state(msg.rerun_script.widget_states.widgets.add(), key, value)
        page, start = Page(), time.perf_counter()
        await self.ws.send(msg.SerializeToString())
        while True:
            fwd = ForwardMsg()
            fwd.ParseFromString(await asyncio.wait_for(self.ws.recv(), RUN_TIMEOUT_S))
            fwd = self.resolve(fwd)
            kind = fwd.WhichOneof("type")
            if kind == "new_session":
                page.elements.clear()
                page.runs += 1
            elif kind == "page_info_changed":
                self.query = fwd.page_info_changed.query_string  # the address bar follows bound widgets
            elif kind == "delta" and fwd.delta.WhichOneof("type") == "new_element":
                self.element(page, fwd.delta.new_element)
            elif kind == "script_finished" and fwd.script_finished in (FINISHED, COMPILE_ERROR):
                page.seconds = time.perf_counter() - start
                if fwd.script_finished == COMPILE_ERROR:
                    raise RuntimeError("the script did not compile")
                return page

    def resolve(self, fwd: ForwardMsg) -> ForwardMsg:
        """A reference to a cached message -> the message; cache what the server marks cacheable."""
        if fwd.WhichOneof("type") == "ref_hash":
            return self.cache[fwd.ref_hash]
        if fwd.metadata.cacheable:
            self.cache[fwd.hash] = fwd
        return fwd

    def element(self, page: Page, element):
        """Keep the element; remember a keyed widget's id (`$$ID-<hash>-<key>`)."""
        page.elements.append(element)
        inner = getattr(element, element.WhichOneof("type"))
        widget_id = getattr(inner, "id", "")
        if isinstance(widget_id, str) and widget_id.startswith("$$ID-"):
            self.widgets[widget_id.split("-", 2)[2]] = inner

    def widget_state(self, state, key: str, value):
        """Fill a WidgetState as the front end does for that kind of widget."""
        proto = self.widgets[key]
        state.id = proto.id
        if isinstance(value, bool):
            state.bool_value = value
        elif isinstance(value, str):
            state.string_value = value
        elif isinstance(proto, NumberInput) and proto.data_type == NumberInput.INT:
            state.int_value = value
        else:
            state.double_value = value


# -----------------------------------------------------------------------------
# A learner, and what a page must show


@dataclass
class Lesson:
    """One session of a student: open a link, then make (key, value) control changes.

    configs: the rnnviz Config each page must show the numbers of (the link's, then after each change), or
    None where only errors count (the naive script); badges: whether the link opens the Relations tab (the
    badges and their max abs diffs are compared too), else only the shapes above the tabs are.
    """

    query: dict
    changes: list[tuple[str, object]]
    configs: list | None = None
    badges: bool = False


@dataclass
class Record:
    """One student's pages, in order, and what went wrong."""

    pages: list[Page] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


async def student(base_url: str, lessons: list[Lesson], think_s: tuple[float, float], delay_s: float, rng) -> Record:
    """Arrive after delay_s; each lesson in a fresh session, think time before every action after the first.

    Never raises: a timeout, a closed socket or a missing widget ends the student's work as an error.
    """
    record = Record()
    await asyncio.sleep(delay_s)
    try:
        for n, lesson in enumerate(lessons):
            async with Session.open(base_url) as session:
                if n:
                    await asyncio.sleep(rng.uniform(*think_s))
                record.pages.append(await session.load(urlencode(lesson.query)))
                for key, value in lesson.changes:
                    await asyncio.sleep(rng.uniform(*think_s))
                    record.pages.append(await session.change(key, value))
    except Exception as error:
        record.errors.append(f"{type(error).__name__}: {error}"[:300])
    for page in record.pages:
        record.errors.extend(f"exception on the page: {text[:200]}" for text in page.exceptions())
    return record


async def classroom(base_url: str, students: list[list[Lesson]], arrive_s: float, think_s: tuple[float, float]):
    """Every student at once, arriving uniformly within arrive_s (fixed by a seed); their Records, in order."""
    rng = random.Random(0)
    delays = [rng.uniform(0, arrive_s) for _ in students]
    return await asyncio.gather(
        *(
            student(base_url, lessons, think_s, d, random.Random(rng.random()))
            for lessons, d in zip(students, delays, strict=True)
        )
    )


def rnnviz_students(students: int, links: int, changes: int, seed: int = 0) -> list[list[Lesson]]:
    """Student i opens `links` preset links in turn (every other one also sets a seed, which the app shows as
    Custom, and opens the Relations tab), and in each session changes the seed and the layers in turn, to values
    of its own."""
    from rnnviz import PRESETS

    rng, names, out = random.Random(seed), list(PRESETS), []
    for i in range(students):
        lessons = []
        for j in range(links):
            name = names[(i + j) % len(names)]
            query, config = {"preset": name}, PRESETS[name]
            if (i + j) % 2:
                query.update(seed=str(1000 + i), tab="Relations")
                config = config.replace(seed=1000 + i)
            steps, configs = [], [config]
            for k in range(changes):
                key, value = ("seed", rng.randrange(10_000)) if k % 2 == 0 else ("layers", 1 + config.layers % 3)
                config = config.replace(**{key: value})
                steps.append((key, value))
                configs.append(config)
            lessons.append(Lesson(query, steps, configs, badges="tab" in query))
        out.append(lessons)
    return out


def naive_students(students: int, links: int, changes: int) -> list[list[Lesson]]:
    """The same load on bench/naive_app.py: the same links (it ignores them), its dummy toggle flipped."""
    from rnnviz import PRESETS

    names = list(PRESETS)
    flips = [("dummy", k % 2 == 0) for k in range(changes)]
    return [[Lesson({"preset": names[(i + j) % len(names)]}, flips) for j in range(links)] for i in range(students)]


def page_numbers(page: Page) -> dict:
    """The relations (id, colour, max abs diff or None), in page order, and the shapes the page shows."""
    relations, shapes = [], {}
    for body in page.markdown():
        badges = BADGE.findall(body)
        if len(badges) == 1:  # one relation's block
            diff = DIFF.search(body)
            relations.append((badges[0][1], badges[0][0], float(diff.group(1)) if diff else None))
        shapes.update({name: [int(x) for x in dims.split(",")] for name, dims in SHAPE.findall(body)})
    return {"relations": relations, "shapes": shapes}


def core_numbers(config) -> dict:
    """What page_numbers must read for config, computed by the core."""
    from rnnviz import analyse

    result, _, relations = analyse(config)
    shapes = {"output": list(result.output.shape), "h_n": list(result.h_n.shape)}
    if result.c_n is not None:
        shapes["c_n"] = list(result.c_n.shape)
    return {"relations": [(r.id, r.colour, r.max_abs_diff) for r in relations], "shapes": shapes}


def mismatches(shown: dict, expected: dict, badges: bool = True) -> list[str]:
    """How a page's numbers differ from the core's: the shapes, and with badges the relations (their ids and
    colours in order, and their max abs diffs, which the page shows to 3 significant digits)."""
    problems = []
    if shown["shapes"] != expected["shapes"]:
        problems.append(f"shapes {shown['shapes']} != {expected['shapes']}")
    if not badges:
        return problems
    ids = [(rid, colour) for rid, colour, _ in shown["relations"]]
    if ids != [(rid, colour) for rid, colour, _ in expected["relations"]]:
        problems.append(f"badges {ids} != {[(r, c) for r, c, _ in expected['relations']]}")
    wanted = {rid: diff for rid, _, diff in expected["relations"]}
    for rid, _, got in shown["relations"]:
        want = wanted.get(rid)
        if (got is None) != (want is None) or (got is not None and abs(got - want) > 5e-3 * abs(want) + 1e-12):
            problems.append(f"{rid}: max abs diff {got} != {want}")
    return problems


def wrong_pages(records: list[Record], students: list[list[Lesson]]) -> list[str]:
    """Every page whose numbers differ from the core's for what that student set."""
    problems, expected = [], {}
    for i, (record, lessons) in enumerate(zip(records, students, strict=True)):
        steps = [(c, lesson.badges) for lesson in lessons for c in lesson.configs or [None] * (1 + len(lesson.changes))]
        for n, (page, (config, badges)) in enumerate(zip(record.pages, steps, strict=False)):  # errors end pages early
            if config is not None:
                if config not in expected:
                    expected[config] = core_numbers(config)
                wrong = mismatches(page_numbers(page), expected[config], badges)
                problems.extend(f"student {i}, page {n}: {w}" for w in wrong)
    return problems
