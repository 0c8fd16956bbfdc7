"""Message templates (issue 14, point 3): only placeholders and ``if`` on them, checked
on Jinja's parse tree and rendered in its sandbox; defaults in English and Spanish that
are fine as they are; deadlines in the panelist's language and time zone; stored per
study, kind and language, audited, with the defaults where a study wrote none."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from elicit.extensions import db
from surveys.errors import InvalidValues
from surveys.message_templates import (
    DEFAULTS,
    KINDS,
    PLACEHOLDERS,
    MessageText,
    deadline_words,
    default_text,
    render,
    template_problems,
)
from surveys.message_texts import (
    message_values,
    reset_template,
    sample_message,
    save_message_settings,
    save_template,
    study_template,
    study_templates,
)
from surveys.models import AuditEvent

VALUES = {
    "name": "Ana Ejemplo",
    "link": "https://elicit.example/e/abc",
    "round": "2",
    "deadline": "Friday, December 11, 2026, 5:00 PM (Central Standard Time)",
    "study_title": "Cooperation",
    "lead_name": "Dr. Rosa Ortiz",
    "lead_contact": "rosa.ortiz@example.org",
}


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize("kind", KINDS)
def test_every_default_is_valid_and_renders_every_value_it_names(kind, language):
    text = default_text(kind, language)
    assert template_problems(text.subject, part="subject") == []
    assert template_problems(text.body, kind=kind) == []
    message = render(text, VALUES)
    assert "{{" not in message.body and "{%" not in message.body
    assert "\n" not in message.subject
    assert VALUES["name"] in message.body
    assert VALUES["study_title"] in message.body
    assert VALUES["lead_name"] in message.body and VALUES["lead_contact"] in message.body
    if kind != "thank_you":
        assert VALUES["link"] in message.body
        assert VALUES["deadline"] in message.body


def test_without_a_lead_or_a_deadline_the_defaults_still_read_well():
    message = render(default_text("reminder", "es"), {**VALUES, "lead_name": "", "deadline": ""})
    assert message.body.rstrip().endswith("El equipo del estudio")
    assert "se cierra el" not in message.body
    english = render(default_text("invitation", "en"), {**VALUES, "lead_name": "", "deadline": ""})
    assert "Please answer by" not in english.body
    assert english.body.rstrip().endswith("The study team")


def test_a_language_without_defaults_gets_english():
    assert default_text("invitation", "fr") == DEFAULTS["en"]["invitation"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{ name.__class__ }}", "“.__class__”"),
        ("{{ name.__class__.__mro__[1].__subclasses__() }}", "only placeholders"),
        (
            "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
            "{% for %}",
        ),
        ("{{ name|upper }}", "“| upper”"),
        ("{{ secret_key }}", "{{ secret_key }} is no placeholder"),
        ('{{ "a" * 1000000000 }}', "only placeholders"),
        ("{% set x = 1 %}", "{% set %}"),
        ('{% include "base.html" %}', "{% include %}"),
        ("{% macro m() %}{% endmacro %}", "{% macro %}"),
        ("{{ lipsum() }}", "“call”"),
        ("{{ config }}", "{{ config }} is no placeholder"),
        ("{{ name", "line 1"),
        ("{% if name %}unclosed", "line 1"),
    ],
)
def test_anything_but_placeholders_and_ifs_is_refused_with_what_is_wrong(text, expected):
    problems = template_problems(text, kind="thank_you")
    assert problems, text
    assert any(expected in problem for problem in problems), problems
    with pytest.raises(ValueError):
        render(MessageText("Subject", text), VALUES)


def test_dollars_equals_percents_and_lone_braces_are_ordinary_text():
    body = "Cost: $5 = 100% of {budget} ${name} {{ name }}\n"
    assert template_problems(body, kind="thank_you") == []
    assert render(MessageText("=$%", body), VALUES).body == (
        "Cost: $5 = 100% of {budget} ${name} Ana Ejemplo\n"
    )


def test_values_are_text_never_template_code():
    hostile = {**VALUES, "name": "{{ link }} {% if 1 %}x{% endif %}\u2028Bcc: a@b"}
    body = render(MessageText("Hi {{ name }}", "Dear {{ name }}, {{ link }}"), hostile).body
    assert body.startswith("Dear {{ link }} {% if 1 %}x{% endif %}")


def test_subject_limits_and_required_link():
    assert template_problems("a\nb", part="subject") == ["must be one line"]
    assert "at most 300" in template_problems("x" * 301, part="subject")[0]
    assert "at most 10,000" in template_problems("x" * 10_001, kind="reminder")[0]
    assert template_problems("Dear {{ name }}", kind="invitation") == ["must contain {{ link }}"]
    assert template_problems("  \n", kind="thank_you") == ["must not be empty"]


def test_deadlines_are_written_in_the_panelist_s_zone_and_language():
    deadline = datetime(2026, 12, 11, 23, 0, tzinfo=UTC)
    assert deadline_words(deadline, "en", "America/Mexico_City") == (
        "Friday, December 11, 2026, 5:00\u202fPM (Central Standard Time)"
    )
    assert deadline_words(deadline, "es", "Europe/Madrid") == (
        "sábado, 12 de diciembre de 2026, 0:00 (hora estándar de Europa central)"
    )
    assert deadline_words(deadline, "en", None).endswith(
        "11:00\u202fPM (Coordinated Universal Time)"
    )
    assert deadline_words(deadline, "en", "Not/AZone") == deadline_words(deadline, "en", None)
    assert deadline_words(None, "en", "Europe/Madrid") == ""


def test_placeholders_named_in_the_documentation_are_the_ones_rendered():
    rendered = render(
        MessageText("s", " ".join(f"[{{{{ {name} }}}}]" for name in PLACEHOLDERS)), VALUES
    )
    assert rendered.body == " ".join(f"[{VALUES[name]}]" for name in PLACEHOLDERS)


def test_a_study_keeps_its_own_texts_per_kind_and_language(make_study, make_user):
    study = make_study()
    lead = make_user("lead@example.org", studies=[study])
    assert study_template(db.session, study, "invitation", "es").edited is False
    assert len(study_templates(db.session, study)) == len(KINDS) * 2
    save_template(
        db.session,
        study,
        "invitation",
        "es",
        "Ronda {{ round }}",
        "Hola {{ name }}:\r\n{{ link }}\r\n",
        lead,
    )
    stored = study_template(db.session, study, "invitation", "es")
    assert stored.edited and stored.text == MessageText(
        "Ronda {{ round }}", "Hola {{ name }}:\n{{ link }}\n"
    )
    assert study_template(db.session, study, "invitation", "en").edited is False
    with pytest.raises(InvalidValues) as refused:
        save_template(db.session, study, "reminder", "en", "a\nb", "{{ name.__class__ }}", lead)
    assert set(refused.value.errors) == {"subject", "body"}
    with pytest.raises(InvalidValues) as other_language:
        save_template(db.session, study, "reminder", "fr", "x", "{{ link }}", lead)
    assert "language" in other_language.value.errors
    assert reset_template(db.session, study, "invitation", "es", lead) is True
    assert study_template(db.session, study, "invitation", "es").edited is False
    actions = [event.action for event in db.session.query(AuditEvent).all()]
    assert "messages.template" in actions and "messages.template_reset" in actions


def test_the_signature_and_sample_message(make_study):
    study = make_study()
    save_message_settings(db.session, study, "  Dr. Rosa\nOrtiz ", "rosa@example.org", True)
    assert (study.lead_name, study.lead_contact) == ("Dr. Rosa Ortiz", "rosa@example.org")
    assert study.send_thank_you is True
    with pytest.raises(InvalidValues) as refused:
        save_message_settings(db.session, study, "x" * 201, "", False)
    assert "lead_name" in refused.value.errors
    sample = sample_message(
        study, default_text("invitation", "es"), "es", "https://elicit.example/", None
    )
    assert "Ana Ejemplo" in sample.body and "Dr. Rosa Ortiz" in sample.body
    assert "https://elicit.example/e/sample-link-for-the-preview-only" in sample.body
    values = message_values(
        study,
        "es",
        name="Eva\nLuna",
        link="L",
        round_number=3,
        deadline="",
    )
    assert values["name"] == "Eva Luna" and values["round"] == "3" and values["deadline"] == ""
    assert values["study_title"].startswith("Cooperación")
