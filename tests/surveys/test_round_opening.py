"""Opening a round: what the confirmation reads (surveys.opening.plan_next_round) and
what every way of opening refuses (no item to ask, texts not translated)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from elicit.extensions import db
from surveys import builder
from surveys.curation import retire_item
from surveys.definition import ItemDefinition, LocalizedText
from surveys.demo import demo_source
from surveys.errors import Conflict
from surveys.models import utcnow
from surveys.opening import plan_next_round
from surveys.rounds import close_round, latest_round, open_round

LEAVING = demo_source().replace(
    'slug = "us-mexico-intelligence"', 'slug = "us-mexico-intelligence"\nconsensus_items = "leave"'
)


def question(key: str, **texts: str) -> ItemDefinition:
    return ItemDefinition(key=key, kind="probability", text=LocalizedText(tuple(texts.items())))


@pytest.fixture
def draft(app):
    """A blank bilingual draft, its title in both languages, no item yet."""
    study = builder.create_study(
        db.session, slug="water", languages=["en", "es"], anonymity="standard", title="Water"
    )
    builder.update_texts(db.session, study, title={"en": "Water", "es": "Agua"}, introduction={})
    return study


def test_a_study_without_items_cannot_open(draft):
    assert plan_next_round(db.session, draft).can_open is False
    with pytest.raises(Conflict, match="the study has no item: add one before opening a round"):
        open_round(db.session, draft)
    assert latest_round(db.session, draft) is None


def test_missing_translations_are_named_and_refused(draft):
    builder.add_item(db.session, draft, question("rain", en="Will it rain?"))
    builder.add_section(db.session, draft, {"en": "Weather"})
    plan = plan_next_round(db.session, draft)
    assert [(m.place, m.field, m.languages) for m in plan.missing] == [
        ("section:weather", "title", ("es",)),
        ("item:rain", "text", ("es",)),
    ]
    assert plan.can_open is False
    with pytest.raises(Conflict) as refused:
        open_round(db.session, draft)
    assert str(refused.value) == (
        "texts not translated yet: section weather (title) in es; item rain (text) in es"
    )
    assert latest_round(db.session, draft) is None
    # Translated, it opens.
    builder.update_item(db.session, draft, "rain", question("rain", en="Will it rain?", es="¿?"))
    builder.rename_section(db.session, draft, "weather", {"en": "Weather", "es": "Tiempo"})
    assert plan_next_round(db.session, draft).can_open is True
    assert open_round(db.session, draft).number == 1


def test_a_long_list_of_missing_texts_names_ten_and_counts_the_rest(draft):
    for number in range(12):
        builder.add_item(db.session, draft, question(f"q{number}", en=f"Question {number}?"))
    with pytest.raises(Conflict) as refused:
        open_round(db.session, draft)
    message = str(refused.value)
    assert "item q9 (text) in es; and 2 more" in message
    assert "q10" not in message


def test_when_every_item_is_retired_nothing_is_left_to_ask(app, make_study):
    study = make_study()
    open_round(db.session, study)
    close_round(db.session, study)
    for item in study.items:
        retire_item(db.session, study, item.key, "Enough said.")
    plan = plan_next_round(db.session, study)
    assert plan.items == () and len(plan.left) == len(study.items)
    with pytest.raises(Conflict, match="every item is retired: no item is left to ask"):
        open_round(db.session, study)


def test_the_plan_of_round_one(app, make_study, make_panel):
    study = make_study()
    make_panel(study, 5, groups=("academic", "official"))
    plan = plan_next_round(db.session, study)
    assert (plan.number, plan.unfinished, plan.limit_reached) == (1, None, False)
    assert plan.panelists == 5
    # The study's minimum group size is 3: the group of two is counted, not named.
    assert study.feedback_min_n == 3
    assert plan.by_group == (("academic", 3), (None, 2))
    assert plan.grouped is True
    assert [item.key for item in plan.items][:3] == ["trust_now", "trust_horizon", "agenda_now"]
    assert len(plan.items) == len(study.items)
    assert plan.left == () and plan.missing == ()
    assert plan.recommendation is None and plan.stop_recommended is False
    assert plan.can_open is True
    assert plan.deadline_problem is None


def test_a_panel_without_groups_is_one_count(app, make_study, make_panel):
    study = make_study()
    make_panel(study, 2, groups=("",))
    plan = plan_next_round(db.session, study)
    assert plan.by_group == (("", 2),)
    assert plan.grouped is False


def test_groups_too_small_to_name_are_counted_together(app, make_study, make_panel):
    study = make_study()
    make_panel(study, 7, groups=("academic",) * 4 + ("solo", "pair", ""))
    plan = plan_next_round(db.session, study)
    assert plan.panelists == 7
    assert plan.by_group == (("academic", 4), (None, 3))


def test_a_past_deadline_is_named(app, make_study):
    study = make_study()
    past = plan_next_round(db.session, study, deadline=utcnow() - timedelta(minutes=1))
    assert past.deadline_problem == "the deadline must lie in the future"
    future = plan_next_round(db.session, study, deadline=utcnow() + timedelta(days=7))
    assert future.deadline_problem is None


def test_after_a_close_the_plan_says_what_left_and_what_the_stopping_rule_said(
    app, make_study, make_panel, post_answers
):
    study = make_study(LEAVING)
    links = make_panel(study, 4)
    open_round(db.session, study)
    for link, value in zip(links, (4, 4, 4, 5), strict=True):
        post_answers(link.token, {"trust_now": str(value)})  # IQR 0.25 <= 1: consensus
    close_round(db.session, study)  # "leave": trust_now retired at the close
    retire_item(db.session, study, "agenda_now", "Asked twice in effect.")
    plan = plan_next_round(db.session, study)
    assert plan.number == 2
    left = {entry.item.key: entry.consensus_round for entry in plan.left}
    assert left == {"trust_now": 1, "agenda_now": None}
    assert "trust_now" not in [item.key for item in plan.items]
    assert plan.stop_recommended is True  # the only item answered reached consensus
    assert plan.can_open is True


def test_while_a_round_is_open_the_plan_names_it(app, make_study):
    study = make_study()
    open_round(db.session, study)
    plan = plan_next_round(db.session, study)
    assert plan.unfinished is not None and plan.unfinished.number == 1
    assert plan.number == 1
    assert plan.can_open is False


def test_after_the_last_round_the_limit_is_reached(app, make_study):
    study = make_study()  # at most 3 rounds
    for _ in range(3):
        open_round(db.session, study)
        close_round(db.session, study)
    plan = plan_next_round(db.session, study)
    assert (plan.number, plan.limit_reached, plan.can_open) == (4, True, False)
