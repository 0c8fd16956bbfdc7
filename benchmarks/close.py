"""Closing a round of 1,000, 10,000 and 100,000 panelists, against a COPY floor.

For each size N (``--sizes``), on a private PostgreSQL cluster (``initdb`` into a
temporary folder, its own port, removed at the end; the shared cluster on 5432 is never
touched) or on a server given by ``--server-url``:

1. A fresh database is migrated (``elicit db upgrade``), the demo study loaded, N
   panelists added (``add_panelists``, the console's function) in the three groups of
   the demo, and round 1 opened (``open_round``).
2. Every panelist's answers are simulated (``surveys.simulation``) and parsed by the
   product's own parser (``surveys.answers.parse_answers``).  The first ``--sample``
   panelists submit through ``surveys.answers.submit_responses``; the others' response
   rows are written with one ``COPY``, built as that function writes them (the same
   JSON text, rationale, item version, status and timestamps).  The rows the product
   wrote for the sample are compared, column by column, with the rows this script
   would have written for them: any difference ends the run.
3. The database is copied (``CREATE DATABASE … TEMPLATE``) so that the round can be
   closed twice, then, in this order:

   - **floor**: ``COPY (SELECT pseudonym, group, round, item key, answer, rationale of
     the round's submitted responses, joined as the close reads them) TO STDOUT``,
     parsed by ``pandas.read_csv``, in this process;
   - **close**: ``surveys.rounds.close_round`` in a fresh Python process, timed around
     the call only (not the imports), with its CPU time (all its threads) and the
     process's peak resident memory when the call returns (``VmHWM``; the interpreter
     and its imports included; read before this script loads the stored summary back
     to compare it, whose copy is the script's, and printed beside it).  Not
     ``getrusage``'s ``ru_maxrss``, which a child started from this process inherits
     from it: this process holds the panel it built (1.7 to 2.1 GB at 100,000
     panelists), so the close peaks measured that way up to 2026-12-06 were the larger
     of the builder's and the close's.  The bootstrap kernel is compiled once before
     the first size (numba caches it on disk, as after the first close of an
     installation);
   - **CLI**: ``elicit round close SLUG`` on the copy, under ``/usr/bin/time -v``:
     wall time, CPU and peak memory, start-up included.

   Both closes must store the same summary, with N respondents.
4. Unless ``--rounds 1``: round 2 is opened (``open_round``) and answered as round 1
   was, each panelist's likert and probability answers moved halfway to the panel's
   round-1 median (as the demo's simulated panel answers, ``surveys.demo``); its floor
   and its close are timed as round 1's.  A later round's close reads two rounds (for
   stability, the changes of median, IQR and CV and the pairs of answers), so it is the
   heavier one.

One Markdown table is printed: the floor, the close, close ÷ floor, the close's CPU
and peak memory, the CLI's, and the same for round 2.  Targets (issue 15): at 100,000
panelists a close takes at most 3× its floor, and its peak memory stays under 2 GB.
Exit status 1 when a check fails (not when a target is missed: the table says so).

Run: ``.venv/bin/python benchmarks/close.py [--sizes 1000,10000,100000]
[--server-url postgresql://postgres@127.0.0.1:5433] [--keep] [--profile]``.  Needs
``/usr/lib/postgresql/*/bin`` unless ``--server-url`` is given; as root, PostgreSQL runs
as the ``postgres`` user (``runuser``).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# As in submit.py: the benchmarks folder holds a script called analysis.py, so it must
# not be on the import path (``analysis`` is the package); the project root is.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != _HERE]
if str(_HERE.parent) not in sys.path:
    sys.path.insert(0, str(_HERE.parent))

from benchmarks.faults import (  # noqa: E402 (after the path is set)
    GROUPS,
    PrivatePostgres,
    interrupts_as_exceptions,
    migrate,
    study_source,
)
from benchmarks.submit import ROOT, VENV_BIN  # noqa: E402

SLUG = "close-benchmark"
TARGET_RATIO = 3.0
TARGET_PEAK_MB = 2048
#: Panelists added per call of ``add_panelists`` (one transaction each).
PANEL_BATCH = 20_000
#: The response columns the script writes, in COPY order.
RESPONSE_COLUMNS = (
    "round_id",
    "panelist_id",
    "item_id",
    "item_version",
    "answer",
    "rationale",
    "status",
    "created_at",
    "updated_at",
    "submitted_at",
)
FLOOR_QUERY = """
    SELECT p.pseudonym, p."group", r.number, i.key, s.answer, s.rationale
    FROM response AS s
    JOIN panelist AS p ON p.id = s.panelist_id
    JOIN round AS r ON r.id = s.round_id
    JOIN item AS i ON i.id = s.item_id
    WHERE s.round_id = {round_id} AND s.status = 'submitted'
