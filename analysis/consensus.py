"""Consensus rules: criteria on an item's round statistics, combined per study."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

CRITERIA: Mapping[str, tuple[str, ...]] = {
    "iqr": ("max",),
}
"""Known criterion kinds and the parameters each one takes."""


@dataclass(frozen=True)
class Criterion:
    """One consensus criterion.

    ``kind="iqr"`` with ``params={"max": k}`` holds when the item's interquartile range
    (under the study's quantile method) is at most k, in the item's own units.
    """

    kind: str
    params: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in CRITERIA:
            raise ValueError(f"unknown consensus criterion {self.kind!r}")
        expected = set(CRITERIA[self.kind])
        if set(self.params) != expected:
            raise ValueError(
                f"criterion {self.kind!r} takes {sorted(expected)}, got {sorted(self.params)}"
            )


@dataclass(frozen=True)
class ConsensusRule:
    """Criteria combined with ``"all"`` (every one must hold) or ``"any"``."""

    criteria: tuple[Criterion, ...]
    combine: str = "all"

    def __post_init__(self) -> None:
        if self.combine not in ("all", "any"):
            raise ValueError(f"combine must be 'all' or 'any', not {self.combine!r}")
        if not self.criteria:
            raise ValueError("a consensus rule needs at least one criterion")


def criterion_holds(criterion: Criterion, statistics: pd.DataFrame) -> pd.Series:
    """Evaluate one criterion on rows of :func:`analysis.describe` output.

    Returns a boolean Series aligned with ``statistics``; a distribution whose statistic
    is undefined (n = 0) never meets a criterion.
    """
    if criterion.kind == "iqr":
        iqr = statistics["iqr"].to_numpy(dtype=float)
        with np.errstate(invalid="ignore"):
            return pd.Series(iqr <= criterion.params["max"], index=statistics.index)
    raise ValueError(f"unknown consensus criterion {criterion.kind!r}")


def rule_holds(rule: ConsensusRule, statistics: pd.DataFrame) -> pd.Series:
    """Evaluate a combined rule on rows of :func:`analysis.describe` output."""
    results = pd.concat(
        [criterion_holds(criterion, statistics) for criterion in rule.criteria], axis=1
    )
    return results.all(axis=1) if rule.combine == "all" else results.any(axis=1)
