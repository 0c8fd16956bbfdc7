"""Jobs that no request waits for: delivering the outbox (:mod:`surveys.delivery`),
closing a round (:mod:`surveys.closing`) and previewing a large round's close
(:mod:`surveys.close_previews`), and writing a large study's export
(:mod:`surveys.prepared_exports`).

A view that queues messages hands them to delivery and returns; the messages are sent
by a job.  Where jobs run:

- **With** ``ELICIT_QUEUE_URL`` (Redis): on an RQ queue that every web process and host
  shares, run by any number of ``elicit worker`` processes (:func:`run_worker`), on any
  host.  A job carries message ids in batches of :data:`~surveys.delivery.BATCH_SIZE`;
  the outbox's claims make a job run twice, or two workers at once, send nothing twice.
  Each worker also sweeps the outbox every ``ELICIT_SWEEP_INTERVAL``: retries that are
  due, messages claimed by a worker that died (once the claim lapses), and messages
  whose job was lost (Redis restarted without its data).
- **Without** it (``elicit demo``, one host on SQLite): in a thread of the web process,
  after the response (:class:`InProcessRunner`), which sweeps in the same way while idle.
  Jobs wait in that process's memory: a process that dies loses them, but not the
  messages, which stay in the outbox and are taken by the next sweep once
  ``orphan_after`` has passed (ten minutes); the thread starts with the first request
  the process answers after a restart.  A test app (``TESTING``) runs each job at once,
  inside the request, so that a test sees its outcome.

An export job goes on a queue of its own (:data:`EXPORT_QUEUE_NAME`), which a worker
takes after the messages' queue: a message never waits behind an export of minutes
that is still queued (one being written holds its worker, so run two workers for large
studies).  A lost export job costs nothing but time: a queued export whose job has not
started within :data:`surveys.prepared_exports.REQUEUE_AFTER` is given another when its
page or its API status is read.  A round's close goes on a third queue
(:data:`CLOSE_QUEUE_NAME`), taken after the messages and before the exports: a close
waits for no export, and a lost one is given another job in the same way
(:data:`surveys.closing.REQUEUE_AFTER`).  The close's preview of a large round
(:mod:`surveys.close_previews`) goes on the closes' queue too: the facilitator waits
for it as for a close.

Without ``ELICIT_SMTP_URL`` nothing is handed to delivery: the messages wait in the
outbox for the facilitator to send by hand.

RQ (python-rq) was chosen over Dramatiq or Celery because the outbox already gives what
those add: at-least-once redelivery, retries with backoff and the record of each
attempt live in the database, where the facilitator sees them and where they survive a
lost Redis; the queue only has to carry ids to workers.  RQ does that with explicit
connection objects (no broker bound at import time, which fights an app factory and its
tests), jobs named by import path, ``enqueue_many`` in one pipeline (10,000 messages are
100 jobs queued in milliseconds), and a worker class this command runs as it is.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

from flask import Flask, current_app, has_app_context

from elicit.extensions import current_link_keys, db

if TYPE_CHECKING:
    from surveys.delivery import Delivered, RetryPolicy, SmtpSettings
    from surveys.models import Study

# Every app imports this module (:func:`register_jobs`), every command of the CLI's
# included; the delivery's modules (with the messages' templates) are imported by the
# functions that deliver, not here (issue 15, point 7: start-up).

log = logging.getLogger(__name__)

QUEUE_NAME = "elicit-messages"
#: The queue of export jobs (see the module).
EXPORT_QUEUE_NAME = "elicit-exports"
#: The queue of rounds' closes (see the module).
CLOSE_QUEUE_NAME = "elicit-closes"
#: The queues a worker takes jobs from, the first first.
WORKER_QUEUES = (QUEUE_NAME, CLOSE_QUEUE_NAME, EXPORT_QUEUE_NAME)
#: The longest one job may run (RQ stops it after this): a batch whose server stops
#: answering is deferred after one timeout, so this is far beyond any real batch.
JOB_TIMEOUT = 3600
#: How long RQ keeps a job that raised (a bug, or the database unreachable), to look at.
FAILED_JOB_TTL = int(timedelta(days=7).total_seconds())
RUNNER_EXTENSION = "elicit_jobs"


def smtp_settings(config: Mapping[str, Any]) -> SmtpSettings | None:
    """Parse ``ELICIT_SMTP_URL`` (``smtp://user:password@host:port?starttls=1``)."""
    url = config.get("ELICIT_SMTP_URL")
    if not url:
        return None
    from surveys.delivery import SmtpSettings

    parts = urlsplit(url)
    if parts.scheme != "smtp" or not parts.hostname:
        raise ValueError("ELICIT_SMTP_URL must look like smtp://user:password@host:587")
    query = parse_qs(parts.query)
    username = unquote(parts.username) if parts.username else None
    sender = config.get("ELICIT_MAIL_FROM") or username or f"elicit@{parts.hostname}"
    return SmtpSettings(
        host=parts.hostname,
        port=parts.port or 25,
        sender=sender,
        username=username,
        password=unquote(parts.password) if parts.password else None,
        starttls=query.get("starttls", ["0"])[0].lower() in {"1", "true", "yes"},
    )


def retry_policy(app: Flask) -> RetryPolicy:
    """The app's retry policy (a test may set ``ELICIT_DELIVERY_POLICY``)."""
    from surveys.delivery import RetryPolicy

    policy = app.config.get("ELICIT_DELIVERY_POLICY")
    return policy if isinstance(policy, RetryPolicy) else RetryPolicy()


def send_messages(message_ids: Sequence[int]) -> int:
    """Hand the just-queued messages to delivery and queue their jobs; return how many
    were handed over (none without a mail server).  Returns without sending anything."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if smtp_settings(app.config) is None or not message_ids:
        return 0
    from surveys.delivery import hand_over

    handed = hand_over(db.session, message_ids, retry_policy(app))
    _submit(app, handed)
    return len(handed)


def send_again(study: Study) -> int:
    """Hand every unsent message of ``study`` to delivery again, the failed ones too
    ("Send unsent messages"); return how many."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if smtp_settings(app.config) is None:
        return 0
    from surveys.delivery import requeue

    handed = requeue(db.session, study, retry_policy(app))
    _submit(app, handed)
    return len(handed)


def _submit(app: Flask, message_ids: Sequence[int]) -> None:
    """Queue one delivery job per batch of ``message_ids``, on Redis or in process.

    Should Redis refuse, the messages are not lost: they are handed over in the
    database, and a worker's sweep takes them once ``orphan_after`` has passed.
    """
    if not message_ids:
        return
    connection = _redis(app)
    if connection is None:
        runner(app).submit(message_ids)
        return
    import redis
    from rq import Queue

    from surveys.delivery import batches

    jobs = [
        Queue.prepare_data(
            deliver_job,
            args=(batch,),
            timeout=JOB_TIMEOUT,
            result_ttl=0,
            failure_ttl=FAILED_JOB_TTL,
            description=f"deliver {len(batch)} message(s)",
        )
        for batch in batches(message_ids)
    ]
    try:
        Queue(QUEUE_NAME, connection=connection).enqueue_many(jobs)
    except redis.RedisError as error:
        log.warning(
            "%s message(s) not put on the queue (%s): a worker's sweep takes them later",
            len(message_ids),
            type(error).__name__,
        )


def prepare_export(app: Flask, export_id: int) -> None:
    """Queue the job that writes prepared export ``export_id``, on Redis or in process.

    Should Redis refuse, the export stays queued in the database, and is given another
    job when its page is next read (see the module)."""
    _submit_once(
        app,
        EXPORT_QUEUE_NAME,
        f"elicit-export-{export_id}",
        partial(write_export_now, app, export_id),
        prepare_export_job,
        export_id,
        f"write prepared export {export_id}",
    )


def close_later(app: Flask, closing_id: int) -> None:
    """Queue the job that closes the round of closing ``closing_id``, on Redis or in
    process.

    Should Redis refuse, the closing stays queued in the database, and is given another
    job when its page is next read (see the module)."""
    _submit_once(
        app,
        CLOSE_QUEUE_NAME,
        f"elicit-close-{closing_id}",
        partial(close_now, app, closing_id),
        close_round_job,
        closing_id,
        f"close the round of closing {closing_id}",
    )


def preview_later(app: Flask, preview_id: int, attempt: datetime) -> None:
    """Queue the job that computes a large round's close preview ``preview_id``
    (:mod:`surveys.close_previews`), on the closes' queue (a facilitator waits for it
    as for a close) or in process.  ``attempt`` (when it was last asked for) is part of
    the job's id: a preview asked for again after its worker died is the same row, and
    RQ keeps the dead worker's job "started" until its maintenance finds it (up to ten
    minutes), which would otherwise pass for the new attempt's job.

    Should Redis refuse, the preview stays queued in the database, and is given another
    job when the close's page is next read."""
    _submit_once(
        app,
        CLOSE_QUEUE_NAME,
        f"elicit-preview-{preview_id}-{attempt:%Y%m%dT%H%M%S%f}",
        partial(preview_now, app, preview_id),
        preview_round_job,
        preview_id,
        f"compute the close preview {preview_id}",
    )


def _submit_once(
    app: Flask,
    queue_name: str,
    job_id: str,
    in_process: Callable[[], Any],
    job: Callable[[int], Any],
    argument: int,
    description: str,
) -> None:
    """Run ``in_process`` in the app's runner without Redis; with it, put ``job`` with
    ``argument`` on ``queue_name`` as ``job_id``, unless a job of that id is waiting,
    under way or put off already.  A refusal of Redis is logged: the caller's record
    stays queued, and its page hands it to a job again later."""
    connection = _redis(app)
    if connection is None:
        runner(app).run(in_process)
        return
    import redis
    from rq import Queue
    from rq.exceptions import NoSuchJobError
    from rq.job import Job, JobStatus

    try:
        try:  # a job waiting, under way or put off is not lost: no second one
            status = Job.fetch(job_id, connection=connection).get_status()
        except NoSuchJobError:
            status = None
        if status in (
            JobStatus.CREATED,
            JobStatus.QUEUED,
            JobStatus.STARTED,
            JobStatus.DEFERRED,
            JobStatus.SCHEDULED,
        ):
            return
        Queue(queue_name, connection=connection).enqueue(
            job,
            argument,
            job_id=job_id,
            job_timeout=JOB_TIMEOUT,
            result_ttl=0,
            failure_ttl=FAILED_JOB_TTL,
            description=description,
        )
    except redis.RedisError as error:
        log.warning(
            "%s not put on the queue (%s): its page queues it again later",
            job_id,
            type(error).__name__,
        )


def _redis(app: Flask) -> Any:
    """The app's Redis client for the queue, or ``None`` without ``ELICIT_QUEUE_URL``."""
    url = app.config.get("ELICIT_QUEUE_URL")
    if not url:
        return None
    client = app.extensions.get("elicit_queue_redis")
    if client is None:
        import redis

        # A request that queues messages waits at most a few seconds for Redis.
        client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
        app.extensions["elicit_queue_redis"] = client
    return client


def queue_check(app: Flask) -> dict[str, Any]:
    """For ``/readyz``: whether the queue answers ("in-process" has nothing to answer).

    An unreachable queue costs no message (they are handed over in the database, and a
    worker's sweep takes them once it is back) but delays them: "degraded"."""
    connection = _redis(app)
    if connection is None:
        return {"status": "ok", "kind": "in-process"}
    import redis

    try:
        connection.ping()
    except redis.RedisError:
        return {
            "status": "degraded",
            "kind": "redis",
            "detail": "The delivery queue cannot be reached: messages wait in the outbox and "
            "are sent once it returns.",
        }
    return {"status": "ok", "kind": "redis"}


#: The queues by the name the metrics give them (``elicit_queue_jobs{queue}``).
QUEUES_BY_ROLE = {"messages": QUEUE_NAME, "closes": CLOSE_QUEUE_NAME, "exports": EXPORT_QUEUE_NAME}


def queue_depths(app: Flask) -> dict[str, dict[str, int]] | None:
    """For the metrics: the jobs on each Redis queue (:data:`QUEUES_BY_ROLE`: messages,
    closes, exports) by state ("queued": waiting for a worker, "started": in a worker's
    hands, "failed": kept for inspection, "scheduled": put off); ``None`` without Redis
    (jobs run in the web process); raises ``redis.RedisError`` when it does not answer."""
    connection = _redis(app)
    if connection is None:
        return None
    from rq import Queue

    depths = {}
    for role, name in QUEUES_BY_ROLE.items():
        queue = Queue(name, connection=connection)
        depths[role] = {
            "queued": queue.count,
            "started": queue.started_job_registry.count,
            "failed": queue.failed_job_registry.count,
            "scheduled": queue.scheduled_job_registry.count,
        }
    return depths


# -- what a job does -------------------------------------------------------------------


def deliver_now(app: Flask, message_ids: Sequence[int]) -> Delivered:
    """Deliver ``message_ids`` with ``app``'s settings, in an app context of its own."""
    from surveys.delivery import deliver

    with app.app_context():
        return deliver(
            db.session,
            message_ids,
            smtp_settings(app.config),
            keys=current_link_keys(),
            policy=retry_policy(app),
        )


def sweep_now(app: Flask) -> Delivered:
    """Queue the planned reminders whose moment has come (:func:`surveys.schedules.
    fire_due`), deliver them with a mail server, then deliver whatever else is due in
    the outbox, with ``app``'s settings."""
    from surveys.delivery import Delivered, deliver, hand_over, sweep
    from surveys.schedules import fire_due

    with app.app_context():
        smtp = smtp_settings(app.config)
        keys = current_link_keys()
        policy = retry_policy(app)
        fired = fire_due(db.session, keys=keys)
        done = Delivered()
        if fired and smtp is not None:
            handed = hand_over(db.session, fired, policy, detail="planned reminder")
            done.add(deliver(db.session, handed, smtp, keys=keys, policy=policy))
        done.add(sweep(db.session, smtp, keys=keys, policy=policy))
        return done


def write_export_now(app: Flask, export_id: int) -> str:
    """Write prepared export ``export_id`` with ``app``, in an app context of its own;
    its state afterwards."""
    from surveys.prepared_exports import write_prepared  # pandas: only when a job runs

    with app.app_context():
        return write_prepared(db.session, export_id).value


def close_now(app: Flask, closing_id: int) -> str:
    """Close the round of closing ``closing_id`` with ``app``, in an app context of its
    own; the closing's state afterwards."""
    from surveys.closing import run_closing  # the statistics: only when a job runs

    with app.app_context():
        return run_closing(db.session, closing_id).value


def preview_now(app: Flask, preview_id: int) -> str:
    """Compute close preview ``preview_id`` with ``app``, in an app context of its own;
    the preview's state afterwards."""
    from surveys.close_previews import run_preview  # the statistics: only when a job runs

    with app.app_context():
        return run_preview(db.session, preview_id).value


def preview_round_job(preview_id: int) -> str:
    """The RQ job: compute one close preview; its state afterwards."""
    return preview_now(_job_app(), preview_id)


def close_round_job(closing_id: int) -> str:
    """The RQ job: close one round; the closing's state afterwards."""
    return close_now(_job_app(), closing_id)


def prepare_export_job(export_id: int) -> str:
    """The RQ job: write one prepared export; its state afterwards."""
    return write_export_now(_job_app(), export_id)


def deliver_job(message_ids: list[int]) -> dict[str, Any]:
    """The RQ job: deliver one batch; return its counts."""
    done = deliver_now(_job_app(), message_ids)
    return {key: value for key, value in asdict(done).items() if key != "sent_ids"}


_APP_FOR_JOBS: list[Flask] = []


def _job_app() -> Flask:
    """The app a job runs with: the worker's (``elicit worker`` runs in its context),
    else one built from the environment once per process (a plain ``rq worker``),
    without routes: a job serves no page and builds no address."""
    if has_app_context():
        return current_app._get_current_object()  # type: ignore[attr-defined]
    if not _APP_FOR_JOBS:
        from elicit import create_app

        _APP_FOR_JOBS.append(create_app(routes=False))
    return _APP_FOR_JOBS[0]


# -- the worker (Redis) ----------------------------------------------------------------


def run_worker(app: Flask, *, burst: bool = False, name: str | None = None) -> None:
    """Run jobs from the shared queues (messages first, then closes, then exports) until stopped
    (SIGTERM or SIGINT: after the job in hand), sweeping the outbox every
    ``ELICIT_SWEEP_INTERVAL`` in a thread; with ``burst``, sweep, run what is queued,
    sweep again and return."""
    from rq import Queue, SimpleWorker

    connection = _redis(app)
    if connection is None:
        raise RuntimeError("ELICIT_QUEUE_URL is not set: jobs run in the web process")
    interval = app.config["ELICIT_SWEEP_INTERVAL"].total_seconds()
    stop = threading.Event()
    if burst:
        sweep_now(app)
    else:
        threading.Thread(
            target=_sweep_every, args=(app, interval, stop), name="elicit-sweep", daemon=True
        ).start()
    # Jobs run in this process, one at a time (no fork per job: the app, its database
    # pool and its keys are built once).
    worker = SimpleWorker(
        [Queue(queue_name, connection=connection) for queue_name in WORKER_QUEUES],
        connection=connection,
        name=name,
    )
    try:
        worker.work(burst=burst, logging_level="INFO")
    finally:
        stop.set()
    if burst:
        sweep_now(app)


def _sweep_every(app: Flask, interval: float, stop: threading.Event) -> None:
    """Sweep the outbox now and every ``interval`` seconds until ``stop``."""
    while not stop.is_set():
        try:
            done = sweep_now(app)
            if done.sent or done.deferred or done.failed:
                log.info(
                    "sweep: %s sent, %s deferred, %s failed", done.sent, done.deferred, done.failed
                )
        except Exception:
            log.exception("sweep failed; trying again in %s s", interval)
        stop.wait(interval)


# -- in process (no Redis) -------------------------------------------------------------


class InProcessRunner:
    """Jobs (delivery, exports) in a thread of this web process, after the response;
    the same thread sweeps the outbox whenever it has been idle for the sweep interval.

    One thread per process, started by the first job or the first request; a process
    forked after it started (gunicorn's workers) starts its own.  ``mode`` ``"request"``
    (test apps) runs each job at once in the caller instead, and never sweeps.
    """

    def __init__(self, app: Flask, mode: str) -> None:
        self.app = app
        self.mode = mode
        self._lock = threading.Lock()
        self._idle = threading.Condition()
        self._pending = 0
        self._pid = 0
        self._jobs: queue.SimpleQueue[Callable[[], Any] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def submit(self, message_ids: Sequence[int]) -> None:
        """Run delivery of ``message_ids`` after the response (or now, in a test)."""
        if self.mode == "request":
            deliver_now(self.app, message_ids)
            return
        from surveys.delivery import batches

        for batch in batches(message_ids):
            self.run(partial(deliver_now, self.app, batch))

    def run(self, job: Callable[[], Any]) -> None:
        """Run ``job`` in the thread after the response (or now, in a test)."""
        if self.mode == "request":
            job()
            return
        self.start()
        with self._idle:
            self._pending += 1
        self._jobs.put(job)

    def start(self) -> None:
        """Start this process's thread if it is not running (cheap when it is)."""
        if self.mode == "request" or self._pid == os.getpid():
            return
        with self._lock:
            if self._pid == os.getpid():
                return
            self._jobs = queue.SimpleQueue()  # a parent's jobs are the parent's
            self._pending = 0
            self._thread = threading.Thread(target=self._run, name="elicit-delivery", daemon=True)
            self._thread.start()
            self._pid = os.getpid()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until every job submitted has run; whether they have."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def stop(self, wait: float = 0) -> bool:
        """End the thread after the job in hand (the rest stay in the outbox), waiting
        up to ``wait`` seconds for it to end: until it has, it may hold a database
        connection, so whoever disposes of the engine next waits.  Whether it has ended
        (or none was running)."""
        thread = self._thread if self._pid == os.getpid() else None
        if thread is not None:
            self._jobs.put(None)
            self._pid = 0
            self._thread = None
            thread.join(wait)
            return not thread.is_alive()
        return True

    def _run(self) -> None:
        """Sweep once (what a previous process left), then run jobs, sweeping when idle."""
        interval = self.app.config["ELICIT_SWEEP_INTERVAL"].total_seconds()
        jobs = self._jobs
        # Without a mail server nothing is swept: the thread runs only export jobs then
        # (planned reminders fire with a mail server, as the README says).
        sweeps = smtp_settings(self.app.config) is not None
        job: Callable[[], Any] | None = None
        while True:
            try:
                if job is None:
                    if sweeps:
                        sweep_now(self.app)
                else:
                    job()
            except Exception:
                # The outbox keeps undelivered messages; a failed export says so itself.
                log.exception("a job in process failed")
            if job is not None:
                with self._idle:
                    self._pending -= 1
                    self._idle.notify_all()
            try:
                job = jobs.get(timeout=interval)
            except queue.Empty:
                job = None
                continue
            if job is None:
                return  # stopped


def runner(app: Flask) -> InProcessRunner:
    """The app's in-process runner."""
    found: InProcessRunner = app.extensions[RUNNER_EXTENSION]
    return found


def register_jobs(app: Flask) -> None:
    """Give ``app`` its in-process runner (used only without ``ELICIT_QUEUE_URL``), and
    with a mail server but no queue, start it with the first request, so that a
    restarted process takes up what a dead one left in its outbox."""
    mode = app.config.get("ELICIT_JOBS_IN_PROCESS") or ("request" if app.testing else "thread")
    app.extensions[RUNNER_EXTENSION] = InProcessRunner(app, mode)
    if app.config.get("ELICIT_QUEUE_URL") or not app.config.get("ELICIT_SMTP_URL"):
        return

    @app.before_request
    def start_delivery_thread() -> None:
        runner(app).start()
