"""Cooke's classical model: performance-weighted pooling of experts' quantiles.

Experts give the 5th, 50th and 95th percentiles of uncertain quantities.  Some of the
quantities (seed or calibration items) have known answers; the experts' performance on
them — calibration and informativeness — weights their judgements on the others
(target items).  Cooke (1991), *Experts in Uncertainty*, Oxford University Press,
chapter 12; Cooke & Goossens (2008), Reliab Eng Syst Saf 93:657.  The reference
implementation is ANDURYL (Leontaris & Morales-Nápoles 2018, SoftwareX 7:313; Rongen
et al. 2020); the tests compare every number here with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from analysis.deferred import deferred
from analysis.estimates import standardise_intervals

if TYPE_CHECKING:
    import pandas as pd
    from scipy import stats
else:
    pd = deferred("pandas")
    stats = deferred("scipy.stats")

BACKGROUNDS: tuple[str, ...] = ("uniform", "log-uniform")
"""The background measures of :func:`classical_model`."""

WEIGHTINGS: tuple[str, ...] = ("global", "item")
"""The performance weights of :func:`classical_model`."""

QUANTILE_LEVELS: tuple[float, float, float] = (0.05, 0.50, 0.95)
"""The quantiles each expert gives, in order."""

BIN_PROBABILITIES: tuple[float, float, float, float] = (0.05, 0.45, 0.45, 0.05)
"""p: the probability an expert's quantiles put in each interquantile bin."""

QUANTILE_COLUMNS: tuple[str, str, str] = ("q05", "q50", "q95")
"""The columns of :func:`estimate_quantiles`."""


@dataclass(frozen=True)
class ClassicalModel:
    """The result of :func:`classical_model` (E experts, N items).

    ``calibration``, ``information``, ``information_all``, ``seeds_answered``
        Per expert (E,): the calibration score; the mean information score over the
        seed items the expert answered and over all items answered; the number of seed
        items answered.  NaN (and 0 answered) for an expert without a seed answer.
    ``combined``
        Per expert: calibration × information (seed items), the unnormalised weight
        before the cut-off.
    ``weights``
        Per expert: the normalised global weights at ``alpha`` (0 below the cut-off;
        all NaN in the degenerate case where every expert's calibration is 0 to machine
        precision).  With ``weighting="item"`` still the global weights, for display;
        the decision maker then uses ``item_weights``.
    ``item_weights``
        (E, N) item weights with ``weighting="item"``, each item's summing to 1 over
        the experts (NaN for an item no weighted expert answered), else ``None``.
    ``alpha``
        The cut-off used (0 when none).
    ``dm``, ``dm_equal``
        (N, 3): the 5th, 50th and 95th percentiles of the performance-weighted and of
        the equal-weight decision maker per item (NaN for an item nobody answered).
    ``dm_calibration``, ``dm_information``, ``dm_equal_calibration``,
    ``dm_equal_information``
        The decision makers' own scores on the seed items, as for an expert.
    ``effective_seeds``
        N_min, the number of seed answers the calibration statistic uses.
    ``lower``, ``upper``
        (N,) the intrinsic range of each item, overshoot included, on the item's scale.
    ``background``
        The background measure of each item.
    ``weighting``
        ``"global"`` or ``"item"``.
    """

    calibration: np.ndarray
    information: np.ndarray
    information_all: np.ndarray
    seeds_answered: np.ndarray
    combined: np.ndarray
    weights: np.ndarray
    item_weights: np.ndarray | None
    alpha: float
    dm: np.ndarray
    dm_equal: np.ndarray
    dm_calibration: float
    dm_information: float
    dm_equal_calibration: float
    dm_equal_information: float
    effective_seeds: int
    lower: np.ndarray
    upper: np.ndarray
    background: tuple[str, ...]
    weighting: str


