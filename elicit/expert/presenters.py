"""Turn the domain's page data into what templates print (texts in one language)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from surveys.definition import ItemDefinition
from surveys.expert import ExpertItem, ExpertPage
from surveys.fields import component_field, rationale_field


@dataclass(frozen=True)
class FeedbackLine:
    """One distribution of the previous round, ready to print."""

    label: str | None
    statistics: dict[str, Any] | None
    own: float | None


@dataclass(frozen=True)
class ItemView:
    """An item as the template draws it."""

    key: str
    kind: str
    number: int
    text: str
    help: str | None
    section: str | None
    options: list[tuple[int, str]]
    scenarios: list[tuple[str, str]]
    max_length: int | None
    rationale: bool
    feedback_round: int | None
    feedback: list[FeedbackLine]


def item_views(page: ExpertPage, language: str) -> list[ItemView]:
    """Every item of the page, in ``language``."""
    fallback = page.definition.default_language
    section_titles = {s.key: s.title.get(language, fallback) for s in page.definition.sections}
    views = []
    for number, item in enumerate(page.items, start=1):
        definition = item.stored.definition
        options = []
        if definition.scale is not None:
            labels = definition.scale.labels_in(language, fallback)
            options = list(
                zip(
                    range(definition.scale.minimum, definition.scale.maximum + 1),
                    labels,
                    strict=True,
                )
            )
        scenarios = [(s.key, s.text.get(language, fallback)) for s in definition.scenarios]
        views.append(
            ItemView(
                key=definition.key,
                kind=definition.kind,
                number=number,
                text=definition.text.get(language, fallback),
                help=definition.help.get(language, fallback) if definition.help else None,
                section=section_titles.get(definition.section) if definition.section else None,
                options=options,
                scenarios=scenarios,
                max_length=definition.max_length,
                rationale=definition.rationale and definition.numeric,
                feedback_round=item.feedback.round_number if item.feedback else None,
                feedback=_feedback_lines(item, definition, scenarios),
            )
        )
    return views


def _feedback_lines(
    item: ExpertItem, definition: ItemDefinition, scenarios: list[tuple[str, str]]
) -> list[FeedbackLine]:
    """The previous round's distributions of one item, with the expert's own answers."""
    if item.feedback is None:
        return []
    own = item.feedback.own_answer or {}
    if definition.kind == "scenario_set":
        components = own.get("components", {})
        return [
            FeedbackLine(label, item.feedback.statistics.get(key), components.get(key))
            for key, label in scenarios
        ]
    return [FeedbackLine(None, item.feedback.statistics.get(""), own.get("value"))]


def form_values(page: ExpertPage) -> dict[str, str]:
    """The saved answers of the open round as form field values."""
    values: dict[str, str] = {}
    for item in page.items:
        key = item.stored.definition.key
        answer = item.answer or {}
        if "value" in answer:
            values[key] = format_plain(answer["value"])
        if "text" in answer:
            values[key] = answer["text"]
        for component, value in answer.get("components", {}).items():
            values[component_field(key, component)] = format_plain(value)
        if item.rationale:
            values[rationale_field(key)] = item.rationale
    return values


def format_plain(value: float) -> str:
    """A number as typed back into an input: ``4`` rather than ``4.0``."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))
