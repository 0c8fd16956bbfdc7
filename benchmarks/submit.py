"""Benchmark: experts submitting a full round of the demo study, against a bare INSERT.

Serves ``wsgi:app`` with gunicorn on PostgreSQL and drives it from another process (an
asyncio client, aiohttp) on loopback with many concurrent simulated experts.  Each
expert opens their personal link (``GET /e/<token>`` → session cookie), loads the page
(``GET /e/`` → CSRF token) and then submits every item of round 1 of the demo study with
some rationales (``POST /e/`` → 302).  Only the POST is measured: the two GETs of every
expert are done first, concurrently and untimed, so that the measured phase is a stream
of submissions just like the floor's stream of inserts.

In the same run, the floor: a bare Flask + Flask-SQLAlchemy app
(``benchmarks/bare_insert_app.py``) whose ``POST /insert`` inserts one row into the same
database and answers 204, served with the same gunicorn settings and driven by the same
client at the same concurrency.

Afterwards every acknowledged request is checked against the database: each expert
acknowledged with a 302 must have a submitted response for every item they answered, and
each acknowledged insert must have its row.  A lost acknowledgement makes the exit code 1;
timing targets are only reported (the machine is shared and noisy).

While each endpoint is measured, the client also reads the CPU time of the serving
gunicorn workers, of the benchmark database's PostgreSQL backends and of itself, and
prints it per request: where the machine's cores went.

Run: ``.venv/bin/python benchmarks/submit.py [--experts 3000 --concurrency 32
--duration 60]``; both servers use ``gunicorn.conf.py``, the settings elicit ships
(``--worker-class``, ``--workers``, ``--threads`` and ``--reuse-port`` override them).
Needs PostgreSQL (``--admin-url``) and, for the rate limiter shared by the workers, Redis
(``--redis-url``).  The benchmark database (``--database``, default ``elicit_bench``)
is dropped and recreated at the start and dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import random
import re
import runpy
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
# The benchmarks folder holds a script called analysis.py: keep it off the import path so
# that ``analysis`` is the package; the project root is on it instead.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != _HERE]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
CSRF_PATTERN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
SESSION_COOKIE = "session"
FORM_HEADERS = {"Content-Type": "application/x-www-form-urlencoded"}

# Targets of issue 4, at 32 concurrent connections.
TARGET_RATIO = 0.4
TARGET_P99_MS = 250.0

# Both servers run with the settings elicit ships, ``gunicorn.conf.py`` (sync workers,
# 2 × cores + 1, one shared socket), so that the figures are those of a real deployment;
# --worker-class, --workers, --threads and --reuse-port override them for experiments.
# On this 2-core machine, 32 connections, 1500–3000 experts, quiet machine (2026-11-27):
#
#   gthread 4 × 4, reuse-port      279 subs/s  p50 102 ms  p99 275 ms  ratio 0.45
#   gthread 8 × 2, reuse-port      284 subs/s  p50  99 ms  p99 282 ms  ratio 0.46
#   gthread 2 × 8, reuse-port      272 subs/s  p50 106 ms  p99 401 ms  ratio 0.39
#   gthread 4 × 4, shared socket   353 subs/s  p50  82 ms  p99 206 ms  ratio 0.45
#   sync 5 (the shipped setting)   314 subs/s  p50 101 ms  p99 155 ms  ratio 0.46
#   sync 8                         336 subs/s  p50  93 ms  p99 128 ms  ratio 0.46
#
# A gthread worker keeps each keep-alive connection it accepted, however busy it is:
# with reuse-port the kernel spreads connections unevenly (9/9/9/5 was seen), with one
# shared socket whichever worker wakes first takes them (all 32 on one worker was seen
# in an earlier session: p99 1.3 s), so latency depends on the connection's luck.  A sync
# worker accepts only when idle: one first-come, first-served queue for all workers.
# (The sync worker closes each connection after its answer; the client keeps 32
# requests in flight all the same, opening a connection for each.)
GUNICORN_CONF = ROOT / "gunicorn.conf.py"


# --------------------------------------------------------------------------------------
# The load client (runs in its own process)
# --------------------------------------------------------------------------------------


@dataclass
class LoadResult:
    """What the client saw in one measured phase."""

    latencies_ms: list[float] = field(default_factory=list)
    #: Indexes (into the job list) of requests acknowledged with the expected status.
    acknowledged: list[int] = field(default_factory=list)
    #: ``(index, description)`` of every failed request.
    errors: list[tuple[int, str]] = field(default_factory=list)
    not_attempted: int = 0
    elapsed_s: float = 0.0
    prepare_errors: list[tuple[int, str]] = field(default_factory=list)
    prepare_s: float = 0.0
    #: CPU seconds spent during the measured phase, by whom: "server" (the gunicorn
    #: workers), "postgresql" (the benchmark database's backends), "client".
    cpu_s: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class LoadSpec:
    """What the client is to do against both servers."""

    elicit_url: str
    bare_url: str
    #: ``(token, form)`` per expert.
    experts: list[tuple[str, dict[str, str]]]
    #: ``(n, form)`` per bare insert.
    inserts: list[tuple[int, dict[str, str]]]
    concurrency: int
    duration_s: float
    timeout_s: float
    warmup: int
    slices: int
    #: The gunicorn workers of each server, and the benchmark database (libpq URL and
    #: name), whose CPU time the client reads around each measured turn.
    elicit_pids: tuple[int, ...] = ()
    bare_pids: tuple[int, ...] = ()
    database_url: str = ""
    database: str = ""


def run_load(spec: LoadSpec) -> tuple[LoadResult, LoadResult]:
    """Entry point of the client process: ``(elicit, bare)`` results."""
    return asyncio.run(_drive(spec))


def _slices(indexes: list[int], count: int) -> list[list[int]]:
    """``indexes`` cut into ``count`` consecutive, nearly equal parts."""
    size, extra = divmod(len(indexes), count)
    parts, start = [], 0
    for number in range(count):
        end = start + size + (1 if number < extra else 0)
        parts.append(indexes[start:end])
        start = end
    return parts


async def _drive(spec: LoadSpec) -> tuple[LoadResult, LoadResult]:
    import aiohttp

    elicit, bare = LoadResult(), LoadResult()
    timeout = aiohttp.ClientTimeout(total=spec.timeout_s)

    def client() -> Any:
        return aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=spec.concurrency),
            timeout=timeout,
            cookie_jar=aiohttp.DummyCookieJar(),
        )

    async with client() as elicit_http, client() as bare_http:
        started = time.perf_counter()
        prepared = await _prepare_experts(elicit_http, spec, elicit)
        elicit.prepare_s = time.perf_counter() - started
        submit = _submitter(elicit_http, spec, prepared)
        insert = _inserter(bare_http, spec.bare_url, _encoded(spec.inserts))
        experts = [index for index in range(len(spec.experts)) if index in prepared]
        inserts = list(range(len(spec.inserts)))
        # Warm-up requests (first DB connections, code paths) are verified, not timed.
        await _run_pool(inserts[: spec.warmup], insert, spec, bare, spec.duration_s, None)
        await _run_pool(experts[: spec.warmup], submit, spec, elicit, spec.duration_s, None)
        # The machine is shared and its load changes by the second: the two endpoints
        # take turns, slice by slice, so that both see the same conditions on average.
        cap = spec.duration_s / (2 * spec.slices)
        for bare_slice, elicit_slice in zip(
            _slices(inserts[spec.warmup :], spec.slices),
            _slices(experts[spec.warmup :], spec.slices),
            strict=True,
        ):
            await _run_pool(bare_slice, insert, spec, bare, cap, spec.bare_pids)
            await _run_pool(elicit_slice, submit, spec, elicit, cap, spec.elicit_pids)
    return elicit, bare


def _encoded(jobs: list[tuple[int, dict[str, str]]]) -> list[bytes]:
    """Each job's form, URL-encoded once before the timed phase (for either endpoint,
    so that the client spends its CPU on sending requests, not on building them)."""
    return [urllib.parse.urlencode(form).encode() for _, form in jobs]


def _process_cpu_s(pid: int) -> float:
    """CPU time (user + system) of a process so far, 0 if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _database_backends(spec: LoadSpec) -> list[int]:
    """Process ids of the PostgreSQL backends serving the benchmark database."""
    if not spec.database_url or not sys.platform.startswith("linux"):
        return []
    import psycopg

    with psycopg.connect(spec.database_url, autocommit=True) as connection:
        rows = connection.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (spec.database,),
        ).fetchall()
    return [int(pid) for (pid,) in rows]


