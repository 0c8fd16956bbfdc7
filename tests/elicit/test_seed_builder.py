"""The study builder adds a seed question with its known answer (issue 16, point 5)."""

from __future__ import annotations

from html import unescape

from elicit.extensions import db
from surveys.studies import find_study, study_definition
from tests.conftest import csrf_token
from tests.elicit.test_builder_pages import (
    build_url,
    console,
    field_errors,
    field_value,
    lead,
    start,
)

__all__ = ["console", "lead"]  # fixtures


def test_a_seed_question_is_added_with_its_known_answer(console, lead):
    start(console)
    new = console.get(build_url("/items/new?kind=seed"))
    assert new.status_code == 200
    text = unescape(new.text)
    assert "Known answer (never shown to experts)" in text
    assert "Log-uniform" in text
    data = {
        "kind": "seed",
        "text_en": "How many wells were drilled in 2019?",
        "text_es": "",
        "unit_en": "wells",
        "unit_es": "",
        "seed_answer": "",
        "background": "log-uniform",
        "section": "",
        "rationale": "y",
        "key": "",
        "action": "save",
    }
    refused = console.post(
        build_url("/items/new"), data={"csrf_token": csrf_token(new.text), **data}
    )
    assert refused.status_code == 422
    assert field_errors(refused.text, "seed_answer")
    assert field_value(refused.text, "text_en") == "How many wells were drilled in 2019?"
    data["seed_answer"] = "-5"
    refused = console.post(
        build_url("/items/new"), data={"csrf_token": csrf_token(refused.text), **data}
    )
    assert refused.status_code == 422
    assert any("above 0" in error for error in field_errors(refused.text, "seed_answer"))
    data["seed_answer"] = "1234.5"
    created = console.post(
        build_url("/items/new"), data={"csrf_token": csrf_token(refused.text), **data}
    )
    assert created.status_code == 303, created.text
    (built,) = [
        item
        for item in study_definition(find_study(db.session, "water-2040")).items
        if item.kind == "seed"
    ]
    assert built.seed_answer == 1234.5 and built.background == "log-uniform"
    shown = console.get(created.headers["Location"])
    assert field_value(shown.text, "seed_answer") == "1234.5"
