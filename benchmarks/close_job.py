"""A round's close as a job (``surveys.closing``) at N panelists, as a facilitator and
two experts live it, against a real ``elicit worker`` on Redis.

On a private PostgreSQL cluster (or ``--server-url``) and a private Redis:

1. The study of ``benchmarks/close.py`` is built at N panelists (the demo study, every
   panelist's answers stored as the product stores them) with round 1 open, and copied
   (``CREATE DATABASE … TEMPLATE``); the copy is closed by ``close_round`` in a fresh
   process, as ``close.py`` times it: the reference summary.
2. On the original, through the console (the app's test client, jobs on Redis): a
   facilitator clicks "Close the round" (timed) and reads the close's page (timed).
3. **A worker killed mid-close**: ``elicit worker`` starts, claims the close and locks
   the round; 5 s later it is killed with SIGKILL.  Checked: the round is still open,
   with every response; the close is marked running; its page says the summary is
   being computed.  Its beat is then moved ``LAPSE_AFTER`` into the past (the time a
   real lapse takes): the page must say the round was not closed, and the facilitator
   closes again (timed).
4. **The close**: ``elicit worker --burst`` under ``/usr/bin/time -v`` (wall, CPU and
   peak memory, its start included).  While it holds the round, two experts added for
   this (a panel of N + 2) act: one's draft is autosaved (timed: it must not wait for
   the close), the other submits (timed: it waits ``CLOSE_WAIT_MS`` at most, then keeps
   the answers as a draft and says the round is being closed).
5. Checked afterwards: the close is done, the round closed with N respondents (the two
   late experts are drafts, not answers), the close's page leads to the study page
   saying so, and the stored summary is byte-identical to the reference's.

One Markdown table is printed.  Exit status 1 when a check fails.

Run: ``.venv/bin/python benchmarks/close_job.py [--panelists 100000]
[--server-url postgresql://postgres@127.0.0.1:5432] [--keep]``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

# As in close.py: the benchmarks folder must not be on the import path, the root must.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != _HERE]
if str(_HERE.parent) not in sys.path:
    sys.path.insert(0, str(_HERE.parent))

from benchmarks.close import (  # noqa: E402 (after the path is set)
    SLUG,
    _admin,
    _libpq,
    build,
    close_in_child,
    time_report,
    warm_up,
)
from benchmarks.faults import (  # noqa: E402
    PrivatePostgres,
    PrivateRedis,
    interrupts_as_exceptions,
    migrate,
)
from benchmarks.submit import ROOT, VENV_BIN  # noqa: E402

SECRET_KEY = "close job benchmark " * 4
FACILITATOR = "facilitator@close-job.invalid"
PASSWORD = "close job benchmark password"
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
#: How long the killed worker works before it is killed.
KILL_AFTER_S = 5.0


@dataclass
class Figures:
    """What the run measured, in the order the table prints it."""

    panelists: int
    rows: list[tuple[str, str]] = field(default_factory=list)

    def add(self, step: str, value: str) -> None:
        self.rows.append((step, value))
        print(f"{step}: {value}", flush=True)


def check(condition: bool, what: str) -> None:
    """End the run (exit 1) unless ``condition``."""
    if not condition:
        raise SystemExit(f"check failed: {what}")


def _ms(started: float) -> str:
    return f"{1000 * (time.perf_counter() - started):,.0f} ms"


def _scalar(url: str, statement: str) -> Any:
    import psycopg

    with psycopg.connect(_libpq(url)) as connection:
        row = connection.execute(statement).fetchone()  # type: ignore[arg-type]
    return None if row is None else row[0]


def _summary(url: str) -> str:
    """Round 1's stored statistics, as close.py compares them."""
    stored = _scalar(url, "SELECT statistics::text FROM round_summary ORDER BY id DESC LIMIT 1")
    return json.dumps(json.loads(stored)) if stored is not None else ""


def _console(url: str, queue_url: str) -> tuple[Any, Any, list[tuple[Any, str]]]:
    """The app (jobs on ``queue_url``), a facilitator's client logged in, and two late
    experts' clients on the answer page with its CSRF token."""
    from elicit import create_app
    from elicit.extensions import current_link_keys, db
    from surveys.accounts import create_user, grant_access
    from surveys.models import Study
    from surveys.panel import NewPanelist, add_panelists

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "SECRET_KEY": SECRET_KEY,
            "ELICIT_QUEUE_URL": queue_url,
            "RATELIMIT_ENABLED": False,
        }
    )
    with app.app_context():
        study = db.session.execute(db.select(Study)).scalar_one()
        user = create_user(db.session, FACILITATOR, PASSWORD, "facilitator")
        grant_access(db.session, user, study)
        late = [
            NewPanelist(f"Late expert {n}", f"late{n}@close-job.invalid", "", "en") for n in (1, 2)
        ]
        tokens = [
            link.token for link in add_panelists(db.session, study, late, keys=current_link_keys())
        ]
        db.session.remove()
    experts = []
    for token in tokens:
        expert = app.test_client()
        check(expert.get(f"/e/{token}").status_code == 302, "an expert's link opens")
        experts.append((expert, _token(expert.get("/e/").text)))
    facilitator = app.test_client()
    page = facilitator.get("/console/login").text
    answer = facilitator.post(
        "/console/login",
        data={"email": FACILITATOR, "password": PASSWORD, "csrf_token": _token(page)},
    )
    check(answer.status_code == 302, "the facilitator logs in")
    return app, facilitator, experts


