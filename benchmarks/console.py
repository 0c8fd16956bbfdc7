"""The console's pages at 1,000, 10,000 and 100,000 panelists: time and size per page.

For each size N (``--panelists``, comma-separated; 1,000 by default) and each database
(``--database sqlite``, ``postgresql`` or both):

1. The study is built as ``benchmarks/close.py`` builds it: a fresh database migrated
   (``elicit db upgrade``), the demo study loaded, N panelists added with
   ``add_panelists`` (three groups), round 1 opened and every panelist's simulated
   answers stored (the first ``--sample`` through ``submit_responses``, the others as
   bulk rows built as that function writes them, compared with the sample's: on
   PostgreSQL ``close.build`` itself, with one ``COPY``; on SQLite the same rows by
   ``executemany``).  Round 1 is closed by ``close_round`` (in a child process, as
   ``close.py`` does) and round 2 opened, so that the panel page has two rounds.
2. What a console of a large study holds: invitations to round 2 queued for everyone by
   ``queue_invitations`` (no mail server: they wait in the outbox), one panelist in five
   submitted round 2 (their round-1 rows copied by ``INSERT … SELECT``), one in ten has a
   draft of round 2, every other panelist opened the page since round 2 opened, and the
   audit log holds one ``panel.reissue`` event per panelist (rows as ``audit.record``
   writes them): the log a facilitator makes by giving everyone a new link.
3. In a fresh Python process, a facilitator logs in through the login form (CSRF
   included) and each page is fetched with the app's test client: once to warm up, then
   ``--repeat`` times; the median time and the body's size are printed.  Pages: the
   panel (first page, filtered by status and group, the last page), the panel as a
   researcher sees it, the outbox, the study page with its audit log (and the log's
   last page), the results page, a page of round 1's reasons, the items page and the
   scenario tracker (three observations recorded: a signpost seen, one not seen, a
   trigger occurred), the close's confirmation page with the preview its job computed
   and kept (the job timed first, apart); and with a read token the API's responses
   (first, middle and last page of every response, last page of round 2's).

One Markdown table is printed per database.  Target (issue 15, point 3): every page under
1 s at 100,000 panelists.  Exit status 1 when a page does not answer 200.

Run: ``.venv/bin/python benchmarks/console.py [--panelists 1000,10000,100000]
[--database sqlite,postgresql] [--server-url postgresql://postgres@127.0.0.1:5433]
[--keep]``.  PostgreSQL: a private cluster (``initdb``, as ``close.py``) unless
``--server-url`` is given, on which the script creates and drops ``elicit_console_*``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# As in close.py: the benchmarks folder holds a script called analysis.py, so it must
# not be on the import path (``analysis`` is the package); the project root is.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != _HERE]
if str(_HERE.parent) not in sys.path:
    sys.path.insert(0, str(_HERE.parent))

from benchmarks.close import (  # noqa: E402
    PANEL_BATCH,
    RESPONSE_COLUMNS,
    SLUG,
    Built,
    _admin,
    _app,
    build,
    close_in_child,
)
from benchmarks.faults import (  # noqa: E402
    GROUPS,
    PrivatePostgres,
    interrupts_as_exceptions,
    migrate,
    study_source,
)
from benchmarks.submit import ROOT  # noqa: E402

TARGET_S = 1.0
FACILITATOR = "benchmark.facilitator@console.invalid"
RESEARCHER = "benchmark.researcher@console.invalid"
PASSWORD = "benchmark console password"
CSRF_PATTERN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
#: Page label → (who, path under /console/studies/SLUG, or a callable of N for it).
PAGES: dict[str, tuple[str, Any]] = {
    "panel, page 1": ("facilitator", lambda n: "/panel"),
    "panel, filtered (draft, academic)": (
        "facilitator",
        lambda n: "/panel?status=draft&group=academic",
    ),
    "panel, last page": ("facilitator", lambda n: "/panel?page=999999"),
    "panel, researcher": ("researcher", lambda n: "/panel"),
    "outbox": ("facilitator", lambda n: "/outbox"),
    "study page (audit log)": ("facilitator", lambda n: ""),
    "audit log, last page": ("facilitator", lambda n: "?log=999999"),
    "results (every round's summary)": ("facilitator", lambda n: "/results"),
    "reasons of round 1, page 2": ("facilitator", lambda n: "/rounds/1/reasons?page=2"),
    "items": ("facilitator", lambda n: "/items"),
    "tracker (3 observations)": ("facilitator", lambda n: "/tracker"),
    # Past ELICIT_CLOSE_PREVIEW_INLINE_LIMIT submitted panelists: the preview kept by
    # its job (computed before the pages, timed as "close preview job").
    "close preview (kept)": ("facilitator", lambda n: "/rounds/close"),
}
#: The close's preview computed by its job before the pages (:func:`_preview_job`).
JOB = "close preview job"
#: API reads (``GET /api/v1/studies/SLUG/responses`` with a read token): label → (the
#: query, the page to read from the number of responses it has, 100 a page).
API_PAGES: dict[str, tuple[str, Any]] = {
    "API responses, page 1": ("", lambda total: 1),
    "API responses, middle page": ("", lambda total: max(1, total // 200)),
    "API responses, last page": ("", lambda total: max(1, -(-total // 100))),
    "API responses of round 2 (open), last page": (
        "round=2&",
        lambda total: max(1, -(-total // 100)),
    ),
}


# --------------------------------------------------------------------------------------
# Building the study
# --------------------------------------------------------------------------------------


def build_sqlite(url: str, panelists: int, *, sample: int, seed: int) -> Built:
    """:func:`benchmarks.close.build` on SQLite: the same study, the same rows, written
    by ``executemany`` instead of ``COPY`` (checked against the sample the same way)."""
    from elicit.extensions import current_link_keys, db
    from surveys.answers import answer_rules, parse_answers, submit_responses
    from surveys.definition import parse_definition
    from surveys.models import Item, Panelist, Response, ResponseStatus
    from surveys.panel import NewPanelist, add_panelists
    from surveys.rounds import open_round
    from surveys.simulation import simulated_answers
    from surveys.studies import load_study

    started = time.perf_counter()
    source = study_source(SLUG)
    definition = parse_definition(source, name=f"{SLUG}.toml")
    app = _app(url)
    with app.app_context():
        session = db.session
        study = load_study(session, definition, source)
        for first in range(0, panelists, PANEL_BATCH):
            add_panelists(
                session,
                study,
                [
                    NewPanelist(
                        f"Benchmark expert {number}",
                        f"expert{number}@close.invalid",
                        GROUPS[number % len(GROUPS)],
                        definition.languages[number % len(definition.languages)],
                    )
                    for number in range(first, min(panelists, first + PANEL_BATCH))
                ],
                keys=current_link_keys(),
            )
        round_ = open_round(session, study)
        panel = list(
            session.execute(
                db.select(Panelist).where(Panelist.study_id == study.id).order_by(Panelist.id)
            ).scalars()
        )
        items = {
            key: (item_id, version)
            for item_id, key, version in session.execute(
                db.select(Item.id, Item.key, Item.version).where(Item.study_id == study.id)
            )
        }
        rules = answer_rules(session, round_, definition)
        rng = random.Random(seed)
        now = datetime.now(UTC)

        def rows_of(panelist_id: int, form: dict[str, str]) -> list[dict[str, Any]]:
            parsed = parse_answers(definition.items, form, rules)
            return [
                dict(
                    zip(
                        RESPONSE_COLUMNS,
                        (
                            round_.id,
                            panelist_id,
                            items[key][0],
                            items[key][1],
                            answer,
                            parsed.rationales.get(key),
                            ResponseStatus.SUBMITTED,
                            now,
                            now,
                            now,
                        ),
                        strict=True,
                    )
                )
                for key, answer in parsed.answers.items()
            ]

        forms = [simulated_answers(rng, definition) for _ in panel]
        checked: dict[int, list[dict[str, Any]]] = {}
        for panelist, form in zip(panel[:sample], forms[:sample], strict=True):
            submit_responses(session, panelist, form, now=now)
            checked[panelist.id] = rows_of(panelist.id, form)
        round_id = round_.id
        ids = [panelist.id for panelist in panel]
        session.remove()
        written = 0
        batch: list[dict[str, Any]] = []
        table = Response.__table__
        with db.engine.begin() as connection:
            for panelist_id, form in zip(ids[sample:], forms[sample:], strict=True):
                batch.extend(rows_of(panelist_id, form))
                if len(batch) >= 50_000:
                    connection.execute(table.insert(), batch)
                    written += len(batch)
                    batch = []
            if batch:
                connection.execute(table.insert(), batch)
                written += len(batch)
        columns = [table.c[column] for column in RESPONSE_COLUMNS]
        for panelist_id, expected in checked.items():
            stored = [
                dict(row._mapping)
                for row in session.execute(
                    db.select(*columns)
                    .where(Response.round_id == round_id, Response.panelist_id == panelist_id)
                    .order_by(Response.item_id)
                )
            ]
            wanted = sorted(expected, key=lambda row: row["item_id"])
            if [_comparable(row) for row in stored] != [_comparable(row) for row in wanted]:
                raise RuntimeError(f"the product stored panelist {panelist_id}'s answers otherwise")
        session.remove()
        db.engine.dispose()
    total = written + sum(len(rows) for rows in checked.values())
    return Built(url, round_id, panelists, total, time.perf_counter() - started, forms)


def _comparable(row: dict[str, Any]) -> tuple[Any, ...]:
    """A response row with its timestamps made naive-UTC (SQLite returns them either
    way) and its status as text."""
    return tuple(
        value.replace(tzinfo=None)
        if isinstance(value, datetime) and value.tzinfo
        else str(value)
        if column == "status"
        else value
        for column, value in row.items()
    )


def observe(session: Any, study_id: int) -> None:
    """What a facilitator records in the tracker after the study: the first signpost
    seen, the second not seen by a date, the first trigger occurred (audited, as the
    console records them)."""
    from datetime import timedelta

    from surveys.models import Study
    from surveys.tracking import SIGNPOST, TRIGGER, record, trackable

    study = session.get(Study, study_id)
    found = trackable(session, study)
    signposts = [entry.key for entry in found if entry.kind == SIGNPOST]
    triggers = [entry.key for entry in found if entry.kind == TRIGGER]
    today = datetime.now(UTC).date()
    observations = [(SIGNPOST, signposts[0], True), (SIGNPOST, signposts[1], False)]
    observations.append((TRIGGER, triggers[0], True))
    for days, (kind, key, seen) in enumerate(observations, start=1):
        record(
            session,
            study,
            kind=kind,
            item_key=key,
            observed_on=today - timedelta(days=10 - days),
            seen=seen,
            note="benchmark observation",
        )


def furnish(url: str, panelists: int) -> dict[str, float]:
    """Round 2 opened with its invitations, submissions, drafts and visits, and an audit
    log of one event per panelist (see the module's description); seconds per step."""
    from sqlalchemy import insert, literal, select, text, update

    from elicit.extensions import current_link_keys, db
    from surveys.accounts import create_user, grant_access
    from surveys.messaging import queue_invitations
    from surveys.models import AuditEvent, Draft, Panelist, Response, Role, Study, utcnow
    from surveys.rounds import open_round

    app = _app(url)
    seconds: dict[str, float] = {}
    with app.app_context():
        session = db.session
        study = session.execute(select(Study).where(Study.slug == SLUG)).scalar_one()
        for email, role in ((FACILITATOR, Role.FACILITATOR), (RESEARCHER, Role.RESEARCHER)):
            user = create_user(session, email, PASSWORD, role)
            grant_access(session, user, study)
        round_two = open_round(session, study)
        started = time.perf_counter()
        queued = queue_invitations(
            session, study, round_two, "https://elicit.invalid", keys=current_link_keys()
        )
        seconds["queue_invitations"] = time.perf_counter() - started
        if len(queued) != panelists:
            raise RuntimeError(f"{len(queued)} invitations queued, not {panelists}")
        round_one_id = session.execute(
            select(Response.round_id).where(Response.round_id != round_two.id).limit(1)
        ).scalar_one()
        study_id, round_two_id = study.id, round_two.id
        session.remove()
        now = utcnow()
        in_study = select(Panelist.id).where(Panelist.study_id == study_id)
        with db.engine.begin() as connection:
            copied = [
                column for column in Response.__table__.c if column.name not in ("id", "round_id")
            ]
            connection.execute(
                insert(Response).from_select(
                    ["round_id", *(column.name for column in copied)],
                    select(literal(round_two_id), *copied).where(
                        Response.round_id == round_one_id, Response.panelist_id % 5 == 0
                    ),
                )
            )
            connection.execute(
                insert(Draft).from_select(
                    ["round_id", "panelist_id", "values", "saved_at"],
                    select(
                        literal(round_two_id),
                        Panelist.id,
                        literal({"fields": {}}, Draft.values.type),
                        literal(now, Draft.saved_at.type),
                    ).where(Panelist.id.in_(in_study), Panelist.id % 10 == 3),
                )
            )
            connection.execute(
                update(Panelist)
                .where(Panelist.study_id == study_id, Panelist.id % 2 == 0)
                .values(last_seen_at=now)
            )
            ids = connection.execute(in_study.order_by(Panelist.id)).scalars().all()
            # As audit.record writes a reissue: no user (the command line), the
            # panelist's row id in the details.
            for first in range(0, len(ids), 20_000):
                connection.execute(
                    insert(AuditEvent),
                    [
                        {
                            "study_id": study_id,
                            "action": "panel.reissue",
                            "details": {"panelist": panelist_id},
                            "at": now,
                        }
                        for panelist_id in ids[first : first + 20_000]
                    ],
                )
        observe(session, study_id)
        if db.engine.dialect.name == "postgresql":
            # As autovacuum would soon after such a load (close.build does the same
            # after its COPY): plans from the tables as they are.
            with db.engine.connect() as connection:
                connection.execution_options(isolation_level="AUTOCOMMIT").execute(
                    text("VACUUM ANALYZE")
                )
        db.engine.dispose()
    return seconds


# --------------------------------------------------------------------------------------
# Timing: a child process per database and size
# --------------------------------------------------------------------------------------


def _logged_in(app: Any, email: str) -> Any:
    """A test client logged in as ``email`` through the login form."""
    client = app.test_client()
    page = client.get("/console/login").get_data(as_text=True)
    match = CSRF_PATTERN.search(page)
    if match is None:
        raise RuntimeError("the login page has no CSRF token")
    answer = client.post(
        "/console/login",
        data={"email": email, "password": PASSWORD, "csrf_token": match.group(1)},
    )
    if answer.status_code != 302:
        raise RuntimeError(f"logging in as {email} answered {answer.status_code}")
    return client


def child(url: str, panelists: int, repeat: int) -> None:
    """Fetch every page, print {label: [seconds, bytes, status]} as one JSON line."""
    app = _app(url)
    clients = {"facilitator": _logged_in(app, FACILITATOR)}
    clients["researcher"] = _logged_in(app, RESEARCHER)
    results: dict[str, list[float]] = {JOB: _preview_job(app)}
    for label, (who, path) in PAGES.items():
        address = f"/console/studies/{SLUG}{path(panelists)}"
        client = clients[who]
        response = client.get(address)  # warm-up: templates compiled, caches filled
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            response = client.get(address)
            body = response.get_data()
            times.append(time.perf_counter() - started)
        results[label] = [statistics.median(times), len(body), response.status_code]
    results.update(_api_pages(app, repeat))
    print(json.dumps(results))


def _preview_job(app: Any) -> list[float]:
    """The open round's close preview computed as its job computes it
    (:func:`surveys.close_previews.run_preview`), timed, kept for the close's page;
    ``[seconds, bytes kept as JSON, 200]``.  Computed inline (and timed as a page)
    when the round has too few answers for a job: then ``[0, 0, 200]``."""
    from elicit.extensions import db
    from surveys.close_previews import (
        answers_to_read,
        computed_in_request,
        request_preview,
        run_preview,
    )
    from surveys.models import ClosingStatus, RoundPreview
    from surveys.rounds import count_respondents, open_round_of
    from surveys.studies import find_study

    with app.app_context():
        study = find_study(db.session, SLUG)
        round_ = open_round_of(db.session, study) if study is not None else None
        if round_ is None:
            return [0.0, 0, 200]
        answers = answers_to_read(db.session, study, round_, count_respondents(db.session, round_))
        if computed_in_request(answers, app.config["ELICIT_CLOSE_PREVIEW_INLINE_LIMIT"]):
            return [0.0, 0, 200]
        preview_id = request_preview(db.session, round_, again=True).preview.id
        started = time.perf_counter()
        status = run_preview(db.session, preview_id)
        seconds = time.perf_counter() - started
        kept = db.session.get(RoundPreview, preview_id, populate_existing=True)
        size = len(json.dumps(kept.preview)) if kept is not None else 0
        db.session.remove()
    return [seconds, size, 200 if status == ClosingStatus.DONE else 500]


def _api_pages(app: Any, repeat: int) -> dict[str, list[float]]:
    """Time each of :data:`API_PAGES` as :func:`child` times the console's, with a read
    token of the facilitator's made for the run."""
    from sqlalchemy import select

    from elicit.extensions import db
    from surveys.api_tokens import create_token
    from surveys.models import User

    with app.app_context():
        user = db.session.execute(select(User).where(User.email == FACILITATOR)).scalar_one()
        secret = create_token(db.session, user, "benchmark", "read").secret
        db.session.remove()
    client = app.test_client()
    headers = {"Authorization": f"Bearer {secret}"}
    base = f"/api/v1/studies/{SLUG}/responses"
    results: dict[str, list[float]] = {}
    for label, (query, choose) in API_PAGES.items():
        first = client.get(f"{base}?{query}", headers=headers)
        if first.status_code != 200:
            raise RuntimeError(f"{base}?{query} answered {first.status_code}")
        address = f"{base}?{query}page={choose(int(first.get_json()['total']))}"
        response = client.get(address, headers=headers)
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            response = client.get(address, headers=headers)
            body = response.get_data()
            times.append(time.perf_counter() - started)
        results[label] = [statistics.median(times), len(body), response.status_code]
    return results


def measure(url: str, panelists: int, repeat: int) -> dict[str, list[float]]:
    """:func:`child` in a fresh process."""
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        url,
        str(panelists),
        str(repeat),
    ]
    completed = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"the pages could not be fetched:\n{completed.stderr[-3000:]}")
    result: dict[str, list[float]] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


