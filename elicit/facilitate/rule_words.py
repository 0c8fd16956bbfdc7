"""Consensus rules in plain words, in the page's language, with the item's own scale.

The analysis package states a rule for a methods table (``"iqr <= 1"``,
:meth:`analysis.ConsensusRule.describe`, kept in English for exports).  A facilitator
choosing a rule needs more: what each criterion measures, in the units of the item it
judges ("IQR at most 1 point on this 1–5 scale", "share of answers between 7 and 9 is
at least 70 %"), and the cut-offs the literature uses (``/work/shared/METHODS.md``).
Every sentence here is translatable, and every number is written the way the page's
language writes numbers (``10,000`` in English, ``10.000`` in Spanish, never ``1e+04``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from flask_babel import (
    format_decimal,
    format_percent,
    format_scientific,
    get_locale,
    gettext,
    lazy_gettext,
    ngettext,
)

from analysis import ConsensusRule, Criterion
from analysis.consensus import DISSENSUS_ONLY
from surveys.definition import CONFIDENCE_RANGE, NUMBER_LIMIT, ItemDefinition

#: Each item kind's name, as the editor and the overview print it.
KIND_NAMES = {
    "likert": lazy_gettext("Rating scale (likert)"),
    "probability": lazy_gettext("Probability"),
    "scenario_set": lazy_gettext("Scenario set"),
    "numeric_estimate": lazy_gettext("Numeric estimate"),
    "ranking": lazy_gettext("Ranking"),
    "open_text": lazy_gettext("Open question"),
    "seed": lazy_gettext("Seed question (known answer)"),
    "signpost": lazy_gettext("Signpost"),
    "cross_impact": lazy_gettext("Cross-impact of triggers"),
}

#: Each item kind as a sentence names it ("No rule: a ranking reaches …").
KIND_IN_SENTENCE = {
    "likert": lazy_gettext("rating scale"),
    "probability": lazy_gettext("probability"),
    "scenario_set": lazy_gettext("scenario set"),
    "numeric_estimate": lazy_gettext("numeric estimate"),
    "ranking": lazy_gettext("ranking"),
    "open_text": lazy_gettext("open question"),
    "seed": lazy_gettext("seed question"),
    "signpost": lazy_gettext("signpost"),
    "cross_impact": lazy_gettext("cross-impact item"),
}

#: Each criterion's name.
CRITERION_NAMES = {
    "iqr": lazy_gettext("Interquartile range (IQR)"),
    "share": lazy_gettext("Share of answers in a band (percent agreement)"),
    "cv": lazy_gettext("Coefficient of variation (CV)"),
    "ad_mean": lazy_gettext("Average deviation from the mean (AD index)"),
    "ad_median": lazy_gettext("Average deviation from the median (AD index)"),
    "rwg": lazy_gettext("Within-group agreement (rwg)"),
    "rand_ucla": lazy_gettext("RAND/UCLA appropriateness method"),
    "split": lazy_gettext("Split panel (detects dissensus only)"),
}

#: What each criterion measures and the cut-offs published studies use.
CRITERION_EXPLANATIONS = {
    "iqr": lazy_gettext(
        "The distance between the first and the third quartile: how widely the middle "
        "half of the answers is spread, computed with the study's quantile method. "
        "Commonly used: at most 1 point on 4- or 5-point scales (von der Gracht 2012)."
    ),
    "share": lazy_gettext(
        "Percent agreement: the share of the answers (not counting “can't judge”) that "
        "lie between two values, both included. The most common definition of consensus; "
        "the median threshold in published studies is 75 % (Diamond et al. 2014)."
    ),
    "cv": lazy_gettext(
        "The standard deviation (with n − 1) divided by the mean: the spread relative to "
        "the size of the answers. At most 0.5 is commonly quoted (von der Gracht 2012). "
        "Meaningless on a scale whose zero is arbitrary."
    ),
    "ad_mean": lazy_gettext(
        "The mean distance of the answers from their mean (Burke, Finkelstein & Dusig "
        "1999), compared with A ÷ 6 for a scale of A answer options (Burke & Dunlap 2002). "
        "Needs a rating scale with a fixed number of options."
    ),
    "ad_median": lazy_gettext(
        "The mean distance of the answers from their median, compared with A ÷ 6 for a "
        "scale of A answer options (Burke & Dunlap 2002). Needs a rating scale with a fixed "
        "number of options."
    ),
    "rwg": lazy_gettext(
        "1 − the variance of the answers ÷ the variance of answers spread evenly over the "
        "A options (James, Demaree & Wolf 1984): 1 when everyone gave the same answer, 0 "
        "when the answers are as spread as random ones or more (a lower value counts as "
        "0). 0.7 is the usual cut-off. "
        "Needs a rating scale with a fixed number of options."
    ),
    "rand_ucla": lazy_gettext(
        "The scale is mapped onto 1–9. The panel disagrees when the range between the 30th "
        "and 70th percentiles exceeds 2.35 + 1.5 × its asymmetry; it agrees when it does "
        "not disagree and at least 7 in 9 answers lie in the third of the scale (1–3, 4–6, "
        "7–9) that holds the median (Fitch et al. 2001). Disagreement marks the item as "
        "dissensus."
    ),
    "split": lazy_gettext(
        "Marks the item as dissensus when many answers sit at both ends of the scale, "
        "whatever the other criteria say. It cannot establish consensus by itself. The "
        "classic RAND rule for 9 raters (at least 3 in 1–3 and at least 3 in 7–9) is "
        "one third."
    ),
}

#: Parameters entered as a percentage and stored as a share from 0 to 1.
PERCENT_PARAMETERS = frozenset({("share", "min"), ("split", "min_share")})


@dataclass(frozen=True)
class ScaleContext:
    """What the words need to know about the answers a rule judges.

    ``kind`` is ``None`` for the study's default rule, which judges every kind and is
    then worded in "each item's own units".  ``part`` names the part of a multi-part
    answer the rule judges (an estimate's confidence is in %, not in its unit).
    """

    kind: str | None
    minimum: float | None = None
    maximum: float | None = None
    #: A, the number of answer options of a rating scale or a ranking.
    options: int | None = None
    unit: str | None = None
    part: str | None = None

    @property
    def percent(self) -> bool:
        """Whether the answers are percentages."""
        return self.kind in ("probability", "scenario_set", "cross_impact", "signpost") or (
            self.kind == "numeric_estimate" and self.part == "confidence"
        )

    @property
    def step(self) -> float | None:
        """The distance between two adjacent options, when the scale has options."""
        if self.options is None or self.minimum is None or self.maximum is None:
            return None
        return (self.maximum - self.minimum) / (self.options - 1)


def scale_of(
    item: ItemDefinition | None,
    *,
    kind: str | None = None,
    part: str | None = None,
    language: str = "en",
    fallback: str | None = None,
) -> ScaleContext:
    """The scale a rule is worded with: an item's own (its ``part`` for a rule of one
    part), else a kind's in general (``kind``), else none (the study's default)."""
    if item is None:
        if kind in ("probability", "scenario_set", "cross_impact", "signpost"):
            return ScaleContext(kind, 0.0, 100.0)
        return ScaleContext(kind)
    if item.kind == "likert" and item.scale is not None:
        return ScaleContext(
            "likert", item.scale.minimum, item.scale.maximum, item.scale.options, part=part
        )
    if item.kind in ("probability", "scenario_set", "cross_impact", "signpost"):
        return ScaleContext(item.kind, 0.0, 100.0, part=part)
    if item.kind == "ranking":
        places = len(item.options)
        return ScaleContext("ranking", 1.0, float(places), places, part=part)
    if item.kind == "numeric_estimate":
        if part == "confidence":
            low, high = CONFIDENCE_RANGE
            return ScaleContext("numeric_estimate", float(low), float(high), part=part)
        low_bound, high_bound = item.estimate_bounds or (None, None)
        unit = item.unit.get(language, fallback) if item.unit else None
        return ScaleContext("numeric_estimate", low_bound, high_bound, unit=unit, part=part)
    return ScaleContext(item.kind)


def number(value: float) -> str:
    """A number as the page's language writes it: grouped, with its decimal sign.

    A number that grouping cannot write, because it is beyond 10^15 (no number of a
    definition is, but a cut-off worked out from a tiny divisor can be: babel then
    fails on its precision) or so small that three decimals would show it as 0, is
    written with an exponent ("1E303", "5E-324") rather than as a wrong number; a
    cut-off that overflowed is "∞"."""
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    magnitude = abs(value)
    if magnitude > NUMBER_LIMIT or 0 < magnitude < 0.0005:
        return str(format_scientific(value, format="0.###E0"))
    if float(value).is_integer():
        return str(format_decimal(int(value)))
    return str(format_decimal(value, format="#,##0.###"))


def percent(share: float) -> str:
    """A share from 0 to 1 as a percentage in the page's language (``70 %`` in Spanish,
    ``70%`` in English), with one decimal when it has one (a third is ``33.3%``)."""
    pattern = get_locale().percent_formats[None].pattern  # type: ignore[union-attr]
    return str(format_percent(share, format=pattern.replace("#,##0", "#,##0.#", 1)))


def amount(value: float, scale: ScaleContext) -> str:
    """A distance on the scale with its unit: "1 point", "20 percentage points"."""
    written = number(value)
    # ngettext needs a whole count; a fraction such as 1.5 takes the plural.
    count = int(value) if float(value).is_integer() and abs(value) < 2**31 else 2
    if scale.percent:
        return ngettext(
            "%(value)s percentage point", "%(value)s percentage points", count, value=written
        )
    if scale.kind == "likert":
        return ngettext("%(value)s point", "%(value)s points", count, value=written)
    if scale.kind == "ranking":
        return ngettext("%(value)s place", "%(value)s places", count, value=written)
    if scale.kind == "numeric_estimate":
        if scale.unit:
            return gettext("%(value)s %(unit)s", value=written, unit=scale.unit)
        return written
    return gettext("%(value)s in each item's own units", value=written)


def value_on_scale(value: float, scale: ScaleContext) -> str:
    """One answer value as written on the scale: ``7``, ``70 %``, ``1,000 t``."""
    if scale.percent:
        return percent(value / 100)
    if scale.kind == "numeric_estimate" and scale.unit:
        return gettext("%(value)s %(unit)s", value=number(value), unit=scale.unit)
    return number(value)


def scale_phrase(scale: ScaleContext) -> str:
    """The scale itself, to follow a threshold: " on this 1–5 scale"; empty if unknown."""
    if scale.minimum is None or scale.maximum is None:
        return ""
    low, high = number(scale.minimum), number(scale.maximum)
    if scale.percent:
        return gettext(" on this %(low)s–%(high)s %% scale", low=low, high=high)
    if scale.kind == "ranking":
        return gettext(" on this ranking of places %(low)s to %(high)s", low=low, high=high)
    return gettext(" on this %(low)s–%(high)s scale", low=low, high=high)


def _ad_threshold(criterion: Criterion, scale: ScaleContext) -> float | None:
    """The AD cut-off h·A / divisor in the item's units, if the scale has options."""
    step = scale.step
    if step is None or scale.options is None:
        return None
    return step * scale.options / float(criterion.params["divisor"])


