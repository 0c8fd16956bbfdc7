"""Diagnostic signposts and the scenario tracker (Bayes' rule over dated observations)."""

from __future__ import annotations

import itertools
import math
from datetime import date

import numpy as np
import pandas as pd
import pytest

from analysis import (
    Observation,
    cell_component,
    cross_impact,
    pooled_scenarios,
    signpost_diagnostics,
    update_scenarios,
)

from .components import components_frame

PRIOR = {"a": 0.5, "b": 0.3, "c": 0.2}


def _signposts() -> pd.DataFrame:
    """Two experts; s1 diagnostic, s2 flat, s3 extreme (0 % and 100 %)."""
    answers = {
        "s1": {"a": [80, 60], "b": [20, 40], "c": [10, 10]},
        "s2": {"a": [50, 50], "b": [50, 50], "c": [50, 50]},
        "s3": {"a": [0, 0], "b": [100, 100], "c": [50, 50]},
    }
    return pd.concat(
        [components_frame(item, cells) for item, cells in answers.items()], ignore_index=True
    )


def _mutual_information(prior: np.ndarray, likelihood: np.ndarray) -> float:
    """I(S; E) in bits from the joint distribution P(s, e) directly."""
    joint = np.stack([prior * likelihood, prior * (1 - likelihood)], axis=1)
    marginal_s = joint.sum(axis=1, keepdims=True)
    marginal_e = joint.sum(axis=0, keepdims=True)
    mask = joint > 0
    return float((joint[mask] * np.log2(joint[mask] / (marginal_s @ marginal_e)[mask])).sum())


def test_pooled_likelihoods_and_ratios_by_hand():
    result = signpost_diagnostics(_signposts(), signpost_items=["s1", "s2", "s3"], prior=PRIOR)
    table = result.likelihoods
    np.testing.assert_allclose(table.loc["s1", "likelihood"], [0.7, 0.3, 0.1])
    assert table.loc[("s1", "a"), "n"] == 2
    assert table.loc[("s1", "a"), "sd"] == pytest.approx(np.std([0.8, 0.6], ddof=1))
    # Against the others, prior-weighted: (0.3·0.3 + 0.2·0.1) / 0.5 = 0.22.
    assert table.loc[("s1", "a"), "lr_vs_rest"] == pytest.approx(0.7 / 0.22)
    assert table.loc[("s1", "a"), "log_lr_vs_rest"] == pytest.approx(math.log(0.7 / 0.22))
    assert table.loc[("s1", "a"), "lr_absent_vs_rest"] == pytest.approx(0.3 / 0.78)
    pairs = result.pairs.set_index(["signpost", "scenario", "versus"])
    assert pairs.loc[("s1", "a", "b"), "lr"] == pytest.approx(0.7 / 0.3)
    assert pairs.loc[("s1", "b", "a"), "lr_absent"] == pytest.approx(0.7 / 0.3)
    # 0 % and 100 % are clipped to 1 % and 99 % in ratios.
    assert pairs.loc[("s3", "b", "a"), "lr"] == pytest.approx(99)
    assert len(pairs) == 3 * 6
    assert result.matrix.loc["s3"].tolist() == [0.0, 1.0, 0.5]
    np.testing.assert_allclose(result.prior, [0.5, 0.3, 0.2])


def test_information_gain_matches_a_direct_computation():
    result = signpost_diagnostics(_signposts(), signpost_items=["s1", "s2", "s3"], prior=PRIOR)
    ranking = result.ranking
    prior = np.array([0.5, 0.3, 0.2])
    for signpost, likelihood in {
        "s1": [0.7, 0.3, 0.1],
        "s2": [0.5, 0.5, 0.5],
        "s3": [0.0, 1.0, 0.5],
    }.items():
        expected = _mutual_information(prior, np.array(likelihood))
        assert ranking.loc[signpost, "information_gain"] == pytest.approx(expected, abs=1e-12)
    # Expected KL divergence of posterior from prior is the same number.
    likelihood = np.array([0.7, 0.3, 0.1])
    seen = prior * likelihood / (prior * likelihood).sum()
    unseen = prior * (1 - likelihood) / (prior * (1 - likelihood)).sum()
    p_seen = (prior * likelihood).sum()
    kl = (
        p_seen * (seen * np.log2(seen / prior)).sum()
        + (1 - p_seen) * (unseen * np.log2(unseen / prior)).sum()
    )
    assert ranking.loc["s1", "information_gain"] == pytest.approx(kl)
    assert ranking.loc["s1", "p_seen"] == pytest.approx(0.46)
    assert ranking.loc["s2", "information_gain"] == 0
    assert ranking.loc["s2", "log_lr_range"] == 0
    assert ranking.loc["s1", "log_lr_range"] == pytest.approx(math.log(7))
    assert ranking.loc["s3", "log_lr_range"] == pytest.approx(math.log(99))
    assert ranking.loc["s1", "log_lr_range_absent"] == pytest.approx(math.log(0.9 / 0.3))
    assert list(ranking.index) == ["s3", "s1", "s2"]
    assert ranking["rank"].tolist() == [1, 2, 3]


