"""Cross-impact of triggers: pooled conditional sets, impacts and coherence gaps."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import optimize

from analysis import cell_component, cross_impact, pooled_scenarios
from analysis.scenario_sets import project_to_box_simplex

from .components import components_frame
from .conftest import frame_from


def _study(trigger_two: list[float] | None = None) -> pd.DataFrame:
    """Two experts, scenarios a/b/c, triggers t1 and t2 (expert p1 skips t2's cells)."""
    unconditional = components_frame("future", {"a": [50, 40], "b": [30, 40], "c": [20, 20]})
    conditional = components_frame(
        "shift",
        {
            cell_component("t1", "a"): [20, 10],
            cell_component("t1", "b"): [10, 10],
            cell_component("t1", "c"): [70, 30],
            cell_component("t2", "a"): [60, np.nan],
            cell_component("t2", "b"): [20, np.nan],
            cell_component("t2", "c"): [20, np.nan],
        },
    )
    triggers = frame_from({"t1": [60, 30], "t2": trigger_two or [50, 50]})
    return pd.concat([unconditional, conditional, triggers], ignore_index=True)


def test_pooled_conditionals_and_impacts_by_hand():
    result = cross_impact(_study(), scenario_item="future", conditional_item="shift")
    impacts = result.impacts
    # Unconditional: (0.5, 0.3, 0.2) and (0.4, 0.4, 0.2); t1: (0.2, 0.1, 0.7) and
    # (10, 10, 30) rescaled to (0.2, 0.2, 0.6).
    np.testing.assert_allclose(result.unconditional, [0.45, 0.35, 0.2])
    np.testing.assert_allclose(impacts.loc["t1", "conditional"], [0.2, 0.15, 0.65])
    np.testing.assert_allclose(impacts.loc["t1", "impact"], [-0.25, -0.2, 0.45])
    np.testing.assert_allclose(impacts.loc["t1", "shift_mean"], [-0.25, -0.2, 0.45])
    np.testing.assert_allclose(impacts.loc[("t1", "a"), "shift_sd"], np.std([-0.3, -0.2], ddof=1))
    assert impacts.loc[("t1", "c"), "shift_min"] == pytest.approx(0.4)
    assert impacts.loc[("t1", "c"), "shift_max"] == pytest.approx(0.5)
    assert impacts.loc["t1", "n_paired"].tolist() == [2, 2, 2]
    # Only p0 gave t2's set: n = 1, no sd.
    assert impacts.loc["t2", "n_conditional"].tolist() == [1, 1, 1]
    assert np.isnan(impacts.loc[("t2", "a"), "shift_sd"])
    np.testing.assert_allclose(result.conditional.loc["t2"], [0.6, 0.2, 0.2])
    assert result.impacts.groupby(level="trigger")["impact"].sum().abs().max() < 1e-12
    shifts = result.shifts.set_index(["panelist", "trigger", "scenario"])
    assert shifts.loc[("p1", "t1", "c"), "shift"] == pytest.approx(0.4)


def test_coherence_gap_and_implied_set_by_hand():
    result = cross_impact(_study(), scenario_item="future", conditional_item="shift")
    mine = result.coherence.loc["p0"]
    # t1 (P = 0.6, c = 0.2/0.1/0.7): bounds [0.12, 0.52], [0.06, 0.46], [0.42, 0.82];
    # t2 (P = 0.5, c = 0.6/0.2/0.2): bounds [0.30, 0.80], [0.10, 0.60], [0.10, 0.60].
    np.testing.assert_allclose(mine["low"], [0.30, 0.10, 0.42])
    np.testing.assert_allclose(mine["high"], [0.52, 0.46, 0.60])
    assert mine["low_trigger"].tolist() == ["t2", "t2", "t1"]
    assert mine["high_trigger"].tolist() == ["t1", "t1", "t2"]
    # Given (0.5, 0.3, 0.2): c lies 0.22 below its lower bound.
    np.testing.assert_allclose(mine["gap"], [0, 0, -0.22], atol=1e-12)
    # Nearest coherent set: c raised to 0.42, a and b lowered equally by 0.11.
    np.testing.assert_allclose(mine["implied"], [0.39, 0.19, 0.42])
    summary = result.coherence_summary
    assert summary.loc["p0", "triggers"] == 2
    assert summary.loc["p0", "distance"] == pytest.approx(0.22)
    assert not summary.loc["p0", "coherent"] and summary.loc["p0", "feasible"]
    # p1: only t1 (P = 0.3, c = 0.2/0.2/0.6): bounds [0.06, 0.76], [0.06, 0.76],
    # [0.18, 0.88]; their (0.4, 0.4, 0.2) is coherent.
    assert summary.loc["p1", "triggers"] == 1
    assert summary.loc["p1", "coherent"] and summary.loc["p1", "distance"] == pytest.approx(0)
    np.testing.assert_allclose(result.coherence.loc["p1", "implied"], [0.4, 0.4, 0.2])


def test_contradictory_triggers_have_no_coherent_set():
    unconditional = components_frame("future", {"a": [40], "b": [40], "c": [20]})
    conditional = components_frame(
        "shift",
        {
            cell_component("t1", "a"): [100],
            cell_component("t1", "b"): [0],
            cell_component("t1", "c"): [0],
            cell_component("t2", "a"): [0],
            cell_component("t2", "b"): [100],
            cell_component("t2", "c"): [0],
        },
    )
    triggers = frame_from({"t1": [90], "t2": [90]})
    result = cross_impact(
        pd.concat([unconditional, conditional, triggers], ignore_index=True),
        scenario_item="future",
        conditional_item="shift",
    )
    # P(a) ≥ 0.9 and P(b) ≥ 0.9 cannot both hold.
    summary = result.coherence_summary.loc["p0"]
    assert not summary["feasible"] and not summary["coherent"]
    assert np.isnan(summary["distance"])
    assert result.coherence.loc["p0", "implied"].isna().all()


def test_trigger_items_mapping_round_and_median_pool():
    frame = _study()
    frame.loc[frame["item"] == "t2", "item"] = "chance_of_t2"
    later = frame.copy()
    later["round"] = 2
    later.loc[later["item"] == "future", "value"] = [20, 20, 30, 30, 50, 50]
    both = pd.concat([frame, later], ignore_index=True)
    first = cross_impact(
        both,
        scenario_item="future",
        conditional_item="shift",
        trigger_items={"t1": "t1", "t2": "chance_of_t2"},
        round_number=1,
    )
    np.testing.assert_allclose(first.unconditional, [0.45, 0.35, 0.2])
    assert first.coherence_summary.loc["p0", "triggers"] == 2
    latest = cross_impact(both, scenario_item="future", conditional_item="shift")
    np.testing.assert_allclose(latest.unconditional, [0.2, 0.3, 0.5])
    assert latest.coherence_summary.loc["p0", "triggers"] == 1  # no item named t2 now
    assert latest.settings["rounds"] == {"future": 2, "shift": 2}
    median = cross_impact(
        _study(), scenario_item="future", conditional_item="shift", method="median"
    )
    assert median.unconditional.sum() == pytest.approx(1)


def test_pooled_scenarios_is_a_normalised_prior():
    frame = components_frame(
        "future", {"a": [50, 40, np.nan], "b": [30, 40, 50], "c": [20, 20, 50]}
    )
    prior = pooled_scenarios(frame, "future")
    np.testing.assert_allclose(prior, [0.45, 0.35, 0.2])  # p2's set has a "cannot judge"
    assert list(prior.index) == ["a", "b", "c"]
    geometric = pooled_scenarios(frame, "future", method="geometric_odds")
    assert geometric.sum() == pytest.approx(1)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="no answer"):
        cross_impact(_study(), scenario_item="nothing", conditional_item="shift")
    with pytest.raises(ValueError, match="not a scenario set"):
        cross_impact(_study(), scenario_item="t1", conditional_item="shift")
    broken = _study()
    shift = broken["item"] == "shift"
    broken.loc[shift, "component"] = broken.loc[shift, "component"].str.replace(":", "_")
    with pytest.raises(ValueError, match="trigger"):
        cross_impact(broken, scenario_item="future", conditional_item="shift")
    unknown = _study()
    unknown.loc[unknown["component"] == "t1:c", "component"] = "t1:d"
    with pytest.raises(ValueError, match="scenario 'd'"):
        cross_impact(unknown, scenario_item="future", conditional_item="shift")
    with pytest.raises(ValueError, match="outside"):
        cross_impact(_study([150, 50]), scenario_item="future", conditional_item="shift")
    with pytest.raises(ValueError, match="pooling method"):
        cross_impact(_study(), scenario_item="future", conditional_item="shift", method="max")
    with pytest.raises(ValueError, match="free of"):
        cell_component("t:1", "a")


def test_input_frame_is_not_modified():
    frame = _study()
    before = frame.copy()
    cross_impact(frame, scenario_item="future", conditional_item="shift")
    pd.testing.assert_frame_equal(frame, before)


def test_projection_matches_a_numerical_optimiser(rng):
    for _ in range(40):
        size = int(rng.integers(2, 6))
        given = rng.dirichlet(np.ones(size))
        low = rng.uniform(0, 1 / size, size)
        high = np.minimum(low + rng.uniform(0.05, 0.8, size), 1)
        if low.sum() > 1 or high.sum() < 1:
            continue
        point = project_to_box_simplex(given[None], low[None], high[None])[0]
        found = optimize.minimize(
            lambda x, given=given: ((x - given) ** 2).sum(),
            np.clip(given, low, high),
            bounds=list(zip(low, high, strict=True)),
            constraints=[{"type": "eq", "fun": lambda x: x.sum() - 1}],
            method="SLSQP",
            options={"ftol": 1e-14, "maxiter": 500},
        )
        np.testing.assert_allclose(point, found.x, atol=1e-6)
        assert point.sum() == pytest.approx(1)
        assert (point >= low - 1e-12).all() and (point <= high + 1e-12).all()
