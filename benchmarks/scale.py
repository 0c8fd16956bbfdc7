"""Every path of issue 15 at 1,000, 10,000 and 100,000 panelists, in one table.

For each size N (``--panelists``, comma-separated; 1,000 and 10,000 by default), on a
private PostgreSQL cluster (``initdb`` into a temporary folder, its own port, removed
at the end; the shared cluster on 5432 is never touched) or on a server given by
``--server-url``, the study is built ONCE and every step measured on it:

1. **build**: :func:`benchmarks.close.build` (the demo study, N panelists added with
   ``add_panelists`` in three groups, round 1 opened, every panelist's simulated
   answers stored: the first ``--sample`` through ``submit_responses``, the others by
   one ``COPY`` of the rows that function writes, compared on the sample).
2. **floor**: :func:`benchmarks.close.floor`, ``COPY (SELECT …) TO STDOUT`` of the
   round's responses parsed by pandas; it must read every stored response.
3. **close**: :func:`benchmarks.close.close_in_child`, ``close_round`` in a fresh
   process, timed around the call, with the process's peak resident memory; the
   summary must count N respondents.
4. **round 2**: opened with ``open_round``, an invitation queued for every panelist by
   ``queue_invitations`` (no mail server: they wait in the outbox), and a facilitator
   account given the study; timed, for reference.
5. **pages**, each in a fresh process through the app's test client, after one
   warm-up request (not timed):

   - **expert page**, ``GET /e/`` in round 2 by ``--requests`` different panelists
     spread over the panel (each with the session cookie their personal link sets):
     the median (p50) time and size, and the app's mean CPU time per request (this
     process's, not PostgreSQL's: steadier than the time on a shared machine); the
     page must show round 2 with round 1's feedback;
   - **console**: the panel page, the outbox and the study page (first page of each),
     as the facilitator logged in through the login form (CSRF included), each fetched
     ``--requests`` times: the median time and size, the CPU time per request.

6. **report** and **CSV / JSON / xlsx exports**: :func:`benchmarks.exports.run_step`,
   each in a fresh process (``study_report``; the API downloads, checked against their
   length and digest; the prepared CSV and JSON exports, the job then the download of
   its file), time and peak memory.

Build, floor, round 2 and the pages run in child processes too, so that this process
stays small: a child's peak memory (``VmHWM``, not ``getrusage``, which a child inherits
from its parent) is its own step's, the interpreter and imports included.

One Markdown table is printed: rows are steps, columns sizes, then the largest size ÷
the smallest (time, and size for pages).  The targets line says met or missed for each
target of issue 15 at the largest size run (the issue sets them at 100,000): close ≤ 3 ×
floor and under 2 GB; the expert page's time and size within 1.5 × of the smallest
size's; console pages under 1 s; report under 10 s and 1 GB; CSV and JSON downloads
under 500 MB; the workbook written or refused.  Exit status 1 when a check fails (a step
that fails or answers other than 200, a download that differs from its length or
digest, a floor or summary that misses responses), not when a target is missed.

Run: ``.venv/bin/python benchmarks/scale.py [--panelists 1000,10000,100000]
[--server-url postgresql://postgres@127.0.0.1:5433] [--keep]``.  Needs
``/usr/lib/postgresql/*/bin`` unless ``--server-url`` is given.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# As in close.py: the benchmarks folder holds a script called analysis.py, so it must
# not be on the import path (``analysis`` is the package); the project root is.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != _HERE]
if str(_HERE.parent) not in sys.path:
    sys.path.insert(0, str(_HERE.parent))

from benchmarks.close import (  # noqa: E402 (after the path is set)
    SLUG,
    TARGET_PEAK_MB,
    _admin,
    _app,
    _check_respondents,
    build,
    close_in_child,
    floor,
    warm_up,
)
from benchmarks.close import TARGET_RATIO as CLOSE_TARGET_RATIO  # noqa: E402
from benchmarks.console import PASSWORD, _logged_in  # noqa: E402
from benchmarks.expert_page import REASON  # noqa: E402
from benchmarks.exports import (  # noqa: E402
    DOWNLOAD_TARGET_MB,
    PREPARED_STEPS,
    REPORT_TARGET_MB,
    REPORT_TARGET_S,
    Measure,
    _peak_mb,
    _resident_mb,
    run_step,
)
from benchmarks.exports import LABELS as EXPORT_LABELS  # noqa: E402
from benchmarks.exports import STEPS as EXPORT_STEPS  # noqa: E402
from benchmarks.faults import PrivatePostgres, interrupts_as_exceptions, migrate  # noqa: E402

EXPERT_TARGET_RATIO = 1.5
CONSOLE_TARGET_S = 1.0
FACILITATOR = "benchmark.facilitator@scale.invalid"
#: On the expert page: an item's feedback from the round before.
FEEDBACK = b"data-feedback-item="
#: Page step → (label, path).
PAGES = {
    "expert": ("expert page in round 2, p50 of {n} panelists", "/e/"),
    "panel": ("console: panel page", f"/console/studies/{SLUG}/panel"),
    "outbox": ("console: outbox", f"/console/studies/{SLUG}/outbox"),
    "study": ("console: study page", f"/console/studies/{SLUG}"),
}


# --------------------------------------------------------------------------------------
# Children
# --------------------------------------------------------------------------------------


def in_child(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``function(*args, **kwargs)`` in a fresh Python process (spawned, not forked:
    nothing of this process's memory or state), its result returned."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(function, *args, **kwargs).result()


def open_round_two(url: str) -> dict[str, Any]:
    """Open round 2, queue an invitation to it for every panelist and give the study
    a facilitator; seconds taken and invitations queued."""
    from elicit.extensions import current_link_keys, db
    from surveys.accounts import create_user, grant_access
    from surveys.messaging import queue_invitations
    from surveys.models import Role, Study
    from surveys.rounds import open_round

    app = _app(url)
    with app.app_context():
        session = db.session
        study = session.execute(db.select(Study).where(Study.slug == SLUG)).scalar_one()
        started = time.perf_counter()
        round_two = open_round(session, study)
        queued = queue_invitations(
            session, study, round_two, "https://elicit.invalid", keys=current_link_keys()
        )
        seconds = time.perf_counter() - started
        grant_access(session, create_user(session, FACILITATOR, PASSWORD, Role.FACILITATOR), study)
        session.remove()
        db.engine.dispose()
    return {"seconds": seconds, "invitations": len(queued)}


def _experts(app: Any, count: int) -> list[Any]:
    """Test clients of ``count`` panelists spread evenly over the panel, each holding
    the session its personal link sets."""
    from elicit.expert.views import SESSION_KEY
    from elicit.extensions import db
    from surveys.models import Panelist, Study

    with app.app_context():
        study_id = db.session.execute(db.select(Study.id).where(Study.slug == SLUG)).scalar_one()
        in_study = db.select(Panelist.token_hash).where(Panelist.study_id == study_id)
        size = db.session.execute(
            db.select(db.func.count()).select_from(in_study.subquery())
        ).scalar_one()
        hashes = [
            db.session.execute(
                in_study.order_by(Panelist.id).offset(index * size // count).limit(1)
            ).scalar_one()
            for index in range(count)
        ]
        db.session.remove()
    clients = []
    for token_hash in hashes:
        client = app.test_client()
        with client.session_transaction() as session:
            session[SESSION_KEY] = token_hash
            session.permanent = True
        clients.append(client)
    return clients


def _facilitator(app: Any, count: int) -> list[Any]:
    """The facilitator's test client, logged in through the login form, ``count`` times."""
    return [_logged_in(app, FACILITATOR)] * count


