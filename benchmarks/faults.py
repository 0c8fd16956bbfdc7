"""Fault injection: experts submitting while the database, the workers or Redis fail.

Runs elicit as it is deployed — gunicorn with the shipped ``gunicorn.conf.py`` — on a
private PostgreSQL cluster (``initdb`` into a temporary folder, its own port; the shared
cluster on 5432 is never touched) or on a SQLite file, with a private Redis as the
rate-limit store.  Every scenario builds a fresh study through the product's own
functions, starts its own gunicorn, and streams a fixed number of simulated experts
through it (aiohttp, bounded concurrency): each opens their personal link, loads the
page and submits a full, valid, seeded answer set.  Once a fixed fraction of the experts
have been acknowledged, one fault is injected while the others keep submitting:

``restart``       ``pg_ctl restart -m fast``
``crash``         ``pg_ctl stop -m immediate``, a pause, then ``pg_ctl start``
``kill-workers``  SIGKILL of every gunicorn worker (the arbiter respawns them)
``close``         the round is closed through the API (``--close-via cli``: the
                  ``elicit round close`` command)
``redis``         Redis ``SHUTDOWN NOSAVE``, a pause, then a new Redis on the same port

A browser user retries a page that answered 503 or could not be reached, so the client
does too: at most ``--attempts`` times, with exponential backoff (``Retry-After`` when
the server sends it).  Any other 5xx ends that expert's attempt.

Afterwards the database is read directly and every promise the server made is checked:

- an expert acknowledged as submitted (a redirect after the POST) has every item they
  sent stored as a submitted response, with the values sent; after ``close``, the
  round's summary counts them (``respondents`` equals the panelists with submitted
  responses and the number acknowledged, and every acknowledged value is in the
  summary's distributions);
- an expert told "round closed" (409) has a draft holding what they typed, and nothing
  submitted;
- no panelist has part of a submission stored (half-written);
- the service recovered without a restart: fresh experts, who took no part in the
  stream, submit at the first attempt (after ``close``, in the next round, opened
  through the API).

One table is printed; the exit status is 1 when any scenario lost an acknowledged
answer, left one half-written, stored an answer it had refused, stored a summary that
disagrees with the answers, could not inject its fault, or did not recover.

Run: ``.venv/bin/python benchmarks/faults.py [--experts 400 --concurrency 32]
[--scenario close --database sqlite] [--keep]``.  Needs ``/usr/lib/postgresql/*/bin``
and ``redis-server``; as root, PostgreSQL runs as the ``postgres`` user (``runuser``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import glob
import html
import json
import math
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# As in submit.py: the benchmarks folder holds a script called analysis.py, so it must
# not be on the import path (``analysis`` is the package); the project root is.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != _HERE]
if str(_HERE.parent) not in sys.path:
    sys.path.insert(0, str(_HERE.parent))

from benchmarks.submit import (  # noqa: E402 (after the path is set)
    CSRF_PATTERN,
    FORM_HEADERS,
    ROOT,
    SESSION_COOKIE,
    VENV_BIN,
    Server,
    free_port,
    shipped_setting,
)

DATABASES = ("postgresql", "sqlite")
#: Acknowledgements: a redirect after the POST (Flask's ``redirect`` sends 302).
REDIRECTS = (302, 303)
#: The page of a submission refused because the round closed (asked for in English).
ROUND_CLOSED_TEXT = "round is closed"
FACILITATOR_EMAIL = "faults@faults.invalid"
PANEL_EMAIL_DOMAIN = "faults.invalid"
GROUPS = ("us_official", "mx_official", "academic")
PERSONAL_LINK = re.compile(r"/e/[A-Za-z0-9_\-]{16,}")


# --------------------------------------------------------------------------------------
# Private PostgreSQL and Redis
# --------------------------------------------------------------------------------------


def _postgresql_bin() -> Path:
    """The newest installed PostgreSQL's ``bin`` folder (Debian layout)."""
    folders = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda path: int(Path(path).parent.name)
    )
    if not folders:
        raise RuntimeError("no /usr/lib/postgresql/*/bin: install PostgreSQL")
    return Path(folders[-1])