"""


# --------------------------------------------------------------------------------------
# Building the study
# --------------------------------------------------------------------------------------


@dataclass
class Built:
    """A study with a full round of answers, ready to close."""

    url: str
    round_id: int
    panelists: int
    responses: int
    seconds: float
    #: Each panelist's answers as typed into the form, in the order of their ids.
    forms: list[dict[str, str]]


def _resident_mb() -> float:
    """The process's resident memory now, in MB (Linux)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_mb() -> float:
    """The process's peak resident memory, in MB: ``VmHWM`` (Linux), not
    ``getrusage``'s ``ru_maxrss``, which a child process inherits from its parent's
    resident memory when it was started (this script's parent holds the built panel)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("/proc/self/status has no VmHWM")


def _app(url: str) -> Any:
    """The product's application on ``url`` (for its session and functions)."""
    from elicit import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "benchmark " * 4})


def build(url: str, panelists: int, *, sample: int, seed: int) -> Built:
    """Load the demo, add the panel, open round 1 and store everyone's answers (see the
    module's description); return the round to close."""
    from elicit.extensions import current_link_keys, db
    from surveys.definition import parse_definition
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
        rng = random.Random(seed)
        forms = [simulated_answers(rng, definition) for _ in range(panelists)]
        round_id, total = _store_answers(app, study, round_, forms, sample=sample)
    return Built(url, round_id, panelists, total, time.perf_counter() - started, forms)


def answer_next_round(built: Built, *, sample: int) -> Built:
    """Open the study's next round (``open_round``) and store everyone's answers to it
    as :func:`build` stores round 1's: each panelist's round-1 answers with every likert
    and probability answer moved halfway to the panel's round-1 median, as the demo's
    simulated panel answers its second round (``surveys.demo``).  Its close then reads
    two rounds and measures stability between them."""
    from elicit.extensions import db
    from surveys.demo import _toward_the_median
    from surveys.models import Study
    from surveys.rounds import open_round
    from surveys.studies import study_definition

    started = time.perf_counter()
    app = _app(built.url)
    with app.app_context():
        session = db.session
        study = session.execute(db.select(Study).where(Study.slug == SLUG)).scalar_one()
        definition = study_definition(study)
        moved = _toward_the_median(definition, dict(enumerate(built.forms)))
        forms = [moved[number] for number in range(len(built.forms))]
        round_ = open_round(session, study)
        round_id, total = _store_answers(app, study, round_, forms, sample=sample)
    return Built(built.url, round_id, built.panelists, total, time.perf_counter() - started, forms)


