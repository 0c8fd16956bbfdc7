"""The report and the exports of a round of N panelists: time and peak memory.

For each size N (``--panelists``, comma-separated; 1,000 by default), on a private
PostgreSQL cluster (``initdb`` into a temporary folder, its own port, removed at the
end) or on a server given by ``--server-url``:

1. The study is built as ``benchmarks/close.py`` builds it (its :func:`build`): a fresh
   database migrated, the demo study loaded, N panelists added with ``add_panelists``,
   round 1 opened, every panelist's simulated answers stored (the first ``--sample``
   through ``submit_responses``, the others by one ``COPY`` of the rows that function
   writes, compared on the sample); then round 1 is closed by ``close_round`` (in a
   child process, as ``close.py`` does), so that the report has summaries to read.
2. Each step then runs in a fresh Python process, timed around the call only (not the
   imports), with its CPU time and the process's peak resident memory (``VmHWM``, the
   interpreter and its imports included; "start" is the resident memory just before
   the call):

   - **report**: ``surveys.report.study_report``, everything the report page shows
     (its plots are drawn from it);
   - **CSV zip**, **JSON**, **xlsx**: ``GET /api/v1/studies/<slug>/export/<fmt>`` through
     the app's test client with a read token, the body read a block at a time, counted
     and checked against the response's ``Content-Length`` and ``Repr-Digest`` (what a
     client downloads: the API route, ``elicit.downloads`` and the streaming writers).
     The app's ``ELICIT_EXPORT_INLINE_LIMIT`` is lifted here, so that the file is
     written in the request at every size (a served app sends a study past the limit
     to the prepared exports instead: the next two steps).  The workbook is refused
     (409) when a sheet would pass 1,048,576 rows;
   - **prepared** CSV zip and JSON (:mod:`surveys.prepared_exports`): the job
     (``request_export`` then ``write_prepared``, as a worker runs it: the file written
     and stored in the database), then ``GET /api/v1/studies/<slug>/exports/<id>/file``,
     read and checked as above;
   - **before** (up to 10,000 panelists unless ``--before``/``--no-before``): the same
     files as the exports made them before they streamed, from
     ``tests/surveys/export_reference.py`` (the whole responses table in one DataFrame,
     each file in memory); "before: report" is today's report plus the whole export
     the old one built only to count its open-text answers.

One Markdown table is printed.  Targets (issue 15, point 4): at 100,000 panelists the
report under 10 s and 1 GB, the CSV and JSON downloads under 500 MB peak, the workbook
written or refused.  Exit status 1 when a check fails (a download that differs from
its length or digest, a step that fails), not when a target is missed.

Run: ``.venv/bin/python benchmarks/exports.py [--panelists 1000,10000,100000]
[--server-url postgresql://postgres@127.0.0.1:5433] [--keep]``.  Needs
``/usr/lib/postgresql/*/bin`` unless ``--server-url`` is given.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import io
import json
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# As in close.py: the benchmarks folder holds a script called analysis.py, so it must
# not be on the import path (``analysis`` is the package); the project root is.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != _HERE]
if str(_HERE.parent) not in sys.path:
    sys.path.insert(0, str(_HERE.parent))

from benchmarks.close import (  # noqa: E402
    SLUG,
    _admin,
    _app,
    _peak_mb,
    _resident_mb,
    build,
    close_in_child,
)
from benchmarks.faults import PrivatePostgres, interrupts_as_exceptions, migrate  # noqa: E402
from benchmarks.submit import ROOT  # noqa: E402

REPORT_TARGET_S = 10.0
REPORT_TARGET_MB = 1024
DOWNLOAD_TARGET_MB = 500
#: The largest panel for which the "before" steps run by default (at 100,000 the old
#: JSON export needed 12.8 GB).
BEFORE_UP_TO = 10_000
READER_EMAIL = "benchmark.reader@exports.invalid"
STEPS = ("report", "csv", "json", "xlsx")
PREPARED_STEPS = ("prepare-csv", "prepared-csv", "prepare-json", "prepared-json")
BEFORE_STEPS = ("before-report", "before-csv", "before-json", "before-xlsx")
LABELS = {
    "report": "report (`study_report`)",
    "csv": "CSV zip (API download)",
    "json": "JSON (API download)",
    "xlsx": "xlsx (API download)",
    "prepare-csv": "CSV zip prepared (the job)",
    "prepared-csv": "CSV zip prepared (API download of the file)",
    "prepare-json": "JSON prepared (the job)",
    "prepared-json": "JSON prepared (API download of the file)",
    "before-report": "before: report (+ the whole export)",
    "before-csv": "before: CSV zip (in memory)",
    "before-json": "before: JSON (in memory)",
    "before-xlsx": "before: xlsx (pandas)",
}


# --------------------------------------------------------------------------------------
# Children: one step each, in a fresh process
# --------------------------------------------------------------------------------------


def child(step: str, url: str) -> None:
    """Run ``step`` on the study, print its measures as one JSON line."""
    from elicit.extensions import db
    from surveys.models import Study

    app = _app(url)
    app.config["ELICIT_EXPORT_INLINE_LIMIT"] = sys.maxsize  # see the module
    with app.app_context():
        study = db.session.execute(db.select(Study).where(Study.slug == SLUG)).scalar_one()
        token = ("csv", "json", "xlsx", "prepared-csv", "prepared-json")
        ready = _reader_token(app, study) if step in token else None
        import pandas  # noqa: F401  (imports are not the step's time)

        import surveys.report  # noqa: F401

        start = _resident_mb()
        started, cpu = time.perf_counter(), time.process_time()
        outcome = RUNNERS[step](app, study, ready)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        peak = _peak_mb()
    print(
        json.dumps({"seconds": seconds, "cpu": cpu, "peak_mb": peak, "start_mb": start, **outcome})
    )


def _reader_token(app: Any, study: Any) -> str:
    """A read token of a researcher member of the study (made once per database)."""
    from elicit.extensions import db
    from surveys.accounts import create_user, grant_access
    from surveys.api_tokens import create_token
    from surveys.models import Role, User

    user = db.session.execute(db.select(User).where(User.email == READER_EMAIL)).scalar()
    if user is None:
        user = create_user(db.session, READER_EMAIL, "benchmark reader password", Role.RESEARCHER)
    grant_access(db.session, user, study)
    return create_token(db.session, user, f"benchmark {time.time()}", "read").secret


def run_report(app: Any, study: Any, ready: Any) -> dict[str, Any]:
    """The report of the study."""
    from elicit.extensions import db
    from surveys.report import study_report

    report = study_report(db.session, study, "en")
    return {"detail": f"{len(report.items)} items, {len(report.rounds)} round(s)"}


def _download(app: Any, study: Any, token: str, fmt: str) -> dict[str, Any]:
    """Download the export in ``fmt`` through the API, a block at a time; check its
    length and digest."""
    return _fetched(app, f"/api/v1/studies/{study.slug}/export/{fmt}", token, fmt)


def _prepare(study: Any, fmt: str) -> dict[str, Any]:
    """The job that prepares the export in ``fmt``: request it, write it."""
    from elicit.extensions import db
    from surveys.models import PreparedStatus
    from surveys.prepared_exports import request_export, write_prepared

    export = request_export(db.session, study, fmt, None).export
    state = write_prepared(db.session, export.id)
    if state != PreparedStatus.READY:
        raise RuntimeError(f"the prepared {fmt} export is {state.value}")
    db.session.refresh(export)
    return {"status": 200, "bytes": export.size, "detail": f"export {export.id}"}


def _prepared_download(app: Any, study: Any, token: str, fmt: str) -> dict[str, Any]:
    """Download the latest ready prepared export in ``fmt`` through the API."""
    from elicit.extensions import db
    from surveys.models import PreparedExport, PreparedStatus

    export_id = db.session.execute(
        db.select(PreparedExport.id).where(
            PreparedExport.study_id == study.id,
            PreparedExport.format == fmt,
            PreparedExport.status == PreparedStatus.READY,
        )
    ).scalar_one()
    db.session.commit()
    path = f"/api/v1/studies/{study.slug}/exports/{export_id}/file"
    return _fetched(app, path, token, fmt)


def _fetched(app: Any, path: str, token: str, fmt: str) -> dict[str, Any]:
    """GET ``path`` with ``token``, a block at a time; check its length and digest."""
    client = app.test_client()
    response = client.get(path, headers={"Authorization": f"Bearer {token}"}, buffered=False)
    if response.status_code == 409:
        detail = response.get_json()["detail"]
        response.close()
        return {"status": 409, "bytes": 0, "detail": detail}
    if response.status_code != 200:
        raise RuntimeError(f"the {fmt} download answered {response.status_code}")
    size = 0
    hashed = hashlib.sha256()
    try:
        for block in response.response:
            size += len(block)
            hashed.update(block)
    finally:
        response.close()
    expected = f"sha-256=:{base64.b64encode(hashed.digest()).decode('ascii')}:"
    if (
        size != int(response.headers["Content-Length"])
        or response.headers["Repr-Digest"] != expected
    ):
        raise RuntimeError(f"the {fmt} download differs from its length or digest")
    return {"status": 200, "bytes": size, "detail": ""}


def _before(study: Any, fmt: str) -> dict[str, Any]:
    """The export in ``fmt`` as it was made before the exports streamed, in memory."""
    from elicit.extensions import db
    from tests.surveys import export_reference as before

    tables = before.reference_export_tables(db.session, study)
    buffer = io.BytesIO()
    writers = {
        "csv": before.reference_csv_zip,
        "json": before.reference_json,
        "xlsx": before.reference_xlsx,
    }
    writers[fmt](tables, buffer)
    return {"status": 200, "bytes": buffer.tell(), "detail": ""}


def run_before_report(app: Any, study: Any, ready: Any) -> dict[str, Any]:
    """Today's report plus the whole export that the report built before."""
    from elicit.extensions import db
    from surveys.report import study_report
    from tests.surveys.export_reference import reference_export_tables

    reference_export_tables(db.session, study)
    study_report(db.session, study, "en")
    return {"detail": ""}


