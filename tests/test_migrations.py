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


def test_the_upgrade_writes_the_glances_of_summaries_stored_before(
    empty_database: str, tmp_path: Path
):
    """0022 gives every summary stored before it the glance a close now writes: a
    simulated demo's summaries, their glances dropped (downgrade to 0021), get the same
    glances back from the upgrade."""
    from elicit import create_app
    from elicit.extensions import current_link_keys, db
    from surveys.demo import ensure_demo
    from surveys.models import RoundSummary
    from surveys.summary_glance import summary_glance

    _elicit(empty_database, tmp_path, "db", "upgrade")
    application = create_app(
        {"TESTING": True, "SQLALCHEMY_DATABASE_URI": empty_database, "SECRET_KEY": "k" * 32}
    )
    with application.app_context():
        ensure_demo(db.session, panelists=6, keys=current_link_keys(), simulate=True)
        expected = {
            summary.id: summary_glance(summary.statistics)
            for summary in db.session.execute(db.select(RoundSummary)).scalars()
        }
        db.session.remove()
        db.engine.dispose()
    assert len(expected) == 2 and all("classical_model" in glance for glance in expected.values())
    _elicit(empty_database, tmp_path, "db", "downgrade", "0021")
    _elicit(empty_database, tmp_path, "db", "upgrade")
    engine = create_engine(empty_database)
    try:
        with engine.connect() as connection:
            stored = dict(
                connection.execute(
                    RoundSummary.__table__.select().with_only_columns(
                        RoundSummary.__table__.c.id, RoundSummary.__table__.c.glance
                    )
                ).all()
            )
    finally:
        engine.dispose()
    assert stored == expected


def test_the_upgrade_writes_the_tallies_of_summaries_stored_before(
    empty_database: str, tmp_path: Path
):
    """0024 gives every summary stored before it the tallies a close now writes: a
    simulated demo's summaries, their tallies dropped (downgrade to 0023), get the same
    tallies back from the upgrade, each the distinct answers of its distribution."""
    from elicit import create_app
    from elicit.extensions import current_link_keys, db
    from surveys.demo import ensure_demo
    from surveys.models import RoundSummary

    _elicit(empty_database, tmp_path, "db", "upgrade")
    application = create_app(
        {"TESTING": True, "SQLALCHEMY_DATABASE_URI": empty_database, "SECRET_KEY": "k" * 32}
    )
    with application.app_context():
        ensure_demo(db.session, panelists=6, keys=current_link_keys(), simulate=True)
        expected = {}
        for summary in db.session.execute(db.select(RoundSummary)).scalars():
            expected[summary.id] = summary.tallies
            for key, components in summary.statistics["distributions"].items():
                for component, answers in components.items():
                    assert summary.tallies[key][component]["values"] == sorted(set(answers))
        db.session.remove()
        db.engine.dispose()
    assert len(expected) == 2 and all(len(tallies) > 20 for tallies in expected.values())
    _elicit(empty_database, tmp_path, "db", "downgrade", "0023")
    _elicit(empty_database, tmp_path, "db", "upgrade")
    table = RoundSummary.__table__
    engine = create_engine(empty_database)
    try:
        with engine.connect() as connection:
            stored = dict(
                connection.execute(
                    table.select().with_only_columns(table.c.id, table.c.tallies)
                ).all()
            )
    finally:
        engine.dispose()
    assert stored == expected
