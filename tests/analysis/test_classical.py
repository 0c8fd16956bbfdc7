"""Cooke's classical model: hand-computed examples and agreement with ANDURYL."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from analysis import classical_model, estimate_quantiles, quantile_array

from .components import components_frame
from .cooke_cases import load_case, run_anduryl

P = np.array([0.05, 0.45, 0.45, 0.05])


def _small_case() -> tuple[np.ndarray, np.ndarray]:
    """Two experts, four seed items (same answers on each) and one target item."""
    expert_a = [[1, 2, 3]] * 4 + [[1, 2, 3]]
    expert_b = [[0, 2, 4]] * 4 + [[np.nan] * 3]
    realizations = np.array([0.5, 2.5, 2.5, 3.5, np.nan])
    return np.array([expert_a, expert_b], dtype=float), realizations


def _relative_entropy(shares):
    return sum(s * math.log(s / p) for s, p in zip(shares, P, strict=True) if s > 0)


def test_calibration_and_information_by_hand():
    assessments, realizations = _small_case()
    model = classical_model(assessments, realizations, optimise=False)
    # A: 0.5 ≤ q5, 2.5 and 2.5 in (q50, q95], 3.5 > q95 → shares (1/4, 0, 1/2, 1/4).
    # B: 0.5 in (q5, q50], the others in (q50, q95] → shares (0, 1/4, 3/4, 0).
    statistic_a = 2 * 4 * _relative_entropy([0.25, 0, 0.5, 0.25])
    statistic_b = 2 * 4 * _relative_entropy([0, 0.25, 0.75, 0])
    assert statistic_a == pytest.approx(2 * 4 * (0.5 * math.log(5) + 0.5 * math.log(10 / 9)))
    np.testing.assert_allclose(
        model.calibration, [stats.chi2.sf(statistic_a, 3), stats.chi2.sf(statistic_b, 3)]
    )

    # Every seed's range is [0, 4] (answers and realizations), widened by 10 %: [-0.4, 4.4].
    def information(edges):
        widths = np.diff([-0.4, *edges, 4.4])
        return math.log(4.8) + sum(p * math.log(p / w) for p, w in zip(P, widths, strict=True))

    np.testing.assert_allclose(model.information, [information([1, 2, 3]), information([0, 2, 4])])
    # The target item: only A answered, range [1, 3] → [0.8, 3.2].
    target_a = math.log(2.4) + sum(
        p * math.log(p / w) for p, w in zip(P, [0.2, 1, 1, 0.2], strict=True)
    )
    assert model.information_all[0] == pytest.approx((4 * information([1, 2, 3]) + target_a) / 5)
    assert model.information_all[1] == pytest.approx(information([0, 2, 4]))
    combined = model.calibration * model.information
    np.testing.assert_allclose(model.weights, combined / combined.sum())
    assert model.alpha == 0.0
    assert model.effective_seeds == 4
    assert model.seeds_answered.tolist() == [4, 4]
    np.testing.assert_allclose(model.lower[:4], -0.4)
    np.testing.assert_allclose(model.upper[4], 3.2)


def test_equal_weight_decision_maker_is_inverted_exactly():
    assessments, realizations = _small_case()
    model = classical_model(assessments, realizations, optimise=False)
    # F_DM = (F_A + F_B) / 2 is linear on [0, 1] from 9/280 to 13/80: its 5th percentile
    # is 10/73; both CDFs pass 0.5 at 2, and 0.95 is reached at 4 - 10/73 by symmetry.
    np.testing.assert_allclose(model.dm_equal[0], [10 / 73, 2, 4 - 10 / 73])
    # Only A answered the target item: the mixture is A's own distribution.
    np.testing.assert_allclose(model.dm_equal[4], [1, 2, 3])
    np.testing.assert_allclose(model.dm[4], [1, 2, 3])


def test_item_weights_by_hand():
    assessments, realizations = _small_case()
    model = classical_model(assessments, realizations, optimise=False, weighting="item")
    per_item = model.calibration[:, None] * np.array(
        [
            [model.information[0]] * 4 + [model.information_all[0] * 5 - model.information[0] * 4],
            [model.information[1]] * 4 + [0.0],
        ]
    )
    np.testing.assert_allclose(model.item_weights, per_item / per_item.sum(axis=0))
    np.testing.assert_allclose(model.item_weights.sum(axis=0), 1)
    assert classical_model(assessments, realizations).item_weights is None


def test_experts_calibrated_to_zero_leave_no_performance_weights():
    # 400 seeds, every realization below every 5th percentile: calibration underflows to 0.
    realizations = np.arange(400.0)
    assessments = np.array([[[500.0, 600.0, 700.0]] * 400, [[450.0, 600.0, 800.0]] * 400])
    model = classical_model(assessments, realizations, optimise=False)
    assert (model.calibration == 0).all()
    assert np.isnan(model.weights).all() and np.isnan(model.dm).all()
    assert not np.isnan(model.dm_equal).any()


def test_one_expert_is_its_own_decision_maker():
    assessments, realizations = _small_case()
    model = classical_model(assessments[:1], realizations)
    np.testing.assert_allclose(model.dm, assessments[0])
    assert model.weights.tolist() == [1.0]
    assert model.dm_calibration == pytest.approx(model.calibration[0])


def test_missing_answers_and_the_minimum_number_of_seeds():
    assessments, realizations = _small_case()
    assessments[1, 0] = np.nan  # B skips a seed: N_min becomes 3
    assessments[0, 1, 2] = np.nan  # a partial answer counts as missing
    model = classical_model(assessments, realizations, optimise=False)
    assert model.seeds_answered.tolist() == [3, 3]
    assert model.effective_seeds == 3
    shares_b = [0, 0, 1, 0]  # 2.5, 2.5 and 3.5 in (2, 4]
    assert model.calibration[1] == pytest.approx(
        stats.chi2.sf(2 * 3 * _relative_entropy(shares_b), 3)
    )
    np.testing.assert_allclose(model.dm[1], [0, 2, 4])  # only B answered seed 2


def test_an_expert_without_seed_answers_has_no_weight():
    assessments, realizations = _small_case()
    third = np.full((1, 5, 3), np.nan)
    third[0, 4] = [2, 3, 5]
    model = classical_model(np.concatenate([assessments, third]), realizations, optimise=False)
    assert np.isnan(model.calibration[2]) and model.weights[2] == 0
    assert model.seeds_answered[2] == 0
    # It still counts in the equal-weight decision maker of the target item.
    assert model.dm_equal[4, 1] > 2


def test_inputs_are_not_modified():
    assessments, realizations = _small_case()
    assessments += 1  # positive, for the log-uniform background
    realizations += 1
    before = assessments.copy(), realizations.copy()
    classical_model(assessments, realizations, background="log-uniform", overshoot=0.2)
    np.testing.assert_array_equal(assessments, before[0])
    np.testing.assert_array_equal(realizations, before[1])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda a, r: (a[:, :, :2], r), "shape"),
        (lambda a, r: (a, r[:3]), "realizations must have shape"),
        (lambda a, r: (np.where(a == 3, 2, a), r), "increase strictly"),
        (lambda a, r: (a, np.full_like(r, np.nan)), "seed item"),
        (lambda a, r: (a, np.where(np.isnan(r), r, np.inf)), "finite"),
    ],
)
def test_bad_arrays_are_refused(change, message):
    assessments, realizations = change(*_small_case())
    with pytest.raises(ValueError, match=message):
        classical_model(assessments, realizations)


def test_bad_settings_are_refused():
    assessments, realizations = _small_case()
    with pytest.raises(ValueError, match="positive"):
        classical_model(assessments, realizations, background="log-uniform")  # B's 0
    with pytest.raises(ValueError, match="unknown background"):
        classical_model(assessments, realizations, background="normal")
    with pytest.raises(ValueError, match="one measure per item"):
        classical_model(assessments, realizations, background=["uniform"])
    with pytest.raises(ValueError, match="optimise=False"):
        classical_model(assessments, realizations, alpha=0.1)
    with pytest.raises(ValueError, match="above every expert"):
        classical_model(assessments, realizations, alpha=0.99, optimise=False)
    with pytest.raises(ValueError, match="overshoot"):
        classical_model(assessments, realizations, overshoot=0)
    with pytest.raises(ValueError, match="weighting"):
        classical_model(assessments, realizations, weighting="user")


# ANDURYL on published cases -------------------------------------------------------------

CASES = ("CWD_s", "puig-gdp", "p6r")


def _backgrounds(case):
    """Uniform everywhere; log-uniform wherever possible; the case's own (if different)."""
    chosen = {"uniform": ("uniform",) * len(case.items), "log": case.log_where_possible}
    if case.published_background != chosen["uniform"]:
        chosen["published"] = case.published_background
    return chosen