# --------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------


@dataclass
class Row:
    """One size's figures on one database."""

    panelists: int
    responses: int
    build_s: float
    furnish: dict[str, float]
    pages: dict[str, list[float]] = field(default_factory=dict)


def run_size(database: str, server_url: str | None, panelists: int, args: Any, folder: Path) -> Row:
    """Build, furnish and measure one size on one database."""
    name = f"elicit_console_{panelists}"
    if database == "postgresql":
        assert server_url is not None
        _admin(server_url, f"DROP DATABASE IF EXISTS {name}")
        _admin(server_url, f"CREATE DATABASE {name}")
        url = f"{server_url.replace('postgresql://', 'postgresql+psycopg://', 1)}/{name}"
        migrate(url, folder)
        built = build(url, panelists, sample=args.sample, seed=args.seed)
    else:
        path = folder / f"{name}.sqlite"
        path.unlink(missing_ok=True)
        url = f"sqlite:///{path}"
        migrate(url, folder)
        built = build_sqlite(url, panelists, sample=args.sample, seed=args.seed)
    print(
        f"{database}, N = {panelists:,}: {built.responses:,} responses stored in "
        f"{built.seconds:.0f} s",
        flush=True,
    )
    close = close_in_child(url, None)
    print(f"{database}, N = {panelists:,}: round 1 closed in {close.seconds:.1f} s", flush=True)
    steps = furnish(url, panelists)
    print(
        f"{database}, N = {panelists:,}: round 2 opened, "
        f"{panelists:,} invitations queued in {steps['queue_invitations']:.1f} s",
        flush=True,
    )
    row = Row(panelists, built.responses, built.seconds, steps)
    row.pages = measure(url, panelists, args.repeat)
    for label, (seconds, size, status) in row.pages.items():
        print(
            f"{database}, N = {panelists:,}: {label}: {seconds * 1000:,.0f} ms, "
            f"{size / 1024:,.0f} kB, {int(status)}",
            flush=True,
        )
    if not args.keep:
        if database == "postgresql":
            assert server_url is not None
            _admin(server_url, f"DROP DATABASE IF EXISTS {name}")
        else:
            (folder / f"{name}.sqlite").unlink(missing_ok=True)
    return row


