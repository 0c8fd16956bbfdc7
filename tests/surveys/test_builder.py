"""The study builder's use cases: a draft study changed piece by piece, checked by the
definition loader's rules, with missing translations allowed and reported, and refused
once round 1 has opened."""

from __future__ import annotations

import uuid
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from elicit.extensions import db
from surveys import builder
from surveys.definition import (
    Choice,
    ItemDefinition,
    LikertScale,
    LocalizedText,
    StudyDefinition,
    parse_definition,
)
from surveys.definition_writer import definition_to_toml
from surveys.demo import demo_source
from surveys.errors import Conflict, InvalidValues
from surveys.models import Study
from surveys.rounds import open_round
from surveys.serialization import item_from_json
from surveys.snapshots import study_snapshot
from surveys.studies import study_definition
from surveys.templates import TEMPLATES, template_definition, template_source
from tests.surveys.definition_strategies import KEYS, LANGUAGES, definitions, items


def text(**values: str) -> LocalizedText:
    return LocalizedText(tuple(values.items()))


@pytest.fixture
def blank(app) -> Study:
    return builder.create_study(
        db.session,
        slug="my-study",
        languages=["en", "es"],
        anonymity="standard",
        title="Water in 2040",
    )


def probability(key: str = "", section: str | None = None, **texts: str) -> ItemDefinition:
    return ItemDefinition(
        key=key,
        kind="probability",
        text=text(**(texts or {"en": "Will it rain?"})),
        section=section,
    )


def test_a_blank_study_is_created_with_its_title_and_missing_translations(blank):
    assert blank.languages == {"codes": ["en", "es"]}
    assert blank.title == {"en": "Water in 2040"}
    assert [(m.place, m.languages) for m in builder.missing_translations(blank)] == [
        ("title", ("es",))
    ]
    assert builder.is_draft(db.session, blank)


def test_creation_refuses_bad_slug_languages_and_a_missing_title(app, blank):
    with pytest.raises(InvalidValues) as refused:
        builder.create_study(
            db.session, slug="My Study", languages=["en", "english"], anonymity="open", title=" "
        )
    assert set(refused.value.errors) == {"slug", "languages", "anonymity", "title"}
    with pytest.raises(InvalidValues) as taken:
        builder.create_study(
            db.session, slug="my-study", languages=["en"], anonymity="standard", title="x"
        )
    assert "exists already" in taken.value.errors["slug"][0]
    with pytest.raises(InvalidValues) as reserved:
        builder.create_study(
            db.session, slug="new", languages=["en"], anonymity="standard", title="x"
        )
    assert "slug" in reserved.value.errors


def test_the_demo_as_a_start_keeps_the_chosen_languages_only(app):
    demo = parse_definition(demo_source(), name="demo")
    study = builder.create_study(
        db.session,
        slug="copy",
        languages=["en", "fr"],
        anonymity="blind",
        start=demo,
        source=demo_source(),
    )
    assert study.slug == "copy" and study.anonymity == "blind"
    assert list(study.title) == ["en"]
    missing = builder.missing_translations(study)
    assert missing and all(m.languages == ("fr",) for m in missing)
    assert len(study.items) == len(demo.items)
    with pytest.raises(InvalidValues) as refused:
        builder.create_study(
            db.session, slug="copy-2", languages=["fr"], anonymity="standard", start=demo
        )
    assert "keep at least one of its languages" in refused.value.errors["languages"][0]


def test_an_item_with_a_missing_translation_is_kept_and_flagged(blank):
    item = builder.add_item(db.session, blank, probability(en="Will it rain in May?"))
    assert item.key == "will_it_rain_in_may"
    assert item.spec["text"] == {"en": "Will it rain in May?"}
    missing = [m for m in builder.missing_translations(blank) if m.place.startswith("item:")]
    assert [(m.place, m.field, m.languages) for m in missing] == [
        ("item:will_it_rain_in_may", "text", ("es",))
    ]
    # Filling it in removes the flag.
    builder.update_item(
        db.session,
        blank,
        item.key,
        probability(item.key, en="Will it rain in May?", es="¿Lloverá en mayo?"),
    )
    assert not [m for m in builder.missing_translations(blank) if m.place.startswith("item:")]
    assert item.version == 1 and item.versions[0].spec == item.spec