class PrivatePostgres:
    """A throw-away PostgreSQL cluster in ``folder``, on its own loopback port.

    initdb and pg_ctl refuse to run as root, so as root they run as the ``postgres``
    user, which owns the folder.  Every server process is in its own session, so that
    a Ctrl-C in the terminal reaches only this script, which then stops it.
    """

    def __init__(self, folder: Path) -> None:
        self.bin = _postgresql_bin()
        self.folder = folder
        self.data = folder / "data"
        self.log_path = folder / "postgresql.log"
        self.port = free_port()
        self.as_owner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self.options = (
            f"-p {self.port} -k {folder} -c listen_addresses=127.0.0.1 -c max_connections=200"
        )
        self.started = False

    def url(self, database: str) -> str:
        """SQLAlchemy URL of ``database`` on this cluster."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _pg_ctl(self, *arguments: str, check: bool = True) -> None:
        """Run pg_ctl on this cluster as its owner; raise with its output on failure.

        Its output goes to a file, not a pipe: a server that pg_ctl starts inherits
        pg_ctl's output, and a pipe held open by the server would never end.
        """
        command = [*self.as_owner, str(self.bin / "pg_ctl"), "-D", str(self.data), *arguments]
        output = self.folder.parent / "pg_ctl.log"
        with output.open("a+") as log:
            start = log.tell()
            completed = subprocess.run(
                command,
                cwd=self.folder,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                timeout=120,
                start_new_session=True,
            )
            log.seek(start)
            said = log.read().strip()
        if check and completed.returncode != 0:
            raise RuntimeError(f"pg_ctl {arguments[-1]} failed: {said[-500:]}")

    def create(self) -> None:
        """initdb (trust on loopback), start, and create the database ``elicit``."""
        self.folder.mkdir(mode=0o700)
        if self.as_owner:
            shutil.chown(self.folder, "postgres", "postgres")
        subprocess.run(
            [
                *self.as_owner,
                str(self.bin / "initdb"),
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--no-sync",
            ],
            cwd=self.folder,
            check=True,
            capture_output=True,
            start_new_session=True,
        )
        self.start()
        import psycopg

        with psycopg.connect(
            f"postgresql://postgres@127.0.0.1:{self.port}/postgres", autocommit=True
        ) as connection:
            connection.execute("CREATE DATABASE elicit")

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        self._pg_ctl("-l", str(self.log_path), "-o", self.options, "-w", "start")
        self.started = True

    def restart(self) -> None:
        """Fast restart: sessions are ended, open transactions rolled back."""
        self._pg_ctl("-l", str(self.log_path), "-m", "fast", "-w", "restart")

    def crash(self) -> None:
        """Immediate stop: the server processes quit without a checkpoint, as in a crash."""
        self._pg_ctl("-m", "immediate", "stop")

    def stop(self) -> None:
        """Stop the server if it runs (immediately: nothing in it is worth keeping)."""
        if self.started:
            self._pg_ctl("-m", "immediate", "stop", check=False)
            self.started = False


class PrivateRedis:
    """A throw-away Redis without persistence on its own loopback port."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The rate-limit storage URL of this Redis."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start redis-server (no snapshots, no append-only file) and wait for it."""
        self.folder.mkdir(exist_ok=True)
        with (self.folder / "redis.log").open("ab") as log:
            self.process = subprocess.Popen(
                [
                    "redis-server",
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(self.folder),
                ],
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        deadline = time.monotonic() + 20
        while self._command(b"PING") != b"+PONG\r\n":
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)

    def _command(self, command: bytes) -> bytes:
        """Send one inline command on a new connection; its reply, empty if none.

        A plain socket rather than redis-py, whose retries with backoff after a refused
        connection would add seconds to every step of the outage.
        """
        import socket

        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=5) as connection:
                connection.sendall(command + b"\r\n")
                return connection.recv(64)
        except OSError:
            return b""

    def shutdown(self) -> None:
        """``SHUTDOWN NOSAVE``, as an operator (or an out-of-memory killer) would."""
        self._command(b"SHUTDOWN NOSAVE")
        if self.process is not None:
            self.process.wait(timeout=20)

    def stop(self) -> None:
        """Terminate the server this object started, if it still runs."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


# --------------------------------------------------------------------------------------
# The study each scenario answers
# --------------------------------------------------------------------------------------


@dataclass
class Expert:
    """One simulated expert and what the server told them."""

    token: str
    form: dict[str, str]
    #: ``submitted`` (redirect after the POST), ``draft`` (409, round closed),
    #: ``found closed`` (the page said the round was closed: nothing to submit),
    #: ``failed`` (anything else: a 5xx, retries exhausted, an unexpected answer).
    outcome: str = "not started"
    detail: str = ""
    #: 503 answers received, and requests sent again (after a 503 or no answer).
    refused: int = 0
    retries: int = 0
    #: ``"METHOD path STATUS"`` of every 5xx other than 503.
    server_errors: list[str] = field(default_factory=list)
    #: Typed texts missing from a page that refused the submission (503 or 409).
    typed_missing: int = 0
    #: The longest wait for one answer, in seconds.
    slowest_s: float = 0.0


@dataclass
class Study:
    """A fresh study with its panel: the streamed experts and the recovery experts."""

    slug: str
    api_token: str
    experts: list[Expert]
    fresh: list[Expert]


def study_source(slug: str) -> str:
    """The shipped demo definition under another slug."""
    from surveys.demo import demo_source

    source = demo_source()
    replaced = re.sub(r'(?m)^slug = ".*"$', f'slug = "{slug}"', source, count=1)
    if replaced == source:
        raise RuntimeError("the demo definition has no slug line to replace")
    return replaced


def create_study(
    database_url: str, secret_key: str, slug: str, experts: int, fresh: int, seed: int
) -> Study:
    """Load a fresh study, add its panel and open round 1, all through the domain
    functions the console and the CLI call; a facilitator's write token closes it."""
    from elicit import create_app
    from elicit.extensions import current_link_keys, db
    from surveys.accounts import create_user, find_user
    from surveys.api_tokens import create_token
    from surveys.definition import parse_definition
    from surveys.models import Role
    from surveys.panel import NewPanelist, add_panelists
    from surveys.rounds import open_round
    from surveys.simulation import simulated_answers
    from surveys.studies import load_study

    source = study_source(slug)
    definition = parse_definition(source, name=f"{slug}.toml")
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": secret_key})
    with app.app_context():
        try:
            user = find_user(db.session, FACILITATOR_EMAIL) or create_user(
                db.session, FACILITATOR_EMAIL, os.urandom(16).hex(), Role.FACILITATOR
            )
            study = load_study(db.session, definition, source, actor=user)
            entries = [
                NewPanelist(
                    name=f"Fault expert {number}",
                    email=f"expert{number}@{PANEL_EMAIL_DOMAIN}",
                    group=GROUPS[number % len(GROUPS)],
                    language=definition.languages[number % len(definition.languages)],
                )
                for number in range(experts + fresh)
            ]
            links = add_panelists(db.session, study, entries, keys=current_link_keys())
            open_round(db.session, study)
            api_token = create_token(db.session, user, f"faults {slug}", "write").secret
        finally:
            db.session.remove()
            db.engine.dispose()
    rng = random.Random(seed)
    people = [Expert(link.token, simulated_answers(rng, definition)) for link in links]
    return Study(slug, api_token, people[:experts], people[experts:])


