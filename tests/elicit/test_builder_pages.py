"""The study builder's pages without JavaScript: create a study from a starting point,
shape it with forms only (texts, sections, items of every kind, moves), see problems on
their fields with everything typed kept, and find the builder read-only after round 1."""

from __future__ import annotations

import re
from dataclasses import replace
from html import unescape

import pytest
from hypothesis import HealthCheck, given, settings

from elicit.extensions import db
from surveys.definition import StudyDefinition, parse_definition
from surveys.definition_writer import definition_to_toml
from surveys.demo import demo_source
from surveys.models import Study
from surveys.rounds import open_round
from surveys.studies import find_study, study_definition
from surveys.templates import TEMPLATES, template_source
from tests.conftest import csrf_token, log_in
from tests.elicit.test_items_between_rounds_pages import press
from tests.surveys.definition_strategies import definitions

SLUG = "water-2040"


def field_value(html: str, name: str) -> str | None:
    """The value an input or text area named ``name`` shows."""
    match = re.search(rf'<input[^>]*name="{re.escape(name)}"[^>]*value="([^"]*)"', html)
    if match:
        return unescape(match.group(1))
    match = re.search(rf'<textarea[^>]*name="{re.escape(name)}"[^>]*>(.*?)</textarea>', html, re.S)
    return unescape(match.group(1)).strip() if match else None


def field_errors(html: str, field_id: str) -> list[str]:
    """The problems written under the field ``field_id``."""
    return [
        unescape(message)
        for message in re.findall(rf'<p class="field-error" id="{field_id}-error">(.*?)</p>', html)
    ]


@pytest.fixture
def lead(make_user):
    return make_user("lead@example.org")


@pytest.fixture
def console(client, lead):
    log_in(client, "lead@example.org")
    return client


def start(console, **fields):
    page = console.get("/console/studies/new")
    data = {
        "csrf_token": csrf_token(page.text),
        "new-start": "blank",
        "new-slug": SLUG,
        "new-languages": "en, es",
        "new-title": "Water in 2040",
        "new-anonymity": "standard",
    }
    data.update({f"new-{name}": value for name, value in fields.items()})
    return console.post("/console/studies/new/start", data=data)


def build_url(path: str = "") -> str:
    return f"/console/studies/{SLUG}/build{path}"


def post(console, url: str, data: dict[str, str], page_url: str | None = None):
    page = console.get(page_url or build_url())
    return console.post(url, data={"csrf_token": csrf_token(page.text), **data})


def test_a_blank_study_starts_in_the_builder_with_its_missing_translation(console, lead):
    created = start(console)
    assert created.status_code == 303
    assert created.headers["Location"].endswith(build_url())
    study = find_study(db.session, SLUG)
    assert study.title == {"en": "Water in 2040"} and study.languages["codes"] == ["en", "es"]
    page = console.get(build_url())
    assert page.status_code == 200
    assert "Spanish missing" in page.text
    assert "1 text is not translated yet" in page.text


def test_start_errors_name_their_fields_and_keep_what_was_typed(console, lead):
    refused = start(console, slug="Water 2040!", languages="en, english", title="x" * 201)
    assert refused.status_code == 422
    assert field_errors(refused.text, "new-slug")
    assert "'english' is not a two-letter language code" in unescape(refused.text)
    assert field_errors(refused.text, "new-title")
    assert field_value(refused.text, "new-slug") == "Water 2040!"
    assert field_value(refused.text, "new-languages") == "en, english"
    assert find_study(db.session, SLUG) is None


def test_the_demo_as_a_start_gets_the_chosen_slug(console, lead):
    created = start(console, start="demo", slug="my-copy", languages="es", title="")
    assert created.status_code == 303
    study = find_study(db.session, "my-copy")
    assert study.languages["codes"] == ["es"]
    assert list(study.title) == ["es"]