def test_items_are_checked_by_the_loader_with_fields_named(blank):
    too_long = "x" * 1001
    bad = ItemDefinition(
        key="Bad Key",
        kind="likert",
        text=text(en=too_long),
        scale=LikertScale(1, 3, (("en", ("Low", "", "High")), ("es", ("Bajo", "", "")))),
    )
    with pytest.raises(InvalidValues) as refused:
        builder.add_item(db.session, blank, bad)
    assert refused.value.errors["labels[2]"] == [
        "write this point's label in at least one language"
    ]
    fixed = ItemDefinition(
        key="Bad Key",
        kind="likert",
        text=text(en=too_long, es="Corto"),
        scale=LikertScale(1, 3, (("en", ("Low", "Mid", "High")),)),
    )
    with pytest.raises(InvalidValues) as loader:
        builder.add_item(db.session, blank, fixed)
    errors = loader.value.errors
    assert "not a valid key" in errors["key"][0]
    assert "at most 1,000 characters" in errors["text.en"][0]
    wrong_scale = ItemDefinition(
        key="scale",
        kind="likert",
        text=text(en="Agree?"),
        scale=LikertScale(5, 1, (("en", ("a",)),)),
    )
    with pytest.raises(InvalidValues) as scale:
        builder.add_item(db.session, blank, wrong_scale)
    assert list(scale.value.errors) == ["scale.max"]
    assert blank.items == []


def test_choices_are_named_by_number_and_keyed_from_their_text(blank):
    bad = ItemDefinition(
        key="futures",
        kind="scenario_set",
        text=text(en="How likely is each future?"),
        scenarios=(Choice("", text(en="Drought")), Choice("", text(es="x" * 501))),
    )
    with pytest.raises(InvalidValues) as refused:
        builder.add_item(db.session, blank, bad)
    assert list(refused.value.errors) == ["scenarios[2].text.es"]
    good = ItemDefinition(
        key="futures",
        kind="scenario_set",
        text=text(en="How likely is each future?"),
        scenarios=(Choice("", text(en="Drought")), Choice("", text(en="Flood", es="Inundación"))),
    )
    item = builder.add_item(db.session, blank, good)
    assert [s["key"] for s in item.spec["scenarios"]] == ["drought", "flood"]


def test_sections_and_items_move_and_every_change_is_a_new_revision(blank):
    first = builder.add_section(db.session, blank, {"en": "Drivers"})
    second = builder.add_section(db.session, blank, {"en": "Scenarios", "es": "Escenarios"})
    a = builder.add_item(db.session, blank, probability("a", first))
    b = builder.add_item(db.session, blank, probability("b", first))
    c = builder.add_item(db.session, blank, probability("c", second))
    loose = builder.add_item(db.session, blank, probability("loose"))
    order = lambda: [item.key for item in builder.ordered_items(blank)]  # noqa: E731
    assert order() == ["loose", "a", "b", "c"]
    assert [i.position for i in builder.ordered_items(blank)] == [0, 1, 2, 3]

    before = study_snapshot(db.session, blank.id)
    builder.move_item(db.session, blank, "b", -1)
    after = study_snapshot(db.session, blank.id)
    assert after is not before
    assert [item.definition.key for item in after.items] == ["loose", "b", "a", "c"]
    with pytest.raises(Conflict):
        builder.move_item(db.session, blank, "b", -1)  # first of its section
    builder.move_section(db.session, blank, second, -1)
    assert order() == ["loose", "c", "b", "a"]
    assert [item.definition.key for item in study_snapshot(db.session, blank.id).items] == order()

    # Editing a text in place is a new revision too.
    before = study_snapshot(db.session, blank.id)
    builder.update_item(db.session, blank, "c", probability("c", second, en="Changed?"))
    assert study_snapshot(db.session, blank.id).items[1].definition.text.get("en") == "Changed?"
    assert study_snapshot(db.session, blank.id) is not before

    with pytest.raises(Conflict):
        builder.delete_section(db.session, blank, first)
    copy = builder.duplicate_item(db.session, blank, "a")
    assert copy.key == "a_copy" and order() == ["loose", "c", "b", "a", "a_copy"]
    builder.delete_item(db.session, blank, "a")
    builder.delete_item(db.session, blank, "a_copy")
    builder.delete_item(db.session, blank, "b")
    builder.delete_section(db.session, blank, first)
    assert [s["key"] for s in blank.sections["sections"]] == [second]
    assert order() == ["loose", "c"]
    assert {a.id, b.id, c.id, loose.id} >= {item.id for item in blank.items}


def test_texts_of_the_study(blank):
    with pytest.raises(InvalidValues) as refused:
        builder.update_texts(
            db.session, blank, title={"en": "", "es": ""}, introduction={"en": "a\x00b"}
        )
    assert set(refused.value.errors) == {"title", "introduction.en"}
    builder.update_texts(
        db.session,
        blank,
        title={"en": "Water", "es": "Agua"},
        introduction={"en": "Line one\nLine two"},
    )
    assert blank.title == {"en": "Water", "es": "Agua"}
    assert [m.place for m in builder.missing_translations(blank)] == ["introduction"]


