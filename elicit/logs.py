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

**Database errors.**  The engine never puts a statement's parameters in an error
(``hide_parameters``, :mod:`elicit.config`), and :func:`keep_values_out_of_database_errors`
keeps PostgreSQL's one-line message without the ``DETAIL`` and ``CONTEXT`` lines that
quote the failing row (``Failing row contains (…, <rationale>, …)``) or a key's value
(an email).  So neither a log, a CLI traceback nor an error page shows an answer.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

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
