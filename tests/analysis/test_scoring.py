"""Brier and logarithmic scores, calibration tables and the forecasters' score table."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import brier_score_loss, log_loss
from statsmodels.stats.proportion import proportion_confint

from analysis import (
    POOLING_METHODS,
    brier_score,
    calibration_table,
    categorical_brier_score,
    categorical_log_score,
    log_score,
    pool_probabilities,
    pool_versus_panelists,
    score_forecasts,
)
from analysis.pool_groups import pool_groups

from .components import components_frame
from .conftest import frame_from


def test_brier_score_by_hand():
    assert brier_score(0.7, 1) == pytest.approx(0.09)
    assert brier_score(0.7, 0) == pytest.approx(0.49)
    assert brier_score(1.0, True) == 0.0
    np.testing.assert_allclose(brier_score([0.1, 0.6], [0, 1]), [0.01, 0.16])


def test_log_score_by_hand_and_its_clip():
    assert log_score(0.8, 1) == pytest.approx(0.2231435513)
    assert log_score(0.8, 0) == pytest.approx(1.6094379124)
    # 0 % is read as 1 %: the worst score is ln 100, and 100 % that comes true costs ln(1/0.99).
    assert log_score(0.0, 1) == pytest.approx(math.log(100))
    assert log_score(1.0, 1) == pytest.approx(-math.log(0.99))
    assert log_score(0.0, 1, clip=0.001) == pytest.approx(math.log(1000))
    assert log_score(0.0, 1, clip=0) == math.inf


def test_missing_forecasts_and_outcomes_score_nan():
    scores = brier_score([0.2, np.nan, 0.4], [1, 1, np.nan])
    assert scores[0] == pytest.approx(0.64)
    assert np.isnan(scores[1:]).all()
    assert np.isnan(log_score([0.2, np.nan], [np.nan, 1])).all()


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: brier_score(1.2, 1), "lie in"),
        (lambda: brier_score(0.5, 2), "0 or 1"),
        (lambda: log_score(0.5, 1, clip=0.5), "clip"),
        (lambda: categorical_brier_score([0.2, 0.2], 0), "sum to 1"),
        (lambda: categorical_brier_score([0.5, 0.5], 2), "indices"),
        (lambda: categorical_log_score([[0.5, 0.5]], [0, 1]), "shape"),
    ],
)
def test_bad_input_is_refused(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_scores_match_sklearn(rng):
    p = rng.uniform(0.01, 0.99, 200)
    outcome = rng.uniform(size=200) < p
    assert np.mean(brier_score(p, outcome)) == pytest.approx(brier_score_loss(outcome, p))
    assert np.mean(log_score(p, outcome)) == pytest.approx(log_loss(outcome, p))
    assert np.mean(log_score(p, outcome, clip=0)) == pytest.approx(log_loss(outcome, p))


def test_categorical_scores_by_hand_and_against_sklearn(rng):
    forecast = [0.2, 0.3, 0.5]
    assert categorical_brier_score(forecast, 2) == pytest.approx(0.04 + 0.09 + 0.25)
    assert categorical_brier_score(forecast, 0) == pytest.approx(0.64 + 0.09 + 0.25)
    assert categorical_log_score(forecast, 1) == pytest.approx(-math.log(0.3))
    # Two categories: Brier's sum is twice the binary score; the log scores agree.
    assert categorical_brier_score([0.3, 0.7], 1) == pytest.approx(2 * brier_score(0.7, 1))
    assert categorical_log_score([0.3, 0.7], 0) == pytest.approx(log_score(0.7, 0))

    sets = rng.dirichlet([2, 3, 4], size=100)
    sets = np.clip(sets, 0.01, 0.99)
    sets /= sets.sum(axis=1, keepdims=True)
    realised = rng.integers(0, 3, size=100)
    assert np.mean(categorical_log_score(sets, realised, clip=0)) == pytest.approx(
        log_loss(realised, sets, labels=[0, 1, 2])
    )
    one_hot = np.eye(3)[realised]
    assert np.mean(categorical_brier_score(sets, realised)) == pytest.approx(
        np.mean(((sets - one_hot) ** 2).sum(axis=1))
    )
    unresolved = categorical_brier_score(sets[:2], [np.nan, 1])
    assert np.isnan(unresolved[0]) and not np.isnan(unresolved[1])


def test_calibration_table_by_hand_with_wilson_intervals():
    p = [0.05, 0.15, 0.12, 0.95, 1.0, np.nan]
    outcome = [0, 1, 0, 1, 1, 1]
    table = calibration_table(p, outcome, bins=10)
    assert list(table.index) == list(range(10))
    assert table["count"].tolist() == [1, 2, 0, 0, 0, 0, 0, 0, 0, 2]
    assert table["events"].tolist() == [0, 1, 0, 0, 0, 0, 0, 0, 0, 2]
    assert table.loc[1, "mean_forecast"] == pytest.approx(0.135)
    assert table.loc[1, "observed_frequency"] == 0.5
    assert table.loc[9, "mean_forecast"] == pytest.approx(0.975)
    assert table.loc[9, "bin_low"] == pytest.approx(0.9) and table.loc[9, "bin_high"] == 1.0
    assert np.isnan(table.loc[4, ["mean_forecast", "ci_low"]].astype(float)).all()
    for position, (events, count) in {0: (0, 1), 1: (1, 2), 9: (2, 2)}.items():
        low, high = proportion_confint(events, count, alpha=0.05, method="wilson")
        assert table.loc[position, "ci_low"] == pytest.approx(low)
        assert table.loc[position, "ci_high"] == pytest.approx(high)
    # Wilson by formula: k = 1 of n = 2, z = 1.96.
    z = stats.norm.ppf(0.975)
    centre = (1 + z**2 / 2) / (2 + z**2)
    half = z / (2 + z**2) * math.sqrt(1 * 1 / 2 + z**2 / 4)
    assert table.loc[1, "ci_low"] == pytest.approx(centre - half)


def test_a_forecast_on_a_bin_edge_lies_in_the_bin_it_opens():
    """Answers are whole percent: 30 %, 60 % and 70 % (0.3, 0.6, 0.7) once fell in the
    bin below, as numpy's linspace gives 0.30000000000000004 for the edge 3/10."""
    edges_hit = [k / 100 for k in range(0, 101, 10)]
    table = calibration_table(edges_hit, [1] * len(edges_hit), bins=10)
    # One forecast per bin, and 100 % in the last (closed) bin with 90 %.
    assert table["count"].tolist() == [1] * 9 + [2]
    assert table.loc[3, "mean_forecast"] == 0.3 and table.loc[7, "mean_forecast"] == 0.7
    assert table.loc[3, "bin_low"] == 0.3


