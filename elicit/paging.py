"""The page number a request asks for, read the same way by every paged page."""

from __future__ import annotations

from collections.abc import Mapping

from flask import request

#: The highest page number a request may ask for.  Every paged list also brings the
#: page back to its own last page; this bound only keeps an absurd number from reaching
#: the database as an offset (SQLite refuses integers past 64 bits) or a loop's length.
MAX_PAGE = 1_000_000


def page_number(name: str = "page", values: Mapping[str, str] | None = None) -> int:
    """The page asked for by argument ``name`` of ``values`` (the query string unless
    given): a plain ASCII number, at least 1 and at most :data:`MAX_PAGE`; 1 for
    anything else (none, empty, signed, spaced, or digits such as "²" or "٣" that
    ``str.isdigit`` accepts but ``int`` does not, or reads differently)."""
    text = (request.args if values is None else values).get(name, "")
    if not (text.isascii() and text.isdigit()):
        return 1
    digits = text.lstrip("0")
    if len(digits) > len(str(MAX_PAGE)):  # no need to read a number that long
        return MAX_PAGE
    return min(max(int(digits or "0"), 1), MAX_PAGE)