def _third(scale: ScaleContext) -> float:
    """The width of a third of the scale; on a scale of options, the options a third
    holds (2 steps on 1–9, so 1–3 and 7–9), as the split criterion counts them."""
    assert scale.minimum is not None and scale.maximum is not None
    third = (scale.maximum - scale.minimum) / 3
    if scale.step is not None:
        third = scale.step * math.floor(third / scale.step + 1e-9)
    return third


def _thirds(scale: ScaleContext) -> tuple[str, str] | None:
    """The lowest and highest thirds of the scale, as "1–3" and "7–9"."""
    if scale.minimum is None or scale.maximum is None:
        return None
    third = _third(scale)
    low = gettext(
        "%(low)s–%(high)s",
        low=value_on_scale(scale.minimum, scale),
        high=value_on_scale(scale.minimum + third, scale),
    )
    high = gettext(
        "%(low)s–%(high)s",
        low=value_on_scale(scale.maximum - third, scale),
        high=value_on_scale(scale.maximum, scale),
    )
    return low, high


def criterion_sentence(criterion: Criterion, scale: ScaleContext) -> str:
    """One criterion as a sentence a facilitator reads without knowing its formula."""
    params = criterion.params
    if criterion.kind == "iqr" and scale.kind is None:
        return gettext(
            "IQR at most %(max)s in each item's own units (points on a rating scale, "
            "percentage points on a 0–100 scale): the spread of the middle half of the "
            "answers.",
            max=number(params["max"]),
        )
    if criterion.kind == "iqr":
        return gettext(
            "IQR at most %(amount)s%(scale)s: the middle half of the answers lies within "
            "%(amount)s.",
            amount=amount(params["max"], scale),
            scale=scale_phrase(scale),
        )
    if criterion.kind == "share":
        return gettext(
            "Share of answers between %(low)s and %(high)s is at least %(share)s.",
            low=value_on_scale(params["low"], scale),
            high=value_on_scale(params["high"], scale),
            share=percent(params["min"]),
        )
    if criterion.kind == "cv":
        return gettext(
            "Coefficient of variation (standard deviation ÷ mean) at most %(max)s.",
            max=number(params["max"]),
        )
    if criterion.kind in ("ad_mean", "ad_median"):
        threshold = _ad_threshold(criterion, scale)
        centre = gettext("mean") if criterion.kind == "ad_mean" else gettext("median")
        if threshold is None:
            return gettext(
                "Average deviation from the %(centre)s at most A ÷ %(divisor)s, A being the "
                "number of answer options (never met on a scale without a fixed number of "
                "options).",
                centre=centre,
                divisor=number(params["divisor"]),
            )
        return gettext(
            "Average deviation from the %(centre)s at most A ÷ %(divisor)s = %(threshold)s "
            "with A = %(options)s options%(scale)s.",
            centre=centre,
            divisor=number(params["divisor"]),
            threshold=amount(threshold, scale),
            options=number(scale.options or 0),
            scale=scale_phrase(scale),
        )
    if criterion.kind == "rwg":
        sentence = gettext(
            "Within-group agreement rwg at least %(min)s (1: everyone gave the same answer; "
            "0: as spread as random answers).",
            min=number(params["min"]),
        )
        if scale.kind is not None and scale.options is None:
            sentence += " " + gettext(
                "Never met here: rwg needs a scale with a fixed number of options."
            )
        return sentence
    if criterion.kind == "split":
        thirds = _thirds(scale)
        if thirds is None:
            return gettext(
                "Dissensus when at least %(share)s of the answers lie in the lowest third of "
                "the scale and at least %(share)s in the highest third.",
                share=percent(params["min_share"]),
            )
        return gettext(
            "Dissensus when at least %(share)s of the answers lie in the lowest third of "
            "the scale (%(low)s) and at least %(share)s in the highest third (%(high)s).",
            share=percent(params["min_share"]),
            low=thirds[0],
            high=thirds[1],
        )
    return gettext(
        "RAND/UCLA agreement: the panel does not disagree and at least 7 in 9 answers lie "
        "in the third of the scale that holds the median; disagreement is dissensus."
    )