def measure_page(url: str, step: str, requests: int) -> dict[str, Any]:
    """The page of ``step``: one warm-up request (a panelist not timed, for the expert
    page), then ``requests`` timed GETs; the median time and size, the process's CPU
    time and peak memory, as :class:`benchmarks.exports.Measure` takes them."""
    app = _app(url)
    visitors = (_experts if step == "expert" else _facilitator)(app, requests + 1)
    path = PAGES[step][1]
    warm = visitors[0].get(path)  # templates compiled, the study's snapshot read
    if warm.status_code != 200:
        raise RuntimeError(f"GET {path} answered {warm.status_code}")
    start = _resident_mb()
    cpu = time.process_time()
    times, sizes = [], []
    for client in visitors[1:]:
        started = time.perf_counter()
        response = client.get(path)
        body = response.get_data()
        times.append(time.perf_counter() - started)
        sizes.append(len(body))
        if response.status_code != 200:
            raise RuntimeError(f"GET {path} answered {response.status_code}")
        if step == "expert" and (b'id="carry-over"' not in body or FEEDBACK not in body):
            raise RuntimeError("the expert page does not show round 2 with round 1's feedback")
    return {
        "seconds": statistics.median(times),
        "cpu": (time.process_time() - cpu) / requests,
        "peak_mb": _peak_mb(),
        "start_mb": start,
        "bytes": int(statistics.median(sizes)),
        "detail": f"slowest {max(times) * 1000:,.0f} ms"
        + (f", {len(REASON.findall(body.decode()))} reasons shown" if step == "expert" else ""),
    }


