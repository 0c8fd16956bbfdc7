"""The JSON API: tokens (hashed, scoped, revocable, expiring, last use recorded), what
each token may do, errors as problem documents, pagination, and the OpenAPI document
describing every route.  Schemathesis and the three-round study run in
test_api_schema.py and test_api_study.py."""

from __future__ import annotations

import random
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from elicit import create_app
from elicit.extensions import db
from surveys.api_tokens import create_token, tokens_of
from surveys.demo import demo_source
from surveys.models import ApiToken, AuditEvent, User, utcnow
from surveys.rounds import close_round, open_round
from surveys.simulation import simulated_answers
from surveys.studies import study_definition
from tests.conftest import BASE_URL, csrf_token, log_in

PROBLEM = "application/problem+json"


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def lead(app, make_study, make_user):
    """A facilitator with a write token, member of the demo study."""
    study = make_study()
    user = make_user("lead@example.org", studies=[study])
    return {
        "study": study,
        "user": user,
        "secret": create_token(db.session, user, "t", "write").secret,
    }


# -- tokens ----------------------------------------------------------------------------------


def test_a_token_is_stored_only_as_a_hash_and_shown_once(app, make_user):
    user = make_user("lead@example.org")
    issued = create_token(db.session, user, "notebook", "read", expires_in_days=30)
    assert issued.secret.startswith("elicit_") and len(issued.secret) > 40
    row = db.session.execute(select(ApiToken)).scalar_one()
    stored = [str(getattr(row, column.key)) for column in ApiToken.__table__.columns]
    assert not any(issued.secret in value for value in stored)
    assert issued.secret not in str(db.session.execute(select(AuditEvent.details)).all())
    assert row.prefix == issued.secret[:13] and len(row.token_hash) == 64
    assert timedelta(days=29) < row.expires_at - utcnow() <= timedelta(days=30)
    # The list of tokens shows prefixes only.
    assert [token.prefix for token in tokens_of(db.session, user)] == [row.prefix]


def test_bad_token_values_are_named(app, make_user):
    from surveys.errors import InvalidValues

    user = make_user("lead@example.org")
    with pytest.raises(InvalidValues) as refused:
        create_token(db.session, user, " ", "admin", expires_in_days=0)
    assert set(refused.value.errors) == {"name", "scope", "expires_in_days"}


def test_the_last_use_is_recorded(app, client, lead):
    token = db.session.execute(select(ApiToken)).scalar_one()
    assert token.last_used_at is None
    before = utcnow()
    assert client.get("/api/v1/me", headers=bearer(lead["secret"])).status_code == 200
    db.session.expire_all()
    assert db.session.get(ApiToken, token.id).last_used_at >= before


def test_me_says_who_and_what(client, lead):
    answer = client.get("/api/v1/me", headers=bearer(lead["secret"]))
    assert answer.json == {
        "email": "lead@example.org",
        "role": "facilitator",
        "token_name": "t",
        "scope": "write",
        "token_expires_at": None,
    }
    assert answer.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("why", ["revoked", "expired", "inactive", "unknown", "no prefix"])
def test_an_unusable_token_is_refused_with_401(app, client, lead, why):
    token = db.session.execute(select(ApiToken)).scalar_one()
    secret = lead["secret"]
    if why == "revoked":
        token.revoked_at = utcnow()
    elif why == "expired":
        token.expires_at = utcnow() - timedelta(seconds=1)
    elif why == "inactive":
        db.session.get(User, token.user_id).active = False
    elif why == "unknown":
        secret = secret[:-4] + "AAAA"
    else:
        secret = secret.removeprefix("elicit_")
    db.session.commit()
    answer = client.get("/api/v1/studies", headers=bearer(secret))
    assert answer.status_code == 401
    assert answer.mimetype == PROBLEM
    assert answer.headers["WWW-Authenticate"] == 'Bearer realm="elicit", error="invalid_token"'
    assert "not valid" in answer.json["detail"]


def test_without_a_token_the_answer_says_how_to_send_one(client, lead):
    answer = client.get("/api/v1/studies")
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"] == 'Bearer realm="elicit"'
    assert "Authorization: Bearer" in answer.json["detail"]


def test_the_console_session_does_not_open_the_api(client, lead):
    assert log_in(client, "lead@example.org").status_code == 302
    assert client.get("/console/").status_code == 200
    assert client.get("/api/v1/studies").status_code == 401


