"""Insert-or-update in one statement, on the two databases elicit supports.

Saving a draft or a submission must not race with itself (two autosaves, a double
click): ``INSERT … ON CONFLICT … DO UPDATE`` lets the unique constraint decide, in one
round trip, where select-then-insert would need two and could still collide.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from surveys.models import Base


def upsert(
    session: Session,
    model: type[Base],
    rows: Sequence[dict[str, Any]],
    *,
    conflict: Sequence[str],
    update: Sequence[str],
) -> None:
    """Insert ``rows`` into ``model``'s table; where the ``conflict`` columns match an
    existing row, update its ``update`` columns instead.

    Runs on the session's connection, inside its transaction, but past the ORM's bulk
    machinery: the rows are plain values and no object in the session changes.
    """
    if not rows:
        return
    connection = session.connection()
    statement = _statement(connection.dialect.name, model, tuple(conflict), tuple(update))
    # Parameters apart from the statement: it compiles once and is cached, and the rows
    # go to the server as one batch ("insertmanyvalues"), not one statement each.
    connection.execute(statement, list(rows))


@cache
def _statement(
    dialect: str, model: type[Base], conflict: tuple[str, ...], update: tuple[str, ...]
) -> Any:
    """The upsert statement for one table, built once per process."""
    if dialect == "postgresql":
        statement: Any = postgresql.insert(model)
    elif dialect == "sqlite":
        statement = sqlite.insert(model)
    else:  # pragma: no cover - the configuration accepts only these two
        raise NotImplementedError(f"no upsert for the {dialect} dialect")
    return statement.on_conflict_do_update(
        index_elements=list(conflict),
        set_={column: statement.excluded[column] for column in update},
    )
