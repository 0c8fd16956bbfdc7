"""Chart bars counted once at close (issue 15, point 2), checked against numpy."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.histogram import Histogram, histogram, tally


def test_continuous_bins_match_numpy_histogram():
    rng = np.random.default_rng(7)
    values = rng.uniform(0, 100, 1000)
    counted = histogram(values, minimum=0, maximum=100, discrete=False, bins=10)
    expected, edges = np.histogram(values, bins=10, range=(0, 100))
    assert counted.counts == tuple(expected.tolist())
    assert counted.edges == tuple(edges.tolist())
    assert counted.answers == 1000 and not counted.per_option


def test_discrete_bins_round_half_up_and_clamp():
    counted = histogram([1, 1.5, 2.49, 5, 7, -3, float("nan")], minimum=1, maximum=5, discrete=True)
    assert counted.options == (1, 2, 3, 4, 5)
    assert counted.counts == (2, 2, 0, 0, 2)
    assert counted.answers == 6
    assert counted.domain == (0.5, 5.5)


def test_the_order_of_values_does_not_matter_and_json_round_trips():
    values = [3.0, 1.0, 2.0, 2.0, 9.5]
    counted = histogram(values, minimum=0, maximum=10, discrete=False)
    assert counted == histogram(values[::-1], minimum=0, maximum=10, discrete=False)
    assert Histogram.from_json(counted.to_json()) == counted


@pytest.mark.parametrize("bounds", [(5, 5), (float("-inf"), float("inf")), (10, 0)])
def test_degenerate_bounds_still_give_an_axis(bounds):
    counted = histogram([1.0, 2.0], minimum=bounds[0], maximum=bounds[1], discrete=False)
    assert counted.domain[0] < counted.domain[1]
    assert sum(counted.counts) == 2


def test_a_tally_keeps_each_distinct_answer_once_with_its_count():
    distinct, counts = tally([3.0, 1.0, float("nan"), 2.5, 1.0, None, 3.0, 3.0])
    assert distinct == [1.0, 2.5, 3.0]
    assert counts == [2, 1, 3]
    assert tally([]) == ([], [])


@pytest.mark.parametrize(
    ("discrete", "minimum", "maximum"),
    [(True, 1, 5), (True, 0, 10), (False, 0, 100), (False, 20, 60), (False, -1e9, 1e9)],
)
def test_a_tally_draws_the_same_bars_as_the_answers_it_counts(discrete, minimum, maximum):
    """Drawn from ``(distinct, weights=counts)`` a histogram is the answers' own, for
    answers on and off the scale, repeated and not, with NaN among them."""
    rng = np.random.default_rng(11)
    repeated = rng.integers(-2, 120, 5_000).astype(float)  # many answers, few values
    spread = rng.normal(40, 30, 5_000).round(3)  # nearly all different
    for values in (repeated, spread, np.concatenate([repeated, [np.nan] * 7, spread])):
        distinct, counts = tally(values.tolist())
        expected = histogram(values, minimum=minimum, maximum=maximum, discrete=discrete, bins=10)
        drawn = histogram(
            distinct, minimum=minimum, maximum=maximum, discrete=discrete, bins=10, weights=counts
        )
        assert drawn == expected
        assert drawn.answers == int((~np.isnan(values)).sum())
        assert sum(counts) == drawn.answers and len(distinct) < len(values)


def test_unbounded_scales_take_the_same_range_from_a_tally():
    values = [4.0, 4.0, 9.0, 1.0, 1.0, 1.0]
    distinct, counts = tally(values)
    for bounds in ((float("-inf"), float("inf")), (float("-inf"), 5.0)):
        expected = histogram(values, minimum=bounds[0], maximum=bounds[1], discrete=False)
        assert (
            histogram(
                distinct, minimum=bounds[0], maximum=bounds[1], discrete=False, weights=counts
            )
            == expected
        )
