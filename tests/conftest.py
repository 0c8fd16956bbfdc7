"""Fixtures shared by every test package.

The database is SQLite unless ``ELICIT_TEST_DATABASE_URL`` names another server (CI
gives a PostgreSQL one); the schema is created once per session and every table is
emptied after each test, because the domain functions commit as they would in use.

Making an application costs about 50 ms (werkzeug compiles each of its URL rules into
Python) and each template it renders is compiled again for it: for two apps per test,
about a tenth of a console test's time.  So the app that serves the test client, and
the one a test's own domain calls run in (``app``), each live for the whole run, as a
server's does, with their configuration and extensions put back after each test, and
every test app shares one store of compiled templates (:class:`SharedTemplateCode`).
"""

from __future__ import annotations

import copy
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from jinja2 import BytecodeCache
from jinja2.bccache import Bucket
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from elicit import create_app
from elicit.config import normalise_database_url
from elicit.extensions import current_link_keys, db
from elicit.ratelimits import limiter
from surveys import accounts
from surveys.definition import parse_definition
from surveys.demo import demo_source
from surveys.links import LinkKeys
from surveys.models import Base, Study
from surveys.panel import IssuedLink, NewPanelist, add_panelists
from surveys.studies import load_study

BASE_URL = "http://elicit.test"
#: How the tests' users' passwords are hashed: scrypt, as in use, in under a
#: millisecond rather than the 95 ms of :data:`surveys.accounts.HASH_METHOD`, which,
#: paid to make and to check a password in nearly every console test, was a fifth of
#: their time.  (N = 128 is the least OpenSSL's memory check lets werkzeug ask for.)
TEST_HASH_METHOD = "scrypt:128:8:1"
REPOSITORY = Path(__file__).resolve().parents[1]
#: An item to add to the demo study in mid-study (curation tests).
NEW_ITEM = """\
[[items]]
key = "trigger_cyberattack"
kind = "probability"
section = "triggers"
text.en = "A major cyberattack on Mexican infrastructure is attributed to a cartel."
text.es = "Un gran ciberataque contra la infraestructura mexicana se atribuye a un cártel."
"""
CSRF_PATTERN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def pytest_report_header() -> str:
    """Say which database the run uses."""
    return f"elicit test database: {_database_url_from_env() or 'SQLite (temporary file)'}"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--database-only",
        action="store_true",
        help="run only the tests that use the test database (the database_url fixture): "
        "CI's PostgreSQL run, whose other tests do not depend on the database and run in "
        "its SQLite run",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With ``--database-only``, deselect (not skip) each test that never reaches the
    test database: analysis, parsing, command-line start-up on a SQLite file of its own
    run the same whichever database ``ELICIT_TEST_DATABASE_URL`` names."""
    if not config.getoption("--database-only"):
        return
    kept = [item for item in items if "database_url" in getattr(item, "fixturenames", ())]
    dropped = [item for item in items if "database_url" not in getattr(item, "fixturenames", ())]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """In CI a skipped test is a failure: nothing may pass by not running."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
    if os.environ.get("CI") and skipped:
        if reporter:
            reporter.write_line(f"CI: {skipped} test(s) skipped; failing the run", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session", autouse=True)
def production_password_method() -> Iterator[str]:
    """Hash passwords with :data:`TEST_HASH_METHOD` for the whole run (in this
    process: commands and servers a test starts hash as in use); the method in use."""
    in_use = accounts.HASH_METHOD
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(accounts, "HASH_METHOD", TEST_HASH_METHOD)
        yield in_use


def _database_url_from_env() -> str | None:
    url = os.environ.get("ELICIT_TEST_DATABASE_URL")
    return normalise_database_url(url) if url else None


@contextmanager
def temporary_schema(server_url: str, prefix: str) -> Iterator[str]:
    """Create a PostgreSQL schema; yield a URL whose connections use it; drop it after."""
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    engine = create_engine(server_url)
    with engine.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(server_url).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with engine.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The test database: a temporary SQLite file, or a schema of its own in the
    PostgreSQL database named by ``ELICIT_TEST_DATABASE_URL``, so that two runs on one
    server never drop each other's tables."""
    server_url = _database_url_from_env()
    if server_url is None:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'elicit-test.sqlite3'}"
        return
    with temporary_schema(server_url, "elicit_test") as url:
        yield url


@pytest.fixture(scope="session")
def _schema(database_url: str) -> Iterator[None]:
    """Create the tables once for the whole run."""
    engine = create_engine(database_url)
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    engine.dispose()
    yield
    engine = create_engine(database_url)
    Base.metadata.drop_all(engine)
    engine.dispose()


