"""The classical model's numbers in the page's language, for the facilitator's results
page and the report (``facilitate/_classical_model.html``)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from flask_babel import format_decimal, format_scientific

from surveys.calibration import ClassicalModelGlance, ClassicalModelResult, ModelItem


def score(value: float | None) -> str:
    """A calibration or information score or a weight: three significant digits, in
    scientific notation below 0.001 (calibration scores of 10⁻⁶ are common)."""
    if value is None or math.isnan(value):
        return "–"
    if value != 0 and abs(value) < 0.001:
        return str(format_scientific(value, "0.##E0"))
    return str(format_decimal(value, "0.###"))


def amount(value: float | None) -> str:
    """A quantile or a known answer: grouped digits, at most four significant decimals."""
    if value is None or math.isnan(value):
        return "–"
    if value != 0 and abs(value) < 0.01:
        return str(format_scientific(value, "0.###E0"))
    return str(format_decimal(value, "#,##0.##" if abs(value) >= 10 else "#,##0.####"))


@dataclass(frozen=True)
class ItemWords:
    """One item's row: text, unit, known answer and both decision makers' quantiles."""

    key: str
    text: str
    unit: str | None
    answer: str
    experts: int
    equal: tuple[str, str, str]
    performance: tuple[str, str, str]
    #: Per quantile of :attr:`equal` and :attr:`performance`: outside the item's bounds.
    equal_beyond: tuple[bool, bool, bool] = (False, False, False)
    performance_beyond: tuple[bool, bool, bool] = (False, False, False)
    #: The item's bounds as words (``None`` without bounds).
    bounds: tuple[str, str] | None = None


def _triple(values: tuple[float | None, ...]) -> tuple[str, str, str]:
    """Three quantiles as words ("–" when missing)."""
    padded = [*values, None, None, None][:3]
    return amount(padded[0]), amount(padded[1]), amount(padded[2])


def item_words(item: ModelItem) -> ItemWords:
    """A :class:`ModelItem` in the page's language."""
    return ItemWords(
        key=item.key,
        text=item.text,
        unit=item.unit,
        answer=amount(item.answer),
        experts=item.experts,
        equal=_triple(item.equal),
        performance=_triple(item.performance),
        equal_beyond=_beyond(item, item.equal),
        performance_beyond=_beyond(item, item.performance),
        bounds=(amount(item.bounds[0]), amount(item.bounds[1])) if item.bounds else None,
    )


def _beyond(item: ModelItem, values: tuple[float | None, ...]) -> tuple[bool, bool, bool]:
    """Which of three quantiles lie outside the item's bounds."""
    low, middle, high = [*values, None, None, None][:3]
    return item.beyond_bounds(low), item.beyond_bounds(middle), item.beyond_bounds(high)


def model_words(result: ClassicalModelResult | None) -> dict[str, object] | None:
    """What ``facilitate/_classical_model.html`` prints, or ``None`` without a model."""
    if result is None:
        return None
    words = _scores_words(result.experts, result.decision_makers, result.alpha)
    for row, expert in zip(words["experts"], result.experts, strict=True):
        row["seeds_answered"] = expert["seeds_answered"]
        row["weighted"] = bool(expert["weight"])
    return {
        "result": result,
        **words,
        "seeds": [item_words(item) for item in result.seeds],
        "targets": [item_words(item) for item in result.targets],
    }


def glance_words(glance: ClassicalModelGlance | None) -> dict[str, object] | None:
    """What the study page prints of :func:`surveys.calibration.classical_model_glance`,
    or ``None`` without a model."""
    if glance is None:
        return None
    return {"result": glance, **_scores_words(glance.experts, glance.decision_makers, glance.alpha)}


def _scores_words(
    experts: list[dict[str, Any]],
    decision_makers: dict[str, dict[str, float | None]],
    alpha: float | None,
) -> dict[str, Any]:
    """The experts' scores, both decision makers' and the cut-off, as words."""
    return {
        "experts": [
            {
                "expert": row["expert"],
                "calibration": score(row.get("calibration")),
                "information": score(row.get("information")),
                "weight": score(row.get("weight")),
            }
            for row in experts
        ],
        "decision_makers": {
            name: {
                "calibration": score(scores.get("calibration")),
                "information": score(scores.get("information")),
            }
            for name, scores in decision_makers.items()
        },
        "alpha": score(alpha),
    }