def _store_answers(
    app: Any, study: Any, round_: Any, forms: list[dict[str, str]], *, sample: int
) -> tuple[int, int]:
    """Store ``forms[i]`` as the answers of the study's i-th panelist (by id) to the open
    ``round_``: the first ``sample`` through ``submit_responses``, the others with one
    ``COPY`` of the rows that function writes, checked against the sample's; return the
    round's id and the rows stored.  Ends the app's session."""
    from elicit.extensions import db
    from surveys.answers import answer_rules, parse_answers, submit_responses
    from surveys.models import Item, Panelist, ResponseStatus
    from surveys.studies import study_definition

    session = db.session
    definition = study_definition(study)
    panel = (
        session.execute(
            db.select(Panelist).where(Panelist.study_id == study.id).order_by(Panelist.id)
        )
        .scalars()
        .all()
    )
    items = {
        key: (item_id, version)
        for item_id, key, version in session.execute(
            db.select(Item.id, Item.key, Item.version).where(Item.study_id == study.id)
        )
    }
    rules = answer_rules(session, round_, definition)
    now = datetime.now(UTC)
    status = ResponseStatus.SUBMITTED.value
    round_id = round_.id

    def rows_of(panelist_id: int, form: dict[str, str]) -> list[tuple[Any, ...]]:
        parsed = parse_answers(definition.items, form, rules)
        return [
            (
                round_id,
                panelist_id,
                items[key][0],
                items[key][1],
                json.dumps(answer),
                parsed.rationales.get(key),
                status,
                now,
                now,
                now,
            )
            for key, answer in parsed.answers.items()
        ]

    checked: dict[int, list[tuple[Any, ...]]] = {}
    for panelist, form in zip(panel[:sample], forms[:sample], strict=True):
        submit_responses(session, panelist, form, now=now)
        checked[panelist.id] = rows_of(panelist.id, form)
    ids = [panelist.id for panelist in panel]
    session.remove()
    written = 0
    connection = db.engine.raw_connection()
    try:
        cursor = connection.cursor()
        columns = ", ".join(RESPONSE_COLUMNS)
        with cursor.copy(f"COPY response ({columns}) FROM STDIN") as copy:  # type: ignore[attr-defined]
            for panelist_id, form in zip(ids[sample:], forms[sample:], strict=True):
                for row in rows_of(panelist_id, form):
                    copy.write_row(row)
                    written += 1
        connection.commit()
        _check_sample(cursor, round_id, checked)
        cursor.execute("ANALYZE")
        connection.commit()
    finally:
        connection.close()
    db.engine.dispose()
    return round_id, written + sum(len(rows) for rows in checked.values())


def _check_sample(cursor: Any, round_id: int, expected: dict[int, list[tuple[Any, ...]]]) -> None:
    """The rows the product stored for the sample equal those this script writes for
    the others (the answer's JSON text included); raise otherwise."""
    columns = ", ".join(
        "answer::text"
        if column == "answer"
        else f"{column}::text"
        if column == "status"
        else column
        for column in RESPONSE_COLUMNS
    )
    for panelist_id, rows in expected.items():
        cursor.execute(
            f"SELECT {columns} FROM response WHERE round_id = %s AND panelist_id = %s "
            "ORDER BY item_id",
            (round_id, panelist_id),
        )
        stored = [tuple(row) for row in cursor.fetchall()]
        if stored != sorted(rows, key=lambda row: row[2]):
            raise RuntimeError(
                f"the product stored panelist {panelist_id}'s answers differently from the "
                f"bulk rows:\n  product: {stored[:2]}\n  bulk:    {sorted(rows)[:2]}"
            )


# --------------------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------------------


def floor(url: str, round_id: int) -> tuple[float, int]:
    """Seconds to COPY the round's responses out and parse them with pandas; rows."""
    import pandas as pd
    import psycopg

    started = time.perf_counter()
    with psycopg.connect(_libpq(url)) as connection, connection.cursor() as cursor:
        buffer = io.BytesIO()
        query = FLOOR_QUERY.format(round_id=int(round_id))
        with cursor.copy(f"COPY ({query}) TO STDOUT WITH (FORMAT csv)") as copy:
            for block in copy:
                buffer.write(block)
    buffer.seek(0)
    frame = pd.read_csv(
        buffer,
        header=None,
        names=["panelist", "group", "round", "item", "answer", "rationale"],
        keep_default_na=False,
    )
    return time.perf_counter() - started, len(frame)


def _libpq(url: str) -> str:
    """A SQLAlchemy URL as libpq takes it."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@dataclass
class Measure:
    """One close: wall seconds, CPU seconds, peak resident MB, the stored summary, and
    the child's peak once it has read the summary back to check it (0 for the CLI)."""

    seconds: float
    cpu: float
    peak_mb: float
    summary: str = ""
    checked_peak_mb: float = 0.0


def warm_up() -> float:
    """Compile the bootstrap kernel once (numba caches it on disk), as the first close
    after an install does; seconds taken.  The timed closes then load it from the cache."""
    code = (
        "import numpy as np\n"
        "from analysis.bootstrap_kernel import order_statistics_of_resamples\n"
        "order_statistics_of_resamples(np.random.default_rng([0, 1]), 5, 2, 2, 2)\n"
    )
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
    return time.perf_counter() - started


