"""Chart bars counted once at close (issue 15, point 2), checked against numpy."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.histogram import Histogram, histogram


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
