"""Items between rounds through the console's forms: where a new item goes, what a
rewording may change, items given as definitions (problems keyed by field), and the
tags that group the last round's open-text answers."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import inspect, select

from analysis import ConsensusRule, Criterion
from elicit.extensions import db
from surveys.answers import submit_responses
from surveys.curation import (
    Placement,
    add_item,
    answer_reference,
    answer_sheet,
    reword_item,
    tag_answers,
)
from surveys.definition import (
    Choice,
    ItemDefinition,
    LikertScale,
    LocalizedText,
)
from surveys.errors import Conflict, InvalidValues
from surveys.models import AnswerTag, AuditEvent
from surveys.panel import panelist_for_token
from surveys.protocol import amendments
from surveys.rounds import close_round, open_round
from surveys.serialization import item_from_json
from surveys.studies import active_items

#: A consensus rule of an item's own (no demo item has one).
STRICT = ConsensusRule((Criterion("iqr", {"max": 0.5}),), "all")
#: Items without a section, then sections a, b (empty) and c.
SMALL = """\
[study]
slug = "small"
title = { en = "Small", es = "Pequeño" }
languages = ["en", "es"]
max_rounds = 3

[consensus]
criteria = [{ kind = "iqr", max = 1 }]

[[sections]]
key = "a"
title = { en = "A", es = "A" }

[[sections]]
key = "b"
title = { en = "B", es = "B" }

[[sections]]
key = "c"
title = { en = "C", es = "C" }
"""


def _item(key: str, section: str | None) -> str:
    """One probability item of SMALL, as TOML."""
    line = f'section = "{section}"\n' if section else ""
    return (
        f'[[items]]\nkey = "{key}"\nkind = "probability"\n{line}'
        f'text.en = "{key}?"\ntext.es = "¿{key}?"\n'
    )


SMALL_ITEMS = "".join(
    _item(key, section)
    for key, section in [("loose", None), ("a1", "a"), ("a2", "a"), ("c1", "c"), ("c2", "c")]
)


def text(en: str, es: str | None = None) -> LocalizedText:
    """A text in English and, if given, Spanish."""
    return LocalizedText((("en", en), *((("es", es),) if es is not None else ())))


def new(key: str, section: str | None, *, es: str | None = "¿Nuevo?") -> ItemDefinition:
    """A new probability item, as the console's form gives it."""
    return ItemDefinition(key=key, kind="probability", text=text("New?", es), section=section)


@pytest.fixture
def small(make_study):
    """SMALL with its five items."""
    return make_study(SMALL + "\n" + SMALL_ITEMS)


def order(study) -> list[str]:
    """The keys of the study's active items in the order experts see them."""
    return [stored.definition.key for stored in active_items(study)]


# -- placement -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("section", "place", "expected"),
    [
        ("a", Placement(), ["loose", "a1", "a2", "new", "c1", "c2"]),
        ("a", Placement("start"), ["loose", "new", "a1", "a2", "c1", "c2"]),
        ("a", Placement("after", "a1"), ["loose", "a1", "new", "a2", "c1", "c2"]),
        ("c", Placement("before", "c2"), ["loose", "a1", "a2", "c1", "new", "c2"]),
        ("c", Placement("after", "c2"), ["loose", "a1", "a2", "c1", "c2", "new"]),
        # An empty section's first item goes where the section falls.
        ("b", Placement(), ["loose", "a1", "a2", "new", "c1", "c2"]),
        ("b", Placement("start"), ["loose", "a1", "a2", "new", "c1", "c2"]),
        (None, Placement(), ["loose", "new", "a1", "a2", "c1", "c2"]),
        (None, Placement("before", "loose"), ["new", "loose", "a1", "a2", "c1", "c2"]),
    ],
)
def test_a_new_item_goes_where_the_facilitator_chooses(small, section, place, expected):
    added = add_item(db.session, small, new("new", section), None, place=place)
    assert order(small) == expected
    assert added.position == expected.index("new")
    assert sorted(item.position for item in small.items) == list(range(6))


