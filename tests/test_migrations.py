"""The Alembic history builds the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import make_url

from surveys.models import Base
from tests.conftest import temporary_schema

ELICIT = str(Path(sys.executable).with_name("elicit"))


@pytest.fixture
def empty_database(database_url: str, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty database: a new SQLite file, or a new PostgreSQL schema."""
    if make_url(database_url).get_backend_name() == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.sqlite3'}"
        return
    with temporary_schema(database_url, "migration_test") as url:
        yield url


def test_db_upgrade_builds_the_models_schema(empty_database: str, tmp_path: Path):
    environment = {
        **os.environ,
        "ELICIT_DATABASE_URL": empty_database,
        "ELICIT_INSTANCE_PATH": str(tmp_path / "instance"),
    }
    result = subprocess.run(
        [ELICIT, "db", "upgrade"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    engine = create_engine(empty_database)
    try:
        with engine.connect() as connection:
            tables = set(inspect(connection).get_table_names())
            assert tables == {*Base.metadata.tables, "alembic_version"}
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, Base.metadata)
        assert differences == [], differences
    finally:
        engine.dispose()


def _elicit(database: str, tmp_path: Path, *arguments: str) -> None:
    environment = {
        **os.environ,
        "ELICIT_DATABASE_URL": database,
        "ELICIT_INSTANCE_PATH": str(tmp_path / "instance"),
    }
    result = subprocess.run(
        [ELICIT, *arguments], env=environment, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr


def _written_again(
    database: str, tmp_path: Path, revision: str, columns: tuple[str, ...], expect
) -> tuple[dict[int, tuple], dict[int, tuple]]:
    """A simulated demo's summaries on a migrated ``database``: what a close wrote in
    ``columns`` of each (``expect(summary)``, which also checks it), then what the
    upgrade writes there once the database is taken back to ``revision``, as for
    summaries stored before them; both by summary id."""
    from elicit import create_app
    from elicit.extensions import current_link_keys, db
    from surveys.demo import ensure_demo
    from surveys.models import RoundSummary

    _elicit(database, tmp_path, "db", "upgrade")
    application = create_app(
        {"TESTING": True, "SQLALCHEMY_DATABASE_URI": database, "SECRET_KEY": "k" * 32}
    )
    with application.app_context():
        ensure_demo(db.session, panelists=6, keys=current_link_keys(), simulate=True)
        expected = {
            summary.id: expect(summary)
            for summary in db.session.execute(db.select(RoundSummary)).scalars()
        }
        db.session.remove()
        db.engine.dispose()
    _elicit(database, tmp_path, "db", "downgrade", revision)
    _elicit(database, tmp_path, "db", "upgrade")
    table = RoundSummary.__table__
    engine = create_engine(database)
    try:
        with engine.connect() as connection:
            read = table.select().with_only_columns(table.c.id, *(table.c[c] for c in columns))
            stored = {row[0]: tuple(row[1:]) for row in connection.execute(read)}
    finally:
        engine.dispose()
    return expected, stored


def test_the_upgrade_writes_the_glances_of_summaries_stored_before(
    empty_database: str, tmp_path: Path
):
    """0022 gives every summary stored before it the glance a close now writes: a
    simulated demo's summaries, their glances dropped (downgrade to 0021), get the same
    glances back from the upgrade."""
    from surveys.summary_glance import summary_glance

    expected, stored = _written_again(
        empty_database,
        tmp_path,
        "0021",
        ("glance",),
        lambda summary: (summary_glance(summary.statistics),),
    )
    assert len(expected) == 2 and all(
        "classical_model" in glance for (glance,) in expected.values()
    )
    assert stored == expected


def test_the_upgrade_writes_the_tallies_of_summaries_stored_before(
    empty_database: str, tmp_path: Path
):
    """0024 gives every summary stored before it the tallies a close now writes: a
    simulated demo's summaries, their tallies dropped (downgrade to 0023), get the same
    tallies back from the upgrade, each the distinct answers of its distribution."""

    def tallies(summary):
        for key, components in summary.statistics["distributions"].items():
            for component, answers in components.items():
                assert summary.tallies[key][component]["values"] == sorted(set(answers))
        return (summary.tallies,)

    expected, stored = _written_again(empty_database, tmp_path, "0023", ("tallies",), tallies)
    assert len(expected) == 2 and all(len(tallies) > 20 for (tallies,) in expected.values())
    assert stored == expected


def test_the_upgrade_counts_responses_and_copies_likelihoods_of_summaries_stored_before(
    empty_database: str, tmp_path: Path
):
    """0026 and 0027 give every summary stored before them what a close now writes
    beside it: a simulated demo's summaries, those dropped (downgrade to 0025), get the
    same back from the upgrade: the responses per item, which are those of the round's
    rows, and the experts' signpost likelihoods a column per signpost and scenario,
    which are the summary's own transposed."""
    from elicit.extensions import db
    from surveys.models import Response

    def written(summary):
        rows = db.session.execute(
            db.select(Response.item_id, db.func.count())
            .where(Response.round_id == summary.round_id)
            .group_by(Response.item_id)
        ).all()
        assert summary.response_counts == {str(item): n for item, n in rows}
        individual = summary.statistics["signposts"]["individual"]
        assert len(individual["experts"]) == 6
        assert summary.likelihoods["columns"] == individual["columns"]
        assert [list(row) for row in zip(*summary.likelihoods["values"], strict=True)] == (
            individual["experts"]
        )
        return (summary.response_counts, summary.likelihoods)

    expected, stored = _written_again(
        empty_database, tmp_path, "0025", ("response_counts", "likelihoods"), written
    )
    assert len(expected) == 2 and all(len(counts) > 20 for counts, _ in expected.values())
    assert stored == expected