def _fixed_cut(case, background):
    """A cut-off halfway between two experts' calibration scores (far from any tie)."""
    scores = classical_model(
        case.assessments, case.realizations, background=background, optimise=False
    ).calibration
    levels = np.unique(scores)
    middle = len(levels) // 2
    return float((levels[middle - 1] + levels[middle]) / 2)


def _assert_agrees(model, reference):
    for name in ("calibration", "information", "information_all", "weights"):
        np.testing.assert_allclose(getattr(model, name), reference[name], rtol=0, atol=1e-6)
    assert model.alpha == pytest.approx(reference["alpha"], abs=1e-6)
    np.testing.assert_allclose(model.dm, reference["dm"], rtol=1e-6, atol=0)
    assert model.dm_calibration == pytest.approx(reference["dm_calibration"], abs=1e-6)
    assert model.dm_information == pytest.approx(reference["dm_information"], abs=1e-6)


@pytest.mark.parametrize("weighting", ["global", "item"])
@pytest.mark.parametrize("mode", ["optimised", "no cut-off", "fixed cut-off"])
@pytest.mark.parametrize("name", CASES)
def test_agrees_with_anduryl_on_published_cases(name, mode, weighting):
    case = load_case(name)
    for background in _backgrounds(case).values():
        if mode == "optimised":
            options, cut = {"optimise": True}, None
        elif mode == "no cut-off":
            options, cut = {"optimise": False}, 0.0
        else:
            cut = _fixed_cut(case, background)
            options = {"optimise": False, "alpha": cut}
        model = classical_model(
            case.assessments,
            case.realizations,
            background=background,
            weighting=weighting,
            **options,
        )
        reference = run_anduryl(
            case.assessments, case.realizations, background, weight_type=weighting, alpha=cut
        )
        _assert_agrees(model, reference)