def test_texts_sections_and_a_likert_item_with_forms_only(console, lead):
    start(console)
    saved = post(
        console,
        build_url("/texts"),
        {"title_en": "Water in 2040", "title_es": "El agua en 2040", "introduction_en": "Hi"},
    )
    assert saved.status_code == 303
    page = console.get(build_url())
    # The introduction is written in English only: its Spanish is flagged, in words.
    assert '<a href="#introduction_es">Introduction</a>' in page.text
    assert 'id="introduction_es-missing">Spanish missing' in page.text
    assert 'id="title_es-missing" hidden>' in page.text

    added = post(console, build_url("/sections"), {"new-section-title_en": "Drivers"})
    assert added.status_code == 303
    study = find_study(db.session, SLUG)
    assert study.sections["sections"][0]["key"] == "drivers"

    new = console.get(build_url("/items/new?kind=likert&section=drivers"))
    assert new.status_code == 200
    assert field_value(new.text, "label_1_en") == "Strongly disagree"
    data = {
        "kind": "likert",
        "text_en": "Trust is high.",
        "text_es": "",
        "scale_min": "1",
        "scale_max": "5",
        "section": "drivers",
        "rationale": "y",
        "key": "",
        "action": "save",
        **{f"label_{v}_en": f"L{v}" for v in range(1, 6)},
        **{f"label_{v}_es": "" for v in range(1, 6)},
    }
    data["label_3_en"] = ""  # a point without a label in any language
    refused = console.post(
        build_url("/items/new"), data={"csrf_token": csrf_token(new.text), **data}
    )
    assert refused.status_code == 422
    assert field_errors(refused.text, "label_3_en") == [
        "write this point's label in at least one language"
    ]
    assert field_value(refused.text, "text_en") == "Trust is high."
    assert field_value(refused.text, "label_4_en") == "L4"
    data["label_3_en"] = "L3"
    created = console.post(
        build_url("/items/new"), data={"csrf_token": csrf_token(refused.text), **data}
    )
    assert created.status_code == 303
    assert created.headers["Location"].endswith(build_url("/items/trust_is_high"))
    item = console.get(build_url("/items/trust_is_high"))
    assert "Spanish missing" in item.text
    definition = study_definition(find_study(db.session, SLUG))
    (built,) = [item for item in definition.items if item.key == "trust_is_high"]
    assert built.scale.labels == (("en", ("L1", "L2", "L3", "L4", "L5")),)


def test_a_scenario_set_grows_and_shrinks_without_javascript(console, lead):
    start(console, languages="en")
    new = console.get(build_url("/items/new?kind=scenario_set"))
    base = {
        "csrf_token": csrf_token(new.text),
        "kind": "scenario_set",
        "text_en": "Which future?",
        "choice_count": "2",
        "choice_0_text_en": "Drought",
        "choice_1_text_en": "Flood",
    }
    grown = console.post(build_url("/items/new"), data={**base, "action": "add_choice"})
    assert grown.status_code == 200
    assert "Not saved yet" in grown.text
    assert field_value(grown.text, "choice_2_text_en") == ""
    assert field_value(grown.text, "choice_1_text_en") == "Flood"
    shrunk = console.post(
        build_url("/items/new"),
        data={
            **base,
            "choice_count": "3",
            "choice_2_text_en": "Steady",
            "action": "remove_choice_0",
        },
    )
    assert field_value(shrunk.text, "choice_0_text_en") == "Flood"
    assert field_value(shrunk.text, "choice_1_text_en") == "Steady"
    assert field_value(shrunk.text, "choice_2_text_en") is None
    saved = console.post(
        build_url("/items/new"),
        data={
            **base,
            "choice_0_text_en": "Flood",
            "choice_1_text_en": "Steady",
            "action": "save",
        },
    )
    assert saved.status_code == 303
    (item,) = [i for i in study_definition(find_study(db.session, SLUG)).items if i.scenarios]
    assert [scenario.key for scenario in item.scenarios] == ["flood", "steady"]


