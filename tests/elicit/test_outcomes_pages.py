"""Outcomes and scores in the console (issue 16, point 4): a facilitator records what
happened, each problem on its field with what was typed kept; the scores appear by
pooling method and by pseudonym, never a name; researchers read, strangers see
nothing, a post without its CSRF token changes nothing."""

from __future__ import annotations

import re
from datetime import date, timedelta
from html import unescape

import pytest
from sqlalchemy import select

from elicit.extensions import db
from surveys.answers import submit_responses
from surveys.models import ItemResolution, Panelist
from surveys.rounds import close_round, open_round
from tests.conftest import csrf_token, log_in

SLUG = "us-mexico-intelligence"
OUTCOMES = f"/console/studies/{SLUG}/outcomes"


@pytest.fixture
def study(make_study, make_panel, make_user):
    """The demo study; two panelists answered the tariffs trigger in round 1 (closed)."""
    created = make_study()
    make_panel(created, 2)
    make_user("lead@example.org", studies=[created])
    make_user("reader@example.org", "researcher", studies=[created])
    make_user("stranger@example.org")
    open_round(db.session, created)
    for panelist, value in zip(
        db.session.execute(select(Panelist).order_by(Panelist.id)).scalars(),
        ("80", "30"),
        strict=True,
    ):
        submit_responses(db.session, panelist, {"trigger_tariffs": value})
    close_round(db.session, created)
    return created


def record(client, item: str, **fields):
    page = client.get(OUTCOMES).text
    data = {f"{item}-csrf_token": csrf_token_of(page, item), "action": "save"}
    data.update({f"{item}-{name}": value for name, value in fields.items()})
    return client.post(f"{OUTCOMES}/{item}", data=data)


def csrf_token_of(page: str, item: str) -> str:
    """The CSRF token of ``item``'s form (each form's field carries the item's prefix)."""
    found = re.search(rf'name="{item}-csrf_token"[^>]*value="([^"]+)"', page)
    assert found, f"no form for {item}"
    return found.group(1)


def rows(page: str, table: str) -> list[list[str]]:
    """The cells of each body row of the table ``table`` (its id)."""
    body = page.split(f'id="{table}"', 1)[1].split("</tbody>", 1)[0]
    return [
        [re.sub(r"<[^>]+>", "", cell) for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row)]
        for row in re.findall(r"<tr [^>]*>(.*?)</tr>", body)
    ]


def cells(page: str, marker: str) -> list[str]:
    """The cells of the first row whose opening tag holds ``marker``."""
    row = page.split(marker, 1)[1].split("</tr>", 1)[0]
    return [re.sub(r"<[^>]+>", "", cell) for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row)]


def test_record_an_outcome_and_read_the_scores(client, study):
    log_in(client, "lead@example.org")
    page = unescape(client.get(OUTCOMES).text)
    assert "No score yet" in page and "Not resolved yet." in page
    recorded = record(
        client,
        "trigger_tariffs",
        outcome="yes",
        resolved_on=date.today().isoformat(),
        source="Diario Oficial, 2 March",
    )
    assert recorded.status_code == 303
    assert recorded.location.endswith("#item-trigger_tariffs")
    page = unescape(client.get(OUTCOMES).text)
    assert "Outcome: “It happened”, known on" in page and "(Diario Oficial, 2 March)" in page
    assert "Scored on round 1." in page
    assert 'id="pool-scores"' in page and 'data-pool="mean"' in page
    # Brier of the mean pool (.55 against 1): .2025; the panelists' .04 and .49.
    # By hand: the mean pool (.55 against 1) 0.2025; the panelists .04 and .49.
    assert cells(page, 'data-pool="mean"')[:3] == ["Mean of the probabilities", "1", "0.202"]
    briers = sorted(row[2] for row in rows(page, "panelist-scores"))
    assert briers == ["0.040", "0.490"]
    # Log scores: the pool's −ln .55 beats −ln .3 and loses to −ln .8.
    assert cells(page, 'data-pool="mean"')[-1] == "1 of 2"
    # In the page's language, as every other number of the console.
    spanish = unescape(client.get(f"{OUTCOMES}?lang=es").text)
    assert cells(spanish, 'data-pool="mean"')[2] == "0,202"
    pseudonyms = [p.pseudonym for p in db.session.execute(select(Panelist)).scalars()]
    assert all(f'data-pseudonym="{pseudonym}"' in page for pseudonym in pseudonyms)
    assert "Expert Number" not in page and "example.org" not in page.split("</header>")[-1]

    page = client.get(OUTCOMES).text
    withdrawn = client.post(
        f"{OUTCOMES}/trigger_tariffs",
        data={
            "trigger_tariffs-csrf_token": csrf_token_of(page, "trigger_tariffs"),
            "action": "withdraw",
        },
    )
    assert withdrawn.status_code == 303
    assert db.session.execute(select(ItemResolution)).scalars().all() == []


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"outcome": "perhaps"}, "outcome", "Not a valid choice"),
        ({"outcome": ""}, "outcome", "This field is required."),
        ({"resolved_on": "next week"}, "resolved_on", "Not a valid date value"),
        (
            {"resolved_on": (date.today() + timedelta(days=3)).isoformat()},
            "resolved_on",
            "cannot be later than today",
        ),
        ({"source": ""}, "source", "This field is required."),
        ({"source": "a\x07b"}, "source", "control character"),
    ],
)
def test_each_problem_is_named_on_its_field_and_what_was_typed_is_kept(
    client, study, fields, field, message
):
    log_in(client, "lead@example.org")
    typed = {
        "outcome": "no",
        "resolved_on": date.today().isoformat(),
        "source": "Gaceta $=1+1",
        **fields,
    }
    refused = record(client, "trigger_tariffs", **typed)
    assert refused.status_code == 422
    text = unescape(refused.text)
    assert f'href="#trigger_tariffs-{field}"' in text
    assert message in text
    if field != "source":
        assert 'value="Gaceta $=1+1"' in text
    assert db.session.execute(select(ItemResolution)).scalars().all() == []


def test_researchers_read_strangers_see_nothing_and_csrf_is_required(client, study):
    log_in(client, "reader@example.org")
    page = client.get(OUTCOMES)
    assert page.status_code == 200 and "Record the outcome" not in page.text
    forbidden = client.post(
        f"{OUTCOMES}/trigger_tariffs",
        data={"csrf_token": csrf_token(page.text), "trigger_tariffs-outcome": "yes"},
    )
    assert forbidden.status_code == 403
    client.post("/console/logout", data={"csrf_token": csrf_token(page.text)})
    log_in(client, "stranger@example.org")
    assert client.get(OUTCOMES).status_code == 404
    client.post("/console/logout", data={"csrf_token": csrf_token(page.text)})
    log_in(client, "lead@example.org")
    token = csrf_token_of(client.get(OUTCOMES).text, "trigger_tariffs")
    likert = client.post(f"{OUTCOMES}/trust_now", data={"csrf_token": token, "action": "save"})
    assert likert.status_code == 404  # a Likert item has no outcome
    no_token = client.post(
        f"{OUTCOMES}/trigger_tariffs",
        data={
            "trigger_tariffs-outcome": "yes",
            "trigger_tariffs-resolved_on": date.today().isoformat(),
            "trigger_tariffs-source": "x",
            "action": "save",
        },
    )
    assert no_token.status_code in (400, 422)
    assert db.session.execute(select(ItemResolution)).scalars().all() == []