def _token(page: str) -> str:
    match = CSRF.search(page)
    check(match is not None, "the page has a CSRF token")
    assert match is not None
    return match.group(1)


def _click_close(facilitator: Any) -> tuple[Any, float]:
    token = _token(facilitator.get(f"/console/studies/{SLUG}").text)
    started = time.perf_counter()
    # The form of round 1's close page (it names its round), posted without drawing that
    # page: at this size its preview is a job of its own.
    form = {"csrf_token": token, "round": "1"}
    asked = facilitator.post(f"/console/studies/{SLUG}/rounds/close", data=form)
    check(asked.status_code == 303, "the click answers with a redirect")
    return asked.headers["Location"], started


def _worker(url: str, queue_url: str, folder: Path, *options: str) -> list[str]:
    return [
        "/usr/bin/env",
        f"ELICIT_DATABASE_URL={url}",
        f"ELICIT_QUEUE_URL={queue_url}",
        f"ELICIT_SECRET_KEY={SECRET_KEY}",
        f"ELICIT_INSTANCE_PATH={folder}",
        f"PYTHONPATH={ROOT}",
        str(VENV_BIN / "elicit"),
        "worker",
        *options,
    ]


def _wait_until_held(url: str, timeout: float = 120) -> float:
    """Wait until a close is running and holds the round; seconds waited."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        running = _scalar(url, "SELECT count(*) FROM round_closing WHERE status = 'running'")
        locked = _scalar(
            url,
            "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
            "WHERE c.relname = 'round' AND l.mode = 'RowShareLock' "
            "AND l.pid <> pg_backend_pid()",
        )
        if running and locked:
            return time.monotonic() - started
        time.sleep(0.1)
    raise SystemExit("check failed: no worker began the close")


def run(server_url: str, queue_url: str, panelists: int, folder: Path, keep: bool) -> Figures:
    from surveys.closing import LAPSE_AFTER

    name = f"elicit_close_job_{panelists}"
    reference = f"{name}_reference"
    for database in (name, reference):
        _admin(server_url, f"DROP DATABASE IF EXISTS {database}")
    _admin(server_url, f"CREATE DATABASE {name}")
    url = f"{server_url.replace('postgresql://', 'postgresql+psycopg://', 1)}/{name}"
    reference_url = url.rsplit("/", 1)[0] + f"/{reference}"
    figures = Figures(panelists)
    try:
        migrate(url, folder)
        built = build(url, panelists, sample=min(200, panelists), seed=15)
        figures.add("study built", f"{built.responses:,} responses in {built.seconds:.0f} s")
        _admin(server_url, f"CREATE DATABASE {reference} TEMPLATE {name}")
        close = close_in_child(reference_url, None)
        figures.add(
            "close_round in process (reference)", f"{close.seconds:.1f} s, {close.peak_mb:,.0f} MB"
        )

        app, facilitator, experts = _console(url, queue_url)
        closing_page, started = _click_close(facilitator)
        figures.add('click "Close the round"', _ms(started))
        started = time.perf_counter()
        page = facilitator.get(closing_page)
        check(page.status_code == 200 and "Waiting for a worker" in page.text, "the close waits")
        figures.add("the close's page", _ms(started))

        # 3. A worker killed in the middle of the close.
        responses = _scalar(url, "SELECT count(*) FROM response")
        killed = subprocess.Popen(
            _worker(url, queue_url, folder),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        _wait_until_held(url)
        time.sleep(KILL_AFTER_S)
        os.killpg(killed.pid, signal.SIGKILL)
        killed.wait()
        check(_scalar(url, "SELECT status FROM round WHERE number = 1") == "open", "round open")
        check(_scalar(url, "SELECT count(*) FROM response") == responses, "every response kept")
        check(_scalar(url, "SELECT status FROM round_closing") == "running", "close running")
        page = facilitator.get(closing_page)
        check("The summary is being computed" in page.text, "the page says it is computed")
        lapse = int((LAPSE_AFTER + timedelta(minutes=1)).total_seconds())
        _scalar(
            url,
            "UPDATE round_closing SET alive_at = alive_at - interval "
            f"'{lapse} seconds' RETURNING id",
        )
        page = facilitator.get(closing_page)
        check("The round was not closed" in page.text, "a lapsed close is said to have failed")
        figures.add(
            "worker killed (SIGKILL) 5 s into the close",
            f"round open, {responses:,} responses kept, page says why once lapsed",
        )
        closing_page, started = _click_close(facilitator)
        figures.add('click "Close the round" again', _ms(started))

        # 4. The close, with an autosave and a submission while it holds the round.
        timed = subprocess.Popen(
            ["/usr/bin/time", "-v", *_worker(url, queue_url, folder, "--burst")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        _wait_until_held(url)
        (saver, saver_token), (submitter, submitter_token) = experts
        started = time.perf_counter()
        saved = saver.post("/e/draft", data={"csrf_token": saver_token, "trust_now": "3"})
        check(saved.status_code == 200, "the autosave is answered")
        figures.add("an expert's autosave during the close", _ms(started))
        started = time.perf_counter()
        submitted = submitter.post("/e/", data={"csrf_token": submitter_token, "trust_now": "4"})
        check(submitted.status_code == 409, "the submission is refused")
        # A close longer than the submission's wait: "being closed"; a shorter one (a
        # small panel's) was waited out: "closed".  Either way the answers are a draft.
        if "closing this round right now" in submitted.text:
            said = "being closed"
        else:
            check("This round is closed" in submitted.text, "it says why")
            said = "closed (the close ended within the wait)"
        figures.add(
            "an expert's submission during the close",
            f"{_ms(started)}, 409: {said}; kept as a draft",
        )
        _, report = timed.communicate()
        check(timed.returncode == 0, f"the worker closed the round:\n{report[-2000:]}")
        figures.add("elicit worker --burst (the close)", _time_figures(report))

        # 5. Afterwards.
        check(_scalar(url, "SELECT status FROM round WHERE number = 1") == "closed", "closed")
        check(_scalar(url, "SELECT respondents FROM round_summary") == panelists, "N respondents")
        drafts = _scalar(
            url,
            "SELECT count(*) FROM draft WHERE panelist_id IN "
            "(SELECT id FROM panelist ORDER BY id DESC LIMIT 2)",
        )
        check(drafts == 2, "both late experts' answers are drafts")
        followed = facilitator.get(closing_page)
        check(followed.status_code == 303, "the close's page leads on")
        study_page = facilitator.get(followed.headers["Location"]).text
        check("Round 1 is closed and its summary stored." in study_page, "the study page says so")
        identical = _summary(url) == close.summary
        check(identical, "the worker stored the reference's summary")
        figures.add("summary", f"byte-identical to the reference ({len(close.summary):,} chars)")
        with app.app_context():
            from elicit.extensions import db

            db.engine.dispose()
    finally:
        if not keep:
            for database in (name, reference):
                _admin(server_url, f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
    return figures


def _time_figures(said: str) -> str:
    """Wall, CPU and peak memory from ``/usr/bin/time -v``'s report, in words."""
    wall, cpu, peak = time_report(said)
    return f"{wall:.1f} s wall (start included), {cpu:.1f} s CPU, {peak:,.0f} MB peak"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--panelists", type=int, default=100_000)
    parser.add_argument(
        "--server-url",
        help="a PostgreSQL server (postgresql://user@host:port) on which the script may "
        "create and drop databases elicit_close_job_*; default: a private cluster",
    )
    parser.add_argument("--keep", action="store_true", help="keep the databases and folder")
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="elicit-close-job-"))
    folder.chmod(0o711)  # the postgres user must reach its own subfolder
    with interrupts_as_exceptions(), contextlib.ExitStack() as cleanup:
        if not args.keep:
            cleanup.callback(shutil.rmtree, folder, ignore_errors=True)
        server_url = args.server_url
        if server_url is None:
            postgres = PrivatePostgres(folder / "postgresql")
            cleanup.callback(postgres.stop)
            postgres.create()
            server_url = f"postgresql://postgres@127.0.0.1:{postgres.port}"
        redis = PrivateRedis(folder / "redis")
        cleanup.callback(redis.stop)
        redis.start()
        print(f"PostgreSQL at {server_url}; Redis at {redis.url}; folder {folder}", flush=True)
        print(f"bootstrap kernel compiled or loaded in {warm_up():.1f} s", flush=True)
        figures = run(server_url.rstrip("/"), redis.url, args.panelists, folder, args.keep)
    print(f"\n| step | N = {figures.panelists:,} |\n|---|---|")
    for step, value in figures.rows:
        print(f"| {step} | {value} |")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted: the private servers are stopped, the folder removed unless --keep")
        sys.exit(130)
