"""The item forms hold every field of every item the loader accepts: an item shown in
its form and read back is the same item, so saving an item unchanged loses nothing."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict

from elicit.facilitate.item_forms import (
    form_definition,
    item_form,
    item_form_data,
    item_shape,
    place_errors,
    posted_shape,
)
from surveys.definition import parse_definition
from surveys.demo import demo_source
from surveys.templates import TEMPLATES, template_definition
from tests.surveys.definition_strategies import KEYS, LANGUAGES, items

DEFINITIONS = [parse_definition(demo_source(), name="demo")] + [
    template_definition(entry.key) for entry in TEMPLATES if entry.key != "demo"
]


def as_posted(data: dict) -> MultiDict:
    """Form data as a browser posts it: text, and a ticked box as "y"."""
    posted = MultiDict()
    for name, value in data.items():
        if value is True:
            posted[name] = "y"
        elif isinstance(value, list):  # ticked boxes: one value each
            for each in value:
                posted.add(name, str(each))
        elif value is not None and value is not False:
            posted[name] = str(value)
    return posted


@pytest.mark.parametrize(
    "definition", DEFINITIONS, ids=[definition.slug for definition in DEFINITIONS]
)
def test_every_item_reads_back_from_its_posted_form(app, definition):
    sections = [(section.key, section.key) for section in definition.sections]
    with app.test_request_context():
        for item in definition.items:
            data = item_form_data(item, definition.languages)
            posted = as_posted(data)
            posted["choice_count"] = str(item_shape(item)["choices"])
            form = item_form(
                item.kind,
                definition.languages,
                sections=sections,
                formdata=posted,
                **posted_shape(item.kind, posted),
            )
            assert form_definition(form, existing=item) == item, item.key


def read_back(item, languages, section_keys):
    """``item`` shown in its form, posted as a browser would, and read back."""
    posted = as_posted(item_form_data(item, languages))
    posted["choice_count"] = str(item_shape(item)["choices"])
    form = item_form(
        item.kind,
        languages,
        sections=[(key, key) for key in section_keys],
        formdata=posted,
        **posted_shape(item.kind, posted),
    )
    return form_definition(form, existing=item)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.data())
def test_any_item_the_loader_accepts_reads_back_from_its_form(app, data):
    languages = data.draw(LANGUAGES)
    section_keys = data.draw(st.lists(KEYS, max_size=3, unique=True))
    item = data.draw(items("item", languages, section_keys))
    with app.test_request_context():
        assert read_back(item, languages, section_keys) == item


def test_problems_named_by_the_domain_land_on_their_fields(app):
    with app.test_request_context():
        form = item_form("likert", ("en", "es"), points=(0, 4), formdata=MultiDict())
        unplaced = place_errors(
            form,
            {
                "text.es": ["too long"],
                "labels.es[2]": ["a line break"],
                "labels[5]": ["no label"],
                "scale.max": ["too small"],
                "consensus": ["elsewhere"],
            },
        )
        assert form["text_es"].errors == ["too long"]
        assert form["label_1_es"].errors == ["a line break"]  # the 2nd point of 0–4
        assert form["label_4_en"].errors == ["no label"]
        assert form["scale_max"].errors == ["too small"]
        assert unplaced == ["consensus: elsewhere"]
        choices = item_form("ranking", ("en",), choices=3, formdata=MultiDict())
        place_errors(choices, {"options[3].text.en": ["empty"], "options[1].key": ["taken"]})
        assert choices["choice_2_text_en"].errors == ["empty"]
        assert choices["choice_0_key"].errors == ["taken"]
