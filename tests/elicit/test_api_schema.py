"""Schemathesis against the API's OpenAPI document (issue 6): for every operation,
generated requests — valid and invalid, from the document's coverage cases and from
fuzzing — never get a 5xx, and every response conforms to the document (status code
documented, content type, headers, body schema), under all of Schemathesis' checks.

Each operation is a test of its own, with data of its own made by a function-scoped
fixture (the ``app`` fixture empties the tables after it):

- with a write token of a facilitator who is a member of the demo study, which has a
  panel, round 1 answered and closed (so that its summary exists) and round 2 open with
  answers; Schemathesis' negative cases that leave the token out get a 401;
- with no token, an unknown, a revoked or an expired one (401), or a read-only token
  (reads work, writes get a 403), against a study the token's user facilitates.
"""

from __future__ import annotations

import itertools
import random
import re
from collections.abc import Iterator
from datetime import timedelta

import hypothesis
import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck
from hypothesis import strategies as st
from schemathesis.config import SchemathesisConfig

from elicit import create_app
from elicit.extensions import db
from surveys.answers import submit_responses
from surveys.api_tokens import create_token, revoke_token
from surveys.definition import parse_definition
from surveys.demo import demo_source
from surveys.drafts import save_draft
from surveys.models import utcnow
from surveys.panel import panelist_for_token
from surveys.rounds import close_round, open_round
from surveys.simulation import simulated_answers
from surveys.studies import study_definition
from tests.conftest import BASE_URL

DEMO_SOURCE = demo_source()
DEMO_SLUG = parse_definition(DEMO_SOURCE, name="demo").slug
DEMO_SLUG_LINE = f'slug = "{DEMO_SLUG}"'
assert DEMO_SLUG_LINE in DEMO_SOURCE  # replaced to load the demo under other slugs
#: Refused tokens are rate-limited per address; here every refusal must be a 401.
AUTH_LIMIT = "1000000 per minute"
#: Shaped like a token (prefix and length), held by nobody.
UNKNOWN_TOKEN = "elicit_" + "Q" * 43


def _config(database_url: str) -> dict[str, object]:
    return {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SECRET_KEY": "test-secret-key-not-for-production",
        "ELICIT_BASE_URL": BASE_URL,
        "ELICIT_API_AUTH_LIMIT": AUTH_LIMIT,
    }


class Target:
    """The WSGI application Schemathesis sends requests to: it hands each one to the app
    of the running test, which uses that test's database, and holds the tokens the
    running test sends.

    (Schemathesis keeps the application it loaded the document from, and some of its
    checks send requests of their own there, e.g. the same request without the token.)
    """

    def __init__(self, app: Flask) -> None:
        self.app = app
        #: The tokens a request may carry (``None``: no Authorization header).
        self.tokens: list[str | None] = []
        self._turns: Iterator[str | None] = iter(())

    def use(self, app: Flask, tokens: list[str | None]) -> None:
        self.app, self.tokens = app, tokens
        self._turns = itertools.cycle(tokens)

    def next_token(self) -> str | None:
        """The tokens in turn, for the coverage cases, which are fixed in advance."""
        return next(self._turns)

    def __call__(self, environ, start_response):
        return self.app(environ, start_response)


# Before any test runs: an app whose database is never read (the document needs no token).
DOCUMENT_APP = create_app(_config("sqlite://"))
TARGET = Target(DOCUMENT_APP)

# Two adjustments of Schemathesis' expected statuses, no check left out:
# - A body over the size limit (MAX_CONTENT_LENGTH) is refused with 413 before it is read,
#   which Schemathesis' default list of refusals does not count.
# - A study definition, panelists' emails and an observation are checked beyond what a
#   JSON Schema can say (the TOML text must be a valid study file, an email must look like
#   one, an observed item must be a signpost or trigger of the study, its date not later
#   than today), and a body the document allows can exceed the size limit (a definition
#   of a million characters outside ASCII), so a request that conforms to the document
#   may still be refused there with a 422 naming the problem (test_with_a_write_token
#   checks that it does) or a 413.  Every other operation must accept schema-valid data.
NEGATIVE_REFUSALS = [400, 401, 403, 404, 405, 406, 409, 413, 415, 422, 428, 429]
CONFIG = SchemathesisConfig.from_dict(
    {
        "checks": {"negative_data_rejection": {"expected-statuses": NEGATIVE_REFUSALS}},
        "operations": [
            {
                # put_resolution: an outcome the item can take and a date not later
                # than today are the domain's checks (422, by field); open_next_round:
                # a deadline at most five years from today, which the document cannot
                # say (422, by field, as well).
                "include-operation-id": [
                    "create_study",
                    "add_to_panel",
                    "record_observation",
                    "put_resolution",
                    "open_next_round",
                ],
                "checks": {
                    "positive_data_acceptance": {
                        "expected-statuses": ["2xx", 401, 403, 404, 409, 413, 422, 429]
                    }
                },
            }
        ],
    }
)

schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", TARGET, config=CONFIG)


def _aims(case) -> list[dict[str, object]]:
    """Changes to a valid request that reach the data instead of a 404 or a 422."""
    operation = case.operation.definition.raw.get("operationId")
    aims: list[dict[str, object]] = []
    if "slug" in case.path_parameters:
        known = {**case.path_parameters, "slug": DEMO_SLUG}
        if "number" in known:  # round 1 is closed, 2 open, 3 still to come
            aims += [{"path": {**known, "number": number}} for number in (1, 2, 3)]
        else:
            aims.append({"path": known})
    if operation == "create_study":
        aims.append({"body": {"definition": DEMO_SOURCE}})  # its slug is taken: 409
        aims.append({"new_study": True})
    if operation == "record_observation":  # a trigger of the demo study: 201
        note = {"observed_on": "2026-01-01", "kind": "trigger", "note": "Schemathesis"}
        aims.append({"body": {**note, "item": "trigger_tariffs"}})
    if operation == "add_to_panel":
        panelists = [
            {"name": "Generated Expert", "email": "generated@example.org"},
            {"name": "Other Expert", "email": "other@example.org", "group": "x", "language": "es"},
        ]
        aims.append({"body": {"panelists": panelists}})
    return aims


def _aim(case, aim: dict[str, object] | None, number: int, anonymity: str):
    if aim is None:
        return case
    if "path" in aim:
        case.path_parameters = aim["path"]
    if "body" in aim:
        case.body = aim["body"]
    if aim.get("new_study"):
        slug = f"api-study-{number}"
        case.body = {
            "definition": DEMO_SOURCE.replace(DEMO_SLUG_LINE, f'slug = "{slug}"', 1),
            "anonymity": anonymity,
        }
    return case


def _with_token(case, token: str | None):
    if token is None:
        case.headers.pop("Authorization", None)
    else:
        case.headers["Authorization"] = f"Bearer {token}"
    return case


@schema.hook
def flatmap_case(context, case):
    """Give each generated request one of the running test's tokens, unless it leaves
    the token out on purpose (a negative case of the security scheme); aim many valid
    requests at the data that exists: the demo study, its closed round 1, open round 2
    and round 3 to come, a study definition that loads (or whose slug is taken),
    panelists who can be added."""
    if case.operation.schema.is_security_param_negated(case):
        return st.just(case)
    tokens = st.sampled_from(TARGET.tokens) if TARGET.tokens else st.just(None)
    meta = case.meta
    valid = meta is not None and all(c.mode.is_positive for c in meta.components.values())
    aims = _aims(case) if valid else []
    return st.tuples(
        tokens,
        st.sampled_from([None, *aims]),
        st.integers(min_value=0, max_value=10**6),
        st.sampled_from(["standard", "blind"]),
    ).map(lambda drawn: _with_token(_aim(case, *drawn[1:]), drawn[0]))


def call_and_validate(case):
    """Send ``case`` with its token and run every check on the response.

    The token goes as an explicit header, so that Schemathesis knows it was given, not
    generated (its ``ignored_auth`` check then resends the request without it and with a
    wrong one, expecting a refusal).  The coverage cases, made before any test runs,
    carry an empty token: they get the test's tokens in turn.
    """
    header = case.headers.get("Authorization")
    if header is None:
        return case.call_and_validate()
    token = header.removeprefix("Bearer ")
    if token not in TARGET.tokens:
        token = TARGET.next_token()
        if token is None:
            case.headers.pop("Authorization")
            return case.call_and_validate()
    return case.call_and_validate(headers={"Authorization": f"Bearer {token}"})