def test_refused_tokens_are_rate_limited_per_address(app, database_url, lead):
    limited = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": database_url,
            "SECRET_KEY": "test",
            "ELICIT_API_AUTH_LIMIT": "3 per minute",
        }
    )
    client = limited.test_client()
    wrong = bearer("elicit_" + "x" * 43)
    statuses = [client.get("/api/v1/studies", headers=wrong).status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]
    blocked = client.get("/api/v1/studies", headers=bearer(lead["secret"]))
    assert blocked.status_code == 429 and blocked.mimetype == PROBLEM
    # Requests without any token are not guesses and do not count.
    other = limited.test_client()
    for _ in range(5):
        other.get("/api/v1/studies", environ_base={"REMOTE_ADDR": "10.0.0.2"})
    assert (
        other.get(
            "/api/v1/studies",
            headers=bearer(lead["secret"]),
            environ_base={"REMOTE_ADDR": "10.0.0.2"},
        ).status_code
        == 200
    )
    with limited.app_context():
        db.session.remove()
        db.engine.dispose()


# -- what each token may do ------------------------------------------------------------------


@pytest.fixture
def tokens(app, make_study, make_user):
    """Tokens of a member facilitator (read and write), a member researcher (write
    scope, but a researcher) and a facilitator of another study."""
    study = make_study()
    other = make_study(demo_source().replace('slug = "us-mexico-intelligence"', 'slug = "other"'))
    lead = make_user("lead@example.org", studies=[study])
    analyst = make_user("analyst@example.org", role="researcher", studies=[study])
    rival = make_user("rival@example.org", studies=[other])
    return {
        "read": create_token(db.session, lead, "r", "read").secret,
        "write": create_token(db.session, lead, "w", "write").secret,
        "researcher": create_token(db.session, analyst, "a", "write").secret,
        "rival": create_token(db.session, rival, "x", "write").secret,
    }


#: (method, url, body) → expected status for the tokens read, write, researcher, rival.
MATRIX = [
    ("GET", "/api/v1/studies/us-mexico-intelligence", None, (200, 200, 200, 404)),
    ("GET", "/api/v1/studies/us-mexico-intelligence/items", None, (200, 200, 200, 404)),
    ("GET", "/api/v1/studies/us-mexico-intelligence/rounds", None, (200, 200, 200, 404)),
    ("GET", "/api/v1/studies/us-mexico-intelligence/panelists", None, (200, 200, 200, 404)),
    ("GET", "/api/v1/studies/us-mexico-intelligence/responses", None, (200, 200, 200, 404)),
    ("GET", "/api/v1/studies/us-mexico-intelligence/export/json", None, (200, 200, 200, 404)),
    ("POST", "/api/v1/studies/us-mexico-intelligence/rounds", {}, (403, 201, 403, 404)),
    (
        "POST",
        "/api/v1/studies/us-mexico-intelligence/panelists",
        {"panelists": [{"name": "A B", "email": "a@b.org"}]},
        (403, 201, 403, 404),
    ),
    ("POST", "/api/v1/studies", {"definition": "x"}, (403, 422, 403, 422)),
    ("GET", "/api/v1/studies/us-mexico-intelligence/resolutions", None, (200, 200, 200, 404)),
    ("GET", "/api/v1/studies/us-mexico-intelligence/scores", None, (200, 200, 200, 404)),
    (
        "PUT",
        "/api/v1/studies/us-mexico-intelligence/resolutions/trigger_tariffs",
        {"outcome": "yes", "resolved_on": "2026-01-05", "source": "Reuters"},
        (403, 200, 403, 404),
    ),
    (
        "DELETE",
        "/api/v1/studies/us-mexico-intelligence/resolutions/trigger_tariffs",
        None,
        (403, 404, 403, 404),
    ),
]


@pytest.mark.parametrize(("method", "url", "body", "expected"), MATRIX)
def test_each_token_gets_what_its_user_and_scope_allow(client, tokens, method, url, body, expected):
    got = tuple(
        client.open(url, method=method, json=body, headers=bearer(tokens[kind])).status_code
        for kind in ("read", "write", "researcher", "rival")
    )
    assert got == expected


def test_studies_lists_only_the_users_studies(client, tokens):
    listed = client.get("/api/v1/studies", headers=bearer(tokens["rival"])).json
    assert [study["slug"] for study in listed["studies"]] == ["other"]


# -- writes and their errors -----------------------------------------------------------------