# --------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------


@dataclass
class Row:
    """One size's figures."""

    panelists: int
    responses: int = 0
    build_s: float = 0.0
    floor_s: float = 0.0
    close: Measure | None = None
    round_two: dict[str, Any] = field(default_factory=dict)
    steps: dict[str, Measure] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)


def _failed(error: BaseException) -> Measure:
    """A step that did not finish, as a measure that says why."""
    lines = str(error).strip().splitlines() or [type(error).__name__]
    return Measure(0, 0, 0, 0, failed=lines[-1][:200])


def run_size(server_url: str, panelists: int, args: argparse.Namespace, folder: Path) -> Row:
    """Build the study once, then measure every step on it, for one size."""
    name = f"elicit_scale_{panelists}"
    _admin(server_url, f"DROP DATABASE IF EXISTS {name}")
    _admin(server_url, f"CREATE DATABASE {name}")
    url = f"{server_url.replace('postgresql://', 'postgresql+psycopg://', 1)}/{name}"
    migrate(url, folder)
    row = Row(panelists)
    built = in_child(build, url, panelists, sample=args.sample, seed=args.seed)
    row.responses, row.build_s = built.responses, built.seconds
    say = f"N = {panelists:,}:"
    print(f"{say} {built.responses:,} responses stored in {built.seconds:.0f} s", flush=True)
    row.floor_s, read = in_child(floor, url, built.round_id)
    if read != built.responses:
        row.failures.append(
            f"N = {panelists:,}: the floor read {read:,} rows, not {built.responses:,}"
        )
    close = close_in_child(url, None)
    row.close = Measure(close.seconds, close.cpu, close.peak_mb, 0)
    try:
        _check_respondents(url, 1, panelists)
    except RuntimeError as error:
        row.failures.append(f"N = {panelists:,}: {error}")
    print(
        f"{say} floor {row.floor_s:.2f} s, close {close.seconds:.1f} s "
        f"({close.peak_mb:,.0f} MB peak)",
        flush=True,
    )
    row.round_two = in_child(open_round_two, url)
    if row.round_two["invitations"] != panelists:
        row.failures.append(f"{say} {row.round_two['invitations']:,} invitations queued")
    print(
        f"{say} round 2 opened, {row.round_two['invitations']:,} invitations queued in "
        f"{row.round_two['seconds']:.1f} s",
        flush=True,
    )
    for step in PAGES:
        try:
            measure = Measure(**in_child(measure_page, url, step, args.requests))
        except Exception as error:  # the table says which step failed
            measure = _failed(error)
        row.steps[step] = measure
        detail = f" ({measure.detail})" if measure.detail else ""
        print(f"{say} {_label(step, args)}: {_cell(step, measure)}{detail}", flush=True)
    for step in (*EXPORT_STEPS, *PREPARED_STEPS):
        row.steps[step] = measure = run_step(step, url)
        print(f"{say} {_label(step, args)}: {_cell(step, measure)}", flush=True)
    row.failures += [
        f"{say} {_label(step, args)}: {measure.failed}"
        for step, measure in row.steps.items()
        if measure.failed
    ]
    if not args.keep:
        _admin(server_url, f"DROP DATABASE IF EXISTS {name}")
    return row


