"""The scenario tracker through the API (issue 16, point 3): a write token of a
facilitator records, lists and withdraws observations; a read token lists only;
problems are named by field; the timeline is the console's."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from elicit.extensions import db
from surveys.api_tokens import create_token
from surveys.models import ScenarioObservation, utcnow
from tests.surveys.test_tracking import add_items, close_with_contract

OBSERVATIONS = "/api/v1/studies/us-mexico-intelligence/observations"
PROBLEM = "application/problem+json"


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def tokens(make_study, make_panel, make_user, built_once):
    """The demo's tracker study, closed, with tokens of its facilitator (write, read),
    of a researcher member and of a facilitator of no study (built once a run:
    :func:`tests.conftest.built_once`)."""
    return built_once(lambda: _tokens(make_study, make_panel, make_user))


def _tokens(make_study, make_panel, make_user):
    study = make_study()
    close_with_contract(study, make_panel)
    add_items(study)
    lead = make_user("lead@example.org", studies=[study])
    reader = make_user("reader@example.org", "researcher", studies=[study])
    stranger = make_user("stranger@example.org")
    return {
        "write": create_token(db.session, lead, "w", "write").secret,
        "read": create_token(db.session, lead, "r", "read").secret,
        "researcher": create_token(db.session, reader, "x", "write").secret,
        "stranger": create_token(db.session, stranger, "s", "write").secret,
    }


def test_record_list_and_withdraw_with_a_write_token(client, tokens):
    listed = client.get(OBSERVATIONS, headers=bearer(tokens["write"]))
    assert listed.status_code == 200
    assert listed.json["observations"] == []
    assert listed.json["tracker"]["timeline"][0]["probability"] == pytest.approx(
        {"status_quo": 0.5, "rift": 0.3, "renewal": 0.2}
    )
    made = client.post(
        OBSERVATIONS,
        json={
            "observed_on": "2026-03-02",
            "kind": "signpost",
            "item": "signpost_b",
            "seen": False,
            "note": "Gaceta = $0",
        },
        headers=bearer(tokens["write"]),
    )
    assert made.status_code == 201, made.json
    assert made.json["step"] == 1 and made.json["seen"] is False
    assert made.json["note"] == "Gaceta = $0"
    first = client.post(
        OBSERVATIONS,
        json={
            "observed_on": "2026-03-01",
            "kind": "signpost",
            "item": "signpost_a",
            "note": "El Universal",
        },
        headers=bearer(tokens["write"]),
    )
    assert first.json["step"] == 1  # an earlier date comes first
    listed = client.get(OBSERVATIONS, headers=bearer(tokens["read"])).json
    assert [entry["item"] for entry in listed["observations"]] == ["signpost_a", "signpost_b"]
    assert [entry["step"] for entry in listed["observations"]] == [1, 2]
    last = listed["tracker"]["timeline"][-1]
    # By hand: .5/.3/.2 × .8/.2/.5 × .9/.4/.7 = .36/.024/.07 of .454.
    assert last["probability"] == pytest.approx(
        {"status_quo": 0.36 / 0.454, "rift": 0.024 / 0.454, "renewal": 0.07 / 0.454}
    )
    assert (
        last["low"]["status_quo"] <= last["probability"]["status_quo"] <= last["high"]["status_quo"]
    )
    assert "independent given the scenario" in listed["tracker"]["assumption"]

    # A read token lists but does not write.
    refused = client.post(
        OBSERVATIONS,
        json={"observed_on": "2026-03-01", "kind": "signpost", "item": "signpost_a", "note": "x"},
        headers=bearer(tokens["read"]),
    )
    assert refused.status_code == 403 and refused.mimetype == PROBLEM
    gone = client.delete(f"{OBSERVATIONS}/{first.json['id']}", headers=bearer(tokens["read"]))
    assert gone.status_code == 403

    gone = client.delete(f"{OBSERVATIONS}/{first.json['id']}", headers=bearer(tokens["write"]))
    assert gone.status_code == 204
    again = client.delete(f"{OBSERVATIONS}/{first.json['id']}", headers=bearer(tokens["write"]))
    assert again.status_code == 404 and again.mimetype == PROBLEM
    assert [row.item_key for row in db.session.execute(select(ScenarioObservation)).scalars()] == [
        "signpost_b"
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"item": "trust_now"}, "item"),
        ({"item": "trigger_tariffs"}, "item"),  # a trigger recorded as a signpost
        ({"kind": "trigger", "item": "trigger_tariffs", "seen": False}, "seen"),
        ({"kind": "rumour"}, "kind"),
        ({"observed_on": "2026-02-30"}, "observed_on"),
        ({"observed_on": (utcnow().date() + timedelta(days=2)).isoformat()}, "observed_on"),
        ({"note": ""}, "note"),
        ({"note": "two\nlines"}, "note"),
        ({"note": "x" * 501}, "note"),
        ({"unknown": 1}, "unknown"),
    ],
)
def test_problems_are_named_by_field(client, tokens, body, field):
    sent = {
        "observed_on": "2026-03-01",
        "kind": "signpost",
        "item": "signpost_a",
        "note": "source",
        **body,
    }
    refused = client.post(OBSERVATIONS, json=sent, headers=bearer(tokens["write"]))
    assert refused.status_code == 422, refused.json
    assert refused.mimetype == PROBLEM
    assert field in refused.json["errors"], refused.json
    assert db.session.execute(select(ScenarioObservation)).scalars().all() == []


def test_researchers_and_strangers_cannot_record(client, tokens):
    body = {"observed_on": "2026-03-01", "kind": "signpost", "item": "signpost_a", "note": "x"}
    assert (
        client.post(OBSERVATIONS, json=body, headers=bearer(tokens["researcher"])).status_code
        == 403
    )
    assert client.get(OBSERVATIONS, headers=bearer(tokens["researcher"])).status_code == 200
    assert client.get(OBSERVATIONS, headers=bearer(tokens["stranger"])).status_code == 404
    assert (
        client.post(OBSERVATIONS, json=body, headers=bearer(tokens["stranger"])).status_code == 404
    )
    assert client.get(OBSERVATIONS).status_code == 401


def test_the_openapi_document_describes_the_tracker(client):
    document = client.get("/api/v1/openapi.json").json
    paths = document["paths"]
    assert set(paths["/api/v1/studies/{slug}/observations"]) == {"get", "post"}
    assert "delete" in paths["/api/v1/studies/{slug}/observations/{observation_id}"]
    assert "NewObservation" in document["components"]["schemas"]
