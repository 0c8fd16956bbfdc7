"""The expert page in round 2 at 1,000 and 100,000 panelists: time and size.

For each size N (``--panelists``, comma-separated; 1,000 and 100,000 by default), on a
private PostgreSQL cluster (``initdb`` into a temporary folder, its own port, removed
at the end) or on a server given by ``--server-url``:

1. The study is built as ``benchmarks/close.py`` builds it (its :func:`build`: the demo
   study, N panelists, round 1 answered by all of them with simulated answers and
   reasons, the product's rows checked on a sample); round 1 is closed by
   ``close_round`` in a child process (timed: the close now also writes the feedback
   records, :mod:`surveys.feedback`), and round 2 opened.  The feedback's share of the
   close is then timed alone: round 1's records and reasons deleted and written again
   by ``store_feedback``.
2. In a fresh process, the app's test client opens the session of one panelist who
   answered round 1 (the session cookie the personal link would set) and asks for
   ``GET /e/`` ``--requests`` times after one warm-up request, then
   ``GET /e/?reasons=<item>&page=2`` ("Show more reasons") likewise.
3. Once every size is built, each is measured again ``--turns`` times, the sizes taking
   turns, so that all share the machine's load: the median (p50) and slowest time over
   every request, the page's size, the number of list items and of the panel's reasons
   on it.

One Markdown table is printed, with the ratio of the largest size to the smallest.
Target (issue 15, point 2): at 100,000 panelists the page's time and size within 1.5×
of those at 1,000.  The issue measured, before this work, 122 ms and 0.37 MB at 1,000
and 4.5 s, 20 MB and 598,582 list items at 100,000.

Run: ``.venv/bin/python benchmarks/expert_page.py [--panelists 1000,100000]
[--server-url postgresql://postgres@127.0.0.1:5433] [--keep]``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import shutil
import statistics
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

from benchmarks.close import SLUG, _admin, _app, build, close_in_child  # noqa: E402
from benchmarks.faults import PrivatePostgres, interrupts_as_exceptions, migrate  # noqa: E402
from benchmarks.submit import ROOT  # noqa: E402

TARGET_RATIO = 1.5
REASON = re.compile(r'<span class="rationale-text"')
LIST_ITEM = re.compile(r"<li[ >]")


def child(url: str, requests: int, write: bool) -> None:
    """Time the expert page of one panelist of round 1 (after timing the feedback's
    write, with ``write``); print the figures as JSON."""
    from elicit.expert.views import SESSION_KEY
    from elicit.extensions import db
    from surveys.models import Panelist, Response, Study
    from surveys.rounds import open_round, open_round_of

    app = _app(url)
    with app.app_context():
        study = db.session.execute(db.select(Study).where(Study.slug == SLUG)).scalar_one()
        if open_round_of(db.session, study) is None:
            open_round(db.session, study)
        panelist = db.session.execute(
            db.select(Panelist)
            .join(Response, Response.panelist_id == Panelist.id)
            .where(Panelist.study_id == study.id)
            .order_by(Panelist.id)
            .limit(1)
        ).scalar_one()
        token_hash = panelist.token_hash
    figures: dict[str, Any] = {"write": _feedback_write(app)} if write else {}
    client = app.test_client()
    with client.session_transaction() as session:
        session[SESSION_KEY] = token_hash
        session.permanent = True
    for name, path in (("page", "/e/"), ("more", "/e/?reasons=trust_now&page=2")):
        client.get(path)  # warm-up: the study snapshot, the first queries
        times, body = [], b""
        for _ in range(requests):
            started = time.perf_counter()
            response = client.get(path)
            times.append(time.perf_counter() - started)
            if response.status_code != 200:
                raise RuntimeError(f"GET {path} answered {response.status_code}")
            body = response.data
        text = body.decode("utf-8")
        figures[name] = {
            "times": times,
            "p50": statistics.median(times),
            "slowest": max(times),
            "bytes": len(body),
            "list_items": len(LIST_ITEM.findall(text)),
            "reasons": len(REASON.findall(text)),
        }
    print(json.dumps(figures))


def _feedback_write(app: Any) -> dict[str, Any]:
    """The close's share that writes the feedback (:func:`surveys.feedback.store_feedback`),
    timed alone: round 1's records and reasons are deleted and written again."""
    from elicit.extensions import db
    from surveys.feedback import store_feedback
    from surveys.models import FeedbackReason, ItemFeedback, Round, RoundSummary, Study

    with app.app_context():
        study = db.session.execute(db.select(Study).where(Study.slug == SLUG)).scalar_one()
        round_ = db.session.execute(
            db.select(Round).where(Round.study_id == study.id, Round.number == 1)
        ).scalar_one()
        statistics = db.session.execute(
            db.select(RoundSummary.statistics).where(RoundSummary.round_id == round_.id)
        ).scalar_one()
        db.session.execute(db.delete(FeedbackReason).where(FeedbackReason.round_id == round_.id))
        db.session.execute(db.delete(ItemFeedback).where(ItemFeedback.round_id == round_.id))
        db.session.commit()
        started = time.perf_counter()
        store_feedback(db.session, round_, statistics, study)
        db.session.commit()
        seconds = time.perf_counter() - started
        reasons = db.session.execute(
            db.select(db.func.count()).select_from(FeedbackReason)
        ).scalar_one()
    return {"seconds": seconds, "reasons": reasons}


@dataclass
class Row:
    """One size's figures."""

    panelists: int
    responses: int
    close_s: float
    close_mb: float
    url: str = ""
    write: dict[str, Any] = field(default_factory=dict)
    pages: dict[str, dict[str, Any]] = field(default_factory=dict)


