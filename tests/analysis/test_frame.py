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


def test_columns_already_of_their_type_are_shared_not_copied_and_the_input_kept():
    # A close's frame holds millions of rows: its float value and integer round columns
    # are read where they are, not copied (two copies were 190 MB at 100,000 panelists).
    frame = frame_from({"a": [1, 2, np.nan]})
    assert frame["value"].dtype == "float64" and frame["round"].dtype == "int64"
    before = frame.copy()
    prepared = prepare(frame)
    assert np.shares_memory(prepared.values, frame["value"].to_numpy())
    assert np.shares_memory(prepared.tidy["round"].to_numpy(), frame["round"].to_numpy())
    # Writing to the normalised frame never reaches the caller's (copy on write).
    tidy = prepared.tidy
    tidy.loc[0, "value"] = 99.0
    tidy.loc[0, "round"] = 7
    pd.testing.assert_frame_equal(frame, before)
    # Other types are still converted: integer values, a round column of strings.
    converted = frame.assign(value=[1, 2, 3], round=["1", "1", "1"])
    tidy = validate_frame(converted)
    assert tidy["value"].dtype == "float64" and tidy["round"].dtype == "int64"
    assert tidy["value"].tolist() == [1.0, 2.0, 3.0] and tidy["round"].tolist() == [1, 1, 1]


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


def _pairs_by_merge(frame: pd.DataFrame, group: np.ndarray) -> dict[int, list[float]]:
    """The reference for :func:`paired_differences`: each answer of round r with a
    group, minus the same panelist's answer to the same item and component in round
    r − 1, both present, listed per group in (item, component, panelist) order."""
    rows = frame.assign(group=group).dropna(subset=["value"])
    earlier = rows.assign(round=rows["round"] + 1)[
        ["panelist", "round", "item", "component", "value"]
    ]
    merged = rows.merge(
        earlier, on=["panelist", "round", "item", "component"], suffixes=("", "_before")
    )
    merged = merged[merged["group"] >= 0].sort_values(["item", "component", "panelist"])
    return {
        int(code): (part["value"] - part["value_before"]).tolist()
        for code, part in merged.groupby("group", sort=True)
    }


def _pairs_by_group(difference: np.ndarray, pair_group: np.ndarray) -> dict[int, list[float]]:
    return {int(code): difference[pair_group == code].tolist() for code in np.unique(pair_group)}


def test_both_pairings_equal_a_merge_of_the_rounds_in_order(rng):
    # Three consecutive rounds and a fourth after a gap, parts, missing answers in
    # every round, rows shuffled, and the first round's rows given no group (as a
    # close gives the rows of the previous round only).
    panelists = [f"p{number:02d}" for number in range(30)]
    parts = []
    for number in (1, 2, 3, 5):
        for item, component in (("a", ""), ("b", "low"), ("b", "high")):
            parts.append(
                pd.DataFrame(
                    {
                        "panelist": panelists,
                        "group": "",
                        "round": number,
                        "item": item,
                        "component": component,
                        "value": rng.integers(0, 5, len(panelists)).astype(float),
                    }
                ).sample(frac=0.8, random_state=number)
            )
    frame = pd.concat(parts, ignore_index=True).sample(frac=1, random_state=1)
    frame.loc[frame.index[rng.choice(len(frame), 40, replace=False)], "value"] = np.nan
    frame = frame.reset_index(drop=True)
    prepared = prepare(frame)
    codes, _ = distribution_groups(prepared)
    codes = np.where(frame["round"].to_numpy() == 1, -1, codes)
    expected = _pairs_by_merge(frame, codes)
    assert sum(len(pairs) for pairs in expected.values()) > 50
    for limit in (20_000_000, 0):
        difference, pair_group = paired_differences(prepared, codes, dense_limit=limit)
        assert _pairs_by_group(difference, pair_group) == expected


def _encoded(prepared) -> dict[str, tuple[list, list]]:
    """Every code column of a prepared selection as plain lists (values of the rows)."""
    return {
        name: (uniques[codes].tolist(), uniques.tolist())
        for name, (codes, uniques) in sorted(prepared.codes.items())
    }


def test_a_selection_of_consecutive_rows_views_them_and_equals_a_copied_one(rng):
    # Rounds in blocks, as a close loads them: one round's rows follow one another.
    frame = pd.concat(
        [
            frame_from({"a": rng.integers(1, 6, 9), "b": rng.integers(1, 6, 9)}, round_number=n)
            for n in (1, 2, 3)
        ],
        ignore_index=True,
    )
    prepared = prepare(frame)
    later = frame["round"].to_numpy() >= 2
    viewed = prepared.subset(later)
    # The same rows, chosen by positions that do not follow one another, are copied.
    shuffled = np.random.default_rng(1).permutation(len(frame))
    copied = prepare(frame.iloc[shuffled].reset_index(drop=True))
    copied = copied.subset(frame["round"].to_numpy()[shuffled] >= 2)
    order = np.argsort(shuffled[frame["round"].to_numpy()[shuffled] >= 2])
    assert np.shares_memory(viewed.values, prepared.values)
    assert np.shares_memory(viewed.codes["item"][0], prepared.codes["item"][0])
    assert viewed.values.tolist() == copied.values[order].tolist()
    for name, (values, uniques) in _encoded(viewed).items():
        other, other_uniques = _encoded(copied)[name]
        assert values == [other[index] for index in order] and uniques == other_uniques
    assert viewed.tidy.equals(frame.loc[later])
    # A selection of a selection, by a slice of it and by scattered rows of it.
    last = viewed.subset(viewed.tidy["round"].to_numpy() == 3)
    assert last.tidy.equals(frame.loc[frame["round"] == 3])
    assert last.values.tolist() == frame.loc[frame["round"] == 3, "value"].tolist()
    item_a = viewed.subset(viewed.tidy["item"].to_numpy() == "a")
    assert item_a.tidy.equals(frame.loc[later & (frame["item"] == "a").to_numpy()])
    group = viewed.select(viewed.tidy["item"].to_numpy() == "b")
    assert group.tidy.equals(frame.loc[later & (frame["item"] == "b").to_numpy()])
    assert group.codes["item"][1].tolist() == ["b"]
    assert prepared.subset(np.zeros(len(frame), dtype=bool)).values.size == 0