def test_moves_without_javascript_and_read_only_after_round_one(console, lead, app):
    start(console, languages="en")
    for text in ("First?", "Second?"):
        page = console.get(build_url("/items/new?kind=probability"))
        console.post(
            build_url("/items/new"),
            data={"csrf_token": csrf_token(page.text), "kind": "probability", "text_en": text},
        )
    moved = post(console, build_url("/items/second/move"), {"direction": "up"})
    assert moved.status_code == 303
    study: Study = find_study(db.session, SLUG)
    # The blank template's statement has no section: it stays first.
    assert [item.key for item in study_definition(study).items] == ["statement", "second", "first"]
    overview = console.get(build_url()).text
    assert overview.index('id="item-second"') < overview.index('id="item-first"')

    open_round(db.session, study)
    page = console.get(build_url())
    assert "read-only" in page.text and "Move up" not in page.text
    refused = post(console, build_url("/items/second/move"), {"direction": "down"})
    assert refused.status_code == 303
    assert "round 1 has opened" in console.get(refused.headers["Location"]).text
    item = console.get(build_url("/items/first"))
    assert item.status_code == 200 and "disabled" in item.text
    assert [item.key for item in study_definition(study).items] == ["statement", "second", "first"]


def test_sections_move_and_are_deleted_without_javascript(console, lead):
    start(console, languages="en")
    for title in ("Drivers", "Outlook"):
        post(console, build_url("/sections"), {"new-section-title_en": title})
    moved = post(console, build_url("/sections/outlook/move"), {"direction": "up"})
    assert moved.status_code == 303
    study = find_study(db.session, SLUG)
    assert [section.key for section in study_definition(study).sections] == ["outlook", "drivers"]
    overview = console.get(build_url()).text
    assert overview.index('id="section-outlook"') < overview.index('id="section-drivers"')
    # The first section has no "Move up" any more; a stale button is told so.
    assert 'data-focus-key="section-outlook-up"' not in overview
    again = post(console, build_url("/sections/outlook/move"), {"direction": "up"})
    assert "cannot move further" in console.get(again.headers["Location"]).text
    assert (
        post(console, build_url("/sections/outlook/move"), {"direction": "left"}).status_code == 400
    )
    deleted = post(console, build_url("/sections/drivers/delete"), {})
    assert deleted.status_code == 303
    db.session.expire_all()  # the web app changed the study since this session read it
    assert [s.key for s in study_definition(find_study(db.session, SLUG)).sections] == ["outlook"]


def test_control_characters_are_refused_on_their_field_and_the_rest_kept(console, lead):
    start(console, languages="en")
    page = console.get(build_url("/items/new?kind=open_text"))
    refused = console.post(
        build_url("/items/new"),
        data={
            "csrf_token": csrf_token(page.text),
            "kind": "open_text",
            "text_en": "A bell\x07 rings?",
            "help_en": "Kept as typed.",
            "max_length": "300",
        },
    )
    assert refused.status_code == 422
    assert field_errors(refused.text, "text_en") == [
        "This field must not contain control characters."
    ]
    assert field_value(refused.text, "help_en") == "Kept as typed."
    assert field_value(refused.text, "max_length") == "300"
    assert [i.kind for i in study_definition(find_study(db.session, SLUG)).items] == ["likert"]


def test_a_definition_file_replaces_the_draft_after_its_problems_are_shown(console, lead):
    start(console, languages="en")
    page = console.get(build_url("/import"))
    assert page.status_code == 200
    broken = demo_source().replace('kind = "ranking"', 'kind = "rankin"')
    line = broken.splitlines().index('kind = "rankin"') + 1
    refused = console.post(
        build_url("/import"), data={"csrf_token": csrf_token(page.text), "source": broken}
    )
    assert refused.status_code == 422
    assert f'id="source-listing-{line}" class="has-error"' in refused.text
    assert "unknown item kind &#39;rankin&#39;" in refused.text
    assert 'kind = "rankin"' in unescape(refused.text)  # the pasted text is kept
    db.session.expire_all()
    assert [i.key for i in study_definition(find_study(db.session, SLUG)).items] == ["statement"]
    replaced = console.post(
        build_url("/import"),
        data={"csrf_token": csrf_token(refused.text), "source": demo_source()},
    )
    assert replaced.status_code == 303
    db.session.expire_all()
    study = find_study(db.session, SLUG)
    assert study.slug == SLUG and study.languages["codes"] == ["en", "es"]
    assert study_definition(study).items == parse_definition(demo_source()).items


