"""Rule checks: consensus rules that cannot be right for the item they decide.

A definition can be valid and still hold a rule that never, or always, holds for one of
its items, or whose numbers were meant for another scale: the study's default "IQR ≤ 1"
(written for 5-point ratings) reaching a probability on 0–100 %, a band that lies
outside the scale, an agreement index that needs a fixed number of options on a
continuous scale.  :func:`rule_warnings` finds them from the definition alone, so that
the builder, ``elicit study validate`` and ``elicit study load`` report the same.

A warning is not an error: the file is valid and loads; the facilitator decides.  Each
check, its code and its reason:

``no_rule``
    A ranking or numeric estimate with no rule (they take no default: an IQR in rank
    places or in an estimate's own units means nothing in general).  Such an item can
    never reach consensus, only become stable.
``iqr_always_met``
    IQR ≤ max with max at least the scale's range: the IQR can never exceed the range,
    so the criterion holds whatever the panel answers.
``iqr_too_small``
    On a continuous scale (percentages, bounded estimates, confidence), an IQR threshold
    below :data:`NARROW` of the scale's range: the middle half of the panel must answer
    within a sliver of the scale, as when "IQR ≤ 1" written for 1–5 ratings reaches a
    0–100 % item.  (On a rating scale an IQR of 0 is reachable and meaningful.)
``share_always_met``
    A share criterion that every distribution meets: its band covers the whole scale, or
    the share asked for is 0.
``share_band_outside_scale``
    The band lies wholly outside the scale: no answer can fall in it, so the criterion
    is never met.
``share_bound_outside_scale``
    One end of the band lies outside the scale: harmless to the statistic but a sign the
    band was written for another scale.
``share_band_between_options``
    On a scale of whole options (likert, ranks), a band holding none of them: never met.
``share_band_too_narrow``
    On a continuous scale, a band narrower than :data:`NARROW` of the range, as when a
    band for probabilities written as 0–1 reaches a 0–100 % item.
``needs_fixed_options``
    ``rwg``, ``ad_mean`` or ``ad_median`` on a scale without a fixed number of options
    (percentages, estimates): rwg's uniform null variance and the AD cut-off A/divisor
    both need A (James, Demaree & Wolf 1984; Burke & Dunlap 2002), so the analysis never
    computes them there and the criterion is never met.
``rwg_never_met`` / ``rwg_always_met``
    rwg lies in [0, 1] (it is truncated at 0): a minimum above 1 is never met, one at or
    below 0 always is.
``ad_always_met``
    The AD cut-off h·A/divisor at or above h·(A − 1)/2, the largest average deviation
    a distribution on the scale can have: always met.
``needs_bounded_scale``
    ``rand_ucla`` or ``split`` on an estimate without bounds: both place the answers on
    the scale between its ends (the RAND/UCLA mapping onto 1–9, the lowest and highest
    thirds), so without ends they are never computed.  The analysis gives every part of
    an estimate the estimate's bounds, its confidence included.
``rand_ucla_not_nine_point``
    ``rand_ucla`` on a scale other than nine whole points: the analysis maps any
    bounded scale linearly onto 1–9, but the method's limits (IPRAS = 2.35 + 1.5·AI,
    the three-point regions, "two of nine outside") were set for nine-point ratings
    (Fitch et al. 2001).
``split_always_fires`` / ``split_never_fires``
    ``split`` with a minimum share of 0 declares dissensus on every distribution; one
    above one half never fires, because the lowest and highest thirds of a scale are
    disjoint and cannot both hold more than half of the answers.
``cv_scale_not_positive``
    ``cv`` (sd / mean) where the answers are not on a positive ratio scale: on
    percentages a panel agreeing that an event is unlikely (1, 2, 3 %) has a large CV;
    on a rating scale numbered from 0 or below, the CV depends on where the numbering
    starts and the mean can be 0; with negative answers its sign is meaningless.
``rule_on_confidence``
    A numeric estimate whose confidence (50–100 %) is decided by the rule written for
    the estimate (the item's or its kind's) rather than by a rule of its own: the best
    guess is not the confidence, and the item would reach consensus only when the panel
    is also equally sure.  ``consensus.parts.confidence`` gives it its own rule or none.

Parts of a multi-part answer are checked under the rule that decides each
(:meth:`~surveys.definition.ConsensusSettings.rule_for_part`); parts under one rule from
one place and on one scale are checked together, and a warning names its part
(``component``) unless it holds for every part alike.  An item with no rule at all is
``no_rule`` unless each of its parts was given ``"none"`` on purpose.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from analysis import ConsensusRule, Criterion
from surveys.definition import (
    CONFIDENCE_RANGE,
    KINDS_WITHOUT_DEFAULT_RULE,
    ItemDefinition,
    StudyDefinition,
)
from surveys.toml_lines import LineIndex, Path

#: The share of a continuous scale's range below which an IQR threshold or an agreement
#: band is taken for one written for another scale (1 point of 0–100 %, or 0–1 there).
NARROW = 0.05

#: How a message names the parts of a numeric estimate.
PART_NAMES = {
    "lowest": "its lowest estimate",
    "highest": "its highest estimate",
    "best": "its best guess",
    "confidence": "its confidence",
}

CODES: tuple[str, ...] = (
    "no_rule",
    "iqr_always_met",
    "iqr_too_small",
    "share_always_met",
    "share_band_outside_scale",
    "share_bound_outside_scale",
    "share_band_between_options",
    "share_band_too_narrow",
    "needs_fixed_options",
    "rwg_never_met",
    "rwg_always_met",
    "ad_always_met",
    "needs_bounded_scale",
    "rand_ucla_not_nine_point",
    "split_always_fires",
    "split_never_fires",
    "cv_scale_not_positive",
    "rule_on_confidence",
)
"""Every warning code, stable: the builder may key its own texts on them."""


@dataclass(frozen=True)
class RuleWarning:
    """A rule that cannot be right for the item (or the part of it) that it decides."""

    #: The item's key.
    item: str
    #: The part of a multi-part answer (a scenario, a ranking option, ``best`` …) the
    #: warning is about, or ``None`` when it is about every part alike.
    component: str | None
    #: One of :data:`CODES`.
    code: str
    #: What is wrong, in plain English, with where the rule comes from.
    message: str
    #: The offending rule in words (:meth:`analysis.ConsensusRule.describe`); "" when
    #: the problem is that there is no rule.
    rule: str
    #: Where the rule is written: ``"part"`` (``consensus.parts.PART``), ``"item"``
    #: (the item's ``consensus``), ``"kind"`` (``[consensus.by_kind.KIND]``),
    #: ``"default"`` (``[consensus]``) or ``"none"``.
    source: str
    #: The TOML path of the rule on the item (its ``consensus``, or one part's rule),
    #: for finding its line.
    path: Path

    @property
    def field(self) -> str:
        """The field the warning names: ``items.KEY.consensus``, or
        ``items.KEY.consensus.parts.PART`` for the rule of one part."""
        return ".".join(["items", self.item, *(str(part) for part in self.path[2:])])

    def __str__(self) -> str:
        return f"{self.field}: warning: {self.message}"


@dataclass(frozen=True)
class _Scale:
    """The answers one part of an item takes, as far as the checks need them."""

    #: Lowest and highest possible answer; ``None`` when open (an unbounded estimate).
    minimum: float | None
    maximum: float | None
    #: Number of whole options (likert points, rank places), ``None`` when continuous.
    options: int | None
    #: How a message names the scale: "the 1–5 scale", "0–100 %", …
    name: str
    #: Whether the answers are percentages (probabilities, scenario sets).
    percent: bool = False
    #: Whether the analysis knows the scale's ends.  It gives every part of an item
    #: the item's scale, so a numeric estimate's confidence (50–100 %) has the ends of
    #: the estimate's bounds there, and none without bounds.
    ends_known: bool = True

    @property
    def bounded(self) -> bool:
        """Whether the scale has both ends."""
        return self.minimum is not None and self.maximum is not None

    @property
    def span(self) -> float:
        """The scale's range, maximum − minimum (only for a bounded scale)."""
        assert self.minimum is not None and self.maximum is not None
        return self.maximum - self.minimum


