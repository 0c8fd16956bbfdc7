"""URL converters for the app's routes."""

from __future__ import annotations

from typing import Any

from werkzeug.routing import IntegerConverter, Map

#: The largest value of an ``Integer`` column on every supported database (PostgreSQL's
#: ``integer`` is 32-bit signed; SQLite's is 64-bit).
DATABASE_INTEGER_MAX = 2**31 - 1


class DatabaseInteger(IntegerConverter):
    """``<int:…>``: a non-negative integer that the database can compare with its ids
    and numbers.  A larger one matches no route (404) instead of failing in the query
    (PostgreSQL: "integer out of range"; SQLite's driver: OverflowError)."""

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:
        """Take Werkzeug's arguments (``min``, ``max``…), with ``max`` at most the
        database's."""
        super().__init__(map, *args, **kwargs)
        self.max = min(
            self.max if self.max is not None else DATABASE_INTEGER_MAX, DATABASE_INTEGER_MAX
        )