def test_loading_a_study_makes_the_caller_a_member_and_answers_201(client, make_user):
    user = make_user("lead@example.org")
    secret = create_token(db.session, user, "t", "write").secret
    answer = client.post(
        "/api/v1/studies", json={"definition": demo_source()}, headers=bearer(secret)
    )
    assert answer.status_code == 201, answer.json
    assert answer.headers["Location"] == "/api/v1/studies/us-mexico-intelligence"
    assert answer.json["slug"] == "us-mexico-intelligence"
    assert answer.json["rounds"] == [] and answer.json["anonymity"] == "standard"
    items = client.get(answer.headers["Location"] + "/items", headers=bearer(secret)).json
    assert len(items["items"]) == 30
    assert items["items"][0]["versions"][0]["note"] == "loaded"
    again = client.post(
        "/api/v1/studies", json={"definition": demo_source()}, headers=bearer(secret)
    )
    assert again.status_code == 409
    (problem,) = again.json["problems"]
    assert problem["field"] == "study.slug"
    assert demo_source().splitlines()[problem["line"] - 1].startswith("slug")


def test_a_bad_definition_is_refused_with_every_problem_and_its_line(client, lead):
    source = demo_source().replace("max_rounds = 3", "max_rounds = 0", 1)
    source = source.replace('slug = "us-mexico-intelligence"', 'slug = "Bad Slug"', 1)
    answer = client.post(
        "/api/v1/studies", json={"definition": source}, headers=bearer(lead["secret"])
    )
    assert answer.status_code == 422 and answer.mimetype == PROBLEM
    fields = {problem["field"]: problem["line"] for problem in answer.json["problems"]}
    assert {"study.slug", "study.max_rounds"} <= set(fields)
    lines = source.splitlines()
    assert lines[fields["study.slug"] - 1].startswith("slug")
    assert lines[fields["study.max_rounds"] - 1].startswith("max_rounds")


@pytest.mark.parametrize(
    ("kwargs", "status", "detail"),
    [
        ({"data": "definition=x"}, 415, "Content-Type: application/json"),
        (
            {"data": "{not json", "content_type": "application/json"},
            400,
            "not valid JSON",
        ),
        ({"json": {"definition": "x", "owner": "me"}}, 422, "Some fields"),
        ({"json": {"definition": "a\x00b"}}, 422, "Some fields"),
        ({"json": {"anonymity": "blind"}}, 422, "Some fields"),
    ],
)
def test_bodies_that_cannot_be_read_are_refused_plainly(client, lead, kwargs, status, detail):
    answer = client.post("/api/v1/studies", headers=bearer(lead["secret"]), **kwargs)
    assert answer.status_code == status
    assert answer.mimetype == PROBLEM
    assert detail in answer.json["detail"]


def test_field_errors_name_the_field(client, lead):
    answer = client.post(
        "/api/v1/studies", json={"anonymity": "secret"}, headers=bearer(lead["secret"])
    )
    assert set(answer.json["errors"]) == {"definition", "anonymity"}


def test_panelists_are_added_all_or_none_and_bad_fields_are_named(client, lead):
    url = "/api/v1/studies/us-mexico-intelligence/panelists"
    panel = [
        {"name": "Ana Ruiz", "email": "ana@example.org", "group": "academic", "language": "es"},
        {"name": "Bob Day", "email": "not an email"},
        {"name": "Cy Lee", "email": "cy@example.org", "language": "fr"},
    ]
    refused = client.post(url, json={"panelists": panel}, headers=bearer(lead["secret"]))
    assert refused.status_code == 422
    assert set(refused.json["errors"]) == {"panelists.1.email", "panelists.2.language"}
    listed = client.get(url, headers=bearer(lead["secret"])).json
    assert listed["panelists"] == []
    added = client.post(url, json={"panelists": panel[:1]}, headers=bearer(lead["secret"]))
    assert added.status_code == 201
    (link,) = added.json["panelists"]
    assert link["group"] == "academic" and link["language"] == "es"
    assert link["link"].startswith(f"{BASE_URL}/e/")
    assert "Ana" not in added.text and "ana@example.org" not in added.text
    # The link works, once exchanged for a session.
    opened = client.get(link["link"].removeprefix(BASE_URL))
    assert opened.status_code == 302
    again = client.post(url, json={"panelists": panel[:1]}, headers=bearer(lead["secret"]))
    assert again.status_code == 422
    assert "already on the panel" in again.json["errors"]["panelists"][0]