def close_in_child(url: str, profile: Path | None, memory: Path | None = None) -> Measure:
    """``close_round`` in a fresh process, timed around the call (see :func:`child`)."""
    command = [sys.executable, str(Path(__file__).resolve()), "--child", url]
    if profile is not None:
        command += ["--profile-to", str(profile)]
    if memory is not None:
        command += ["--memory-to", str(memory)]
    completed = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"the close failed:\n{completed.stderr[-3000:]}")
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    return Measure(
        result["seconds"],
        result["cpu"],
        result["peak_mb"],
        result["summary"],
        result["checked_peak_mb"],
    )


#: The memory watch's step: a new high of the resident set this much above the last
#: one recorded is recorded with where the close was.
MEMORY_STEP = 50 * 2**20


def _watch_memory(path: str, stop: threading.Event) -> None:
    """Until ``stop``, sample the process's resident set every 20 ms; at each new high
    (by :data:`MEMORY_STEP`) note the main thread's innermost frames in this project,
    then write the notes to ``path`` as JSON: where the close's memory grew."""
    import traceback

    main = threading.main_thread().ident
    page = os.sysconf("SC_PAGE_SIZE")
    root = str(ROOT)
    recorded, notes = 0, []
    with open("/proc/self/statm", encoding="ascii") as statm:
        while not stop.wait(0.02):
            statm.seek(0)
            resident = int(statm.read().split()[1]) * page
            if resident < recorded + MEMORY_STEP:
                continue
            recorded = resident
            frame = sys._current_frames().get(main or 0)
            stack = traceback.extract_stack(frame) if frame is not None else []
            # A frame held here would keep its function's arrays alive after it
            # returns, until the next note: the watch would raise the peak it measures.
            del frame
            where = [
                f"{Path(entry.filename).relative_to(root)}:{entry.lineno} {entry.name}"
                for entry in stack
                if entry.filename.startswith(root) and "/benchmarks/" not in entry.filename
            ]
            notes.append({"mb": resident / 2**20, "where": where[-3:]})
    Path(path).write_text(json.dumps(notes), encoding="utf-8")


#: The steps of a close after each of which ``--memory`` reads the process's peak.
CLOSE_STEPS = (
    "responses_frame",
    "frame_summary",
    "classical_model_summary",
    "signpost_summary",
    "close_cross_impact",
    "panel_comments",
    "store_feedback",
    "store_coherence",
    "retire_at_consensus",
    "refresh_scores",
)


def _note_steps() -> list[dict[str, Any]]:
    """Wrap each of :data:`CLOSE_STEPS` (looked up in ``surveys.rounds`` when the close
    calls it) so that its end notes the process's peak and resident memory.  The
    kernel's peak misses nothing, where the 20 ms samples of :func:`_watch_memory` miss
    an array allocated and freed while one call holds the interpreter."""
    import functools

    import surveys.rounds

    notes: list[dict[str, Any]] = []

    def noted(name: str, function: Any) -> Any:
        @functools.wraps(function)
        def step(*args: Any, **kwargs: Any) -> Any:
            try:
                return function(*args, **kwargs)
            finally:
                notes.append({"step": name, "peak_mb": _peak_mb(), "resident_mb": _resident_mb()})

        return step

    for name in CLOSE_STEPS:
        setattr(surveys.rounds, name, noted(name, getattr(surveys.rounds, name)))
    return notes


def _print_memory(path: Path) -> None:
    """Where the close's resident memory grew (see :func:`_watch_memory`), then the
    peak after each step (:func:`_note_steps`)."""
    for note in json.loads(path.read_text(encoding="utf-8")):
        print(f"{note['mb']:8,.0f} MB  " + " < ".join(reversed(note["where"])))
    steps = Path(f"{path}.steps")
    if steps.exists():
        for note in json.loads(steps.read_text(encoding="utf-8")):
            print(
                f"after {note['step']}: peak {note['peak_mb']:,.0f} MB, "
                f"resident {note['resident_mb']:,.0f} MB"
            )


