"""IDEA-protocol numeric estimates: interval standardisation and aggregation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis import aggregate_estimates, standardise_intervals

from .conftest import frame_from


def _answers(*answers, round_number=1):
    parts = []
    for component, position in (("lowest", 0), ("highest", 1), ("best", 2), ("confidence", 3)):
        parts.append(
            frame_from(
                {"transfers": [answer[position] for answer in answers]},
                component=component,
                round_number=round_number,
            )
        )
    return pd.concat(parts, ignore_index=True)


def test_intervals_are_extrapolated_linearly_around_the_best_guess():
    # L = 10, U = 40, B = 20, C = 50 %: to 80 %, L' = 20 − 10·80/50 = 4, U' = 20 + 20·1.6 = 52.
    table = standardise_intervals(_answers((10, 40, 20, 50)))
    row = table.loc[(1, "transfers", "p0")]
    assert (row["lowest"], row["best"], row["highest"]) == pytest.approx((4, 20, 52))
    at_same_level = standardise_intervals(_answers((10, 40, 20, 80))).iloc[0]
    assert (at_same_level["lowest"], at_same_level["highest"]) == (10, 40)


def test_aggregate_is_the_mean_of_standardised_values():
    frame = _answers((10, 40, 20, 50), (0, 30, 10, 100), (5, 15, 10, 80))
    row = aggregate_estimates(frame, level=80).loc[(1, "transfers")]
    lowest = np.mean([20 - 10 * 1.6, 10 - 10 * 0.8, 5])
    highest = np.mean([20 + 20 * 1.6, 10 + 20 * 0.8, 15])
    assert row["n"] == 3
    assert row["lowest"] == pytest.approx(lowest)
    assert row["best"] == pytest.approx(np.mean([20, 10, 10]))
    assert row["highest"] == pytest.approx(highest)
    assert row["level"] == 80


def test_incomplete_or_invalid_answers_are_left_out():
    frame = _answers((10, 40, 20, 50), (0, 30, np.nan, 100), (5, 15, 10, 0))
    assert aggregate_estimates(frame).loc[(1, "transfers"), "n"] == 1


def test_no_estimates_gives_an_empty_table_and_bad_level_is_refused():
    assert aggregate_estimates(frame_from({"likert": [1, 2]})).empty
    with pytest.raises(ValueError, match="level"):
        standardise_intervals(_answers((1, 2, 1, 50)), level=0)