def test_prior_from_a_scenario_item_or_uniform():
    scenarios = components_frame("future", {"a": [60, 40], "b": [30, 30], "c": [10, 30]})
    frame = pd.concat([_signposts(), scenarios], ignore_index=True)
    pooled = signpost_diagnostics(frame, signpost_items=["s1"], scenario_item="future")
    np.testing.assert_allclose(pooled.prior, [0.5, 0.3, 0.2])
    uniform = signpost_diagnostics(frame, signpost_items=["s1"])
    np.testing.assert_allclose(uniform.prior, [1 / 3] * 3)


def test_missing_cells_and_bad_input():
    frame = _signposts()
    frame.loc[(frame["item"] == "s2") & (frame["component"] == "c"), "value"] = np.nan
    result = signpost_diagnostics(frame, signpost_items=["s1", "s2"], prior=PRIOR)
    assert np.isnan(result.matrix.loc["s2", "c"])
    assert np.isnan(result.ranking.loc["s2", "information_gain"])
    assert result.ranking.index[-1] == "s2"
    with pytest.raises(ValueError, match="same scenarios"):
        signpost_diagnostics(frame, signpost_items=["s1"], prior={"a": 1, "b": 1})
    with pytest.raises(ValueError, match="no answer"):
        signpost_diagnostics(frame, signpost_items=["s9"])
    with pytest.raises(ValueError, match="outside"):
        signpost_diagnostics(frame, signpost_items=["s1"], scale=10)
    with pytest.raises(ValueError, match="list of item keys"):
        signpost_diagnostics(frame, signpost_items="s1")


# The scenario tracker ------------------------------------------------------------------

MATRIX = pd.DataFrame(
    [[0.7, 0.3, 0.1], [0.2, 0.6, 0.4], [0.05, 0.5, 0.9]],
    index=["s1", "s2", "s3"],
    columns=["a", "b", "c"],
)
CONDITIONALS = pd.DataFrame(
    [[0.1, 0.2, 0.7], [0.6, 0.3, 0.1]], index=["t1", "t2"], columns=["a", "b", "c"]
)


def _enumerate(base: np.ndarray, observed: dict[str, bool]) -> np.ndarray:
    """P(S | observed) by summing the joint over every outcome of every signpost."""
    total = np.zeros(len(base))
    for outcome in itertools.product([True, False], repeat=len(MATRIX)):
        state = dict(zip(MATRIX.index, outcome, strict=True))
        if any(state[key] != value for key, value in observed.items()):
            continue
        joint = base.copy()
        for key, value in state.items():
            likelihood = MATRIX.loc[key].to_numpy()
            joint = joint * (likelihood if value else 1 - likelihood)
        total += joint
    return total / total.sum()


