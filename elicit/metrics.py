"""Prometheus metrics at ``GET /metrics``, for the operator's monitoring.

The endpoint exists only when ``ELICIT_METRICS_TOKEN`` is set (404 otherwise) and
answers only a request that carries that token as ``Authorization: Bearer <token>``
(401 without credentials, 403 with a wrong one, compared in constant time; refused
attempts count against ``ELICIT_API_AUTH_LIMIT``).  It says nothing about studies or
people:

``elicit_request_duration_seconds{method, route, status}``
    A histogram of every request's time, from the moment Flask starts it (before any
    guard or rate limit) to its response.  ``route`` is the URL rule (``/e/<token>``),
    never the path, which may hold a personal link; ``<unmatched>`` when no rule
    matched.  ``method`` is one of HTTP's usual methods or ``other``, so that no client
    can make the labels grow without bound.
``elicit_submissions_total``
    Expert submissions of a round's answers that were accepted.
``elicit_outbox_unsent_messages{status}``
    The delivery backlog, read from the database at each scrape (so the same whichever
    worker or host answers): messages of every study not sent yet, by status
    ("waiting": no mail server when queued, to be sent by hand; "queued"; "sending";
    "retrying").  Counts only, never a study or a recipient.
``elicit_queue_jobs{queue, state}``, ``elicit_queue_up``
    With Redis (``ELICIT_QUEUE_URL``), the jobs on each of the three queues ("messages",
    "closes": rounds' closes and their previews, "exports": prepared exports) by state
    ("queued", "started", "failed", "scheduled"), read at each scrape, and whether Redis
    answered it (1 or 0: when it does not, no job is listed; messages wait in the outbox,
    where the backlog above still counts them, and closes and exports in the database).
    Without Redis, jobs run in the web process and neither is listed.  A database that
    does not answer leaves the backlog out of the scrape, never fails it.
``elicit_delivery_queue_jobs{state}``, ``elicit_delivery_queue_up``
    The messages' queue alone, as the two above say it, under the names it had before
    the closes and exports had queues of their own (kept for the alerts written then).

prometheus_client is imported by the first request, not with the app: the CLI's
commands build the app too, and the library's import (its HTTP client and servers
included) would add a tenth of a second to each.

**Several workers.**  Each gunicorn worker counts in its own memory, so a scrape that
reached one worker would see only its share.  ``gunicorn.conf.py`` therefore gives
prometheus_client's multiprocess mode a fresh folder (``PROMETHEUS_MULTIPROC_DIR``,
:func:`elicit.config.prepare_metrics_directory`) before any worker starts, each worker
writes its values there, a scrape adds up every worker's files, and a worker's live
values are marked dead when it exits.  Without that variable (the development server,
tests) the process's own registry is read, with its process and garbage-collector
metrics.
"""

from __future__ import annotations

import hmac
from functools import cache
from time import perf_counter
from typing import Any, NamedTuple

from flask import Blueprint, Flask, Response, abort, current_app, request, request_finished
from flask import request_started as flask_request_started
from werkzeug.wrappers import Response as WerkzeugResponse

from elicit.ratelimits import limiter

blueprint = Blueprint("metrics", __name__)

#: Upper bounds of the latency buckets, in seconds, up to gunicorn's 120 s timeout.
BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
#: Methods kept as labels; any other is counted as "other".
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
#: The route label of a request that matched no URL rule (a 404, or a 405).
UNMATCHED = "<unmatched>"
#: Where a request's start time is kept.
_STARTED = "elicit.metrics.started"


class Instruments(NamedTuple):
    """This process's metrics."""

    request_seconds: Any
    submissions: Any


@cache
def instruments() -> Instruments:
    """The metrics, made (and prometheus_client imported) on first use, once per process."""
    from prometheus_client import Counter, Histogram

    return Instruments(
        request_seconds=Histogram(
            "elicit_request_duration_seconds",
            "Time from the start of a request to its response, by URL rule (never the path).",
            ["method", "route", "status"],
            buckets=BUCKETS,
        ),
        submissions=Counter(
            "elicit_submissions",
            "Expert submissions of a round's answers that were accepted.",
        ),
    )


def count_submission() -> None:
    """Count one accepted submission (called by the expert view once it is stored)."""
    instruments().submissions.inc()


def route_label() -> str:
    """The current request's URL rule, or :data:`UNMATCHED`."""
    rule = request.url_rule
    return rule.rule if rule is not None else UNMATCHED


