"""Stability between rounds: the paired Wilcoxon test against scipy (and so R)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from analysis import StabilityRule, stability

from .conftest import frame_from


def _two_rounds(before, after, item="item"):
    return pd.concat(
        [frame_from({item: before}, round_number=1), frame_from({item: after}, round_number=2)],
        ignore_index=True,
    )


def _row(before, after, **options):
    return stability(_two_rounds(before, after), **options).loc[(2, "item", "")]


pairs = st.lists(st.tuples(st.integers(1, 7), st.integers(1, 7)), min_size=1, max_size=40)


@settings(max_examples=80, deadline=None)
@given(
    pairs=pairs,
    zero_method=st.sampled_from(["wilcox", "pratt", "zsplit"]),
    correction=st.booleans(),
)
def test_wilcoxon_equals_scipy_asymptotic(pairs, zero_method, correction):
    before = np.array([a for a, _ in pairs], dtype=float)
    after = np.array([b for _, b in pairs], dtype=float)
    row = _row(before, after, zero_method=zero_method, correction=correction, method="asymptotic")
    differences = after - before
    ranked = differences[differences != 0] if zero_method == "wilcox" else differences
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        reference = stats.wilcoxon(
            after, before, zero_method=zero_method, correction=correction, method="asymptotic"
        )
    assert row["wilcoxon_p"] == pytest.approx(reference.pvalue, rel=1e-9, nan_ok=True)
    if zero_method == "wilcox" and ranked.size:
        total = ranked.size * (ranked.size + 1) / 2
        # scipy's two-sided statistic is min(W+, W−); R's V is W+.
        assert min(row["wilcoxon_v"], total - row["wilcoxon_v"]) == pytest.approx(
            reference.statistic
        )


def test_v_is_r_wilcox_test_v_and_the_p_value_follows_r_formula():
    # R: wilcox.test(after, before, paired = TRUE) with ties and zeros uses the normal
    # approximation with continuity correction; V = sum of ranks of positive differences.
    before = np.array([3, 4, 2, 5, 3, 4, 4, 2, 3, 5], dtype=float)
    after = np.array([4, 4, 3, 5, 5, 4, 3, 3, 4, 5], dtype=float)
    d = (after - before)[after != before]  # R drops zeros: 1, 1, 2, −1, 1, 1
    ranks = stats.rankdata(np.abs(d))
    v = ranks[d > 0].sum()
    n = d.size
    _, ties = np.unique(np.abs(d), return_counts=True)
    sigma = np.sqrt(n * (n + 1) * (2 * n + 1) / 24 - (ties**3 - ties).sum() / 48)
    z = v - n * (n + 1) / 4
    z = (z - np.sign(z) * 0.5) / sigma
    row = _row(before, after)  # ties and zeros: R (and "auto") use the normal approximation
    assert row["wilcoxon_v"] == v
    assert row["wilcoxon_p"] == pytest.approx(2 * stats.norm.sf(abs(z)))
    assert row["n_paired"] == 10
    assert row["changed_share"] == pytest.approx(0.6)


def test_only_panelists_answering_both_rounds_are_paired():
    frame = pd.concat(
        [
            frame_from({"item": [1, 2, 3, np.nan]}, round_number=1),
            frame_from({"item": [1, 2, 4, 5, 6]}, round_number=2),
        ],
        ignore_index=True,
    )
    row = stability(frame).loc[(2, "item", "")]
    assert row["n_paired"] == 3
    assert row["changed_share"] == pytest.approx(1 / 3)


def test_stability_rule_threshold_is_strict_and_pvalue_optional():
    before = [3] * 20
    after = [4, 4, 4] + [3] * 17  # 15 % changed
    assert not _row(before, after)["stable"]
    assert _row(before, after, rule=StabilityRule(max_changed_share=0.16))["stable"]
    strict = StabilityRule(max_changed_share=1.0, min_pvalue=0.05)
    assert not _row([1] * 10, [5] * 10, rule=strict)["stable"]
    assert _row([3] * 10, [3] * 10, rule=strict)["stable"]  # nobody moved: p undefined


def test_tolerance_ignores_small_changes():
    row = _row([50, 50, 50, 50], [51, 52, 50, 60], tolerance=2)
    assert row["changed_share"] == 0.25


def test_first_round_has_no_stability_rows_and_n_one_does_not_crash():
    assert stability(frame_from({"item": [1, 2]})).empty
    row = _row([2], [3])
    assert row["n_paired"] == 1 and row["changed_share"] == 1.0
    assert row["wilcoxon_v"] == 1


@settings(max_examples=40, deadline=None)
@given(pairs=pairs, seed=st.integers(0, 1000))
def test_stability_does_not_depend_on_row_order(pairs, seed):
    frame = _two_rounds([a for a, _ in pairs], [b for _, b in pairs])
    shuffled = frame.sample(frac=1, random_state=np.random.default_rng(seed))
    pd.testing.assert_frame_equal(stability(frame), stability(shuffled))


def test_bad_zero_method_is_refused():
    with pytest.raises(ValueError, match="zero_method"):
        stability(_two_rounds([1], [2]), zero_method="drop")


def test_r_wilcox_test_published_output_hollander_wolfe_depression_data():
    # Hollander & Wolfe (1973, p. 29), the example of R's ?wilcox.test.  R 2.11.1, as
    # quoted in Apache Commons Math's WilcoxonSignedRankTestTest:
    # wilcox.test(x, y, paired = TRUE, exact = FALSE, correct = FALSE)
    # -> V = 40, p-value = 0.03815
    x = [1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30]
    y = [0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29]
    row = _row(y, x, correction=False, method="asymptotic")  # round 2 − round 1 = x − y
    assert row["wilcoxon_v"] == 40
    assert round(row["wilcoxon_p"], 5) == 0.03815
    # With the continuity correction: z = (40 − 22.5 − 0.5) / √71.25.
    corrected = _row(y, x, method="asymptotic")
    assert corrected["wilcoxon_p"] == pytest.approx(2 * stats.norm.sf(17 / np.sqrt(71.25)))
    # R's defaults (no ties, n < 50: exact): wilcox.test(x, y, paired = TRUE)
    # -> V = 40, p-value = 0.03906 (same source); R's ?wilcox.test example with
    # alternative = "greater" gives p = 0.01953, half of it.
    exact = _row(y, x)
    assert exact["wilcoxon_v"] == 40
    assert round(exact["wilcoxon_p"], 5) == 0.03906
    assert exact["wilcoxon_p"] == pytest.approx(2 * 0.01953, abs=1e-5)


@settings(max_examples=80, deadline=None)
@given(
    differences=st.lists(
        st.integers(-1000, 1000).filter(lambda value: value != 0),
        min_size=1,
        max_size=49,
        unique_by=abs,
    )
)
def test_auto_is_exact_without_ties_like_r_and_scipy(differences):
    after = np.array(differences, dtype=float) + 2000
    before = np.full(len(differences), 2000.0)
    row = _row(before, after)
    reference = stats.wilcoxon(after, before, method="exact")
    assert row["wilcoxon_p"] == pytest.approx(reference.pvalue, rel=1e-12)


def test_auto_switches_to_the_normal_approximation_with_ties_zeros_or_n_fifty():
    tied = _row([0, 0, 0], [1, 1, 2])
    assert tied["wilcoxon_p"] == pytest.approx(
        _row([0, 0, 0], [1, 1, 2], method="asymptotic")["wilcoxon_p"]
    )
    zero = _row([0, 0, 0], [1, 2, 0])
    assert zero["wilcoxon_p"] == pytest.approx(
        _row([0, 0, 0], [1, 2, 0], method="asymptotic")["wilcoxon_p"]
    )
    many = np.arange(1, 51, dtype=float)
    large = _row(np.zeros(50), many)
    assert large["wilcoxon_p"] == pytest.approx(
        _row(np.zeros(50), many, method="asymptotic")["wilcoxon_p"]
    )
    with pytest.raises(ValueError, match="method"):
        _row([1], [2], method="exact")