def _cpu_snapshot(spec: LoadSpec, server_pids: tuple[int, ...]) -> dict[str, dict[int, float]]:
    """CPU seconds so far of the server's workers and the database's backends, by pid."""
    return {
        "server": {pid: _process_cpu_s(pid) for pid in server_pids},
        "postgresql": {pid: _process_cpu_s(pid) for pid in _database_backends(spec)},
    }


async def _run_pool(
    indexes: list[int],
    send: Any,
    spec: LoadSpec,
    result: LoadResult,
    cap_s: float,
    record_pids: tuple[int, ...] | None,
) -> None:
    """Send ``indexes`` through ``spec.concurrency`` connections, for ``cap_s`` at most.

    With ``record_pids`` (the serving gunicorn workers; None for an untimed run) the
    latencies, the elapsed time and the CPU time of server, database and client count.
    """
    record = record_pids is not None
    queue = list(reversed(indexes))
    before = _cpu_snapshot(spec, record_pids) if record_pids is not None else {}
    client_before = time.process_time()
    started = time.perf_counter()
    deadline = started + cap_s

    async def worker() -> None:
        while queue:
            if time.perf_counter() > deadline:
                return
            index = queue.pop()
            sent = time.perf_counter()
            try:
                problem = await send(index)
            except TimeoutError:
                problem = "timeout"
            except Exception as error:  # every failure counts, whatever its kind
                problem = f"{type(error).__name__}: {error}"
            latency = (time.perf_counter() - sent) * 1000
            if problem is None:
                result.acknowledged.append(index)
                if record:
                    result.latencies_ms.append(latency)
            else:
                result.errors.append((index, problem))

    await asyncio.gather(*(worker() for _ in range(spec.concurrency)))
    result.not_attempted += len(queue)
    if record_pids is not None:
        result.elapsed_s += time.perf_counter() - started
        result.cpu_s["client"] = result.cpu_s.get("client", 0.0) + (
            time.process_time() - client_before
        )
        after = _cpu_snapshot(spec, record_pids)
        for who, pids in after.items():
            # A backend that connected during the turn counts from zero.
            spent = sum(cpu - before[who].get(pid, 0.0) for pid, cpu in pids.items())
            result.cpu_s[who] = result.cpu_s.get(who, 0.0) + spent


