"""Every pooling method of :func:`analysis.pool_probabilities`, over many groups at once.

The scoring, cross-impact and signpost analyses pool one distribution per item, per
(trigger, scenario) or per (signpost, scenario); this module does it for all groups in
one vectorised pass and gives, group by group, the numbers of
:func:`analysis.pool_probabilities` (the tests check that).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from analysis.deferred import deferred, deferred_function
from analysis.pooling import (
    DEFAULT_CLIP,
    POOLING_METHODS,
    _check_trim_clip,
    _extremizing_factor,
)

if TYPE_CHECKING:
    import pandas as pd
    from scipy.special import expit, logit
else:
    pd = deferred("pandas")
    expit = deferred_function("scipy.special", "expit")
    logit = deferred_function("scipy.special", "logit")


def check_pooling(method: str, *, d: float | None, trim: float, clip: float) -> float:
    """Validate pooling settings as :func:`analysis.pool_probabilities` does; return d.

    ``d`` is ignored (1 is used) by every method but ``extremized``, so that one set of
    settings can be applied to all methods in turn.
    """
    if method not in POOLING_METHODS:
        raise ValueError(
            f"unknown pooling method {method!r}; choose one of {', '.join(POOLING_METHODS)}"
        )
    _check_trim_clip(trim, clip)
    if method != "extremized":
        return 1.0
    return _extremizing_factor(method, d)


def pool_groups(
    probabilities: np.ndarray,
    codes: np.ndarray,
    groups: int,
    *,
    method: str = "mean",
    d: float | None = None,
    trim: float = 0.1,
    clip: float = DEFAULT_CLIP,
) -> np.ndarray:
    """Pool the probabilities of each group with one method.

    Parameters
    ----------
    probabilities
        Probabilities in [0, 1]; NaN entries ("cannot judge") are dropped.
    codes
        The group (0 … groups − 1) of each probability.
    groups
        The number of groups.
    method, d, trim, clip
        As in :func:`analysis.pool_probabilities` (``d`` is used by ``extremized`` only).

    Returns
    -------
    numpy.ndarray
        One pooled probability per group; NaN for a group without a probability.
    """
    factor = check_pooling(method, d=d, trim=trim, clip=clip)
    values = np.asarray(probabilities, dtype=float)
    codes = np.asarray(codes, dtype=np.int64)
    keep = ~np.isnan(values)
    values, codes = values[keep], codes[keep]
    if ((values < 0) | (values > 1)).any():
        raise ValueError("probabilities must lie in [0, 1]")
    counts = np.bincount(codes, minlength=groups).astype(float)
    empty = counts == 0
    with np.errstate(divide="ignore", invalid="ignore"):
        if method == "mean":
            result = np.bincount(codes, weights=values, minlength=groups) / counts
        elif method in ("geometric_odds", "extremized"):
            logits = logit(np.clip(values, clip, 1 - clip))
            mean_logit = np.bincount(codes, weights=logits, minlength=groups) / counts
            result = expit(factor * mean_logit)
        else:
            order = np.lexsort((values, codes))
            ordered = values[order]
            whole = counts.astype(np.int64)
            starts = np.concatenate([[0], np.cumsum(whole)[:-1]])
            if method == "median":
                low = np.minimum(starts + (whole - 1) // 2, max(len(ordered) - 1, 0))
                high = np.minimum(starts + whole // 2, max(len(ordered) - 1, 0))
                result = (
                    (ordered[low] + ordered[high]) / 2 if len(ordered) else np.full(groups, np.nan)
                )
            else:  # trimmed_mean: cut ⌊trim·n⌋ from each end, as scipy.stats.trim_mean
                cut = np.floor(trim * whole).astype(np.int64)
                begin = starts + cut
                end = starts + whole - cut
                cumulative = np.concatenate([[0.0], np.cumsum(ordered)])
                result = (cumulative[end] - cumulative[begin]) / (end - begin)
    result = np.asarray(result, dtype=float)
    result[empty] = np.nan
    return result


def pool_frame(
    frame: pd.DataFrame,
    by: list[str],
    *,
    value: str = "probability",
    method: str = "mean",
    d: float | None = None,
    trim: float = 0.1,
    clip: float = DEFAULT_CLIP,
) -> pd.Series:
    """Pool ``frame[value]`` within the groups of ``by`` (sorted group index)."""
    if frame.empty:
        index = pd.MultiIndex.from_arrays([[] for _ in by], names=by) if len(by) > 1 else None
        return pd.Series(dtype=float, index=index, name=value)
    grouped = frame.groupby(by, sort=True)
    codes = grouped.ngroup().to_numpy()
    keys = grouped.size().index
    pooled = pool_groups(
        frame[value].to_numpy(dtype=float),
        codes,
        len(keys),
        method=method,
        d=d,
        trim=trim,
        clip=clip,
    )
    return pd.Series(pooled, index=keys, name=value)
