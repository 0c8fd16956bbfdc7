"""The study page's response rate refreshes itself (issue 13, point 5): its fragment,
polled by static/dashboard.js, answers whoever may see the study page, with the same
counts, never stored by a cache, and says when the round has closed."""

from __future__ import annotations

from elicit.extensions import current_link_keys, db
from surveys.panel import NewPanelist, add_panelists
from surveys.rounds import close_round, open_round
from tests.conftest import log_in

SLUG = "us-mexico-intelligence"
STUDY = f"/console/studies/{SLUG}"
FRAGMENT = f"{STUDY}/response-rate"


def test_the_study_page_says_where_its_counts_refresh_from(client, make_study, make_user):
    study = make_study()
    make_user("lead@example.org", studies=[study])
    open_round(db.session, study)
    log_in(client, "lead@example.org")
    page = client.get(STUDY).text
    assert f'data-refresh-url="{FRAGMENT}"' in page and 'data-refresh-seconds="30"' in page
    assert '<p id="response-rate" aria-live="polite" data-refresh-part>' in page
    assert 'src="/static/dashboard.js"' in page


def test_the_fragment_holds_the_counts_and_follows_submissions(
    client, make_study, make_panel, make_user, post_answers
):
    study = make_study()
    links = make_panel(study, 4)
    make_user("lead@example.org", studies=[study])
    make_user("analyst@example.org", role="researcher", studies=[study])
    open_round(db.session, study)
    log_in(client, "lead@example.org")
    before = client.get(FRAGMENT)
    assert before.status_code == 200
    assert before.headers["Cache-Control"] == "no-store"
    assert "<strong>0</strong> of 4" in before.text
    assert "<html" not in before.text  # a fragment, not a page
    post_answers(links[0].token, {"trust_now": "3"})
    log_in(client, "analyst@example.org")  # researchers see the study page too
    after = client.get(FRAGMENT).text
    assert "<strong>1</strong> of 4 (25%)" in after
    assert after.split('id="response-rate"', 1)[1] in client.get(STUDY).text
    close_round(db.session, study)
    closed = client.get(FRAGMENT).text
    assert "data-refresh-stop" in closed and "The round has closed." in closed


def test_the_fragment_answers_only_members(client, make_study, make_user):
    study = make_study()
    make_user("lead@example.org", studies=[study])
    make_user("other@example.org")
    open_round(db.session, study)
    assert client.get(FRAGMENT).status_code == 302  # to the login page
    log_in(client, "other@example.org")
    assert client.get(FRAGMENT).status_code == 404


def test_a_blind_study_names_no_small_group_in_its_response_rate(
    client, make_study, make_panel, make_user, post_answers
):
    """Refreshed every 30 s, a group of one beside its count would tell the moment that
    person submitted: in a blind study smaller groups are gathered in one unnamed row,
    on the page and in the fragment."""
    study = make_study()
    study.anonymity = "blind"
    db.session.commit()
    make_panel(study, 6, groups=("a", "b"))
    (solo,) = add_panelists(
        db.session,
        study,
        [NewPanelist("Solo Person", "solo@example.org", "solo", "en")],
        keys=current_link_keys(),
    )
    make_user("lead@example.org", studies=[study])
    open_round(db.session, study)
    post_answers(solo.token, {"trust_now": "3"})
    log_in(client, "lead@example.org")
    for text in (client.get(STUDY).text, client.get(FRAGMENT).text):
        assert "solo" not in text
        rows = text.split('id="rate-by-group-rows"', 1)[1].split("</tbody>", 1)[0]
        assert '<th scope="row">a</th><td>3</td><td>0 (0%)</td>' in rows
        assert "Groups of fewer than 3, together</th><td>1</td><td>1 (100%)</td>" in rows