def test_a_place_outside_the_items_section_is_refused_with_the_other_problems(small):
    before = {item.key: item.position for item in small.items}
    with pytest.raises(InvalidValues) as refused:
        add_item(db.session, small, new("new", "a", es=None), None, place=Placement("after", "c1"))
    assert set(refused.value.errors) == {"place", "text.es"}
    assert "c1 is in section c, not in the new item's section a" in refused.value.errors["place"][0]
    with pytest.raises(InvalidValues, match="no active item has the key 'nothing'"):
        add_item(db.session, small, new("new", "a"), None, place=Placement("before", "nothing"))
    db.session.expire_all()
    assert {item.key: item.position for item in small.items} == before


def test_placing_keeps_retired_items_in_their_order(small):
    from surveys.curation import retire_item

    retire_item(db.session, small, "a2", "asked enough", None)
    with pytest.raises(InvalidValues, match="no active item has the key 'a2'"):
        add_item(db.session, small, new("new", "a"), None, place=Placement("after", "a2"))
    add_item(db.session, small, new("new", "a"), None)
    by_position = [item.key for item in sorted(small.items, key=lambda item: item.position)]
    assert by_position == ["loose", "a1", "new", "a2", "c1", "c2"]


@pytest.mark.parametrize("choice", ["", "middle", "after", "after:", "end:a1"])
def test_placement_choices_that_mean_nothing_are_refused(choice):
    if choice == "":
        assert Placement.from_choice(choice) == Placement()
        return
    with pytest.raises(InvalidValues) as refused:
        Placement.from_choice(choice)
    assert list(refused.value.errors) == ["place"]


def test_placement_choices_read_back():
    for place in (Placement(), Placement("start"), Placement("after", "a1")):
        assert Placement.from_choice(place.choice) == place


# -- items given as definitions --------------------------------------------------------------


def test_a_definition_needs_every_text_in_every_language_between_rounds(small):
    likert = ItemDefinition(
        key="",
        kind="likert",
        text=text("How sure?"),
        section="c",
        help=text("Think twice.", ""),
        scale=LikertScale(1, 3, (("en", ("Low", "", "High")), ("es", ("Bajo", "Medio", "")))),
    )
    with pytest.raises(InvalidValues) as refused:
        add_item(db.session, small, likert, None)
    assert refused.value.errors.keys() == {"text.es", "help.es", "labels.en[2]", "labels.es[3]"}
    complete = dataclasses.replace(
        likert,
        text=text("How sure?", "¿Qué tan seguro?"),
        help=None,
        scale=LikertScale(
            1, 3, (("en", ("Low", "Mid", "High")), ("es", ("Bajo", "Medio", "Alto")))
        ),
    )
    added = add_item(db.session, small, complete, None)
    assert added.key == "how_sure"  # made from the question, as the builder makes keys
    assert order(small)[-1] == "how_sure"


def test_a_stamped_study_names_the_missing_reason_with_the_fields(small):
    open_round(db.session, small)
    close_round(db.session, small)
    with pytest.raises(InvalidValues) as refused:
        add_item(db.session, small, new("new", "a", es=""), None, "  ")
    assert refused.value.errors.keys() == {"note", "text.es"}
    add_item(db.session, small, new("new", "a"), None, "asked for by the panel")
    (amendment,) = amendments(db.session, small)
    assert (amendment.what, amendment.reason) == ("items.new", "asked for by the panel")


# -- what a rewording may change ---------------------------------------------------------------


@pytest.fixture
def demo(make_study):
    """The demo study."""
    return make_study()


def current(study, key: str) -> ItemDefinition:
    """Item ``key`` as it stands."""
    item = next(item for item in study.items if item.key == key)
    return item_from_json(item.key, item.kind, item.spec)


