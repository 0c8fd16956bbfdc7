"""describe(): every per-item statistic against a reference implementation."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from analysis import DESCRIBE_COLUMNS, QUANTILE_METHODS, Scale, bootstrap_median_ci, describe

from .conftest import frame_from

LIKERT = Scale(minimum=1, maximum=5, band=(4, 5))

ratings_lists = st.lists(st.integers(min_value=1, max_value=5).map(float), max_size=30)


def _row(ratings, *, scale=LIKERT, method="linear"):
    frame = frame_from({"item": ratings})
    table = describe(frame, quantile_method=method, scales={"item": scale})
    return table.loc[(1, "item", "")]


@pytest.mark.parametrize("method", QUANTILE_METHODS)
def test_statistics_match_pandas_numpy_and_scipy(rng, method):
    ratings = rng.integers(1, 6, size=23).astype(float)
    row = _row(ratings, method=method)
    series = pd.Series(ratings)
    assert row["n"] == 23
    assert row["mean"] == pytest.approx(series.mean(), rel=1e-14)
    assert row["sd"] == pytest.approx(series.std(), rel=1e-12)  # pandas: n − 1
    assert row["sd"] == pytest.approx(np.std(ratings, ddof=1), rel=1e-12)
    for column, probability in (
        ("q1", 0.25),
        ("median", 0.5),
        ("q3", 0.75),
        ("p30", 0.3),
        ("p70", 0.7),
    ):
        assert row[column] == np.quantile(ratings, probability, method=method)
    assert row["iqr"] == pytest.approx(
        np.quantile(ratings, 0.75, method=method) - np.quantile(ratings, 0.25, method=method)
    )
    assert row["min"] == ratings.min()
    assert row["max"] == ratings.max()
    assert row["cv"] == pytest.approx(np.std(ratings, ddof=1) / ratings.mean(), rel=1e-12)
    assert row["cv"] != pytest.approx(stats.variation(ratings))  # scipy uses n, not n − 1
    median = np.quantile(ratings, 0.5, method=method)
    assert row["mad"] == np.quantile(np.abs(ratings - median), 0.5, method=method)
    assert row["ad_mean"] == pytest.approx(np.mean(np.abs(ratings - ratings.mean())))
    assert row["ad_median"] == pytest.approx(np.mean(np.abs(ratings - median)))


def test_mad_equals_scipy_median_abs_deviation_unscaled(rng):
    ratings = rng.normal(size=40)
    row = _row(ratings, scale=Scale(kind="probability", minimum=-10, maximum=10))
    assert row["mad"] == pytest.approx(stats.median_abs_deviation(ratings, scale=1.0))


def test_rwg_against_james_demaree_wolf_definition():
    # A = 5 options: σ²_EU = (25 − 1) / 12 = 2.
    ratings = [4, 4, 5, 3, 4, 5, 4, 2]
    row = _row(ratings)
    assert row["rwg"] == pytest.approx(1 - np.var(ratings, ddof=1) / 2.0)


def test_rwg_is_truncated_at_zero_when_variance_exceeds_the_uniform_null():
    row = _row([1, 1, 1, 5, 5, 5])  # s² = 4.8 > 2
    assert row["rwg"] == 0.0


def test_rwg_uses_the_step_of_a_scale_that_is_not_one_apart():
    # 0–100 in 11 options (step 10): σ²_EU = 10² · (121 − 1) / 12 = 1000.
    ratings = [60, 70, 70, 80]
    row = _row(ratings, scale=Scale(kind="likert", minimum=0, maximum=100, options=11))
    assert row["rwg"] == pytest.approx(1 - np.var(ratings, ddof=1) / 1000)


def test_share_counts_the_band_ends_and_divides_by_valid_ratings():
    frame = frame_from({"item": [5, 4, 3, 2, np.nan]})
    row = describe(frame, scales={"item": LIKERT}).loc[(1, "item", "")]
    assert row["n"] == 4
    assert row["n_cannot_judge"] == 1
    assert row["share"] == 0.5  # 2 of the 4 valid ratings, not of 5 panelists


def test_histogram_counts_each_option_like_numpy_bincount(rng):
    ratings = rng.integers(1, 6, size=50)
    row = _row(ratings.astype(float))
    assert json.loads(row["histogram"]) == np.bincount(ratings - 1, minlength=5).tolist()


def test_histogram_of_a_continuous_scale_matches_numpy_histogram(rng):
    ratings = rng.uniform(0, 100, size=60)
    ratings[:3] = [0.0, 100.0, 50.0]
    row = _row(ratings, scale=Scale(kind="probability", minimum=0, maximum=100))
    expected, _ = np.histogram(ratings, bins=10, range=(0, 100))
    assert json.loads(row["histogram"]) == expected.tolist()


def test_items_without_a_scale_have_no_scale_statistics():
    table = describe(frame_from({"free": [1, 2, 3]}))
    row = table.loc[(1, "free", "")]
    assert np.isnan(row["rwg"]) and np.isnan(row["share"]) and pd.isna(row["histogram"])


def test_empty_frame_gives_empty_table_with_the_documented_columns():
    table = describe(frame_from({}))
    assert list(table.columns) == list(DESCRIBE_COLUMNS)
    assert table.empty
    assert list(table.index.names) == ["round", "item", "component"]


def test_only_cannot_judge_answers_give_n_zero_and_nan():
    row = _row([np.nan, np.nan])
    assert row["n"] == 0 and row["n_cannot_judge"] == 2
    for column in ("mean", "sd", "median", "iqr", "min", "max", "cv", "mad", "rwg", "share"):
        assert np.isnan(row[column]), column


def test_one_rating_has_location_but_no_spread():
    row = _row([4])
    assert row["mean"] == row["median"] == row["min"] == row["max"] == 4
    assert row["iqr"] == 0 and row["mad"] == 0 and row["ad_mean"] == 0
    assert np.isnan(row["sd"]) and np.isnan(row["cv"]) and np.isnan(row["rwg"])


def test_identical_ratings_have_zero_spread_and_full_agreement():
    row = _row([3, 3, 3, 3])
    assert row["sd"] == 0 and row["iqr"] == 0 and row["cv"] == 0 and row["rwg"] == 1


def test_zero_mean_has_undefined_cv():
    row = _row([-1, 1], scale=Scale(kind="probability", minimum=-5, maximum=5))
    assert np.isnan(row["cv"])


def test_input_frame_is_not_modified():
    frame = frame_from({"item": [1, 2, np.nan]})
    before = frame.copy()
    describe(frame, scales={"item": LIKERT})
    pd.testing.assert_frame_equal(frame, before)


NUMERIC = [column for column in DESCRIBE_COLUMNS if column != "histogram"]


@settings(max_examples=60, deadline=None)
@given(ratings=ratings_lists, seed=st.integers(min_value=0, max_value=2**32 - 1))
def test_statistics_do_not_depend_on_panelist_order(ratings, seed):
    frame = frame_from({"item": ratings, "other": ratings[::-1]})
    shuffled = frame.sample(frac=1, random_state=np.random.default_rng(seed))
    scales = {"item": LIKERT, "other": LIKERT}
    pd.testing.assert_frame_equal(describe(frame, scales=scales), describe(shuffled, scales=scales))


@settings(max_examples=60, deadline=None)
@given(
    ratings=st.lists(st.integers(min_value=-50, max_value=50).map(float), max_size=25),
    shift=st.integers(min_value=-20, max_value=20),
    factor=st.integers(min_value=1, max_value=8),
)
def test_shift_and_scale_behave_as_defined(ratings, shift, factor):
    base = describe(frame_from({"item": ratings})).iloc[0] if ratings else None
    moved = describe(frame_from({"item": [factor * x + shift for x in ratings]}))
    if base is None:
        assert moved.empty
        return
    row = moved.iloc[0]
    for column in ("mean", "median", "q1", "q3", "min", "max", "p30", "p70"):
        assert row[column] == pytest.approx(factor * base[column] + shift, abs=1e-9)
    for column in ("sd", "iqr", "mad", "ad_mean", "ad_median"):
        assert row[column] == pytest.approx(factor * base[column], abs=1e-9, nan_ok=True)
    if shift == 0:  # the coefficient of variation is scale-free
        assert row["cv"] == pytest.approx(base["cv"], rel=1e-9, nan_ok=True)


@settings(max_examples=60, deadline=None)
@given(ratings=ratings_lists, method=st.sampled_from(QUANTILE_METHODS))
def test_any_valid_input_gives_a_row_without_raising(ratings, method):
    table = describe(frame_from({"item": ratings}), quantile_method=method, scales={"item": LIKERT})
    if ratings:
        assert table.loc[(1, "item", ""), "n"] == len(ratings)
        assert set(NUMERIC) <= set(table.columns)


def test_bootstrap_interval_is_reproducible_and_brackets_the_median(rng):
    ratings = rng.integers(1, 10, size=15).astype(float)
    frame = frame_from({"item": ratings, "other": ratings + 1})
    first = bootstrap_median_ci(frame, resamples=500, seed=7)
    again = bootstrap_median_ci(frame.iloc[::-1], resamples=500, seed=7)
    only_item = bootstrap_median_ci(frame.loc[frame["item"] == "item"], resamples=500, seed=7)
    pd.testing.assert_frame_equal(first, again)
    assert first.loc[(1, "item", "")].equals(only_item.loc[(1, "item", "")])
    low, high = first.loc[(1, "item", "")]
    assert low <= np.median(ratings) <= high


def test_bootstrap_matches_a_reference_percentile_bootstrap():
    # The same draws through numpy's own quantile give the same interval.
    import zlib

    ratings = np.array([2, 3, 3, 4, 4, 4, 5, 6, 7, 9], dtype=float)
    interval = bootstrap_median_ci(frame_from({"item": ratings}), resamples=300, seed=3)
    generator = np.random.default_rng([3, zlib.crc32(b"1\x1fitem\x1f")])
    draws = np.sort(ratings)[generator.integers(0, 10, size=(300, 10))]
    medians = np.median(draws, axis=1)
    expected = np.quantile(medians, [0.025, 0.975])
    assert tuple(interval.iloc[0]) == pytest.approx(tuple(expected))


def test_bootstrap_of_empty_and_single_values():
    frame = frame_from({"one": [4.0], "none": [np.nan]})
    table = bootstrap_median_ci(frame, resamples=50)
    assert tuple(table.loc[(1, "one", "")]) == (4.0, 4.0)
    assert table.loc[(1, "none", "")].isna().all()


@settings(max_examples=150, deadline=None)
@given(
    groups=st.lists(
        st.lists(
            st.one_of(
                st.integers(-3, 3).map(float),
                st.floats(min_value=-100, max_value=100, allow_nan=False),
            ),
            max_size=20,
        ),
        min_size=1,
        max_size=5,
    ),
    method=st.sampled_from(QUANTILE_METHODS),
)
def test_mad_without_sorting_equals_numpy_on_the_deviations(groups, method):
    from analysis.describe import median_absolute_deviation
    from analysis.quantiles import SortedGroups

    values = np.array([value for group in groups for value in group], dtype=float)
    codes = np.array([index for index, group in enumerate(groups) for _ in group], dtype=int)
    data = SortedGroups.build(values, codes, len(groups))
    median = data.quantile(0.5, method)
    mad = median_absolute_deviation(data, median, method)
    for index, group in enumerate(groups):
        if not group:
            assert np.isnan(mad[index])
            continue
        sample = np.array(group)
        centre = np.quantile(sample, 0.5, method=method)
        assert mad[index] == np.quantile(np.abs(sample - centre), 0.5, method=method)