def _label(step: str, args: argparse.Namespace) -> str:
    """The step's name in the table."""
    if step in PAGES:
        return PAGES[step][0].format(n=args.requests)
    return EXPORT_LABELS[step]


def _cell(step: str, measure: Measure) -> str:
    """One step at one size: time, then size for a page, peak memory."""
    if measure.failed or step not in PAGES:
        return measure.cell()
    return (
        f"{measure.seconds * 1000:,.0f} ms (CPU {measure.cpu * 1000:,.0f} ms), "
        f"{measure.bytes / 1024:,.0f} kB page, "
        f"{measure.peak_mb:,.0f} MB peak"
    )


def _ratio(small: Measure, large: Measure, *, size: bool) -> str:
    """Largest size ÷ smallest: time, and the page's size."""
    if small.failed or large.failed or not small.seconds or small.status != large.status:
        return "–"  # a refused workbook is no faster way to write one
    text = f"{large.seconds / small.seconds:.2f}× time"
    if size and small.bytes and small.cpu:
        text += f", {large.cpu / small.cpu:.2f}× CPU, {large.bytes / small.bytes:.2f}× size"
    return text


def print_table(rows: list[Row], args: argparse.Namespace) -> None:
    """The Markdown table of the run, then the targets, met or missed."""
    smallest, largest = rows[0], rows[-1]
    several = len(rows) > 1
    ratio_head = f" N = {largest.panelists:,} ÷ N = {smallest.panelists:,} |" if several else ""
    print("| step | " + " | ".join(f"N = {row.panelists:,}" for row in rows) + " |" + ratio_head)
    print("|---|" + "---|" * (len(rows) + several))

    def line(label: str, cells: list[str], ratio: str = "") -> None:
        print(f"| {label} | " + " | ".join(cells) + " |" + (f" {ratio} |" if several else ""))

    line("responses stored", [f"{row.responses:,}" for row in rows])
    line(
        "`COPY` of the round's responses (floor)",
        [f"{row.floor_s:.2f} s" for row in rows],
        f"{largest.floor_s / smallest.floor_s:.2f}× time" if smallest.floor_s else "–",
    )
    closes = [row.close or _failed(RuntimeError("not run")) for row in rows]
    line(
        "`close_round` (fresh process)",
        [f"{close.seconds:.1f} s, {close.peak_mb:,.0f} MB peak" for close in closes],
        _ratio(closes[0], closes[-1], size=False),
    )
    line("close ÷ floor", [f"{row.close.seconds / row.floor_s:.1f}" for row in rows if row.close])
    line(
        "round 2 opened, invitations queued (setup)",
        [f"{row.round_two['seconds']:.1f} s" for row in rows],
    )
    for step in (*PAGES, *EXPORT_STEPS, *PREPARED_STEPS):
        line(
            _label(step, args),
            [_cell(step, row.steps[step]) for row in rows],
            _ratio(smallest.steps[step], largest.steps[step], size=step in PAGES),
        )
    print()
    at = f"N = {largest.panelists:,}" + (
        "" if largest.panelists == 100_000 else " (issue 15 sets them at 100,000)"
    )
    print(f"Targets at {at}: " + "; ".join(verdicts(smallest, largest)) + ".")