def _cookie(response: Any, current: str | None) -> str | None:
    """The session cookie the response set, else the one we had."""
    morsel = response.cookies.get(SESSION_COOKIE)
    return morsel.value if morsel is not None else current


async def _prepare_experts(http: Any, spec: LoadSpec, result: LoadResult) -> dict[int, Any]:
    """Open every expert's link and page (untimed); return ``{index: (headers, body)}``
    for the measured POST, its form (CSRF token included) already encoded."""
    prepared: dict[int, Any] = {}
    semaphore = asyncio.Semaphore(spec.concurrency)

    async def prepare(index: int, token: str) -> None:
        async with semaphore:
            try:
                async with http.get(
                    f"{spec.elicit_url}/e/{token}", allow_redirects=False
                ) as response:
                    await response.read()
                    if response.status != 302:
                        raise RuntimeError(f"GET /e/<token> answered {response.status}")
                    cookie = _cookie(response, None)
                async with http.get(
                    f"{spec.elicit_url}/e/", headers={"Cookie": f"{SESSION_COOKIE}={cookie}"}
                ) as response:
                    page = await response.text()
                    if response.status != 200:
                        raise RuntimeError(f"GET /e/ answered {response.status}")
                    cookie = _cookie(response, cookie)
                match = CSRF_PATTERN.search(page)
                if match is None:
                    raise RuntimeError("no CSRF token on the page")
                form = {"csrf_token": match.group(1), **spec.experts[index][1]}
                headers = {"Cookie": f"{SESSION_COOKIE}={cookie}", **FORM_HEADERS}
                prepared[index] = (headers, urllib.parse.urlencode(form).encode())
            except Exception as error:
                result.prepare_errors.append((index, f"{type(error).__name__}: {error}"))

    await asyncio.gather(*(prepare(i, token) for i, (token, _) in enumerate(spec.experts)))
    return prepared


