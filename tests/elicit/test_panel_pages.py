"""The panel page a page at a time (issue 15, point 3): page boundaries, page links
that keep the filter, counts from the database equal to the rows, no panel loaded to
show a page, a blind study still counts only, no names for researchers, and one CSRF
token for every row's actions, still required."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import event

from elicit.extensions import db
from surveys import audit
from surveys import panel as panel_module
from surveys.models import AuditEvent, Panelist
from surveys.panel import (
    PanelFilter,
    StatusFilter,
    filter_counts,
    offered_groups,
    panel_census,
    panel_counts,
    panel_counts_of,
    panel_page,
    panel_status,
    panelist_for_token,
    revoke_link,
    status_round,
)
from surveys.rounds import close_round, open_round
from tests.conftest import csrf_token, enter, log_in

SLUG = "us-mexico-intelligence"
PANEL = f"/console/studies/{SLUG}/panel"
PAGE_SIZE = 4
NAME = re.compile(r"Expert Number(\d+)(?:</a>)?</th>")
PSEUDONYM = re.compile(r"P-[A-Z2-9]{6}")


@pytest.fixture
def small_pages(monkeypatch):
    """Pages of four panelists, so that nine make three pages."""
    monkeypatch.setattr(panel_module, "PANEL_PAGE_SIZE", PAGE_SIZE)


@pytest.fixture
def round_one(make_study, make_user, make_panel, post_answers, client, small_pages):
    """Round 1 open; nine panelists in groups a, b, c by turn; 0 and 1 submitted, 2
    saved a draft, 3 opened the page, 4 to 8 never did.  A facilitator and a researcher."""
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
    study.links = links  # type: ignore[attr-defined]
    return study


def table(page: str) -> str:
    """The panel table of ``page`` ("" if it has none)."""
    return page.split('id="panel"', 1)[1].split("</table>", 1)[0] if 'id="panel"' in page else ""


def listed(page: str) -> list[int]:
    """The experts' numbers in the panel table, in the table's order."""
    return [int(number) for number in NAME.findall(table(page))]


def by_pseudonym(study, numbers: list[int] | None = None) -> list[int]:
    """Experts' numbers (all, or ``numbers``) in pseudonym order: the page order."""
    rows = db.session.execute(
        db.select(Panelist).where(Panelist.study_id == study.id).order_by(Panelist.pseudonym)
    ).scalars()
    order = [int(panelist.roster.name.removeprefix("Expert Number")) for panelist in rows]
    return [number for number in order if numbers is None or number in numbers]


def test_the_pages_split_the_panel_at_their_boundaries(client, round_one):
    log_in(client, "lead@example.org")
    pages = [client.get(PANEL, query_string={"page": page}).text for page in (1, 2, 3)]
    assert [len(listed(page)) for page in pages] == [4, 4, 1]
    assert [number for page in pages for number in listed(page)] == by_pseudonym(round_one)
    assert "Panelists 1–4 of 9" in pages[0] and "Page 1 of 3" in pages[0]
    assert "Panelists 5–8 of 9" in pages[1]
    assert "Panelists 9–9 of 9" in pages[2] and "Page 3 of 3" in pages[2]
    assert 'rel="prev"' not in pages[0] and 'rel="next"' in pages[0]
    assert 'rel="prev"' in pages[2] and 'rel="next"' not in pages[2]
    # Past the last page: the last page; not a number, or below 1: the first.
    assert listed(client.get(PANEL, query_string={"page": 99}).text) == listed(pages[2])
    for odd in ("abc", "0", "-3", ""):
        assert listed(client.get(PANEL, query_string={"page": odd}).text) == listed(pages[0])


