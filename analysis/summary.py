"""The one entry point the round lifecycle calls when a round closes."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from analysis.consensus import ConsensusRule, rule_holds
from analysis.describe import describe


def summarize_round(
    frame: pd.DataFrame,
    *,
    rules: Mapping[str, ConsensusRule],
    quantile_method: str = "linear",
) -> pd.DataFrame:
    """Summarise one or more rounds: statistics and consensus per distribution.

    Parameters
    ----------
    frame
        A tidy frame (:mod:`analysis.frame`).
    rules
        The consensus rule of each item key.  An item without a rule gets
        ``consensus = NA``.
    quantile_method
        numpy quantile method (Hyndman & Fan type), passed to :func:`describe`.

    Returns
    -------
    pandas.DataFrame
        The columns of :func:`analysis.describe`, plus ``consensus`` (nullable boolean)
        indexed by (round, item, component).
    """
    statistics = describe(frame, quantile_method=quantile_method)
    consensus = pd.Series(pd.NA, index=statistics.index, dtype="boolean")
    items = statistics.index.get_level_values("item")
    for key, rule in rules.items():
        rows = items == key
        if rows.any():
            consensus[rows] = rule_holds(rule, statistics.loc[rows]).astype("boolean")
    statistics["consensus"] = consensus
    return statistics