def print_table(database: str, rows: list[Row]) -> bool:
    """The Markdown table of one database's run; whether every page answered 200."""
    print(f"\n{database}:\n")
    print("| page | " + " | ".join(f"N = {row.panelists:,}" for row in rows) + " |")
    print("|---|" + "---|" * len(rows))
    for label in [*PAGES, *API_PAGES]:
        cells = []
        for row in rows:
            seconds, size, status = row.pages[label]
            mark = "" if seconds < TARGET_S else " (over 1 s)"
            answer = "" if int(status) == 200 else f", status {int(status)}"
            cells.append(f"{seconds * 1000:,.0f} ms, {size / 1024:,.0f} kB{answer}{mark}")
        print(f"| {label} | " + " | ".join(cells) + " |")
    for row in rows:
        seconds, size, status = row.pages[JOB]
        if seconds:
            print(
                f"\nN = {row.panelists:,}: {JOB} {seconds:,.1f} s, kept as "
                f"{size / 1024:,.0f} kB of JSON (status {int(status)}; a job, not a page)."
            )
    largest = max(rows, key=lambda row: row.panelists)
    pages = [item for item in largest.pages.items() if item[0] != JOB]
    slowest = max(pages, key=lambda item: item[1][0])
    verdict = "PASS" if slowest[1][0] < TARGET_S else "FAIL"
    print(
        f"\nAt N = {largest.panelists:,} the slowest page is {slowest[0]} "
        f"({slowest[1][0] * 1000:,.0f} ms; target < {TARGET_S:.0f} s: {verdict})."
    )
    return all(int(status) == 200 for row in rows for _, _, status in row.pages.values())


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--panelists", default="1000", help="comma-separated panel sizes")
    parser.add_argument(
        "--database", default="sqlite,postgresql", help="sqlite, postgresql or both (default)"
    )
    parser.add_argument(
        "--server-url",
        help="a PostgreSQL server (postgresql://user@host:port) on which the script may "
        "create and drop databases elicit_console_*; default: a private cluster",
    )
    parser.add_argument(
        "--sample", type=int, default=25, help="panelists who submit through the product"
    )
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--repeat", type=int, default=5, help="timed fetches per page")
    parser.add_argument("--keep", action="store_true", help="keep the databases and folder")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        url, panelists, repeat = args.child
        child(url, int(panelists), int(repeat))
        return 0
    sizes = [int(size.replace("_", "")) for size in args.panelists.split(",") if size]
    databases = [name.strip() for name in args.database.split(",") if name.strip()]
    folder = Path(tempfile.mkdtemp(prefix="elicit-console-"))
    folder.chmod(0o711)  # the postgres user must reach its own subfolder
    tables: dict[str, list[Row]] = {}
    with interrupts_as_exceptions(), contextlib.ExitStack() as cleanup:
        if not args.keep:
            cleanup.callback(shutil.rmtree, folder, ignore_errors=True)
        server_url = args.server_url
        if "postgresql" in databases and server_url is None:
            postgres = PrivatePostgres(folder / "postgresql")
            cleanup.callback(postgres.stop)
            postgres.create()
            server_url = f"postgresql://postgres@127.0.0.1:{postgres.port}"
        server = server_url.rstrip("/") if server_url else None
        for database in databases:
            for panelists in sizes:
                row = run_size(database, server, panelists, args, folder)
                tables.setdefault(database, []).append(row)
    ok = all(print_table(database, rows) for database, rows in tables.items())
    if args.keep:
        print(f"\nkept: {folder}")
    return 0 if ok else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted: the private server is stopped, its folder removed unless --keep")
        sys.exit(130)