def _submitter(http: Any, spec: LoadSpec, prepared: dict[int, Any]) -> Any:
    """``send(index)``: the measured POST of one expert's full round."""

    async def send(index: int) -> str | None:
        headers, body = prepared[index]
        async with http.post(
            f"{spec.elicit_url}/e/", data=body, headers=headers, allow_redirects=False
        ) as response:
            await response.read()
            return None if response.status == 302 else f"HTTP {response.status}"

    return send


def _inserter(http: Any, base_url: str, bodies: list[bytes]) -> Any:
    """``send(index)``: one bare insert."""

    async def send(index: int) -> str | None:
        async with http.post(
            f"{base_url}/insert", data=bodies[index], headers=FORM_HEADERS
        ) as response:
            await response.read()
            return None if response.status == 204 else f"HTTP {response.status}"

    return send


# --------------------------------------------------------------------------------------
# Database, gunicorn and verification (the parent process)
# --------------------------------------------------------------------------------------


def _admin_execute(admin_url: str, *statements: str) -> None:
    """Run statements outside a transaction (CREATE/DROP DATABASE)."""
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as connection:
        for statement in statements:
            connection.execute(statement)  # type: ignore[arg-type]


def create_database(admin_url: str, name: str) -> None:
    """Drop and recreate the benchmark database."""
    _admin_execute(
        admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"'
    )