def test_a_new_item_without_a_kind_asks_for_one(console, lead):
    start(console, languages="en")
    post(console, build_url("/sections"), {"new-section-title_en": "Drivers"})
    page = console.get(build_url("/items/new?section=drivers"))
    assert page.status_code == 200
    for kind in ("likert", "probability", "scenario_set", "numeric_estimate", "ranking"):
        assert f'id="kind-{kind}" value="{kind}"' in page.text
    assert '<option value="drivers" selected>Drivers</option>' in page.text
    chosen = console.get(build_url("/items/new?kind=ranking&section=drivers"))
    assert chosen.status_code == 200 and 'name="choice_1_text_en"' in chosen.text


# -- the builder opens any definition file the loader accepts --------------------------------


def selected(html: str, name: str) -> str | None:
    """The value of the option the select named ``name`` shows as chosen."""
    select = re.search(rf'<select[^>]*name="{re.escape(name)}"[^>]*>(.*?)</select>', html, re.S)
    assert select, f"no select {name}"
    for option in re.findall(r"<option\b[^>]*>", select.group(1)):
        if re.search(r"\bselected\b", option):
            return unescape(re.search(r'value="([^"]*)"', option).group(1))
    return None


def settings_as_shown(html: str) -> dict[str, str]:
    """The settings form's values as its page shows them, as a browser posts them."""
    shown = {
        name: selected(html, name)
        for name in (
            "quantile_method",
            "rationale_outside_iqr",
            "anonymity",
            "consensus_items",
            "carry_over",
        )
    }
    shown |= {name: field_value(html, name) for name in ("feedback_min_n", "max_rounds")}
    if re.search(r'<input[^>]*\bchecked\b[^>]*name="cannot_judge"', html) or re.search(
        r'<input[^>]*name="cannot_judge"[^>]*\bchecked\b', html
    ):
        shown["cannot_judge"] = "y"
    return shown


def opens_in_the_builder(console, source: str) -> StudyDefinition:
    """Import ``source`` into the draft through the builder's import, open every page
    the builder has for it, save its settings as the settings page shows them, and
    return the stored definition; the builder's own file of it must be its canonical
    text."""
    page = console.get(build_url("/import"))
    replaced = console.post(
        build_url("/import"), data={"csrf_token": csrf_token(page.text), "source": source}
    )
    assert replaced.status_code == 303, replaced.text
    db.session.expire_all()
    stored = study_definition(find_study(db.session, SLUG))
    pages = [build_url(), build_url("/import"), f"/console/studies/{SLUG}/rules"]
    pages += [build_url(f"/items/{item.key}") for item in stored.items]
    # Round 1 and a later round with simulated feedback, when the study has one.
    later = range(1, min(stored.max_rounds, 2) + 1)
    pages += [f"/console/studies/{SLUG}/preview/{number}" for number in later]
    for url in pages:
        assert console.get(url).status_code == 200, url
    written = console.get(build_url("/definition.toml"))
    assert written.text == definition_to_toml(stored)
    settings_url = f"/console/studies/{SLUG}/settings"
    page = console.get(settings_url)
    saved = console.post(
        settings_url, data={"csrf_token": csrf_token(page.text), **settings_as_shown(page.text)}
    )
    assert saved.status_code == 303
    db.session.expire_all()
    assert study_definition(find_study(db.session, SLUG)) == stored
    return stored


