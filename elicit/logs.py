"""Keep personal links out of logs.

A personal link is a credential (``/e/<token>``); the development server logs every
request line, and a reverse proxy or WSGI server may log them too.  This filter, on
Werkzeug's request log and the root handlers, replaces the token with ``<token>``.
"""

from __future__ import annotations

import logging
import re

LINK = re.compile(r"/e/[A-Za-z0-9_-]{20,}")


class RedactPersonalLinks(logging.Filter):
    """Rewrite a record whose message holds a personal link, with the token replaced."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Always keep the record; only its text changes."""
        message = record.getMessage()
        if LINK.search(message):
            record.msg = LINK.sub("/e/<token>", message)
            record.args = None
        return True


def redact_personal_links() -> None:
    """Install the filter on Werkzeug's request logger (idempotent)."""
    logger = logging.getLogger("werkzeug")
    if not any(isinstance(existing, RedactPersonalLinks) for existing in logger.filters):
        logger.addFilter(RedactPersonalLinks())