def child(url: str, profile_to: str | None, memory_to: str | None = None) -> None:
    """Close the study's round through the product, print the measures as JSON."""
    from elicit.extensions import db
    from surveys.models import RoundSummary, Study
    from surveys.rounds import close_round

    app = _app(url)
    with app.app_context():
        study = db.session.execute(db.select(Study).where(Study.slug == SLUG)).scalar_one()
        profiler = None
        if profile_to:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        stop, watcher, steps = threading.Event(), None, None
        if memory_to:
            watcher = threading.Thread(target=_watch_memory, args=(memory_to, stop), daemon=True)
            watcher.start()
            steps = _note_steps()
        started, cpu = time.perf_counter(), time.process_time()
        summary = close_round(db.session, study)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        if watcher is not None:
            stop.set()
            watcher.join()
            Path(f"{memory_to}.steps").write_text(json.dumps(steps), encoding="utf-8")
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(profile_to)
        # The close's peak, read before the check below loads the stored summary back:
        # that copy is this script's, not the close's (it raised round 1's peak at
        # 100,000 panelists from 1,318 to 1,646 MB).
        peak = _peak_mb()
        summary_id = summary.id
        del summary
        db.session.remove()
        stored = db.session.execute(
            db.select(RoundSummary.statistics).where(RoundSummary.id == summary_id)
        ).scalar_one()
        checked = _peak_mb()
        print(
            json.dumps(
                {
                    "seconds": seconds,
                    "cpu": cpu,
                    "peak_mb": peak,
                    "checked_peak_mb": checked,
                    "summary": json.dumps(stored),
                }
            )
        )


def time_report(said: str) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds and peak resident MB from ``/usr/bin/time -v``'s
    report ``said``."""

    def field(name: str) -> str:
        match = re.search(rf"^\s*{re.escape(name)}: (.+)$", said, re.MULTILINE)
        if match is None:
            raise RuntimeError(f"/usr/bin/time did not report {name!r}")
        return match.group(1).strip()

    clock = [
        float(part) for part in field("Elapsed (wall clock) time (h:mm:ss or m:ss)").split(":")
    ]
    seconds = sum(part * 60**power for power, part in enumerate(reversed(clock)))
    cpu = float(field("User time (seconds)")) + float(field("System time (seconds)"))
    return seconds, cpu, int(field("Maximum resident set size (kbytes)")) / 1024


def close_with_cli(url: str, folder: Path) -> Measure:
    """``elicit round close`` under ``/usr/bin/time -v``; the summary read afterwards."""
    env = {
        **os.environ,
        "ELICIT_DATABASE_URL": url,
        "ELICIT_INSTANCE_PATH": str(folder),
        "ELICIT_SECRET_KEY": "benchmark " * 4,
    }
    completed = subprocess.run(
        ["/usr/bin/time", "-v", str(VENV_BIN / "elicit"), "round", "close", SLUG],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"elicit round close failed:\n{completed.stderr[-3000:]}")
    seconds, cpu, peak = time_report(completed.stderr)
    import psycopg

    with psycopg.connect(_libpq(url)) as connection:
        (stored,) = connection.execute(
            "SELECT statistics::text FROM round_summary ORDER BY id DESC LIMIT 1"
        ).fetchone()  # type: ignore[misc]
    return Measure(seconds, cpu, peak, json.dumps(json.loads(stored)))


# --------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------


@dataclass
class Later:
    """Round 2 of one size: its responses, floor and close."""

    responses: int
    floor_s: float
    close: Measure

    @property
    def ratio(self) -> float:
        """Close ÷ floor."""
        return self.close.seconds / self.floor_s


@dataclass
class Row:
    """One size's figures."""

    panelists: int
    responses: int
    build_s: float
    floor_s: float
    close: Measure
    cli: Measure | None
    later: Later | None

    @property
    def ratio(self) -> float:
        """Close ÷ floor."""
        return self.close.seconds / self.floor_s


def _admin(server_url: str, statement: str) -> None:
    """Run one statement on the server's ``postgres`` database, outside a transaction."""
    import psycopg

    with psycopg.connect(_libpq(server_url) + "/postgres", autocommit=True) as connection:
        connection.execute(statement)  # type: ignore[arg-type]