@dataclass(frozen=True)
class RuleWords:
    """A rule in words: how its consensus criteria combine, each criterion, and the
    criteria that mark dissensus whatever the others say."""

    #: "Consensus when all of these hold:" or "… at least one of these holds:".
    lead: str
    consensus: tuple[str, ...]
    dissensus: tuple[str, ...]

    @property
    def sentence(self) -> str:
        """The whole rule on one line, for a table cell or a summary."""
        parts = [f"{self.lead} {' '.join(self.consensus)}"]
        if self.dissensus:
            parts.append(" ".join(self.dissensus))
        return " ".join(parts)


def rule_words(rule: ConsensusRule, scale: ScaleContext) -> RuleWords:
    """The rule in words, each criterion with the scale's own numbers."""
    consensus = tuple(
        criterion_sentence(c, scale) for c in rule.criteria if c.kind not in DISSENSUS_ONLY
    )
    dissensus = tuple(
        criterion_sentence(c, scale) for c in rule.criteria if c.kind in DISSENSUS_ONLY
    )
    if len(consensus) == 1:
        lead = gettext("Consensus when:")
    elif rule.combine == "all":
        lead = gettext("Consensus when all of these hold:")
    else:
        lead = gettext("Consensus when at least one of these holds:")
    return RuleWords(lead, consensus, dissensus)