@pytest.mark.parametrize("name", CASES)
def test_equal_weights_agree_with_anduryl(name):
    case = load_case(name)
    for background in _backgrounds(case).values():
        model = classical_model(case.assessments, case.realizations, background=background)
        reference = run_anduryl(
            case.assessments, case.realizations, background, weight_type="equal", alpha=0.0
        )
        np.testing.assert_allclose(model.dm_equal, reference["dm"], rtol=1e-6, atol=0)
        assert model.dm_equal_calibration == pytest.approx(reference["dm_calibration"], abs=1e-6)
        assert model.dm_equal_information == pytest.approx(reference["dm_information"], abs=1e-6)


@pytest.mark.parametrize("name", ["CWD_s", "puig-gdp"])
def test_unmodified_anduryl_agrees_where_no_tie_or_tail_is_involved(name):
    case = load_case(name)
    background = case.log_where_possible
    model = classical_model(case.assessments, case.realizations, background=background)
    reference = run_anduryl(case.assessments, case.realizations, background, exact=False)
    _assert_agrees(model, reference)


def test_tied_experts_are_admitted_together_unlike_anduryl_on_p6r():
    case = load_case("p6r")
    background = ("uniform",) * len(case.items)
    model = classical_model(case.assessments, case.realizations, background=background)
    best = np.flatnonzero(model.calibration == model.calibration.max())
    assert len(best) == 3  # three experts with the same (mirror-image) hit counts
    plain = run_anduryl(case.assessments, case.realizations, background, exact=False)
    tied = plain["calibration"][best]
    assert np.ptp(tied) < 1e-15 and len(np.unique(tied)) > 1
    # ANDURYL's cut-off at the largest of the three admits one expert alone ...
    assert np.count_nonzero(plain["weights"]) == 1
    # ... while the three tie here: their mixture scores below the cut-off, and another
    # cut-off wins.
    assert model.alpha < model.calibration.max()
    assert np.count_nonzero(model.weights) > 3