def run_size(server_url: str, panelists: int, args: argparse.Namespace, folder: Path) -> Row:
    """Build, close round 1, open round 2 and time the page, for one size."""
    name = f"elicit_expert_page_{panelists}"
    _admin(server_url, f"DROP DATABASE IF EXISTS {name}")
    _admin(server_url, f"CREATE DATABASE {name}")
    url = f"{server_url.replace('postgresql://', 'postgresql+psycopg://', 1)}/{name}"
    migrate(url, folder)
    built = build(url, panelists, sample=args.sample, seed=args.seed)
    print(f"N = {panelists:,}: {built.responses:,} responses stored", flush=True)
    close = close_in_child(url, None)
    print(
        f"N = {panelists:,}: round 1 closed in {close.seconds:.1f} s, {close.peak_mb:,.0f} MB peak",
        flush=True,
    )
    row = Row(panelists, built.responses, close.seconds, close.peak_mb, url=url)
    pages = measure(row, args, write=True)
    row.write = pages.pop("write")
    print(
        f"N = {panelists:,}: feedback written in {row.write['seconds']:.1f} s "
        f"({row.write['reasons']:,} reasons)",
        flush=True,
    )
    return row


def measure(row: Row, args: argparse.Namespace, *, write: bool = False) -> dict[str, Any]:
    """One child's figures for ``row``'s database, added to the row's pages (their
    times pooled over every measurement, so that sizes measured in turns share the
    machine's load)."""
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        row.url,
        str(args.requests),
        "1" if write else "0",
    ]
    completed = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"the expert page failed:\n{completed.stderr[-3000:]}")
    pages: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    for page, figures in pages.items():
        if page == "write":
            continue
        pooled = row.pages.setdefault(page, {**figures, "times": []})
        pooled["times"] += figures["times"]
        pooled["p50"] = statistics.median(pooled["times"])
        pooled["slowest"] = max(pooled["times"])
        print(f"N = {row.panelists:,}: {page}: {_cell(figures)}", flush=True)
    return pages


def _cell(figures: dict[str, Any]) -> str:
    """One page's figures in the table."""
    return (
        f"{figures['p50'] * 1000:,.0f} ms p50 (slowest {figures['slowest'] * 1000:,.0f}), "
        f"{figures['bytes'] / 2**20:.2f} MB, {figures['list_items']} list items, "
        f"{figures['reasons']} reasons"
    )


def print_table(rows: list[Row]) -> None:
    """The Markdown table of the run, with the largest size against the smallest."""
    smallest, largest = rows[0], rows[-1]
    ratio = len(rows) > 1
    header = " | ".join(f"N = {row.panelists:,}" for row in rows)
    print(f"| step | {header} |" + (" ratio |" if ratio else ""))
    print("|---|" + "---|" * len(rows) + ("---|" if ratio else ""))
    print("| responses | " + " | ".join(f"{row.responses:,}" for row in rows) + " |")
    close_cells = " | ".join(f"{row.close_s:.1f} s, {row.close_mb:,.0f} MB peak" for row in rows)
    print(f"| `close_round` (writes the feedback) | {close_cells} |")
    write_cells = " | ".join(
        f"{row.write['seconds']:.1f} s, {row.write['reasons']:,} reasons" for row in rows
    )
    print(f"| of which the feedback (`store_feedback`, alone) | {write_cells} |")
    for page, label in (("page", "expert page, round 2"), ("more", "“Show more reasons”")):
        cells = " | ".join(_cell(row.pages[page]) for row in rows)
        extra = ""
        if ratio:
            time_ratio = largest.pages[page]["p50"] / smallest.pages[page]["p50"]
            size_ratio = largest.pages[page]["bytes"] / smallest.pages[page]["bytes"]
            extra = f" {time_ratio:.2f}× time, {size_ratio:.2f}× size |"
        print(f"| {label} | {cells} |" + extra)
    if ratio:
        time_ratio = largest.pages["page"]["p50"] / smallest.pages["page"]["p50"]
        size_ratio = largest.pages["page"]["bytes"] / smallest.pages["page"]["bytes"]
        met = time_ratio <= TARGET_RATIO and size_ratio <= TARGET_RATIO
        print(
            f"\nTarget (≤ {TARGET_RATIO}× of N = {smallest.panelists:,} at "
            f"N = {largest.panelists:,}): {'met' if met else 'NOT met'} "
            f"({time_ratio:.2f}× time, {size_ratio:.2f}× size)."
        )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--panelists", default="1000,100000", help="comma-separated panel sizes")
    parser.add_argument(
        "--server-url",
        help="a PostgreSQL server (postgresql://user@host:port) on which the script may "
        "create and drop databases elicit_expert_page_*; default: a private cluster",
    )
    parser.add_argument(
        "--sample", type=int, default=25, help="panelists who submit through the product"
    )
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--requests", type=int, default=9, help="timed GETs per page")
    parser.add_argument(
        "--turns",
        type=int,
        default=3,
        help="after building every size, measure each again this many times, in turn",
    )
    parser.add_argument("--keep", action="store_true", help="keep the databases and folder")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        child(args.child[0], int(args.child[1]), args.child[2] == "1")
        return 0
    sizes = [int(size.replace("_", "")) for size in args.panelists.split(",") if size]
    folder = Path(tempfile.mkdtemp(prefix="elicit-expert-page-"))
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
        for _ in range(args.turns):
            for row in rows:
                measure(row, args)
        if not args.keep:
            for row in rows:
                _admin(server_url, f"DROP DATABASE IF EXISTS {row.url.rsplit('/', 1)[1]}")
    print()
    print_table(rows)
    if args.keep:
        print(f"\nkept: {folder}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted: the private server is stopped, its folder removed unless --keep")
        sys.exit(130)