def test_calibration_table_custom_edges_and_errors():
    table = calibration_table([0.1, 0.5, 0.7], [0, 1, 1], bins=[0, 0.5, 1])
    assert table["count"].tolist() == [1, 2]
    with pytest.raises(ValueError, match="edges"):
        calibration_table([0.1], [0], bins=[0.1, 1])
    with pytest.raises(ValueError, match="same number"):
        calibration_table([0.1, 0.2], [0])


def test_grouped_pools_equal_pool_probabilities(rng):
    values = rng.uniform(size=60)
    values[::7] = np.nan
    values[3] = 0.0
    codes = rng.integers(0, 6, size=60)
    for method in POOLING_METHODS:
        d = 2.5 if method == "extremized" else None
        pooled = pool_groups(values, codes, 7, method=method, d=d, trim=0.2)
        for group in range(6):
            expected = pool_probabilities(values[codes == group], method=method, d=d, trim=0.2)
            assert pooled[group] == pytest.approx(expected)
        assert np.isnan(pooled[6])


def _study_frame() -> pd.DataFrame:
    """Three panelists: two probability items and a three-scenario set."""
    probabilities = frame_from({"rain": [80, 40, 100], "war": [10, 0, 30]})
    scenarios = components_frame(
        "future", {"calm": [50, 20, 30], "tense": [30, 40, 60], "crisis": [20, 40, 10]}
    )
    earlier = frame_from({"rain": [10, 10, 10]}, round_number=1)
    latest = pd.concat([probabilities, scenarios], ignore_index=True)
    latest["round"] = 2
    return pd.concat([earlier, latest], ignore_index=True)


def test_score_table_by_hand():
    scores = score_forecasts(_study_frame(), {"rain": 1, "war": False, "future": "tense"})
    items = scores.items.set_index(["kind", "forecaster", "item"])
    # Panelist p0: rain 0.8 happened, war 0.1 did not, tense had 0.3.
    assert items.loc[("panelist", "p0", "rain"), "brier"] == pytest.approx(0.04)
    assert items.loc[("panelist", "p0", "war"), "log"] == pytest.approx(-math.log(0.9))
    assert items.loc[("panelist", "p0", "future"), "brier"] == pytest.approx(
        0.5**2 + 0.7**2 + 0.2**2
    )
    assert items.loc[("panelist", "p0", "future"), "log"] == pytest.approx(-math.log(0.3))
    # p1's war answer of 0 % did not happen: clipped at 1 % it scores -ln 0.99.
    assert items.loc[("panelist", "p1", "war"), "log"] == pytest.approx(-math.log(0.99))
    # The linear pool of rain is (0.8 + 0.4 + 1.0) / 3; the round-1 answers are not used.
    assert items.loc[("pool", "mean", "rain"), "brier"] == pytest.approx((1 - 2.2 / 3) ** 2)
    median_tense = np.median([0.3, 0.4, 0.6])
    pooled_set = np.array([np.median([0.5, 0.2, 0.3]), median_tense, np.median([0.2, 0.4, 0.1])])
    pooled_set /= pooled_set.sum()
    assert items.loc[("pool", "median", "future"), "log"] == pytest.approx(-math.log(pooled_set[1]))
    summary = scores.summary
    assert summary.loc[("panelist", "p0"), "items"] == 3
    assert summary.loc[("panelist", "p0"), "probability_items"] == 2
    assert summary.loc[("panelist", "p0"), "brier"] == pytest.approx((0.04 + 0.01) / 2)
    assert summary.loc[("panelist", "p0"), "log"] == pytest.approx(
        (-math.log(0.8) - math.log(0.9) - math.log(0.3)) / 3
    )
    assert set(summary.loc["pool"].index) == set(POOLING_METHODS)
    assert scores.settings["rounds"] == {"future": 2, "rain": 2, "war": 2}


