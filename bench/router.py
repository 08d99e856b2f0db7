"""The router (issue 11's figures), side by side in one run: a small Python app through the router
against straight to its PORT, static files through the router against a plain nginx, failed
requests across deploy / redeploy / restart under load, and `sunup up -d` with and without the
router.

    python bench/router.py            # full run (~4 min)
    python bench/router.py --quick    # shorter loads, fewer repeats (~2 min)

The project is written into a temporary folder: one app (gunicorn, 2 sync workers, a tiny WSGI
app answering GET and POST), a route, and a static location (`/static`, `root: public`). wrk
(Debian's) loads it with a Lua script that prints exact percentiles; each figure is the median of
the repeats, the two sides alternating within a repeat. See bench/README.md. Benchmarks measure;
they are not tests: the table says which target is met, the exit status is 1 when one is missed.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import itertools
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sidebyside import procfs
from sidebyside.drivers.sunup import sunup_argv
from sidebyside.procfs import MARKER_VARIABLE

HOST = "localhost"
LOOPBACK = "127.0.0.1"
#: wrk runs on this CPU (taskset); the servers may use any.
WRK_CPU = "1"
#: Per request timeout of wrk and of the client pool (a request held this long is a failure).
REQUEST_TIMEOUT = 30.0

STATS_LUA = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH requests=%d duration_us=%d p50_us=%d p99_us=%d max_us=%d "
    .. "connect=%d read=%d write=%d status=%d timeout=%d\\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.status, e.timeout))
end
"""

APP_PY = """
VERSION = "{version}"


def app(environ, start_response):
    if environ["REQUEST_METHOD"] == "POST":
        environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    body = ("hello " + VERSION + "\\n").encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
"""

CONFIG_YAML = """
applications:
  app:
    type: "python:3.11"
    hooks:
      build: |
        pip install gunicorn==23.0.0
    variables:
      env:
        {marker_variable}: "{marker}"
    web:
      commands:
        start: "gunicorn --bind 127.0.0.1:$PORT --workers 2 --graceful-timeout 10 app:app"
      locations:
        "/":
          passthru: true
        "/static":
          root: "public"
          passthru: false
          allow: true
          expires: 1h
        "/assets":
          root: "public"
          passthru: false
          allow: true
routes:
  "http://{{default}}/":
    type: upstream
    upstream: "app:http"
"""

#: Static files: name → size in bytes.
STATIC_FILES = {"small.css": 4 * 1024, "large.js": 128 * 1024}
#: The locations serving them: /static with `expires` (the route's cache keeps them), /assets
#: without (Upsun's default: no cache headers, every request crosses both layers).
STATIC_LOCATIONS = {"static": "expires 1h: route cache", "assets": "no expires: not cached"}

PLAIN_NGINX = """
# A minimal hand-written nginx (defaults otherwise).
{user}worker_processes {workers};
pid {folder}/nginx.pid;
error_log {folder}/error.log;
events {{ }}
http {{
    access_log {folder}/access.log;
    sendfile on;
    server {{
        listen 127.0.0.1:{port};
        {location}
    }}
}}
"""
#: What the plain nginx serves: the static folder, or (a reference for part 1) the app.
PLAIN_STATIC = "location /static/ {{ alias {target}/; }}"
PLAIN_PROXY = "location / {{ proxy_pass http://{target}; }}"