def run_size(server_url: str, panelists: int, args: argparse.Namespace, folder: Path) -> Row:
    """Build, then time the floor, the close and the CLI's close for one size."""
    name = f"elicit_close_{panelists}"
    copy = f"{name}_cli"
    for database in (name, copy):
        _admin(server_url, f"DROP DATABASE IF EXISTS {database}")
    _admin(server_url, f"CREATE DATABASE {name}")
    url = f"{server_url.replace('postgresql://', 'postgresql+psycopg://', 1)}/{name}"
    migrate(url, folder)
    built = build(url, panelists, sample=args.sample, seed=args.seed)
    print(
        f"N = {panelists:,}: {built.responses:,} responses stored in {built.seconds:.0f} s",
        flush=True,
    )
    if not args.skip_cli:
        _admin(server_url, f"CREATE DATABASE {copy} TEMPLATE {name}")
    floor_s, close = _time_close(url, built, 1, args, folder)
    cli = None
    if not args.skip_cli:
        cli = close_with_cli(
            f"{server_url.replace('postgresql://', 'postgresql+psycopg://', 1)}/{copy}", folder
        )
        if cli.summary != close.summary:
            raise RuntimeError("the CLI's close stored another summary than the product's")
    _check_respondents(url, 1, panelists)
    later = None
    if args.rounds == 2:
        later = _close_round_2(url, built, args, folder)
    if not args.keep:
        for database in (name, copy):
            _admin(server_url, f"DROP DATABASE IF EXISTS {database}")
    return Row(panelists, built.responses, built.seconds, floor_s, close, cli, later)


def _close_round_2(url: str, built: Built, args: argparse.Namespace, folder: Path) -> Later:
    """Answer round 2 (:func:`answer_next_round`), then time its floor and its close."""
    panelists = built.panelists
    second = answer_next_round(built, sample=args.sample)
    print(
        f"N = {panelists:,}, round 2: {second.responses:,} responses stored in "
        f"{second.seconds:.0f} s",
        flush=True,
    )
    floor_s, close = _time_close(url, second, 2, args, folder)
    _check_respondents(url, 2, panelists)
    return Later(second.responses, floor_s, close)


def _time_close(
    url: str, built: Built, number: int, args: argparse.Namespace, folder: Path
) -> tuple[float, Measure]:
    """Time round ``number``'s floor, then its close in a child (profiled, its memory
    watched or a copy of the database kept before it, as asked); print both."""
    floor_s, rows = floor(url, built.round_id)
    if rows != built.responses:
        raise RuntimeError(f"round {number}'s floor read {rows} rows, not {built.responses}")
    name = f"close-{built.panelists}-round-{number}"
    profile = folder / f"{name}.prof" if args.profile else None
    memory = folder / f"{name}-memory.json" if args.memory else None
    if args.keep:
        _keep_copy(url, f"{url.rsplit('/', 1)[1]}_open_{number}")
    close = close_in_child(url, profile, memory)
    print(
        f"N = {built.panelists:,}, round {number}: floor {floor_s:.1f} s, "
        f"close {close.seconds:.1f} s ({close.peak_mb:,.0f} MB; "
        f"{close.checked_peak_mb:,.0f} MB once the script has read the summary back)",
        flush=True,
    )
    if profile is not None:
        _print_profile(profile)
    if memory is not None:
        _print_memory(memory)
    return floor_s, close


def _keep_copy(url: str, copy: str) -> None:
    """Copy the database at ``url`` to ``copy`` (``--keep``): the study with its round
    still open, to close again by hand (``close_in_child`` on a fresh copy of it)."""
    server_url, name = url.replace("postgresql+psycopg://", "postgresql://", 1).rsplit("/", 1)
    _admin(server_url, f"DROP DATABASE IF EXISTS {copy}")
    _admin(server_url, f"CREATE DATABASE {copy} TEMPLATE {name}")


def _check_respondents(url: str, number: int, panelists: int) -> None:
    """Raise unless round ``number``'s stored summary counts ``panelists`` respondents."""
    import psycopg

    with psycopg.connect(_libpq(url)) as connection:
        row = connection.execute(
            "SELECT s.respondents FROM round_summary AS s JOIN round AS r ON r.id = s.round_id "
            "WHERE r.number = %s",
            (number,),
        ).fetchone()
    if row is None or int(row[0]) != panelists:
        found = None if row is None else row[0]
        raise RuntimeError(f"round {number}'s summary counts {found} respondents, not {panelists}")


