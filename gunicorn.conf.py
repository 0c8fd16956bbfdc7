"""Gunicorn settings for serving elicit: ``gunicorn`` (or ``gunicorn wsgi:app``) run
from this folder reads them; a command-line flag overrides any of them.

Measured with ``benchmarks/submit.py`` (32 experts submitting at once on a 2-core
machine; see ``benchmarks/README.md``), these settings are the ones that keep an
expert's wait short and even:

- **Synchronous workers on one shared socket.**  A request is CPU-bound Python plus a
  few quick round trips to PostgreSQL.  A sync worker accepts a connection only when it
  is idle, so the kernel's accept queue is one first-come, first-served queue for all
  workers: no request waits behind a busy worker while another is free.  With threaded
  workers (gthread) each keep-alive connection stays with the worker that accepted it,
  whatever that worker's load: 4 workers × 4 threads gave p99 275 ms against 128–155 ms
  here, at the same throughput.
- **2 × cores + 1 workers**, gunicorn's own rule: enough that the cores stay busy
  while some workers wait on the database.
- A sync worker holds a slow client for the whole upload, so serve behind a reverse
  proxy that buffers requests and responses (nginx does by default) and terminates TLS.
- **timeout 120 s**: far beyond any request (none sends mail: invitations are sent by
  a job queue, ``elicit.jobs``; a large study's export is written by one too,
  ``surveys.prepared_exports``).  A worker is restarted only if a request takes longer
  without progress: sending a prepared export of gigabytes to a slow client may take
  longer, and tells gunicorn after each block that the worker is alive
  (``elicit.serving.keep_alive``).
- Personal links (``/e/<token>``) and API tokens are credentials: every log record of
  the process, gunicorn's access and error logs included, writes ``/e/<token>`` and
  ``elicit_<token>`` instead (``elicit.logs``).  The access log is off unless
  ``--access-logfile`` is given.
- Metrics (``GET /metrics``, ``elicit.metrics``) are counted by every worker into one
  fresh temporary folder, made here before any worker starts
  (``PROMETHEUS_MULTIPROC_DIR``), so that a scrape answered by any worker adds up all
  of them; a worker that exits is marked dead there, and the folder is removed at exit.
- With ``ELICIT_LOG_FORMAT=json`` the error and access logs, and every record of the
  app and its libraries, are written one JSON object per line (``JsonLogger``).
"""

from __future__ import annotations

import logging
import os
import re
from typing import Any

from gunicorn.glogging import Logger

from elicit.config import log_format, prepare_metrics_directory, remove_metrics_directory
from elicit.logs import JsonFormatter, redact_personal_links

# First: prometheus_client chooses its multiprocess mode when it is imported.
prepare_metrics_directory()


def _cores() -> int:
    """The CPUs this process may run on (a container's limit, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


class JsonLogger(Logger):
    """Gunicorn's logger, writing its error and access logs as JSON lines.

    Gunicorn makes its handlers at start and again when SIGHUP reloads the settings,
    so the formatter is set where it makes them, not once from a hook.
    """

    def setup(self, cfg: Any) -> None:
        """Gunicorn's handlers, each given a :class:`elicit.logs.JsonFormatter`."""
        super().setup(cfg)
        for handler in (*self.error_log.handlers, *self.access_log.handlers):
            handler.setFormatter(JsonFormatter())


wsgi_app = "wsgi:app"
worker_class = "sync"
workers = 2 * _cores() + 1
timeout = 120
graceful_timeout = 30
if log_format() == "json":
    logger_class = JsonLogger


def on_starting(server: Any) -> None:
    """Before the workers fork: keep personal links and tokens out of every log record,
    gunicorn's own included (the workers inherit it), and send the application's own
    warnings to gunicorn's error log.

    Without a handler on the root logger, a library's record (Flask-Limiter saying it
    fell back to memory because Redis went away) reached only the ``NullHandler`` the
    library installs and was never written anywhere.
    """
    redact_personal_links()
    _control_socket_of_this_server(server)
    root = logging.getLogger()
    if not root.handlers:
        for handler in server.log.error_log.handlers:
            root.addHandler(handler)
        root.setLevel(logging.INFO)


def _control_socket_of_this_server(server: Any) -> None:
    """Give this server a control socket of its own (``gunicornc``'s, gunicorn 25.1+).

    Gunicorn's default path is one per user (``$XDG_RUNTIME_DIR/gunicorn.ctl`` or
    ``~/.gunicorn/gunicorn.ctl``), so two servers of one user on one machine (two web
    hosts on two ports, as the scale-out deployment runs them) would share it: the
    second takes the path from the first at start, and either removes it at exit, the
    other's too.  Unless the operator named one, each server's socket is named after
    the addresses it binds, beside the default: ``elicit-127.0.0.1-8000.ctl``
    (``gunicornc -s PATH``)."""
    cfg = server.cfg
    setting = cfg.settings.get("control_socket")
    if setting is None or cfg.control_socket_disable or cfg.control_socket != setting.default:
        return
    bound = "_".join(re.sub(r"[^A-Za-z0-9.]+", "-", address).strip("-") for address in cfg.bind)
    folder = os.path.dirname(setting.default)
    cfg.set("control_socket", os.path.join(folder, f"elicit-{bound}.ctl"))


def post_worker_init(worker: Any) -> None:
    """Make the metrics in each worker before its first request, which would otherwise
    pay for importing prometheus_client; tell the app how many workers share its host
    (rate-limit counts kept in each worker's memory are then warned about); let a long
    download tell gunicorn that the worker is alive (:func:`elicit.serving.keep_alive`)."""
    from elicit.health import note_worker_processes
    from elicit.metrics import instruments
    from elicit.serving import beat_with

    instruments()
    beat_with(worker.notify)
    app = getattr(worker, "wsgi", None)
    if app is not None and hasattr(app, "extensions"):  # the Flask app gunicorn loaded
        note_worker_processes(app, worker.cfg.workers)


def child_exit(server: Any, worker: Any) -> None:
    """A worker exited: its live values leave the metrics (its counts stay counted)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server: Any) -> None:
    """The server stops: remove the metrics folder made at its start."""
    remove_metrics_directory()