def test_everything_is_refused_once_round_one_opened(blank):
    builder.add_item(db.session, blank, probability("a", en="A?", es="¿A?"))
    builder.update_texts(db.session, blank, title={"en": "Water", "es": "Agua"}, introduction={})
    open_round(db.session, blank)
    assert not builder.is_draft(db.session, blank)
    for change in (
        lambda: builder.add_item(db.session, blank, probability("b")),
        lambda: builder.update_item(db.session, blank, "a", probability("a")),
        lambda: builder.duplicate_item(db.session, blank, "a"),
        lambda: builder.move_item(db.session, blank, "a", 1),
        lambda: builder.delete_item(db.session, blank, "a"),
        lambda: builder.add_section(db.session, blank, {"en": "S"}),
        lambda: builder.update_texts(db.session, blank, title={"en": "T"}, introduction={}),
        lambda: builder.replace_study(db.session, blank, demo_source()),
    ):
        with pytest.raises(Conflict):
            change()


def test_import_replaces_the_draft_and_keeps_the_slug(blank):
    builder.add_item(db.session, blank, probability("a"))
    builder.replace_study(db.session, blank, demo_source())
    definition = study_definition(blank)
    demo = parse_definition(demo_source(), name="demo")
    assert blank.slug == "my-study"
    assert definition.items == demo.items
    assert definition.sections == demo.sections


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.data())
def test_any_item_the_loader_accepts_is_stored_as_it_is(app, data):
    """Adding an item checks it by the loader and stores exactly it (rules included)."""
    languages = data.draw(LANGUAGES)
    section_keys = data.draw(st.lists(KEYS, max_size=2, unique=True))
    item = data.draw(items("item", languages, section_keys))
    study = builder.create_study(
        db.session,
        slug=f"s-{uuid.uuid4().hex[:12]}",
        languages=languages,
        anonymity="standard",
        title="Study",
    )
    for key in section_keys:
        builder.add_section(db.session, study, dict.fromkeys(languages, key), key=key)
    stored = builder.add_item(db.session, study, item)
    assert item_from_json(stored.key, stored.kind, stored.spec) == item
    # Only the title, given in the first language, lacks the others.
    expected = [builder.MissingText("title", "title", languages[1:])] if languages[1:] else []
    assert builder.missing_translations(study) == expected


# -- the builder opens every definition the loader accepts -----------------------------------


@pytest.mark.parametrize("key", [entry.key for entry in TEMPLATES])
def test_every_template_starts_a_study_and_replaces_a_draft_exactly(app, key):
    """A study started from a shipped template, and a draft replaced by its file, is the
    template (but for its slug), settings included; and its definition file is the
    canonical text of the template."""
    template = template_definition(key)
    started = builder.create_study(
        db.session,
        slug=f"start-{key.replace('_', '-')}",
        languages=template.languages,
        anonymity="standard",
        start=template,
        source=template_source(key),
    )
    assert study_definition(started) == replace(template, slug=started.slug)
    assert started.consensus_items == template.consensus_items
    draft = builder.create_study(
        db.session,
        slug=f"draft-{key.replace('_', '-')}",
        languages=["fr"],
        anonymity="standard",
        title="Draft",
    )
    builder.replace_study(db.session, draft, template_source(key))
    assert study_definition(draft) == replace(template, slug=draft.slug)
    assert definition_to_toml(study_definition(draft)) == definition_to_toml(
        replace(template, slug=draft.slug)
    )


def test_the_consensus_delphi_template_lets_items_at_consensus_leave(app):
    """The classic consensus Delphi asks again only what has not reached consensus, and
    a study started from it says so."""
    template = template_definition("consensus_delphi")
    assert template.consensus_items == "leave"
    study = builder.create_study(
        db.session,
        slug="delphi",
        languages=["en"],
        anonymity="standard",
        start=template,
        source=template_source("consensus_delphi"),
    )
    assert study.consensus_items == "leave"


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(definition=definitions())
def test_any_definition_the_loader_accepts_replaces_a_draft_exactly(blank, definition):
    """The builder opens any valid definition file: replacing a draft by the canonical
    text of a generated definition stores that definition (settings, rules, sections and
    items, but the draft's slug), and the builder's own file of it is the same text."""
    builder.replace_study(db.session, blank, definition_to_toml(definition))
    expected: StudyDefinition = replace(definition, slug=blank.slug)
    assert study_definition(blank) == expected
    assert blank.consensus_items == definition.consensus_items
    assert definition_to_toml(study_definition(blank)) == definition_to_toml(expected)
    assert study_snapshot(db.session, blank.id).definition == expected