def classical_model(
    assessments: np.ndarray,
    realizations: np.ndarray,
    *,
    background: str | Sequence[str] = "uniform",
    overshoot: float = 0.1,
    alpha: float | None = None,
    optimise: bool = True,
    weighting: str = "global",
) -> ClassicalModel:
    """Cooke's classical model with the optimised (or a fixed) significance cut-off.

    Definitions (Cooke 1991, ch. 12; ANDURYL's conventions where the literature leaves a
    choice, so that the results agree with it):

    **Expert distributions.**  On item i, with the background's scale x (x itself for
    ``"uniform"``, ln x for ``"log-uniform"``), the intrinsic range is
    [L*, U*] = [L − k(U − L), U + k(U − L)], where L and U are the smallest and
    largest of all experts' answered quantiles and the realization (seed items), and
    k = ``overshoot`` (Cooke's usual 10 %).  Each expert's distribution is the one with
    the least information relative to the uniform background on [L*, U*] that has
    their quantiles: its CDF is linear between the points (L*, 0), (q₅, 0.05),
    (q₅₀, 0.5), (q₉₅, 0.95) and (U*, 1).

    **Calibration.**  On the seed items an expert answered (n of them), s is the
    share of realizations in each interquantile bin (−∞, q₅], (q₅, q₅₀], (q₅₀, q₉₅],
    (q₉₅, ∞) and p = (0.05, 0.45, 0.45, 0.05).  With the relative entropy
    I(s, p) = Σⱼ sⱼ ln(sⱼ / pⱼ) (0 ln 0 = 0),

        C = 1 − F_χ²₃(2·N_min·I(s, p)),

    the p-value of the likelihood-ratio test that the expert's quantiles are
    statistically accurate.  N_min is the smallest number of seed items answered by any
    expert (n when everyone answered every seed): Cooke's rule so that experts who
    answered fewer seeds are not favoured by a weaker test.  The tail is
    ``scipy.stats.chi2.sf``: ANDURYL's own continued-fraction approximation of the χ²
    CDF (100 terms) is wrong for small statistics — for 2N·I < 0.5 it is off by more
    than 10⁻⁸, below 0.1 it returns values outside [0, 1], and at 0 (an expert whose
    hit shares equal p exactly) it gives calibration 0 instead of 1 — and it returns 0
    instead of the true tail (below 10⁻¹⁶) for statistics above about 75.  Elsewhere
    the two agree to 10⁻¹².  Experts with the same hit counts (or mirror-image counts:
    p is symmetric) have the same score exactly here; ANDURYL's sums can differ in the
    last bit for them, so that a cut-off at their score admits only some of them (on
    the published p6r case this changes ANDURYL's optimised DM).

    **Information.**  On item i, relative to the background on [L*, U*],

        I_i = ln(U* − L*) + Σⱼ pⱼ ln(pⱼ / (bⱼ₊₁ − bⱼ)),   b = (L*, q₅, q₅₀, q₉₅, U*),

    (the relative entropy of the expert's distribution to the uniform one);
    ``information`` is its mean over the seed items answered, ``information_all`` over
    every item answered.

    **Weights.**  Global: wₑ ∝ Cₑ · Iₑ(seeds) · 1[Cₑ ≥ α], normalised to sum to 1.
    Item (``weighting="item"``): wₑᵢ ∝ Cₑ · Iₑᵢ · 1[Cₑ ≥ α], normalised per item.

    **Decision maker (DM).**  Per item, the weighted mixture of the distributions of
    the experts who answered it (weights renormalised over them).  Its CDF is linear
    between consecutive points of the union of all experts' quantiles and L*, U*, so
    it is evaluated there and inverted exactly by linear interpolation — no grid.  For
    log-uniform items the quantiles are transformed back by exp.

    **Optimisation.**  The candidate cut-offs are the experts' calibration scores.  For
    each, the DM is built and scored as a virtual expert on the seed items:
    C_DM · I_DM · 1[C_DM ≥ α]; the cut-off with the highest score is used (the smallest
    such cut-off when several tie).

    **Equal weights.**  ``dm_equal`` uses wₑ = 1/E (renormalised per item over the
    experts who answered).

    Missing answers: an expert answered an item when all three quantiles are finite; an
    answer with some but not all quantiles counts as missing (ANDURYL would count it in
    the calibration bins).  An expert with no seed answer has no calibration (NaN) and
    zero performance weight, but their answers still set the intrinsic ranges and enter
    the equal-weight DM (ANDURYL drops such an expert altogether).

    Parameters
    ----------
    assessments
        Array (experts, items, 3) of each expert's 5th, 50th and 95th percentiles; NaN
        for no answer.  Answered quantiles must increase strictly.
    realizations
        Array (items,): the known answer of each seed item, NaN for target items.
    background
        ``"uniform"`` or ``"log-uniform"``, or one of them per item.  Log-uniform items
        need positive quantiles and realization.
    overshoot
        k > 0, the share of the range added on each side.
    alpha
        A fixed cut-off (with ``optimise=False``); ``None`` with ``optimise=False``
        means no cut-off (α = 0).
    optimise
        Choose the cut-off that maximises the DM's combined score.
    weighting
        ``"global"`` (default) or ``"item"`` performance weights.

    Returns
    -------
    ClassicalModel

    Raises
    ------
    ValueError
        For arrays of the wrong shape, quantiles not strictly increasing, non-positive
        values on a log-uniform item, no seed item, an unknown background or weighting,
        a cut-off together with ``optimise=True``, or a cut-off above every expert's
        calibration score.
    """
    values, truth = _check_inputs(assessments, realizations)
    experts, items, _ = values.shape
    backgrounds = _backgrounds(background, items)
    if weighting not in WEIGHTINGS:
        raise ValueError(f"weighting must be one of {', '.join(WEIGHTINGS)}")
    if not overshoot > 0:
        raise ValueError(f"overshoot must be positive, not {overshoot}")
    if alpha is not None and optimise:
        raise ValueError("give a fixed cut-off alpha with optimise=False, or optimise")
    answered = np.isfinite(values).all(axis=2)
    values = np.where(answered[:, :, None], values, np.nan)
    increasing = np.all(np.diff(values, axis=2) > 0, axis=2)
    if (answered & ~increasing).any():
        expert, item = np.argwhere(answered & ~increasing)[0]
        raise ValueError(
            f"expert {expert}, item {item}: the quantiles must increase strictly "
            "(5th < 50th < 95th)"
        )
    seeds = ~np.isnan(truth)
    if not seeds.any():
        raise ValueError("the classical model needs at least one seed item (a realization)")

    scaled, scaled_truth, logarithmic = _to_background(values, truth, backgrounds, answered)
    lower, upper = _intrinsic_range(scaled, scaled_truth, answered, overshoot)
    information_items = _information(scaled, lower, upper)
    seeds_answered = (answered & seeds).sum(axis=1)
    has_seed = seeds_answered > 0
    if not has_seed.any():
        raise ValueError("no expert answered a seed item")
    effective_seeds = int(seeds_answered[has_seed].min())
    calibration = _calibration(scaled, scaled_truth, seeds, effective_seeds)
    information = _mean_over_answered(np.where(seeds, information_items, np.nan))
    information_all = _mean_over_answered(information_items)
    combined = calibration * information

    if optimise:
        candidates = np.unique(calibration[has_seed])
    else:
        candidates = np.array([0.0 if alpha is None else float(alpha)])
        if candidates[0] > np.nanmax(calibration):
            raise ValueError(
                f"the cut-off {candidates[0]} is above every expert's calibration score "
                f"(highest {np.nanmax(calibration):.6g}): every expert would be excluded"
            )
    weights = _weights(calibration, information, information_items, candidates, weighting)
    cdfs = _expert_cdfs(scaled, lower, upper, answered)
    dms = _decision_makers(cdfs, weights, answered)
    dm_scores = [
        _virtual_expert(dm, scaled_truth, seeds, lower, upper, effective_seeds) for dm in dms
    ]
    if optimise:
        scores = np.array(
            [c * i if c >= cut else 0.0 for (c, i), cut in zip(dm_scores, candidates, strict=True)]
        )
        chosen = int(np.nanargmax(np.where(np.isnan(scores), -np.inf, scores)))
    else:
        chosen = 0
    equal = np.full((1, experts, items), 1.0 / experts)
    dm_equal = _decision_makers(cdfs, equal, answered)[0]
    equal_calibration, equal_information = _virtual_expert(
        dm_equal, scaled_truth, seeds, lower, upper, effective_seeds
    )

    cut = float(candidates[chosen])
    global_weights = _normalised(np.where(has_seed & (calibration >= cut), combined, 0.0))
    return ClassicalModel(
        calibration=calibration,
        information=information,
        information_all=information_all,
        seeds_answered=seeds_answered.astype(np.int64),
        combined=combined,
        weights=global_weights,
        item_weights=_normalised(weights[chosen]) if weighting == "item" else None,
        alpha=cut,
        dm=_from_background(dms[chosen], logarithmic),
        dm_equal=_from_background(dm_equal, logarithmic),
        dm_calibration=float(dm_scores[chosen][0]),
        dm_information=float(dm_scores[chosen][1]),
        dm_equal_calibration=float(equal_calibration),
        dm_equal_information=float(equal_information),
        effective_seeds=effective_seeds,
        lower=_from_background(lower, logarithmic),
        upper=_from_background(upper, logarithmic),
        background=backgrounds,
        weighting=weighting,
    )