def level_words(level: str, kind: str | None = None) -> str:
    """Where an item's effective rule comes from, in words."""
    if level == "part":
        return gettext("this part's own rule")
    if level == "item":
        return gettext("the item's own rule")
    if level == "kind":
        return gettext(
            "the study's rule for this kind of item (%(kind)s)",
            kind=KIND_NAMES.get(kind or "", kind or ""),
        )
    if level == "study":
        return gettext("the study's default rule")
    return gettext("no rule")


#: What each warning of :mod:`surveys.rule_checks` means, by its code, in words that
#: can be translated (the domain's own messages are English, for the command line).
WARNING_WORDS = {
    "no_rule": lazy_gettext(
        "No consensus rule: this item can become stable but never reach consensus. Give it "
        "a rule of its own, or write one for every item of its kind."
    ),
    "iqr_always_met": lazy_gettext(
        "The IQR threshold is at least the whole range of the scale, so it holds whatever "
        "the panel answers."
    ),
    "iqr_too_small": lazy_gettext(
        "The IQR threshold is a sliver of this scale: the middle half of the panel would "
        "have to answer almost identically. It was meant for a short rating scale, as when "
        "“IQR ≤ 1” written for 1–5 ratings reaches a 0–100 % item."
    ),
    "share_always_met": lazy_gettext(
        "The share criterion always holds: its band covers the whole scale, or the share "
        "asked for is 0."
    ),
    "share_band_outside_scale": lazy_gettext(
        "The share criterion is never met: its band lies outside the scale, so no answer "
        "can fall in it."
    ),
    "share_bound_outside_scale": lazy_gettext(
        "One end of the share criterion's band lies outside the scale: it was probably "
        "written for another scale."
    ),
    "share_band_between_options": lazy_gettext(
        "The share criterion is never met: its band holds none of the scale's options."
    ),
    "share_band_too_narrow": lazy_gettext(
        "The share criterion's band is a sliver of this scale, so it is almost never met. "
        "It was meant for another scale, as when a band written for 1–5 ratings or for "
        "0–1 reaches a 0–100 % item."
    ),
    "needs_fixed_options": lazy_gettext(
        "rwg and the AD index need a scale with a fixed number of options, which this one "
        "has not: the criterion is never met."
    ),
    "rwg_never_met": lazy_gettext("rwg is at most 1, so a minimum above 1 is never met."),
    "rwg_always_met": lazy_gettext("rwg is never below 0, so a minimum of 0 or less always holds."),
    "ad_always_met": lazy_gettext(
        "The AD cut-off is at least the largest average deviation possible on this scale, "
        "so it always holds."
    ),
    "needs_bounded_scale": lazy_gettext(
        "The RAND/UCLA method and the split criterion need the scale's lowest and highest "
        "answers: give the estimate bounds, or they are never computed."
    ),
    "rand_ucla_not_nine_point": lazy_gettext(
        "The RAND/UCLA method's limits were set for ratings on a 1–9 scale; on this scale "
        "they were not made for it."
    ),
    "split_always_fires": lazy_gettext(
        "The split criterion with a share of 0 marks every distribution as dissensus."
    ),
    "split_never_fires": lazy_gettext(
        "The split criterion never fires: the lowest and highest thirds cannot both hold "
        "more than half of the answers."
    ),
    "cv_scale_not_positive": lazy_gettext(
        "The coefficient of variation is misleading here: it needs answers on a positive "
        "ratio scale (on percentages a panel agreeing that an event is unlikely, 1, 2, 3 %, "
        "has a large one)."
    ),
    "rule_on_confidence": lazy_gettext(
        "The confidence is decided by the rule written for the estimate itself: the item "
        "would reach consensus only when the panel is also equally sure. Give the "
        "confidence a rule of its own, or no rule."
    ),
}