def test_the_page_links_keep_the_filter(client, round_one):
    log_in(client, "lead@example.org")
    query = {"status": "not_submitted"}  # 2 to 8: seven panelists, two pages
    first = client.get(PANEL, query_string=query).text
    assert "7 panelists match this filter." in first
    assert "Panelists 1–4 of 7" in first
    following = re.findall(r'href="([^"]+)" rel="next"', first)[0]  # top and bottom
    following = following.replace("&amp;", "&")
    assert "status=not_submitted" in following and "page=2" in following
    second = client.get(following).text
    assert "Panelists 5–7 of 7" in second
    assert sorted(listed(first) + listed(second)) == [2, 3, 4, 5, 6, 7, 8]
    assert listed(first) + listed(second) == by_pseudonym(round_one, [2, 3, 4, 5, 6, 7, 8])
    # The filter's form still shows the choice on the second page.
    assert re.search(r'<input checked [^>]*value="not_submitted"', second)
    both = client.get(PANEL, query_string={"status": "never_opened", "group": "b"}).text
    assert listed(both) == by_pseudonym(round_one, [4, 7])
    assert "Panelists 1–2 of 2" in both and 'rel="next"' not in both


def test_the_counts_are_the_databases_and_equal_the_rows(round_one):
    """The counts the page shows (SQL) against counts of every panelist's status."""
    revoke_link(db.session, panelist_for_token(db.session, round_one.links[5].token))
    for min_n in (1, 3, 4):  # groups of 3: named, named, gathered
        round_one.feedback_min_n = min_n
        db.session.commit()
        assert panel_counts_of(db.session, round_one) == panel_counts(
            panel_status(db.session, round_one), min_group_size=min_n
        )
    round_ = status_round(db.session, round_one)
    census = panel_census(db.session, round_one)
    for level in ("standard", "blind"):
        round_one.anonymity = level
        assert census.offered_groups(round_one) == offered_groups(db.session, round_one)
    for group in (None, "a", "b", "c", "nobody"):
        assert census.filter_counts(group) == filter_counts(db.session, round_one, round_, group)
    for group in (None, "a", "b"):
        for status in (None, *StatusFilter):
            selection = PanelFilter(status, group)
            expected = panel_status(db.session, round_one, selection)
            counted = filter_counts(db.session, round_one, round_, group).of(status)
            pages = [
                panel_page(db.session, round_one, selection, page=number, page_size=2)
                for number in range(1, 7)
            ]
            assert all(page.total == counted == len(expected) for page in pages)
            rows = [row for page in pages[: pages[0].pages] for row in page.rows]
            assert rows == expected  # the same rows, statuses and order
            assert pages[-1].page == pages[0].pages  # past the end: the last page


def test_without_groups_closed_rounds_count_their_stored_respondents(round_one, post_answers):
    """The page of a standard study reads a closed round's submitters from its
    summary: the same counts as counting them (rounds 1 and 2, the revoked included)."""
    revoke_link(db.session, panelist_for_token(db.session, round_one.links[1].token))
    close_round(db.session, round_one)
    open_round(db.session, round_one)
    post_answers(round_one.links[4].token, {"trust_now": "5"})
    post_answers(round_one.links[5].token, {"trust_now": "1"}, action="save")
    expected = panel_counts(panel_status(db.session, round_one), min_group_size=1)
    counted = panel_census(db.session, round_one, by_group=False)
    assert [entry.submitted for entry in expected.rounds] == [2, 1]
    assert counted.counts.rounds == expected.rounds
    assert (counted.counts.panelists, counted.counts.active) == (9, 8)
    assert counted.counts.groups == []
    everyone = panel_census(db.session, round_one)
    assert counted.filters == everyone.filters


def test_a_page_loads_its_rows_only(client, round_one, make_panel):
    """Showing a page reads that page's panelists, not the panel: counted by the ORM's
    load event in the client's app."""
    loaded: list[int] = []

    def count(target, context):
        loaded.append(target.id)

    event.listen(Panelist, "load", count)
    try:
        log_in(client, "lead@example.org")
        loaded.clear()
        page = client.get(PANEL, query_string={"page": 2})
    finally:
        event.remove(Panelist, "load", count)
    assert len(listed(page.text)) == PAGE_SIZE
    assert len(loaded) == PAGE_SIZE


def test_a_blind_study_shows_counts_only_whatever_the_page(client, round_one):
    round_one.anonymity = "blind"
    db.session.commit()
    log_in(client, "lead@example.org")
    for query in ({}, {"page": 2}, {"page": 2, "group": "a"}, {"status": "draft"}):
        page = client.get(PANEL, query_string=query).text
        assert 'id="panel"' not in page and "panel-pages" not in page
        assert not PSEUDONYM.search(page)
        assert "Expert Number" not in page
        assert "9 panelists, 9 with a valid link." in page
    assert (
        "1 panelist matches this filter."
        in client.get(PANEL, query_string={"status": "draft"}).text
    )


