"""Items between rounds: add, reword, retire, their history, and the TOML they are
edited as."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from elicit.extensions import db
from surveys.answers import submit_responses
from surveys.curation import (
    RewordedMeanwhile,
    add_item,
    find_item,
    item_history,
    latest_states,
    open_text_answers,
    retire_item,
    reword_item,
)
from surveys.definition import InvalidDefinition, parse_item
from surveys.errors import Conflict, InvalidValues, NotFound
from surveys.expert import expert_page
from surveys.models import AuditEvent, Response
from surveys.panel import panelist_for_token
from surveys.rounds import close_round, open_round
from surveys.serialization import item_to_toml
from surveys.studies import active_items
from tests.conftest import NEW_ITEM


@pytest.fixture
def study(make_study):
    """The demo study, not started."""
    return make_study()


def keys(study):
    """The keys of the study's active items, in order."""
    return [stored.definition.key for stored in active_items(study)]


def test_item_to_toml_round_trips_every_demo_item(demo_definition):
    sections = {section.key for section in demo_definition.sections}
    scenario_sets = {
        item.key: item.scenarios for item in demo_definition.items if item.kind == "scenario_set"
    }
    for item in demo_definition.items:
        text = item_to_toml(item)
        read = parse_item(
            text,
            languages=demo_definition.languages,
            section_keys=sections,
            scenario_sets=scenario_sets,
            study_items=demo_definition.items,
        )
        assert read == item


def test_item_to_toml_escapes_what_toml_must_escape(demo_definition):
    item = demo_definition.items[0]
    tricky = 'He said "no" \\ then left # not a comment'
    # Only a text of paragraphs (help) may hold a tab and a line break.
    paragraphs = tricky + "\tthen\nNew line"
    odd = type(item)(
        **{
            **item.__dict__,
            "text": type(item.text)((("en", tricky), ("es", "é"))),
            "help": type(item.text)((("en", paragraphs), ("es", "é"))),
        }
    )
    back = parse_item(item_to_toml(odd), languages=("en", "es"), section_keys={"drivers"})
    assert back.text.get("en") == tricky
    assert back.help is not None and back.help.get("en") == paragraphs


def test_add_item_appends_version_one_and_audits(study):
    triggers = [item.key for item in study.items if item.spec.get("section") == "triggers"]
    item = add_item(db.session, study, NEW_ITEM, None, "from round 1 answers")
    # By default at the end of its section, not after the items of later sections.
    assert keys(study)[keys(study).index(triggers[-1]) + 1] == "trigger_cyberattack"
    assert keys(study)[-1] != "trigger_cyberattack"
    assert [item.position for item in study.items] == list(range(len(study.items)))
    assert (item.version, [(v.version, v.note) for v in item.versions]) == (
        1,
        [(1, "from round 1 answers")],
    )
    event = db.session.execute(select(AuditEvent).where(AuditEvent.action == "item.add")).scalar()
    assert event.details["item"] == "trigger_cyberattack"


def test_add_item_is_validated_against_the_study(study):
    missing_spanish = NEW_ITEM.replace("text.es", "# text.es").replace(
        'section = "triggers"', 'section = "nowhere"'
    )
    with pytest.raises(InvalidDefinition) as raised:
        add_item(db.session, study, missing_spanish, None)
    assert [(error.line, error.field) for error in raised.value.errors] == [
        (4, "items.trigger_cyberattack.section"),
        (5, "items.trigger_cyberattack.text"),
    ]
    taken = NEW_ITEM.replace("trigger_cyberattack", "trust_now")
    with pytest.raises(InvalidDefinition, match="duplicate item key 'trust_now'"):
        add_item(db.session, study, taken, None)
    with pytest.raises(InvalidDefinition, match=r"exactly one \[\[items\]\]"):
        add_item(db.session, study, NEW_ITEM + NEW_ITEM.replace("cyberattack", "other"), None)


def test_nothing_changes_while_a_round_is_open(study):
    open_round(db.session, study)
    # Refused before anything typed is read: not even the reason is asked for.
    with pytest.raises(Conflict, match="an open round's items cannot change"):
        add_item(db.session, study, NEW_ITEM, None)
    current = item_to_toml(active_items(study)[0].definition)
    with pytest.raises(Conflict, match="an open round's items cannot change"):
        reword_item(db.session, study, "trust_now", current.replace("today", "now"), None)
    with pytest.raises(Conflict, match="an open round's items cannot change"):
        retire_item(db.session, study, "trust_now", "consensus", None)
    assert [item.version for item in study.items] == [1] * len(study.items)
    assert all(item.retired_at is None for item in study.items)