#: How a warning names a part of a numeric estimate.
ESTIMATE_PART_NAMES = {
    "lowest": lazy_gettext("Lowest estimate"),
    "highest": lazy_gettext("Highest estimate"),
    "best": lazy_gettext("Best guess"),
    "confidence": lazy_gettext("Confidence"),
}


def part_name(item: ItemDefinition, part: str, language: str, default_language: str) -> str:
    """A part of an item's answer as the expert reads it: the scenario's or the option's
    text, or the estimate's "Best guess", "Confidence" …"""
    if part in ESTIMATE_PART_NAMES and item.kind == "numeric_estimate":
        return str(ESTIMATE_PART_NAMES[part])
    if item.kind == "cross_impact":
        trigger, _, scenario = part.partition(":")
        triggers = {choice.key: choice.text for choice in item.triggers}
        scenarios = {choice.key: choice.text for choice in item.scenarios}
        if trigger in triggers and scenario in scenarios:
            # The words of the expert page's heading over the trigger's scenario set.
            heading = gettext(
                "If “%(trigger)s” happens:",
                trigger=triggers[trigger].get(language, default_language).rstrip(". "),
            )
            return f"{heading} {scenarios[scenario].get(language, default_language)}"
    for choice in (*item.scenarios, *item.options):
        if choice.key == part:
            return choice.text.get(language, default_language)
    return part


