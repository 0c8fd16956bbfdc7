"""The scenario tracker in the console (issue 16, point 3): a facilitator records an
observation, each problem on its field with what was typed kept; the timeline and the
study page's compact state follow; researchers read, strangers see nothing, a post
without its CSRF token changes nothing; the report shows the tracker."""

from __future__ import annotations

import re
from datetime import date, timedelta
from html import unescape

import pytest
from sqlalchemy import select

from elicit.extensions import db
from surveys.models import ScenarioObservation
from surveys.tracking import record as record_observation
from tests.conftest import csrf_token, log_in
from tests.surveys.test_tracking import add_items, close_with_contract

SLUG = "us-mexico-intelligence"
TRACKER = f"/console/studies/{SLUG}/tracker"


@pytest.fixture
def study(make_study, make_panel, make_user):
    created = make_study()
    close_with_contract(created, make_panel)
    add_items(created)
    make_user("lead@example.org", studies=[created])
    make_user("reader@example.org", "researcher", studies=[created])
    make_user("stranger@example.org")
    return created


def post(client, **fields):
    page = client.get(TRACKER).text
    return client.post(TRACKER, data={"csrf_token": csrf_token(page), **fields})


def cells(page: str, marker: str) -> list[str]:
    """The cells of the first row whose opening tag holds ``marker``."""
    row = page.split(marker, 1)[1].split("</tr>", 1)[0]
    return [
        re.sub(r"<[^>]+>", " ", cell).split()[0] if cell.strip() else ""
        for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
    ]


def test_record_an_observation_and_follow_the_timeline(client, study):
    log_in(client, "lead@example.org")
    page = unescape(client.get(TRACKER).text)
    assert "No observation recorded yet." in page
    assert 'id="timeline-table"' in page  # the prior alone
    assert "tracker-now" not in unescape(client.get(f"/console/studies/{SLUG}").text)

    recorded = post(
        client,
        item="signpost_a",
        status="seen",
        observed_on="2026-03-01",
        note="El Universal, 1 March",
    )
    assert recorded.status_code == 303
    assert recorded.location.endswith("#timeline")
    page = unescape(client.get(TRACKER).text)
    assert "Signpost “signpost_a in English” seen" in page
    assert "El Universal, 1 March" in page
    # By hand: prior .5/.3/.2 times .8/.2/.5 → .4/.06/.1 of .56.
    assert cells(page, 'data-step="1"')[3:] == ["71.4", "10.7", "17.9"]
    assert 'data-plot="tracker"' in page and "data:image/svg+xml;base64," in page
    assert "independent given the scenario" in page
    study_page = unescape(client.get(f"/console/studies/{SLUG}").text)
    assert 'id="tracker-now"' in study_page
    assert "After 1 observation" in study_page
    assert cells(study_page, 'data-scenario="status_quo"')[1:3] == ["50.0", "71.4"]

    observation = db.session.execute(select(ScenarioObservation)).scalar_one()
    page = client.get(TRACKER).text
    token = re.search(
        rf'name="withdraw-{observation.id}-csrf_token"[^>]*value="([^"]+)"', page
    ).group(1)
    withdrawn = client.post(
        f"{TRACKER}/{observation.id}/withdraw",
        data={f"withdraw-{observation.id}-csrf_token": token},
    )
    assert withdrawn.status_code == 303
    assert db.session.execute(select(ScenarioObservation)).scalars().all() == []
    # Withdrawn already: nothing left to withdraw.
    again = client.post(
        f"{TRACKER}/{observation.id}/withdraw",
        data={f"withdraw-{observation.id}-csrf_token": token},
    )
    assert again.status_code == 404


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"item": "trust_now"}, "item", "Not a valid choice"),
        ({"item": ""}, "item", "This field is required."),
        ({"status": "occurred"}, "item", "This is a signpost: record whether it was seen"),
        (
            {"item": "trigger_tariffs", "status": "not_seen"},
            "item",
            "This is a trigger: record that it occurred",
        ),
        ({"observed_on": "next week"}, "observed_on", "Not a valid date value"),
        ({"observed_on": "2026-02-30"}, "observed_on", "Not a valid date value"),
        (
            {"observed_on": (date.today() + timedelta(days=3)).isoformat()},
            "observed_on",
            "The date cannot be later than today (UTC).",
        ),
        ({"note": ""}, "note", "This field is required."),
        ({"note": "a\x07b"}, "note", "control character"),
        ({"note": "x" * 501}, "note", "500"),
        ({"note": "y" * 200_000}, "note", "500"),
    ],
)
def test_each_problem_is_named_on_its_field_and_what_was_typed_is_kept(
    client, study, fields, field, message
):
    log_in(client, "lead@example.org")
    typed = {
        "item": "signpost_b",
        "status": "seen",
        "observed_on": "2026-01-15",
        "note": "Gaceta $=1+1 <b>",
        **fields,
    }
    refused = post(client, **typed)
    assert refused.status_code == 422
    text = unescape(refused.text)
    assert f'href="#{field}"' in text
    assert message in text
    if field != "note":
        assert 'value="Gaceta $=1+1 <b>"' in text  # kept, and escaped in the page
        assert "Gaceta $=1+1 &lt;b&gt;" in refused.text
    assert db.session.execute(select(ScenarioObservation)).scalars().all() == []


