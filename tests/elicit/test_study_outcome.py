"""The panel sees the outcome (issue 13, point 11).

Once a study's last round has closed, each panelist's personal link shows the final
results (the anonymised statistics, charts and items at consensus that feedback shows)
in their language, with a thank-you; the facilitator can turn this off, and the link
then says thank you only.  Nothing on it names anybody, and an item too few answered
stays withheld.
"""

from __future__ import annotations

import re

from elicit.extensions import db
from surveys.demo import demo_source
from surveys.errors import InvalidValues
from surveys.models import Panelist, Study
from surveys.rounds import close_round, open_round
from surveys.settings import update_settings
from tests.conftest import csrf_token, enter, log_in
from tests.feedback_parser import parse_feedback, withheld_items

#: A one-round study: its only close ends it.  trust_now at consensus (all answer 3),
#: trigger_tariffs answered twice (below the feedback minimum of 3), so withheld.
ONE_ROUND = demo_source().replace("max_rounds = 3", "max_rounds = 1", 1)
ANSWERS = [
    {"trust_now": "3", "trigger_tariffs": "10", "rationale.trust_now": "Reason A."},
    {"trust_now": "3", "trigger_tariffs": "30", "rationale.trust_now": "Razón B."},
    {"trust_now": "3", "rationale.trust_now": "Reason C."},
    {"trust_now": "3"},
]


def _ended(make_study, make_panel, post_answers, source=ONE_ROUND):
    """A study whose last round has closed, answered as :data:`ANSWERS`."""
    study = make_study(source)
    links = make_panel(study, len(ANSWERS))
    open_round(db.session, study)
    for link, answers in zip(links, ANSWERS, strict=True):
        assert post_answers(link.token, answers).status_code == 302
    close_round(db.session, study)
    return study, links


def test_after_the_last_close_the_link_shows_the_outcome_with_a_thank_you(
    client, make_study, make_panel, post_answers
):
    _, links = _ended(make_study, make_panel, post_answers)
    enter(client, links[0].token, lang="en")
    page = client.get("/e/")
    assert page.status_code == 200
    html = page.text
    assert "The study is over. Thank you for taking part." in html
    assert "<form" not in html.split("<main", 1)[1]  # nothing left to answer
    shown = parse_feedback(html)
    assert float(shown[("trust_now", "")]["median"]) == 3.0
    assert int(shown[("trust_now", "")]["n"]) == 4
    assert "<svg" in html and 'role="img"' in html
    # Items at consensus are listed first, linking to their result.
    consensus = html.split('id="at-consensus"', 1)[1].split("</section>", 1)[0]
    assert 'href="#item-trust_now"' in consensus
    assert 'href="#item-trigger_tariffs"' not in consensus
    # Two answers: below the feedback minimum, withheld as feedback withholds it.
    assert "trigger_tariffs" in withheld_items(html)
    assert ("trigger_tariffs", "") not in shown
    assert "Reason A." in html and "Reason C." in html


def test_the_outcome_is_in_the_panelists_language(client, make_study, make_panel, post_answers):
    _, links = _ended(make_study, make_panel, post_answers)
    # links[1] prefers Spanish (make_panel alternates en, es).
    enter(client, links[1].token)
    html = client.get("/e/").text
    assert '<html lang="es"' in html
    spanish_question = "confianza"
    assert spanish_question in html.lower()
    # A reason in the reader's language is unmarked; one in English is marked.
    assert '<span class="rationale-text" lang="es">Razón B.</span></li>' in html
    assert (
        '<span class="rationale-text" lang="en">Reason A.</span> <span class="language-mark">'
        in (html)
    )


def test_the_outcome_names_nobody(client, make_study, make_panel, post_answers):
    _, links = _ended(make_study, make_panel, post_answers)
    enter(client, links[0].token)
    html = client.get("/e/").text
    for i in range(len(ANSWERS)):
        assert f"Expert Number{i}" not in html
        assert f"expert.number{i}@example.org" not in html
    for pseudonym in db.session.execute(db.select(Panelist.pseudonym)).scalars():
        assert pseudonym not in html