def _check_inputs(assessments: np.ndarray, realizations: np.ndarray) -> tuple[np.ndarray, ...]:
    """Float copies of the inputs, shapes checked."""
    values = np.array(assessments, dtype=float)
    truth = np.array(realizations, dtype=float)
    if values.ndim != 3 or values.shape[2] != 3:
        raise ValueError(f"assessments must have shape (experts, items, 3), not {values.shape}")
    if truth.shape != (values.shape[1],):
        raise ValueError(
            f"realizations must have shape ({values.shape[1]},) — one per item — not {truth.shape}"
        )
    if values.shape[0] == 0 or values.shape[1] == 0:
        raise ValueError("the classical model needs at least one expert and one item")
    if np.isinf(values).any() or np.isinf(truth).any():
        raise ValueError("assessments and realizations must be finite numbers or NaN")
    return values, truth


def _backgrounds(background: str | Sequence[str], items: int) -> tuple[str, ...]:
    """One background name per item, validated."""
    names = (background,) * items if isinstance(background, str) else tuple(background)
    if len(names) != items:
        raise ValueError(f"background must name one measure per item ({items}), not {len(names)}")
    unknown = sorted(set(names) - set(BACKGROUNDS))
    if unknown:
        raise ValueError(
            f"unknown background {unknown[0]!r}; choose one of {', '.join(BACKGROUNDS)}"
        )
    return names


