"""Health endpoints for load balancers, orchestrators and monitoring.

``GET /healthz``
    The process is alive and answers: 200 ``{"status": "ok"}``, touching nothing else.
``GET /readyz``
    Whether the service can do its work: the database answers a short query, its
    schema is at the head of the migrations in this code (``elicit db upgrade`` brings
    it there), and the rate-limit store and the delivery queue (``ELICIT_QUEUE_URL``)
    answer.  200 with ``"status": "ready"``; still 200 with ``"status": "degraded"``
    when the rate-limit store is unreachable and limits are counted in each process's
    memory meanwhile (Flask-Limiter's in-memory fallback: experts and facilitators keep
    working), or the delivery queue is (messages wait in the outbox until it returns);
    503 with ``"unavailable"`` when the database cannot be reached or its schema is
    behind (or ahead of) the code.
    ``warnings`` lists configuration problems this process noticed, such as
    ``X-Forwarded-For`` headers arriving while ``ELICIT_PROXY_HOPS`` is 0.

Both need no authentication, are never rate-limited, and say nothing about studies or
people: only states, revision names and advice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from elicit.extensions import db, limiter
from elicit.jobs import queue_check

blueprint = Blueprint("health", __name__)
limiter.exempt(blueprint)

#: Said once per process, and on /readyz, when a proxy seems to be in front unannounced.
FORWARDED_WITHOUT_PROXY_HOPS = (
    "Requests carry X-Forwarded-For but ELICIT_PROXY_HOPS is 0: behind a reverse proxy, "
    "every client shares the proxy's address, so one client's failed look-ups or logins "
    "can lock out everyone. Set ELICIT_PROXY_HOPS to the number of proxies in front."
)


@dataclass
class HealthState:
    """What this process noticed about its configuration while serving (per app, and
    so per process in production)."""

    warnings: list[str] = field(default_factory=list)


@blueprint.record_once
def _create_state(setup: Any) -> None:
    """Give the app its health state when the blueprint is registered."""
    setup.app.extensions["elicit.health"] = HealthState()


def _state(app: Flask) -> HealthState:
    state: HealthState = app.extensions["elicit.health"]
    return state


@blueprint.before_app_request
def _notice_forwarded_for() -> None:
    """Warn, once, if a request came through a proxy the configuration does not know.

    A start-up hook cannot see requests, so the first such request is when it is said;
    behind an unannounced proxy that is the very first request.
    """
    if current_app.config["ELICIT_PROXY_HOPS"] or "X-Forwarded-For" not in request.headers:
        return
    state = _state(current_app)
    if FORWARDED_WITHOUT_PROXY_HOPS not in state.warnings:
        state.warnings.append(FORWARDED_WITHOUT_PROXY_HOPS)
        current_app.logger.warning(FORWARDED_WITHOUT_PROXY_HOPS)


@blueprint.route("/healthz")
def healthz() -> Response:
    """The process is alive (no database access)."""
    return jsonify(status="ok")


@blueprint.route("/readyz")
def readyz() -> tuple[Response, int]:
    """The database, its migrations, the rate-limit store and the delivery queue, each
    with its state."""
    database, migrations = _database_checks()
    store = _rate_limit_store_check()
    delivery = queue_check(current_app._get_current_object())  # type: ignore[attr-defined]
    if database["status"] != "ok" or migrations["status"] != "ok":
        status, code = "unavailable", 503
    elif store["status"] != "ok" or delivery["status"] != "ok":
        status, code = "degraded", 200
    else:
        status, code = "ready", 200
    body = {
        "status": status,
        "checks": {
            "database": database,
            "migrations": migrations,
            "rate_limit_store": store,
            "delivery_queue": delivery,
        },
        "warnings": list(_state(current_app).warnings),
    }
    return jsonify(body), code


def _database_checks() -> tuple[dict[str, Any], dict[str, Any]]:
    """Whether the database answers ``SELECT 1``, and whether its Alembic revision is
    the head of the migrations folder."""
    # Alembic is imported by the readiness check, not by every process that starts.
    from alembic.migration import MigrationContext

    head = sorted(_migration_heads(current_app.extensions["migrate"].directory))
    try:
        with db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            current = sorted(MigrationContext.configure(connection).get_current_heads())
    except SQLAlchemyError:
        # The error's text may name the server and user; the operator's log has it.
        current_app.logger.warning("/readyz: the database cannot be reached", exc_info=True)
        unknown = {"status": "unknown", "head": head}
        return {"status": "unreachable"}, unknown
    if current == head:
        return {"status": "ok"}, {"status": "ok", "database": current, "head": head}
    return {"status": "ok"}, {
        "status": "behind" if set(current) <= _ancestry(head) else "mismatch",
        "database": current,
        "head": head,
        "detail": "The database's schema is not the one this code needs: run "
        "'elicit db upgrade' (or deploy the code that matches the database).",
    }


@cache
def _migration_heads(directory: str) -> frozenset[str]:
    """The head revision(s) of the migrations folder (read once per process: the files
    do not change under a running server)."""
    from alembic.script import ScriptDirectory

    return frozenset(ScriptDirectory(directory).get_heads())


def _ancestry(head: list[str]) -> set[str]:
    """Every revision below ``head``: a database at one of them is merely behind."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(current_app.extensions["migrate"].directory)
    return {
        revision.revision
        for revision in script.iterate_revisions(head, "base")
        if revision.revision not in head
    }


def _rate_limit_store_check() -> dict[str, Any]:
    """Whether the rate-limit store answers; if not, limits are counted in memory."""
    kind = str(current_app.config.get("RATELIMIT_STORAGE_URI", "memory://")).split(":", 1)[0]
    if limiter.storage.check():
        return {"status": "ok", "kind": kind}
    return {
        "status": "degraded",
        "kind": kind,
        "detail": "The rate-limit store cannot be reached: each process counts limits in "
        "its own memory until it returns.",
    }
