"""Outcomes and scores through the API (issue 16, point 4): a facilitator's write token
records, corrects and withdraws outcomes; any member's read token reads the
resolutions and the stored scores (pools, calibration, panelists by pseudonym a page
at a time, never a name)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from elicit.extensions import db
from surveys.answers import submit_responses
from surveys.api_tokens import create_token
from surveys.models import Panelist
from surveys.rounds import close_round, open_round

BASE = "/api/v1/studies/us-mexico-intelligence"


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def api(make_study, make_panel, make_user):
    """Two panelists forecast the tariffs trigger at 80 % and 30 % (round 1, closed)."""
    study = make_study()
    make_panel(study, 2)
    open_round(db.session, study)
    panelists = list(db.session.execute(select(Panelist).order_by(Panelist.id)).scalars())
    for panelist, value in zip(panelists, ("80", "30"), strict=True):
        submit_responses(db.session, panelist, {"trigger_tariffs": value})
    close_round(db.session, study)
    lead = make_user("lead@example.org", studies=[study])
    return (
        panelists,
        create_token(db.session, lead, "w", "write").secret,
        create_token(db.session, lead, "r", "read").secret,
    )


def test_resolve_read_the_scores_and_withdraw(client, api):
    panelists, write, read = api
    empty = client.get(f"{BASE}/scores", headers=bearer(read)).get_json()
    assert (empty["pools"], empty["panelists"], empty["total"]) == ([], [], 0)
    answer = client.put(
        f"{BASE}/resolutions/trigger_tariffs",
        json={"outcome": "yes", "resolved_on": "2026-01-05", "source": "Diario Oficial"},
        headers=bearer(write),
    )
    assert answer.status_code == 200, answer.text
    (resolution,) = answer.get_json()["resolutions"]
    assert resolution["item"] == "trigger_tariffs" and resolution["scored_round"] == 1
    assert resolution["resolved_on"] == "2026-01-05"
    scores = client.get(f"{BASE}/scores?per_page=1", headers=bearer(read)).get_json()
    mean = next(row for row in scores["pools"] if row["forecaster"] == "mean")
    assert mean["brier"] == pytest.approx(0.2025)  # (1 − .55)²
    assert scores["total"] == 2 and len(scores["panelists"]) == 1
    assert scores["panelists"][0]["brier"] == pytest.approx(0.04)  # the best first
    assert scores["next"].endswith("page=2&per_page=1")
    second = client.get(scores["next"], headers=bearer(read)).get_json()
    assert second["panelists"][0]["forecaster"] == panelists[1].pseudonym
    assert second["panelists"][0]["brier"] == pytest.approx(0.49)
    assert {table["forecaster"] for table in scores["calibration"]} == {
        "panel",
        "mean",
        "median",
        "trimmed_mean",
        "geometric_odds",
        "extremized",
    }
    assert not any(table["shown"] for table in scores["calibration"])  # one event
    text = client.get(f"{BASE}/scores", headers=bearer(read)).text
    assert "Expert Number" not in text and "@example.org" not in text
    # Corrected, then withdrawn.
    corrected = client.put(
        f"{BASE}/resolutions/trigger_tariffs",
        json={"outcome": "no", "resolved_on": "2026-01-05", "source": "Diario Oficial"},
        headers=bearer(write),
    )
    assert corrected.status_code == 200, corrected.text
    scores = client.get(f"{BASE}/scores", headers=bearer(read)).get_json()
    assert next(r for r in scores["pools"] if r["forecaster"] == "mean")["brier"] == (
        pytest.approx(0.3025)
    )
    gone = client.delete(f"{BASE}/resolutions/trigger_tariffs", headers=bearer(write))
    assert gone.status_code == 200 and gone.get_json() == {"resolutions": []}
    assert (
        client.delete(f"{BASE}/resolutions/trigger_tariffs", headers=bearer(write)).status_code
        == 404
    )
    assert client.get(f"{BASE}/scores", headers=bearer(read)).get_json()["pools"] == []


def test_each_wrong_field_is_named(client, api):
    _, write, read = api
    for item, body, field in [
        ("trust_now", {"outcome": "yes", "resolved_on": "2026-01-05", "source": "R"}, "item"),
        (
            "trigger_tariffs",
            {"outcome": "maybe", "resolved_on": "2026-01-05", "source": "R"},
            "outcome",
        ),
        (
            "trigger_tariffs",
            {"outcome": "yes", "resolved_on": "2999-01-05", "source": "R"},
            "resolved_on",
        ),
        (
            "trigger_tariffs",
            {"outcome": "yes", "resolved_on": "2026-01-05", "source": "a\nb"},
            "source",
        ),
        (
            "trigger_tariffs",
            {"outcome": "yes", "resolved_on": "soon", "source": "R"},
            "resolved_on",
        ),
    ]:
        answer = client.put(f"{BASE}/resolutions/{item}", json=body, headers=bearer(write))
        assert answer.status_code == 422, (item, body, answer.text)
        assert any(field in key for key in answer.get_json()["errors"]), answer.get_json()
    refused = client.put(
        f"{BASE}/resolutions/trigger_tariffs",
        json={"outcome": "yes", "resolved_on": "2026-01-05", "source": "R"},
        headers=bearer(read),
    )
    assert refused.status_code == 403
    assert client.get(f"{BASE}/resolutions", headers=bearer(read)).get_json() == {"resolutions": []}
