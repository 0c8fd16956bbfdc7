"""Study templates: shipped definitions a facilitator starts a new study from.

Each template is an ordinary definition file in ``surveys/definitions/templates/`` (the
demo study is offered too), bilingual (English and Spanish), loaded by the same loader
as any other file and free of rule warnings (:mod:`surveys.rule_checks`).  Nothing
about a template is in code but its place in the catalogue: its title and a one-line
description per language, for the page that offers them.

- ``blank``: the smallest useful study, one statement rated 1–5.  A study needs at
  least one item, and a start with one shows every field an item has; its consensus
  settings already give probabilities and scenario sets a rule fit for 0–100, so that
  an item of those kinds added next does not inherit "IQR ≤ 1" meant for 1–5.
- ``scenario_study``: scenarios, triggers, signposts, a numeric estimate and an open
  question, like the demo but about no subject in particular.
- ``appropriateness_panel``: the RAND/UCLA appropriateness method on a 1–9 scale.
- ``consensus_delphi``: a classic consensus Delphi on a 1–5 agreement scale
  (consensus: at least 70 % agree, 4 or 5, and an IQR of at most 1).
- ``demo``: the shipped demo study, complete.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from importlib.resources import files

from surveys.definition import (
    Choice,
    ItemDefinition,
    LikertScale,
    LocalizedText,
    StudyDefinition,
    parse_definition,
)
from surveys.demo import DEMO_DEFINITION
from surveys.errors import NotFound


@dataclass(frozen=True)
class Template:
    """One entry of the catalogue: a definition file with its title and description."""

    #: Stable key, used in URLs and forms.
    key: str
    #: The file, relative to ``surveys/definitions/``.
    path: str
    #: The template's name per language (English and Spanish).
    title: LocalizedText
    #: One line saying what the template is for, per language.
    description: LocalizedText


TEMPLATES: tuple[Template, ...] = (
    Template(
        "blank",
        "templates/blank.toml",
        LocalizedText((("en", "Blank study"), ("es", "Estudio en blanco"))),
        LocalizedText(
            (
                ("en", "A title and one statement rated 1–5, to build on."),
                ("es", "Un título y una afirmación valorada de 1 a 5, para construir sobre ellos."),
            )
        ),
    ),
    Template(
        "scenario_study",
        "templates/scenario-study.toml",
        LocalizedText((("en", "Scenario study"), ("es", "Estudio de escenarios"))),
        LocalizedText(
            (
                (
                    "en",
                    "Drivers, scenarios that share 100 %, triggers, signposts, "
                    "an estimate and an open question.",
                ),
                (
                    "es",
                    "Factores, escenarios que se reparten el 100 %, detonantes, señales, "
                    "una estimación y una pregunta abierta.",
                ),
            )
        ),
    ),
    Template(
        "appropriateness_panel",
        "templates/appropriateness-panel.toml",
        LocalizedText(
            (
                ("en", "RAND/UCLA appropriateness panel"),
                ("es", "Panel de adecuación RAND/UCLA"),
            )
        ),
        LocalizedText(
            (
                (
                    "en",
                    "Indications rated 1–9 for appropriateness; agreement and "
                    "disagreement as the RAND/UCLA method defines them.",
                ),
                (
                    "es",
                    "Indicaciones valoradas de 1 a 9 según su adecuación; acuerdo y "
                    "desacuerdo según el método RAND/UCLA.",
                ),
            )
        ),
    ),
    Template(
        "consensus_delphi",
        "templates/consensus-delphi.toml",
        LocalizedText((("en", "Consensus Delphi"), ("es", "Delphi de consenso"))),
        LocalizedText(
            (
                (
                    "en",
                    "Statements rated 1–5 for agreement; consensus when at least 70 % "
                    "agree and the IQR is at most 1.",
                ),
                (
                    "es",
                    "Afirmaciones valoradas de 1 a 5 según el acuerdo; consenso cuando al "
                    "menos el 70 % está de acuerdo y el RIC es como mucho 1.",
                ),
            )
        ),
    ),
    Template(
        "demo",
        DEMO_DEFINITION,
        LocalizedText((("en", "Demo study"), ("es", "Estudio de demostración"))),
        LocalizedText(
            (
                (
                    "en",
                    "The complete demo: U.S.–Mexico intelligence cooperation over five years.",
                ),
                (
                    "es",
                    "La demostración completa: la cooperación de inteligencia entre "
                    "Estados Unidos y México a cinco años.",
                ),
            )
        ),
    ),
)
"""Every template, in the order a facilitator is offered them."""


def template(key: str) -> Template:
    """The template with ``key``; raise :class:`NotFound` for any other key."""
    for entry in TEMPLATES:
        if entry.key == key:
            return entry
    raise NotFound(f"no study template has the key {key!r}")


def template_source(key: str) -> str:
    """The TOML text of the template with ``key``, as shipped (comments included)."""
    return files("surveys.definitions").joinpath(template(key).path).read_text(encoding="utf-8")


def template_definition(key: str, languages: Sequence[str] | None = None) -> StudyDefinition:
    """The template with ``key``, loaded; in ``languages`` when given (see
    :func:`with_languages`)."""
    definition = parse_definition(template_source(key), name=template(key).path)
    return definition if languages is None else with_languages(definition, languages)


def with_languages(definition: StudyDefinition, languages: Sequence[str]) -> StudyDefinition:
    """``definition`` with its texts in ``languages``, in that order.

    A language the definition has keeps its texts; a language it lacks gets a copy of
    the texts of the definition's default language, to be translated (a template is
    written in English and Spanish only, and a study needs every text in each of its
    languages).  Languages it has but ``languages`` does not list are dropped.
    """
    wanted = tuple(dict.fromkeys(languages))
    if not wanted:
        raise ValueError("a study needs at least one language")
    fallback = definition.default_language

    def texts(text: LocalizedText) -> LocalizedText:
        return LocalizedText(tuple((language, text.get(language, fallback)) for language in wanted))

    def maybe(text: LocalizedText | None) -> LocalizedText | None:
        return None if text is None else texts(text)

    def scale(value: LikertScale | None) -> LikertScale | None:
        if value is None:
            return None
        labels = tuple((language, value.labels_in(language, fallback)) for language in wanted)
        return replace(value, labels=labels)

    def choices(values: tuple[Choice, ...]) -> tuple[Choice, ...]:
        return tuple(replace(choice, text=texts(choice.text)) for choice in values)

    def item(value: ItemDefinition) -> ItemDefinition:
        return replace(
            value,
            text=texts(value.text),
            help=maybe(value.help),
            unit=maybe(value.unit),
            scale=scale(value.scale),
            scenarios=choices(value.scenarios),
            options=choices(value.options),
        )

    return replace(
        definition,
        languages=wanted,
        title=texts(definition.title),
        introduction=maybe(definition.introduction),
        sections=tuple(
            replace(section, title=texts(section.title)) for section in definition.sections
        ),
        items=tuple(item(value) for value in definition.items),
    )
