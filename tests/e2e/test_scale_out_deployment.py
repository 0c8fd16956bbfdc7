"""Two real web hosts behind Debian's nginx, sharing PostgreSQL and Redis (issue 15,
point 5), as the README's "Deployment" section sets them up (``tests/deployment.py``).

Two ``elicit serve`` processes (two gunicorn workers each, instance folders of their
own) run behind nginx with the README's configuration; nginx's round robin sends each
request of one client to the other host than the last, which its access log confirms.
Through it a facilitator logs in and closes a round, an expert saves a draft and submits,
wrong passwords meet the limit counted for the whole site (a per-process count would
need four times as many), and a rewording made through one host is shown by both.

PostgreSQL is the server of ``ELICIT_TEST_DATABASE_URL`` when it names one, else the
one at 127.0.0.1:5432 that CI runs; the test makes a database of its own and drops it.
Without PostgreSQL or nginx (``apt-get install nginx``) it is skipped, which fails a CI
run.  Marked ``e2e`` so that CI runs it once (real servers, like the browser tests).
"""

from __future__ import annotations

import http.cookiejar
import http.server
import itertools
import json
import secrets
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from elicit import create_app
from elicit.extensions import current_link_keys, db
from surveys.accounts import create_user, grant_access
from surveys.definition import parse_definition
from surveys.demo import demo_source
from surveys.models import Response, ResponseStatus
from surveys.panel import NewPanelist, add_panelists
from surveys.rounds import open_round
from surveys.serialization import item_to_toml
from surveys.studies import active_items, find_study, load_study
from tests.conftest import PASSWORD, csrf_token
from tests.deployment import (
    NGINX,
    Balancer,
    create_schema_at_head,
    free_port,
    host_environment,
    nginx,
    postgresql_database,
    postgresql_server_url,
    web_hosts,
)
from tests.elicit.test_rate_limit_store import private_redis  # noqa: F401

pytestmark = pytest.mark.e2e

FACILITATOR = "lead@example.org"
OLD_TEXT = "How much trust is there today between"
NEW_TEXT = "How much trust is there at present between"


@dataclass(frozen=True)
class Site:
    """The running deployment, and what the test loaded into it."""

    balancer: Balancer
    hosts: list[str]
    database_url: str
    slug: str
    expert_token: str


@pytest.fixture
def site(tmp_path: Path, private_redis: int) -> Iterator[Site]:  # noqa: F811
    """The demo study (round 1 open, one expert, one facilitator) in a PostgreSQL
    database of its own, served by two hosts behind nginx."""
    if not NGINX.exists():
        pytest.skip("Debian's nginx is not installed (apt-get install nginx)")
    server_url = postgresql_server_url()
    try:
        database = postgresql_database(server_url, "elicit_scale_out")
        database_url = database.__enter__()
    except Exception as error:  # no server: skipped here, a failure in CI
        pytest.skip(f"no PostgreSQL at {server_url}: {type(error).__name__}")
    try:
        secret_key = secrets.token_hex(32)
        create_schema_at_head(database_url)
        slug, token = _load_study(database_url, secret_key)
        redis_url = f"redis://127.0.0.1:{private_redis}/0"
        # The base URL is nginx's, known only once it runs; links are not built here.
        environment = host_environment(
            database_url, redis_url, secret_key, "http://elicit.test", tmp_path
        )
        with (
            web_hosts(2, environment, tmp_path, workers=2) as hosts,
            nginx(hosts, tmp_path / "nginx") as balancer,
        ):
            yield Site(balancer, hosts, database_url, slug, token)
    finally:
        database.__exit__(None, None, None)


def _load_study(database_url: str, secret_key: str) -> tuple[str, str]:
    """Load the demo study, one expert and a facilitator; open round 1."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": secret_key})
    with app.app_context():
        source = demo_source()
        study = load_study(db.session, parse_definition(source, name="demo"), source)
        (link,) = add_panelists(
            db.session,
            study,
            [NewPanelist("Expert One", "one@example.org", "a", "en")],
            keys=current_link_keys(),
        )
        user = create_user(db.session, FACILITATOR, PASSWORD, "facilitator")
        grant_access(db.session, user, study)
        open_round(db.session, study)
        slug = study.slug
        db.session.remove()
        db.engine.dispose()
    return slug, link.token


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return None


class Browser:
    """One client with one cookie jar, which never follows a redirect."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.location: str | None = None
        self.cookies = http.cookiejar.CookieJar()
        self._opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.cookies), _NoRedirects()
        )

    def request(self, path: str, form: dict[str, str] | None = None) -> tuple[int, str]:
        """GET ``path``, or POST ``form`` to it; the status and the body (a redirect's
        address in :attr:`location`)."""
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        try:
            with self._opener.open(self.base_url + path, data=data, timeout=30) as answer:
                self.location = answer.headers.get("Location")
                return answer.status, answer.read().decode()
        except urllib.error.HTTPError as answer:
            self.location = answer.headers.get("Location")
            return answer.code, answer.read().decode()

    def close_round(self, console: str, token: str, number: int, timeout: float = 120) -> str:
        """Close round ``number`` from the console and follow the close's page (a job
        computes it, in a thread of whichever host took the click) until it sends to
        the study page, whichever host answers; that page."""
        form = {"csrf_token": token, "round": str(number)}
        assert self.request(f"{console}/rounds/close", form)[0] == 303
        closing = urllib.parse.urlsplit(self.location or "").path
        deadline = time.monotonic() + timeout
        while urllib.parse.urlsplit(self.location or "").path != console:
            assert "/rounds/closing/" in closing, closing
            assert time.monotonic() < deadline, "the close did not finish"
            time.sleep(0.5)
            status, page = self.request(closing)
            if status == 200:  # still closing: the page says so
                assert "Closing round" in page and "was not closed" not in page, page
            else:
                assert status == 303, (status, page)
        return self.request(console)[1]