class SharedTemplateCode(BytecodeCache):
    """Jinja's compiled templates, kept in memory for every app of the test run.

    A bucket is keyed by the template's name and checked against its source's checksum
    (Jinja's own :class:`~jinja2.BytecodeCache` contract), so an edited template is
    compiled again; every test app has the same Jinja settings, so the code fits all."""

    def __init__(self) -> None:
        self._code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        code = self._code.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: Bucket) -> None:
        self._code[bucket.key] = bucket.bytecode_to_string()


TEMPLATE_CODE = SharedTemplateCode()


def _test_app(database_url: str) -> Flask:
    application = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": database_url,
            "SECRET_KEY": "test-secret-key-not-for-production",
            "ELICIT_BASE_URL": BASE_URL,
        }
    )
    application.jinja_env.bytecode_cache = TEMPLATE_CODE
    return application


def _close_connections(application: Flask) -> None:
    """Close the pooled connections of ``application``'s engine, at the end of the run.

    Not after each test: a connection made anew costs more than most tests (on
    PostgreSQL a server process with its catalogue caches to fill, then this app's
    settings for each connection; a fifth of a console test's CPU, the server's
    included).  The pool pings a connection before lending it (``pool_pre_ping``, as
    in use), so one that a test's outage ended is replaced, not lent."""
    with application.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="session")
def _served_app(database_url: str, _schema: None) -> Iterator[Flask]:
    """The app behind every test's ``client``, made once (see the module)."""
    application = _test_app(database_url)
    yield application
    _close_connections(application)


@pytest.fixture(scope="session")
def _domain_app(database_url: str, _schema: None) -> Iterator[tuple[Flask, dict[str, object]]]:
    """The app behind every test's ``app``, made once (see the module), and the state
    its making left in Flask-Limiter's one limiter.

    That limiter keeps its storage and settings on itself, not per app: each
    ``create_app`` with routes sets them for every app of the process.  A test that makes an app of
    its own (rate limits counted in a Redis of its own, since stopped) would leave them
    to the next tests, so each test starts from the limiter as the shared apps made it."""
    application = _test_app(database_url)
    yield application, dict(vars(limiter))
    _close_connections(application)


@contextmanager
def _put_back(application: Flask) -> Iterator[None]:
    """Put back, after the block, the configuration and extensions ``application`` had
    before it: what a test changes of a shared app does not reach the next test."""
    config = dict(application.config)
    extensions = dict(application.extensions)
    try:
        yield
    finally:
        application.config.clear()
        application.config.update(config)
        application.extensions.clear()
        application.extensions.update(extensions)


@pytest.fixture
def app(_domain_app: tuple[Flask, dict[str, object]]) -> Iterator[Flask]:
    """An application bound to the test database, inside an app context of its own,
    for the domain calls a test makes itself.  One app serves every test (making one
    per test was an eighth of the run's time, werkzeug compiling its URL rules); what a
    test changes of its configuration or extensions is put back after it."""
    application, limiter_as_made = _domain_app
    vars(limiter).clear()
    vars(limiter).update(limiter_as_made)
    with _put_back(application), application.app_context():
        limiter.reset()  # counts kept in process memory must not leak between tests
        yield application
        db.session.rollback()
        for table in reversed(Base.metadata.sorted_tables):
            db.session.execute(table.delete())
        db.session.commit()
        db.session.remove()  # its connection goes back to the pool (see _close_connections)


@pytest.fixture
def client(app: Flask, _served_app: Flask) -> Iterator[FlaskClient]:
    """A test client (with cookies of its own) of a second, identically configured app.

    Requests then get their own app context, ``g`` and database session, as they do
    in production, instead of sharing the context the test holds for its domain calls.
    What a test changes in that app's configuration or extensions is put back after it.
    """
    served = _served_app
    with _put_back(served):
        yield served.test_client()
        with served.app_context():
            db.session.remove()


#: What :func:`built_once` keeps for the run: per world, every table's rows once it
#: was built, and what its build returned.
_WORLDS: dict[tuple[object, ...], tuple[dict[str, list[dict[str, object]]], object]] = {}


@pytest.fixture
def built_once(app: Flask) -> Callable[..., object]:
    """``built_once(build, *key)``: the test database as ``build()`` leaves it, built by
    the first test that asks and put back, row for row, for every later one.

    Many tests start from the same data made by slow domain calls (the demo loaded, a
    panel answering, rounds closed: one to three seconds each, a fifth of a run's
    time).  The first test to ask runs ``build`` through the domain as before; every
    table's rows are then read back and kept, and each later test gets exactly those
    rows inserted again, ids and all (what a test adds gets new ids: sequences only
    grow, and SQLite counts on from the highest id).  ``build`` is named by its module
    and qualified name, plus ``key`` for a build that varies (a fixture's parameter);
    it returns plain values (ids, tokens, dictionaries), not ORM objects, and a deep
    copy of them goes to each test.  Only data in the database is kept: a build whose
    worth lies elsewhere (files, Redis, patched functions) does that part itself.
    Timestamps are the first build's, so a test about how long ago something happened
    must build its own data."""

    def run(build: Callable[[], object], *key: object) -> object:
        name = (build.__module__, build.__qualname__, *key)
        kept = _WORLDS.get(name)
        if kept is None:
            value = build()
            db.session.commit()
            rows = {
                table.name: [dict(row._mapping) for row in db.session.execute(select(table))]
                for table in Base.metadata.sorted_tables
            }
            _WORLDS[name] = (rows, copy.deepcopy(value))
            return value
        rows, value = kept
        for table in Base.metadata.sorted_tables:
            if rows[table.name]:
                db.session.execute(table.insert(), rows[table.name])
        db.session.commit()
        return copy.deepcopy(value)

    return run


