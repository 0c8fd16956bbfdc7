"""Scenario sets in the tidy frame: one panelist's probabilities over mutually exclusive
scenarios, alone (a scenario-set item) or per row of a matrix item (cross-impact: one set
per trigger; signposts: one likelihood per scenario).

Matrix items put two keys in the ``component`` column, joined by
:data:`CELL_SEPARATOR` — ``"trigger:scenario"``, see :func:`cell_component`; item,
trigger, signpost and scenario keys never contain it (study keys match
``[a-z][a-z0-9_]*``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from analysis.deferred import deferred
from analysis.frame import validate_frame
from analysis.pool_groups import pool_frame
from analysis.pooling import DEFAULT_CLIP

if TYPE_CHECKING:
    import pandas as pd
else:
    pd = deferred("pandas")

CELL_SEPARATOR = ":"
"""Joins the row key and the scenario key of a matrix item's component."""


def cell_component(row: str, scenario: str) -> str:
    """The ``component`` of a matrix item's cell: ``"row:scenario"``."""
    for key in (row, scenario):
        if CELL_SEPARATOR in key or not key:
            raise ValueError(f"keys must be non-empty and free of {CELL_SEPARATOR!r}: {key!r}")
    return f"{row}{CELL_SEPARATOR}{scenario}"


def item_rows(tidy: pd.DataFrame, item: str, round_number: int | None) -> pd.DataFrame:
    """The rows of ``item`` in ``round_number``, or in the latest round that has it."""
    rows = tidy.loc[(tidy["item"] == item).to_numpy()]
    if rows.empty:
        return rows
    chosen = int(rows["round"].max()) if round_number is None else round_number
    return rows.loc[(rows["round"] == chosen).to_numpy()]


def split_cells(rows: pd.DataFrame, row_name: str, item: str) -> pd.DataFrame:
    """``rows`` with the matrix component split into ``row_name`` and ``scenario``."""
    parts = rows["component"].str.split(CELL_SEPARATOR, n=1, expand=True, regex=False)
    if parts.shape[1] < 2 or parts[1].isna().any():
        raise ValueError(
            f"item {item!r}: every component must be '<{row_name}>{CELL_SEPARATOR}<scenario>'"
        )
    return rows.assign(**{row_name: parts[0].to_numpy(), "scenario": parts[1].to_numpy()})


def normalised_sets(
    rows: pd.DataFrame, scenarios: Sequence[str], by: Sequence[str] = ()
) -> pd.DataFrame:
    """Each complete set rescaled to sum to 1.

    A set is one panelist's values over ``scenarios`` (per value of the ``by``
    columns); it is complete when it has every scenario once, no NaN ("cannot judge")
    and a positive sum.  Its probabilities are vᵢ / Σv (as
    :func:`analysis.normalise_scenarios`).  Incomplete sets are left out.

    Parameters
    ----------
    rows
        Rows with ``panelist``, the ``by`` columns, ``scenario`` and ``value``.
    scenarios
        The set's scenario keys.
    by
        Columns that tell one panelist's sets apart (e.g. ``trigger``).

    Returns
    -------
    pandas.DataFrame
        Columns ``panelist``, the ``by`` columns, ``scenario``, ``probability``.
    """
    keys = ["panelist", *by]
    columns = [*keys, "scenario", "probability"]
    rows = rows.loc[rows["scenario"].isin(scenarios).to_numpy()]
    if rows.empty:
        return pd.DataFrame({column: pd.Series(dtype=object) for column in columns})
    if (rows["value"] < 0).any():
        raise ValueError("scenario probabilities must not be negative")
    grouped = rows.groupby(keys, sort=False)
    total = grouped["value"].transform("sum").to_numpy()
    size = grouped["scenario"].transform("nunique").to_numpy()
    count = grouped["value"].transform("size").to_numpy()
    missing = (
        rows["value"].isna().groupby([rows[key] for key in keys], sort=False).transform("any")
    ).to_numpy(dtype=bool)
    complete = ~missing & (total > 0) & (size == len(scenarios)) & (count == len(scenarios))
    kept = rows.loc[complete]
    result = kept[[*keys, "scenario"]].copy()
    result["probability"] = kept["value"].to_numpy(dtype=float) / total[complete]
    return result.sort_values([*keys, "scenario"], kind="stable", ignore_index=True)