def warning_sentence(
    code: str,
    fallback: str,
    *,
    item: ItemDefinition,
    component: str | None,
    level: str,
    language: str,
    default_language: str,
) -> str:
    """One warning about ``item``'s rule in words: which part, what is wrong, and where
    the rule comes from.  ``fallback`` (the domain's English message) stands in for a
    code this module does not know yet."""
    words = WARNING_WORDS.get(code)
    text = str(words) if words is not None else fallback
    if component:
        part = part_name(item, component, language, default_language)
        text = gettext("%(part)s: %(warning)s", part=part, warning=text)
    if code == "no_rule" or words is None:
        return text
    return gettext(
        "%(warning)s The rule comes from %(level)s.",
        warning=text,
        level=level_words(level, item.kind),
    )


def parameter_label(kind: str, name: str, scale: ScaleContext) -> str:
    """The label of one parameter's input in the editor."""
    if kind == "iqr":
        return gettext("Largest IQR")
    if kind == "share":
        return {
            "low": gettext("From (lowest answer counted)"),
            "high": gettext("To (highest answer counted)"),
            "min": gettext("At least this share of answers, in %"),
        }[name]
    if kind == "cv":
        return gettext("Largest coefficient of variation")
    if kind in ("ad_mean", "ad_median"):
        return gettext("Divisor of A (the number of options)")
    if kind == "rwg":
        return gettext("Smallest rwg")
    if kind == "split":
        return gettext("Share in each outer third, in %")
    return name