def test_a_rewording_may_change_every_text(demo):
    scenarios = current(demo, "scenarios")
    reworded = dataclasses.replace(
        scenarios,
        text=text("Which future?", "¿Qué futuro?"),
        help=text("One of three.", "Uno de tres."),
        scenarios=tuple(
            Choice(choice.key, text(f"Future {n}", f"Futuro {n}"))
            for n, choice in enumerate(scenarios.scenarios, start=1)
        ),
    )
    item = reword_item(db.session, demo, "scenarios", reworded, None, "plainer")
    assert item.version == 2
    assert current(demo, "scenarios") == reworded
    estimate = current(demo, "transfers_next_year")
    with_unit = dataclasses.replace(estimate, unit=text("persons", "personas"))
    reword_item(db.session, demo, "transfers_next_year", with_unit, None)
    assert current(demo, "transfers_next_year").unit == text("persons", "personas")
    trust = current(demo, "trust_now")
    assert trust.scale is not None
    labels = dataclasses.replace(
        trust.scale, labels=(("en", ("1", "2", "3", "4", "5")), ("es", ("1", "2", "3", "4", "5")))
    )
    reword_item(db.session, demo, "trust_now", dataclasses.replace(trust, scale=labels), None)
    assert current(demo, "trust_now").scale == labels


@pytest.mark.parametrize(
    ("key", "change", "words"),
    [
        ("trust_now", {"scale": LikertScale(1, 4, ())}, "the scale's points"),
        ("trust_now", {"section": "triggers"}, "the section"),
        ("trust_now", {"rationale": False}, "whether a rationale is asked"),
        ("transfers_next_year", {"estimate_bounds": (0.0, 50.0)}, "the estimate's bounds"),
        ("trust_now", {"consensus": STRICT}, "the consensus rule"),
        ("missing_factors", {"max_length": 10}, "the longest answer"),
        ("scenarios", {"scenarios": "drop"}, "the scenarios (their number or keys)"),
        ("scenarios", {"scenarios": "rename"}, "the scenarios (their number or keys)"),
    ],
)
def test_a_rewording_that_changes_more_than_texts_is_a_new_item(demo, key, change, words):
    definition = current(demo, key)
    if change.get("scenarios") == "drop":
        change = {"scenarios": definition.scenarios[:2]}
    elif change.get("scenarios") == "rename":
        first = definition.scenarios[0]
        change = {"scenarios": (Choice("other", first.text), *definition.scenarios[1:])}
    elif "scale" in change:
        labels = tuple((code, labels[:4]) for code, labels in definition.scale.labels)
        change = {"scale": LikertScale(1, 4, labels)}
    changed = dataclasses.replace(definition, **change)
    with pytest.raises(Conflict, match="a rewording changes texts only") as refused:
        reword_item(db.session, demo, key, changed, None)
    assert words in str(refused.value)
    assert next(item for item in demo.items if item.key == key).version == 1


def test_a_rewording_as_toml_keeps_the_same_rules(demo):
    from surveys.serialization import item_to_toml

    source = item_to_toml(current(demo, "trust_now"))
    with pytest.raises(Conflict, match="not the scale's points"):
        reword_item(
            db.session,
            demo,
            "trust_now",
            source.replace("min = 1, max = 5", "min = 0, max = 4"),
            None,
        )
    with_rule = source + 'consensus = { criteria = [{ kind = "iqr", max = 0.5 }] }\n'
    with pytest.raises(Conflict, match="the consensus rule"):
        reword_item(db.session, demo, "trust_now", with_rule, None)


def test_a_reworded_definition_with_a_missing_translation_names_its_field(demo):
    trust = current(demo, "trust_now")
    with pytest.raises(InvalidValues) as refused:
        reword_item(
            db.session, demo, "trust_now", dataclasses.replace(trust, text=text("Hi")), None
        )
    assert list(refused.value.errors) == ["text.es"]


# -- tags ------------------------------------------------------------------------------------


@pytest.fixture
def answered(demo, make_panel):
    """The demo after round 1, whose open question got five answers, two of them equal."""
    links = make_panel(demo, 6)
    open_round(db.session, demo)
    texts = ["Cyberattacks", "Zeta: drones", "Cyberattacks", "ports", "Alpha: fentanyl", ""]
    for link, answer in zip(links, texts, strict=True):
        panelist = panelist_for_token(db.session, link.token)
        submit_responses(db.session, panelist, {"missing_factors": answer})
    close_round(db.session, demo)
    return demo