def _print_profile(path: Path) -> None:
    """The close's 25 costliest functions (cumulative)."""
    import pstats

    pstats.Stats(str(path)).sort_stats("cumulative").print_stats(25)


def print_table(rows: list[Row]) -> None:
    """The Markdown table of the run, then the verdict on the targets."""
    print("| step | " + " | ".join(f"N = {row.panelists:,}" for row in rows) + " |")
    print("|---|" + "---|" * len(rows))
    print("| responses | " + " | ".join(f"{row.responses:,}" for row in rows) + " |")
    print(
        "| `COPY` floor (parsed by pandas) | "
        + " | ".join(f"{row.floor_s:.1f} s" for row in rows)
        + " |"
    )
    print(
        "| `close_round` | "
        + " | ".join(f"{row.close.seconds:.1f} s, {row.close.peak_mb:,.0f} MB peak" for row in rows)
        + " |"
    )
    print("| close ÷ floor | " + " | ".join(f"{row.ratio:.1f}" for row in rows) + " |")
    print("| close CPU | " + " | ".join(f"{row.close.cpu:.1f} s" for row in rows) + " |")
    if all(row.cli is not None for row in rows):
        print(
            "| `elicit round close` (start-up included) | "
            + " | ".join(
                f"{row.cli.seconds:.1f} s, {row.cli.cpu:.1f} s CPU, {row.cli.peak_mb:,.0f} MB"
                for row in rows
                if row.cli is not None
            )
            + " |"
        )
    if all(row.later is not None for row in rows):
        seconds = [row.later for row in rows if row.later is not None]
        print(
            "| round 2: `COPY` floor | " + " | ".join(f"{r.floor_s:.1f} s" for r in seconds) + " |"
        )
        print(
            "| round 2: `close_round` (stability against round 1) | "
            + " | ".join(
                f"{r.close.seconds:.1f} s, {r.close.peak_mb:,.0f} MB peak" for r in seconds
            )
            + " |"
        )
        print("| round 2: close ÷ floor | " + " | ".join(f"{r.ratio:.1f}" for r in seconds) + " |")
        print(
            "| round 2: close CPU | " + " | ".join(f"{r.close.cpu:.1f} s" for r in seconds) + " |"
        )
    largest = max(rows, key=lambda row: row.panelists)
    closes = [("round 1", largest.ratio, largest.close.peak_mb)]
    if largest.later is not None:
        closes.append(("round 2", largest.later.ratio, largest.later.close.peak_mb))
    print()
    for name, ratio, peak in closes:
        print(
            f"At N = {largest.panelists:,}, {name}: close ÷ floor {ratio:.1f} "
            f"(target ≤ {TARGET_RATIO:.0f}: {'PASS' if ratio <= TARGET_RATIO else 'FAIL'}), "
            f"peak {peak:,.0f} MB (target < {TARGET_PEAK_MB:,} MB: "
            f"{'PASS' if peak < TARGET_PEAK_MB else 'FAIL'})."
        )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        default="1000,10000,100000",
        help="comma-separated panel sizes (default 1000,10000,100000)",
    )
    parser.add_argument(
        "--server-url",
        help="a PostgreSQL server (postgresql://user@host:port) on which the script may "
        "create and drop databases elicit_close_*; default: a private cluster",
    )
    parser.add_argument(
        "--sample", type=int, default=25, help="panelists who submit through the product"
    )
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument(
        "--rounds",
        type=int,
        choices=(1, 2),
        default=2,
        help="close round 1 only, or round 2 too (default 2)",
    )
    parser.add_argument("--skip-cli", action="store_true", help="do not time elicit round close")
    parser.add_argument("--profile", action="store_true", help="print the close's profile")
    parser.add_argument("--memory", action="store_true", help="print where the close's memory grew")
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the databases and folder, and a copy of each database before each "
        "close (elicit_close_N_open_1, elicit_close_N_open_2)",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--profile-to", help=argparse.SUPPRESS)
    parser.add_argument("--memory-to", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        child(args.child, args.profile_to, args.memory_to)
        return 0
    sizes = [int(size.replace("_", "")) for size in args.sizes.split(",") if size]
    folder = Path(tempfile.mkdtemp(prefix="elicit-close-"))
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