def _random_case(seed: int, missing: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """3–7 experts, 6–11 seeds and 2 targets with lognormal answers and realizations."""
    rng = np.random.default_rng(seed)
    experts, seeds, targets = int(rng.integers(3, 8)), int(rng.integers(6, 12)), 2
    centre = rng.lognormal(2, 0.7, size=(experts, seeds + targets)) * rng.lognormal(
        0, 0.4, size=(experts, 1)
    )
    spread = rng.uniform(0.05, 1.2, size=(experts, seeds + targets, 2))
    assessments = np.stack(
        [centre * np.exp(-1.6 * spread[..., 0]), centre, centre * np.exp(1.6 * spread[..., 1])],
        axis=2,
    )
    realizations = np.concatenate([rng.lognormal(2, 0.7, size=seeds), [np.nan] * targets])
    if missing:
        gaps = np.random.default_rng(100 + seed).uniform(size=assessments.shape[:2]) < missing
        assessments[gaps] = np.nan
    return assessments, realizations


# Seeds 39, 48, 151 and 152 are cases where the cut-off on the DM's own calibration
# (C_DM ≥ α) changes the optimum; the last five have about 15 % of answers missing.
@pytest.mark.parametrize(
    ("seed", "missing"),
    [(39, 0.0), (48, 0.0), (151, 0.0), (152, 0.0), *[(seed, 0.15) for seed in range(5)]],
)
def test_agrees_with_anduryl_on_generated_cases(seed, missing):
    assessments, realizations = _random_case(seed, missing)
    for background in ("uniform", "log-uniform"):
        for weighting in ("global", "item"):
            model = classical_model(
                assessments, realizations, background=background, weighting=weighting
            )
            reference = run_anduryl(
                assessments,
                realizations,
                (background,) * len(realizations),
                weight_type=weighting,
            )
            _assert_agrees(model, reference)


def test_mirror_image_hit_counts_tie_exactly():
    # Counts (0, 1, 1, 1) and (1, 1, 1, 0): equal scores, p being symmetric.
    realizations = np.array([5.0, 5.0, 5.0])
    first = [[4, 6, 8], [2, 4, 6], [1, 2, 3]]
    second = [[6, 7, 8], [4, 6, 8], [2, 4, 6]]
    model = classical_model(np.array([first, second], dtype=float), realizations)
    assert model.calibration[0] == model.calibration[1]


def test_calibration_uses_scipy_where_andurils_tail_approximation_fails():
    # Twenty seeds whose hit counts are exactly (1, 9, 9, 1): I(s, p) = 0, calibration 1.
    realizations = np.arange(20, dtype=float) + 0.5
    quantiles = np.array([[1.0, 10.0, 19.0]] * 20)
    assessments = np.stack([quantiles, quantiles + np.array([2.0, 0.0, 0.0])])
    model = classical_model(assessments, realizations, optimise=False)
    assert model.calibration[0] == pytest.approx(1.0)
    plain = run_anduryl(assessments, realizations, ("uniform",) * 20, alpha=0.0, exact=False)
    assert plain["calibration"][0] == pytest.approx(0.0)  # ANDURYL's continued fraction at 0
    # Far in the tail scipy still resolves the p-value; ANDURYL returns 0.
    far = np.array([[[100.0, 101.0, 102.0]] * 20])
    tail = classical_model(far, realizations, optimise=False).calibration[0]
    assert 0 < tail < 1e-16
    assert tail == pytest.approx(stats.chi2.sf(2 * 20 * math.log(1 / 0.05), 3))


def test_estimates_become_quantiles_after_standardisation_to_ninety_percent():
    frame = components_frame(
        "size",
        {
            "lowest": [10, 10, 5],
            "highest": [30, 30, 15],
            "best": [20, 20, 5],
            "confidence": [60, 90, 80],
        },
    )
    quantiles = estimate_quantiles(frame)
    # p0: L' = 20 - 10 * 90/60 = 5, U' = 20 + 10 * 90/60 = 35; p1 already at 90 %;
    # p2's best equals its lowest: not strictly increasing, left out.
    assert quantiles.loc[(1, "size", "p0")].tolist() == [5.0, 20.0, 35.0]
    assert quantiles.loc[(1, "size", "p1")].tolist() == [10.0, 20.0, 30.0]
    assert (1, "size", "p2") not in quantiles.index
    array = quantile_array(quantiles, ["p1", "p2", "p0"], ["size", "other"])
    assert array.shape == (3, 2, 3)
    np.testing.assert_array_equal(array[0, 0], [10, 20, 30])
    assert np.isnan(array[1]).all() and np.isnan(array[:, 1]).all()


def _mixture_quantiles_by_evaluation(assessments, realizations, weights):
    """The DM's quantiles the direct way, per item: every expert's CDF (linear between
    L*, q5, q50, q95, U*) evaluated at every breakpoint, mixed with ``weights``
    (renormalised over the item's answerers) and inverted by linear interpolation."""
    levels = [0.0, 0.05, 0.5, 0.95, 1.0]
    result = []
    for item in range(assessments.shape[1]):
        answered = np.isfinite(assessments[:, item]).all(axis=1)
        values = assessments[answered, item]
        span = [values.min(), values.max()]
        if np.isfinite(realizations[item]):
            span = [min(span[0], realizations[item]), max(span[1], realizations[item])]
        low, high = span[0] - 0.1 * (span[1] - span[0]), span[1] + 0.1 * (span[1] - span[0])
        points = np.unique(np.concatenate([[low], values.ravel(), [high]]))
        chosen = weights[answered] / weights[answered].sum()
        mixture = sum(
            w * np.interp(points, [low, *row, high], levels)
            for w, row in zip(chosen, values, strict=True)
        )
        result.append(np.interp([0.05, 0.5, 0.95], mixture, points))
    return np.array(result)


@pytest.mark.parametrize("seed", range(5))
def test_the_decision_maker_equals_the_mixture_evaluated_at_every_breakpoint(seed):
    """The DM is computed from slopes and cumulative sums (O(E log E)); it must equal
    the mixture of the experts' CDFs evaluated point by point, ties and missing
    answers included."""
    rng = np.random.default_rng(seed)
    experts, items = 40, 5
    middle = rng.integers(20, 80, (experts, items)).astype(float)
    width = rng.integers(1, 15, (experts, items)).astype(float)
    assessments = np.stack([middle - width, middle, middle + 2 * width], axis=2)
    assessments[rng.random((experts, items)) < 0.1] = np.nan
    assessments[0, 1] = assessments[1, 1]  # two experts with identical quantiles
    realizations = np.array([50.0, 40.0, 60.0, 55.0, np.nan])
    model = classical_model(assessments, realizations, optimise=False)
    np.testing.assert_allclose(
        model.dm_equal,
        _mixture_quantiles_by_evaluation(assessments, realizations, np.ones(experts)),
        rtol=1e-10,
    )
    weighted = np.nan_to_num(model.calibration * model.information)
    np.testing.assert_allclose(
        model.dm, _mixture_quantiles_by_evaluation(assessments, realizations, weighted), rtol=1e-10
    )
