"""The close preview as a decision: each distribution with its item's text, the rule
that decides it in words, what each criterion measured and whether it was met, the
state and the stability, in the console's language.

The rule is the one :func:`surveys.rule_editing.effective_rule` names for the item or
its part, worded by :mod:`elicit.facilitate.rule_words` as the rule editor words it; the
figures come from :func:`analysis.criterion_checks.criterion_checks`, which measures
them with the consensus's own functions on the preview's statistics.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask_babel import get_locale, gettext

import analysis
from analysis.consensus import DISSENSUS_ONLY
from analysis.criterion_checks import CriterionCheck, criterion_checks
from elicit.facilitate.rule_words import (
    criterion_sentence,
    number,
    part_name,
    percent,
    rule_words,
    scale_of,
)
from surveys.definition import ItemDefinition, StudyDefinition
from surveys.rule_editing import effective_rule

#: How the measured line names each criterion's statistic.
STATISTIC_NAMES = {
    "iqr": "IQR",
    "cv": "CV",
    "ad_mean": "AD",
    "ad_median": "AD",
    "rwg": "rwg",
}


@dataclass(frozen=True)
class CriterionVerdict:
    """One criterion of the deciding rule: its sentence, what it measured, the verdict."""

    #: The criterion in words, with the item's numbers ("IQR at most 1 point …").
    sentence: str
    #: What it measured and the verdict ("IQR 1.5 ≤ 1: not met").
    measured: str
    #: Met (consensus criteria) or fired (dissensus criteria).
    holds: bool


@dataclass(frozen=True)
class PreviewRow:
    """One row of the close preview."""

    key: str
    #: The item's text in the console's language.
    text: str
    #: The part of a multi-part answer this row is (its name), or ``None``.
    part: str | None
    #: The preview's statistics of this distribution (``n``, ``median`` …, ``state``).
    statistics: Mapping[str, Any]
    #: "Consensus when:" …, or ``None`` when no rule decides this row.
    lead: str | None
    consensus: tuple[CriterionVerdict, ...]
    dissensus: tuple[CriterionVerdict, ...]
    #: The stability against the previous round, in words.
    stability: str


def _verdict(met: bool) -> str:
    """A criterion's verdict in words."""
    return gettext("met") if met else gettext("not met")


def measured_words(check: CriterionCheck) -> str:
    """What one criterion measured, compared with its cut-off, and the verdict:
    "IQR 18.2 ≤ 20: met", "Share 60% < 75%: not met"."""
    kind = check.criterion.kind
    if kind in STATISTIC_NAMES:
        # The sign states the comparison that holds: "IQR 2 > 1: not met".
        signs = ("≥", "<") if kind == "rwg" else ("≤", ">")
        sign = signs[0] if check.met else signs[1]
        if check.value is None or check.threshold is None:
            return gettext(
                "%(statistic)s not computed (too few answers or no fixed options): not met",
                statistic=STATISTIC_NAMES[kind],
            )
        return gettext(
            "%(statistic)s %(value)s %(sign)s %(threshold)s: %(verdict)s",
            statistic=STATISTIC_NAMES[kind],
            value=number(check.value),
            sign=sign,
            threshold=number(check.threshold),
            verdict=_verdict(check.met),
        )
    if kind == "share":
        if check.value is None:
            return gettext("Share not computed (no answers): not met")
        return gettext(
            "Share %(value)s %(sign)s %(threshold)s: %(verdict)s",
            value=percent(check.value),
            sign="≥" if check.met else "<",
            threshold=percent(check.threshold or 0.0),
            verdict=_verdict(check.met),
        )
    if kind == "split":
        if check.value is None:
            return gettext("Thirds not computed (the scale has no ends): no dissensus")
        return gettext(
            "Lowest third %(low)s, highest third %(high)s (each ≥ %(share)s: %(verdict)s)",
            low=percent(check.value),
            high=percent(check.second_value or 0.0),
            share=percent(check.threshold or 0.0),
            verdict=gettext("dissensus") if check.dissensus else gettext("no dissensus"),
        )
    if check.value is None or check.threshold is None:
        return gettext("IPR not computed: not met")
    if check.dissensus:
        verdict = gettext("disagreement (dissensus)")
    elif check.met:
        verdict = gettext("agreement: met")
    else:
        verdict = gettext("no agreement: not met")
    sign = ">" if check.value > check.threshold else "≤"
    return gettext(
        "IPR %(ipr)s %(sign)s IPRAS %(ipras)s: %(verdict)s",
        ipr=number(check.value),
        sign=sign,
        ipras=number(check.threshold),
        verdict=verdict,
    )