def say(message: str) -> None:
    print(f"router bench: {time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


# -- the table ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Row:
    label: str
    unit: str
    router: str
    baseline: str
    compared: str
    target: str
    met: bool | None

    def cells(self) -> list[str]:
        verdict = "-" if self.met is None else ("yes" if self.met else "NO")
        return [self.label, self.unit, self.router, self.baseline, self.compared, self.target, verdict]


def table(rows: Sequence[Row]) -> str:
    header = ["metric", "unit", "router", "baseline", "router vs baseline", "target", "met"]
    cells = [header, *(r.cells() for r in rows)]
    widths = [max(len(c[i]) for c in cells) for i in range(len(header))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in cells]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def number(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


# -- wrk ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Load:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    #: CPU microseconds per request of each watched set of processes (see `wrk`'s `watch`).
    cpu_us: dict[str, float] = field(default_factory=dict)


def wrk(
    url: str, *, connections: int, seconds: float, workdir: Path, watch: dict[str, list[int]] | None = None
) -> Load:
    """One wrk run (1 thread, pinned to WRK_CPU) against `url`, Host: localhost; with `watch`,
    the CPU time each named set of processes spent per request during the run."""
    script = workdir / "stats.lua"
    if not script.exists():
        script.write_text(STATS_LUA)
    argv = [
        *(["taskset", "-c", WRK_CPU] if shutil.which("taskset") and (os.cpu_count() or 1) > 1 else []),
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{seconds:g}s",
        f"--timeout={REQUEST_TIMEOUT:g}s",
        "--latency",
        "-H",
        f"Host: {HOST}",
        "-s",
        str(script),
        url,
    ]
    watch = watch or {}
    before = {name: procfs.cpu_seconds(pids) for name, pids in watch.items()}
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60, check=False)
    spent = {name: procfs.cpu_seconds(pids) - before[name] for name, pids in watch.items()}
    found = re.search(r"^BENCH (.*)$", done.stdout, re.MULTILINE)
    if done.returncode != 0 or found is None:
        raise RuntimeError(f"wrk {url} failed: {done.stderr.strip() or done.stdout.strip()}")
    fields = {k: int(v) for k, v in (part.split("=") for part in found.group(1).split())}
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", done.stdout)
    errors = sum(fields[k] for k in ("connect", "read", "write", "status", "timeout"))
    errors += int(non_2xx.group(1)) if non_2xx else 0
    return Load(
        rps=fields["requests"] / (fields["duration_us"] / 1e6),
        p50_ms=fields["p50_us"] / 1000,
        p99_ms=fields["p99_us"] / 1000,
        errors=errors,
        cpu_us={name: cpu * 1e6 / max(fields["requests"], 1) for name, cpu in spent.items()},
    )


def side_by_side(
    urls: dict[str, str],
    *,
    connections: int,
    seconds: float,
    repeats: int,
    workdir: Path,
    watch: dict[str, dict[str, list[int]]] | None = None,
) -> dict[str, list[Load]]:
    """Every url `repeats` times, alternating which goes first, after a warm-up of each."""
    for url in urls.values():
        wrk(url, connections=connections, seconds=1, workdir=workdir)
    runs: dict[str, list[Load]] = {name: [] for name in urls}
    names = list(urls)
    for repeat in range(repeats):
        for name in names if repeat % 2 == 0 else reversed(names):
            watched = (watch or {}).get(name)
            runs[name].append(wrk(urls[name], connections=connections, seconds=seconds, workdir=workdir, watch=watched))
    return runs


def median(loads: Sequence[Load], what: Callable[[Load], float]) -> float:
    return statistics.median(what(load) for load in loads)


def paired(a: Sequence[Load], b: Sequence[Load], how: Callable[[Load, Load], float]) -> float:
    """The median over the repeats of `how(a[i], b[i])`: each pair ran back to back, so the
    machine's drift (other jobs on these shared 2-CPU machines) cancels out better than in a
    ratio of medians."""
    return statistics.median(how(x, y) for x, y in zip(a, b, strict=True))


# -- the project ------------------------------------------------------------------------------


class Project:
    """The bench's project in a temporary folder, run by sunup."""

    def __init__(self, root: Path, marker: str) -> None:
        self.root = root
        self.marker = marker
        self.state = root / ".sunup"
        self.version = 1

    def write(self) -> None:
        (self.root / ".upsun").mkdir(parents=True)
        (self.root / ".upsun" / "config.yaml").write_text(
            textwrap.dedent(CONFIG_YAML).format(marker_variable=MARKER_VARIABLE, marker=self.marker).lstrip()
        )
        self.write_app()
        public = self.root / "public"
        public.mkdir()
        for name, size in STATIC_FILES.items():
            line = b"/* sunup router bench: static file */\n"
            (public / name).write_bytes((line * (size // len(line) + 1))[:size])

    def write_app(self) -> None:
        (self.root / "app.py").write_text(textwrap.dedent(APP_PY).format(version=self.version).lstrip())

    def change_code(self) -> None:
        self.version += 1
        self.write_app()

    def sunup(self, *args: str, timeout: float = 300, env: dict[str, str] | None = None) -> float:
        """Run `sunup ARGS` in the project; seconds it took. RuntimeError with its output on failure."""
        began = time.monotonic()
        done = subprocess.run(
            [*sunup_argv(), *args],
            cwd=self.root,
            env={**os.environ, MARKER_VARIABLE: self.marker, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        took = time.monotonic() - began
        if done.returncode != 0:
            raise RuntimeError(
                f"sunup {' '.join(args)} failed ({done.returncode}): {(done.stderr + done.stdout)[-800:]}"
            )
        return took

    def router_port(self) -> int:
        return int(json.loads((self.state / "router.json").read_text())["http_port"])

    def web_port(self) -> int:
        done = subprocess.run(
            [*sunup_argv(), "ps", "--json"], cwd=self.root, capture_output=True, text=True, timeout=60, check=True
        )
        web = [i for i in json.loads(done.stdout) if i.get("group") == "web" and i.get("state") == "running"]
        if not web or not web[0].get("port"):
            raise RuntimeError(f"no running web instance with a port in `sunup ps --json`: {done.stdout[-500:]}")
        return int(web[0]["port"])

    def built_public(self) -> Path:
        """The static folder of the deployed build (what the router serves)."""
        found = sorted(self.state.glob("builds/app/*/app/public"), key=lambda p: p.stat().st_mtime)
        if not found:
            raise RuntimeError(f"no build with public/ under {self.state / 'builds'}")
        return found[-1]

    def web_processes(self) -> list[int]:
        """The running web instance's processes (gunicorn's master and workers)."""
        done = subprocess.run(
            [*sunup_argv(), "ps", "--json"], cwd=self.root, capture_output=True, text=True, timeout=60, check=True
        )
        web = [i for i in json.loads(done.stdout) if i.get("group") == "web" and i.get("pid")]
        return [pid for i in web for pid in (int(i["pid"]), *descendants(int(i["pid"])))]

    def router_nginx(self) -> int | None:
        with contextlib.suppress(OSError, ValueError):
            return int((self.state / "router" / "nginx.pid").read_text().split()[0])
        return None


@contextlib.contextmanager
def plain_nginx(location: str, target: object, folder: Path, workers: int) -> Iterator[tuple[int, int]]:
    """A plain nginx with the minimal configuration above and `location` (PLAIN_STATIC with a
    folder, PLAIN_PROXY with an address); its port and master's pid."""
    port = free_port()
    folder.mkdir(parents=True, exist_ok=True)
    conf = folder / "nginx.conf"
    # As root, the workers run as root as the router's do (the default, nobody, cannot read a
    # private temporary folder).
    user = "user root;\n" if os.geteuid() == 0 else ""
    conf.write_text(
        PLAIN_NGINX.format(
            user=user, workers=workers, folder=folder, port=port, location=location.format(target=target)
        )
    )
    process = subprocess.Popen(
        ["nginx", "-g", "daemon off;", "-c", str(conf), "-p", str(folder), "-e", str(folder / "error.log")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_listening(port, process)
        yield port, process.pid
    finally:
        process.send_signal(signal.SIGQUIT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (nginx's workers, gunicorn's workers)."""
    children: dict[int, list[int]] = {}
    for proc in filter(None, map(procfs.read_proc, procfs.pids())):
        children.setdefault(proc.ppid, []).append(proc.pid)
    found, todo = [], list(children.get(pid, []))
    while todo:
        found.append(child := todo.pop())
        todo.extend(children.get(child, []))
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


def wait_listening(port: int, process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"plain nginx exited: {process.stderr.read().decode() if process.stderr else ''}")
        with contextlib.suppress(OSError), socket.create_connection((LOOPBACK, port), timeout=1):
            return
        time.sleep(0.02)
    raise RuntimeError(f"plain nginx not listening on {port} after {timeout:g} s")


# -- the client pool (part 3) -------------------------------------------------------------------


@dataclass
class Tally:
    requests: int = 0
    failed: int = 0
    longest: float = 0.0
    #: The first failures: (seconds since the pool started, what).
    failures: list[tuple[float, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, took: float, failure: str | None, at: float) -> None:
        with self.lock:
            self.requests += 1
            self.longest = max(self.longest, took)
            if failure is not None:
                self.failed += 1
                if len(self.failures) < 10:
                    self.failures.append((at, failure))


class Pool:
    """`clients` threads, each on its own keep-alive connection, alternating GET and POST until
    stopped (or `limit` requests each); any non-2xx answer or connection error is a failure."""

    def __init__(self, port: int, clients: int, limit: int) -> None:
        self.port = port
        self.clients = clients
        self.limit = limit
        self.tally = Tally()
        self.bodies: set[str] = set()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._client, args=(n,), daemon=True) for n in range(clients)]
        self.started = time.monotonic()

    def __enter__(self) -> Pool:
        self.started = time.monotonic()
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=REQUEST_TIMEOUT + 5)

    def _client(self, number: int) -> None:
        connection: http.client.HTTPConnection | None = None
        for sent in range(self.limit):
            if self._stop.is_set():
                break
            if connection is None:
                connection = http.client.HTTPConnection(LOOPBACK, self.port, timeout=REQUEST_TIMEOUT)
            post = (sent + number) % 2 == 1
            began = time.monotonic()
            failure: str | None = None
            try:
                if post:
                    body = f"client={number}&n={sent}".encode()
                    connection.request("POST", "/", body=body, headers={"Host": HOST, "Content-Type": "text/plain"})
                else:
                    connection.request("GET", "/", headers={"Host": HOST})
                response = connection.getresponse()
                text = response.read().decode(errors="replace")
                if not 200 <= response.status < 300:
                    failure = f"{'POST' if post else 'GET'} {response.status}: {text.strip()[:120]}"
                else:
                    self.bodies.add(text.strip())
                if response.will_close:
                    connection.close()
                    connection = None
            except (OSError, http.client.HTTPException) as exc:
                failure = f"{'POST' if post else 'GET'} {type(exc).__name__}: {exc}"
                connection.close()
                connection = None
            now = time.monotonic()
            self.tally.record(now - began, failure, now - self.started)
        if connection is not None:
            connection.close()


def get_body(port: int) -> str:
    connection = http.client.HTTPConnection(LOOPBACK, port, timeout=REQUEST_TIMEOUT)
    try:
        connection.request("GET", "/", headers={"Host": HOST})
        response = connection.getresponse()
        return f"{response.status} {response.read().decode(errors='replace').strip()}"
    finally:
        connection.close()


# -- the parts ------------------------------------------------------------------------------


@dataclass
class Bench:
    project: Project
    workdir: Path
    quick: bool
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def pick(self, full: float, quick: float) -> float:
        return quick if self.quick else full

    def app_figures(self) -> None:
        """Part 1: the app through the router against straight to its PORT."""
        web = self.project.web_port()
        router = f"http://{LOOPBACK}:{self.project.router_port()}/"
        direct = f"http://{LOOPBACK}:{web}/"
        urls = {"router": router, "direct": direct}
        repeats = int(self.pick(5, 3))
        seconds = self.pick(5, 3)
        say(f"app throughput: wrk -c16, {repeats} x {seconds:g} s each way (and through a plain nginx proxy)")
        app = self.project.web_processes()
        router_nginx = self.project.router_nginx()
        router_workers = descendants(router_nginx) if router_nginx else []
        with plain_nginx(PLAIN_PROXY, f"{LOOPBACK}:{web}", self.workdir / "plain-proxy", workers=1) as (port, pid):
            urls3 = {**urls, "plain": f"http://{LOOPBACK}:{port}/"}
            watch = {
                "router": {"proxy": router_workers, "app": app},
                "direct": {"app": app},
                "plain": {"proxy": descendants(pid), "app": app},
            }
            load = side_by_side(
                urls3, connections=16, seconds=seconds, repeats=repeats, workdir=self.workdir, watch=watch
            )
        say(f"app latency: wrk -c1, {repeats} x {seconds:g} s each way")
        serial = side_by_side(urls, connections=1, seconds=seconds, repeats=repeats, workdir=self.workdir)
        rps = {k: median(v, lambda x: x.rps) for k, v in load.items()}
        ratio = paired(load["router"], load["direct"], lambda x, y: x.rps / y.rps)
        self.rows.append(
            Row(
                "app GET /, 16 connections: throughput",
                "req/s",
                number(rps["router"]),
                number(rps["direct"]) + " (PORT)",
                f"{ratio:.2f}x",
                ">= 0.90x",
                ratio >= 0.9,
            )
        )
        plain = paired(load["plain"], load["direct"], lambda x, y: x.rps / y.rps)
        self.rows.append(
            Row(
                "reference: a plain nginx proxy (1 hop, minimal config)",
                "req/s",
                number(median(load["plain"], lambda x: x.rps)),
                number(rps["direct"]) + " (PORT)",
                f"{plain:.2f}x",
                "",
                None,
            )
        )
        self.cpu_figures(load)
        for label, what, target in (("p50", lambda x: x.p50_ms, 0.3), ("p99", lambda x: x.p99_ms, 1.0)):
            through = median(serial["router"], what)
            straight = median(serial["direct"], what)
            added = paired(serial["router"], serial["direct"], lambda x, y, w=what: w(x) - w(y))
            self.rows.append(
                Row(
                    f"app GET /, 1 connection: latency {label}",
                    "ms",
                    f"{through:.3f}",
                    f"{straight:.3f} (PORT)",
                    f"{added:+.3f} ms",
                    f"<= +{target:g} ms",
                    added <= target,
                )
            )
        for label, runs in (("16 connections", load), ("1 connection", serial)):
            errors = sum(x.errors for v in runs.values() for x in v)
            if errors:
                self.notes.append(f"app, {label}: wrk counted {errors} errors")
        self.notes.append(
            "app runs (16 connections): "
            + "; ".join(
                f"{k} " + ", ".join(f"{x.rps:.0f}" for x in v) + " req/s"
                for k, v in (("router", load["router"]), ("PORT", load["direct"]), ("plain proxy", load["plain"]))
            )
        )

    def cpu_figures(self, load: dict[str, list[Load]]) -> None:
        """Where the CPU goes per request: the app is CPU-bound on these 2 cores, so every
        microsecond a proxy spends is taken from the app, and a proxy costing P beside an app
        costing A can reach at best about A / (A + P) of the app's own throughput."""
        cpu = {
            (side, part): median(load[side], lambda x, p=part: x.cpu_us.get(p, 0.0))
            for side, parts in (("router", ("proxy", "app")), ("direct", ("app",)), ("plain", ("proxy", "app")))
            for part in parts
        }
        app = cpu[("direct", "app")]
        for side, label in (("router", "the router's nginx"), ("plain", "a plain nginx proxy")):
            proxy = cpu[(side, "proxy")]
            self.rows.append(
                Row(
                    f"CPU per request: {label} / the app behind it",
                    "us",
                    f"{proxy:.0f} / {cpu[(side, 'app')]:.0f}",
                    f"{app:.0f} (app, PORT)",
                    f"ceiling {app / (app + proxy):.2f}x" if app + proxy > 0 else "-",
                    "",
                    None,
                )
            )

    def static_figures(self) -> None:
        """Part 2: static files through the router against a plain nginx on the same folder."""
        public = self.project.built_public()
        router_port = self.project.router_port()
        repeats = int(self.pick(5, 3))
        seconds = self.pick(5, 3)
        with plain_nginx(PLAIN_STATIC, public, self.workdir / "plain-nginx", workers=1) as (port, _):
            for (location, how), (name, size) in itertools.product(STATIC_LOCATIONS.items(), STATIC_FILES.items()):
                urls = {
                    "router": f"http://{LOOPBACK}:{router_port}/{location}/{name}",
                    "plain": f"http://{LOOPBACK}:{port}/static/{name}",
                }
                for url in (*urls.values(), urls["router"]):  # twice: the second may come from the cache
                    status = self.check_static(url, size)
                    if status:
                        raise RuntimeError(f"{url}: {status}")
                say(f"static /{location}/{name}: wrk -c16, {repeats} x {seconds:g} s each way")
                runs = side_by_side(urls, connections=16, seconds=seconds, repeats=repeats, workdir=self.workdir)
                rps = {k: median(v, lambda x: x.rps) for k, v in runs.items()}
                ratio = paired(runs["router"], runs["plain"], lambda x, y: x.rps / y.rps)
                self.rows.append(
                    Row(
                        f"static {name} ({size // 1024} KiB, {how}), 16 connections",
                        "req/s",
                        number(rps["router"]),
                        number(rps["plain"]) + " (plain nginx)",
                        f"{ratio:.2f}x",
                        ">= 0.90x",
                        ratio >= 0.9,
                    )
                )
                errors = sum(x.errors for v in runs.values() for x in v)
                if errors:
                    self.notes.append(f"static {name}: wrk counted {errors} errors")

    def check_static(self, url: str, size: int) -> str | None:
        match = re.match(r"http://([^:/]+):(\d+)(/.*)", url)
        assert match
        connection = http.client.HTTPConnection(match.group(1), int(match.group(2)), timeout=10)
        try:
            connection.request("GET", match.group(3), headers={"Host": HOST})
            response = connection.getresponse()
            body = response.read()
        finally:
            connection.close()
        if response.status != 200 or len(body) != size:
            return f"answered {response.status} with {len(body)} bytes, not 200 with {size}"
        if cache := response.getheader("X-Platform-Cache"):
            self.notes.append(f"{url}: X-Platform-Cache {cache} (the route's cache is on: Upsun's default)")
        return None

    def churn_figures(self, clients: int) -> None:
        """Part 3: failed requests across deploy (changed code), redeploy and restart --web."""
        port = self.project.router_port()
        settle = self.pick(2, 1)
        operations: list[tuple[str, Callable[[], None], tuple[str, ...]]] = [
            ("deploy of changed code", self.project.change_code, ("deploy",)),
            ("redeploy", lambda: None, ("redeploy",)),
            ("restart --web", lambda: None, ("restart", "--web")),
        ]
        rounds = int(self.pick(2, 1))
        for label, prepare, args in operations:
            tally_all: list[Tally] = []
            took: list[float] = []
            answering: list[str] = []
            for _ in range(rounds):
                prepare()
                expected = f"200 hello {self.project.version}"
                with Pool(port, clients, limit=100_000) as pool:
                    time.sleep(settle)  # load before the operation
                    took.append(self.project.sunup(*args))
                    after = get_body(port)
                    time.sleep(settle)  # and after it
                tally_all.append(pool.tally)
                answering.append(after if after != expected else "")
                for at, what in pool.tally.failures:
                    self.notes.append(f"{label}: failed at {at:.2f} s into the load: {what}")
            requests = sum(t.requests for t in tally_all)
            failed = sum(t.failed for t in tally_all)
            longest = max(t.longest for t in tally_all)
            new_code = not any(answering) if label.startswith("deploy") else None
            detail = f"{requests:,} requests, {clients} clients, {rounds} x, `sunup {' '.join(args)}` {max(took):.2f} s"
            self.rows.append(Row(f"{label}: failed requests", "count", str(failed), detail, "", "0", failed == 0))
            self.rows.append(Row(f"{label}: longest request", "s", f"{longest:.3f}", "", "", "", None))
            if new_code is not None:
                self.rows.append(
                    Row(
                        f"{label}: new code answers when it returns",
                        "",
                        "yes" if new_code else f"no ({', '.join(a for a in answering if a)})",
                        "",
                        "",
                        "yes",
                        new_code,
                    )
                )

    def up_figures(self) -> None:
        """Part 4: `sunup up -d` of the same project, with the router and with SUNUP_ROUTER=0."""
        repeats = int(self.pick(5, 3))
        times: dict[str, list[float]] = {"router": [], "off": []}
        self.project.sunup("down", timeout=120)
        for repeat in range(repeats):
            order = ["router", "off"] if repeat % 2 == 0 else ["off", "router"]
            for side in order:
                env = {"SUNUP_ROUTER": "0"} if side == "off" else {}
                times[side].append(self.project.sunup("up", "-d", env=env, timeout=300))
                self.project.sunup("down", timeout=120)
        on, off = statistics.median(times["router"]), statistics.median(times["off"])
        self.rows.append(
            Row(
                f"sunup up -d (median of {repeats})",
                "s",
                f"{on:.3f}",
                f"{off:.3f} (SUNUP_ROUTER=0)",
                f"{on - off:+.3f} s",
                "<= +0.3 s",
                on - off <= 0.3,
            )
        )
        self.notes.append(
            "up -d runs: router "
            + ", ".join(f"{t:.2f}" for t in times["router"])
            + " s; SUNUP_ROUTER=0 "
            + ", ".join(f"{t:.2f}" for t in times["off"])
            + " s"
        )


def cleanup(project: Project) -> None:
    """`sunup down`, then whatever is left: the router's nginx, the run's marked processes."""
    with contextlib.suppress(Exception):
        project.sunup("down", timeout=120)
    pid = project.router_nginx()
    if pid is not None and procfs.read_proc(pid) is not None:
        cmdline = procfs.read_proc(pid)
        if cmdline is not None and any(str(project.state) in part for part in cmdline.cmdline):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    procfs.kill_marked(project.marker)
    with contextlib.suppress(Exception):
        from sunup.isolation import open_isolation

        isolation = open_isolation(project.state)
        isolation.clear_stale()
        isolation.close()


def missing_tools() -> list[str]:
    return [tool for tool in ("wrk", "nginx") if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="shorter loads and fewer repeats")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients across deploys (>= 6)")
    parser.add_argument(
        "--part",
        action="append",
        choices=["app", "static", "churn", "up"],
        help="run only these parts (repeatable)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (to read logs)")
    args = parser.parse_args(argv)
    if missing := missing_tools():
        print(f"router bench: {', '.join(missing)} not found (bash scripts/setup.sh installs them)", file=sys.stderr)
        return 2
    if not shutil.which("nginx"):
        os.environ["PATH"] = os.environ.get("PATH", "") + ":/usr/sbin"
    parts = args.part or ["app", "static", "churn", "up"]
    workdir = Path(tempfile.mkdtemp(prefix="bench-router-"))
    project = Project(workdir / "project", uuid.uuid4().hex)
    bench = Bench(project, workdir, args.quick)
    errors: list[str] = []
    began = time.monotonic()
    load_before = os.getloadavg()
    try:
        project.write()
        say("building and starting the project (untimed)")
        # Web gets 2 CPUs: by default sunup holds an instance to 0.5 CPU as Upsun does, which
        # would make gunicorn the bottleneck and hide what the router costs.
        project.sunup("resources:set", "--size", "web:2")
        project.sunup("up", "-d", timeout=600)
        steps: dict[str, Callable[[], None]] = {
            "app": bench.app_figures,
            "static": bench.static_figures,
            "churn": lambda: bench.churn_figures(max(6, args.clients)),
            "up": bench.up_figures,
        }
        for part in parts:
            try:
                steps[part]()
            except Exception as exc:  # one part failing must not hide the others
                errors.append(f"{part}: {exc}")
                say(f"{part} failed: {exc}")
    finally:
        cleanup(project)
        left = procfs.Tracker(project.marker).scan()
        if left:
            errors.append(f"{len(left)} processes of the run left after cleanup")
        if args.keep:
            say(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print(
        f"\n{platform.node()}: Linux {platform.release()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"load average {load_before[0]:.2f} at the start{', quick' if args.quick else ''}, "
        f"{time.monotonic() - began:.0f} s"
    )
    print(
        f"wrk: 1 thread pinned to CPU {WRK_CPU} (taskset), keep-alive; servers unpinned; web: gunicorn, "
        "2 sync workers, sized to 2 CPUs; router and plain nginx: 1 worker process each\n"
    )
    print(table(bench.rows))
    for note in bench.notes:
        print(f"note: {note}")
    for error in errors:
        print(f"error: {error}")
    missed = [r.label for r in bench.rows if r.met is False]
    return 1 if errors or missed else 0


if __name__ == "__main__":
    sys.exit(main())
