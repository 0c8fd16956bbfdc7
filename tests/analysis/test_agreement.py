"""Kendall's W and Krippendorff's alpha against published examples and packages."""

from __future__ import annotations

import krippendorff
import numpy as np
import pandas as pd
import pingouin
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from analysis import kendalls_w, krippendorff_alpha

# R irr's `anxiety` data: 20 subjects rated 1–6 by 3 raters (columns rater1..rater3).
# Values as printed in DescTools' KendallW example and statsmodels' test_inter_rater.py.
ANXIETY = np.array(
    [
        [3, 3, 3, 4, 5, 5, 2, 3, 5, 2, 2, 6, 1, 5, 2, 2, 1, 2, 4, 3],
        [3, 6, 4, 6, 2, 4, 2, 4, 3, 3, 2, 3, 3, 3, 2, 2, 1, 3, 3, 4],
        [2, 1, 4, 4, 3, 2, 1, 6, 1, 1, 1, 2, 3, 3, 1, 1, 3, 3, 2, 2],
    ],
    dtype=float,
)  # raters × subjects (irr's orientation transposed)

NAN = np.nan
# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", example C:
# 4 observers (rows) × 12 units (columns) with missing values.
KRIPPENDORFF_2011 = np.array(
    [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, NAN, NAN, NAN],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, NAN, 3],
        [NAN, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, NAN],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, NAN],
    ]
)


def test_kendalls_w_on_irr_anxiety_with_tie_correction():
    result = kendalls_w(ANXIETY, correct_ties=True)
    assert round(result.w, 2) == 0.54
    assert round(result.chi2, 1) == 30.8
    assert result.df == 19
    assert round(result.pvalue, 4) == 0.0429
    assert (result.raters, result.objects) == (3, 20)


def test_kendalls_w_equals_the_friedman_test_of_pingouin():
    long = pd.DataFrame(
        [
            {"rater": rater, "subject": subject, "score": ANXIETY[rater, subject]}
            for rater in range(3)
            for subject in range(20)
        ]
    )
    friedman = pingouin.friedman(long, dv="score", within="subject", subject="rater")
    result = kendalls_w(ANXIETY, correct_ties=True)
    assert result.w == pytest.approx(friedman["W"].iloc[0], rel=1e-12)
    assert result.chi2 == pytest.approx(friedman["Q"].iloc[0], rel=1e-12)
    assert result.pvalue == pytest.approx(friedman["p_unc"].iloc[0], rel=1e-10)


def test_kendalls_w_without_tie_correction_is_the_textbook_formula():
    result = kendalls_w(ANXIETY, correct_ties=False)
    m, n = ANXIETY.shape
    ranks = np.apply_along_axis(lambda row: pd.Series(row).rank().to_numpy(), 1, ANXIETY)
    sums = ranks.sum(axis=0)
    s = ((sums - sums.mean()) ** 2).sum()
    assert result.w == pytest.approx(12 * s / (m**2 * (n**3 - n)))
    assert result.w < kendalls_w(ANXIETY).w


def test_kendalls_w_perfect_agreement_and_degenerate_input():
    assert kendalls_w(np.tile(np.arange(5.0), (4, 1))).w == pytest.approx(1.0)
    assert np.isnan(kendalls_w(np.ones((3, 4))).w)  # every rater ties everything
    assert np.isnan(kendalls_w(np.zeros((1, 4))).w)  # one rater
    assert np.isnan(kendalls_w(np.zeros((0, 4))).w)
    with_missing = np.vstack([ANXIETY, np.full(20, NAN)])
    assert kendalls_w(with_missing).w == kendalls_w(ANXIETY).w  # incomplete rater dropped


@settings(max_examples=40, deadline=None)
@given(
    ratings=arrays(
        float,
        st.tuples(st.integers(2, 6), st.integers(2, 8)),
        elements=st.integers(1, 5).map(float),
    ),
    seed=st.integers(0, 1000),
)
def test_kendalls_w_ignores_rater_order_and_matches_pingouin(ratings, seed):
    shuffled = ratings[np.random.default_rng(seed).permutation(len(ratings))]
    first, second = kendalls_w(ratings), kendalls_w(shuffled)
    assert first.w == pytest.approx(second.w, nan_ok=True)
    if not np.isnan(first.w):
        m, n = ratings.shape
        long = pd.DataFrame(
            [{"r": r, "o": o, "x": ratings[r, o]} for r in range(m) for o in range(n)]
        )
        friedman = pingouin.friedman(long, dv="x", within="o", subject="r")
        assert first.w == pytest.approx(friedman["W"].iloc[0], rel=1e-9, abs=1e-12)


@pytest.mark.parametrize(
    ("level", "published"),
    [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849), ("ratio", 0.797)],
)
def test_krippendorff_2011_published_example(level, published):
    alpha = krippendorff_alpha(KRIPPENDORFF_2011, level=level)
    assert round(alpha, 3) == published
    assert alpha == pytest.approx(
        krippendorff.alpha(reliability_data=KRIPPENDORFF_2011, level_of_measurement=level),
        rel=1e-12,
    )


reliability = arrays(
    float,
    st.tuples(st.integers(2, 6), st.integers(1, 10)),
    elements=st.one_of(st.integers(1, 5).map(float), st.just(NAN)),
)


@settings(max_examples=60, deadline=None)
@given(data=reliability, level=st.sampled_from(["nominal", "ordinal", "interval", "ratio"]))
def test_krippendorff_alpha_matches_the_krippendorff_package(data, level):
    ours = krippendorff_alpha(data, level=level)
    pairable = (~np.isnan(data)).sum(axis=0) >= 2
    values = data[:, pairable]
    if np.unique(values[~np.isnan(values)]).size < 2:
        assert np.isnan(ours)  # no variation: alpha undefined
        return
    reference = krippendorff.alpha(reliability_data=data, level_of_measurement=level)
    assert ours == pytest.approx(reference, rel=1e-9, abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(data=reliability, seed=st.integers(0, 1000))
def test_krippendorff_alpha_ignores_rater_and_unit_order(data, seed):
    generator = np.random.default_rng(seed)
    shuffled = data[generator.permutation(data.shape[0])][:, generator.permutation(data.shape[1])]
    for level in ("nominal", "ordinal", "interval", "ratio"):
        assert krippendorff_alpha(data, level=level) == pytest.approx(
            krippendorff_alpha(shuffled, level=level), nan_ok=True
        )


def test_krippendorff_alpha_degenerate_input_is_nan_and_bad_level_refused():
    assert np.isnan(krippendorff_alpha(np.full((3, 4), NAN)))
    assert np.isnan(krippendorff_alpha(np.array([[1.0, NAN], [NAN, 2.0]])))
    assert np.isnan(krippendorff_alpha(np.ones((3, 4))))
    with pytest.raises(ValueError, match="unknown level"):
        krippendorff_alpha(np.ones((2, 2)), level="metric")