@pytest.mark.parametrize("key", [entry.key for entry in TEMPLATES])
def test_every_template_file_opens_in_the_builder(console, lead, key):
    start(console, languages="en")
    stored = opens_in_the_builder(console, template_source(key))
    expected = parse_definition(template_source(key))
    assert stored == replace(expected, slug=SLUG)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(definition=definitions())
def test_any_definition_the_loader_accepts_opens_in_the_builder(console, lead, definition):
    """Whatever valid definition file is imported, every page of the builder opens on
    it, the settings page saves it unchanged, and the study is the definition."""
    if find_study(db.session, SLUG) is None:
        start(console, languages="en")
    stored = opens_in_the_builder(console, definition_to_toml(definition))
    assert stored == replace(definition, slug=SLUG)


def test_an_estimate_s_level_is_typed_refused_on_its_field_and_kept(console, lead):
    """The builder's 'Standardise intervals to (%)': explained, 40 refused on the field
    with everything typed kept, 90 saved and shown again, blank meaning 80 %."""
    start(console)
    new = console.get(build_url("/items/new?kind=numeric_estimate"))
    assert new.status_code == 200
    assert "Standardise intervals to (%)" in unescape(new.text)
    assert "80 % is usual" in unescape(new.text)
    assert field_value(new.text, "estimate_level") == ""
    data = {
        "kind": "numeric_estimate",
        "text_en": "How many wells?",
        "text_es": "",
        "unit_en": "wells",
        "unit_es": "",
        "bounds_min": "",
        "bounds_max": "",
        "estimate_level": "40",
        "section": "",
        "rationale": "y",
        "key": "",
        "action": "save",
    }
    refused = console.post(
        build_url("/items/new"), data={"csrf_token": csrf_token(new.text), **data}
    )
    assert refused.status_code == 422
    assert field_errors(refused.text, "estimate_level")
    assert field_value(refused.text, "estimate_level") == "40"
    assert field_value(refused.text, "text_en") == "How many wells?"
    data["estimate_level"] = "90"
    created = console.post(
        build_url("/items/new"), data={"csrf_token": csrf_token(refused.text), **data}
    )
    assert created.status_code == 303
    items = study_definition(find_study(db.session, SLUG)).items
    (built,) = [item for item in items if item.kind == "numeric_estimate"]
    assert built.estimate_level == 90.0
    shown = console.get(created.headers["Location"])
    assert field_value(shown.text, "estimate_level") in ("90", "90.0")


def test_an_item_saved_by_a_colleague_is_not_replaced_unseen(console, lead):
    """Two facilitators open a draft item; the first saves a new question; the second,
    from the page kept since, is told that nothing was saved (409), keeps what they
    typed, and replaces the first's only by saving again from that answer."""
    start(console)
    new = console.get(build_url("/items/new?kind=probability"))
    created = press(console, build_url("/items/new"), new.text, "save", text_en="Rain soon?")
    assert created.status_code == 303, created.text
    url = created.headers["Location"].removeprefix("http://localhost")
    first, kept = console.get(url).text, console.get(url).text
    saved = press(console, url, first, "save", text_en="Rain within the year?")
    assert saved.status_code == 303, saved.text
    refused = press(console, url, kept, "save", text_en="Any rain at all?")
    assert refused.status_code == 409
    assert "Nothing was saved: someone else saved this item after this page was drawn." in unescape(
        refused.text
    )
    assert field_value(refused.text, "text_en") == "Any rain at all?"

    def question() -> str:
        db.session.expire_all()
        items = find_study(db.session, SLUG).items
        (item,) = [item for item in items if url.endswith(f"/items/{item.key}")]
        return item.spec["text"]["en"]

    assert question() == "Rain within the year?"
    again = press(console, url, refused.text, "save")
    assert again.status_code == 303, again.text
    assert question() == "Any rain at all?"
