"""Each criterion's measured value, cut-off and verdict agree with the consensus that
decided the state (its ``evidence`` text, written from the same computation)."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from analysis import ConsensusRule, Criterion, Scale, consensus
from analysis.criterion_checks import criterion_checks

from .conftest import frame_from

NINE = Scale(minimum=1, maximum=9)
EVERY_CRITERION = ConsensusRule(
    (
        Criterion("iqr", {"max": 2}),
        Criterion("share", {"low": 7, "high": 9, "min": 0.7}),
        Criterion("cv", {"max": 0.3}),
        Criterion("ad_mean", {"divisor": 6}),
        Criterion("ad_median", {"divisor": 6}),
        Criterion("rwg", {"min": 0.7}),
        Criterion("rand_ucla", {}),
        Criterion("split", {"min_share": 1 / 3}),
    ),
    "any",
)


def _row(ratings, rule, scale):
    table = consensus(frame_from({"item": ratings}), rules={"item": rule}, scales={"item": scale})
    return table.loc[(1, "item", "")]


def _written(value):
    """A number as the evidence text writes it."""
    return "n/a" if value is None or math.isnan(value) else f"{value:.4g}"


def test_a_split_panel_measures_each_criterion():
    ratings = [1, 1, 2, 5, 8, 9, 9, 9]
    row = _row(ratings, EVERY_CRITERION, NINE)
    checks = {
        check.criterion.kind: check
        for check in criterion_checks(EVERY_CRITERION, row.to_dict(), ratings, NINE)
    }
    assert checks["share"].value == 0.5 and checks["share"].threshold == 0.7
    assert not checks["share"].met
    assert checks["iqr"].value == row["iqr"] and not checks["iqr"].met
    assert checks["ad_mean"].threshold == 1.5
    assert checks["split"].value == 3 / 8 and checks["split"].second_value == 0.5
    assert checks["split"].dissensus and not checks["split"].met
    assert checks["rand_ucla"].dissensus and checks["rand_ucla"].value == row["ipr"]


def test_an_open_scale_leaves_the_scale_criteria_undefined_and_unmet():
    ratings = [10.0, 12.0, 11.0]
    rule = ConsensusRule(
        (
            Criterion("cv", {"max": 0.5}),
            Criterion("ad_mean", {"divisor": 6}),
            Criterion("split", {"min_share": 0.3}),
        ),
        "all",
    )
    scale = Scale(kind="numeric_estimate")
    row = _row(ratings, rule, scale)
    cv, ad, split = criterion_checks(rule, row.to_dict(), ratings, scale)
    assert cv.met and cv.value == row["cv"]
    assert ad.threshold is None and not ad.met
    assert split.value is None and not split.dissensus


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=9), min_size=1, max_size=15))
def test_the_checks_agree_with_the_consensus_evidence(ratings):
    row = _row(ratings, EVERY_CRITERION, NINE)
    checks = criterion_checks(EVERY_CRITERION, row.to_dict(), ratings, NINE)
    evidence = row["evidence"].split("; ")
    assert len(evidence) == len(checks)
    for check, text in zip(checks, evidence, strict=True):
        if check.criterion.kind == "split":
            assert f"lowest third {_written(check.value)}," in text
            assert f"highest third {_written(check.second_value)} " in text
            assert text.endswith("yes)" if check.dissensus else "no)")
        elif check.criterion.kind == "rand_ucla":
            assert f"IPR {_written(check.value)} vs IPRAS {_written(check.threshold)}" in text
            assert check.met == text.endswith(": agreement")
            assert check.dissensus == text.endswith(": disagreement")
        else:
            assert f" {_written(check.value)} " in text
            assert f" {_written(check.threshold)}: " in text
            assert text.endswith(": met" if check.met else ": not met")
    fired = any(check.dissensus for check in checks)
    held = any(check.met for check in checks)
    assert row["state"] == ("dissensus" if fired else "consensus" if held else "no_consensus")
