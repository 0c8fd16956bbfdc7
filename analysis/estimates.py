"""Numeric estimates with uncertainty: the IDEA protocol's four-point answers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from analysis.deferred import deferred
from analysis.frame import validate_frame

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from analysis.grouping import Prepared
else:
    np = deferred("numpy")
    pd = deferred("pandas")

ESTIMATE_COMPONENTS: tuple[str, ...] = ("lowest", "highest", "best", "confidence")
"""The components of a numeric-estimate answer, in the order they are asked."""

DEFAULT_ESTIMATE_LEVEL = 80.0
"""The common confidence level (percent) intervals are standardised to unless an item
says otherwise: the IDEA protocol's usual 80 % (Hemming et al. 2018)."""


def standardise_intervals(
    frame: pd.DataFrame | Prepared, *, level: float = DEFAULT_ESTIMATE_LEVEL
) -> pd.DataFrame:
    """Rescale every expert's interval to a common confidence level.

    For an answer with lowest L, highest U, best guess B and confidence C (percent that
    the truth lies in [L, U]), the interval is extrapolated linearly around B to the
    common ``level`` (Hemming et al. 2018, Methods Ecol Evol 9:169):

        L' = B − (B − L)·level / C,   U' = B + (U − B)·level / C.

    Answers with a missing component, or with C outside (0, 100], are left out.  The
    order L ≤ B ≤ U is not enforced here (the study's answer validation does that).

    Parameters
    ----------
    frame
        A tidy frame; rows whose component is one of :data:`ESTIMATE_COMPONENTS` are used,
        other rows are ignored.
    level
        The common confidence level in percent, in (0, 100].

    Returns
    -------
    pandas.DataFrame
        One row per (round, item, panelist) with ``lowest``, ``best``, ``highest``
        (standardised) and the original ``confidence``.
    """
    if not 0 < level <= 100:
        raise ValueError(f"level must be in (0, 100], not {level}")
    tidy = validate_frame(frame)
    rows = tidy.loc[tidy["component"].isin(ESTIMATE_COMPONENTS).to_numpy()]
    wide = rows.pivot_table(
        index=["round", "item", "panelist"],
        columns="component",
        values="value",
        aggfunc="first",
        dropna=False,
        observed=True,
    )
    wide = wide.reindex(columns=list(ESTIMATE_COMPONENTS))
    complete = wide.notna().all(axis=1) & (wide["confidence"] > 0) & (wide["confidence"] <= 100)
    wide = wide.loc[complete.to_numpy()]
    factor = level / wide["confidence"]
    best = wide["best"]
    result = pd.DataFrame(
        {
            "lowest": best - (best - wide["lowest"]) * factor,
            "best": best,
            "highest": best + (wide["highest"] - best) * factor,
            "confidence": wide["confidence"],
        },
        index=wide.index,
    )
    result.columns.name = None
    return result.astype("float64")


def aggregate_estimates(
    frame: pd.DataFrame | Prepared, *, level: float = DEFAULT_ESTIMATE_LEVEL
) -> pd.DataFrame:
    """Aggregate the panel's standardised intervals per round and numeric-estimate item.

    Each answer is first standardised with :func:`standardise_intervals`; the panel's
    interval is then the arithmetic mean of the standardised lowest, best and highest
    values (the IDEA protocol's equal-weight aggregation, Hemming et al. 2018).

    Parameters
    ----------
    frame
        A tidy frame; rows of numeric-estimate components are used.
    level
        The common confidence level in percent, in (0, 100].

    Returns
    -------
    pandas.DataFrame
        Indexed by (round, item) with ``n`` (complete answers), ``lowest``, ``best``,
        ``highest`` (means) and ``level``.  Empty when there is no estimate answer.
    """
    standardised = standardise_intervals(frame, level=level)
    grouped = standardised.groupby(level=["round", "item"], sort=True)
    result = grouped[["lowest", "best", "highest"]].mean()
    result.insert(0, "n", grouped.size().astype("int64"))
    result["level"] = float(level)
    if result.empty:
        result.index = pd.MultiIndex.from_arrays(
            [np.zeros(0, dtype="int64"), np.zeros(0, dtype=object)], names=["round", "item"]
        )
    return result