def test_two_hosts_behind_nginx_serve_one_site(site: Site):
    browser = Browser(site.balancer.url)
    console = f"/console/studies/{site.slug}"

    # A facilitator: the login form from one host, posted to the other, and so on.
    form = {"email": FACILITATOR, "password": PASSWORD}
    form["csrf_token"] = csrf_token(browser.request("/console/login")[1])
    assert browser.request("/console/login", form)[0] == 302
    status, page = browser.request(console)
    assert status == 200
    token = csrf_token(page)
    assert "Round 1 is closed" in browser.close_round(console, token, 1)
    (trust,) = [each for each in _active_items(site) if each.definition.key == "trust_now"]
    reworded = item_to_toml(trust.definition).replace("today between", "at present between")
    changed = browser.request(
        f"{console}/items/trust_now/reword",
        {"csrf_token": token, "action": "toml", "item": reworded, "note": "clearer"},
    )
    assert changed[0] == 303, changed[1]
    form = {"csrf_token": token, "round": "2"}  # what round 2's confirmation posts
    assert browser.request(f"{console}/rounds/open", form)[0] == 303
    console_requests = len(site.balancer.upstreams())

    # An expert: the link, the page, a draft, the page again, the submission.
    expert = Browser(site.balancer.url)
    assert expert.request(f"/e/{site.expert_token}")[0] == 302
    status, page = expert.request("/e/")
    assert status == 200 and NEW_TEXT in page and OLD_TEXT not in page
    answers = {"csrf_token": csrf_token(page), "trust_now": "4", "rationale.trust_now": "ties"}
    assert expert.request("/e/", {**answers, "action": "save"})[0] == 302
    status, page = expert.request("/e/")
    assert status == 200 and NEW_TEXT in page and ">ties<" in page  # the draft, on the other host
    assert expert.request("/e/", answers)[0] == 302

    # Wrong passwords: 5 per minute for the whole site, wherever they land.
    guesser = Browser(site.balancer.url)
    wrong = {"csrf_token": csrf_token(guesser.request("/console/login")[1]), "password": "x"}
    wrong["email"] = FACILITATOR
    statuses = [guesser.request("/console/login", wrong)[0] for _ in range(6)]
    assert statuses == [401, 401, 401, 401, 401, 429], statuses

    served = site.balancer.upstreams()
    assert set(served) == set(site.hosts)
    expert_requests = served[console_requests : console_requests + 6]
    assert all(a != b for a, b in itertools.pairwise(expert_requests)), served
    assert _submitted(site) == [(ResponseStatus.SUBMITTED, "ties", 2)]
    # Both hosts are configured as the README says: nothing to warn of.
    for _ in site.hosts:
        status, body = browser.request("/readyz")
        assert status == 200 and json.loads(body)["warnings"] == [], body
    logged = site.balancer.access_log.read_text()
    assert '"GET /e/<token>" 302' in logged and site.expert_token not in logged


def _active_items(site: Site):
    """The study's current items, read from its database."""
    engine = create_engine(site.database_url)
    try:
        with Session(engine) as session:
            study = find_study(session, site.slug)
            assert study is not None
            return active_items(study)
    finally:
        engine.dispose()


def _submitted(site: Site) -> list[tuple[ResponseStatus, str | None, int]]:
    """Status, rationale and item version of every stored response."""
    engine = create_engine(site.database_url)
    try:
        with Session(engine) as session:
            rows = session.execute(select(Response)).scalars().all()
            return [(row.status, row.rationale, row.item_version) for row in rows]
    finally:
        engine.dispose()


def test_a_host_that_fails_leaves_no_personal_link_in_nginx_s_logs(tmp_path: Path):
    """nginx writes a failed upstream connection to its error log with the request line;
    with the README's configuration neither that log nor the access log keeps the link.
    One upstream answers (a bare HTTP server), the other is a port nobody listens on."""
    if not NGINX.exists():
        pytest.skip("Debian's nginx is not installed (apt-get install nginx)")
    token = secrets.token_urlsafe(32)

    class Answer(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/healthz":
                self.send_response(200)
            else:
                self.send_response(302)
                self.send_header("Location", "/e/")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    live, dead = f"127.0.0.1:{server.server_address[1]}", f"127.0.0.1:{free_port()}"
    try:
        with nginx([live, dead], tmp_path / "nginx") as balancer:
            opener = urllib.request.build_opener(_NoRedirect)
            for _ in range(4):  # round robin: the dead host is tried, then the live one
                with pytest.raises(urllib.error.HTTPError) as answer:
                    opener.open(f"{balancer.url}/e/{token}", timeout=30)
                answer.value.close()  # its connection, else collected open in a later test
                assert answer.value.code == 302
    finally:
        server.shutdown()
        server.server_close()
    logs = {path.name: path.read_text() for path in (tmp_path / "nginx").glob("*.log")}
    assert dead in logs["elicit.access.log"]  # the failure happened, and was logged
    for name, text in logs.items():
        assert token not in text, name


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None