RUNNERS = {
    "report": run_report,
    "csv": lambda app, study, token: _download(app, study, token, "csv"),
    "json": lambda app, study, token: _download(app, study, token, "json"),
    "xlsx": lambda app, study, token: _download(app, study, token, "xlsx"),
    "prepare-csv": lambda app, study, _: _prepare(study, "csv"),
    "prepared-csv": lambda app, study, token: _prepared_download(app, study, token, "csv"),
    "prepare-json": lambda app, study, _: _prepare(study, "json"),
    "prepared-json": lambda app, study, token: _prepared_download(app, study, token, "json"),
    "before-report": run_before_report,
    "before-csv": lambda app, study, _: _before(study, "csv"),
    "before-json": lambda app, study, _: _before(study, "json"),
    "before-xlsx": lambda app, study, _: _before(study, "xlsx"),
}


# --------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------


@dataclass
class Measure:
    """One step: wall and CPU seconds, peak and starting resident MB, what it made."""

    seconds: float
    cpu: float
    peak_mb: float
    start_mb: float
    status: int = 200
    bytes: int = 0
    detail: str = ""
    failed: str = ""

    def cell(self) -> str:
        """The step in the table."""
        if self.failed:
            return f"failed: {self.failed}"
        grown = self.peak_mb - self.start_mb
        text = f"{self.seconds:.1f} s, {self.peak_mb:,.0f} MB peak (+{grown:,.0f})"
        if self.status == 409:
            return f"refused (409) in {self.seconds:.1f} s, {self.peak_mb:,.0f} MB peak"
        if self.bytes:
            text += f", {self.bytes / 2**20:,.1f} MB file"
        return text