def _to_background(
    values: np.ndarray, truth: np.ndarray, backgrounds: tuple[str, ...], answered: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Quantiles and realizations on each item's background scale (ln for log-uniform)."""
    logarithmic = np.array([name == "log-uniform" for name in backgrounds])
    not_positive = (answered[:, :, None] & ~(values > 0)).any(axis=(0, 2)) | (truth <= 0)
    if (logarithmic & not_positive).any():
        item = int(np.flatnonzero(logarithmic & not_positive)[0])
        raise ValueError(
            f"item {item} has a log-uniform background: its quantiles and realization "
            "must be positive"
        )
    scaled = values.copy()
    scaled_truth = truth.copy()
    with np.errstate(invalid="ignore", divide="ignore"):
        scaled[:, logarithmic, :] = np.log(values[:, logarithmic, :])
        scaled_truth[logarithmic] = np.log(truth[logarithmic])
    return scaled, scaled_truth, logarithmic


def _from_background(array: np.ndarray, logarithmic: np.ndarray) -> np.ndarray:
    """Values per item (items on the first axis) back on the item's own scale."""
    result = np.array(array, dtype=float)
    result[logarithmic] = np.exp(result[logarithmic])
    return result


def _intrinsic_range(
    scaled: np.ndarray, truth: np.ndarray, answered: np.ndarray, overshoot: float
) -> tuple[np.ndarray, np.ndarray]:
    """[L*, U*] per item: all answers and the realization, widened by the overshoot."""
    mask = answered[:, :, None]
    low = np.fmin(np.where(mask, scaled, np.inf).min(axis=(0, 2)), truth)
    high = np.fmax(np.where(mask, scaled, -np.inf).max(axis=(0, 2)), truth)
    nobody = ~answered.any(axis=0)
    low[nobody] = np.nan
    high[nobody] = np.nan
    span = high - low
    return low - overshoot * span, high + overshoot * span


def _information(scaled: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """I_ei: each answer's relative entropy to the uniform background on [L*, U*]."""
    experts = scaled.shape[0]
    edges = np.concatenate(
        [
            np.broadcast_to(lower[None, :, None], (experts, len(lower), 1)),
            scaled,
            np.broadcast_to(upper[None, :, None], (experts, len(upper), 1)),
        ],
        axis=2,
    )
    widths = np.diff(edges, axis=2)
    p = np.asarray(BIN_PROBABILITIES)
    return np.log(upper - lower)[None, :] + (p * np.log(p / widths)).sum(axis=2)


def _mean_over_answered(values: np.ndarray) -> np.ndarray:
    """Row means over the non-NaN entries; NaN for a row without one."""
    answered = ~np.isnan(values)
    counts = answered.sum(axis=1)
    totals = np.where(answered, values, 0.0).sum(axis=1)
    return np.divide(totals, counts, out=np.full(len(counts), np.nan), where=counts > 0)


def _bin_counts(quantiles: np.ndarray, truth: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    """Per expert (…, 4): realizations in (−∞, q₅], (q₅, q₅₀], (q₅₀, q₉₅], (q₉₅, ∞)."""
    answered = np.isfinite(quantiles).all(axis=-1) & seeds
    below = (truth[..., None] <= quantiles) & answered[..., None]
    at_most = below.sum(axis=-2)
    total = answered.sum(axis=-1)
    return np.stack(
        [
            at_most[..., 0],
            at_most[..., 1] - at_most[..., 0],
            at_most[..., 2] - at_most[..., 1],
            total - at_most[..., 2],
        ],
        axis=-1,
    )


def _calibration_from_counts(counts: np.ndarray, effective_seeds: int) -> np.ndarray:
    """C = 1 − F_χ²₃(2·N_min·I(s, p)) from bin counts (…, 4); NaN for no answer."""
    total = counts.sum(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = counts / total
        terms = np.where(shares > 0, shares * np.log(shares / np.asarray(BIN_PROBABILITIES)), 0.0)
    # Summed in sorted order: experts with the same counts, or mirror-image counts (p is
    # symmetric), then get bit-for-bit the same score, so a cut-off at one of them admits
    # all of them.  (ANDURYL sums in bin order, and such ties can differ in the last bit.)
    divergence = np.sort(terms, axis=-1).sum(axis=-1)
    calibration = stats.chi2.sf(2 * effective_seeds * divergence, df=len(BIN_PROBABILITIES) - 1)
    return np.where(total[..., 0] > 0, calibration, np.nan)


def _calibration(
    scaled: np.ndarray, truth: np.ndarray, seeds: np.ndarray, effective_seeds: int
) -> np.ndarray:
    """Each expert's calibration score."""
    return _calibration_from_counts(_bin_counts(scaled, truth, seeds), effective_seeds)


def _weights(
    calibration: np.ndarray,
    information: np.ndarray,
    information_items: np.ndarray,
    candidates: np.ndarray,
    weighting: str,
) -> np.ndarray:
    """Unnormalised weights (cut-offs, experts, items): Cₑ·Iₑ·1[Cₑ ≥ α] (Iₑᵢ for item
    weights); 0 for an unanswered item.  :func:`_decision_makers` normalises them per
    item over the experts who answered it."""
    valid = ~np.isnan(calibration)
    above = valid[None, :] & (np.nan_to_num(calibration)[None, :] >= candidates[:, None])
    score = np.where(valid, calibration, 0.0)
    if weighting == "global":
        raw = (score * np.nan_to_num(information))[None, :, None] * above[:, :, None]
        raw = np.broadcast_to(raw, (len(candidates), *information_items.shape)).copy()
    else:
        raw = (score[:, None] * np.nan_to_num(information_items))[None] * above[:, :, None]
    raw[:, np.isnan(information_items)] = 0.0
    return raw


def _normalised(weights: np.ndarray) -> np.ndarray:
    """Weights rescaled to sum to 1 over the experts (axis 0); NaN where all are 0."""
    totals = weights.sum(axis=0)
    return np.divide(
        weights, totals, out=np.full(weights.shape, np.nan), where=np.asarray(totals > 0)
    )


@dataclass(frozen=True)
class _ItemCdfs:
    """The experts' CDFs of one item, as a mixture needs them (see :func:`_mixture`).

    Each expert's CDF is linear between (L*, 0), (q₅, 0.05), (q₅₀, 0.5), (q₉₅, 0.95) and
    (U*, 1): its slope is ``first`` on [L*, q₅] and changes by ``steps`` at each of its
    three quantiles.  ``points`` are all the experts' quantiles in increasing order,
    ``experts`` whose each one is and ``steps`` the change of that expert's slope there.
    """

    lower: float
    upper: float
    points: np.ndarray
    experts: np.ndarray
    steps: np.ndarray
    first: np.ndarray


def _expert_cdfs(
    scaled: np.ndarray, lower: np.ndarray, upper: np.ndarray, answered: np.ndarray
) -> list[_ItemCdfs | None]:
    """Per item, the experts' CDFs as :class:`_ItemCdfs` (``None``: nobody answered)."""
    levels = np.concatenate([[0.0], QUANTILE_LEVELS, [1.0]])
    experts = scaled.shape[0]
    result: list[_ItemCdfs | None] = []
    for item in range(scaled.shape[1]):
        who = np.flatnonzero(answered[:, item])
        if not len(who):
            result.append(None)
            continue
        quantiles = scaled[who, item, :]
        knots = np.column_stack(
            [np.full(len(who), lower[item]), quantiles, np.full(len(who), upper[item])]
        )
        slopes = np.diff(levels)[None, :] / np.diff(knots, axis=1)
        order = np.argsort(quantiles.ravel(), kind="stable")
        first = np.zeros(experts)
        first[who] = slopes[:, 0]
        result.append(
            _ItemCdfs(
                lower=float(lower[item]),
                upper=float(upper[item]),
                points=quantiles.ravel()[order],
                experts=np.repeat(who, 3)[order],
                steps=np.diff(slopes, axis=1).ravel()[order],
                first=first,
            )
        )
    return result


def _mixture(cdfs: _ItemCdfs, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The weighted mixture Σₑ wₑFₑ (weights summing to 1) at L*, every expert's
    quantiles and U*: (points, values).

    The mixture is linear between consecutive points, so it is known exactly from its
    slope on each interval: Σₑ wₑ·(slope of Fₑ there), which starts at Σₑ wₑ·firstₑ and
    changes by wₑ·step at each quantile of expert e.  One sort (done once per item) and
    cumulative sums: O(E log E), where evaluating every expert's CDF at every point
    would take O(E²) time and memory (2.4·10¹¹ bytes at 100,000 experts).
    """
    slope_start = float(cdfs.first @ weights)
    after = slope_start + np.cumsum(weights[cdfs.experts] * cdfs.steps)
    before = np.concatenate([[slope_start], after[:-1]])
    rises = np.maximum(before, 0.0) * np.diff(np.concatenate([[cdfs.lower], cdfs.points]))
    points = np.concatenate([[cdfs.lower], cdfs.points, [cdfs.upper]])
    values = np.concatenate([[0.0], np.cumsum(rises), [1.0]])
    return points, np.minimum(values, 1.0)


def _decision_makers(
    cdfs: list[_ItemCdfs | None],
    weights: np.ndarray,
    answered: np.ndarray,
) -> np.ndarray:
    """DM quantiles (cut-offs, items, 3) on the background scale, by exact inversion of
    the mixture (:func:`_mixture`), linear between its points."""
    candidates, _, items = weights.shape
    result = np.full((candidates, items, 3), np.nan)
    for item in range(items):
        item_cdfs = cdfs[item]
        if item_cdfs is None:
            continue
        chosen = weights[:, :, item] * answered[None, :, item]
        totals = chosen.sum(axis=1)
        for candidate in np.flatnonzero(totals > 0):
            points, values = _mixture(item_cdfs, chosen[candidate] / totals[candidate])
            result[candidate, item] = np.interp(QUANTILE_LEVELS, values, points)
    return result


def _virtual_expert(
    quantiles: np.ndarray,
    truth: np.ndarray,
    seeds: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    effective_seeds: int,
) -> tuple[float, float]:
    """Calibration and mean seed information of a DM (items, 3) on the background scale."""
    counts = _bin_counts(quantiles[None], truth, seeds)[0]
    calibration = float(_calibration_from_counts(counts, effective_seeds))
    information_items = _information(quantiles[None], lower, upper)[0]
    chosen = information_items[seeds & np.isfinite(information_items)]
    information = float(chosen.mean()) if chosen.size else float("nan")
    return calibration, information


def estimate_quantiles(frame: pd.DataFrame) -> pd.DataFrame:
    """Turn four-point numeric estimates into 5th, 50th and 95th percentiles.

    The IDEA protocol's answer (lowest L, highest U, best B, confidence C that the truth
    lies in [L, U]) is first standardised to a 90 % interval by
    :func:`analysis.standardise_intervals` with ``level=90`` — linear extrapolation
    around B (Hemming et al. 2018, Methods Ecol Evol 9:169):

        L' = B − (B − L)·90 / C,   U' = B + (U − B)·90 / C.

    The 90 % interval is then read as the central one, and B as the median:

        q₀₅ = L',   q₅₀ = B,   q₉₅ = U'.

    Two readings are assumptions, stated here because they change the scores: IDEA
    asks for a "best estimate", not a median (for skewed beliefs the two differ), and
    it does not say that the interval is central (equal tails).  An answer whose
    standardised quantiles are not strictly increasing (L = B or B = U) cannot feed
    the classical model and is left out, as are incomplete answers.

    Parameters
    ----------
    frame
        A tidy frame; the numeric-estimate components (``lowest``, ``highest``,
        ``best``, ``confidence``) are used.

    Returns
    -------
    pandas.DataFrame
        Indexed by (round, item, panelist) with :data:`QUANTILE_COLUMNS`.
    """
    standardised = standardise_intervals(frame, level=90.0)
    result = pd.DataFrame(
        {
            "q05": standardised["lowest"],
            "q50": standardised["best"],
            "q95": standardised["highest"],
        }
    )
    strictly = (result["q05"] < result["q50"]) & (result["q50"] < result["q95"])
    return result.loc[strictly.to_numpy()]


def quantile_array(
    quantiles: pd.DataFrame, panelists: Sequence[str], items: Sequence[str]
) -> np.ndarray:
    """Arrange one round's quantiles as the (experts, items, 3) array of the model.

    Parameters
    ----------
    quantiles
        Rows of :func:`estimate_quantiles` (or any frame with a ``panelist`` and an
        ``item`` index level or column and :data:`QUANTILE_COLUMNS`) for one round.
    panelists, items
        The order of the experts and of the items.

    Returns
    -------
    numpy.ndarray
        Shape (len(panelists), len(items), 3); NaN where a panelist gave no usable
        answer.
    """
    table = quantiles.reset_index() if "panelist" not in quantiles.columns else quantiles
    if table.duplicated(["panelist", "item"]).any():
        raise ValueError("one answer per panelist and item expected: select one round")
    wide = table.set_index(["panelist", "item"])[list(QUANTILE_COLUMNS)]
    index = pd.MultiIndex.from_product([list(panelists), list(items)], names=["panelist", "item"])
    values = wide.reindex(index).to_numpy(dtype=float)
    return values.reshape(len(panelists), len(items), 3)
