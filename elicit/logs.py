"""Keep personal links out of logs.

A personal link is a credential (``/e/<token>``); the development server logs every
request line, and a reverse proxy or WSGI server may log them too.  This filter, on
Werkzeug's request log and on gunicorn's access and error logs (``gunicorn.conf.py``),
replaces the token with ``<token>``.
"""

from __future__ import annotations

import logging
import re

LINK = re.compile(r"/e/[A-Za-z0-9_-]{20,}")
#: Gunicorn's loggers: request lines (access log) and "Error handling request /e/…".
GUNICORN_LOGGERS = ("gunicorn.access", "gunicorn.error")


class RedactPersonalLinks(logging.Filter):
    """Rewrite a record whose message holds a personal link, with the token replaced."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Always keep the record; only its text changes."""
        message = record.getMessage()
        if LINK.search(message):
            record.msg = LINK.sub("/e/<token>", message)
            record.args = None
        return True


def redact_personal_links(names: tuple[str, ...] = ("werkzeug",)) -> None:
    """Install the filter on the named loggers, by default Werkzeug's request logger
    (idempotent).  A logger's filter sees what is logged through that logger itself,
    so each logger that writes request lines needs its own."""
    for name in names:
        logger = logging.getLogger(name)
        if not any(isinstance(existing, RedactPersonalLinks) for existing in logger.filters):
            logger.addFilter(RedactPersonalLinks())