def test_researchers_read_strangers_see_nothing_and_csrf_is_needed(client, study):
    record_observation(
        db.session,
        study,
        kind="trigger",
        item_key="trigger_tariffs",
        observed_on=date(2026, 2, 1),
        note="DOF",
    )
    log_in(client, "reader@example.org")
    page = client.get(TRACKER)
    assert page.status_code == 200
    assert 'id="observation-form"' not in page.text and "Withdraw" not in page.text
    assert "Trigger “Sustained U.S. tariffs on Mexico" in unescape(page.text)
    refused = client.post(
        TRACKER,
        data={
            # the session's token, from a page that has a form (the log-out button)
            "csrf_token": csrf_token(client.get(f"/console/studies/{SLUG}").text),
            "item": "signpost_a",
            "status": "seen",
            "observed_on": "2026-01-01",
            "note": "x",
        },
    )
    assert refused.status_code == 403
    client.get("/console/logout")

    log_in(client, "stranger@example.org")
    assert client.get(TRACKER).status_code == 404
    client.get("/console/logout")

    log_in(client, "lead@example.org")
    forged = client.post(
        TRACKER,
        data={"item": "signpost_a", "status": "seen", "observed_on": "2026-01-01", "note": "x"},
    )
    assert forged.status_code in (400, 422)
    assert len(db.session.execute(select(ScenarioObservation)).scalars().all()) == 1


def test_without_a_closed_round_the_page_says_why_there_is_no_timeline(
    client, make_study, make_user
):
    created = make_study()
    add_items(created)
    make_user("lead@example.org", studies=[created])
    log_in(client, "lead@example.org")
    page = unescape(client.get(TRACKER).text)
    assert "No closed round holds the panel's judgements" in page
    assert 'id="observation-form"' in page


def test_the_report_and_its_download_show_the_tracker(client, study):
    for offset, kind, key, seen in (
        (0, "signpost", "signpost_a", True),
        (1, "signpost", "signpost_b", False),
    ):
        record_observation(
            db.session,
            study,
            kind=kind,
            item_key=key,
            observed_on=date(2026, 3, 1) + timedelta(days=offset),
            seen=seen,
            note="source",
        )
    log_in(client, "lead@example.org")
    for address in (f"/console/studies/{SLUG}/report", f"/console/studies/{SLUG}/report/download"):
        page = unescape(client.get(address).text)
        assert 'id="tracker"' in page, address
        section = page.split('id="tracker"', 1)[1]
        assert 'data-plot="tracker"' in section
        assert "independent given the scenario" in section
        # By hand: .36/.024/.07 of .454 after both observations.
        assert cells(section, 'data-step="2"')[3:] == ["79.3", "5.3", "15.4"]


def _tracker_svg(page: str) -> str:
    """The text of the tracker chart's SVG on ``page``."""
    import base64

    start = page.index('data-plot="tracker"')
    encoded = re.search(r"data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)", page[start:]).group(1)
    return base64.b64decode(encoded).decode("utf-8")


def test_the_chart_labels_each_observation_with_its_date(client, study):
    for observed, key in ((date(2025, 12, 30), "signpost_a"), (date(2026, 3, 1), "signpost_b")):
        record_observation(
            db.session,
            study,
            kind="signpost",
            item_key=key,
            observed_on=observed,
            note="El Universal",
        )
    log_in(client, "lead@example.org")
    chart = _tracker_svg(client.get(f"{TRACKER}?lang=en").text)
    # Number, month and day, and the year under the first date and where it changes.
    for text in ("prior", "Dec 30", "2025", "Mar 1", "2026", "and its date"):
        assert f">{text}<" in chart or text in chart, text
    spanish = _tracker_svg(client.get(f"{TRACKER}?lang=es").text)
    assert "30 dic" in spanish and "1 mar" in spanish
