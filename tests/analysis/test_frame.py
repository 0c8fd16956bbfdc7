"""The tidy frame: validation with clear errors, and the integer encoding behind it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis import COLUMNS, FrameError, empty_frame, validate_frame
from analysis.frame import KEY_COLUMNS
from analysis.grouping import distribution_groups, factorize_sorted, prepare
from analysis.stability import paired_differences

from .conftest import frame_from


def test_empty_frame_has_the_documented_columns_and_validates():
    frame = empty_frame()
    assert tuple(frame.columns) == COLUMNS
    assert validate_frame(frame).empty


def test_missing_columns_are_all_named():
    with pytest.raises(FrameError, match="missing column\\(s\\): group, component"):
        validate_frame(frame_from({"a": [1]}).drop(columns=["group", "component"]))


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("value", "high", "'value' must be numeric"),
        ("value", np.inf, "finite numbers or NaN"),
        ("round", "first", "'round' must be integer"),
    ],
)
def test_bad_values_are_refused_naming_the_column(column, value, message):
    frame = frame_from({"a": [1, 2]})
    frame[column] = frame[column].astype(object)
    frame.loc[0, column] = value
    with pytest.raises(FrameError, match=message):
        validate_frame(frame)


def test_duplicate_answers_are_refused_naming_the_answer():
    frame = pd.concat([frame_from({"a": [1, 2]}), frame_from({"a": [3]})], ignore_index=True)
    with pytest.raises(FrameError, match="duplicate answer: panelist 'p0', round 1, item 'a'"):
        validate_frame(frame)


def test_normalisation_fills_missing_group_and_component_and_keeps_input():
    frame = frame_from({"a": [1, 2]})
    frame.loc[0, "group"] = None
    frame.loc[1, "component"] = None
    before = frame.copy()
    tidy = validate_frame(frame)
    assert tidy["group"].tolist() == ["", ""]
    assert tidy["component"].tolist() == ["", ""]
    assert tidy["value"].dtype == "float64" and tidy["round"].dtype == "int64"
    pd.testing.assert_frame_equal(frame, before)


@pytest.mark.parametrize(
    "values",
    [
        np.array(["b", "a", "c", "a"], dtype=object),
        np.array(["", "", ""], dtype=object),
        np.array([3, 1, 2, 3, 10**9], dtype=np.int64),
        np.array([5, 5, 6], dtype=np.int64),
        np.array([0.5, -1.0, 0.5]),
    ],
)
def test_factorize_sorted_matches_numpy_unique(values):
    codes, uniques = factorize_sorted(values)
    expected_uniques, expected_codes = np.unique(values, return_inverse=True)
    assert uniques.tolist() == expected_uniques.tolist()
    assert codes.tolist() == expected_codes.reshape(-1).tolist()


def test_distribution_groups_are_sorted_by_round_item_component():
    frame = pd.concat(
        [frame_from({"b": [1], "a": [2]}, round_number=2), frame_from({"b": [3]})],
        ignore_index=True,
    )
    codes, keys = distribution_groups(prepare(frame))
    assert list(keys.columns) == list(KEY_COLUMNS)
    assert keys.to_records(index=False).tolist() == [(1, "b", ""), (2, "a", ""), (2, "b", "")]
    assert codes.tolist() == [2, 1, 0]


def test_dense_and_sorted_pairing_agree(rng):
    parts = [
        frame_from({item: rng.integers(1, 6, 12)}, round_number=number)
        for number in (1, 2, 4)
        for item in ("a", "b")
    ]
    frame = pd.concat(parts, ignore_index=True).sample(frac=1, random_state=0)
    frame.loc[frame.index[:5], "value"] = np.nan
    prepared = prepare(frame)
    codes, _ = distribution_groups(prepared)
    dense = paired_differences(prepared, codes)
    by_sorting = paired_differences(prepared, codes, dense_limit=0)
    dense_pairs = sorted(zip(dense[1].tolist(), dense[0].tolist(), strict=True))
    sorted_pairs = sorted(zip(by_sorting[1].tolist(), by_sorting[0].tolist(), strict=True))
    assert dense_pairs == sorted_pairs
    assert len(dense_pairs) > 0  # rounds 1→2 pair; 2→4 is not consecutive