def rule_warnings(definition: StudyDefinition) -> list[RuleWarning]:
    """Every rule of ``definition`` that cannot be right for its item, in item order.

    Each numeric item is checked under its effective rule
    (:meth:`~surveys.definition.ConsensusSettings.rule_for`: its own, its kind's, or
    the study's default), part by part where the parts' scales differ (a numeric
    estimate's confidence is 50–100 %, its other parts are in the estimate's units).
    See the module's docstring for each check and its reason.
    """
    warnings: list[RuleWarning] = []
    settings = definition.consensus
    for index, item in enumerate(definition.items):
        if not item.numeric or item.kind == "seed":
            continue  # a seed item measures calibration: no rule, by design
        path: Path = ("items", index, "consensus")
        parts = item.components
        rules = {part: settings.rule_for_part(item, part) for part in parts}
        if all(rule is None for rule in rules.values()):
            # Unless every part was given "none" on purpose, nothing decides the item.
            if set(dict(item.part_rules)) != set(parts):
                warnings.append(
                    RuleWarning(item.key, None, "no_rule", _no_rule(item), "", "none", path)
                )
            continue
        # Parts under one rule, from one place, on one scale are checked once.
        groups: dict[tuple[str, str, _Scale], list[str]] = {}
        for part in parts:
            rule = rules[part]
            if rule is not None:
                key = (repr(rule), settings.source_of(item, part), _scale_of(item, part))
                groups.setdefault(key, []).append(part)
        for (_, source, scale), members in groups.items():
            rule = rules[members[0]]
            assert rule is not None
            problems = _check_rule(rule, scale)
            for component in [None] if len(members) == len(parts) else members:
                named = f"{_part_name(item, component)}: " if component else ""
                where: Path = (
                    (*path, "parts", component) if source == "part" and component else path
                )
                for code, problem in problems:
                    message = f"{named}{problem} {_origin(source, item, component)}"
                    warnings.append(
                        RuleWarning(
                            item.key, component, code, message, rule.describe(), source, where
                        )
                    )
        confidence_source = settings.source_of(item, "confidence")
        if item.kind == "numeric_estimate" and confidence_source in ("item", "kind"):
            rule = rules["confidence"]
            assert rule is not None
            message = (
                f"its confidence is decided by {rule.describe()!r}, the rule written for "
                "the estimate itself: the item then reaches consensus only when the panel "
                "is also equally sure (50–100 %); give the confidence a rule of its own, "
                'or none: consensus.parts.confidence = "none" '
                f"{_origin(confidence_source, item, None)}"
            )
            warnings.append(
                RuleWarning(
                    item.key,
                    "confidence",
                    "rule_on_confidence",
                    message,
                    rule.describe(),
                    confidence_source,
                    path,
                )
            )
    return warnings


