"""Backups restore (issue 15, point 6): a database holding a study with a closed round is
backed up as the README's "Deployment" section says, restored into an empty database,
and read back identical, row for row, through the domain functions, and able to go on.

On PostgreSQL (``ELICIT_TEST_DATABASE_URL``) that is ``pg_dump --format=custom`` and
``pg_restore`` into a new database; on SQLite the online backup API (what the
``sqlite3`` shell's ``.backup`` and ``.restore`` use) into a new file.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import URL, make_url

from elicit import create_app
from elicit.extensions import current_link_keys, db
from surveys.models import Base
from surveys.panel import NewPanelist, add_panelists
from surveys.rounds import close_round, closed_summary, open_round
from surveys.studies import get_study
from tests.conftest import BASE_URL

ANSWERS = ("2", "3", "5", "4")


def _rows(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of the schema, in primary-key order."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return {
                table.name: [
                    tuple(row)
                    for row in connection.execute(
                        select(table).order_by(*table.primary_key.columns)
                    )
                ]
                for table in Base.metadata.sorted_tables
            }
    finally:
        engine.dispose()


def _libpq(url: URL) -> tuple[list[str], dict[str, str]]:
    """Connection arguments and environment for PostgreSQL's own tools."""
    arguments = ["--host", url.host or "127.0.0.1", "--port", str(url.port or 5432)]
    if url.username:
        arguments += ["--username", url.username]
    environment = {**os.environ}
    if url.password:
        environment["PGPASSWORD"] = str(url.password)
    return arguments, environment


@contextmanager
def _restored_postgresql(url: str, folder: Path) -> Iterator[str]:
    """``pg_dump -Fc`` of the test schema, ``pg_restore`` into a new, empty database;
    yield the URL of the restored copy; drop that database afterwards."""
    source = make_url(url)
    schema = str(source.query["options"]).removeprefix("-csearch_path=")
    connection_arguments, environment = _libpq(source)
    tools = [shutil.which("pg_dump"), shutil.which("pg_restore")]
    assert all(tools), "pg_dump and pg_restore (postgresql-client) are needed"
    dump = folder / "elicit.dump"
    subprocess.run(
        [
            "pg_dump",
            *connection_arguments,
            "--format=custom",
            f"--schema={schema}",
            f"--file={dump}",
            str(source.database),
        ],
        env=environment,
        check=True,
        timeout=120,
    )
    name = f"elicit_restore_{uuid.uuid4().hex[:12]}"
    server = create_engine(source, isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        subprocess.run(
            [
                "pg_restore",
                *connection_arguments,
                "--no-owner",
                "--exit-on-error",
                f"--dbname={name}",
                str(dump),
            ],
            env=environment,
            check=True,
            timeout=120,
        )
        yield source.set(database=name).render_as_string(hide_password=False)
    finally:
        with server.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()


@contextmanager
def _restored_sqlite(url: str, folder: Path) -> Iterator[str]:
    """A backup through SQLite's online backup API, restored into a new, empty file;
    yield the restored file's URL."""
    backup, restored = folder / "elicit-backup.sqlite3", folder / "restored.sqlite3"
    for source, target in ((str(make_url(url).database), backup), (backup, restored)):
        with (
            closing(sqlite3.connect(source)) as reading,
            closing(sqlite3.connect(target)) as writing,
        ):
            reading.backup(writing)
    yield f"sqlite:///{restored}"


def restored_copy(url: str, folder: Path):
    """A backup of the database at ``url``, restored as its engine's tools do."""
    if make_url(url).get_backend_name() == "postgresql":
        return _restored_postgresql(url, folder)
    return _restored_sqlite(url, folder)


def test_a_backup_restores_the_study_and_its_summary_identical(
    app, make_study, make_panel, post_answers, database_url, tmp_path
):
    study = make_study()
    links = make_panel(study, len(ANSWERS))
    open_round(db.session, study)
    for value, link in zip(ANSWERS, links, strict=True):
        assert post_answers(link.token, {"trust_now": value}).status_code == 302
    close_round(db.session, study)
    summary = closed_summary(db.session, study, 1)
    assert summary is not None and summary.respondents == len(ANSWERS)
    statistics, slug, title = summary.statistics, study.slug, study.title
    db.session.commit()
    original = _rows(database_url)
    assert original["round_summary"] and original["response"]

    with restored_copy(database_url, tmp_path) as restored_url:
        assert _rows(restored_url) == original
        restored = create_app(
            {
                "TESTING": True,
                "SQLALCHEMY_DATABASE_URI": restored_url,
                "SECRET_KEY": "test-secret-key-not-for-production",
                "ELICIT_BASE_URL": BASE_URL,
            }
        )
        with restored.app_context():
            try:
                study_back = get_study(db.session, slug)
                assert study_back.title == title
                summary_back = closed_summary(db.session, study_back, 1)
                assert summary_back is not None
                assert summary_back.statistics == statistics
                # The copy goes on: its sequences continue after the restored rows.
                (added,) = add_panelists(
                    db.session,
                    study_back,
                    [NewPanelist("Late Expert", "late@example.org", "a", "en")],
                    keys=current_link_keys(),
                )
                assert added.pseudonym not in {link.pseudonym for link in links}
            finally:
                db.session.remove()
                db.engine.dispose()
        assert len(_rows(restored_url)["panelist"]) == len(original["panelist"]) + 1