# --------------------------------------------------------------------------------------
# The client
# --------------------------------------------------------------------------------------


class GaveUp(Exception):
    """No usable answer after every allowed attempt."""


@dataclass(frozen=True)
class Client:
    """How experts talk to the server: where, how patiently, how often they retry."""

    base_url: str
    attempts: int
    timeout_s: float
    backoff_s: float = 0.2
    max_backoff_s: float = 3.0

    def pause(self, attempt: int, retry_after: str | None) -> float:
        """Seconds to wait before attempt ``attempt + 1``: the server's ``Retry-After``
        (capped) when it sent one, else exponential backoff (no jitter: reruns stay alike)."""
        if retry_after and retry_after.strip().isdigit():
            return min(float(retry_after), self.max_backoff_s)
        return min(self.backoff_s * 2**attempt, self.max_backoff_s)


def _redacted(text: str) -> str:
    """``text`` without any personal link (error messages may quote the URL)."""
    return PERSONAL_LINK.sub("/e/<token>", text)


async def _request(
    http: Any,
    client: Client,
    expert: Expert,
    method: str,
    path: str,
    *,
    cookie: str | None,
    body: bytes | None = None,
) -> tuple[int, str, str | None]:
    """Send one request as a browser user would, retrying after a 503 or no answer;
    return ``(status, page, session cookie)``.  Raises :class:`GaveUp`."""
    headers = {"Cookie": f"{SESSION_COOKIE}={cookie}"} if cookie else {}
    if body is not None:
        headers.update(FORM_HEADERS)
    shown_path = _redacted(path.split("?")[0])
    problem = ""
    for attempt in range(client.attempts):
        if attempt:
            expert.retries += 1
        retry_after = None
        sent = time.perf_counter()
        try:
            async with http.request(
                method,
                client.base_url + path,
                data=body,
                headers=headers,
                allow_redirects=False,
            ) as response:
                page = await response.text(errors="replace")
                expert.slowest_s = max(expert.slowest_s, time.perf_counter() - sent)
                morsel = response.cookies.get(SESSION_COOKIE)
                new_cookie = morsel.value if morsel is not None else cookie
                if response.status != 503:
                    if response.status >= 500:
                        expert.server_errors.append(f"{method} {shown_path} {response.status}")
                    return response.status, page, new_cookie
                expert.refused += 1
                if body is not None:
                    expert.typed_missing += _typed_missing(expert.form, page)
                retry_after = response.headers.get("Retry-After")
                problem = "503"
        except Exception as error:  # no answer at all: refused, reset, timed out
            problem = _redacted(f"{type(error).__name__}: {error}")[:120]
        if attempt + 1 < client.attempts:
            await asyncio.sleep(client.pause(attempt, retry_after))
    raise GaveUp(f"{method} {shown_path}: {problem} after {client.attempts} attempts")


def _typed_missing(form: dict[str, str], page: str) -> int:
    """How many of the texts an expert typed (not bare numbers) a page does not show."""
    texts = [value for value in form.values() if not re.fullmatch(r"[\d.\-]*", value)]
    return sum(1 for text in texts if html.escape(text) not in page and text not in page)


async def run_expert(http: Any, client: Client, expert: Expert) -> None:
    """Open the personal link, load the page, submit; record the outcome."""
    try:
        status, _, cookie = await _request(
            http, client, expert, "GET", f"/e/{expert.token}?lang=en", cookie=None
        )
        if status not in REDIRECTS:
            expert.outcome, expert.detail = "failed", f"personal link answered {status}"
            return
        status, page, cookie = await _request(http, client, expert, "GET", "/e/", cookie=cookie)
        if status != 200:
            expert.outcome, expert.detail = "failed", f"GET /e/ answered {status}"
            return
        match = CSRF_PATTERN.search(page)
        if match is None:
            if "is closed" in page:
                expert.outcome = "found closed"
            else:
                expert.outcome, expert.detail = "failed", "no form on the page"
            return
        body = urllib.parse.urlencode({"csrf_token": match.group(1), **expert.form}).encode()
        status, page, _ = await _request(
            http, client, expert, "POST", "/e/", cookie=cookie, body=body
        )
    except GaveUp as gave_up:
        expert.outcome, expert.detail = "failed", str(gave_up)
        return
    if status in REDIRECTS:
        expert.outcome = "submitted"
    elif status == 409 and ROUND_CLOSED_TEXT in page:
        expert.outcome = "draft"
        expert.typed_missing += _typed_missing(expert.form, page)
    else:
        expert.outcome, expert.detail = "failed", f"POST /e/ answered {status}"