def located_warnings(warnings: Sequence[RuleWarning], source: str, name: str) -> list[str]:
    """``NAME:LINE: items.KEY.consensus: warning: …`` for each warning, the line that
    of the item's rule in ``source`` when it has one, else of the item."""
    lines = LineIndex(source)
    return [f"{name}:{lines.line_of(warning.path)}: {warning}" for warning in warnings]


# -- where a rule comes from -------------------------------------------------------------


def _origin(source: str, item: ItemDefinition, component: str | None) -> str:
    """Where the rule comes from, and so where to change it, as a sentence."""
    kind = item.kind
    if source == "part":
        return f"(the rule of this part, consensus.parts.{component})."
    if source == "item":
        return "(the item's own rule)."
    if source == "kind":
        return f"(the rule of every {_kind_name(kind)} item, [consensus.by_kind.{kind}])."
    return (
        f"(the study's default rule, [consensus], which applies because neither the item "
        f"nor [consensus.by_kind.{kind}] gives a rule; give {_kind_name(kind)} items "
        "a rule of their own)."
    )


def _part_name(item: ItemDefinition, component: str) -> str:
    """A part of an answer as a message names it: ``its best guess``, ``scenario rift``."""
    if item.kind == "numeric_estimate":
        return PART_NAMES[component]
    if item.kind == "cross_impact":
        trigger, _, scenario = component.partition(":")
        return f"scenario {scenario} if {trigger} happens"
    per_scenario = item.kind in ("scenario_set", "signpost")
    return f"{'scenario' if per_scenario else 'option'} {component}"


def _kind_name(kind: str) -> str:
    """An item kind in words: ``scenario set``."""
    return kind.replace("_", " ")


