"""Probability pooling and scenario-set normalisation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from scipy.special import expit, logit

from analysis import normalise_scenarios, pool_probabilities
from analysis.pooling import pooled_columns

from .conftest import frame_from

PROBABILITIES = np.array([0.1, 0.2, 0.25, 0.4, 0.9, 0.05, 0.6])


def test_linear_median_and_trimmed_pools_match_numpy_and_scipy():
    assert pool_probabilities(PROBABILITIES) == pytest.approx(PROBABILITIES.mean())
    assert pool_probabilities(PROBABILITIES, method="median") == np.median(PROBABILITIES)
    for trim in (0.0, 0.1, 0.2, 0.3):
        assert pool_probabilities(PROBABILITIES, method="trimmed_mean", trim=trim) == (
            pytest.approx(stats.trim_mean(PROBABILITIES, trim))
        )


def test_geometric_mean_of_odds_matches_scipy_gmean_of_odds():
    odds = stats.gmean(PROBABILITIES / (1 - PROBABILITIES))
    assert pool_probabilities(PROBABILITIES, method="geometric_odds") == pytest.approx(
        odds / (1 + odds)
    )


def test_extremizing_pushes_away_from_one_half_and_d_one_is_geometric():
    geometric = pool_probabilities(PROBABILITIES, method="geometric_odds")
    assert pool_probabilities(PROBABILITIES, method="extremized", d=1) == pytest.approx(geometric)
    extremized = pool_probabilities(PROBABILITIES, method="extremized", d=2.5)
    assert extremized == pytest.approx(expit(2.5 * logit(PROBABILITIES).mean()))
    assert abs(extremized - 0.5) > abs(geometric - 0.5)


def test_zero_and_one_are_clipped_before_the_logit():
    assert pool_probabilities([0.0, 1.0, 0.0], method="geometric_odds") == pytest.approx(
        expit((2 * logit(0.01) + logit(0.99)) / 3)
    )
    assert pool_probabilities([0.0], method="geometric_odds", clip=0.001) == pytest.approx(0.001)


def test_missing_values_are_dropped_and_empty_is_nan():
    assert pool_probabilities([0.2, np.nan, 0.4]) == pytest.approx(0.3)
    for method in ("mean", "median", "trimmed_mean", "geometric_odds"):
        assert np.isnan(pool_probabilities([], method=method))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"method": "mode"}, "unknown pooling method"),
        ({"method": "extremized"}, "d > 0"),
        ({"method": "mean", "d": 2.0}, "applies to method 'extremized' only"),
        ({"trim": 0.5}, "trim"),
        ({"clip": 0.0}, "clip"),
    ],
)
def test_bad_settings_are_refused(options, message):
    with pytest.raises(ValueError, match=message):
        pool_probabilities([0.5], **options)


def test_probabilities_outside_zero_one_are_refused():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        pool_probabilities([50.0])


@settings(max_examples=60, deadline=None)
@given(
    groups=st.lists(st.lists(st.integers(0, 100).map(float), max_size=12), min_size=1, max_size=5),
    trim=st.sampled_from([0.0, 0.1, 0.25]),
)
def test_grouped_pools_equal_the_single_pool(groups, trim):
    values = np.concatenate([np.sort(group) for group in groups]) if any(groups) else np.zeros(0)
    counts = np.array([len(group) for group in groups])
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    codes = np.repeat(np.arange(len(groups)), counts)
    with np.errstate(all="ignore"):
        pooled = pooled_columns(values, codes, starts, counts, d=2.5, trim=trim)
    for index, group in enumerate(groups):
        p = np.array(group) / 100
        for column, method, extra in (
            ("pool_trimmed_mean", "trimmed_mean", {"trim": trim}),
            ("pool_geometric_odds", "geometric_odds", {}),
            ("pool_extremized", "extremized", {"d": 2.5}),
        ):
            expected = pool_probabilities(p, method=method, **extra) * 100
            assert pooled[column][index] == pytest.approx(expected, nan_ok=True)


def test_scenario_sets_are_normalised_per_panelist_and_reported():
    frame = pd.concat(
        [
            frame_from({"scenarios": [50, 30, 20]}, component="status_quo"),
            frame_from({"scenarios": [30, 30, np.nan]}, component="rift"),
            frame_from({"scenarios": [40, 40, 10]}, component="renewal"),
            frame_from({"other": [7, 8, 9]}),
        ],
        ignore_index=True,
    )
    normalised, report = normalise_scenarios(frame, ["scenarios"])
    p0 = normalised.loc[(normalised["panelist"] == "p0") & (normalised["item"] == "scenarios")]
    assert p0["value"].tolist() == pytest.approx([50 / 1.2, 30 / 1.2, 40 / 1.2])
    p1 = normalised.loc[(normalised["panelist"] == "p1") & (normalised["item"] == "scenarios")]
    assert p1["value"].sum() == pytest.approx(100)
    assert normalised.loc[normalised["panelist"] == "p2", "value"].head(3).isna().all()
    other = normalised.loc[normalised["item"] == "other", "value"].tolist()
    assert other == [7, 8, 9]
    row = report.loc[(1, "scenarios")]
    assert row["panelists"] == 3
    assert row["normalised"] == 1  # p0 summed to 120; p1 summed to 100
    assert row["unusable"] == 1  # p2 could not judge one scenario
    assert row["mean_total"] == pytest.approx(110)
    pd.testing.assert_frame_equal(frame, frame.copy())