def test_score_table_events_feed_the_calibration_table():
    scores = score_forecasts(_study_frame(), {"rain": 1, "war": 0, "future": "tense"})
    mine = scores.forecasts[
        (scores.forecasts["kind"] == "panelist") & (scores.forecasts["forecaster"] == "p2")
    ]
    assert len(mine) == 5  # two probability items and three scenarios
    assert mine["outcome"].sum() == 2  # rain happened, tense is the realised scenario
    table = calibration_table(mine["forecast"], mine["outcome"], bins=2)
    assert table["count"].sum() == 5


def test_missing_answers_and_unresolved_items_are_not_scored():
    frame = _study_frame()
    frame.loc[(frame["panelist"] == "p1") & (frame["item"] == "war"), "value"] = np.nan
    frame.loc[
        (frame["panelist"] == "p2") & (frame["item"] == "future") & (frame["component"] == "calm"),
        "value",
    ] = np.nan
    scores = score_forecasts(frame, {"war": 1, "future": "calm", "rain": None})
    panel = scores.summary.loc["panelist"]
    assert panel["items"].to_dict() == {"p0": 2, "p1": 1, "p2": 1}
    assert "rain" not in set(scores.items["item"])


def test_score_table_refuses_mismatched_outcomes():
    with pytest.raises(ValueError, match="scenario set"):
        score_forecasts(_study_frame(), {"future": 1})
    with pytest.raises(ValueError, match="not a scenario set"):
        score_forecasts(_study_frame(), {"rain": "calm"})
    with pytest.raises(ValueError, match="no scenario"):
        score_forecasts(_study_frame(), {"future": "peace"})
    with pytest.raises(ValueError, match="0 or 1"):
        score_forecasts(_study_frame(), {"rain": 0.5})


def test_score_table_leaves_its_input_alone():
    frame = _study_frame()
    before = frame.copy()
    score_forecasts(frame, {"rain": 1, "future": "calm"}, round_number=2)
    pd.testing.assert_frame_equal(frame, before)


def _score_rows(rows):
    return pd.DataFrame(rows, columns=["kind", "forecaster", "item", "log"])


def test_pool_versus_panelists_by_hand():
    items = _score_rows(
        [
            ("pool", "mean", "a", 0.2),
            ("pool", "mean", "b", 1.0),
            ("pool", "median", "a", 0.5),
            ("panelist", "x", "a", 0.3),  # mean's 0.2 beats 0.3; median's 0.5 loses
            ("panelist", "y", "a", 0.1),  # (0.1 + 0.9) / 2 = 0.5 beats mean's 0.6
            ("panelist", "y", "b", 0.9),
            ("panelist", "z", "b", 1.0),  # ties the mean; median has no score on b
        ]
    )
    table = pool_versus_panelists(items)
    assert list(table.index) == ["mean", "median"]
    assert table.loc["mean"].to_dict() == {
        "panelists": 3,
        "pool_better": 1,
        "tied": 1,
        "panelist_better": 1,
    }
    # The median pool is compared on item a alone: x and y both beat its 0.5.
    assert table.loc["median"].to_dict() == {
        "panelists": 2,
        "pool_better": 0,
        "tied": 0,
        "panelist_better": 2,
    }


def test_pool_versus_panelists_matches_a_loop_over_the_score_table():
    scores = score_forecasts(_study_frame(), {"rain": 1, "war": False, "future": "tense"})
    table = pool_versus_panelists(scores.items)
    rows = scores.items.to_dict("records")
    pool_logs = {(r["forecaster"], r["item"]): r["log"] for r in rows if r["kind"] == "pool"}
    for pool in POOLING_METHODS:
        counts = {"pool_better": 0, "tied": 0, "panelist_better": 0}
        for panelist in sorted({r["forecaster"] for r in rows if r["kind"] == "panelist"}):
            mine = [r for r in rows if r["kind"] == "panelist" and r["forecaster"] == panelist]
            own = sum(r["log"] for r in mine) / len(mine)
            pooled = sum(pool_logs[(pool, r["item"])] for r in mine) / len(mine)
            key = (
                "tied"
                if abs(own - pooled) <= 1e-12
                else ("pool_better" if pooled < own else "panelist_better")
            )
            counts[key] += 1
        assert table.loc[pool].to_dict() == {"panelists": 3, **counts}


def test_pool_versus_panelists_without_pools_or_panelists_is_empty():
    assert pool_versus_panelists(_score_rows([("pool", "mean", "a", 0.2)])).empty
    assert pool_versus_panelists(_score_rows([("panelist", "x", "a", 0.2)])).empty
    assert pool_versus_panelists(_score_rows([])).empty