def verdicts(smallest: Row, largest: Row) -> list[str]:
    """Each target of issue 15 with its figure, met or missed."""
    steps = largest.steps

    def verdict(what: str, target: str, ok: bool) -> str:
        return f"{what} (target {target}: {'met' if ok else 'missed'})"

    close = largest.close or _failed(RuntimeError("not run"))
    ratio = close.seconds / largest.floor_s if largest.floor_s else float("inf")
    expert, first = steps["expert"], smallest.steps["expert"]
    expert_ok = not (expert.failed or first.failed)
    time_ratio = expert.seconds / first.seconds if expert_ok and first.seconds else float("inf")
    size_ratio = expert.bytes / first.bytes if expert_ok and first.bytes else float("inf")
    cpu_ratio = expert.cpu / first.cpu if expert_ok and first.cpu else float("inf")
    console = {step: steps[step] for step in PAGES if step != "expert"}
    slowest = max(console, key=lambda step: console[step].seconds)
    report, csv, document, xlsx = (steps[step] for step in EXPORT_STEPS)
    downloads = [csv, document, *(steps[step] for step in PREPARED_STEPS)]
    return [
        verdict(
            f"close ÷ floor {ratio:.1f}", f"≤ {CLOSE_TARGET_RATIO:.0f}", ratio <= CLOSE_TARGET_RATIO
        ),
        verdict(
            f"close peak {close.peak_mb:,.0f} MB",
            f"< {TARGET_PEAK_MB:,} MB",
            not close.failed and close.peak_mb < TARGET_PEAK_MB,
        ),
        verdict(
            f"expert page {time_ratio:.2f}× time ({cpu_ratio:.2f}× CPU), {size_ratio:.2f}× "
            f"size of N = {smallest.panelists:,}",
            f"≤ {EXPERT_TARGET_RATIO}×",
            max(time_ratio, size_ratio) <= EXPERT_TARGET_RATIO,
        ),
        verdict(
            f"slowest console page {console[slowest].seconds * 1000:,.0f} ms ({slowest})",
            f"< {CONSOLE_TARGET_S:.0f} s",
            not any(page.failed for page in console.values())
            and console[slowest].seconds < CONSOLE_TARGET_S,
        ),
        verdict(
            f"report {report.seconds:.1f} s, {report.peak_mb:,.0f} MB",
            f"< {REPORT_TARGET_S:.0f} s and {REPORT_TARGET_MB:,} MB",
            not report.failed
            and report.seconds < REPORT_TARGET_S
            and report.peak_mb < REPORT_TARGET_MB,
        ),
        verdict(
            f"CSV {csv.peak_mb:,.0f} MB, JSON {document.peak_mb:,.0f} MB peak; prepared "
            "(job, download) CSV "
            + ", ".join(f"{steps[step].peak_mb:,.0f}" for step in PREPARED_STEPS[:2])
            + " MB, JSON "
            + ", ".join(f"{steps[step].peak_mb:,.0f}" for step in PREPARED_STEPS[2:])
            + " MB",
            f"< {DOWNLOAD_TARGET_MB} MB",
            not any(measure.failed for measure in downloads)
            and max(measure.peak_mb for measure in downloads) < DOWNLOAD_TARGET_MB,
        ),
        verdict(
            "xlsx " + ("refused" if xlsx.status == 409 else "written"),
            "written or refused",
            not xlsx.failed,
        ),
    ]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--panelists",
        default="1000,10000",
        help="comma-separated panel sizes, smallest first (default 1000,10000)",
    )
    parser.add_argument(
        "--server-url",
        help="a PostgreSQL server (postgresql://user@host:port) on which the script may "
        "create and drop databases elicit_scale_*; default: a private cluster",
    )
    parser.add_argument(
        "--sample", type=int, default=25, help="panelists who submit through the product"
    )
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--requests", type=int, default=9, help="timed GETs per page (default 9)")
    parser.add_argument("--keep", action="store_true", help="keep the databases and folder")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = sorted(int(size.replace("_", "")) for size in args.panelists.split(",") if size)
    folder = Path(tempfile.mkdtemp(prefix="elicit-scale-"))
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
        print(f"bootstrap kernel compiled or loaded in {warm_up():.1f} s", flush=True)
        for panelists in sizes:
            rows.append(run_size(server_url.rstrip("/"), panelists, args, folder))
    print()
    print_table(rows, args)
    failures = [failure for row in rows for failure in row.failures]
    for failure in failures:
        print(f"check failed: {failure}")
    if args.keep:
        print(f"\nkept: {folder}")
    return 1 if failures else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted: the private server is stopped, its folder removed unless --keep")
        sys.exit(130)