def test_updating_matches_enumeration():
    observations = [
        Observation(date(2026, 3, 1), "signpost", "s1", True),  # the same evidence again
        Observation(date(2026, 1, 10), "signpost", "s1", True),
        Observation(date(2026, 2, 1), "signpost", "s3", False),
        Observation(date(2026, 4, 1), "trigger", "t1"),
        Observation(date(2026, 5, 1), "signpost", "s2", True),
        Observation(date(2026, 6, 1), "signpost", "s3", True),  # now it was seen
    ]
    result = update_scenarios(PRIOR, MATRIX, observations, conditionals=CONDITIONALS)
    wide = result.timeline.pivot(index="step", columns="scenario", values="probability")
    prior = np.array([0.5, 0.3, 0.2])
    t1 = CONDITIONALS.loc["t1"].to_numpy()
    expected = [
        prior,
        _enumerate(prior, {"s1": True}),
        _enumerate(prior, {"s1": True, "s3": False}),
        _enumerate(prior, {"s1": True, "s3": False}),
        _enumerate(t1, {"s1": True, "s3": False}),
        _enumerate(t1, {"s1": True, "s3": False, "s2": True}),
        _enumerate(t1, {"s1": True, "s3": True, "s2": True}),
    ]
    np.testing.assert_allclose(wide.to_numpy(), np.array(expected))
    steps = result.timeline.drop_duplicates("step").set_index("step")
    assert steps["date"].tolist()[1:3] == [date(2026, 1, 10), date(2026, 2, 1)]
    assert steps.loc[4, "kind"] == "trigger" and bool(steps.loc[4, "seen"])
    np.testing.assert_allclose(result.posterior, expected[-1])
    # Without the panel's individual likelihoods the range is the point itself.
    np.testing.assert_allclose(result.timeline["low"], result.timeline["probability"])


def test_latest_trigger_replaces_the_base():
    observations = pd.DataFrame(
        {
            "date": ["2026-01-01", "2026-02-01", "2026-03-01"],
            "kind": ["trigger", "signpost", "trigger"],
            "key": ["t1", "s1", "t2"],
            "seen": [True, False, True],
        }
    )
    result = update_scenarios(PRIOR, MATRIX, observations, conditionals=CONDITIONALS)
    t2 = CONDITIONALS.loc["t2"].to_numpy()
    np.testing.assert_allclose(result.posterior, _enumerate(t2, {"s1": False}))


def test_sensitivity_range_over_individual_likelihoods():
    individual = pd.DataFrame(
        {
            "panelist": ["p0"] * 3 + ["p1"] * 3 + ["p1"] * 3,
            "signpost": ["s1"] * 6 + ["s2"] * 3,
            "scenario": ["a", "b", "c"] * 3,
            "likelihood": [0.9, 0.2, 0.1, 0.5, 0.4, 0.1, 0.3, 0.3, 0.3],
        }
    )
    observations = [
        Observation("2026-01-01", "signpost", "s1"),
        Observation("2026-02-01", "signpost", "s2"),
    ]
    result = update_scenarios(PRIOR, MATRIX, observations, individual=individual)
    timeline = result.timeline.set_index(["step", "scenario"])

    def own(matrix: pd.DataFrame) -> pd.Series:
        one = update_scenarios(PRIOR, matrix, observations).timeline
        return one.set_index(["step", "scenario"])["probability"]

    p0 = MATRIX.copy()
    p0.loc["s1"] = [0.9, 0.2, 0.1]  # p0 gave nothing for s2: the pooled row is used
    p1 = MATRIX.copy()
    p1.loc["s1"] = [0.5, 0.4, 0.1]
    p1.loc["s2"] = [0.3, 0.3, 0.3]
    versions = pd.concat([own(MATRIX), own(p0), own(p1)], axis=1)
    np.testing.assert_allclose(timeline["low"], versions.min(axis=1))
    np.testing.assert_allclose(timeline["high"], versions.max(axis=1))
    assert (timeline["low"] <= timeline["probability"] + 1e-15).all()


def test_individual_likelihoods_as_one_array_give_the_same_range():
    """The panel's likelihoods as an (experts, signposts, scenarios) array, as the
    tracker reads a stored panel, are the rows' likelihoods: the same timeline."""
    individual = pd.DataFrame(
        {
            "panelist": ["p0"] * 3 + ["p1"] * 3 + ["p1"] * 3,
            "signpost": ["s1"] * 6 + ["s2"] * 3,
            "scenario": ["a", "b", "c"] * 3,
            "likelihood": [0.9, 0.2, 0.1, 0.5, 0.4, 0.1, 0.3, 0.3, 0.3],
        }
    )
    nan = np.nan
    array = np.array(
        [
            [[0.9, 0.2, 0.1], [nan, nan, nan], [nan, nan, nan]],
            [[0.5, 0.4, 0.1], [0.3, 0.3, 0.3], [nan, nan, nan]],
        ]
    )
    assert list(MATRIX.index) == ["s1", "s2", "s3"] and list(MATRIX.columns) == ["a", "b", "c"]
    observations = [
        Observation("2026-01-01", "signpost", "s1"),
        Observation("2026-02-01", "signpost", "s2", False),
    ]
    rows = update_scenarios(PRIOR, MATRIX, observations, individual=individual)
    stacked = update_scenarios(PRIOR, MATRIX, observations, individual=array)
    pd.testing.assert_frame_equal(rows.timeline, stacked.timeline)
    assert (stacked.timeline["low"] < stacked.timeline["high"]).any()
    with pytest.raises(ValueError, match="expected"):
        update_scenarios(PRIOR, MATRIX, observations, individual=array[:, :1, :])