def scenario_keys(rows: pd.DataFrame, item: str) -> list[str]:
    """The sorted scenario keys (components) of a scenario-set item's rows."""
    keys = sorted(set(rows["component"].unique()))
    if not keys or "" in keys:
        raise ValueError(f"item {item!r} is not a scenario set (its components are scenarios)")
    return keys


def pool_sets(
    sets: pd.DataFrame,
    by: Sequence[str] = (),
    *,
    method: str = "mean",
    d: float | None = None,
    trim: float = 0.1,
    clip: float = DEFAULT_CLIP,
) -> pd.Series:
    """Pool normalised sets per scenario (and ``by``), rescaled to sum to 1 per set.

    The linear pool of sets summing to 1 sums to 1; the median and logit pools need not,
    so every pooled set is rescaled to sum to 1.
    """
    keys = [*by, "scenario"]
    pooled = pool_frame(sets, keys, method=method, d=d, trim=trim, clip=clip)
    if pooled.empty:
        return pooled
    totals = pooled.groupby(level=list(by)).transform("sum") if by else pooled.sum()
    return pooled / totals


def pooled_scenarios(
    frame: pd.DataFrame,
    item: str,
    *,
    round_number: int | None = None,
    method: str = "mean",
    d: float | None = None,
    trim: float = 0.1,
    clip: float = DEFAULT_CLIP,
) -> pd.Series:
    """The panel's pooled scenario set: a prior for the scenario tracker.

    Each panelist's set is rescaled to sum to 1 (incomplete sets are left out), the
    probabilities of each scenario are pooled with ``method`` (see
    :func:`analysis.pool_probabilities`), and the pooled set is rescaled to sum to 1.

    Parameters
    ----------
    frame
        A tidy frame holding the scenario-set item.
    item
        The scenario-set item's key.
    round_number
        The round used; ``None`` takes the latest round that has the item.
    method, d, trim, clip
        Pooling settings.

    Returns
    -------
    pandas.Series
        Indexed by scenario key, summing to 1 (NaN when no complete set was given).
    """
    rows = item_rows(validate_frame(frame), item, round_number)
    if rows.empty:
        raise ValueError(f"no answer to item {item!r}")
    scenarios = scenario_keys(rows, item)
    sets = normalised_sets(rows.assign(scenario=rows["component"]), scenarios)
    pooled = pool_sets(sets, method=method, d=d, trim=trim, clip=clip)
    pooled = pooled.reindex(pd.Index(scenarios, name="scenario"))
    pooled.name = "probability"
    return pooled


def project_to_box_simplex(given: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """The nearest point (least squares) to each row of ``given`` with low ≤ x ≤ high, Σx = 1.

    The solution is xᵢ = min(max(qᵢ − λ, lowᵢ), highᵢ) with λ such that Σx = 1
    (Karush–Kuhn–Tucker conditions of the projection onto a box intersected with the
    simplex); λ is bracketed by bisection and then solved exactly on the coordinates
    strictly between their bounds.  Rows where no such point exists (Σlow > 1 or
    Σhigh < 1) or with NaN give NaN.
    """
    result = np.full_like(given, np.nan, dtype=float)
    feasible = (
        ~np.isnan(given).any(axis=1)
        & (low.sum(axis=1) <= 1 + 1e-12)
        & (high.sum(axis=1) >= 1 - 1e-12)
    )
    if not feasible.any():
        return result
    q, lo, hi = given[feasible], low[feasible], high[feasible]
    left = (q - hi).min(axis=1) - 1.0
    right = (q - lo).max(axis=1) + 1.0
    for _ in range(200):
        middle = (left + right) / 2
        total = np.clip(q - middle[:, None], lo, hi).sum(axis=1)
        too_much = total > 1
        left = np.where(too_much, middle, left)
        right = np.where(too_much, right, middle)
    shift = (left + right) / 2
    point = np.clip(q - shift[:, None], lo, hi)
    free = (q - shift[:, None] > lo) & (q - shift[:, None] < hi)
    clamped_total = np.where(free, 0.0, point).sum(axis=1)
    free_count = free.sum(axis=1)
    exact = free_count > 0
    refined = np.divide(
        np.where(free, q, 0.0).sum(axis=1) - (1 - clamped_total),
        free_count,
        out=shift.copy(),
        where=exact,
    )
    point = np.where(free, q - refined[:, None], point)
    result[feasible] = point
    return result
