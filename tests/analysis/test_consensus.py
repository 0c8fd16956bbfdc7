"""Consensus rules, the RAND/UCLA method and the three-way state."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis import CRITERIA, STATES, ConsensusRule, Criterion, Scale, consensus

from .conftest import frame_from

NINE = Scale(minimum=1, maximum=9)
FIVE = Scale(minimum=1, maximum=5)


def _state(ratings, rule, *, scale=NINE, method="linear"):
    table = consensus(
        frame_from({"item": ratings}),
        rules={"item": rule},
        scales={"item": scale},
        quantile_method=method,
    )
    return table.loc[(1, "item", "")]


def _rule(*criteria, combine="all"):
    return ConsensusRule(tuple(criteria), combine)


def test_every_criterion_kind_takes_only_numeric_parameters():
    for kind, names in CRITERIA.items():
        criterion = Criterion(kind, dict.fromkeys(names, 0.5))
        assert criterion.kind == kind


@pytest.mark.parametrize(
    ("kind", "params", "message"),
    [
        ("median", {}, "unknown consensus criterion"),
        ("iqr", {}, "takes"),
        ("iqr", {"max": "1"}, "must be a number"),
        ("share", {"low": 4, "high": 5, "min": 75}, "share in"),
        ("share", {"low": 5, "high": 4, "min": 0.75}, "low must not exceed high"),
        ("ad_mean", {"divisor": 0}, "positive"),
        ("cv", {"max": float("nan")}, "finite"),
    ],
)
def test_bad_criteria_are_refused_with_a_message_naming_the_problem(kind, params, message):
    with pytest.raises(ValueError, match=message):
        Criterion(kind, params)


def test_a_rule_needs_a_consensus_criterion_and_a_known_combination():
    with pytest.raises(ValueError, match="at least one consensus criterion"):
        _rule(Criterion("split", {"min_share": 1 / 3}))
    with pytest.raises(ValueError, match="combine"):
        _rule(Criterion("iqr", {"max": 1}), combine="most")


def test_iqr_rule_verdict_depends_on_the_quantile_method():
    ratings = [4, 4, 5, 3, 4, 5, 4, 2]
    rule = _rule(Criterion("iqr", {"max": 1}))
    assert _state(ratings, rule, scale=FIVE, method="linear")["state"] == "consensus"
    assert _state(ratings, rule, scale=FIVE, method="weibull")["state"] == "no_consensus"


def test_share_rule_uses_its_own_band():
    rule = _rule(Criterion("share", {"low": 4, "high": 5, "min": 0.75}))
    row = _state([5, 4, 4, 3], rule, scale=FIVE)
    assert row["state"] == "consensus"
    assert "share[4, 5] 0.75 >= 0.75: met" in row["evidence"]
    assert _state([5, 4, 3, 3], rule, scale=FIVE)["state"] == "no_consensus"


def test_cv_ad_and_rwg_rules_compare_the_documented_statistics():
    ratings = [4, 4, 5, 4, 3, 4]
    sd = np.std(ratings, ddof=1)
    cv = sd / np.mean(ratings)
    ad = np.mean(np.abs(np.array(ratings) - np.mean(ratings)))
    rwg = 1 - sd**2 / 2  # A = 5
    assert _state(ratings, _rule(Criterion("cv", {"max": cv + 1e-9})), scale=FIVE)["consensus"]
    assert not _state(ratings, _rule(Criterion("cv", {"max": cv - 1e-9})), scale=FIVE)["consensus"]
    # Burke & Dunlap: AD ≤ A/6 = 5/6.
    assert ad <= 5 / 6
    assert _state(ratings, _rule(Criterion("ad_mean", {"divisor": 6})), scale=FIVE)["consensus"]
    assert _state(ratings, _rule(Criterion("rwg", {"min": rwg - 1e-9})), scale=FIVE)["consensus"]
    assert not _state(ratings, _rule(Criterion("rwg", {"min": rwg + 1e-9})), scale=FIVE)[
        "consensus"
    ]


def test_an_ad_divisor_so_small_that_its_cut_off_overflows_is_met_without_a_warning():
    """A ÷ 5e-324 is beyond the largest float: the cut-off is +inf, which any spread
    meets (the tests turn warnings into errors, as an overflow warning was)."""
    ratings = [1, 5, 1, 5, 3]
    for kind in ("ad_mean", "ad_median"):
        row = _state(ratings, _rule(Criterion(kind, {"divisor": 5e-324})), scale=FIVE)
        assert row["consensus"]


def test_rand_ucla_numbers_follow_the_manual():
    ratings = [7, 8, 8, 9, 7, 8, 6, 8, 9]
    row = _state(ratings, _rule(Criterion("rand_ucla")))
    p30, p70 = np.quantile(ratings, [0.3, 0.7])
    assert row["ipr"] == pytest.approx(p70 - p30)
    assert row["asymmetry_index"] == pytest.approx(abs(5 - (p30 + p70) / 2))
    assert row["ipras"] == pytest.approx(2.35 + 1.5 * abs(5 - (p30 + p70) / 2))
    # 8 of 9 ratings in 7–9, the median's region: agreement.
    assert row["rand_ucla"] == "agreement"
    assert row["state"] == "consensus"


def test_rand_ucla_disagreement_is_dissensus():
    ratings = [1, 1, 2, 2, 5, 8, 8, 9, 9]
    row = _state(ratings, _rule(Criterion("rand_ucla")))
    p30, p70 = np.quantile(ratings, [0.3, 0.7])
    assert p70 - p30 > 2.35 + 1.5 * abs(5 - (p30 + p70) / 2)
    assert row["rand_ucla"] == "disagreement"
    assert row["state"] == "dissensus"
    assert row["consensus"] == False  # noqa: E712 (nullable boolean)


def test_rand_ucla_indeterminate_is_no_consensus():
    ratings = [4, 5, 5, 6, 6, 7, 7, 7, 8]
    row = _state(ratings, _rule(Criterion("rand_ucla")))
    assert row["rand_ucla"] == "indeterminate"
    assert row["state"] == "no_consensus"


def test_rand_ucla_rescales_other_scales_onto_one_to_nine():
    nine = _state([7, 8, 8, 9, 7, 8, 6, 8, 9], _rule(Criterion("rand_ucla")))
    five = _state(
        [4, 4.5, 4.5, 5, 4, 4.5, 3.5, 4.5, 5],
        _rule(Criterion("rand_ucla")),
        scale=Scale(kind="likert", minimum=1, maximum=5, options=9),
    )
    for column in ("ipr", "ipras", "rand_ucla"):
        assert (
            nine[column] == pytest.approx(five[column])
            if column != "rand_ucla"
            else (nine[column] == five[column])
        )


def test_a_scale_whose_ends_almost_meet_is_rescaled_without_a_warning():
    """Ends 2.2e-313 apart (a definition may write them: found by the builder's fuzz,
    whose preview failed on the overflow warning) put ratings at infinite 1–9 values:
    the RAND/UCLA interval is undefined, and nothing warns (the tests turn warnings
    into errors)."""
    tiny = Scale(kind="numeric_estimate", minimum=-2.2250738585e-313, maximum=0.0)
    row = _state([-1e-313, 0.0, 0.0, -2e-313], _rule(Criterion("rand_ucla")), scale=tiny)
    assert np.isnan(row["ipr"])
    assert row["rand_ucla"] is None


def test_classic_split_rule_for_nine_raters_detects_dissensus():
    rule = _rule(Criterion("iqr", {"max": 10}), Criterion("split", {"min_share": 3 / 9}))
    split = _state([1, 2, 3, 5, 5, 5, 7, 8, 9], rule)
    assert split["state"] == "dissensus"
    assert _state([1, 2, 4, 5, 5, 5, 7, 8, 9], rule)["state"] == "consensus"  # only 2 low


def test_any_combination_needs_one_criterion():
    rule = _rule(
        Criterion("iqr", {"max": 0}),
        Criterion("share", {"low": 7, "high": 9, "min": 0.75}),
        combine="any",
    )
    assert _state([7, 8, 9, 6], rule)["state"] == "consensus"
    assert _state([1, 8, 9, 6], rule)["state"] == "no_consensus"


def test_items_without_a_rule_have_no_state_and_undefined_statistics_never_meet():
    frame = frame_from({"ruled": [np.nan, np.nan], "free": [1, 2]})
    table = consensus(frame, rules={"ruled": _rule(Criterion("iqr", {"max": 1}))})
    assert pd.isna(table.loc[(1, "free", ""), "consensus"])
    assert pd.isna(table.loc[(1, "free", ""), "state"])
    assert table.loc[(1, "ruled", ""), "state"] == "no_consensus"
    assert set(table["state"].dropna()) <= set(STATES)


def test_rule_and_evidence_are_text_for_the_report():
    row = _state([5, 5, 5], _rule(Criterion("iqr", {"max": 1})))
    assert row["rule"] == "all of: iqr <= 1"
    assert row["evidence"] == "iqr 0 <= 1: met"


ALL_KINDS_RULE = ConsensusRule(
    (
        Criterion("iqr", {"max": 1}),
        Criterion("share", {"low": 7, "high": 9, "min": 0.75}),
        Criterion("cv", {"max": 0.5}),
        Criterion("ad_mean", {"divisor": 6}),
        Criterion("ad_median", {"divisor": 6}),
        Criterion("rwg", {"min": 0.7}),
        Criterion("rand_ucla"),
        Criterion("split", {"min_share": 1 / 3}),
    ),
    combine="any",
)


@settings(max_examples=80, deadline=None)
@given(
    ratings=st.lists(st.one_of(st.integers(1, 9).map(float), st.just(float("nan"))), max_size=15),
    scaled=st.booleans(),
)
def test_every_criterion_on_any_input_gives_a_state_without_raising(ratings, scaled):
    table = consensus(
        frame_from({"item": ratings}),
        rules={"item": ALL_KINDS_RULE},
        scales={"item": NINE} if scaled else None,
    )
    if not ratings:
        assert table.empty
        return
    row = table.loc[(1, "item", "")]
    assert row["state"] in STATES
    assert row["evidence"].count(";") == len(ALL_KINDS_RULE.criteria) - 1
    if sum(1 for value in ratings if value == value) == 0:
        assert row["state"] == "no_consensus"


def test_identical_ratings_are_consensus_under_every_dispersion_criterion():
    for criterion in ALL_KINDS_RULE.criteria[:7]:
        if criterion.kind == "share":
            continue
        row = _state([8, 8, 8, 8], _rule(criterion))
        assert row["state"] == "consensus", criterion.kind


# -- rules per part of a multi-part answer --------------------------------------------------


def _parts_frame():
    """One item with two parts: ``tight`` (IQR 0) and ``wide`` (IQR 5), on 1–9."""
    tight = frame_from({"est": [5, 5, 5, 5]}, component="tight")
    wide = frame_from({"est": [1, 3, 7, 9]}, component="wide")
    return pd.concat([tight, wide], ignore_index=True)


def _part_table(**options):
    return consensus(_parts_frame(), scales={"est": NINE}, **options)


def test_a_part_rule_decides_its_part_and_the_item_rule_the_others():
    loose = _rule(Criterion("iqr", {"max": 6}))
    strict = _rule(Criterion("iqr", {"max": 0.5}))
    table = _part_table(rules={"est": strict}, part_rules={("est", "wide"): loose})
    assert table.loc[(1, "est", "tight"), "state"] == "consensus"  # IQR 0 ≤ 0.5
    assert table.loc[(1, "est", "tight"), "rule"] == "all of: iqr <= 0.5"
    assert table.loc[(1, "est", "wide"), "state"] == "consensus"  # IQR 5 ≤ 6, not ≤ 0.5
    assert table.loc[(1, "est", "wide"), "rule"] == "all of: iqr <= 6"
    assert table.loc[(1, "est", "wide"), "evidence"] == "iqr 5 <= 6: met"


def test_a_part_given_no_rule_has_no_state():
    strict = _rule(Criterion("iqr", {"max": 0.5}))
    table = _part_table(rules={"est": strict}, part_rules={("est", "wide"): None})
    assert table.loc[(1, "est", "tight"), "state"] == "consensus"
    wide = table.loc[(1, "est", "wide")]
    assert pd.isna(wide["state"]) and pd.isna(wide["rule"]) and pd.isna(wide["consensus"])


def test_part_rules_without_an_item_rule():
    loose = _rule(Criterion("iqr", {"max": 6}))
    table = _part_table(rules={}, part_rules={("est", "wide"): loose})
    assert pd.isna(table.loc[(1, "est", "tight"), "state"])
    assert table.loc[(1, "est", "wide"), "state"] == "consensus"


def test_no_part_rules_change_nothing():
    strict = _rule(Criterion("iqr", {"max": 0.5}))
    before = _part_table(rules={"est": strict})
    pd.testing.assert_frame_equal(_part_table(rules={"est": strict}, part_rules={}), before)
    assert list(before["state"]) == ["consensus", "no_consensus"]
    # A part rule equal to the item's rule, or naming a part nobody answered, changes
    # no verdict either.
    same = _part_table(
        rules={"est": strict},
        part_rules={("est", "wide"): strict, ("est", "absent"): None, ("other", "x"): None},
    )
    pd.testing.assert_frame_equal(same, before)
