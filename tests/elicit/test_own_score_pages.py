"""An expert's own score on their page (issue 16, point 4): off until the facilitator
switches it on in the settings; then each expert sees their own Brier and logarithmic
scores beside the pooled panel's, in a round, between rounds and once the study is
over, and never another panelist's score or pseudonym."""

from __future__ import annotations

import re
from datetime import date
from html import unescape

import pytest
from sqlalchemy import select

from elicit.extensions import db
from surveys.answers import submit_responses
from surveys.models import Panelist, Study
from surveys.resolutions import resolve
from surveys.rounds import close_round, open_round
from surveys.settings import update_settings
from tests.conftest import csrf_token, enter, log_in


@pytest.fixture
def resolved(make_study, make_panel):
    """Two experts forecast the tariffs trigger at 80 % and 30 % in round 1 (closed)
    and the scenario set; the trigger happened: Brier .04 and .49."""
    study = make_study()
    links = make_panel(study, 2)
    open_round(db.session, study)
    panelists = list(db.session.execute(select(Panelist).order_by(Panelist.id)).scalars())
    for panelist, value in zip(panelists, ("80", "30"), strict=True):
        submit_responses(db.session, panelist, {"trigger_tariffs": value})
    close_round(db.session, study)
    resolve(db.session, study, "trigger_tariffs", "yes", date.today(), "Reuters")
    return study, links, panelists


def _own(page: str) -> str:
    return page.split('id="own-score"', 1)[1].split("</section>", 1)[0]


def test_off_by_default_then_each_expert_sees_only_their_own(client, resolved):
    study, links, panelists = resolved
    enter(client, links[0].token)
    page = unescape(client.get("/e/").text)
    assert 'id="own-score"' not in page
    update_settings(db.session, study, {"show_own_score": True})
    for link, mine, theirs, other in (
        (links[0], "0.040", "0.490", panelists[1]),
        (links[1], "0.490", "0.040", panelists[0]),
    ):
        enter(client, link.token)
        # The second expert reads Spanish: decimal commas.
        page = unescape(client.get("/e/").text).replace("0,", "0.")
        section = _own(page)
        row = re.search(r'data-score="brier">(.*?)</tr>', section).group(1)
        cells = re.findall(r"<td>(.*?)</td>", row)
        assert cells[0] == mine
        assert float(cells[1]) == pytest.approx(0.2025, abs=0.001)  # the mean pool, .55
        assert theirs not in page
        assert other.pseudonym not in page
    # In the next round too.
    open_round(db.session, study)
    enter(client, links[0].token)
    assert "0.040" in _own(unescape(client.get("/e/").text))


def test_the_ended_study_page_shows_it(client, resolved):
    study, links, _ = resolved
    update_settings(db.session, study, {"show_own_score": True})
    update_settings(db.session, study, {"max_rounds": 1}, reason="the study ends here")
    enter(client, links[0].token)
    page = unescape(client.get("/e/").text)
    assert "The study is over" in page
    assert "0.040" in _own(page) and "0.490" not in page


def test_the_facilitator_switches_it_on_in_the_settings(client, resolved, make_user):
    study, links, _ = resolved
    make_user("lead@example.org", studies=[study])
    log_in(client, "lead@example.org")
    url = f"/console/studies/{study.slug}/settings"
    page = client.get(url).text
    checkbox = re.search(r'<input[^>]*name="show_own_score"[^>]*>', page)
    assert checkbox and "checked" not in checkbox.group(0)  # off by default
    form = {
        "csrf_token": csrf_token(page),
        "quantile_method": study.quantile_method,
        "feedback_min_n": str(study.feedback_min_n),
        "rationale_outside_iqr": study.rationale_outside_iqr,
        "max_rounds": str(study.max_rounds),
        "anonymity": study.anonymity,
        "consensus_items": study.consensus_items,
        "carry_over": study.carry_over,
        "show_outcome": "y",
        "show_own_score": "y",
        **({"cannot_judge": "y"} if study.cannot_judge else {}),
    }  # the protocol is stamped, yet no reason is needed: not part of it
    response = client.post(url, data=form)
    assert response.status_code == 303, response.text
    db.session.expire_all()
    assert db.session.get(Study, study.id).show_own_score is True
    enter(client, links[0].token)
    assert "0.040" in _own(unescape(client.get("/e/").text))
