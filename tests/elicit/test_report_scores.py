"""Outcomes and scores in the study report (issue 16, point 4): the resolutions, each
pooling method's scores, the panelists' spread (never a pseudonym: the report may be
passed on), and the calibration table and plot once ten events have resolved, on the
page and in the downloaded file."""

from __future__ import annotations

import math
import re
from datetime import date
from html import unescape

import pytest
from sqlalchemy import select

from elicit.extensions import db
from surveys.answers import submit_responses
from surveys.models import Panelist
from surveys.resolutions import resolve
from surveys.rounds import close_round, open_round
from tests.conftest import log_in

SLUG = "us-mexico-intelligence"
TRIGGERS = (
    "trigger_officials_implicated",
    "trigger_tariffs",
    "trigger_unilateral_strike",
    "trigger_black_swan",
    "trigger_assassination",
    "trigger_violence_surge",
    "trigger_foreign_agents_law",
)


@pytest.fixture
def study(make_study, make_panel, make_user):
    """Three panelists forecast the seven triggers and the scenario set in round 1."""
    created = make_study()
    make_panel(created, 3)
    make_user("reader@example.org", "researcher", studies=[created])
    open_round(db.session, created)
    panelists = list(db.session.execute(select(Panelist).order_by(Panelist.id)).scalars())
    for index, panelist in enumerate(panelists):
        answers = {key: str(20 + 10 * index + 5 * number) for number, key in enumerate(TRIGGERS)}
        answers.update({"scenarios.status_quo": "60", "scenarios.rift": str(20 + index * 5)})
        answers["scenarios.renewal"] = str(100 - 60 - (20 + index * 5))
        submit_responses(db.session, panelist, answers)
    close_round(db.session, created)
    return created, panelists


def _section(page: str) -> str:
    return page.split('<section id="scores"', 1)[1].split("</section>", 1)[0]


def test_no_section_before_any_outcome(client, study):
    log_in(client, "reader@example.org")
    page = client.get(f"/console/studies/{SLUG}/report").text
    assert '<section id="scores"' not in page


def test_the_report_shows_outcomes_pooled_scores_spread_and_calibration(client, study):
    created, panelists = study
    resolve(db.session, created, "trigger_tariffs", "yes", date(2026, 1, 5), "Diario Oficial")
    log_in(client, "reader@example.org")
    page = unescape(client.get(f"/console/studies/{SLUG}/report").text)
    section = _section(page)
    assert "Diario Oficial" in section and "It happened" in section
    # Mean pool of 25, 35, 45 %: .35, Brier (1 − .35)² = .4225.
    mean = re.search(r'data-pool="mean">(.*?)</tr>', section).group(1)
    assert "0.422" in mean or "0.423" in mean
    assert 'id="panelist-spread-table"' in section
    assert "The calibration table appears once" in section  # one event so far
    assert 'data-plot="calibration"' not in section
    for key in TRIGGERS:
        resolve(
            db.session,
            created,
            key,
            "no" if key != "trigger_tariffs" else "yes",
            date(2026, 1, 5),
            "Reuters",
        )
    resolve(db.session, created, "scenarios", "rift", date(2026, 1, 5), "Reuters")
    for url in (f"/console/studies/{SLUG}/report", f"/console/studies/{SLUG}/report/download"):
        page = unescape(client.get(url).text)
        section = _section(page)
        assert 'data-plot="calibration"' in section, url
        assert 'data-forecaster="panel"' in section and 'data-forecaster="extremized"' in section
        assert "Few items have resolved" in section
        for panelist in panelists:
            assert panelist.pseudonym not in page


def _cells(row: str) -> list[str]:
    return [
        re.sub(r"<[^>]+>", "", cell).strip()
        for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row)
    ]


def test_the_report_ranks_the_panelists_and_says_how_many_each_pool_beats(client, study):
    created, panelists = study
    # Tariffs happened: the panelists gave it 25, 35 and 45 %; the mean and the median
    # pools 35 %, so each beats the first panelist, ties the second, loses to the third.
    resolve(db.session, created, "trigger_tariffs", "yes", date(2026, 1, 5), "Diario Oficial")
    log_in(client, "reader@example.org")
    section = _section(unescape(client.get(f"/console/studies/{SLUG}/report").text))
    for pool in ("mean", "median"):
        row = re.search(rf'data-pool="{pool}">(.*?)</tr>', section).group(1)
        assert _cells(row)[-1] == "1 of 3 (1 tie)", pool
    ranks = re.findall(r'<tr data-rank="(\d)">(.*?)</tr>', section)
    assert [rank for rank, _ in ranks] == ["1", "2", "3"]
    logs = [float(_cells(row)[-1]) for _, row in ranks]
    assert logs == pytest.approx([-math.log(0.45), -math.log(0.35), -math.log(0.25)], abs=5e-4)
    assert "Every panelist, best logarithmic score first" in section
    for panelist in panelists:
        assert panelist.pseudonym not in section


def test_a_large_panel_s_ranks_show_the_best_and_the_worst(client, study, monkeypatch):
    created, _ = study
    monkeypatch.setattr("surveys.report.RANKED_PANELISTS", 2)
    monkeypatch.setattr("surveys.report.RANKED_ENDS", 1)
    resolve(db.session, created, "trigger_tariffs", "yes", date(2026, 1, 5), "Diario Oficial")
    log_in(client, "reader@example.org")
    section = _section(unescape(client.get(f"/console/studies/{SLUG}/report").text))
    assert re.findall(r'<tr data-rank="(\d)">', section) == ["1", "3"]
    assert "… 1 more panelist …" in section
    assert "The 1 best and the 1 worst of the 3 panelists" in section