def test_rounds_open_and_close_with_conflicts_as_409(client, lead):
    headers = bearer(lead["secret"])
    rounds = "/api/v1/studies/us-mexico-intelligence/rounds"
    past = client.post(rounds, json={"deadline": "2001-01-01T00:00:00Z"}, headers=headers)
    assert past.status_code == 409 and "future" in past.json["detail"]
    next_year = utcnow().year + 1  # a deadline may lie at most 5 years ahead
    naive = client.post(rounds, json={"deadline": f"{next_year}-01-01T00:00:00"}, headers=headers)
    assert naive.status_code == 422 and "deadline" in naive.json["errors"]
    opened = client.post(rounds, json={"deadline": f"{next_year}-01-01T17:00:00Z"}, headers=headers)
    assert opened.status_code == 201
    assert opened.json["status"] == "open"
    assert opened.json["deadline"].startswith(f"{next_year}-01-01T17")
    assert opened.headers["Location"] == rounds + "/1"
    assert client.post(rounds, json={}, headers=headers).status_code == 409
    assert client.get(rounds + "/1/summary", headers=headers).status_code == 404
    assert client.post(rounds + "/2/close", headers=headers).status_code == 404
    closed = client.post(rounds + "/1/close", headers=headers)
    assert closed.status_code == 200 and closed.json["round"] == 1
    assert closed.json["respondents"] == 0
    assert client.post(rounds + "/1/close", headers=headers).status_code == 409
    assert client.get(rounds + "/1", headers=headers).json["status"] == "closed"
    stored = client.get(rounds + "/1/summary", headers=headers).json
    assert stored == closed.json
    # A script that meant round 1 (opened and closed since it looked) opens nothing.
    stale = client.post(rounds, json={"number": 1}, headers=headers)
    assert stale.status_code == 409
    assert stale.json["detail"].startswith("Round 1 is not the next round (round 2 is)")
    assert client.get(rounds + "/2", headers=headers).status_code == 404
    assert client.post(rounds, json={"number": 2}, headers=headers).status_code == 201


def test_unknown_addresses_and_methods_answer_in_json(client, lead):
    headers = bearer(lead["secret"])
    missing = client.get("/api/v1/nowhere", headers=headers)
    assert missing.status_code == 404 and missing.mimetype == PROBLEM
    wrong = client.delete("/api/v1/studies", headers=headers)
    assert wrong.status_code == 405 and wrong.mimetype == PROBLEM
    assert "GET" in wrong.headers["Allow"]
    fmt = client.get("/api/v1/studies/us-mexico-intelligence/export/pdf", headers=headers)
    assert fmt.status_code == 404 and "csv, xlsx or json" in fmt.json["detail"]


# -- responses, a page at a time -------------------------------------------------------------