SETTINGS = hypothesis.settings(
    max_examples=20,
    derandomize=True,  # the same requests on every run
    database=None,
    deadline=None,  # timing is not what is tested: a slow database must not fail a test
    # The data is made once per operation, not once per example, on purpose: generated
    # requests may change it (a round closed, panelists added) as they would on a
    # server.  Hypothesis warns about function-scoped fixtures for that reason.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@pytest.fixture
def served(app, database_url) -> Iterator[Flask]:
    """The app requests go to: a second one, as the ``client`` fixture makes it, while
    the test holds ``app``'s context for its domain calls."""
    application = create_app(_config(database_url))
    yield application
    TARGET.use(DOCUMENT_APP, [])
    with application.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def demo_world(served, make_study, make_panel, make_user, built_once) -> None:
    """The demo study: six panelists in two groups, round 1 answered and closed, round
    2 open with two answers and a draft; its facilitator's write token.

    The experts answer through the domain, as their pages would (their pages are not
    what is tested here, and rendering them would make up most of the time); the data
    is built once a run and put back for each operation
    (:func:`tests.conftest.built_once`).
    """
    secret = built_once(lambda: _demo_world(make_study, make_panel, make_user))
    TARGET.use(served, [secret])


def _demo_world(make_study, make_panel, make_user) -> str:
    study = make_study()
    panelists = [
        panelist_for_token(db.session, link.token)
        for link in make_panel(study, 6, groups=("a", "b"))
    ]
    definition = study_definition(study)
    rng = random.Random(6)
    open_round(db.session, study)
    for panelist in panelists:
        submit_responses(db.session, panelist, simulated_answers(rng, definition))
    close_round(db.session, study)
    open_round(db.session, study)
    for index, panelist in enumerate(panelists[:3]):
        answer = save_draft if index == 0 else submit_responses
        answer(db.session, panelist, simulated_answers(rng, definition))
    lead = make_user("lead@example.org", "facilitator", studies=[study])
    return create_token(db.session, lead, "schemathesis", "write").secret


#: A control character, percent-encoded, in a request's address.
ENCODED_CONTROL = re.compile(r"%(?:[01][0-9A-F]|7F)", re.IGNORECASE)


def refusals(response) -> tuple[int, ...]:
    """What a request without a usable token may be answered: 401, or 404 and 405 for
    no such route, or 400 when its address holds a control character (the input guard
    refuses it before any token is read)."""
    statuses = (401, 404, 405)
    return (*statuses, 400) if ENCODED_CONTROL.search(response.request.url) else statuses


@schema.parametrize()
@SETTINGS
def test_with_a_write_token(case, demo_world):
    response = call_and_validate(case)
    secured = case.operation.definition.raw.get("security") != [] and case.method != "OPTIONS"
    if secured and "Authorization" not in response.request.headers:
        assert response.status_code in refusals(response), response.text
    if response.status_code == 422 and case.method == "POST":
        problem = response.json()
        assert problem.get("errors") or problem.get("problems"), problem


@pytest.fixture
def refused_world(served, make_study, make_user) -> dict[str, str | None]:
    """A study whose facilitator has a read token, a revoked and an expired write
    token; with no token and an unknown one, the tokens requests are sent with."""
    lead = make_user("lead@example.org", "facilitator", studies=[make_study()])
    tokens = {
        kind: create_token(db.session, lead, kind, scope, expires_in_days=1)
        for kind, scope in (("read", "read"), ("revoked", "write"), ("expired", "write"))
    }
    revoke_token(db.session, lead, tokens["revoked"].token.id)
    tokens["expired"].token.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    secrets: dict[str, str | None] = {kind: issued.secret for kind, issued in tokens.items()}
    secrets |= {"none": None, "unknown": UNKNOWN_TOKEN}
    TARGET.use(served, list(secrets.values()))
    return secrets


@schema.parametrize()
@hypothesis.settings(SETTINGS, max_examples=10)  # refused before anything else runs
def test_without_a_usable_token(case, refused_world):
    response = call_and_validate(case)
    header = response.request.headers.get("Authorization", "")
    read = header == f"Bearer {refused_world['read']}"
    secured = case.operation.definition.raw.get("security") != []
    if not secured or case.method == "OPTIONS":  # Flask answers OPTIONS with the allowed methods
        return
    if read:
        if case.method != "GET":
            assert response.status_code >= 400, response.text
        return
    assert response.status_code in refusals(response), response.text
    if response.status_code == 401:
        assert response.headers["content-type"] == ["application/problem+json"]
        assert response.headers["www-authenticate"][0].startswith('Bearer realm="elicit"')