def drop_database(admin_url: str, name: str) -> None:
    """Drop the benchmark database."""
    _admin_execute(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Setup:
    """The demo study, ready to answer: one job per expert, and what each must store."""

    jobs: list[tuple[str, dict[str, str]]]
    #: token → number of items the expert's form answers.
    expected: dict[str, int]
    round_id: int


def prepare_study(database_url: str, secret_key: str, experts: int, seed: int) -> Setup:
    """Migrate, load the demo study with ``experts`` panelists and open round 1."""
    env = {**os.environ, "ELICIT_DATABASE_URL": database_url, "ELICIT_SECRET_KEY": secret_key}
    subprocess.run(
        [str(VENV_BIN / "elicit"), "db", "upgrade"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    from elicit import create_app
    from elicit.extensions import current_link_keys, db
    from surveys.answers import parse_answers
    from surveys.definition import parse_definition
    from surveys.demo import demo_source, ensure_demo
    from surveys.rounds import open_round_of
    from surveys.simulation import simulated_answers
    from surveys.studies import find_study

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": secret_key})
    definition = parse_definition(demo_source())
    rng = random.Random(seed)
    with app.app_context():
        demo = ensure_demo(db.session, panelists=experts, keys=current_link_keys())
        study = find_study(db.session, demo.slug)
        assert study is not None
        round_ = open_round_of(db.session, study)
        assert round_ is not None
        round_id = round_.id
        db.session.remove()
        db.engine.dispose()
    jobs = [(link.token, simulated_answers(rng, definition)) for link in demo.links]
    items = list(definition.items)
    expected = {token: len(parse_answers(items, form).answers) for token, form in jobs}
    return Setup(jobs, expected, round_id)


def stored_submissions(database_url: str, round_id: int) -> dict[str, int]:
    """token hash → number of submitted responses in the round."""
    from sqlalchemy import create_engine, func, select

    from surveys.models import Panelist, Response, ResponseStatus

    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                select(Panelist.token_hash, func.count(Response.id))
                .join(Response, Response.panelist_id == Panelist.id)
                .where(Response.round_id == round_id, Response.status == ResponseStatus.SUBMITTED)
                .group_by(Panelist.token_hash)
            ).all()
    finally:
        engine.dispose()
    return {str(token_hash): int(count) for token_hash, count in rows}


def stored_inserts(database_url: str) -> set[int]:
    """The ``n`` of every row the bare endpoint inserted."""
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return set(connection.execute(text("SELECT n FROM bench_insert")).scalars())
    finally:
        engine.dispose()


class Server:
    """A gunicorn master started by this script, stopped by its own process id."""

    def __init__(self, target: str, port: int, args: argparse.Namespace, env: dict[str, str]):
        self.log_path = Path(tempfile.mkstemp(prefix="elicit-bench-gunicorn-", suffix=".log")[1])
        self.url = f"http://127.0.0.1:{port}"
        overrides = {
            "--worker-class": args.worker_class,
            "--workers": args.workers,
            "--threads": args.threads,
        }
        self.workers = args.workers or shipped_setting("workers")
        command = [
            str(VENV_BIN / "gunicorn"),
            "--config",
            str(GUNICORN_CONF),
            "--bind",
            f"127.0.0.1:{port}",
            "--chdir",
            str(ROOT),
            "--backlog",
            "2048",
            "--error-logfile",
            str(self.log_path),
            *[part for flag, value in overrides.items() if value for part in (flag, str(value))],
            *(["--reuse-port"] if args.reuse_port else []),
            target,
        ]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True
            )

    def wait_ready(self, path: str, timeout_s: float = 60.0) -> None:
        """Wait until every worker has booted and the server answers ``path``."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited early; see {self.log_path}:\n{self.log()}")
            try:
                with urllib.request.urlopen(self.url + path, timeout=2):
                    pass
            except urllib.error.HTTPError:
                pass  # it answered
            except OSError:
                time.sleep(0.2)
                continue
            if self.log().count("Booting worker") >= self.workers:
                return
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not answer within {timeout_s} s:\n{self.log()}")

    def worker_pids(self) -> tuple[int, ...]:
        """The process ids of the master's workers (Linux ``/proc``; empty elsewhere)."""
        pids = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.process.pid:
                pids.append(int(stat.parent.name))
        return tuple(sorted(pids))

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        """SIGTERM the master (it stops its workers); SIGKILL its group if it hangs."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log_path.unlink(missing_ok=True)


def shipped_setting(name: str) -> Any:
    """A setting of ``gunicorn.conf.py`` as gunicorn computes it on this machine."""
    return runpy.run_path(str(GUNICORN_CONF))[name]


def describe_servers(args: argparse.Namespace) -> str:
    """The gunicorn settings both servers run with, for the first line of the output."""
    worker_class = args.worker_class or shipped_setting("worker_class")
    workers = args.workers or shipped_setting("workers")
    threads = f" × {args.threads} threads" if args.threads else ""
    reuse = ", reuse-port" if args.reuse_port else ", one shared socket"
    source = (
        "gunicorn.conf.py"
        if not (args.worker_class or args.workers or args.threads)
        else ("gunicorn.conf.py with overrides")
    )
    return f"gunicorn {worker_class} {workers} workers{threads}{reuse} ({source})"


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------


@dataclass
class Figures:
    """The figures printed for one endpoint."""

    name: str
    rate: float
    p50_ms: float
    p99_ms: float
    measured: int
    errors: int
    lost: int
    not_attempted: int
    elapsed_s: float


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), -(-len(ordered) * q // 100)))
    return ordered[int(rank) - 1]


def figures(name: str, result: LoadResult, lost: int) -> Figures:
    measured = len(result.latencies_ms)
    return Figures(
        name=name,
        rate=measured / result.elapsed_s if result.elapsed_s else 0.0,
        p50_ms=percentile(result.latencies_ms, 50),
        p99_ms=percentile(result.latencies_ms, 99),
        measured=measured,
        errors=len(result.errors) + len(result.prepare_errors),
        lost=lost,
        not_attempted=result.not_attempted,
        elapsed_s=result.elapsed_s,
    )


def print_figures(row: Figures, unit: str) -> None:
    print(
        f"{row.name:<22} {row.rate:8.1f} {unit}/s  p50 {row.p50_ms:7.1f} ms  "
        f"p99 {row.p99_ms:7.1f} ms  measured {row.measured:5d} in {row.elapsed_s:5.1f} s  "
        f"errors {row.errors}  lost {row.lost}  not attempted {row.not_attempted}"
    )


def print_cpu(name: str, result: LoadResult) -> None:
    """CPU milliseconds per measured request, by whom: where the machine's cores went."""
    measured = len(result.latencies_ms)
    if not measured or not result.cpu_s:
        return
    parts = {who: 1000 * seconds / measured for who, seconds in result.cpu_s.items()}
    total = sum(parts.values())
    busy = 100 * sum(result.cpu_s.values()) / result.elapsed_s / (os.cpu_count() or 1)
    print(
        f"  {name} CPU per request: "
        + ", ".join(f"{who} {ms:.2f} ms" for who, ms in parts.items())
        + f"; total {total:.2f} ms (these use {busy:.0f} % of the {os.cpu_count()} CPUs)"
    )


def print_errors(name: str, result: LoadResult, limit: int = 5) -> None:
    for index, problem in (result.prepare_errors + result.errors)[:limit]:
        print(f"  {name} error (request {index}): {problem}")


# --------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experts", type=int, default=3000, help="simulated experts (count cap)")
    parser.add_argument("--inserts", type=int, default=None, help="bare inserts (default 10×)")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument(
        "--duration", type=float, default=60.0, help="cap on the measured phases, seconds"
    )
    parser.add_argument("--timeout", type=float, default=10.0, help="per request, seconds")
    parser.add_argument("--slices", type=int, default=4, help="turns taken by each endpoint")
    parser.add_argument("--warmup", type=int, default=32, help="untimed requests per endpoint")
    parser.add_argument("--workers", type=int, default=None, help="default: gunicorn.conf.py")
    parser.add_argument("--threads", type=int, default=None, help="default: gunicorn.conf.py")
    parser.add_argument(
        "--worker-class", choices=["gthread", "sync"], help="default: gunicorn.conf.py"
    )
    parser.add_argument("--reuse-port", action="store_true", help="a socket per worker")
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--database", default="elicit_bench")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/1")
    parser.add_argument("--seed", type=int, default=20261127)
    parser.add_argument("--keep-database", action="store_true", help="do not drop it at the end")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    inserts = args.inserts if args.inserts is not None else 10 * args.experts
    host = args.admin_url.rsplit("/", 1)[0].split("://", 1)[1]
    database_url = f"postgresql+psycopg://{host}/{args.database}"
    secret_key = os.urandom(32).hex()
    instance = tempfile.mkdtemp(prefix="elicit-bench-instance-")
    env = {
        **os.environ,
        "ELICIT_DATABASE_URL": database_url,
        "ELICIT_SECRET_KEY": secret_key,
        "ELICIT_BASE_URL": "",
        "ELICIT_RATELIMIT_STORAGE_URL": args.redis_url,
        "ELICIT_INSTANCE_PATH": instance,
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    print(
        f"{describe_servers(args)}; "
        f"{args.concurrency} connections; {args.experts} experts, {inserts} inserts, "
        f"measured phases capped at {args.duration:.0f} s in {args.slices} turns each; "
        f"{os.cpu_count()} CPUs",
        flush=True,
    )
    create_database(args.admin_url.replace("postgresql+psycopg://", "postgresql://"), args.database)
    context = multiprocessing.get_context("spawn")
    try:
        started = time.perf_counter()
        setup = prepare_study(database_url, secret_key, args.experts, args.seed)
        from benchmarks.bare_insert_app import create_table

        create_table(database_url)
        print(f"setup: {time.perf_counter() - started:.1f} s", flush=True)

        bare_jobs = [(n, {"n": str(n), "payload": f"row {n}"}) for n in range(inserts)]
        servers = []
        try:
            # Both servers run side by side (the idle one costs nothing); the client
            # alternates between them.
            servers.append(Server("benchmarks.bare_insert_app:app", free_port(), args, env))
            servers.append(Server("wsgi:app", free_port(), args, env))
            servers[0].wait_ready("/ping")
            servers[1].wait_ready("/static/")
            spec = LoadSpec(
                elicit_url=servers[1].url,
                bare_url=servers[0].url,
                experts=setup.jobs,
                inserts=bare_jobs,
                concurrency=args.concurrency,
                duration_s=args.duration,
                timeout_s=args.timeout,
                warmup=args.warmup,
                slices=args.slices,
                elicit_pids=servers[1].worker_pids(),
                bare_pids=servers[0].worker_pids(),
                database_url=database_url.replace("postgresql+psycopg://", "postgresql://"),
                database=args.database,
            )
            with ProcessPoolExecutor(max_workers=1, mp_context=context) as client:
                elicit, bare = client.submit(run_load, spec).result()
        finally:
            for server in servers:
                server.stop()

        # Every acknowledgement must be in the database.
        from surveys.panel import hash_token

        stored = stored_submissions(database_url, setup.round_id)
        acknowledged_tokens = [setup.jobs[index][0] for index in elicit.acknowledged]
        lost_experts = [
            token
            for token in acknowledged_tokens
            if stored.get(hash_token(token), 0) != setup.expected[token]
        ]
        inserted = stored_inserts(database_url)
        lost_inserts = [index for index in bare.acknowledged if bare_jobs[index][0] not in inserted]
    finally:
        if not args.keep_database:
            drop_database(args.admin_url, args.database)
        shutil.rmtree(instance, ignore_errors=True)

    submitted = figures("elicit POST /e/", elicit, len(lost_experts))
    floor = figures("bare POST /insert", bare, len(lost_inserts))
    ratio = submitted.rate / floor.rate if floor.rate else float("nan")
    print(
        f"prepared {args.experts - len(elicit.prepare_errors)} expert sessions "
        f"(GET link + GET page, untimed) in {elicit.prepare_s:.1f} s"
    )
    print_figures(submitted, "submissions")
    print_cpu("elicit", elicit)
    print_errors("elicit", elicit)
    print_figures(floor, "inserts")
    print_cpu("bare", bare)
    print_errors("bare", bare)
    print(f"ratio (submissions/s ÷ inserts/s): {ratio:.2f}")
    print(
        f"acknowledged submissions {len(elicit.acknowledged)}, found in the database "
        f"{len(elicit.acknowledged) - len(lost_experts)}"
    )
    checks = [
        (f"ratio ≥ {TARGET_RATIO}", ratio >= TARGET_RATIO),
        (f"p99 ≤ {TARGET_P99_MS:.0f} ms", submitted.p99_ms <= TARGET_P99_MS),
        ("zero errors", submitted.errors == 0 and floor.errors == 0),
        ("zero lost", not lost_experts and not lost_inserts),
    ]
    for name, passed in checks:
        print(f"{'PASS' if passed else 'FAIL'}  {name}")
    return 1 if lost_experts or lost_inserts else 0


if __name__ == "__main__":
    sys.exit(main())