def test_responses_come_in_disjoint_pages_that_cover_them_all(
    app, client, lead, make_panel, post_answers
):
    study = lead["study"]
    definition = study_definition(study)
    links = make_panel(study, 3)
    open_round(db.session, study)
    for index, link in enumerate(links):
        post_answers(link.token, simulated_answers(random.Random(index), definition))
    close_round(db.session, study)
    open_round(db.session, study)
    post_answers(links[0].token, simulated_answers(random.Random(9), definition), action="save")
    headers = bearer(lead["secret"])
    url = "/api/v1/studies/us-mexico-intelligence/responses?round=1&per_page=7"
    seen, pages = [], 0
    while url:
        page = client.get(url, headers=headers).json
        seen += [(r["round"], r["item"], r["pseudonym"]) for r in page["responses"]]
        assert len(page["responses"]) <= 7
        url, pages = page["next"], pages + 1
    total = page["total"]
    assert len(seen) == len(set(seen)) == total
    assert pages == -(-total // 7)
    assert {pseudonym for _, _, pseudonym in seen} == {link.pseudonym for link in links}
    everything = client.get(
        "/api/v1/studies/us-mexico-intelligence/responses?per_page=1000", headers=headers
    ).json
    assert everything["total"] == total  # round 2 holds only a draft, no response rows
    # Pages follow the export's order (round, item as placed, pseudonym), whatever their size.
    assert seen == [(r["round"], r["item"], r["pseudonym"]) for r in everything["responses"]]
    place = {item.key: item.position for item in study.items}
    assert seen == sorted(seen, key=lambda key: (key[0], place[key[1]], key[2]))
    assert len({item for _, item, _ in seen}) > 20
    one = everything["responses"][0]
    assert set(one) == {
        "round",
        "item",
        "item_version",
        "item_kind",
        "pseudonym",
        "group",
        "language",
        "values",
        "rationale",
        "rationale_language",
        "status",
        "created_at",
        "updated_at",
        "submitted_at",
    }
    bad = client.get(
        "/api/v1/studies/us-mexico-intelligence/responses?per_page=0&page=x", headers=headers
    )
    assert bad.status_code == 422 and set(bad.json["errors"]) == {"per_page", "page"}


def test_the_panel_comes_in_pages_with_counts_of_the_whole_panel(app, client, lead, make_panel):
    study = lead["study"]
    links = make_panel(study, 5)
    open_round(db.session, study)
    headers = bearer(lead["secret"])
    url = "/api/v1/studies/us-mexico-intelligence/panelists?per_page=2"
    seen, pages = [], 0
    while url:
        page = client.get(url, headers=headers).json
        assert len(page["panelists"]) <= 2
        # Every page counts the whole panel, not the page.
        assert page["counts"]["panelists"] == page["total"] == 5
        seen += [panelist["pseudonym"] for panelist in page["panelists"]]
        url, pages = page["next"], pages + 1
    assert pages == 3
    assert seen == sorted(link.pseudonym for link in links)
    past = client.get(
        "/api/v1/studies/us-mexico-intelligence/panelists?page=4&per_page=2", headers=headers
    ).json
    assert past["panelists"] == [] and past["next"] is None and past["total"] == 5
    bad = client.get(
        "/api/v1/studies/us-mexico-intelligence/panelists?per_page=1001&page=0", headers=headers
    )
    assert bad.status_code == 422 and set(bad.json["errors"]) == {"per_page", "page"}
    study.anonymity = "blind"
    db.session.commit()
    blind = client.get("/api/v1/studies/us-mexico-intelligence/panelists", headers=headers).json
    assert blind["panelists"] == [] and blind["total"] == 0 and blind["next"] is None
    assert blind["counts"]["panelists"] == 5


# -- the console page and the command line ---------------------------------------------------


def test_a_user_creates_uses_and_revokes_a_token_in_the_console(client, make_user, make_study):
    make_user("lead@example.org", studies=[make_study()])
    assert log_in(client, "lead@example.org").status_code == 302
    page = client.get("/console/tokens")
    assert "You have no token yet." in page.text
    refused = client.post(
        "/console/tokens",
        data={"csrf_token": csrf_token(page.text), "name": "", "scope": "read"},
    )
    assert refused.status_code == 422 and 'href="#name"' in refused.text
    created = client.post(
        "/console/tokens",
        data={"csrf_token": csrf_token(page.text), "name": "notebook", "scope": "read"},
    )
    assert created.status_code == 200
    secret = re.search(r'id="new-token">([^<]+)<', created.text).group(1)
    listing = client.get("/console/tokens").text
    assert secret not in listing and secret[:13] in listing and "never" in listing
    assert client.get("/api/v1/me", headers=bearer(secret)).json["scope"] == "read"
    assert "notebook" in client.get("/console/tokens").text
    token_id = re.search(r"/console/tokens/(\d+)/revoke", listing).group(1)
    revoked = client.post(
        f"/console/tokens/{token_id}/revoke", data={"csrf_token": csrf_token(listing)}
    )
    assert revoked.status_code == 303
    assert "revoked on" in client.get("/console/tokens").text
    assert client.get("/api/v1/me", headers=bearer(secret)).status_code == 401


def test_elicit_token_create_prints_a_working_token(app, client, make_user):
    make_user("lead@example.org")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["token", "create", "lead@example.org", "--scope", "write"])
    assert result.exit_code == 0, result.output
    secret = result.output.strip()
    assert client.get("/api/v1/me", headers=bearer(secret)).json["scope"] == "write"
    listed = runner.invoke(args=["token", "list", "lead@example.org"])
    assert secret[:13] in listed.output and secret not in listed.output
    token_id = listed.output.split("\t", 1)[0]
    assert runner.invoke(args=["token", "revoke", "lead@example.org", token_id]).exit_code == 0
    assert client.get("/api/v1/me", headers=bearer(secret)).status_code == 401
    unknown = runner.invoke(args=["token", "create", "nobody@example.org"])
    assert unknown.exit_code == 1 and "no user" in unknown.output


# -- the document ----------------------------------------------------------------------------


def test_the_openapi_document_describes_every_api_route(app, client):
    document = client.get("/api/v1/openapi.json").json
    assert document["openapi"] == "3.1.0"
    described = {
        (path, method.upper())
        for path, operations in document["paths"].items()
        for method in operations
    }
    served = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("api."):
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
            served |= {(path, method) for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert described == served
    schemas = document["components"]["schemas"]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                for content in response.get("content", {}).values():
                    ref = content["schema"].get("$ref")
                    if ref:
                        assert ref.rsplit("/", 1)[1] in schemas, (path, method, status)
            if operation["security"]:
                assert "401" in operation["responses"], (path, method)
