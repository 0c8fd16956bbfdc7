"""The close preview reads as a decision: each row names its item by its text (the key
small beside it), the rule that decides it in words with what each criterion measured
and its verdict ("IQR 2 > 1: not met"), the state and the stability in words; above
the table a checklist of what could still change it, each with where to act on it."""

from __future__ import annotations

import random
import re
from datetime import timedelta
from html import unescape

from flask_babel import force_locale

from elicit.extensions import db
from surveys.answers import submit_responses
from surveys.models import utcnow
from surveys.panel import panelist_by_pseudonym
from surveys.rounds import NOT_PREVIEWED, close_preview, close_round, open_round, open_round_of
from surveys.simulation import simulated_answers
from surveys.studies import study_definition
from tests.conftest import csrf_token, log_in

SLUG = "us-mexico-intelligence"
CLOSE = f"/console/studies/{SLUG}/rounds/close"


def _row(page: str, key: str) -> str:
    """The HTML of one row of the preview table, found by its item key."""
    match = re.search(rf'<tr id="row-{key}"[^>]*>(.*?)</tr>', page, re.S)
    assert match, f"no row for {key}"
    return match.group(1)


def _text(html: str) -> str:
    """Visible text, whitespace collapsed."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def _answered_study(make_study, make_panel, make_user, post_answers, client, *, answers):
    study = make_study()
    links = make_panel(study, len(answers))
    open_round(db.session, study)
    for values, link in zip(answers, links, strict=True):
        post_answers(link.token, values)
    make_user("lead@example.org", studies=[study])
    log_in(client, "lead@example.org")
    return study, links


def test_each_row_says_the_item_the_rule_with_its_numbers_and_the_verdict(
    client, make_study, make_panel, make_user, post_answers
):
    # trust_now: 4, 4, 4 (IQR 0); trust_horizon: 1, 3, 5 (IQR 2); the tariffs
    # trigger: 10, 20, 40 % (IQR 15 percentage points, rule "IQR ≤ 20").
    _answered_study(
        make_study,
        make_panel,
        make_user,
        post_answers,
        client,
        answers=[
            {"trust_now": now, "trust_horizon": horizon, "trigger_tariffs": tariffs}
            for now, horizon, tariffs in (("4", "1", "10"), ("4", "3", "20"), ("4", "5", "40"))
        ],
    )
    page = client.get(CLOSE).text

    now, horizon, tariffs = (
        _row(page, key) for key in ("trust_now", "trust_horizon", "trigger_tariffs")
    )
    assert "How much trust is there today between the two governments' security leaders?" in _text(
        now
    )
    assert '<small class="muted key">trust_now</small>' in now
    assert "IQR at most 1 point on this 1–5 scale" in _text(now)
    assert "IQR 0 ≤ 1: met" in _text(now)
    assert "IQR 2 > 1: not met" in _text(horizon)
    assert "IQR at most 20 percentage points on this 0–100 % scale" in _text(tariffs)
    assert "IQR 15 ≤ 20: met" in _text(tariffs)
    # The state and the stability in words, never the analysis's codes.
    assert '<td class="state">consensus</td>' in now
    assert '<td class="state">no consensus</td>' in horizon
    assert "no_consensus" not in _text(page)
    assert "No earlier round to compare with." in now
    # Rows follow the study's order (drivers before triggers), not the keys' order.
    assert page.index('id="row-trust_now"') < page.index('id="row-trigger_tariffs"')

    spanish = client.get(CLOSE + "?lang=es").text
    assert "¿Cuánta confianza existe hoy" in _row(spanish, "trust_now")


def test_the_stability_against_the_previous_round_is_said_in_words(
    client, make_study, make_panel, make_user, post_answers
):
    study, links = _answered_study(
        make_study,
        make_panel,
        make_user,
        post_answers,
        client,
        answers=[{"trust_now": "4", "trust_horizon": value} for value in ("1", "3", "5")],
    )
    close_round(db.session, study)
    open_round(db.session, study)
    # Round 2: nobody changes trust_now; everyone moves trust_horizon to 3.
    for link in links:
        post_answers(link.token, {"trust_now": "4", "trust_horizon": "3"})
    log_in(client, "lead@example.org")
    page = client.get(CLOSE).text

    assert "Stable: 0 of 3 who answered both rounds changed their answer (0%, under 15%)." in _text(
        _row(page, "trust_now")
    )
    assert (
        "Not stable: 2 of 3 who answered both rounds changed their answer (66.7%, 15% or more)."
        in _text(_row(page, "trust_horizon"))
    )


def test_the_checklist_counts_drafts_non_respondents_by_group_and_the_deadline(
    client, make_study, make_panel, make_user, post_answers
):
    study = make_study()
    # Groups a, b, c take turns: two panelists each.
    links = make_panel(study, 6)
    deadline = utcnow() + timedelta(days=3)
    open_round(db.session, study, deadline=deadline)
    post_answers(links[0].token, {"trust_now": "4"})
    post_answers(links[1].token, {"trust_now": "3"})
    post_answers(links[2].token, {"trust_now": "2"}, action="save")
    make_user("lead@example.org", studies=[study])
    log_in(client, "lead@example.org")
    page = client.get(CLOSE).text

    checklist = _text(re.search(r'<section id="checklist".*?</section>', page, re.S).group(0))
    assert "1 panelist has saved a draft but not submitted it." in checklist
    assert "4 panelists have not submitted." in checklist
    assert "a: 1 of 2" in checklist and "b: 1 of 2" in checklist and "c: 2 of 2" in checklist
    assert f"The deadline, {deadline:%Y-%m-%d %H:%M} UTC, has not passed" in checklist
    # Each links to where it is acted on: the deadline on the study page, the reminder
    # a form posting (with CSRF) to the reminders the panel page sends.
    assert f'href="/console/studies/{SLUG}#new-deadline"' in page
    assert f'action="/console/studies/{SLUG}/reminders"' in page
    study_page = client.get(f"/console/studies/{SLUG}").text
    assert 'id="new-deadline"' in study_page
    reminded = client.post(
        f"/console/studies/{SLUG}/reminders", data={"csrf_token": csrf_token(page)}
    )
    assert reminded.status_code == 303
    assert client.post(f"/console/studies/{SLUG}/reminders").status_code == 400


def test_a_round_with_nothing_left_says_so(client, make_study, make_panel, make_user, post_answers):
    _answered_study(
        make_study, make_panel, make_user, post_answers, client, answers=[{"trust_now": "4"}]
    )
    page = client.get(CLOSE).text
    checklist = _text(re.search(r'<section id="checklist".*?</section>', page, re.S).group(0))
    assert "No panelist has an unsubmitted draft." in checklist
    assert "Every panelist with a valid link has submitted." in checklist
    assert "No deadline lies ahead." in checklist
    assert "/reminders" not in page


def test_a_blind_study_never_names_a_group_smaller_than_its_minimum(
    client, make_study, make_panel, make_user
):
    study = make_study()
    # feedback_min_n is 3: "officials" has 4 members, "academia" 1 and "press" 1.
    make_panel(
        study, 6, groups=("officials", "academia", "officials", "press", "officials", "officials")
    )
    study.anonymity = "blind"
    db.session.commit()
    open_round(db.session, study)
    make_user("lead@example.org", studies=[study])
    log_in(client, "lead@example.org")
    page = client.get(CLOSE).text

    groups = _text(re.search(r'<ul id="missing-by-group">.*?</ul>', page, re.S).group(0))
    assert "officials: 4 of 4" in groups
    assert "Smaller groups, not named (each under 3 panelists): 2 of 2" in groups
    assert "academia" not in page and "press" not in page

    study.anonymity = "standard"
    db.session.commit()
    named = _text(client.get(CLOSE).text)
    assert "academia: 1 of 1" in named and "press: 1 of 1" in named


def test_every_criterion_says_what_it_measured_against_its_cut_off(app):
    from analysis import Criterion
    from analysis.criterion_checks import CriterionCheck
    from elicit.facilitate.close_words import measured_words

    def words(kind, params, value, threshold, met, **more):
        return measured_words(
            CriterionCheck(Criterion(kind, params), value, threshold, met, **more)
        )

    with app.test_request_context("/"):
        assert words("iqr", {"max": 20}, 18.2, 20.0, True) == "IQR 18.2 ≤ 20: met"
        assert words("iqr", {"max": 1}, None, 1.0, False).startswith("IQR not computed")
        assert words("cv", {"max": 0.5}, 0.75, 0.5, False) == "CV 0.75 > 0.5: not met"
        assert words("rwg", {"min": 0.7}, 0.5, 0.7, False) == "rwg 0.5 < 0.7: not met"
        assert words("ad_mean", {"divisor": 6}, 0.8, 5 / 6, True) == "AD 0.8 ≤ 0.833: met"
        share = {"low": 7, "high": 9, "min": 0.75}
        assert words("share", share, 0.6, 0.75, False) == "Share 60% < 75%: not met"
        assert words("share", share, 0.8, 0.75, True) == "Share 80% ≥ 75%: met"
        split = {"min_share": 1 / 3}
        assert words("split", split, 0.375, 1 / 3, False, dissensus=True, second_value=0.5) == (
            "Lowest third 37.5%, highest third 50% (each ≥ 33.3%: dissensus)"
        )
        assert words("rand_ucla", {}, 3.0, 2.35, False, dissensus=True) == (
            "IPR 3 > IPRAS 2.35: disagreement (dissensus)"
        )
        assert words("rand_ucla", {}, 1.0, 2.35, True) == "IPR 1 ≤ IPRAS 2.35: agreement: met"
    with app.test_request_context("/"), force_locale("es"):
        # Numbers as the page's language writes them.
        assert "18,2" in words("iqr", {"max": 20}, 18.2, 20.0, True)


def test_a_share_rule_is_measured_on_the_rounds_answers(
    client, make_study, make_panel, make_user, post_answers
):
    from surveys.demo import demo_source

    source = demo_source().replace(
        '[consensus]\ncombine = "all"\ncriteria = [{ kind = "iqr", max = 1 }]',
        '[consensus]\ncombine = "all"\n'
        'criteria = [{ kind = "share", low = 4, high = 5, min = 0.75 }]',
        1,
    )
    assert 'kind = "share"' in source
    study = make_study(source)
    links = make_panel(study, 4)
    open_round(db.session, study)
    for value, link in zip(("4", "5", "5", "2"), links, strict=True):
        post_answers(link.token, {"trust_now": value})
    make_user("lead@example.org", studies=[study])
    log_in(client, "lead@example.org")
    row = _text(_row(client.get(CLOSE).text, "trust_now"))
    assert "Share of answers between 4 and 5 is at least 75%." in row
    assert "Share 75% ≥ 75%: met" in row


def test_the_preview_shows_the_states_the_close_stores_without_running_the_bootstrap(
    app, make_study, make_panel, monkeypatch
):
    """The preview's rows are the stored summary's, round 2 included (stability against
    round 1), but for the median's bootstrap interval, which it leaves out: neither the
    panel's nor any subgroup's is drawn (at 100,000 panelists that was most of a page
    that took as long as the close)."""
    import analysis.summary

    drawn: list[int] = []
    original = analysis.summary.bootstrap_sorted

    def counted(*args, **kwargs):
        drawn.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(analysis.summary, "bootstrap_sorted", counted)
    study = make_study()
    definition = study_definition(study)
    links = make_panel(study, 12)
    rng = random.Random(5)
    for number in (1, 2):
        open_round(db.session, study)
        for link in links:
            panelist = panelist_by_pseudonym(db.session, study, link.pseudonym)
            submit_responses(db.session, panelist, simulated_answers(rng, definition))
        drawn.clear()
        preview = close_preview(db.session, study, open_round_of(db.session, study))
        assert drawn == [], "the preview ran the median's bootstrap"
        summary = close_round(db.session, study)
        assert drawn, "the close runs it"
        stored = summary.statistics
        assert preview["respondents"] == summary.respondents == 12
        assert preview["settings"] == stored["settings"]
        assert preview["distributions"] == stored["distributions"]
        assert "groups" not in preview and stored["groups"]
        assert len(preview["rows"]) == len(stored["rows"]) > 30
        for shown, kept in zip(preview["rows"], stored["rows"], strict=True):
            assert all(shown[column] is None for column in NOT_PREVIEWED)
            assert {k: v for k, v in shown.items() if k not in NOT_PREVIEWED} == {
                k: v for k, v in kept.items() if k not in NOT_PREVIEWED
            }
        assert any(row[NOT_PREVIEWED[0]] is not None for row in stored["rows"])
        if number == 2:
            assert any(row["stable"] is not None for row in preview["rows"])