@dataclass
class Row:
    """One size's figures."""

    panelists: int
    responses: int
    build_s: float
    close_s: float
    steps: dict[str, Measure] = field(default_factory=dict)


def run_step(step: str, url: str) -> Measure:
    """``step`` in a fresh process (see :func:`child`)."""
    command = [sys.executable, str(Path(__file__).resolve()), "--child", step, url]
    completed = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False)
    if completed.returncode != 0:
        error = (completed.stderr.strip().splitlines() or ["(no output)"])[-1]
        if "MemoryError" in completed.stderr or completed.returncode < 0:
            error = f"{error} (exit {completed.returncode})"
        return Measure(0, 0, 0, 0, failed=error[:200])
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    return Measure(**result)


def run_size(server_url: str, panelists: int, args: argparse.Namespace, folder: Path) -> Row:
    """Build and close the study, then measure every step, for one size."""
    name = f"elicit_exports_{panelists}"
    _admin(server_url, f"DROP DATABASE IF EXISTS {name}")
    _admin(server_url, f"CREATE DATABASE {name}")
    url = f"{server_url.replace('postgresql://', 'postgresql+psycopg://', 1)}/{name}"
    migrate(url, folder)
    built = build(url, panelists, sample=args.sample, seed=args.seed)
    print(
        f"N = {panelists:,}: {built.responses:,} responses stored in {built.seconds:.0f} s",
        flush=True,
    )
    close = close_in_child(url, None)
    print(f"N = {panelists:,}: round closed in {close.seconds:.1f} s", flush=True)
    row = Row(panelists, built.responses, built.seconds, close.seconds)
    before = args.before if args.before is not None else panelists <= BEFORE_UP_TO
    for step in STEPS + PREPARED_STEPS + (BEFORE_STEPS if before else ()):
        row.steps[step] = measure = run_step(step, url)
        print(f"N = {panelists:,}: {LABELS[step]}: {measure.cell()}", flush=True)
        if measure.detail and measure.status == 409:
            print(f"    {measure.detail}", flush=True)
    if not args.keep:
        _admin(server_url, f"DROP DATABASE IF EXISTS {name}")
    return row