def test_researchers_page_through_pseudonyms_without_names(client, round_one):
    log_in(client, "analyst@example.org")
    pages = [client.get(PANEL, query_string={"page": page}).text for page in (1, 2, 3)]
    seen = [pseudonym for page in pages for pseudonym in PSEUDONYM.findall(table(page))]
    expected = list(
        db.session.execute(
            db.select(Panelist.pseudonym)
            .where(Panelist.study_id == round_one.id)
            .order_by(Panelist.pseudonym)
        ).scalars()
    )
    assert seen == expected
    for page in pages:
        assert "Expert Number" not in page and "expert.number" not in page
        assert "/revoke" not in page and "/reissue" not in page


def test_the_row_actions_share_one_token_which_is_still_required(client, round_one):
    log_in(client, "lead@example.org")
    page = client.get(PANEL, query_string={"page": 2}).text
    rows = table(page)
    # One form around the table, one token for every row's buttons.
    assert rows.count("formaction=") >= 2 * PAGE_SIZE - 1
    form = page.split('id="row-actions"', 1)[1].split("</form>", 1)[0]
    assert form.count('name="csrf_token"') == 1 and "<form" not in form
    number = listed(page)[0]
    target = panelist_for_token(db.session, round_one.links[number].token)
    (action,) = re.findall(rf'formaction="([^"]*/panel/{target.id}/revoke[^"]*)"', page)
    action = action.replace("&amp;", "&")
    assert "page=2" in action
    # Without the token: refused, nothing withdrawn.
    assert client.post(action).status_code == 400
    assert client.post(action, data={"csrf_token": "forged"}).status_code == 400
    db.session.expire_all()
    assert db.session.get(Panelist, target.id).revoked_at is None
    # With the page's one token: withdrawn, and back to the same page.
    done = client.post(action, data={"csrf_token": csrf_token(page)})
    assert done.status_code == 303 and "page=2" in done.headers["Location"]
    db.session.expire_all()
    assert db.session.get(Panelist, target.id).revoked_at is not None
    reissue = re.findall(rf'formaction="([^"]*/panel/{target.id}/reissue)"', page)
    assert len(reissue) == 1
    assert client.post(reissue[0]).status_code == 400


# -- the study page's audit log ---------------------------------------------------------

STUDY = f"/console/studies/{SLUG}"


def logged(page: str) -> list[int]:
    """The panelist ids of the ``panel.reissue`` events the audit log table lists."""
    log = page.split('id="audit-log"', 1)[1].split("</table>", 1)[0]
    return [int(number) for number in re.findall(r"panelist: (\d+)", log)]


def test_the_audit_log_is_paged_newest_first_and_counted(
    client, make_study, make_user, monkeypatch
):
    study = make_study()
    make_user("lead@example.org", studies=[study])
    for number in range(1, 8):  # after the study.load event: eight in all
        audit.record(db.session, "panel.reissue", study=study, user=None, panelist=number)
    db.session.commit()
    monkeypatch.setattr(audit, "AUDIT_PAGE_SIZE", 3)
    log_in(client, "lead@example.org")
    pages = [client.get(STUDY, query_string={"log": page}).text for page in (1, 2, 3)]
    assert [logged(page) for page in pages] == [[7, 6, 5], [4, 3, 2], [1]]  # and study.load
    total = audit.study_log_page(db.session, study).total
    assert (
        total
        == db.session.execute(
            db.select(db.func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.study_id == study.id)
        ).scalar_one()
    )
    assert f"Events 1–3 of {total}, newest first" in pages[0]
    assert total == 8 and "Events 7–8 of 8" in pages[2]
    assert 'rel="next"' in pages[0] and 'rel="prev"' not in pages[0]
    assert logged(client.get(STUDY, query_string={"log": 50}).text) == [1]
    assert logged(client.get(STUDY, query_string={"log": "x"}).text) == [7, 6, 5]
