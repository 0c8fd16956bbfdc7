"""Turn the domain's page data into what templates print: texts in one language,
sentences that state the feedback in words, and the charts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from flask_babel import format_decimal, gettext, ngettext
from markupsafe import Markup

from analysis.histogram import histogram
from elicit.expert.charts import ChartLabels, histogram_svg
from elicit.i18n import LANGUAGE_NAMES
from surveys.answers import (
    CANNOT_JUDGE,
    AnswerRules,
    ParsedAnswers,
    ambiguous_number,
    outside_previous_iqr,
    parse_answers,
)
from surveys.definition import ItemDefinition, cross_impact_component
from surveys.errors import InvalidAnswers
from surveys.expert import ExpertItem, ExpertPage, Feedback, PanelRationale, item_state
from surveys.fields import component_field, rationale_field

PERCENT_KINDS = ("probability", "scenario_set", "signpost", "cross_impact")


@dataclass(frozen=True)
class FeedbackLine:
    """One distribution of the previous round, ready to print."""

    component: str
    label: str | None
    statistics: dict[str, Any] | None
    own: float | None
    summary: str
    chart: Markup | None = None
    #: The heading this line falls under (a cross-impact item's trigger), if any.
    group: str | None = None


@dataclass(frozen=True)
class RationaleView:
    """A panelist's reason as the reader sees it: its text, the language it is written
    in (for the element's ``lang``) and, when that is not the reader's language, the
    mark that says so ("English"); ``None`` when it is the reader's or is unknown."""

    text: str
    language: str | None
    mark: str | None
    #: Whether the facilitator pinned it (it then comes first, for every expert).
    pinned: bool = False


def language_name(code: str) -> str:
    """A language's name in the page's language ("inglés" on a Spanish page); the code
    itself for a language without a name here."""
    names = {"en": gettext("English"), "es": gettext("Spanish")}
    return names.get(code, code)


def rationale_views(rationales: list[PanelRationale], reader: str) -> list[RationaleView]:
    """The panel's reasons for a reader of ``reader``, each in another language marked
    with that language's name."""
    return [
        RationaleView(
            rationale.text,
            rationale.language,
            language_name(rationale.language)
            if rationale.language and rationale.language != reader
            else None,
            rationale.pinned,
        )
        for rationale in rationales
    ]


@dataclass(frozen=True)
class ItemView:
    """An item as the template draws it."""

    key: str
    kind: str
    number: int
    text: str
    help: str | None
    section_key: str | None
    section: str | None
    options: list[tuple[int, str]]
    choices: list[tuple[str, str]]
    max_length: int | None
    rationale: bool
    unit: str | None
    estimate_bounds: tuple[float, float] | None
    cannot_judge: bool
    answered: bool
    rationale_prompt: str | None
    rationale_required: bool
    #: ``{component: (q1, q3)}`` of the previous round, for the page's script.
    quartiles: dict[str, tuple[float, float]] = field(default_factory=dict)
    feedback_round: int | None = None
    feedback_withheld: bool = False
    feedback: list[FeedbackLine] = field(default_factory=list)
    consensus: str | None = None
    #: "consensus", "no_consensus", "dissensus" or None (:func:`surveys.expert.item_state`).
    consensus_state: str | None = None
    rationales: list[RationaleView] = field(default_factory=list)
    #: How many reasons the panel gave, and which page of them ``rationales`` is.
    reasons_total: int = 0
    reasons_page: int = 1
    reasons_pages: int = 1
    own_rationale: str | None = None
    cannot_judge_count: int = 0
    #: A cross-impact item's triggers: ``(key, "If … happens:")``, one scenario set each.
    triggers: list[tuple[str, str]] = field(default_factory=list)
    #: A cross-impact item: how coherent this expert's own answers were last round,
    #: in words; shown to them only.
    coherence: CoherenceView | None = None


@dataclass(frozen=True)
class CoherenceView:
    """An expert's own coherence on a cross-impact item in the previous round."""

    round_number: int
    #: "coherent", "incoherent" or "infeasible".
    state: str
    summary: str
    #: One sentence per scenario outside what the expert's answers allow.
    lines: list[str] = field(default_factory=list)
    #: The nearest coherent scenario set, in words ("" when none).
    nearest: str = ""


def trigger_legend(text: str) -> str:
    """What a cross-impact trigger's scenario set is headed by: "If “…” happens:"."""
    return gettext("If “%(trigger)s” happens:", trigger=text.rstrip(". "))


def number(value: float | None) -> str:
    """A number in the page's language: ``4.5`` in English, ``4,5`` in Spanish."""
    return "" if value is None else str(format_decimal(round(value, 2)))


def item_views(page: ExpertPage, language: str, values: Mapping[str, str]) -> list[ItemView]:
    """Every item of the page, in ``language``; ``values`` are the answers on screen."""
    fallback = page.definition.default_language
    titles = {s.key: s.title.get(language, fallback) for s in page.definition.sections}
    policy = page.rules.rationale_outside_iqr
    views = []
    for index, item in enumerate(page.items, start=1):
        definition = item.stored.definition
        options: list[tuple[int, str]] = []
        if definition.scale is not None:
            labels = definition.scale.labels_in(language, fallback)
            options = list(
                zip(
                    range(definition.scale.minimum, definition.scale.maximum + 1),
                    labels,
                    strict=True,
                )
            )
        choices = [
            (choice.key, choice.text.get(language, fallback))
            for choice in definition.scenarios or definition.options
        ]
        triggers = [
            (trigger.key, trigger_legend(trigger.text.get(language, fallback)))
            for trigger in definition.triggers
        ]
        # A cross-impact item's feedback has a distribution per trigger and scenario,
        # under a heading per trigger.
        parts = choices
        groups: dict[str, str] = {}
        if definition.kind == "cross_impact":
            parts = []
            for trigger, legend in triggers:
                for scenario, text in choices:
                    parts.append((cross_impact_component(trigger, scenario), text))
                    groups[cross_impact_component(trigger, scenario)] = legend
        # A seed item's panel is never shown: no quartiles on the page, no prompt.
        seed = definition.kind == "seed"
        quartiles = {} if seed else dict(page.rules.previous_quartiles.get(definition.key, {}))
        outside = _outside(definition, values, page)
        views.append(
            ItemView(
                key=definition.key,
                kind=definition.kind,
                number=index,
                text=definition.text.get(language, fallback),
                help=definition.help.get(language, fallback) if definition.help else None,
                section_key=definition.section,
                section=titles.get(definition.section) if definition.section else None,
                options=options,
                choices=choices,
                max_length=definition.max_length,
                rationale=definition.rationale and definition.numeric,
                unit=definition.unit.get(language, fallback) if definition.unit else None,
                estimate_bounds=definition.estimate_bounds,
                cannot_judge=page.definition.cannot_judge and definition.kind == "likert",
                answered=is_answered(definition, values),
                rationale_prompt=_rationale_prompt(policy, bool(quartiles)),
                rationale_required=policy == "required" and outside,
                quartiles=quartiles if definition.kind != "ranking" else {},
                triggers=triggers,
                coherence=_coherence_view(item, definition, language, fallback),
                **_feedback_fields(item, definition, parts, options, language, groups),
            )
        )
    return views


def outcome_views(page: ExpertPage, language: str) -> list[ItemView]:
    """The final result of each item of an ended study (``page.outcome``), in
    ``language``, drawn as feedback is; empty when the outcome is not shown."""
    if not page.outcome:
        return []
    return item_views(replace(page, items=page.outcome, rules=AnswerRules()), language, {})


def _outside(definition: ItemDefinition, values: Mapping[str, str], page: ExpertPage) -> bool:
    """Whether the answer on screen lies outside the previous round's IQR."""
    try:
        parsed = parse_answers([definition], dict(values))
    except InvalidAnswers:
        return False
    answer = parsed.answers.get(definition.key)
    return bool(answer) and outside_previous_iqr(
        definition, answer or {}, page.rules.previous_quartiles
    )


def _coherence_view(
    item: ExpertItem, definition: ItemDefinition, language: str, fallback: str
) -> CoherenceView | None:
    """This expert's own coherence on a cross-impact item last round, in words."""
    record = item.coherence
    if definition.kind != "cross_impact" or not record or item.coherence_round is None:
        return None
    number_then = item.coherence_round
    if not record.get("feasible", True):
        return CoherenceView(
            number_then,
            "infeasible",
            gettext(
                "In round %(number)s, your probabilities for the triggers and your answers "
                "to this question contradict each other: no set of scenario probabilities "
                "fits them all. Look again at the triggers you thought most likely.",
                number=number_then,
            ),
        )
    texts = {
        scenario.key: scenario.text.get(language, fallback) for scenario in definition.scenarios
    }
    scenarios = record.get("scenarios", {})
    if record.get("coherent"):
        return CoherenceView(
            number_then,
            "coherent",
            gettext(
                "In round %(number)s, your scenario probabilities fitted your probabilities "
                "for the triggers and your answers to this question.",
                number=number_then,
            ),
        )
    lines = [
        gettext(
            "Your answers imply %(low)s to %(high)s for “%(scenario)s”; you gave %(given)s.",
            low=percent(100 * values["low"]),
            high=percent(100 * values["high"]),
            scenario=texts.get(key, key).rstrip(". "),
            given=percent(100 * values["given"]),
        )
        for key, values in scenarios.items()
        if values.get("gap") and key in texts
    ]
    nearest = "; ".join(
        gettext(
            "%(scenario)s: %(value)s",
            scenario=texts[scenario.key].rstrip(". "),
            value=percent(100 * scenarios[scenario.key]["implied"]),
        )
        for scenario in definition.scenarios
        if scenarios.get(scenario.key, {}).get("implied") is not None
    )
    return CoherenceView(
        number_then,
        "incoherent",
        gettext(
            "In round %(number)s, by the law of total probability, your probabilities for "
            "the triggers and your answers to this question do not fit the scenario "
            "probabilities you gave.",
            number=number_then,
        ),
        lines,
        gettext("The nearest scenario set that fits them: %(set)s.", set=nearest)
        if nearest
        else "",
    )


def _rationale_prompt(policy: str, has_previous_round: bool) -> str | None:
    """What the rationale box asks for, given the study's policy."""
    if not has_previous_round or policy == "off":
        return None
    if policy == "required":
        return gettext(
            "If your answer lies outside the middle half of the panel's answers, explain why "
            "(required)."
        )
    return gettext(
        "If your answer lies outside the middle half of the panel's answers, please explain why."
    )


def _feedback_fields(
    item: ExpertItem,
    definition: ItemDefinition,
    choices: list[tuple[str, str]],
    options: list[tuple[int, str]],
    language: str,
    groups: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The previous round's feedback on one item, ready for the template; ``groups``
    gives some parts a heading (a cross-impact item's trigger)."""
    groups = groups or {}
    feedback = item.feedback
    if feedback is None:
        return {}
    fields: dict[str, Any] = {
        "feedback_round": feedback.round_number,
        "feedback_withheld": feedback.withheld,
        "own_rationale": feedback.own_rationale,
    }
    if feedback.withheld:
        return fields
    own = feedback.own_answer or {}
    parts: list[tuple[str, str | None]]
    if definition.kind == "numeric_estimate":
        parts = [
            ("best", gettext("Best guess")),
            ("lowest", gettext("Lowest")),
            ("highest", gettext("Highest")),
            ("confidence", gettext("Confidence (%)")),
        ]
    elif choices:
        parts = [(key, label) for key, label in choices]
    else:
        parts = [("", None)]
    lines = []
    for position, (component, label) in enumerate(parts):
        statistics = feedback.statistics.get(component)
        own_value = (
            own.get("value") if component == "" else own.get("components", {}).get(component)
        )
        chart = None
        charted = definition.kind != "ranking" and (
            position == 0 or definition.kind != "numeric_estimate"
        )
        group = groups.get(component)
        if statistics and statistics.get("n") and charted:
            title = f"{group} {label}" if group else label
            chart = _chart(
                definition, feedback, component, statistics, own_value, options, title, item
            )
        lines.append(
            FeedbackLine(
                component=component,
                label=label,
                statistics=statistics,
                own=own_value,
                summary=_summary(definition, statistics, own_value, own, feedback.round_number),
                chart=chart,
                group=group,
            )
        )
    fields.update(
        feedback=lines,
        consensus=_consensus_sentence(feedback),
        consensus_state=item_state(feedback),
        rationales=rationale_views(feedback.rationales, language),
        reasons_total=feedback.reasons_total,
        reasons_page=feedback.reasons_page,
        reasons_pages=feedback.reasons_pages,
        cannot_judge_count=feedback.cannot_judge,
    )
    return fields


def _consensus_sentence(feedback: Feedback) -> str | None:
    """The item's consensus state (:func:`surveys.expert.item_state`) in words."""
    state = item_state(feedback)
    if state == "consensus":
        return gettext("The panel reached consensus on this item.")
    if state == "dissensus":
        return gettext("The panel is divided on this item: its answers split into camps.")
    if state == "no_consensus":
        return gettext("The panel has not reached consensus on this item yet.")
    return None


def _summary(
    definition: ItemDefinition,
    statistics: dict[str, Any] | None,
    own_value: float | None,
    own: dict[str, Any],
    round_number: int,
) -> str:
    """The feedback in one or two sentences, so that it needs no chart to be read."""
    unit = " %" if definition.kind in PERCENT_KINDS else ""
    if not statistics or not statistics.get("n"):
        panel = gettext("Nobody answered this in round %(number)s.", number=round_number)
    else:
        panel = ngettext(
            "Panel median %(median)s%(unit)s; the middle half of the panel answered between "
            "%(q1)s%(unit)s and %(q3)s%(unit)s (%(num)s answer).",
            "Panel median %(median)s%(unit)s; the middle half of the panel answered between "
            "%(q1)s%(unit)s and %(q3)s%(unit)s (%(num)s answers).",
            statistics["n"],
            median=number(statistics["median"]),
            q1=number(statistics["q1"]),
            q3=number(statistics["q3"]),
            unit=unit,
        )
    if own_value is not None:
        yours = gettext("Your answer: %(value)s%(unit)s.", value=number(own_value), unit=unit)
    elif own.get(CANNOT_JUDGE):
        yours = gettext("Your answer: you could not judge this.")
    else:
        yours = gettext("Your answer: you did not answer.")
    return f"{panel} {yours}"


def _chart(
    definition: ItemDefinition,
    feedback: Feedback,
    component: str,
    statistics: dict[str, Any],
    own_value: float | None,
    options: list[tuple[int, str]],
    label: str | None,
    item: ExpertItem,
) -> Markup:
    """The distribution of one component as an inline SVG chart, drawn from the bars
    counted when the round closed (a numeric estimate's own answer outside the panel's
    range sits at the end of the axis)."""
    counted = feedback.histograms.get(component)
    if counted is None:  # no answer to draw: an empty axis over the scale
        bounds = definition.bounds or (own_value or 0.0, own_value or 0.0)
        counted = histogram(
            [], minimum=bounds[0], maximum=bounds[1], discrete=definition.kind == "likert"
        )
    labels = ChartLabels(
        title=gettext("Panel answers in round %(number)s", number=feedback.round_number)
        + (f": {label}" if label else ""),
        description=_summary(
            definition, statistics, own_value, feedback.own_answer or {}, feedback.round_number
        ),
        median=gettext("median"),
        iqr=gettext("middle half"),
        own=gettext("your answer"),
    )
    return histogram_svg(
        counted,
        median=statistics.get("median"),
        q1=statistics.get("q1"),
        q3=statistics.get("q3"),
        own=own_value,
        labels=labels,
        format_number=lambda value: number(value),
        element_id=f"chart-{definition.key}-{component or 'value'}",
    )


def sections(views: list[ItemView]) -> list[tuple[str, str]]:
    """(key, title) of each section that has items, in page order."""
    seen: dict[str, str] = {}
    for view in views:
        if view.section_key and view.section:
            seen.setdefault(view.section_key, view.section)
    return list(seen.items())


def is_answered(definition: ItemDefinition, values: Mapping[str, str]) -> bool:
    """Whether every input of the item holds something."""
    return all(
        (values.get(component_field(definition.key, part)) or "").strip()
        for part in definition.components
    )


def progress(views: list[ItemView], values: Mapping[str, str]) -> tuple[int, int]:
    """(answered, total) items on the page."""
    del values
    return sum(1 for view in views if view.answered), len(views)


@dataclass(frozen=True)
class ReviewEntry:
    """One question on the review page: the answer in words, the rationale, and the
    field that a link back to the answer page leads to."""

    key: str
    number: int
    text: str
    #: "unanswered", "unexplained" (outside the panel's middle half, without a reason)
    #: or "answered".
    state: str
    #: The field the link back leads to: the answer's first input, or the rationale
    #: box of an unexplained answer.
    anchor: str
    #: The answer as ``(label, value)`` lines (label ``None`` for a single value).
    lines: list[tuple[str | None, str]] = field(default_factory=list)
    #: How ``lines`` read: "value" (one value), "order" (a ranking, first to last),
    #: "shares" (a scenario set: each share before its scenario) or "parts" (an
    #: estimate: each value after its label).
    layout: str = "value"
    #: An open answer's text, shown as typed.
    text_answer: str | None = None
    rationale: str | None = None


def review_entries(page: ExpertPage, parsed: ParsedAnswers, language: str) -> list[ReviewEntry]:
    """Every question of the page with its answer in words, in page order.

    An answer outside the previous round's middle half is "unexplained" when the study
    asks for a reason there and none was given (``required`` never reaches the review:
    :func:`surveys.answers.parse_answers` refuses it).
    """
    fallback = page.definition.default_language
    entries = []
    for number_on_page, item in enumerate(page.items, start=1):
        definition = item.stored.definition
        answer = parsed.answers.get(definition.key)
        anchor = component_field(definition.key, definition.components[0])
        if answer is None:
            state = "unanswered"
        elif (
            definition.rationale
            and page.rules.rationale_outside_iqr != "off"
            and definition.key not in parsed.rationales
            and outside_previous_iqr(definition, answer, page.rules.previous_quartiles)
        ):
            state, anchor = "unexplained", rationale_field(definition.key)
        else:
            state = "answered"
        entries.append(
            ReviewEntry(
                key=definition.key,
                number=number_on_page,
                text=definition.text.get(language, fallback),
                state=state,
                anchor=anchor,
                rationale=parsed.rationales.get(definition.key),
                **(_answer_in_words(definition, answer, language, fallback) if answer else {}),
            )
        )
    return entries


def _answer_in_words(
    definition: ItemDefinition, answer: Mapping[str, Any], language: str, fallback: str
) -> dict[str, Any]:
    """An answer as a person reads it: a likert label with its number, "35 %", each
    scenario's share, a ranking in order, an estimate's values with unit and
    confidence, an open answer's text."""
    if "text" in answer:
        return {"text_answer": answer["text"]}
    if answer.get(CANNOT_JUDGE):
        return {"lines": [(None, gettext("I can't judge this"))]}
    if definition.kind == "likert" and definition.scale is not None:
        labels = definition.scale.labels_in(language, fallback)
        value = int(answer["value"])
        label = labels[value - definition.scale.minimum]
        return {"lines": [(None, gettext("%(value)s – %(label)s", value=value, label=label))]}
    if definition.kind == "probability":
        return {"lines": [(None, percent(answer["value"]))]}
    components = answer["components"]
    if definition.kind == "cross_impact":
        return {
            "lines": [
                (
                    f"{trigger_legend(trigger.text.get(language, fallback))} "
                    f"{scenario.text.get(language, fallback)}",
                    percent(components[cross_impact_component(trigger.key, scenario.key)]),
                )
                for trigger in definition.triggers
                for scenario in definition.scenarios
                if cross_impact_component(trigger.key, scenario.key) in components
            ],
            "layout": "shares",
        }
    if definition.kind == "scenario_set":
        return {
            "lines": [
                (scenario.text.get(language, fallback), percent(components[scenario.key]))
                for scenario in definition.scenarios
            ],
            "layout": "shares",
        }
    if definition.kind == "signpost":
        return {
            "lines": [
                (
                    gettext(
                        "If “%(scenario)s” is unfolding",
                        scenario=scenario.text.get(language, fallback).rstrip(". "),
                    ),
                    percent(components[scenario.key]),
                )
                for scenario in definition.scenarios
            ],
            "layout": "parts",
        }
    if definition.kind == "ranking":
        texts = {option.key: option.text.get(language, fallback) for option in definition.options}
        in_order = sorted(components, key=lambda key: components[key])
        return {"lines": [(None, texts[key]) for key in in_order], "layout": "order"}
    unit = definition.unit.get(language, fallback) if definition.unit else None

    def amount(value: float) -> str:
        return (
            gettext("%(value)s %(unit)s", value=number(value), unit=unit) if unit else number(value)
        )

    if definition.kind == "seed":
        return {
            "lines": [
                (gettext("5th percentile"), amount(components["q05"])),
                (gettext("50th percentile (median)"), amount(components["q50"])),
                (gettext("95th percentile"), amount(components["q95"])),
            ],
            "layout": "parts",
        }
    return {
        "lines": [
            (gettext("Lowest plausible value"), amount(components["lowest"])),
            (gettext("Best guess"), amount(components["best"])),
            (gettext("Highest plausible value"), amount(components["highest"])),
            (gettext("Confidence"), percent(components["confidence"])),
        ],
        "layout": "parts",
    }


def percent(value: float) -> str:
    """A percentage in the page's language: ``35 %``, ``12,5 %``."""
    return gettext("%(value)s %%", value=number(value))


def review_context(page: ExpertPage, parsed: ParsedAnswers, language: str) -> dict[str, Any]:
    """What the review page (``expert/review.html``) shows besides its form: every
    question with its answer in words, the unanswered ones first, then the answers
    outside the panel's middle half without a rationale, then the others; and how many
    were answered.  The expert's page and its preview both render it."""
    entries = review_entries(page, parsed, language)
    unanswered = [entry for entry in entries if entry.state == "unanswered"]
    return {
        "page": page,
        "language": language,
        "languages": LANGUAGE_NAMES,
        "unanswered": unanswered,
        "unexplained": [entry for entry in entries if entry.state == "unexplained"],
        "answers": [entry for entry in entries if entry.state == "answered"],
        "answered": len(entries) - len(unanswered),
    }


def form_values(page: ExpertPage) -> dict[str, str]:
    """The submitted answers of the open round as form field values.  In a study whose
    later rounds start from the previous answers (``carry_over = "previous"``), an item
    not yet answered in this round starts from the expert's answer in the previous
    round, which they keep or revise; with ``"blank"`` it starts empty.  The rationale
    always starts empty: it is asked anew."""
    carried = page.definition.carry_over == "previous"
    values: dict[str, str] = {}
    for item in page.items:
        key = item.stored.definition.key
        previous = (
            (item.feedback.own_answer if item.feedback else item.previous_answer)
            if carried
            else None
        )
        answer = item.answer or previous or {}
        if "value" in answer:
            values[key] = format_plain(answer["value"])
        if "text" in answer:
            values[key] = answer["text"]
        if answer.get(CANNOT_JUDGE):
            values[key] = CANNOT_JUDGE
        for component, value in answer.get("components", {}).items():
            values[component_field(key, component)] = format_plain(value)
        if item.rationale:
            values[rationale_field(key)] = item.rationale
    return values


def format_plain(value: float) -> str:
    """A number as typed back into an input, in a form the answer parser takes back
    unchanged: ``4`` rather than ``4.0``; no exponent (``0.00001``, not ``1e-05``); and
    never one separator before exactly three digits, which reads as a thousands
    separator and is refused (:func:`surveys.answers.ambiguous_number`): ``28.3910``,
    not ``28.391``.  The digits are the shortest that give the same number back."""
    number = float(value)
    if number.is_integer():
        return str(int(number))
    text = format(Decimal(repr(number)), "f")
    return f"{text}0" if ambiguous_number(text) else text