def test_turned_off_the_link_says_thank_you_only(client, make_study, make_panel, post_answers):
    study, links = _ended(make_study, make_panel, post_answers)
    update_settings(db.session, study, {"show_outcome": False})
    enter(client, links[0].token)
    html = client.get("/e/").text
    assert "The study is over. Thank you for taking part." in html
    assert parse_feedback(html) == {}
    assert "<svg" not in html
    assert "Reason A." not in html
    assert 'id="at-consensus"' not in html


def test_a_study_between_rounds_shows_no_outcome(client, make_study, make_panel, post_answers):
    _, links = _ended(make_study, make_panel, post_answers, source=demo_source())
    enter(client, links[0].token)
    html = client.get("/e/").text
    assert "Round 1 is closed." in html
    assert "The study is over" not in html
    assert parse_feedback(html) == {}


def test_lowering_the_maximum_to_the_rounds_held_ends_the_study(
    client, make_study, make_panel, post_answers
):
    study, links = _ended(make_study, make_panel, post_answers, source=demo_source())
    update_settings(db.session, study, {"max_rounds": 1}, reason="The panel agreed early.")
    enter(client, links[0].token)
    html = client.get("/e/").text
    assert "The study is over. Thank you for taking part." in html
    assert float(parse_feedback(html)[("trust_now", "")]["median"]) == 3.0


def test_an_item_retired_at_consensus_by_the_last_close_is_in_the_outcome(
    client, make_study, make_panel, post_answers
):
    source = ONE_ROUND.replace(
        "feedback_min_n = 3", 'feedback_min_n = 3\nconsensus_items = "leave"'
    )
    study, links = _ended(make_study, make_panel, post_answers, source=source)
    assert any(item.retired_at for item in study.items if item.key == "trust_now")
    enter(client, links[0].token)
    html = client.get("/e/").text
    assert float(parse_feedback(html)[("trust_now", "")]["median"]) == 3.0


def test_the_facilitator_turns_the_outcome_off_on_the_settings_page(
    client, make_study, make_panel, post_answers, make_user
):
    study, _ = _ended(make_study, make_panel, post_answers)
    make_user("lead@example.org", studies=[study])
    log_in(client, "lead@example.org")
    url = f"/console/studies/{study.slug}/settings"
    page = client.get(url).text
    checkbox = re.search(r'<input[^>]*name="show_outcome"[^>]*>', page)
    assert checkbox and "checked" in checkbox.group(0)  # on by default
    form = {
        "csrf_token": csrf_token(page),
        "quantile_method": study.quantile_method,
        "feedback_min_n": str(study.feedback_min_n),
        "rationale_outside_iqr": study.rationale_outside_iqr,
        "max_rounds": str(study.max_rounds),
        "anonymity": study.anonymity,
        "consensus_items": study.consensus_items,
        "carry_over": study.carry_over,
        **({"cannot_judge": "y"} if study.cannot_judge else {}),
    }  # show_outcome unticked; the protocol is stamped, yet no reason is needed
    response = client.post(url, data=form)
    assert response.status_code == 303, response.text
    db.session.expire_all()
    assert db.session.get(Study, study.id).show_outcome is False
    assert not any(a.what == "settings.show_outcome" for a in _amendments(study))


def _amendments(study):
    """The study's amendments."""
    from surveys.models import Amendment

    return (
        db.session.execute(db.select(Amendment).where(Amendment.study_id == study.id))
        .scalars()
        .all()
    )


def test_the_setting_takes_only_true_or_false(make_study):
    study = make_study()
    try:
        update_settings(db.session, study, {"show_outcome": "no"})
    except InvalidValues as invalid:
        assert list(invalid.errors) == ["show_outcome"]
    else:
        raise AssertionError("a non-boolean show_outcome was accepted")
    assert study.show_outcome is True


def test_answers_sent_after_the_last_close_are_kept_and_the_study_said_over(
    client, make_study, make_panel
):
    study = make_study(ONE_ROUND)
    (link,) = make_panel(study, 1)
    open_round(db.session, study)
    enter(client, link.token)
    token = csrf_token(client.get("/e/").text)
    close_round(db.session, study)
    response = client.post("/e/", data={"csrf_token": token, "trust_now": "4"})
    assert response.status_code == 409
    assert "The study is over. Thank you for taking part." in response.text
    assert "the study team will tell you when the next round opens" not in response.text
    assert 'name="trust_now" value="4" checked' in response.text  # nothing typed is lost