def _no_rule(item: ItemDefinition) -> str:
    """Why an item without a rule deserves a warning."""
    what = "Rankings" if item.kind == "ranking" else "Numeric estimates"
    assert item.kind in KINDS_WITHOUT_DEFAULT_RULE
    return (
        f"has no consensus rule: {what.lower()} take no default rule, so this item can "
        "become stable but never reach consensus; give it a rule of its own or one for "
        f"every {_kind_name(item.kind)} under [consensus.by_kind.{item.kind}]."
    )


# -- the scale of each part --------------------------------------------------------------


def _scale_of(item: ItemDefinition, component: str) -> _Scale:
    """The scale of one part of ``item``'s answer (``""`` for a single number)."""
    if item.kind == "likert" and item.scale is not None:
        low, high = item.scale.minimum, item.scale.maximum
        return _Scale(low, high, item.scale.options, f"the {low}–{high} scale")
    if item.kind in ("probability", "scenario_set", "cross_impact", "signpost"):
        return _Scale(0, 100, None, "the 0–100 % scale", percent=True)
    if item.kind == "ranking":
        places = len(item.options)
        return _Scale(1, places, places, f"the rank places 1–{places}")
    if component == "confidence":
        least, most = CONFIDENCE_RANGE
        return _Scale(
            least,
            most,
            None,
            f"the confidence scale {least}–{most} %",
            ends_known=item.estimate_bounds is not None,
        )
    if item.estimate_bounds is not None:
        bottom, top = item.estimate_bounds
        return _Scale(bottom, top, None, f"the estimate's bounds {_n(bottom)}–{_n(top)}")
    return _Scale(None, None, None, "the estimate's unbounded units")


# -- the checks ----------------------------------------------------------------------------


def _check_rule(rule: ConsensusRule, scale: _Scale) -> list[tuple[str, str]]:
    """(code, problem) of every criterion of ``rule`` that cannot be right on ``scale``."""
    problems = []
    for criterion in rule.criteria:
        problems += _check(criterion, scale)
    return problems


def _check(criterion: Criterion, scale: _Scale) -> list[tuple[str, str]]:
    """(code, problem) for one criterion on one scale; see the module's docstring."""
    p = criterion.params
    kind = criterion.kind
    said = _said(criterion)
    on = f"on {scale.name}"
    if kind == "iqr":
        if scale.bounded and p["max"] >= scale.span:
            return [
                (
                    "iqr_always_met",
                    f"{said} always holds {on}: an interquartile range is never larger "
                    f"than the scale's range, {_n(scale.span)}",
                )
            ]
        if scale.bounded and scale.options is None and p["max"] < NARROW * scale.span:
            return [
                (
                    "iqr_too_small",
                    f"{said} {on} asks the middle half of the panel to answer within "
                    f"{_n(p['max'])} of a range of {_n(scale.span)}: a threshold meant "
                    "for a short rating scale",
                )
            ]
        return []
    if kind == "share":
        return _check_share(criterion, scale)
    if kind == "cv":
        return _check_cv(criterion, scale)
    if kind in ("rwg", "ad_mean", "ad_median"):
        if scale.options is None:
            statistic = "rwg" if kind == "rwg" else "the AD index's cut-off (A / divisor)"
            return [
                (
                    "needs_fixed_options",
                    f"{said} is never met {on}: {statistic} needs a scale with a fixed "
                    "number of options, which this one has not",
                )
            ]
        if kind == "rwg" and p["min"] > 1:
            return [("rwg_never_met", f"{said} is never met: rwg is at most 1")]
        if kind == "rwg" and p["min"] <= 0:
            return [("rwg_always_met", f"{said} always holds: rwg is never below 0")]
        if kind != "rwg":
            options = scale.options
            if p["divisor"] <= 2 * options / (options - 1):
                return [
                    (
                        "ad_always_met",
                        f"{said} always holds {on}: its cut-off, {_n(options / p['divisor'])} "
                        f"steps, is at least the largest possible average deviation, "
                        f"{_n((options - 1) / 2)} steps",
                    )
                ]
        return []
    if kind in ("rand_ucla", "split") and not (scale.bounded and scale.ends_known):
        return [
            (
                "needs_bounded_scale",
                f"{said} is never computed {on}: it needs the scale's lowest and highest "
                "answer; give the estimate bounds",
            )
        ]
    if kind == "rand_ucla" and scale.options != 9:
        return [
            (
                "rand_ucla_not_nine_point",
                f"{said} {on}: the RAND/UCLA method is defined for ratings on a 1–9 "
                "scale; its limits were not made for this one, onto which the analysis "
                "maps 1–9 linearly",
            )
        ]
    if kind == "split" and p["min_share"] == 0:
        return [
            (
                "split_always_fires",
                f"{said} declares dissensus on every item it decides: a share of at "
                "least 0 is always reached",
            )
        ]
    if kind == "split" and p["min_share"] > 0.5:
        return [
            (
                "split_never_fires",
                f"{said} never fires: the lowest and highest thirds cannot both hold "
                "more than half of the answers",
            )
        ]
    return []


