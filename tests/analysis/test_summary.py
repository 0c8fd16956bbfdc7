"""summarize_round, the entry point of the round lifecycle, and summarize_groups."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis import (
    PROBABILITY_SCALE,
    SUMMARY_COLUMNS,
    ConsensusRule,
    Criterion,
    Scale,
    aggregate_estimates,
    describe,
    kendalls_w,
    krippendorff_alpha,
    pool_probabilities,
    stability,
    summarize_groups,
    summarize_round,
)

from .conftest import frame_from

LIKERT = Scale(minimum=1, maximum=5, band=(4, 5))
RULE = ConsensusRule((Criterion("iqr", {"max": 1}),))


def _study(rng, panelists=9, rounds=2):
    parts = []
    groups = [["us", "mx", "academic"][p % 3] for p in range(panelists)]
    for round_number in range(1, rounds + 1):
        for item in ("trust", "agenda"):
            parts.append(
                frame_from(
                    {item: rng.integers(1, 6, panelists)}, round_number=round_number, groups=groups
                )
            )
        parts.append(
            frame_from(
                {"strike": rng.integers(0, 101, panelists)},
                round_number=round_number,
                groups=groups,
            )
        )
        for component in ("status_quo", "rift", "renewal"):
            parts.append(
                frame_from(
                    {"scenarios": rng.integers(1, 60, panelists)},
                    round_number=round_number,
                    component=component,
                    groups=groups,
                )
            )
        for component, values in (
            ("lowest", rng.integers(0, 5, panelists)),
            ("highest", rng.integers(20, 30, panelists)),
            ("best", rng.integers(5, 20, panelists)),
            ("confidence", rng.integers(50, 100, panelists)),
        ):
            parts.append(
                frame_from(
                    {"transfers": values},
                    round_number=round_number,
                    component=component,
                    groups=groups,
                )
            )
        ranks = np.array([rng.permutation(3) + 1 for _ in range(panelists)])
        for position, component in enumerate(("tariffs", "raid", "repeal")):
            parts.append(
                frame_from(
                    {"priority": ranks[:, position]},
                    round_number=round_number,
                    component=component,
                    groups=groups,
                )
            )
    return pd.concat(parts, ignore_index=True)


SCALES = {
    "trust": LIKERT,
    "agenda": LIKERT,
    "strike": PROBABILITY_SCALE,
    "scenarios": Scale(kind="scenario_set", minimum=0, maximum=100),
    "transfers": Scale(kind="numeric_estimate"),
    "priority": Scale(kind="ranking"),
}


def test_first_version_contract_still_holds(make_frame):
    frame = make_frame({"a": [4, 4, 5, 3, 4, 5, 4, 2], "b": [1, 5, 1, 5]})
    table = summarize_round(frame, rules={"a": RULE})
    for column in ("n", "mean", "sd", "median", "q1", "q3", "iqr", "min", "max", "cv", "consensus"):
        assert column in table.columns
    assert list(table.index.names) == ["round", "item", "component"]
    assert table["consensus"].dtype == "boolean"
    assert table.loc[(1, "a", ""), "consensus"]
    assert pd.isna(table.loc[(1, "b", ""), "consensus"])


def test_columns_are_documented_and_cells_are_json_scalars(rng):
    table = summarize_round(_study(rng), rules=dict.fromkeys(SCALES, RULE), scales=SCALES)
    assert list(table.columns) == list(SUMMARY_COLUMNS)
    records = table.reset_index().astype(object).where(table.reset_index().notna(), None)
    for record in records.to_dict("records"):
        for key, value in record.items():
            assert value is None or isinstance(value, str | bool | int | float | np.generic), (
                key,
                value,
            )
            if isinstance(value, float):
                assert math.isfinite(value), key
        json.dumps(record, default=lambda value: value.item())


def test_statistics_agree_with_the_building_blocks(rng):
    frame = _study(rng)
    table = summarize_round(frame, rules={}, scales=SCALES, bootstrap_resamples=0)
    likert = frame.loc[frame["item"] == "trust"]
    described = describe(likert, scales=SCALES)
    assert table.loc[(2, "trust", ""), "iqr"] == described.loc[(2, "trust", ""), "iqr"]
    stable = stability(likert)
    assert table.loc[(2, "trust", ""), "wilcoxon_p"] == pytest.approx(
        stable.loc[(2, "trust", ""), "wilcoxon_p"]
    )
    first = table.loc[(1, "trust", "")]
    assert np.isnan(first["iqr_change"]) and first["n_paired"] == 0
    assert table.loc[(2, "trust", ""), "iqr_change"] == pytest.approx(
        described.loc[(2, "trust", ""), "iqr"] - described.loc[(1, "trust", ""), "iqr"]
    )
    strike = frame.loc[(frame["item"] == "strike") & (frame["round"] == 1), "value"] / 100
    assert table.loc[(1, "strike", ""), "pool_extremized"] == pytest.approx(
        100 * pool_probabilities(strike, method="extremized", d=2.5)
    )
    assert np.isnan(table.loc[(1, "trust", ""), "pool_geometric_odds"])


def test_scenario_sets_are_normalised_before_statistics(rng):
    table = summarize_round(_study(rng), rules={}, scales=SCALES, bootstrap_resamples=0)
    means = table.xs("scenarios", level="item").xs(1, level="round")["mean"]
    assert means.sum() == pytest.approx(100)
    assert table.loc[(1, "scenarios", "rift"), "scenario_sets_normalised"] >= 1


def test_rankings_and_panel_coefficients(rng):
    frame = _study(rng)
    table = summarize_round(frame, rules={}, scales=SCALES, bootstrap_resamples=0)
    ranking = frame.loc[(frame["item"] == "priority") & (frame["round"] == 1)]
    matrix = ranking.pivot(index="panelist", columns="component", values="value").to_numpy()
    assert table.loc[(1, "priority", "raid"), "kendall_w"] == pytest.approx(kendalls_w(matrix).w)
    likert = frame.loc[frame["item"].isin(["trust", "agenda"]) & (frame["round"] == 2)]
    wide = likert.pivot(index="panelist", columns="item", values="value").to_numpy()
    row = table.loc[(2, "agenda", "")]
    assert row["panel_kendall_w"] == pytest.approx(kendalls_w(wide).w)
    assert row["panel_alpha"] == pytest.approx(krippendorff_alpha(wide, level="ordinal"))
    assert row["panel_items"] == 2
    assert np.isnan(table.loc[(2, "strike", ""), "panel_alpha"])


def test_estimates_are_on_every_component_row(rng):
    table = summarize_round(_study(rng), rules={}, scales=SCALES, bootstrap_resamples=0)
    rows = table.xs((1, "transfers"), level=("round", "item"))
    assert rows["estimate_best"].nunique() == 1
    assert (rows["estimate_lowest"] <= rows["estimate_best"]).all()


@pytest.mark.parametrize("closing", [1, 2, 3])
def test_closing_round_summarises_one_round_with_stability(rng, closing):
    frame = _study(rng, rounds=3)
    every = summarize_round(
        frame, rules=dict.fromkeys(SCALES, RULE), scales=SCALES, bootstrap_resamples=50
    )
    closed = summarize_round(
        frame,
        rules=dict.fromkeys(SCALES, RULE),
        scales=SCALES,
        bootstrap_resamples=50,
        closing_round=closing,
    )
    assert set(closed.index.get_level_values("round")) == {closing}
    pd.testing.assert_frame_equal(closed, every.loc[[closing]])


def test_empty_frame_and_quantile_method_column(make_frame):
    table = summarize_round(make_frame({}), rules={}, quantile_method="weibull")
    assert table.empty and list(table.columns) == list(SUMMARY_COLUMNS)
    table = summarize_round(make_frame({"a": [1]}), rules={"a": RULE}, quantile_method="hazen")
    assert table["quantile_method"].tolist() == ["hazen"]
    with pytest.raises(ValueError, match="unknown quantile method"):
        summarize_round(make_frame({"a": [1]}), rules={}, quantile_method="type7")


@settings(max_examples=25, deadline=None)
@given(
    ratings=st.lists(st.one_of(st.integers(1, 5).map(float), st.just(float("nan"))), max_size=12),
    seed=st.integers(0, 100),
)
def test_never_crashes_and_ignores_row_order(ratings, seed):
    frame = pd.concat(
        [frame_from({"trust": ratings}, round_number=r) for r in (1, 2)], ignore_index=True
    )
    shuffled = frame.sample(frac=1, random_state=np.random.default_rng(seed))
    options = {"rules": {"trust": RULE}, "scales": SCALES, "bootstrap_resamples": 20}
    pd.testing.assert_frame_equal(
        summarize_round(frame, **options), summarize_round(shuffled, **options)
    )


def test_input_is_not_modified(rng):
    frame = _study(rng)
    before = frame.copy()
    summarize_round(frame, rules=dict.fromkeys(SCALES, RULE), scales=SCALES, bootstrap_resamples=10)
    pd.testing.assert_frame_equal(frame, before)


def test_subgroups_are_described_and_small_groups_masked():
    groups = ["us"] * 4 + ["mx"] * 3 + ["academic"] * 2
    frame = frame_from({"trust": [1, 2, 3, 4, 5, 5, 4, 3, 2]}, groups=groups)
    table = summarize_groups(frame, scales={"trust": LIKERT}, min_group_size=3)
    assert table.loc[(1, "us", "trust", ""), "mean"] == pytest.approx(2.5)
    academic = table.loc[(1, "academic", "trust", "")]
    assert academic["masked"] and np.isnan(academic["mean"]) and academic["n"] == 2
    # Secondary suppression: with only academics masked, the panel mean minus the others
    # would reveal them, so the smallest visible group (mx, n = 3) is masked too.
    assert table.loc[(1, "mx", "trust", ""), "masked"]
    assert not table.loc[(1, "us", "trust", ""), "masked"]


def test_subgroups_without_small_groups_hide_nothing():
    frame = frame_from({"trust": [1, 2, 3, 4, 5, 5]}, groups=["a"] * 3 + ["b"] * 3)
    table = summarize_groups(frame, min_group_size=3)
    assert not table["masked"].any()
    with pytest.raises(ValueError, match="min_group_size"):
        summarize_groups(frame, min_group_size=0)


def test_subgroups_get_every_statistic_of_the_round_summary(rng):
    frame = _study(rng)
    table = summarize_groups(
        frame, rules=dict.fromkeys(SCALES, RULE), scales=SCALES, bootstrap_resamples=0
    )
    assert list(table.index.names) == ["round", "group", "item", "component"]
    assert set(SUMMARY_COLUMNS) | {"masked"} == set(table.columns)
    us = frame.loc[frame["group"] == "us"]
    alone = summarize_round(
        us, rules=dict.fromkeys(SCALES, RULE), scales=SCALES, bootstrap_resamples=0
    )
    row = table.loc[(2, "us", "trust", "")]
    assert row["wilcoxon_p"] == pytest.approx(
        alone.loc[(2, "trust", ""), "wilcoxon_p"], nan_ok=True
    )
    assert row["iqr"] == alone.loc[(2, "trust", ""), "iqr"]


def test_subgroups_of_an_empty_frame(make_frame):
    table = summarize_groups(make_frame({}))
    assert table.empty and "masked" in table.columns


def test_part_rules_reach_the_summary_and_every_subgroup():
    """A numeric estimate decided on its best guess alone: its confidence has no rule."""
    groups = ["us", "mx"] * 3
    best = frame_from({"est": [10, 11, 12, 10, 11, 12]}, component="best", groups=groups)
    confidence = frame_from(
        {"est": [50, 90, 60, 80, 70, 100]}, component="confidence", groups=groups
    )
    frame = pd.concat([best, confidence], ignore_index=True)
    cv = ConsensusRule((Criterion("cv", {"max": 0.5}),))
    options = {
        "rules": {"est": RULE},
        "part_rules": {("est", "best"): cv, ("est", "confidence"): None},
        "scales": {"est": Scale(kind="numeric_estimate")},
        "bootstrap_resamples": 0,
    }
    table = summarize_round(frame, **options)
    assert table.loc[(1, "est", "best"), "rule"] == "all of: cv <= 0.5"
    assert table.loc[(1, "est", "best"), "state"] == "consensus"
    assert pd.isna(table.loc[(1, "est", "confidence"), "state"])
    groups_table = summarize_groups(frame, min_group_size=1, **options)
    assert set(groups_table.xs("best", level="component")["rule"]) == {"all of: cv <= 0.5"}
    assert groups_table.xs("confidence", level="component")["state"].isna().all()


def test_each_estimate_is_standardised_to_its_own_level(rng):
    """A mapping item → level gives each numeric estimate exactly what a separate run at
    its level gives; an estimate the mapping leaves out is standardised to 80 %."""
    frame = _study(rng)
    twin = frame[frame["item"] == "transfers"].assign(item="deaths")
    twin["value"] = np.where(twin["component"] == "confidence", twin["value"], twin["value"] * 3)
    third = frame[frame["item"] == "transfers"].assign(item="arrests")
    frame = pd.concat([frame, twin, third], ignore_index=True)
    scales = {**SCALES, "deaths": Scale(kind="numeric_estimate")}
    scales["arrests"] = Scale(kind="numeric_estimate")
    levels = {"transfers": 90.0, "deaths": 60.0}
    options = {"rules": {}, "scales": scales, "bootstrap_resamples": 0}
    table = summarize_round(frame, estimate_level=levels, **options)
    columns = {"estimate_lowest": "lowest", "estimate_best": "best", "estimate_highest": "highest"}
    for item, level in (*levels.items(), ("arrests", 80.0)):
        expected = aggregate_estimates(frame[frame["item"] == item], level=level)
        for round_number in (1, 2):
            row = table.loc[(round_number, item, "best")]
            for column, source in columns.items():
                assert row[column] == pytest.approx(expected.loc[(round_number, item), source])
    # Only the estimates' intervals depend on the levels; one level for all is a float.
    at_80 = summarize_round(frame, **options)
    others = table.index.get_level_values("item") != "transfers"
    others &= table.index.get_level_values("item") != "deaths"
    pd.testing.assert_frame_equal(table[others], at_80[others])
    assert not np.allclose(
        table.loc[(1, "transfers", "best"), "estimate_lowest"],
        at_80.loc[(1, "transfers", "best"), "estimate_lowest"],
    )
    uniform = summarize_round(frame, estimate_level=70.0, **options)
    mapped = summarize_round(
        frame, estimate_level=dict.fromkeys(("transfers", "deaths", "arrests"), 70.0), **options
    )
    pd.testing.assert_frame_equal(uniform, mapped)
    grouped = summarize_groups(frame, min_group_size=1, estimate_level=levels, **options)
    one_group = frame[frame["group"] == "us"]
    expected = aggregate_estimates(one_group[one_group["item"] == "deaths"], level=60.0)
    assert grouped.loc[(1, "us", "deaths", "best"), "estimate_highest"] == pytest.approx(
        expected.loc[(1, "deaths"), "highest"]
    )


@pytest.mark.parametrize("level", [0.0, -5.0, 100.5])
def test_an_estimate_level_outside_0_to_100_is_refused(rng, level):
    with pytest.raises(ValueError, match="estimate_level"):
        summarize_round(_study(rng), rules={}, scales=SCALES, estimate_level={"transfers": level})


def test_a_prepared_frame_gives_the_same_summaries(rng):
    # The close encodes the answers once (analysis.prepare) for the panel's summary and
    # every subgroup's; the tables must equal those of the plain frame, to the bit.
    from analysis import prepare

    frame = _study(rng, panelists=12)
    settings = {
        "rules": dict.fromkeys(SCALES, RULE),
        "scales": SCALES,
        "closing_round": 2,
        "bootstrap_resamples": 50,
    }
    prepared = prepare(frame)
    pd.testing.assert_frame_equal(
        summarize_round(prepared, **settings), summarize_round(frame, **settings)
    )
    pd.testing.assert_frame_equal(
        summarize_groups(prepared, min_group_size=2, **settings),
        summarize_groups(frame, min_group_size=2, **settings),
    )


def test_a_selection_is_encoded_as_its_rows_alone(rng):
    from analysis import prepare

    frame = _study(rng, panelists=7)
    chosen = (frame["group"] == "mx").to_numpy() & (frame["item"] != "trust").to_numpy()
    selected = prepare(frame).select(chosen)
    alone = prepare(frame.loc[chosen])
    for name in ("panelist", "round", "item", "component"):
        codes, uniques = selected.column(name)
        expected_codes, expected_uniques = alone.column(name)
        np.testing.assert_array_equal(codes, expected_codes)
        np.testing.assert_array_equal(uniques, expected_uniques)
    pd.testing.assert_frame_equal(selected.tidy, alone.tidy)
