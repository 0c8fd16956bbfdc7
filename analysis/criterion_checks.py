"""Each criterion of a consensus rule on one distribution: the value it measured, the
cut-off it was held to and its verdict, as numbers.

:func:`analysis.consensus.consensus` decides the state of every distribution at once
and keeps, per row, an English ``evidence`` text for the exports.  A page that explains
one decision ("IQR 18.2 ≤ 20: met") needs the same figures as numbers, to write them in
the reader's language.  They are computed here by the very functions the consensus
uses, on the row's stored statistics and the distribution's answers, so the two cannot
disagree (the tests compare them on random panels).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from analysis.consensus import (
    ConsensusRule,
    Criterion,
    _band_share,
    _thirds,
)
from analysis.deferred import deferred
from analysis.quantiles import SortedGroups
from analysis.scales import Scale

pd = deferred("pandas")


@dataclass(frozen=True)
class CriterionCheck:
    """One criterion on one distribution.

    ``value`` is the statistic measured (the IQR, the share of answers in the band as a
    share from 0 to 1, rwg …; for ``rand_ucla`` the IPR; for ``split`` the share in the
    lowest third) and ``threshold`` what it is compared with (for ``rand_ucla`` the
    IPRAS; for ``split`` its ``min_share``); ``second_value`` is the share in the
    highest third for ``split``.  ``None`` when undefined (too few answers, a scale the
    criterion needs is missing).  ``met``: the criterion holds (never for ``split``);
    ``dissensus``: it marks dissensus (``split``, or ``rand_ucla``'s disagreement).
    """

    criterion: Criterion
    value: float | None
    threshold: float | None
    met: bool
    dissensus: bool = False
    second_value: float | None = None


#: The criteria whose check reads the distribution's answers (``values`` of
#: :func:`criterion_checks`); every other one reads its summary row only.
READS_ANSWERS = frozenset({"share", "split"})


def _number(value: Any) -> float | None:
    """A finite float, or ``None`` for a missing or undefined statistic."""
    if value is None or value is pd.NA:
        return None
    number = float(value)
    return number if np.isfinite(number) else None


def criterion_checks(
    rule: ConsensusRule,
    statistics: Mapping[str, Any],
    values: Sequence[float],
    scale: Scale | None,
) -> tuple[CriterionCheck, ...]:
    """Every criterion of ``rule`` on one distribution, in the rule's order.

    ``statistics`` is the distribution's summary row (:data:`analysis.SUMMARY_COLUMNS`:
    ``iqr``, ``cv``, ``ad_mean``, ``ad_median``, ``rwg``, ``ipr``, ``ipras``,
    ``rand_ucla``), ``values`` its non-missing answers (read by the criteria of
    :data:`READS_ANSWERS` only) and ``scale`` its item's scale.
    A comparison with an undefined value is not met, as in the consensus itself.
    """
    minimum = scale.minimum if scale is not None else None
    maximum = scale.maximum if scale is not None else None
    options = scale.options if scale is not None else None
    data = SortedGroups.build(
        np.asarray(values, dtype=float), np.zeros(len(values), dtype=np.int64), 1
    )
    mask = np.ones(1, dtype=bool)
    row = pd.DataFrame(
        {
            "scale_min": [np.nan if minimum is None else float(minimum)],
            "scale_max": [np.nan if maximum is None else float(maximum)],
        }
    )
    checks = []
    for criterion in rule.criteria:
        params = criterion.params
        kind = criterion.kind
        if kind in ("iqr", "cv", "rwg"):
            value = _number(statistics.get(kind))
            threshold = float(params["max" if kind != "rwg" else "min"])
            if kind == "rwg":
                met = value is not None and value >= threshold
            else:
                met = value is not None and value <= threshold
            checks.append(CriterionCheck(criterion, value, threshold, met))
        elif kind in ("ad_mean", "ad_median"):
            value = _number(statistics.get(kind))
            cut_off: float | None = None
            if options is not None and minimum is not None and maximum is not None:
                step = (float(maximum) - float(minimum)) / (options - 1)
                with np.errstate(over="ignore"):
                    cut_off = float(np.float64(step * options) / float(params["divisor"]))
            met = value is not None and cut_off is not None and value <= cut_off
            checks.append(CriterionCheck(criterion, value, cut_off, met))
        elif kind == "share":
            with np.errstate(invalid="ignore", divide="ignore"):
                share = _band_share(data, mask, float(params["low"]), float(params["high"]))
            value = _number(share[0])
            threshold = float(params["min"])
            checks.append(
                CriterionCheck(
                    criterion, value, threshold, value is not None and value >= threshold
                )
            )
        elif kind == "split":
            low = high = None
            if minimum is not None and maximum is not None:
                # Without the scale's ends the thirds are undefined (the consensus
                # counts no answer in them, so the split never fires).
                lower, upper = _thirds(row, data, mask)
                low, high = _number(lower[0]), _number(upper[0])
            threshold = float(params["min_share"])
            fired = low is not None and high is not None and low >= threshold and high >= threshold
            checks.append(
                CriterionCheck(criterion, low, threshold, False, dissensus=fired, second_value=high)
            )
        else:
            verdict = statistics.get("rand_ucla")
            checks.append(
                CriterionCheck(
                    criterion,
                    _number(statistics.get("ipr")),
                    _number(statistics.get("ipras")),
                    verdict == "agreement",
                    dissensus=verdict == "disagreement",
                )
            )
    return tuple(checks)
