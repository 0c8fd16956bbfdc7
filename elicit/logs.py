"""Keep credentials and answers out of every log line and database error message.

A personal link (``/e/<token>``) and an API token (``elicit_…``) are credentials; a
request's ``Authorization`` or ``Cookie`` header carries one too.  Any of them can reach
a log: the development server and gunicorn log request lines, Flask logs the path of a
failing request with its traceback, and an exception's message may quote anything.

**Where the redaction sits.**  :func:`redact_personal_links` installs a log record
factory (:func:`logging.setLogRecordFactory`), which every logger calls to create each
record before any filter, handler or formatter sees it.  Filters would not do: a
logger's filter sees only what is logged on that very logger (not what propagates to it
from its children), and a handler's filter only the handlers present when it was added,
while gunicorn, Flask (its default handler) and Alembic's ``env.py``
(``logging.config.fileConfig``) add or replace handlers later.  The factory covers every
record of every logger, present or future, and whatever handler writes it.  A record's
message, its formatted exception (``exc_text``; the live exception is then dropped, so no
formatter can render it unredacted) and its ``stack_info`` are rewritten.

**JSON lines.**  With ``ELICIT_LOG_FORMAT=json``, :func:`use_log_format` gives every
handler of the root logger (gunicorn's error log, once ``gunicorn.conf.py`` has put it
there) a :class:`JsonFormatter`: one object per line with the time, level, logger,
message, the request's route and id when a request is being served, and the exception.
It formats records the factory has already redacted, and redacts again what it writes,
so a record made some other way (``logging.makeLogRecord``) cannot bring a link through.

**Database errors.**  The engine never puts a statement's parameters in an error
(``hide_parameters``, :mod:`elicit.config`), and :func:`keep_values_out_of_database_errors`
keeps PostgreSQL's one-line message without the ``DETAIL`` and ``CONTEXT`` lines that
quote the failing row (``Failing row contains (…, <rationale>, …)``) or a key's value
(an email).  So neither a log, a CLI traceback nor an error page shows an answer.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from flask import has_request_context, request
from flask.logging import default_handler
from sqlalchemy import event
from sqlalchemy.engine import Engine, ExceptionContext

#: Each secret's shape and what is written instead.
SECRETS: tuple[tuple[re.Pattern[str], str], ...] = (
    # A personal link's token (43 URL-safe characters; at least 20 to match a cut one).
    (re.compile(r"/e/[A-Za-z0-9_-]{20,}"), "/e/<token>"),
    # An API token: its prefix (surveys.api_tokens.TOKEN_PREFIX) and 43 characters.
    (re.compile(r"elicit_[A-Za-z0-9_-]{40,}"), "elicit_<token>"),
    # A credential header's value, written as ``Name: value``, ``'Name': 'value'`` or
    # ``HTTP_NAME=value`` (a WSGI environ).
    (
        re.compile(
            r"(?i)((?:authorization|cookie)['\"]?\s*[:=]\s*['\"]?)[^'\"\r\n,]+",
        ),
        r"\1<redacted>",
    ),
    # A bearer credential anywhere else (16 characters at least, so that prose such as
    # "a bearer token" stays as it is).
    (re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]{16,}"), r"\1 <redacted>"),
)
_FORMATTER = logging.Formatter()


def redact(text: str) -> str:
    """``text`` with every personal link, API token and credential header replaced."""
    for pattern, replacement in SECRETS:
        text = pattern.sub(replacement, text)
    return text


def redact_record(record: logging.LogRecord) -> None:
    """Rewrite ``record``'s message, exception text and stack in place, if they hold a
    secret; a record without one is left as it was (its arguments still unformatted)."""
    try:
        message = record.getMessage()
    except Exception:  # a bad format string: the handler reports it, without the secret
        message = f"{record.msg} {record.args!r}"
    redacted = redact(message)
    if redacted != message:
        record.msg, record.args = redacted, None
    if record.exc_info:
        text = record.exc_text or _FORMATTER.formatException(record.exc_info)
        redacted = redact(text)
        if redacted != text:
            # Formatters print a record's exc_text as it is; without the exception
            # itself, none can render the unredacted traceback again.
            record.exc_text, record.exc_info = redacted, None
    elif record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


def _redacting(factory: Callable[..., logging.LogRecord]) -> Callable[..., logging.LogRecord]:
    """A record factory that makes each record with ``factory``, then redacts it."""

    def make_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        redact_record(record)
        return record

    make_record.redacts = True  # type: ignore[attr-defined]
    return make_record


def redact_personal_links() -> None:
    """Redact every log record of this process, whatever its logger (idempotent).

    Called by the app factory and by ``gunicorn.conf.py`` before the workers fork, so
    that gunicorn's own access and error logs are covered too.
    """
    current = logging.getLogRecordFactory()
    if not getattr(current, "redacts", False):
        logging.setLogRecordFactory(_redacting(current))


#: A request id a proxy may send (nginx's ``$request_id``, a UUID); others are replaced.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
#: Where a request's id is kept for the log records of that request.
_REQUEST_ID_KEY = "elicit.request_id"


def request_id() -> str:
    """The current request's id: the proxy's ``X-Request-ID`` when it is a plain token,
    else one made for the request (the same for each of its records)."""
    environ = request.environ
    if _REQUEST_ID_KEY not in environ:
        given = request.headers.get("X-Request-ID", "")
        environ[_REQUEST_ID_KEY] = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
    return str(environ[_REQUEST_ID_KEY])


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line, for log shippers.

    Keys: ``time`` (ISO 8601, UTC, milliseconds), ``level``, ``logger``, ``message``;
    inside a request ``method``, ``route`` (the URL rule, such as ``/e/<token>``: never
    the path, which may hold a credential) and ``request_id``; ``exception`` and
    ``stack`` when the record has them.  Written with the standard library: the fields
    that matter here (the request's route and id) need code of their own anyway, and a
    dependency would add nothing to ``json.dumps``.
    """

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON, its secrets redacted."""
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        if has_request_context():
            rule = request.url_rule
            entry["method"] = request.method
            entry["route"] = rule.rule if rule is not None else None
            entry["request_id"] = request_id()
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = redact(record.exc_text)
        if record.stack_info:
            entry["stack"] = redact(self.formatStack(record.stack_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


def use_log_format(name: str) -> None:
    """Write this process's log records as ``name`` says (``text`` or ``json``).

    ``json`` gives every handler of the root logger a :class:`JsonFormatter`, adding
    one on standard error if there is none (the CLI, ``elicit run``), and takes Flask's
    own handler off the app's logger, whose records then reach the root's.  ``text``
    changes nothing.
    """
    if name != "json":
        return
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler(sys.stderr))
    for handler in root.handlers:
        if not isinstance(handler.formatter, JsonFormatter):
            handler.setFormatter(JsonFormatter())
    logging.getLogger("elicit").removeHandler(default_handler)


def keep_values_out_of_database_errors(engine: Engine) -> None:
    """Trim PostgreSQL's errors raised through ``engine`` to their primary message
    (idempotent).

    The server adds ``DETAIL`` and ``CONTEXT`` lines that quote values: the whole
    failing row of a NOT NULL or CHECK violation, the key of a unique violation.  The
    driver's error keeps them in its ``diag`` for code that needs them.
    """
    if not event.contains(engine, "handle_error", _primary_message_only):
        event.listen(engine, "handle_error", _primary_message_only)


def _primary_message_only(context: ExceptionContext) -> None:
    """Replace the messages of a driver error and of its SQLAlchemy wrapper with the
    driver's primary message, when the driver says which line that is (psycopg)."""
    original = context.original_exception
    diagnostic = getattr(original, "diag", None)
    primary = getattr(diagnostic, "message_primary", None)
    if not primary or str(original) == primary:
        return
    original.args = (primary,)
    wrapper = context.sqlalchemy_exception
    if wrapper is not None:
        kind = type(original)
        wrapper.args = (f"({kind.__module__}.{kind.__name__}) {primary}",)