def _check_share(criterion: Criterion, scale: _Scale) -> list[tuple[str, str]]:
    """The checks of a ``share`` criterion (band [low, high], minimum share)."""
    p = criterion.params
    low, high = p["low"], p["high"]
    said = _said(criterion)
    on = f"on {scale.name}"
    if p["min"] == 0:
        return [("share_always_met", f"{said} always holds: a share of at least 0")]
    if not scale.bounded:
        return []
    assert scale.minimum is not None and scale.maximum is not None
    if low <= scale.minimum and high >= scale.maximum:
        return [
            (
                "share_always_met",
                f"{said} always holds {on}: the band {_n(low)}–{_n(high)} holds every "
                "possible answer",
            )
        ]
    if high < scale.minimum or low > scale.maximum:
        return [
            (
                "share_band_outside_scale",
                f"{said} is never met {on}: no answer can lie in the band {_n(low)}–{_n(high)}",
            )
        ]
    if scale.options is not None:
        step = scale.span / (scale.options - 1)
        first = math.ceil(round((low - scale.minimum) / step, 9))
        last = math.floor(round((high - scale.minimum) / step, 9))
        if first > last:
            return [
                (
                    "share_band_between_options",
                    f"{said} is never met {on}: the band {_n(low)}–{_n(high)} holds "
                    "none of its options",
                )
            ]
    if low < scale.minimum or high > scale.maximum:
        return [
            (
                "share_bound_outside_scale",
                f"{said}: the band {_n(low)}–{_n(high)} reaches outside {scale.name}, "
                "a sign it was written for another scale",
            )
        ]
    if scale.options is None and high - low < NARROW * scale.span:
        return [
            (
                "share_band_too_narrow",
                f"{said} {on}: the band {_n(low)}–{_n(high)} is a sliver of a range of "
                f"{_n(scale.span)}, a band meant for another scale",
            )
        ]
    return []


def _check_cv(criterion: Criterion, scale: _Scale) -> list[tuple[str, str]]:
    """The check of a ``cv`` criterion: answers on a positive ratio scale."""
    said = _said(criterion)
    if scale.percent:
        reason = (
            "on percentages a panel that agrees an event is unlikely (1, 2, 3 %) has a "
            "large coefficient of variation"
        )
    elif scale.options is not None and scale.minimum is not None and scale.minimum <= 0:
        reason = (
            f"on {scale.name} the coefficient of variation (sd / mean) depends on where "
            "the numbering starts, and the mean can be 0"
        )
    elif scale.minimum is not None and scale.minimum < 0:
        reason = f"on {scale.name}, which holds negative answers, sd / mean has no meaning"
    else:
        return []
    return [("cv_scale_not_positive", f"{said} is misleading: {reason}")]


def _said(criterion: Criterion) -> str:
    """A criterion as a message quotes it: ``"IQR ≤ 1"``, ``"share in 4–5 ≥ 0.7"``."""
    p = criterion.params
    kind = criterion.kind
    if kind == "iqr":
        return f"IQR ≤ {_n(p['max'])}"
    if kind == "cv":
        return f"CV ≤ {_n(p['max'])}"
    if kind == "share":
        return f"share within {_n(p['low'])}–{_n(p['high'])} ≥ {_n(p['min'])}"
    if kind == "rwg":
        return f"rwg ≥ {_n(p['min'])}"
    if kind in ("ad_mean", "ad_median"):
        return f"{kind} ≤ A / {_n(p['divisor'])}"
    if kind == "split":
        return f"split (each third ≥ {_n(p['min_share'])})"
    return "rand_ucla"


def _n(value: float) -> str:
    """A number as a message writes it: ``1``, ``0.5``, ``1e+15``."""
    return f"{value:g}"