def _started(sender: Flask, **extra: Any) -> None:
    """Note when the request started (Flask's ``request_started`` signal)."""
    request.environ[_STARTED] = perf_counter()


def _finished(sender: Flask, response: WerkzeugResponse, **extra: Any) -> None:
    """Observe the request's time once its response is made (``request_finished``,
    sent for error pages too)."""
    started = request.environ.get(_STARTED)
    if started is None:
        return
    method = request.method if request.method in METHODS else "other"
    histogram = instruments().request_seconds
    histogram.labels(method, route_label(), str(response.status_code)).observe(
        perf_counter() - started
    )


@blueprint.record_once
def _connect(setup: Any) -> None:
    """Time every request of the app this blueprint is registered on."""
    flask_request_started.connect(_started, setup.app)
    request_finished.connect(_finished, setup.app)


def _refused(response: WerkzeugResponse) -> bool:
    """Only refused scrapes count against the limit."""
    return response.status_code in (401, 403)


@blueprint.route("/metrics")
@limiter.limit(lambda: current_app.config["ELICIT_API_AUTH_LIMIT"], deduct_when=_refused)
def metrics() -> Response:
    """Every metric in Prometheus's text format, for the holder of the metrics token."""
    expected = current_app.config.get("ELICIT_METRICS_TOKEN")
    if not expected:
        abort(404)
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        return Response(
            "A bearer token is needed.\n",
            401,
            {"WWW-Authenticate": 'Bearer realm="metrics"'},
            mimetype="text/plain",
        )
    if not hmac.compare_digest(given.strip().encode(), str(expected).encode()):
        return Response("The token is not right.\n", 403, mimetype="text/plain")
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    instruments()  # listed, at zero, even before the first count
    from prometheus_client import CollectorRegistry

    # The backlog is read at the scrape, by the process that answers it, from the
    # database and Redis that every worker and host share: added to no worker's files.
    backlog = CollectorRegistry(auto_describe=True)
    backlog.register(_Backlog(current_app._get_current_object()))  # type: ignore[attr-defined]
    return Response(
        generate_latest(_registry()) + generate_latest(backlog),
        content_type=CONTENT_TYPE_LATEST,
    )


class _Backlog:
    """A prometheus_client collector of the delivery backlog and of the job queues'
    depths (see the module docstring)."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def collect(self) -> Any:
        import redis
        from prometheus_client.core import GaugeMetricFamily
        from sqlalchemy.exc import SQLAlchemyError

        from elicit.extensions import db
        from elicit.jobs import queue_depths
        from surveys.outbox import unsent_by_status

        unsent = GaugeMetricFamily(
            "elicit_outbox_unsent_messages",
            "Messages of every study not sent yet, by delivery status.",
            labels=["status"],
        )
        try:
            counts = unsent_by_status(db.session)
        except SQLAlchemyError:
            # The database does not answer (or is not migrated yet): the other metrics
            # still are, and /readyz says what is wrong.
            db.session.rollback()
        else:
            for status, count in counts.items():
                unsent.add_metric([status], count)
            yield unsent
        try:
            depths = queue_depths(self.app)
        except redis.RedisError:
            yield from _queues_up(0)
            return
        if depths is None:
            return
        yield from _queues_up(1)
        jobs = GaugeMetricFamily(
            "elicit_queue_jobs",
            "Jobs on each Redis queue (messages, closes, exports), by state.",
            labels=["queue", "state"],
        )
        for queue, depth in depths.items():
            for state, count in depth.items():
                jobs.add_metric([queue, state], count)
        yield jobs
        delivery = GaugeMetricFamily(
            "elicit_delivery_queue_jobs",
            "Delivery jobs on the Redis queue, by state.",
            labels=["state"],
        )
        for state, count in depths["messages"].items():
            delivery.add_metric([state], count)
        yield delivery


def _queues_up(answered: int) -> Any:
    """Whether Redis answered the scrape, under both names (see the module)."""
    from prometheus_client.core import GaugeMetricFamily

    yield GaugeMetricFamily("elicit_queue_up", "Whether the job queues' Redis answered.", answered)
    yield GaugeMetricFamily(
        "elicit_delivery_queue_up", "Whether the delivery queue's Redis answered.", answered
    )


def _registry() -> Any:
    """Every worker's metrics added up (multiprocess mode), else this process's."""
    from prometheus_client import REGISTRY, CollectorRegistry, multiprocess

    if not current_app.config.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return registry
