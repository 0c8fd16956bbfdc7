"""The panel page's filters (issue 13, point 5): by status in the round and by group,
as a GET form; counts from the database; one reminder of the filtered set; and in a
blind study no filter that could single anyone out."""

from __future__ import annotations

import re

import pytest

from elicit.extensions import current_link_keys, db
from surveys.models import OutboxMessage, Panelist
from surveys.panel import (
    NewPanelist,
    PanelFilter,
    StatusFilter,
    add_panelists,
    filter_counts,
    panel_status,
    status_round,
)
from surveys.rounds import open_round
from tests.conftest import csrf_token, enter, log_in, without_tokens

SLUG = "us-mexico-intelligence"
PANEL = f"/console/studies/{SLUG}/panel"
REMINDERS = f"/console/studies/{SLUG}/reminders"
PSEUDONYM = re.compile(r"P-[A-Z2-9]{6}")


@pytest.fixture
def round_one(make_study, make_user, make_panel, post_answers, client):
    """Round 1 open; nine panelists, groups a, b, c by turn (Expert Number0 is in a,
    1 in b, 2 in c, 3 in a…).  0 and 1 submitted, 2 saved a draft, 3 opened the page;
    4 to 8 never opened it."""
    study = make_study()
    links = make_panel(study, 9)
    open_round(db.session, study)
    post_answers(links[0].token, {"trust_now": "3"})
    post_answers(links[1].token, {"trust_now": "2"})
    post_answers(links[2].token, {"trust_now": "4"}, action="save")
    enter(client, links[3].token)
    client.get("/e/")
    make_user("lead@example.org", studies=[study])
    make_user("analyst@example.org", role="researcher", studies=[study])
    return study


def listed(page: str) -> list[int]:
    """The numbers of the experts whose rows the panel table lists."""
    table = page.split('id="panel"', 1)[1].split("</table>", 1)[0] if 'id="panel"' in page else ""
    return sorted(int(number) for number in re.findall(r"Expert Number(\d+)(?:</a>)?</th>", table))


def reminded(study) -> list[int]:
    """The experts (by number) with a reminder in the outbox."""
    db.session.expire_all()
    panelist_ids = db.session.execute(
        db.select(OutboxMessage.panelist_id).where(OutboxMessage.kind == "reminder")
    ).scalars()
    numbers = []
    for panelist_id in panelist_ids:
        panelist = db.session.get(Panelist, panelist_id)
        numbers.append(int(panelist.roster.name.removeprefix("Expert Number")))
    return sorted(numbers)


def test_each_filter_is_labelled_with_its_count_from_the_database(client, round_one):
    log_in(client, "lead@example.org")
    page = client.get(PANEL).text
    assert "Everyone (9)" in page
    assert "Not submitted (7)" in page
    assert "Draft, not submitted (1)" in page
    assert "Never opened (5)" in page
    assert "a (3)" in page and "b (3)" in page and "c (3)" in page
    # The filter's fields beside the add-one form's (hidden CSRF inputs aside).
    ids = [name for name in re.findall(r' id="([^"]+)"', page) if name != "csrf_token"]
    assert len(ids) == len(set(ids))
    in_a = client.get(PANEL, query_string={"group": "a"}).text  # 0, 3, 6
    assert "Everyone (3)" in in_a and "Not submitted (2)" in in_a
    assert "Draft, not submitted (0)" in in_a and "Never opened (1)" in in_a


def test_the_counts_agree_with_the_statuses_listed(round_one):
    """The database's counts against a count of :func:`panel_status` rows."""
    round_ = status_round(db.session, round_one)
    for group in (None, "a", "b", "c", "nobody"):
        counts = filter_counts(db.session, round_one, round_, group)
        rows = [
            row.rounds[0]
            for row in panel_status(db.session, round_one)
            if group is None or row.group == group
        ]
        waiting = [state for state in rows if not state.submitted]
        assert counts.everyone == len(rows)
        assert counts.not_submitted == len(waiting)
        assert counts.draft == sum(state.draft for state in waiting)
        assert counts.never_opened == sum(not state.opened for state in waiting)
        for status in StatusFilter:
            selected = panel_status(db.session, round_one, PanelFilter(status, group))
            assert len(selected) == counts.of(status)


def test_the_table_lists_the_filtered_rows_only(client, round_one):
    log_in(client, "lead@example.org")
    assert listed(client.get(PANEL).text) == list(range(9))
    assert listed(client.get(PANEL, query_string={"status": "draft"}).text) == [2]
    assert listed(client.get(PANEL, query_string={"status": "not_submitted"}).text) == [
        2, 3, 4, 5, 6, 7, 8
    ]  # fmt: skip
    both = client.get(PANEL, query_string={"status": "never_opened", "group": "b"})
    assert listed(both.text) == [4, 7]
    assert "2 panelists match this filter." in both.text
    assert re.search(r'<input checked [^>]*value="never_opened"', both.text)
    assert listed(client.get(PANEL, query_string={"group": "c"}).text) == [2, 5, 8]
    # The researcher filters too, by pseudonym, and is offered no reminder.
    log_in(client, "analyst@example.org")
    theirs = client.get(PANEL, query_string={"status": "draft"}).text
    assert len(PSEUDONYM.findall(theirs.split('id="panel"', 1)[1])) == 1
    assert "remind-selection" not in theirs


