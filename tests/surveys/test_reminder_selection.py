"""Reminders of a selection of the panel (the panel page's filter): the count said
before the click is what :func:`queue_reminders` then queues, and nobody outside the
selection, nobody who submitted and nobody with a withdrawn link is reminded."""

from __future__ import annotations

from elicit.extensions import current_link_keys, db
from surveys.answers import submit_responses
from surveys.drafts import save_draft
from surveys.messaging import queue_reminders, reminders_due
from surveys.models import Panelist
from surveys.panel import PanelFilter, StatusFilter, note_visit, revoke_link
from surveys.rounds import open_round

BASE = "http://elicit.test"


def test_the_count_due_is_what_is_queued_for_every_selection(make_study, make_panel):
    study = make_study()
    make_panel(study, 9)  # groups a, b, c by turn
    round_ = open_round(db.session, study)
    panelists = list(db.session.execute(db.select(Panelist).order_by(Panelist.id)).scalars())
    submit_responses(db.session, panelists[0], {"trust_now": "3"})  # a
    save_draft(db.session, panelists[1], {"trust_now": "2"})  # b, a draft
    submit_responses(db.session, panelists[4], {"trust_now": "2"})  # b
    save_draft(db.session, panelists[4], {"trust_now": "1"})  # submitted: no draft filter
    note_visit(db.session, panelists[3])  # a, opened
    revoke_link(db.session, panelists[6])  # a, withdrawn

    def remind(selection=None):
        return queue_reminders(
            db.session, study, round_, BASE, None, selection, keys=current_link_keys()
        )

    def numbers(messages) -> list[int]:
        ids = [panelist.id for panelist in panelists]
        return sorted(ids.index(message.panelist_id) for message in messages)

    draft_in_b = PanelFilter(StatusFilter.DRAFT, "b")
    assert reminders_due(db.session, study, round_, draft_in_b) == 1
    assert numbers(remind(draft_in_b)) == [1]
    assert reminders_due(db.session, study, round_, draft_in_b) == 0  # this batch has it

    never_in_a = PanelFilter(StatusFilter.NEVER_OPENED, "a")  # 0 submitted, 3 opened, 6 out
    assert reminders_due(db.session, study, round_, never_in_a) == 0
    assert remind(never_in_a) == []

    group_c = PanelFilter(group="c")
    assert reminders_due(db.session, study, round_, group_c) == 3
    assert numbers(remind(group_c)) == [2, 5, 8]

    # Without a selection: every other non-submitter with a valid link.
    assert reminders_due(db.session, study, round_) == 2
    assert numbers(remind()) == [3, 7]