def _session(client: Client, concurrency: int) -> Any:
    """An aiohttp session with ``concurrency`` connections and no cookie jar (each
    expert carries their own session cookie)."""
    import aiohttp

    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=concurrency),
        timeout=aiohttp.ClientTimeout(total=client.timeout_s),
        cookie_jar=aiohttp.DummyCookieJar(),
    )


@dataclass
class FaultRecord:
    """When the fault was injected, how long it took, and what it reported."""

    at_acknowledged: int = 0
    at_s: float = 0.0
    took_s: float = 0.0
    note: str = ""
    error: str = ""


async def stream(
    client: Client,
    experts: list[Expert],
    concurrency: int,
    trigger_at: int,
    inject: Callable[[], str],
) -> FaultRecord:
    """Run every expert through ``concurrency`` connections; once ``trigger_at`` of them
    are acknowledged, run ``inject`` (blocking, in a thread) while the others go on."""
    record = FaultRecord()
    trigger = asyncio.Event()
    started = time.perf_counter()
    acknowledged = 0

    async def fault() -> None:
        await trigger.wait()
        record.at_acknowledged = acknowledged
        record.at_s = time.perf_counter() - started
        try:
            record.note = await asyncio.to_thread(inject)
        except Exception as error:  # the fault itself failed: report it, do not hide it
            record.error = f"{type(error).__name__}: {error}"
        record.took_s = time.perf_counter() - started - record.at_s

    queue = list(reversed(experts))

    async def worker(http: Any) -> None:
        nonlocal acknowledged
        while queue:
            expert = queue.pop()
            await run_expert(http, client, expert)
            if expert.outcome == "submitted":
                acknowledged += 1
                if acknowledged >= trigger_at:
                    trigger.set()

    fault_task = asyncio.create_task(fault())
    async with _session(client, concurrency) as http:
        await asyncio.gather(*(worker(http) for _ in range(concurrency)))
    trigger.set()  # if too few were acknowledged, the fault still happens, at the end
    await fault_task
    return record


async def run_fresh(client: Client, experts: list[Expert]) -> None:
    """Fresh experts, all at once and each allowed a single attempt per request."""
    once = Client(client.base_url, attempts=1, timeout_s=client.timeout_s)
    async with _session(once, len(experts)) as http:
        await asyncio.gather(*(run_expert(http, once, expert) for expert in experts))


# --------------------------------------------------------------------------------------
# Scenarios
# --------------------------------------------------------------------------------------


@dataclass
class Context:
    """What a fault may act on."""

    server: Server
    redis: PrivateRedis
    postgres: PrivatePostgres | None
    study: Study
    env: dict[str, str]
    outage_s: float
    close_via: str