def test_clip_and_unusable_signposts():
    flat = MATRIX.copy()
    flat.loc["s1"] = [0.0, 1.0, 0.5]
    flat.loc["s2"] = [np.nan, 0.5, 0.5]
    result = update_scenarios(
        PRIOR,
        flat,
        [Observation(1, "signpost", "s1", True), Observation(2, "signpost", "s2", True)],
    )
    # 0 is read as 1 %: scenario a keeps a small probability.
    weights = np.array([0.5 * 0.01, 0.3 * 0.99, 0.2 * 0.5])
    np.testing.assert_allclose(result.posterior, weights / weights.sum())
    steps = result.timeline.drop_duplicates("step")
    assert steps["applied"].tolist() == [True, True, False]


def test_bad_observations_are_refused():
    with pytest.raises(ValueError, match="signpost 's9'"):
        update_scenarios(PRIOR, MATRIX, [Observation(1, "signpost", "s9")])
    with pytest.raises(ValueError, match="conditionals"):
        update_scenarios(PRIOR, MATRIX, [Observation(1, "trigger", "t1")])
    with pytest.raises(ValueError, match="trigger 't3'"):
        update_scenarios(
            PRIOR, MATRIX, [Observation(1, "trigger", "t3")], conditionals=CONDITIONALS
        )
    with pytest.raises(ValueError, match="occurred"):
        update_scenarios(
            PRIOR, MATRIX, [Observation(1, "trigger", "t1", False)], conditionals=CONDITIONALS
        )
    with pytest.raises(ValueError, match="kind"):
        update_scenarios(PRIOR, MATRIX, [{"date": 1, "kind": "rumour", "key": "s1"}])
    with pytest.raises(ValueError, match="same scenarios"):
        update_scenarios({"a": 1.0}, MATRIX, [])


def test_no_observation_gives_the_prior_and_inputs_are_kept():
    matrix = MATRIX.copy()
    result = update_scenarios(pd.Series(PRIOR) * 10, matrix, [])
    np.testing.assert_allclose(result.posterior, [0.5, 0.3, 0.2])
    assert result.timeline["step"].tolist() == [0, 0, 0]
    pd.testing.assert_frame_equal(matrix, MATRIX)


def test_the_analyses_chain_as_the_tracker_will_call_them():
    scenarios = components_frame("future", {"a": [50, 40], "b": [30, 40], "c": [20, 20]})
    matrix = components_frame(
        "shift",
        {
            cell_component("t1", "a"): [20, 10],
            cell_component("t1", "b"): [10, 10],
            cell_component("t1", "c"): [70, 80],
        },
    )
    frame = pd.concat([scenarios, matrix, _signposts()], ignore_index=True)
    impact = cross_impact(frame, scenario_item="future", conditional_item="shift")
    diagnostics = signpost_diagnostics(
        frame, signpost_items=["s1", "s2", "s3"], scenario_item="future"
    )
    tracking = update_scenarios(
        pooled_scenarios(frame, "future"),
        diagnostics.matrix,
        [Observation("2026-01-01", "signpost", "s1"), Observation("2026-02-01", "trigger", "t1")],
        individual=diagnostics.individual,
        conditionals=impact.conditional,
    )
    base = impact.conditional.loc["t1"].to_numpy()
    weights = base * np.array([0.7, 0.3, 0.1])
    np.testing.assert_allclose(tracking.posterior, weights / weights.sum())
    last = tracking.timeline[tracking.timeline["step"] == 2]
    assert (last["low"] < last["high"]).all()  # the two experts disagree about s1