def listed(study):
    """(text, count, tag) of every listed answer."""
    return [
        (answer.text, answer.count, answer.tag)
        for entry in answer_sheet(db.session, study).items
        for answer in entry.answers
    ]


def test_answers_are_listed_once_alphabetically_and_tagged_into_groups(answered):
    sheet = answer_sheet(db.session, answered)
    assert sheet.round == 1
    assert listed(answered) == [
        ("Alpha: fentanyl", 1, None),
        ("Cyberattacks", 2, None),
        ("Zeta: drones", 1, None),
        ("ports", 1, None),
    ]
    ref = {text: answer_reference(text) for text, _, _ in listed(answered)}
    changed = tag_answers(
        db.session,
        answered,
        {
            ("missing_factors", ref["Cyberattacks"]): "  Threats   to\tinfrastructure ",
            ("missing_factors", ref["ports"]): "threats to infrastructure",
            ("missing_factors", ref["Alpha: fentanyl"]): "Chemicals",
            ("missing_factors", ref["Zeta: drones"]): "",
        },
    )
    assert changed == 3
    sheet = answer_sheet(db.session, answered)
    assert [(group.tag, [a.text for a in group.answers]) for group in sheet.groups] == [
        ("Chemicals", ["Alpha: fentanyl"]),
        ("Threats to infrastructure", ["Cyberattacks", "ports"]),
    ]
    assert sheet.tags == ("Chemicals", "Threats to infrastructure")
    # Retagging moves an answer; an empty tag removes it; nothing else changes.
    changed = tag_answers(
        db.session,
        answered,
        {
            ("missing_factors", ref["ports"]): "Chemicals",
            ("missing_factors", ref["Alpha: fentanyl"]): "",
            ("missing_factors", ref["Cyberattacks"]): "Threats to infrastructure",
        },
    )
    assert changed == 2
    assert [(t, tag) for t, _, tag in listed(answered)] == [
        ("Alpha: fentanyl", None),
        ("Cyberattacks", "Threats to infrastructure"),
        ("Zeta: drones", None),
        ("ports", "Chemicals"),
    ]


def test_tags_name_no_response_and_no_panelist_and_the_audit_keeps_no_text(answered):
    columns = {column.name for column in inspect(AnswerTag).columns}
    assert columns == {"id", "study_id", "item_id", "answer_sha256", "tag", "tagged_at"}
    ref = answer_reference("Cyberattacks")
    tag_answers(db.session, answered, {("missing_factors", ref): "Cyber"})
    row = db.session.execute(select(AnswerTag)).scalar_one()
    assert row.answer_sha256 == ref and len(ref) == 64
    event = db.session.execute(
        select(AuditEvent).where(AuditEvent.action == "answers.tag")
    ).scalar_one()
    assert event.details == {"changed": 1}


def test_bad_tags_are_refused_by_answer_and_nothing_is_stored(answered):
    cyber, ports = answer_reference("Cyberattacks"), answer_reference("ports")
    with pytest.raises(InvalidValues) as refused:
        tag_answers(
            db.session,
            answered,
            {
                ("missing_factors", cyber): "fine",
                ("missing_factors", ports): "x" * 81,
                ("missing_factors", answer_reference("Zeta: drones")): "bell\x07",
            },
        )
    assert set(refused.value.errors) == {
        f"missing_factors:{ports}",
        f"missing_factors:{answer_reference('Zeta: drones')}",
    }
    assert db.session.execute(select(AnswerTag)).first() is None


def test_answers_not_in_the_latest_round_are_left_alone(answered):
    stale = {("missing_factors", answer_reference("Never answered")): "ghost"}
    assert tag_answers(db.session, answered, stale) == 0
    assert db.session.execute(select(AnswerTag)).first() is None
