"""The grouped sort-based quantiles reproduce numpy's nine methods exactly."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis import QUANTILE_METHODS
from analysis.quantiles import SortedGroups, grouped_quantile

PROBABILITIES = (0.0, 0.05, 0.25, 0.3, 0.5, 0.7, 0.75, 0.95, 1.0)

samples = st.lists(
    st.lists(
        st.one_of(
            st.integers(min_value=1, max_value=9).map(float),
            st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
        ),
        min_size=0,
        max_size=15,
    ),
    min_size=1,
    max_size=6,
)


def _sorted_groups(groups: list[list[float]], rng: np.random.Generator) -> SortedGroups:
    values = np.array([value for group in groups for value in group], dtype=float)
    codes = np.array([index for index, group in enumerate(groups) for _ in group], dtype=int)
    order = rng.permutation(len(values))
    return SortedGroups.build(values[order], codes[order], len(groups))


@settings(max_examples=150, deadline=None)
@given(groups=samples, probability=st.floats(min_value=0, max_value=1))
def test_every_method_equals_numpy_quantile_bit_for_bit(groups, probability):
    data = _sorted_groups(groups, np.random.default_rng(len(groups)))
    for method in QUANTILE_METHODS:
        for p in (*PROBABILITIES, probability):
            got = data.quantile(p, method)
            for index, group in enumerate(groups):
                if not group:
                    assert np.isnan(got[index])
                    continue
                expected = np.quantile(np.array(group), p, method=method)
                assert got[index] == expected, (method, p, group)


def test_methods_are_hyndman_fan_types_one_to_nine_in_order():
    assert QUANTILE_METHODS[6] == "linear"
    assert QUANTILE_METHODS[5] == "weibull"
    assert QUANTILE_METHODS[4] == "hazen"
    assert len(QUANTILE_METHODS) == 9


def test_the_methods_example_flips_an_iqr_verdict():
    # METHODS.md: on 4,4,5,3,4,5,4,2 the IQR is 0.5 under type 7 and 1.5 under type 6.
    values = np.sort(np.array([4, 4, 5, 3, 4, 5, 4, 2], dtype=float))
    starts, counts = np.array([0]), np.array([len(values)])

    def iqr(method: str) -> float:
        q3 = grouped_quantile(values, starts, counts, 0.75, method)[0]
        q1 = grouped_quantile(values, starts, counts, 0.25, method)[0]
        return float(q3 - q1)

    assert iqr("linear") == pytest.approx(0.5)
    assert iqr("weibull") == pytest.approx(1.5)


def test_unknown_method_and_probability_are_refused():
    with pytest.raises(ValueError, match="unknown quantile method"):
        grouped_quantile(np.array([1.0]), np.array([0]), np.array([1]), 0.5, "type7")
    with pytest.raises(ValueError, match="probability"):
        grouped_quantile(np.array([1.0]), np.array([0]), np.array([1]), 1.5)


def test_tiny_differences_are_never_merged_by_the_integer_sort():
    # 1 + 2.7e-74 == 1 in floating point: shifting before checking would lose the order.
    values = np.array([-1.0, 2.706323850748952e-74, 0.0])
    data = SortedGroups.build(values, np.zeros(3, dtype=int), 1)
    assert data.values.tolist() == sorted(values.tolist())


@settings(max_examples=100, deadline=None)
@given(values=st.lists(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), max_size=30))
def test_stable_argsort_equals_numpy(values):
    from analysis.grouping import stable_argsort

    array = np.array(values, dtype=float)
    assert stable_argsort(array).tolist() == np.argsort(array, kind="stable").tolist()
    doubled = np.round(array) / 2
    assert stable_argsort(doubled).tolist() == np.argsort(doubled, kind="stable").tolist()
