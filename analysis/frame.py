"""The one tidy input frame that every statistic in :mod:`analysis` reads.

Columns are defined here once.  One row is one number given by one panelist in one
round for one item (or one component of a multi-value item):

``panelist``
    Stable pseudonym (str).  Never a name or an email.
``group``
    The panelist's subgroup (str, e.g. ``"academic"``); empty string when unknown.
``round``
    Round number (int, 1-based).
``item``
    The item's stable key (str).
``component``
    Which part of a multi-value answer the row holds (str): ``""`` for single-value
    kinds (likert, probability); the scenario key for a scenario set; ``"lowest"``,
    ``"highest"``, ``"best"`` or ``"confidence"`` for a numeric estimate; the object
    key for a ranking (``value`` is then the rank, 1 = first).
``value``
    The answer as a float; NaN means "answered that they cannot judge" and is never
    counted as a rating.

Open-text answers carry no number and do not appear in the frame.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from analysis.deferred import deferred

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from analysis.grouping import Prepared
else:
    np = deferred("numpy")
    pd = deferred("pandas")

COLUMNS: tuple[str, ...] = ("panelist", "group", "round", "item", "component", "value")
"""The columns of the tidy frame, in order."""

KEY_COLUMNS: tuple[str, ...] = ("round", "item", "component")
"""The columns that identify one distribution (one row of a round summary)."""


class FrameError(ValueError):
    """The input frame does not have the tidy shape described in this module."""


def empty_frame() -> pd.DataFrame:
    """Return a tidy frame with no rows and the documented dtypes."""
    return pd.DataFrame(
        {
            "panelist": pd.Series(dtype="object"),
            "group": pd.Series(dtype="object"),
            "round": pd.Series(dtype="int64"),
            "item": pd.Series(dtype="object"),
            "component": pd.Series(dtype="object"),
            "value": pd.Series(dtype="float64"),
        }
    )


def validate_frame(frame: pd.DataFrame | Prepared) -> pd.DataFrame:
    """Check ``frame`` against the tidy schema and return a normalised copy (of a
    frame :func:`analysis.grouping.prepare` already checked: its rows).

    ``value`` becomes float64, ``round`` int64, the other columns strings (missing
    ``group`` and ``component`` become ""); the input is not modified.

    Raises
    ------
    FrameError
        Naming every missing column, a non-numeric or infinite ``value``, a non-integer
        ``round`` column, or a duplicated (panelist, round, item, component) row.
    """
    from analysis.grouping import prepare

    return prepare(frame).tidy


def normalise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The column checks and dtype normalisation of :func:`validate_frame`, without the
    duplicate check (which needs the encoded key columns)."""
    missing = [column for column in COLUMNS if column not in frame.columns]
    if missing:
        raise FrameError(f"missing column(s): {', '.join(missing)}")
    # Whole columns are replaced below, never written into, so a shallow copy keeps the
    # caller's frame intact (and costs nothing under copy-on-write).
    result = frame.loc[:, list(COLUMNS)].copy(deep=False)
    # A column already of its dtype is kept as it is: ``to_numeric`` copies even a
    # float64 column, and a close's frame holds millions of rows (two such copies were
    # about 190 MB of a 100,000-panelist close of round 2).
    if result["value"].dtype != np.float64:
        try:
            result["value"] = pd.to_numeric(result["value"], errors="raise").astype("float64")
        except (TypeError, ValueError) as error:
            raise FrameError(f"column 'value' must be numeric: {error}") from None
    if np.isinf(result["value"].to_numpy()).any():
        raise FrameError("column 'value' must hold finite numbers or NaN (cannot judge)")
    if result["round"].dtype != np.int64:
        try:
            result["round"] = pd.to_numeric(result["round"], errors="raise").astype("int64")
        except (TypeError, ValueError) as error:
            raise FrameError(f"column 'round' must be integer: {error}") from None
    result["component"] = result["component"].fillna("").astype(str)
    result["group"] = result["group"].fillna("").astype(str)
    result["item"] = result["item"].astype(str)
    result["panelist"] = result["panelist"].astype(str)
    return result