def test_reword_makes_version_two_and_responses_keep_their_version(study, make_panel):
    (link,) = make_panel(study, 1)
    open_round(db.session, study)
    submit_responses(db.session, panelist_for_token(db.session, link.token), {"trust_now": "3"})
    close_round(db.session, study)

    current = item_to_toml(active_items(study)[0].definition)
    reworded = current.replace("today", "at present")
    item = reword_item(db.session, study, "trust_now", reworded, None, "clearer")
    assert item.version == 2
    assert [(v.version, v.note) for v in item.versions] == [(1, "loaded"), (2, "clearer")]

    open_round(db.session, study)
    submit_responses(db.session, panelist_for_token(db.session, link.token), {"trust_now": "4"})
    versions = db.session.execute(
        select(Response.item_version).where(Response.item_id == item.id).order_by(Response.id)
    ).scalars()
    assert list(versions) == [1, 2]

    (trust,) = [entry for entry in item_history(db.session, study) if entry.key == "trust_now"]
    assert [(v.version, v.rounds) for v in trust.versions] == [(1, (1,)), (2, (2,))]
    assert "at present" in trust.versions[1].definition.text.get("en")
    assert "today" in trust.versions[0].definition.text.get("en")


def test_reword_keeps_key_and_kind_and_refuses_no_change(study):
    current = item_to_toml(active_items(study)[0].definition)
    with pytest.raises(Conflict, match="the key must stay"):
        reword_item(db.session, study, "trust_now", current.replace("trust_now", "trust"), None)
    with pytest.raises(Conflict, match="the kind must stay"):
        reword_item(
            db.session,
            study,
            "trust_now",
            NEW_ITEM.replace("trigger_cyberattack", "trust_now"),
            None,
        )
    with pytest.raises(Conflict, match="wording of version 1 already"):
        reword_item(db.session, study, "trust_now", current, None)
    with pytest.raises(NotFound):
        reword_item(db.session, study, "nothing", current, None)
    # Written against version 1 after a colleague made version 2: nothing saved.
    reworded = current.replace("today between", "at present between")
    assert reword_item(db.session, study, "trust_now", reworded, None, based_on=1).version == 2
    with pytest.raises(RewordedMeanwhile) as moved:
        reword_item(db.session, study, "trust_now", current, None, based_on=1)
    assert (moved.value.based_on, moved.value.version) == (1, 2)
    db.session.expire_all()
    assert find_item(study, "trust_now").version == 2


def test_retire_hides_the_item_from_the_next_round(study, make_panel):
    (link,) = make_panel(study, 1)
    with pytest.raises(InvalidValues):
        retire_item(db.session, study, "trust_now", "  ", None)
    retire_item(db.session, study, "trust_now", "reached consensus", None)
    with pytest.raises(Conflict, match="retired already"):
        retire_item(db.session, study, "trust_now", "again", None)
    open_round(db.session, study)
    page = expert_page(db.session, panelist_for_token(db.session, link.token))
    assert "trust_now" not in [entry.stored.definition.key for entry in page.items]
    (trust,) = [entry for entry in item_history(db.session, study) if entry.key == "trust_now"]
    assert trust.retired and trust.retired_reason == "reached consensus"


def test_open_text_answers_of_the_latest_closed_round_carry_no_author(study, make_panel):
    links = make_panel(study, 3)
    assert open_text_answers(db.session, study) == []
    open_round(db.session, study)
    texts = ("Zeta: cyberattacks.", "Alpha: fentanyl precursors.", "")
    for link, text in zip(links, texts, strict=True):
        submit_responses(
            db.session, panelist_for_token(db.session, link.token), {"missing_factors": text}
        )
    close_round(db.session, study)
    (answers,) = open_text_answers(db.session, study)
    assert answers.key == "missing_factors"
    assert answers.round == 1
    assert answers.answers == ("Alpha: fentanyl precursors.", "Zeta: cyberattacks.")


def test_latest_states_tell_which_items_reached_consensus(study, make_panel):
    links = make_panel(study, 3)
    assert latest_states(db.session, study) == (None, {})
    open_round(db.session, study)
    for link, (trust, rift) in zip(links, [("3", "10"), ("4", "50"), ("4", "90")], strict=True):
        answers = {
            "trust_now": trust,
            "scenarios.status_quo": str(100 - int(rift)),
            "scenarios.rift": rift,
            "scenarios.renewal": "0",
        }
        submit_responses(db.session, panelist_for_token(db.session, link.token), answers)
    close_round(db.session, study)
    number, states = latest_states(db.session, study)
    assert number == 1
    assert states["trust_now"] == "consensus"
    assert "consensus" in states["scenarios"] and states["scenarios"] != "consensus"
    assert "missing_factors" not in states
