"""Pooling of probability judgements and normalisation of scenario sets."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from analysis.deferred import deferred, deferred_function
from analysis.frame import validate_frame

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    from scipy.special import expit, logit

    from analysis.grouping import Prepared
else:
    np = deferred("numpy")
    pd = deferred("pandas")
    expit = deferred_function("scipy.special", "expit")
    logit = deferred_function("scipy.special", "logit")

POOLING_METHODS: tuple[str, ...] = (
    "mean",
    "median",
    "trimmed_mean",
    "geometric_odds",
    "extremized",
)
"""The pooling methods of :func:`pool_probabilities`."""

DEFAULT_CLIP = 0.01
"""Probabilities are clipped to [0.01, 0.99] before the logit (an answer of 0 % or
100 % on a whole-percent scale is read as "at most 1 %" / "at least 99 %")."""


def pool_probabilities(
    probabilities: Iterable[float] | np.ndarray,
    *,
    method: str = "mean",
    d: float | None = None,
    trim: float = 0.1,
    clip: float = DEFAULT_CLIP,
) -> float:
    """Pool the panel's probabilities for one event into one probability.

    With p₁ … pₙ in [0, 1] (NaN entries, "cannot judge", are dropped):

    - ``mean``: the linear opinion pool Σpᵢ / n (Stone 1961);
    - ``median``: the sample median (numpy ``linear``);
    - ``trimmed_mean``: the mean after removing ⌊trim·n⌋ values from each end of the
      sorted sample, as ``scipy.stats.trim_mean(p, trim)``;
    - ``geometric_odds``: expit(Σ logit(p̃ᵢ) / n), the geometric mean of the odds;
    - ``extremized``: expit(d · Σ logit(p̃ᵢ) / n) with d > 0 (Satopää et al. 2014,
      Int J Forecast 30:344; d > 1 pushes the pool away from 0.5, d = 1 is
      ``geometric_odds``).

    p̃ᵢ = min(max(pᵢ, clip), 1 − clip): the logit of 0 or 1 is infinite, so both
    logit-based methods clip first (default 0.01, see :data:`DEFAULT_CLIP`); the other
    methods use the raw values.  Extremising moves small probabilities much further
    (with d = 2.5, 0.1 becomes about 0.004); show the pool beside the plain mean.

    Parameters
    ----------
    probabilities
        The panel's probabilities in [0, 1] (divide percentages by 100 first).
    method
        One of :data:`POOLING_METHODS`.
    d
        The extremizing factor, required by ``extremized`` (> 0); ``geometric_odds``
        accepts ``None`` or 1.
    trim
        Share cut from each end by ``trimmed_mean``, in [0, 0.5).
    clip
        The clip applied before the logit, in (0, 0.5).

    Returns
    -------
    float
        The pooled probability; NaN when no probability is given.

    Raises
    ------
    ValueError
        For an unknown method, a probability outside [0, 1] or a bad setting.
    """
    if method not in POOLING_METHODS:
        raise ValueError(
            f"unknown pooling method {method!r}; choose one of {', '.join(POOLING_METHODS)}"
        )
    values = np.asarray(
        list(probabilities) if not isinstance(probabilities, np.ndarray) else probabilities,
        dtype=float,
    ).ravel()
    values = values[~np.isnan(values)]
    if ((values < 0) | (values > 1)).any():
        raise ValueError("probabilities must lie in [0, 1]")
    factor = _extremizing_factor(method, d)
    _check_trim_clip(trim, clip)
    if values.size == 0:
        return float("nan")
    if method == "mean":
        return float(values.mean())
    if method == "median":
        return float(np.median(values))
    if method == "trimmed_mean":
        cut = int(trim * values.size)
        ordered = np.sort(values)
        return float(ordered[cut : values.size - cut].mean())
    clipped = np.clip(values, clip, 1 - clip)
    return float(expit(factor * logit(clipped).mean()))


def _extremizing_factor(method: str, d: float | None) -> float:
    """The factor d of the logit-based methods, validated."""
    if method == "extremized":
        if d is None or not d > 0:
            raise ValueError("method 'extremized' needs an extremizing factor d > 0")
        return float(d)
    if d is not None and not (method == "geometric_odds" and d == 1):
        raise ValueError(f"d applies to method 'extremized' only, not {method!r}")
    return 1.0


def _check_trim_clip(trim: float, clip: float) -> None:
    if not 0 <= trim < 0.5:
        raise ValueError(f"trim must be in [0, 0.5), not {trim}")
    if not 0 < clip < 0.5:
        raise ValueError(f"clip must be in (0, 0.5), not {clip}")


def pooled_columns(
    values: np.ndarray,
    codes: np.ndarray,
    starts: np.ndarray,
    counts: np.ndarray,
    *,
    scale: float = 100.0,
    d: float = 2.5,
    trim: float = 0.1,
    clip: float = DEFAULT_CLIP,
) -> dict[str, np.ndarray]:
    """Every pooling method for many groups at once (values sorted within groups).

    ``values`` are in percent (divided by ``scale`` first, results multiplied back).
    Gives the same numbers as :func:`pool_probabilities` per group; used by the round
    summary for probability and scenario-set items.
    """
    _check_trim_clip(trim, clip)
    groups = len(counts)
    probabilities = values / scale
    clipped = np.clip(probabilities, clip, 1 - clip)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_logit = np.bincount(codes, weights=logit(clipped), minlength=groups) / counts
        cut = np.floor(trim * counts).astype(np.int64)
        cumulative = np.concatenate([[0.0], np.cumsum(probabilities)])
        begin = starts + cut
        end = starts + counts - cut
        trimmed = (cumulative[end] - cumulative[begin]) / (end - begin)
    trimmed[counts == 0] = np.nan
    return {
        "pool_trimmed_mean": trimmed * scale,
        "pool_geometric_odds": expit(mean_logit) * scale,
        "pool_extremized": expit(d * mean_logit) * scale,
    }


def normalise_scenarios(
    frame: pd.DataFrame | Prepared, items: Iterable[str], *, total: float = 100.0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rescale each panelist's scenario-set answers to sum to ``total``.

    For a panelist's answers v₁ … v_k to the k scenarios (components) of a set in one
    round, vᵢ' = vᵢ · total / Σv.  A set containing NaN (cannot judge) or summing to 0
    cannot be normalised: all its values become NaN and it is counted as ``unusable``.

    Parameters
    ----------
    frame
        A tidy frame; rows of other items pass through unchanged.
    items
        The keys of the scenario-set items.
    total
        The required sum (100 for percent).

    Returns
    -------
    (pandas.DataFrame, pandas.DataFrame)
        The normalised tidy frame (same rows and order) and a report indexed by
        (round, item) with ``panelists``, ``normalised`` (sets whose sum differed from
        ``total`` by more than 1e-9·total and were rescaled), ``unusable``,
        ``mean_total``, ``min_total`` and ``max_total`` of the raw sums of usable sets.
    """
    tidy = validate_frame(frame)
    keys = set(items)
    chosen = tidy["item"].isin(keys).to_numpy()
    result = tidy.copy()
    sets = tidy.loc[chosen, ["round", "item", "panelist", "value"]]
    columns = ["panelists", "normalised", "unusable", "mean_total", "min_total", "max_total"]
    if sets.empty:
        empty = pd.DataFrame(
            {column: pd.Series(dtype="float64") for column in columns},
            index=pd.MultiIndex.from_arrays([[], []], names=["round", "item"]),
        )
        return result, empty
    grouped = sets.groupby(["round", "item", "panelist"], sort=True)["value"]
    sums = grouped.transform("sum").to_numpy()
    missing = sets["value"].isna()
    incomplete = (
        missing.groupby([sets["round"], sets["item"], sets["panelist"]], sort=True)
        .transform("any")
        .to_numpy(dtype=bool)
    )
    unusable = incomplete | (sums == 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        scaled = sets["value"].to_numpy() * total / sums
    scaled[unusable] = np.nan
    result.loc[chosen, "value"] = scaled
    per_set = pd.DataFrame(
        {
            "round": sets["round"].to_numpy(),
            "item": sets["item"].to_numpy(),
            "panelist": sets["panelist"].to_numpy(),
            "total": sums,
            "unusable": unusable,
        }
    ).drop_duplicates(["round", "item", "panelist"])
    per_set["normalised"] = ~per_set["unusable"] & (np.abs(per_set["total"] - total) > 1e-9 * total)
    usable_total = per_set["total"].where(~per_set["unusable"])
    per_set["usable_total"] = usable_total
    report = per_set.groupby(["round", "item"], sort=True).agg(
        panelists=("panelist", "size"),
        normalised=("normalised", "sum"),
        unusable=("unusable", "sum"),
        mean_total=("usable_total", "mean"),
        min_total=("usable_total", "min"),
        max_total=("usable_total", "max"),
    )
    report[["panelists", "normalised", "unusable"]] = report[
        ["panelists", "normalised", "unusable"]
    ].astype("int64")
    return result, report