@pytest.fixture
def demo_definition():
    """The shipped demo study's definition."""
    return parse_definition(demo_source(), name="demo")


@pytest.fixture
def make_study(app: Flask) -> Callable[..., Study]:
    """Load a study from TOML source (the demo by default) through the domain function."""

    def make(source: str | None = None) -> Study:
        text = source if source is not None else demo_source()
        return load_study(db.session, parse_definition(text, name="test"), text)

    return make


@pytest.fixture
def link_keys(app: Flask) -> LinkKeys:
    """The keys that seal the test app's personal links (derived from its secret key),
    the same as every identically configured app's, the test client's included."""
    return current_link_keys()


@pytest.fixture
def make_panel(app: Flask) -> Callable[..., list[IssuedLink]]:
    """Add ``count`` panelists to a study; groups and languages alternate."""

    def make(study: Study, count: int, *, groups=("a", "b", "c"), languages=("en", "es")):
        entries = [
            NewPanelist(
                f"Expert Number{i}",
                f"expert.number{i}@example.org",
                groups[i % len(groups)],
                languages[i % len(languages)],
            )
            for i in range(count)
        ]
        return add_panelists(db.session, study, entries, keys=current_link_keys())

    return make


def csrf_token(html: str) -> str:
    """The CSRF token of the form in ``html``."""
    match = CSRF_PATTERN.search(html)
    assert match, "page has no CSRF token"
    return match.group(1)


def round_form(page: str) -> dict[str, str]:
    """What a round's confirmation page (``…/rounds/open``, ``…/rounds/close``) posts
    beside its other fields: its CSRF token and the round it was made for (a page kept
    while that round was opened or closed elsewhere opens or closes nothing)."""
    found = re.search(r'<input type="hidden" name="round" value="(\d+)">', page)
    assert found, "page has no form naming its round"
    return {"csrf_token": csrf_token(page), "round": found.group(1)}


def without_tokens(page: str) -> str:
    """``page`` with every CSRF token's value blanked: two renderings of one page then
    compare equal (each request gets a token of its own)."""
    return re.sub(r'(name="csrf_token" type="hidden" value=")[^"]*', r"\1", page)


def enter(client: FlaskClient, token: str, *, lang: str | None = None):
    """Open a personal link: the token is exchanged for a session, then dropped."""
    response = client.get(f"/e/{token}" + (f"?lang={lang}" if lang else ""))
    assert response.status_code == 302, response.text
    return response


@pytest.fixture
def post_answers(client: FlaskClient) -> Callable[..., object]:
    """Open an expert's link, then post ``answers`` with the page's CSRF token.

    ``action`` is the button pressed: "submit" (the default), "review" or "save".
    """

    def post(token: str, answers: dict[str, str], *, lang: str | None = None, action=None):
        enter(client, token, lang=lang)
        page = client.get("/e/")
        data = {"csrf_token": csrf_token(page.text), **answers}
        if action:
            data["action"] = action
        return client.post("/e/", data=data)

    return post


PASSWORD = "correct horse battery staple"


@pytest.fixture
def make_user(app: Flask):
    """Create a console user (facilitator by default), optionally a member of studies."""
    from surveys.accounts import create_user, grant_access

    def make(email: str, role: str = "facilitator", studies=()):
        user = create_user(db.session, email, PASSWORD, role)
        for study in studies:
            grant_access(db.session, user, study)
        return user

    return make


def log_in(client: FlaskClient, email: str, password: str = PASSWORD):
    """Log in to the console through its form."""
    page = client.get("/console/login")
    return client.post(
        "/console/login",
        data={"csrf_token": csrf_token(page.text), "email": email, "password": password},
    )


def run_reproduce(folder: Path) -> subprocess.CompletedProcess[str]:
    """Run an export's ``reproduce.py`` as a researcher would, in the unpacked export
    folder, with only the repository on the import path."""
    return subprocess.run(
        [sys.executable, "reproduce.py"],
        cwd=folder,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(REPOSITORY), "PATH": "/usr/bin:/bin"},
        timeout=300,
        check=False,
    )