def print_table(rows: list[Row]) -> bool:
    """The Markdown table of the run and the verdict on the targets; whether every
    step ran."""
    print("| step | " + " | ".join(f"N = {row.panelists:,}" for row in rows) + " |")
    print("|---|" + "---|" * len(rows))
    print("| responses stored | " + " | ".join(f"{row.responses:,}" for row in rows) + " |")
    print("| close (for reference) | " + " | ".join(f"{row.close_s:.1f} s" for row in rows) + " |")
    for step in STEPS + PREPARED_STEPS + BEFORE_STEPS:
        if any(step in row.steps for row in rows):
            cells = [row.steps[step].cell() if step in row.steps else "–" for row in rows]
            print(f"| {LABELS[step]} | " + " | ".join(cells) + " |")
    largest = max(rows, key=lambda row: row.panelists)
    steps = largest.steps
    report, csv, document = steps["report"], steps["csv"], steps["json"]
    prepared = [steps[step] for step in PREPARED_STEPS]
    verdicts = [
        (
            f"report {report.seconds:.1f} s, {report.peak_mb:,.0f} MB",
            f"< {REPORT_TARGET_S:.0f} s and {REPORT_TARGET_MB:,} MB",
            not report.failed
            and report.seconds < REPORT_TARGET_S
            and report.peak_mb < REPORT_TARGET_MB,
        ),
        (
            f"CSV {csv.peak_mb:,.0f} MB, JSON {document.peak_mb:,.0f} MB peak",
            f"< {DOWNLOAD_TARGET_MB} MB",
            not csv.failed
            and not document.failed
            and max(csv.peak_mb, document.peak_mb) < DOWNLOAD_TARGET_MB,
        ),
        (
            "prepared CSV and JSON: job and download "
            + ", ".join(f"{measure.peak_mb:,.0f}" for measure in prepared)
            + " MB peak",
            f"< {DOWNLOAD_TARGET_MB} MB",
            not any(measure.failed for measure in prepared)
            and max(measure.peak_mb for measure in prepared) < DOWNLOAD_TARGET_MB,
        ),
        (
            "xlsx " + ("refused" if steps["xlsx"].status == 409 else "written"),
            "written or refused",
            not steps["xlsx"].failed,
        ),
    ]
    print()
    print(
        f"At N = {largest.panelists:,}: "
        + "; ".join(
            f"{what} (target {target}: {'PASS' if ok else 'FAIL'})" for what, target, ok in verdicts
        )
        + "."
    )
    return not any(
        measure.failed
        for row in rows
        for step, measure in row.steps.items()
        if not step.startswith("before")
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--panelists", default="1000", help="comma-separated panel sizes (default 1000)"
    )
    parser.add_argument(
        "--server-url",
        help="a PostgreSQL server (postgresql://user@host:port) on which the script may "
        "create and drop databases elicit_exports_*; default: a private cluster",
    )
    parser.add_argument(
        "--sample", type=int, default=25, help="panelists who submit through the product"
    )
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument(
        "--before",
        action=argparse.BooleanOptionalAction,
        default=None,
        help=f"measure the exports as they were before they streamed (default: up to "
        f"{BEFORE_UP_TO:,} panelists)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the databases and folder")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        child(*args.child)
        return 0
    sizes = [int(size.replace("_", "")) for size in args.panelists.split(",") if size]
    folder = Path(tempfile.mkdtemp(prefix="elicit-exports-"))
    folder.chmod(0o711)  # the postgres user must reach its own subfolder
    rows: list[Row] = []
    with interrupts_as_exceptions(), contextlib.ExitStack() as cleanup:
        if not args.keep:
            cleanup.callback(shutil.rmtree, folder, ignore_errors=True)
        server_url = args.server_url
        if server_url is None:
            postgres = PrivatePostgres(folder / "postgresql")
            cleanup.callback(postgres.stop)
            postgres.create()
            server_url = f"postgresql://postgres@127.0.0.1:{postgres.port}"
        print(f"PostgreSQL at {server_url}; folder {folder}", flush=True)
        for panelists in sizes:
            rows.append(run_size(server_url.rstrip("/"), panelists, args, folder))
    print()
    complete = print_table(rows)
    if args.keep:
        print(f"\nkept: {folder}")
    return 0 if complete else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted: the private server is stopped, its folder removed unless --keep")
        sys.exit(130)