def parameter_help(kind: str, name: str, scale: ScaleContext) -> str:
    """What one parameter means, in the item's own units, with the usual value."""
    if kind == "iqr":
        if scale.percent:
            return gettext(
                "In percentage points%(scale)s. On a 0–100 scale 10 to 20 points are used; "
                "1 point would almost never be met.",
                scale=scale_phrase(scale),
            )
        if scale.kind == "likert":
            return gettext(
                "In points%(scale)s. Usual: 1 point on a 4- or 5-point scale, 2 points on a "
                "7- to 9-point scale.",
                scale=scale_phrase(scale),
            )
        if scale.kind == "ranking":
            return gettext("In places%(scale)s.", scale=scale_phrase(scale))
        if scale.kind == "numeric_estimate":
            return gettext("In the estimate's own unit.")
        return gettext(
            "In each item's own units: points on a rating scale, percentage points on a "
            "0–100 scale."
        )
    if kind == "share":
        if name in ("low", "high"):
            return gettext(
                "Answers equal to either end count. For example 7 and 9, the top third of a "
                "1–9 scale, or 4 and 5 on a 1–5 agreement scale."
            ) + (
                " " + gettext("Here the answers lie%(scale)s.", scale=scale_phrase(scale))
                if scale_phrase(scale)
                else ""
            )
        return gettext(
            "From 0 to 100. Published Delphi studies most often use 70 % to 80 % "
            "(median 75 %, Diamond et al. 2014)."
        )
    if kind == "cv":
        return gettext("A ratio without unit; 0.5 is commonly quoted.")
    if kind in ("ad_mean", "ad_median"):
        if scale.options is not None and scale.step is not None:
            return gettext(
                "The cut-off is A ÷ divisor in the scale's steps; 6 is the published value "
                "(Burke & Dunlap 2002). Here A = %(options)s, so 6 gives %(threshold)s.",
                options=number(scale.options),
                threshold=amount(scale.step * scale.options / 6, scale),
            )
        return gettext(
            "The cut-off is A ÷ divisor; 6 is the published value (Burke & Dunlap 2002)."
        )
    if kind == "rwg":
        return gettext("From 0 to 1; 0.7 is the usual cut-off (James, Demaree & Wolf 1984).")
    if kind == "split":
        return gettext("From 0 to 100; 33.3 (one third) is the classic RAND rule.")
    return ""


def default_parameters(kind: str, scale: ScaleContext) -> dict[str, float]:
    """The values a new criterion starts from: the published cut-offs, fitted to the
    item's scale (the top third of it for a share, 20 points on a 0–100 scale).  A
    share's band is left out when the scale is unknown (the study's default rule)."""
    if kind == "iqr":
        if scale.percent:
            return {"max": 20.0}
        if scale.kind == "likert" and scale.options is not None and scale.options > 5:
            return {"max": 2.0}
        return {"max": 1.0}
    if kind == "share":
        if scale.minimum is not None and scale.maximum is not None:
            # The top third of the scale: its options 7–9 on 1–9, 4–5 on 1–5.
            low = scale.maximum - _third(scale)
            return {"low": float(low), "high": float(scale.maximum), "min": 0.75}
        return {"min": 0.75}  # the band depends on each item's scale: left to fill in
    if kind == "cv":
        return {"max": 0.5}
    if kind in ("ad_mean", "ad_median"):
        return {"divisor": 6.0}
    if kind == "rwg":
        return {"min": 0.7}
    if kind == "split":
        return {"min_share": 1 / 3}
    return {}


__all__ = [
    "CRITERION_EXPLANATIONS",
    "CRITERION_NAMES",
    "KIND_IN_SENTENCE",
    "KIND_NAMES",
    "PERCENT_PARAMETERS",
    "WARNING_WORDS",
    "RuleWords",
    "ScaleContext",
    "amount",
    "criterion_sentence",
    "default_parameters",
    "level_words",
    "number",
    "parameter_help",
    "parameter_label",
    "part_name",
    "percent",
    "rule_words",
    "scale_of",
    "value_on_scale",
    "warning_sentence",
]