def _api(context: Context, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """Call the API with the study's write token; ``(status, JSON body)``."""
    request = urllib.request.Request(
        f"{context.server.url}/api/v1{path}",
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={
            "Authorization": f"Bearer {context.study.api_token}",
            "Content-Type": "application/json",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        text = error.read().decode(errors="replace")
        try:
            return error.code, json.loads(text)
        except ValueError:
            return error.code, text[:200]


def inject_restart(context: Context) -> str:
    """``pg_ctl restart -m fast``."""
    assert context.postgres is not None
    context.postgres.restart()
    return "restarted"


def inject_crash(context: Context) -> str:
    """``pg_ctl stop -m immediate``, ``--outage`` seconds down, ``pg_ctl start``."""
    assert context.postgres is not None
    context.postgres.crash()
    time.sleep(context.outage_s)
    context.postgres.start()
    return f"down {context.outage_s:g} s, recovered by crash recovery"


def inject_kill_workers(context: Context) -> str:
    """SIGKILL every gunicorn worker at once."""
    pids = context.server.worker_pids()
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return f"killed {len(pids)} workers"


def inject_close(context: Context) -> str:
    """Close round 1 through the API (or the CLI with ``--close-via cli``)."""
    slug = context.study.slug
    if context.close_via == "cli":
        completed = subprocess.run(
            [str(VENV_BIN / "elicit"), "round", "close", slug],
            cwd=ROOT,
            env=context.env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        last_line = (completed.stderr.strip() or "").splitlines()[-1:] or [""]
        if completed.returncode != 0:
            raise RuntimeError(f"elicit round close exited {completed.returncode}: {last_line[0]}")
        return "closed by the CLI: " + completed.stdout.strip().splitlines()[0]
    status, body = _api(context, "POST", f"/studies/{slug}/rounds/1/close")
    if status != 200:
        raise RuntimeError(f"close answered {status}: {str(body)[:200]}")
    return f"closed by the API: respondents {body['respondents']}"


def inject_redis(context: Context) -> str:
    """Redis ``SHUTDOWN NOSAVE``, ``--outage`` seconds down, then started again."""
    context.redis.shutdown()
    time.sleep(context.outage_s)
    context.redis.start()
    return f"down {context.outage_s:g} s"


@dataclass(frozen=True)
class Scenario:
    """A fault, and the databases it applies to."""

    name: str
    inject: Callable[[Context], str]
    databases: tuple[str, ...]
    #: Runs on these databases when no ``--scenario`` is given.
    default_databases: tuple[str, ...]


SCENARIOS = {
    scenario.name: scenario
    for scenario in (
        Scenario("restart", inject_restart, ("postgresql",), ("postgresql",)),
        Scenario("crash", inject_crash, ("postgresql",), ("postgresql",)),
        Scenario("kill-workers", inject_kill_workers, DATABASES, ("postgresql",)),
        Scenario("close", inject_close, DATABASES, DATABASES),
        Scenario("redis", inject_redis, DATABASES, ("postgresql",)),
    )
}


# --------------------------------------------------------------------------------------
# Checks against the database
# --------------------------------------------------------------------------------------


@dataclass
class Verdict:
    """What one scenario's checks found."""

    #: Acknowledged as submitted but not (wholly) stored.
    not_stored: int = 0
    #: Acknowledged and stored, but left out of the round's summary (a lower bound).
    not_counted: int = 0
    #: Told "kept as a draft" but the draft does not hold what they typed.
    draft_lost: int = 0
    half_written: int = 0
    refused_but_stored: int = 0
    #: After a close: the summary disagrees with itself or with the stored answers.
    summary_inconsistent: bool = False
    recovered: bool = False
    #: The fault could not be injected: the scenario proved nothing.
    fault_failed: bool = False
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def lost(self) -> int:
        """Acknowledged answers (submitted or kept as a draft) that are not where the
        acknowledgement said they would be."""
        return self.not_stored + self.not_counted + self.draft_lost

    @property
    def failed(self) -> bool:
        """Whether the scenario broke a promise (what makes the exit status 1)."""
        return bool(
            self.lost
            or self.half_written
            or self.refused_but_stored
            or self.summary_inconsistent
            or self.fault_failed
            or not self.recovered
        )


def _expected(definition: Any, form: dict[str, str]) -> dict[str, tuple[Any, str | None]]:
    """item key → (answer, rationale) that submitting ``form`` must store."""
    from surveys.answers import parse_answers

    parsed = parse_answers(definition.items, form)
    return {
        key: (answer, parsed.rationales.get(key) or None) for key, answer in parsed.answers.items()
    }


def _values(answer: dict[str, Any]) -> list[tuple[str, float]]:
    """(component, value) pairs an answer adds to a summary's distributions (the
    component of a single value is ``""``; "I can't judge this" adds none)."""
    if "value" in answer:
        return [("", float(answer["value"]))]
    return [(component, float(value)) for component, value in answer.get("components", {}).items()]


def _read_round(connection: Any, study_id: int, number: int) -> dict[str, Any] | None:
    """Round ``number`` of the study: its id, status, submitted responses by panelist,
    drafts by panelist, and summary (``None`` while open)."""
    from sqlalchemy import select

    from surveys.models import Draft, Item, Response, ResponseStatus, Round, RoundSummary

    round_row = connection.execute(
        select(Round.id, Round.status).where(Round.study_id == study_id, Round.number == number)
    ).first()
    if round_row is None:
        return None
    round_id = round_row.id
    responses: dict[int, dict[str, tuple[Any, str | None]]] = {}
    for panelist_id, key, answer, rationale in connection.execute(
        select(Response.panelist_id, Item.key, Response.answer, Response.rationale)
        .join(Item, Item.id == Response.item_id)
        .where(Response.round_id == round_id, Response.status == ResponseStatus.SUBMITTED)
    ):
        responses.setdefault(panelist_id, {})[key] = (answer, rationale or None)
    drafts = dict(
        connection.execute(
            select(Draft.panelist_id, Draft.values).where(Draft.round_id == round_id)
        ).all()
    )
    summary = connection.execute(
        select(RoundSummary.respondents, RoundSummary.statistics).where(
            RoundSummary.round_id == round_id
        )
    ).first()
    return {
        "status": str(getattr(round_row.status, "value", round_row.status)),
        "responses": responses,
        "drafts": drafts,
        "summary": summary,
    }


def verify(database_url: str, study: Study, close: bool) -> Verdict:
    """Check every promise the server made in one scenario against the database."""
    from sqlalchemy import create_engine, select

    from surveys.definition import parse_definition
    from surveys.models import Panelist
    from surveys.models import Study as StudyRow
    from surveys.panel import hash_token

    definition = parse_definition(study_source(study.slug))
    verdict = Verdict()
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            study_id = connection.execute(
                select(StudyRow.id).where(StudyRow.slug == study.slug)
            ).scalar_one()
            panelist_ids = dict(
                connection.execute(
                    select(Panelist.token_hash, Panelist.id).where(Panelist.study_id == study_id)
                ).all()
            )
            first = _read_round(connection, study_id, 1)
            second = _read_round(connection, study_id, 2)
    finally:
        engine.dispose()
    assert first is not None

    def check(expert: Expert, round_: dict[str, Any], who: str) -> bool:
        """Check one expert against ``round_``; whether their submission is complete."""
        panelist_id = panelist_ids[hash_token(expert.token)]
        expected = _expected(definition, expert.form)
        stored = round_["responses"].get(panelist_id, {})
        complete = stored == expected
        if stored and not complete:
            verdict.half_written += 1
            wrong = sorted(
                key for key in set(stored) | set(expected) if stored.get(key) != expected.get(key)
            )
            verdict.problems.append(
                f"{who} has {len(stored)} of {len(expected)} answers stored, "
                f"differing on {len(wrong)} items (e.g. {', '.join(wrong[:3])})"
            )
        if expert.outcome == "submitted" and not complete:
            verdict.not_stored += 1
            verdict.problems.append(f"{who} was acknowledged but {len(stored)} answers are stored")
        if expert.outcome == "draft":
            if stored:
                verdict.refused_but_stored += 1
                verdict.problems.append(f"{who} was told 'round closed' but has answers stored")
            fields = (round_["drafts"].get(panelist_id) or {}).get("fields", {})
            if any(fields.get(name) != value for name, value in expert.form.items()):
                verdict.draft_lost += 1
                verdict.problems.append(f"{who} was told 'kept as a draft' but the draft differs")
        if expert.outcome == "failed" and complete:
            verdict.notes.append(f"{who} is stored though their request failed")
        return complete

    for number, expert in enumerate(study.experts):
        check(expert, first, f"expert {number}")

    if close:
        _check_summary(first, study, definition, verdict)
    # Fresh experts answer the round open after the fault: round 2 after a close.
    fresh_round = second if close else first
    if fresh_round is None:
        verdict.problems.append("no round was open for the fresh experts")
    else:
        stored = [
            check(expert, fresh_round, f"fresh expert {number}")
            for number, expert in enumerate(study.fresh)
        ]
        verdict.recovered = all(stored) and all(
            expert.outcome == "submitted" for expert in study.fresh
        )
    return verdict


def _check_summary(round_: dict[str, Any], study: Study, definition: Any, verdict: Verdict) -> None:
    """After a close: the summary counts every acknowledged expert and only them."""
    if round_["status"] != "closed" or round_["summary"] is None:
        verdict.summary_inconsistent = True
        verdict.problems.append(f"round 1 is {round_['status']} with no summary after the close")
        return
    respondents, statistics = round_["summary"]
    acknowledged = [expert for expert in study.experts if expert.outcome == "submitted"]
    submitted_panelists = len(round_["responses"])
    if not respondents == submitted_panelists == len(acknowledged):
        verdict.summary_inconsistent = True
        verdict.problems.append(
            f"summary respondents {respondents}, panelists with submitted responses "
            f"{submitted_panelists}, acknowledged {len(acknowledged)}: all three must agree"
        )
    sent = Counter(
        (key, component, value)
        for expert in acknowledged
        for key, (answer, _) in _expected(definition, expert.form).items()
        for component, value in _values(answer)
    )
    counted = Counter(
        (key, component, value)
        for key, components in statistics.get("distributions", {}).items()
        for component, values in components.items()
        for value in values
    )
    missing = sent - counted
    per_distribution: Counter[tuple[str, str]] = Counter()
    for (key, component, _), count in missing.items():
        per_distribution[(key, component)] += count
    # Each expert gives at most one value per distribution, so the largest shortfall of
    # one distribution is a lower bound on the experts the summary left out; so is the
    # shortfall of respondents.
    left_out = max(max(per_distribution.values(), default=0), len(acknowledged) - respondents, 0)
    if per_distribution:
        worst = per_distribution.most_common(1)[0]
        verdict.problems.append(
            f"the summary's distributions lack {sum(missing.values())} acknowledged values "
            f"(up to {worst[1]} in {worst[0][0]}{'.' + worst[0][1] if worst[0][1] else ''})"
        )
    extra = counted - Counter(
        (key, component, value)
        for answers in round_["responses"].values()
        for key, (answer, _) in answers.items()
        for component, value in _values(answer)
    )
    if extra:
        verdict.summary_inconsistent = True
        verdict.problems.append(f"the summary holds {sum(extra.values())} values not stored")
    # Experts acknowledged but not stored are left out too, and already counted.
    verdict.not_counted = max(left_out - verdict.not_stored, 0)


# --------------------------------------------------------------------------------------
# One scenario
# --------------------------------------------------------------------------------------


@dataclass
class Row:
    """One line of the table, and what explains it."""

    scenario: str
    database: str
    experts: int = 0
    acknowledged: int = 0
    drafts: int = 0
    found_closed: int = 0
    refused: int = 0
    retries: int = 0
    failed: int = 0
    server_errors: int = 0
    duration_s: float = 0.0
    verdict: Verdict = field(default_factory=Verdict)
    fault: FaultRecord = field(default_factory=FaultRecord)
    error_kinds: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    log_errors: Counter[str] = field(default_factory=Counter)
    typed_missing: int = 0
    slowest_s: float = 0.0


def log_errors(log: str) -> Counter[str]:
    """The last line of every traceback in a gunicorn log, counted (links redacted,
    cut to 160 characters; the full log stays in the folder with ``--keep``)."""
    errors: Counter[str] = Counter()
    lines = log.splitlines()
    for number, line in enumerate(lines):
        if line.startswith("Traceback (most recent call last)"):
            for following in lines[number + 1 :]:
                if following and not following.startswith((" ", "\t", "Traceback")):
                    errors[_redacted(following)[:160]] += 1
                    break
    for line in lines:
        if "WORKER TIMEOUT" in line or "was sent SIGKILL" in line or "Worker exiting" in line:
            line = re.sub(r"^\[[^]]*\] \[\d+\] ", "", line)  # the time and the pid
            errors[re.sub(r"pid:? ?\d+", "pid N", line)[:160]] += 1
    return errors


def run_scenario(
    scenario: Scenario,
    database: str,
    args: argparse.Namespace,
    folder: Path,
    redis: PrivateRedis,
    postgres: PrivatePostgres | None,
    database_url: str,
) -> Row:
    """Set up a fresh study and gunicorn, stream experts, inject the fault, verify."""
    row = Row(scenario.name, database, experts=args.experts)
    secret_key = os.urandom(32).hex()
    instance = folder / f"{scenario.name}-{database}"
    instance.mkdir()
    env = {
        **os.environ,
        "ELICIT_DATABASE_URL": database_url,
        "ELICIT_SECRET_KEY": secret_key,
        "ELICIT_BASE_URL": "",
        "ELICIT_RATELIMIT_STORAGE_URL": redis.url,
        "ELICIT_INSTANCE_PATH": str(instance),
        "PYTHONPATH": str(ROOT),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    slug = f"faults-{scenario.name}"
    opening_problem = ""
    study = create_study(database_url, secret_key, slug, args.experts, args.fresh, args.seed)
    server = Server("wsgi:app", free_port(), _server_settings(), env)
    try:
        server.wait_ready("/static/")
        context = Context(server, redis, postgres, study, env, args.outage, args.close_via)
        client = Client(server.url, attempts=args.attempts, timeout_s=args.timeout)
        trigger_at = max(1, math.ceil(args.fraction * args.experts))
        started = time.perf_counter()
        row.fault = asyncio.run(
            stream(
                client,
                study.experts,
                args.concurrency,
                trigger_at,
                lambda: scenario.inject(context),
            )
        )
        if scenario.name == "close":
            # After a close the fresh experts answer the next round, opened the way a
            # facilitator's script would.
            status, body = _api(context, "POST", f"/studies/{slug}/rounds", {})
            if status != 201:
                opening_problem = f"opening round 2 answered {status}: {str(body)[:200]}"
        asyncio.run(run_fresh(client, study.fresh))
        row.duration_s = time.perf_counter() - started
        row.log_errors = log_errors(server.log())
    finally:
        with contextlib.suppress(OSError):
            shutil.copy(server.log_path, instance / "gunicorn.log")
        server.stop()
    row.verdict = verify(database_url, study, close=scenario.name == "close")
    if row.fault.error:
        row.verdict.fault_failed = True
        row.verdict.problems.insert(0, f"the fault itself failed: {row.fault.error}")
    if opening_problem:
        row.verdict.problems.append(opening_problem)
    for expert in study.experts + study.fresh:
        row.refused += expert.refused
        row.retries += expert.retries
        row.server_errors += len(expert.server_errors)
        row.error_kinds.update(expert.server_errors)
        row.typed_missing += expert.typed_missing
        row.slowest_s = max(row.slowest_s, expert.slowest_s)
    for expert in study.experts:
        row.acknowledged += expert.outcome == "submitted"
        row.drafts += expert.outcome == "draft"
        row.found_closed += expert.outcome == "found closed"
        if expert.outcome == "failed":
            row.failed += 1
            row.failures[re.sub(r"\d+ attempts", "N attempts", expert.detail)] += 1
    for number, expert in enumerate(study.fresh):
        if expert.outcome != "submitted":
            row.verdict.problems.append(
                f"fresh expert {number}: {expert.outcome} ({expert.detail or 'no detail'})"
            )
    return row


def _server_settings() -> argparse.Namespace:
    """No override of gunicorn.conf.py: the faults hit the configuration elicit ships."""
    return argparse.Namespace(worker_class=None, workers=None, threads=None, reuse_port=False)


def migrate(database_url: str, folder: Path) -> None:
    """``elicit db upgrade`` on a new database, as an operator would run it."""
    env = {
        **os.environ,
        "ELICIT_DATABASE_URL": database_url,
        "ELICIT_INSTANCE_PATH": str(folder),
        "ELICIT_SECRET_KEY": "migrations only",
        "PYTHONPATH": str(ROOT),
    }
    completed = subprocess.run(
        [str(VENV_BIN / "elicit"), "db", "upgrade"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"elicit db upgrade failed:\n{completed.stderr[-2000:]}")


# --------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------

COLUMNS = (
    "scenario",
    "database",
    "experts",
    "acknowledged",
    "kept as draft",
    "found closed",
    "503",
    "retried",
    "failed",
    "lost",
    "half-written",
    "5xx",
    "recovered",
    "seconds",
)


def print_table(rows: list[Row]) -> None:
    """The one table (Markdown, ready to paste), then what explains each line."""
    lines = [list(COLUMNS)]
    for row in rows:
        cells = (
            row.scenario,
            row.database,
            row.experts,
            row.acknowledged,
            row.drafts,
            row.found_closed,
            row.refused,
            row.retries,
            row.failed,
            row.verdict.lost,
            row.verdict.half_written,
            row.server_errors,
            "yes" if row.verdict.recovered else "NO",
            f"{row.duration_s:.1f}",
        )
        lines.append([str(cell) for cell in cells])
    widths = [max(len(line[column]) for line in lines) for column in range(len(COLUMNS))]

    def show(cells: list[str]) -> str:
        # Names left, figures right.
        return (
            "| "
            + " | ".join(
                cell.ljust(width) if column < 2 else cell.rjust(width)
                for column, (cell, width) in enumerate(zip(cells, widths, strict=True))
            )
            + " |"
        )

    print(show(lines[0]))
    print(
        "|"
        + "|".join(
            ("-" * (width + 1) + ":") if column >= 2 else "-" * (width + 2)
            for column, width in enumerate(widths)
        )
        + "|"
    )
    for line in lines[1:]:
        print(show(line))
    for row in rows:
        print(f"\n{row.scenario} on {row.database}:")
        fault = row.fault
        print(
            f"  fault after {fault.at_acknowledged} acknowledged, at {fault.at_s:.1f} s, "
            f"took {fault.took_s:.1f} s: {fault.note or fault.error}; "
            f"slowest answer {row.slowest_s:.1f} s"
        )
        for kind, count in row.error_kinds.most_common():
            print(f"  5xx: {kind} × {count}")
        for kind, count in row.failures.most_common(5):
            print(f"  failed expert: {kind} × {count}")
        if row.typed_missing:
            print(f"  refusal pages (503/409) missing typed texts: {row.typed_missing}")
        for problem in row.verdict.problems[:10]:
            print(f"  PROBLEM: {problem}")
        if len(row.verdict.problems) > 10:
            print(f"  … and {len(row.verdict.problems) - 10} more problems")
        if row.verdict.refused_but_stored:
            print(f"  refused as closed but stored: {row.verdict.refused_but_stored}")
        for note in Counter(row.verdict.notes).most_common(3):
            print(f"  note: {note[0]}")
        if len(row.verdict.notes) > 3:
            print(f"  note: {len(row.verdict.notes)} experts stored though their request failed")
        for message, count in row.log_errors.most_common(6):
            print(f"  log: {message} × {count}")


# --------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The options; the defaults run every scenario in a few minutes on two cores."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--experts", type=int, default=400, help="streamed experts per scenario")
    parser.add_argument("--concurrency", type=int, default=32, help="connections at once")
    parser.add_argument(
        "--scenario",
        action="append",
        choices=list(SCENARIOS),
        help="run this scenario (repeatable; default: all)",
    )
    parser.add_argument("--database", choices=[*DATABASES, "both"], default="both")
    parser.add_argument(
        "--keep", action="store_true", help="keep the temporary folders (logs, data) at the end"
    )
    parser.add_argument(
        "--fraction",
        type=float,
        default=0.3,
        help="inject the fault once this fraction of the experts is acknowledged",
    )
    parser.add_argument("--outage", type=float, default=2.0, help="seconds down in crash and redis")
    parser.add_argument("--fresh", type=int, default=10, help="recovery experts per scenario")
    parser.add_argument("--attempts", type=int, default=8, help="per request, 503 and no answer")
    parser.add_argument("--timeout", type=float, default=30.0, help="per request, seconds")
    parser.add_argument("--close-via", choices=["api", "cli"], default="api")
    parser.add_argument("--seed", type=int, default=20261127)
    args = parser.parse_args(argv)
    if not 0 < args.fraction < 1:
        parser.error("--fraction must lie between 0 and 1")
    return args


def selected(args: argparse.Namespace) -> list[tuple[Scenario, str]]:
    """(scenario, database) pairs to run, PostgreSQL first."""
    databases = DATABASES if args.database == "both" else (args.database,)
    pairs = []
    for database in databases:
        for name, scenario in SCENARIOS.items():
            applies = (
                database in scenario.databases
                if args.scenario
                else database in scenario.default_databases
            )
            if applies and (not args.scenario or name in args.scenario):
                pairs.append((scenario, database))
    return pairs


@contextlib.contextmanager
def interrupts_as_exceptions() -> Iterator[None]:
    """SIGINT, SIGTERM and SIGHUP end the run as Ctrl-C does, so that cleanup still
    happens (SIGINT too: a shell starts a background job with it ignored)."""

    def interrupt(signum: int, frame: Any) -> None:
        del frame
        raise KeyboardInterrupt(f"signal {signum}")

    previous = {
        number: signal.signal(number, interrupt)
        for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    }
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    pairs = selected(args)
    if not pairs:
        print("no scenario applies to the database chosen", file=sys.stderr)
        return 2
    folder = Path(tempfile.mkdtemp(prefix="elicit-faults-"))
    folder.chmod(0o711)  # the postgres user must reach its own subfolder
    print(
        f"gunicorn {shipped_setting('worker_class')} × {shipped_setting('workers')} "
        f"(gunicorn.conf.py); {args.experts} experts per scenario, {args.concurrency} "
        f"connections, fault after {args.fraction:.0%} acknowledged; folder {folder}",
        flush=True,
    )
    rows: list[Row] = []
    redis = PrivateRedis(folder / "redis")
    postgres: PrivatePostgres | None = None
    with interrupts_as_exceptions(), contextlib.ExitStack() as cleanup:
        if not args.keep:
            cleanup.callback(shutil.rmtree, folder, ignore_errors=True)
        cleanup.callback(redis.stop)
        redis.start()
        urls: dict[str, str] = {}
        if any(database == "postgresql" for _, database in pairs):
            postgres = PrivatePostgres(folder / "postgresql")
            cleanup.callback(postgres.stop)
            postgres.create()
            urls["postgresql"] = postgres.url("elicit")
        if any(database == "sqlite" for _, database in pairs):
            urls["sqlite"] = f"sqlite:///{folder / 'elicit.sqlite3'}"
        for database, url in urls.items():
            migrate(url, folder)
            print(f"{database}: migrated", flush=True)
        for scenario, database in pairs:
            row = run_scenario(scenario, database, args, folder, redis, postgres, urls[database])
            rows.append(row)
            print(
                f"{scenario.name} on {database}: {row.acknowledged} acknowledged, "
                f"lost {row.verdict.lost}, half-written {row.verdict.half_written}, "
                f"5xx {row.server_errors}, recovered {'yes' if row.verdict.recovered else 'NO'} "
                f"({row.duration_s:.1f} s)",
                flush=True,
            )
    print()
    print_table(rows)
    if args.keep:
        print(f"\nkept: {folder}")
    return 1 if any(row.verdict.failed for row in rows) else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted: the private servers are stopped, their folder removed unless --keep")
        sys.exit(130)