def stability_words(statistics: Mapping[str, Any], round_number: int) -> str:
    """The stability result in words: how many of those who answered both rounds
    changed their answer, against the study's limit."""
    paired = statistics.get("n_paired") or 0
    share = statistics.get("changed_share")
    if round_number == 1:
        return gettext("No earlier round to compare with.")
    if not paired or share is None:
        return gettext("Nobody answered both this round and the one before.")
    limit = percent(analysis.StabilityRule().max_changed_share)
    changed = round(share * paired)
    if statistics.get("stable"):
        return gettext(
            "Stable: %(changed)s of %(paired)s who answered both rounds changed their "
            "answer (%(share)s, under %(limit)s).",
            changed=number(changed),
            paired=number(paired),
            share=percent(share),
            limit=limit,
        )
    return gettext(
        "Not stable: %(changed)s of %(paired)s who answered both rounds changed their "
        "answer (%(share)s, %(limit)s or more).",
        changed=number(changed),
        paired=number(paired),
        share=percent(share),
        limit=limit,
    )


@dataclass(frozen=True)
class PreviewItem:
    """An item's rows: one for an answer of one number, one per part otherwise."""

    key: str
    text: str
    rows: tuple[PreviewRow, ...]

    @property
    def has_parts(self) -> bool:
        """Whether the rows are parts, listed under the item's text said once."""
        return any(row.part is not None for row in self.rows)


def preview_items(rows: list[PreviewRow]) -> list[PreviewItem]:
    """``rows`` gathered by item, in their order."""
    items: list[PreviewItem] = []
    for row in rows:
        if items and items[-1].key == row.key:
            last = items[-1]
            items[-1] = PreviewItem(last.key, last.text, (*last.rows, row))
        else:
            items.append(PreviewItem(row.key, row.text, (row,)))
    return items


def _analysis_scale(scales: Mapping[str, Any], key: str) -> analysis.Scale | None:
    """The item's scale as the preview's settings recorded it for the consensus."""
    recorded = scales.get(key)
    if recorded is None:
        return None
    band = recorded.get("band")
    return analysis.Scale(
        kind=recorded["kind"],
        minimum=recorded.get("minimum"),
        maximum=recorded.get("maximum"),
        options=recorded.get("options"),
        band=tuple(band) if band is not None else None,
    )


def preview_row(
    definition: StudyDefinition,
    item: ItemDefinition,
    statistics: Mapping[str, Any],
    values: list[float],
    scale: analysis.Scale | None,
    *,
    round_number: int,
) -> PreviewRow:
    """One distribution of the preview, worded."""
    language = str(get_locale())
    fallback = definition.default_language
    component = statistics.get("component") or None
    effective = effective_rule(definition.consensus, item, component)
    words_scale = scale_of(item, part=component, language=language, fallback=fallback)
    lead = None
    consensus: list[CriterionVerdict] = []
    dissensus: list[CriterionVerdict] = []
    if effective.rule is not None:
        lead = rule_words(effective.rule, words_scale).lead
        for check in criterion_checks(effective.rule, statistics, values, scale):
            verdict = CriterionVerdict(
                criterion_sentence(check.criterion, words_scale),
                measured_words(check),
                check.dissensus if check.criterion.kind in DISSENSUS_ONLY else check.met,
            )
            if check.criterion.kind in DISSENSUS_ONLY:
                dissensus.append(verdict)
            else:
                consensus.append(verdict)
    return PreviewRow(
        key=item.key,
        text=item.text.get(language, fallback),
        part=part_name(item, component, language, fallback) if component else None,
        statistics=statistics,
        lead=lead,
        consensus=tuple(consensus),
        dissensus=tuple(dissensus),
        stability=stability_words(statistics, round_number),
    )


def preview_rows(
    definition: StudyDefinition, preview: Mapping[str, Any], *, round_number: int
) -> list[PreviewRow]:
    """Every row of ``preview`` (:func:`surveys.rounds.close_preview`), worded; rows
    of items no longer in the definition are left out."""
    items = {item.key: item for item in definition.items}
    scales = preview["settings"]["scales"]
    distributions = preview["distributions"]
    order = {key: place for place, key in enumerate(items)}

    def place(row: Mapping[str, Any]) -> tuple[int, int]:
        """In the study's order, as the expert pages and the items page list items,
        and each item's parts in its own order (scenarios as written, not sorted)."""
        item = items.get(row["item"])
        if item is None:
            return (len(order), 0)
        parts = item.components
        component = row.get("component") or ""
        return (order[item.key], parts.index(component) if component in parts else len(parts))

    rows = []
    ordered = sorted(preview["rows"], key=place)
    for statistics in ordered:
        item = items.get(statistics["item"])
        if item is None:
            continue
        values = distributions.get(item.key, {}).get(statistics.get("component") or "", [])
        rows.append(
            preview_row(
                definition,
                item,
                statistics,
                values,
                _analysis_scale(scales, item.key),
                round_number=round_number,
            )
        )
    return rows
