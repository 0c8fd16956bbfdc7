"""The facilitator's console: accounts, sessions, study access, rounds, audit log."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from elicit.extensions import db
from surveys.models import AuditEvent, RoundStatus, utcnow
from surveys.rounds import latest_round
from tests.conftest import PASSWORD, csrf_token, log_in, round_form

SLUG = "us-mexico-intelligence"
NEXT_YEAR = utcnow().year + 1  # a deadline may lie at most 5 years ahead


@pytest.fixture
def study(make_study):
    """The demo study, not started."""
    return make_study()


def test_login_and_logout(client, study, make_user):
    make_user("lead@example.org", studies=[study])
    assert client.get("/console/").status_code == 302  # to the login page
    response = log_in(client, "Lead@Example.org")
    assert response.status_code == 302
    page = client.get("/console/")
    assert page.status_code == 200
    assert "U.S.–Mexico intelligence cooperation" in page.text
    token = csrf_token(page.text)
    assert client.post("/console/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/console/").status_code == 302


def test_wrong_password_and_unknown_email_get_the_same_answer(client, study, make_user):
    make_user("lead@example.org", studies=[study])
    wrong = log_in(client, "lead@example.org", "not the password")
    unknown = log_in(client, "nobody@example.org", PASSWORD)
    assert wrong.status_code == unknown.status_code == 401
    assert "The email or the password is not right." in wrong.text
    assert "The email or the password is not right." in unknown.text


def test_failed_logins_are_rate_limited(client, study, make_user):
    make_user("lead@example.org", studies=[study])
    for _ in range(5):
        assert log_in(client, "lead@example.org", "guess").status_code == 401
    refused = client.get("/console/login")
    assert refused.status_code == 429
    assert "Too many attempts" in refused.text


def test_console_sessions_expire(app, client, study, make_user):
    from surveys.models import ConsoleSession

    make_user("lead@example.org", studies=[study])
    log_in(client, "lead@example.org")
    assert client.get("/console/").status_code == 200
    # The lifetime is counted on the server, from the stored login.
    db.session.execute(db.update(ConsoleSession).values(created_at=utcnow() - timedelta(hours=9)))
    db.session.commit()
    assert client.get("/console/").status_code == 302


def test_changing_the_password_ends_sessions(app, client, study, make_user):
    from surveys.accounts import set_password

    user = make_user("lead@example.org", studies=[study])
    log_in(client, "lead@example.org")
    set_password(
        db.session, user, "another long password", lifetime=app.config["ELICIT_LOGIN_LIFETIME"]
    )
    assert client.get("/console/").status_code == 302


def test_users_see_only_their_studies(client, make_study, make_user):
    mine = make_study()
    other_source = mine.source.replace('slug = "us-mexico-intelligence"', 'slug = "other-study"')
    other = make_study(other_source)
    make_user("lead@example.org", studies=[mine])
    make_user("rival@example.org", studies=[other])
    log_in(client, "lead@example.org")
    listing = client.get("/console/").text
    assert "us-mexico-intelligence" in listing
    assert "other-study" not in listing
    assert client.get("/console/studies/other-study").status_code == 404


def test_facilitator_opens_and_closes_rounds_and_the_audit_log_says_so(
    client, study, make_user, make_panel, post_answers
):
    make_user("lead@example.org", studies=[study])
    links = make_panel(study, 3)
    log_in(client, "lead@example.org")
    page = client.get(f"/console/studies/{SLUG}")
    opened = client.post(
        f"/console/studies/{SLUG}/rounds/open",
        data={
            "csrf_token": csrf_token(page.text),
            "round": "1",
            "deadline": f"{NEXT_YEAR}-01-31T18:00",
        },
    )
    assert opened.status_code == 303
    db.session.expire_all()
    round_one = latest_round(db.session, study)
    assert round_one.status == RoundStatus.OPEN
    assert round_one.deadline.isoformat() == f"{NEXT_YEAR}-01-31T18:00:00+00:00"
    for value, link in zip(("2", "3", "4"), links, strict=True):
        post_answers(link.token, {"trust_now": value})
    log_in(client, "lead@example.org")
    overview = client.get(f"/console/studies/{SLUG}").text
    assert "3</strong> of 3" in overview  # response rate
    preview = client.get(f"/console/studies/{SLUG}/rounds/close")
    assert preview.status_code == 200
    assert "3 panelists have submitted." in preview.text
    # The row names the item by its text, the key small beside it; n = 3.
    assert re.search(
        r'<tr id="row-trust_now".*?<small class="muted key">trust_now</small></th>'
        r'.*?<td class="n">3</td>',
        preview.text,
        re.S,
    )
    assert latest_round(db.session, study).status == RoundStatus.OPEN  # preview only
    closed = client.post(f"/console/studies/{SLUG}/rounds/close", data=round_form(preview.text))
    assert closed.status_code == 303
    db.session.expire_all()
    assert latest_round(db.session, study).status == RoundStatus.CLOSED
    events = db.session.execute(db.select(AuditEvent).order_by(AuditEvent.id)).scalars().all()
    assert [
        (e.action, e.user_email) for e in events if e.action.startswith(("study.", "round."))
    ] == [
        ("study.load", None),
        ("round.open", "lead@example.org"),
        # Asked for, then done by the job (here in the request), as who asked.
        ("round.close.request", "lead@example.org"),
        ("round.close", "lead@example.org"),
    ]
    log_page = client.get(f"/console/studies/{SLUG}").text
    assert "round.close" in log_page and "lead@example.org" in log_page
    assert "Stopping rule" in log_page


def test_researchers_read_but_do_not_change(client, study, make_user):
    make_user("analyst@example.org", role="researcher", studies=[study])
    log_in(client, "analyst@example.org")
    page = client.get(f"/console/studies/{SLUG}")
    assert page.status_code == 200
    assert "Open round 1" not in page.text
    refused = client.post(
        f"/console/studies/{SLUG}/rounds/open", data={"csrf_token": csrf_token(page.text)}
    )
    assert refused.status_code == 403
    assert latest_round(db.session, study) is None


def test_user_create_reads_the_password_from_standard_input(app, study):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["user", "create", "new@example.org", "--role", "researcher"],
        input="a sufficiently long password\n",
    )
    assert result.exit_code == 0, result.output
    assert "created researcher new@example.org" in result.output
    short = runner.invoke(
        args=["user", "create", "other@example.org", "--role", "facilitator"], input="short\n"
    )
    assert short.exit_code == 1
    assert "at least 12 characters" in short.output
    granted = runner.invoke(args=["user", "grant", "new@example.org", SLUG])
    assert granted.exit_code == 0
    assert "new@example.org is a member of us-mexico-intelligence" in granted.output


def test_results_page_shows_each_round_and_the_convergence(
    client, study, make_user, make_panel, post_answers
):
    from surveys.rounds import close_round, open_round

    make_user("lead@example.org", studies=[study])
    links = make_panel(study, 4)
    for values in (("1", "2", "4", "5"), ("3", "3", "4", "4")):
        open_round(db.session, study)
        for value, link in zip(values, links, strict=True):
            post_answers(link.token, {"trust_now": value})
        close_round(db.session, study)
    log_in(client, "lead@example.org")
    page = client.get(f"/console/studies/{SLUG}/results").text
    section = page[page.index('id="result-trust_now"') :]
    section = section[: section.index("</section>")]
    # Round 1: 1 2 4 5 -> median 3, Q1 1.75, Q3 4.25 (type 7);
    # round 2: 3 3 4 4 -> median 3.5, Q1 3, Q3 4.
    assert '<tr data-round="1"><th scope="row">1</th><td>4</td>' in section
    assert "<td>1.75–4.25</td>" in section
    assert "<td>3–4</td>" in section
    assert 'data-round="1" data-median="3.0"' in section
    assert 'data-round="2" data-median="3.5"' in section
    assert section.count('class="distribution-chart"') == 2
    assert "expert.number" not in page.lower()


def test_deadline_can_be_extended_not_brought_forward(client, study, make_user):
    from surveys.rounds import close_round, open_round

    make_user("lead@example.org", studies=[study])
    round_one = open_round(db.session, study, deadline=utcnow() + timedelta(days=7))
    log_in(client, "lead@example.org")
    page = client.get(f"/console/studies/{SLUG}")
    later = (round_one.deadline + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")
    moved = client.post(
        f"/console/studies/{SLUG}/rounds/deadline",
        data={"csrf_token": csrf_token(page.text), "round": "1", "deadline": later},
    )
    assert moved.status_code == 303
    db.session.expire_all()
    assert latest_round(db.session, study).deadline.strftime("%Y-%m-%dT%H:%M") == later
    earlier = (utcnow() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    client.post(
        f"/console/studies/{SLUG}/rounds/deadline",
        data={"csrf_token": csrf_token(page.text), "round": "1", "deadline": earlier},
    )
    db.session.expire_all()
    assert latest_round(db.session, study).deadline.strftime("%Y-%m-%dT%H:%M") == later
    assert "round.extend_deadline" in client.get(f"/console/studies/{SLUG}").text
    # The page of round 1, kept while round 1 closed and round 2 opened, extends nothing:
    # round 2 would get a deadline that can never be brought forward.
    close_round(db.session, study)
    open_round(db.session, study)
    stale = client.post(
        f"/console/studies/{SLUG}/rounds/deadline",
        data={"csrf_token": csrf_token(page.text), "round": "1", "deadline": later},
    )
    assert stale.status_code == 303
    assert (
        '<p class="warning" role="status">The deadline was not changed: round 1 was closed '
        "meanwhile, and round 2 is open now.</p>" in client.get(f"/console/studies/{SLUG}").text
    )
    db.session.expire_all()
    assert latest_round(db.session, study).deadline is None
    assert (
        client.post(
            f"/console/studies/{SLUG}/rounds/deadline",
            data={"csrf_token": csrf_token(page.text), "deadline": later},
        ).status_code
        == 400
    )  # a form without its round