def test_a_filter_that_is_not_offered_is_named_and_everyone_is_listed(client, round_one):
    log_in(client, "lead@example.org")
    bad_status = client.get(PANEL, query_string={"status": "gone"})
    assert bad_status.status_code == 200
    assert "Choose one of the statuses listed." in bad_status.text
    assert listed(bad_status.text) == list(range(9))
    bad_group = client.get(PANEL, query_string={"group": "zzz", "status": "draft"})
    assert "Choose one of the groups listed." in bad_group.text
    assert 'aria-invalid="true"' in bad_group.text
    assert listed(bad_group.text) == list(range(9))


def test_one_click_reminds_exactly_the_filtered_set(client, round_one):
    log_in(client, "lead@example.org")
    page = client.get(PANEL, query_string={"status": "never_opened", "group": "b"}).text
    assert "Remind these 2 panelists" in page
    form = page.split('id="remind-selection"', 1)[1].split("</form>", 1)[0]
    assert 'name="status" value="never_opened"' in form and 'name="group" value="b"' in form
    refused = client.post(REMINDERS, data={"status": "never_opened", "group": "b"})
    assert refused.status_code == 400  # no CSRF token
    assert reminded(round_one) == []
    sent = client.post(
        REMINDERS,
        data={"csrf_token": csrf_token(page), "status": "never_opened", "group": "b"},
        follow_redirects=True,
    )
    assert "2 new message(s) queued for round 1" in sent.text
    assert reminded(round_one) == [4, 7]
    again = client.get(PANEL, query_string={"status": "never_opened", "group": "b"}).text
    assert "Nobody here is due a reminder" in again and "Remind these" not in again
    # A draft (not submitted) of another group: the count said beforehand is the set.
    drafts = client.get(PANEL, query_string={"status": "draft"}).text
    assert "Remind this 1 panelist" in drafts
    client.post(REMINDERS, data={"csrf_token": csrf_token(drafts), "status": "draft"})
    assert reminded(round_one) == [2, 4, 7]
    # Without a filter the button reminds every non-submitter not yet reminded.
    client.post(REMINDERS, data={"csrf_token": csrf_token(drafts)})
    assert reminded(round_one) == [2, 3, 4, 5, 6, 7, 8]


def test_a_reminder_with_a_selection_that_is_not_offered_queues_nothing(client, round_one):
    log_in(client, "lead@example.org")
    token = csrf_token(client.get(PANEL).text)
    answer = client.post(
        REMINDERS, data={"csrf_token": token, "group": "zzz"}, follow_redirects=True
    )
    assert "Nothing was queued: the selection is no longer offered." in answer.text
    assert reminded(round_one) == []


# -- blind -------------------------------------------------------------------------------


@pytest.fixture
def blind_round(round_one, client):
    """The same study made blind, with one panelist alone in group "solo"."""
    round_one.anonymity = "blind"
    db.session.commit()
    add_panelists(
        db.session,
        round_one,
        [NewPanelist("Solo Person", "solo@example.org", "solo", "en")],
        keys=current_link_keys(),
    )
    return round_one


def test_a_blind_study_filters_by_counts_and_never_by_a_small_group(client, blind_round):
    log_in(client, "lead@example.org")
    page = client.get(PANEL).text
    assert 'id="panel"' not in page and not PSEUDONYM.search(page)
    assert "solo" not in page
    assert "Never opened (6)" in page  # the solo panelist counts among everyone
    assert "Groups of fewer than 3 panelists are not offered" in page
    filtered = client.get(PANEL, query_string={"status": "draft", "group": "c"}).text
    assert "1 panelist matches this filter." in filtered
    assert not PSEUDONYM.search(filtered) and "Expert Number" not in filtered
    # A small group is refused exactly as one that does not exist.
    small = client.get(PANEL, query_string={"group": "solo"}).text
    missing = client.get(PANEL, query_string={"group": "nosuch"}).text
    assert "Choose one of the groups listed." in small
    # The same page, but for the CSRF tokens, which carry the second they were made in.
    assert without_tokens(small).replace("solo", "X") == without_tokens(missing).replace(
        "nosuch", "X"
    )
    token = csrf_token(page)
    answer = client.post(
        REMINDERS, data={"csrf_token": token, "group": "solo"}, follow_redirects=True
    )
    assert "Nothing was queued" in answer.text
    assert reminded(blind_round) == []
    client.post(REMINDERS, data={"csrf_token": token, "status": "never_opened", "group": "a"})
    assert reminded(blind_round) == [6]
