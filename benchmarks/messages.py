"""Queue 10,000 invitations with one click and deliver them to a local SMTP sink.

1. A fresh database (a SQLite file in a temporary folder, or the empty database named
   by ``--database-url``) is migrated (``elicit db upgrade``), the demo study loaded,
   ``--panelists`` panelists added (``add_panelists``, the console's function), a
   facilitator created and round 1 opened.
2. A private Redis (``redis-server`` on a free port, no persistence, removed at the end;
   the shared one on 6379 is never touched) carries the queue, and an aiosmtpd server in
   this process accepts every message (``--smtp-url`` names another sink instead).
3. **Click to queued**: the facilitator's ``POST …/invitations`` through the app's test
   client (the whole request: composing every message into the outbox, handing them to
   delivery, putting the jobs on Redis), timed from the request to its answer.
   Target (issue 14): under 2 s for 10,000.
4. **Delivery**: ``--workers`` ``elicit worker --burst`` processes are started and
   waited for; the rate is messages ÷ the time from the first message sent to the last
   (the workers' start-up apart), and the wall time from their start is printed too.
5. Checks: every message is sent, the sink received each recipient exactly once, and
   each message's history is "queued, sent".  Exit status 1 when a check fails (not when
   a target is missed: the output says so).

Run: ``.venv/bin/python benchmarks/messages.py [--panelists 10000] [--workers 2]
[--database-url postgresql://postgres@127.0.0.1/elicit_bench_messages]``.  Needs the
``test`` extra (aiosmtpd) and ``redis-server``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != _HERE]
if str(_HERE.parent) not in sys.path:
    sys.path.insert(0, str(_HERE.parent))

import redis  # noqa: E402 (after the path is set)
from rq import Queue  # noqa: E402

from tests.smtp_sink import free_port, smtp_sink  # noqa: E402

ROOT = _HERE.parent
ELICIT = str(Path(sys.executable).with_name("elicit"))
SECRET_KEY = "benchmark-secret-key-not-for-production"
PASSWORD = "benchmark password 1"
TARGET_CLICK_SECONDS = 2.0


def main() -> int:
    """Run the benchmark; print its figures; 1 if a check failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--panelists", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database-url", help="an empty database (default: a new SQLite file)")
    options = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="elicit-messages-bench-"))
    redis_port = free_port()
    subprocess.run(
        ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--daemonize", "yes", "--dir", str(folder),
         "--pidfile", str(folder / "redis.pid")],
        check=True, timeout=30,
    )  # fmt: skip
    try:
        with smtp_sink() as (sink, smtp_port):
            return run(options, folder, redis_port, sink, smtp_port)
    finally:
        subprocess.run(
            ["redis-cli", "-p", str(redis_port), "shutdown", "nosave"],
            capture_output=True, timeout=30, check=False,
        )  # fmt: skip
        shutil.rmtree(folder, ignore_errors=True)


def run(options: argparse.Namespace, folder: Path, redis_port: int, sink, smtp_port: int) -> int:
    """Prepare the study, click, deliver, check; print the figures."""
    database_url = options.database_url or f"sqlite:///{folder / 'bench.sqlite3'}"
    environment = {
        **os.environ,
        "ELICIT_DATABASE_URL": database_url,
        "ELICIT_SECRET_KEY": SECRET_KEY,
        "ELICIT_BASE_URL": "http://elicit.bench",
        "ELICIT_INSTANCE_PATH": str(folder / "instance"),
        "ELICIT_QUEUE_URL": f"redis://127.0.0.1:{redis_port}/0",
        "ELICIT_SMTP_URL": f"smtp://127.0.0.1:{smtp_port}",
        "ELICIT_MAIL_FROM": "delphi@bench.invalid",
    }
    subprocess.run([ELICIT, "db", "upgrade"], env=environment, check=True, timeout=300,
                   capture_output=True)  # fmt: skip
    os.environ.update(environment)

    from elicit import create_app
    from elicit.extensions import current_link_keys, db
    from surveys.accounts import create_user, grant_access
    from surveys.definition import parse_definition
    from surveys.demo import demo_source
    from surveys.models import MessageEvent, OutboxMessage
    from surveys.panel import NewPanelist, add_panelists
    from surveys.rounds import open_round
    from surveys.studies import load_study
    from tests.conftest import csrf_token

    app = create_app()
    with app.app_context():
        source = demo_source()
        study = load_study(db.session, parse_definition(source, name="bench"), source)
        started = time.monotonic()
        add_panelists(
            db.session,
            study,
            [
                NewPanelist(f"Expert {i}", f"expert.{i}@bench.invalid", "abc"[i % 3], "en")
                for i in range(options.panelists)
            ],
            keys=current_link_keys(),
        )
        print(f"{options.panelists} panelists added in {time.monotonic() - started:.1f} s")
        user = create_user(db.session, "lead@bench.invalid", PASSWORD, "facilitator")
        grant_access(db.session, user, study)
        open_round(db.session, study)
        slug = study.slug

    client = app.test_client()
    login = client.get("/console/login")
    client.post(
        "/console/login",
        data={"csrf_token": csrf_token(login.text), "email": "lead@bench.invalid",
              "password": PASSWORD},
    )  # fmt: skip
    panel = client.get(f"/console/studies/{slug}/panel")
    started = time.monotonic()
    answer = client.post(
        f"/console/studies/{slug}/invitations", data={"csrf_token": csrf_token(panel.text)}
    )
    click = time.monotonic() - started
    connection = redis.Redis(port=redis_port)
    jobs = Queue("elicit-messages", connection=connection).count
    verdict = "PASS" if click < TARGET_CLICK_SECONDS else "MISSED"
    print(
        f"click to queued: {click:.2f} s for {options.panelists} invitations ({jobs} jobs on "
        f"the queue, answer {answer.status_code}; target < {TARGET_CLICK_SECONDS:.0f} s: "
        f"{verdict})"
    )

    started = time.monotonic()
    logs = [folder / f"worker-{n}.log" for n in range(options.workers)]
    workers = []
    for log in logs:
        with log.open("wb") as output:
            workers.append(
                subprocess.Popen(
                    [ELICIT, "worker", "--burst"],
                    env=environment,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                )
            )
    failed = False
    for worker, log in zip(workers, logs, strict=True):
        if worker.wait(3600) != 0:
            print(log.read_text())
            failed = True
    wall = time.monotonic() - started

    with app.app_context():
        sent = list(
            db.session.execute(
                db.select(OutboxMessage.sent_at).where(OutboxMessage.sent_at.is_not(None))
            ).scalars()
        )
        total = db.session.execute(db.select(db.func.count(OutboxMessage.id))).scalar_one()
        events = Counter(db.session.execute(db.select(MessageEvent.kind)).scalars())
        db.session.remove()
        db.engine.dispose()
    span = (max(sent) - min(sent)).total_seconds() if len(sent) > 1 else 0.0
    recipients = sink.recipients()
    print(f"delivered: {len(sent)} of {total} by {options.workers} worker(s) in {wall:.1f} s "
          f"from their start; {len(sent) / span if span else 0:.0f} messages/s from the first "
          f"sent to the last ({span:.1f} s)")  # fmt: skip
    checks = {
        "every message sent": len(sent) == total == options.panelists,
        "each recipient received exactly once": len(recipients)
        == len(set(recipients))
        == options.panelists,
        "history: one queued and one sent per message": events
        == {"queued": options.panelists, "sent": options.panelists},
        "workers exited 0": not failed,
    }
    for name, passed in checks.items():
        print(f"{'ok  ' if passed else 'FAIL'} {name}")
    connection.close()
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
