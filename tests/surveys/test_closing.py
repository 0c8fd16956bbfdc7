"""Closing rounds: stability against the previous round, subgroups, stopping rule."""

from __future__ import annotations

import numpy as np
from scipy import stats

from elicit.extensions import db
from surveys.rounds import close_round, open_round, stopping_recommendation


def run_round(study, links, post_answers, values):
    """Open a round, let each panelist give ``trust_now`` the value at their position."""
    open_round(db.session, study)
    for link, value in zip(links, values, strict=True):
        assert post_answers(link.token, {"trust_now": str(value)}).status_code == 302
    return close_round(db.session, study)


def row(summary, item="trust_now", component=""):
    """The stored summary row of one distribution."""
    (found,) = [
        r for r in summary.statistics["rows"] if (r["item"], r["component"]) == (item, component)
    ]
    return found


def test_round_two_summary_measures_stability_for_paired_panelists(
    app, make_study, make_panel, post_answers
):
    study = make_study()
    links = make_panel(study, 8)
    first = [1, 2, 2, 3, 3, 4, 4, 5]
    second = [2, 2, 3, 3, 3, 4, 5, 5]
    run_round(study, links, post_answers, first)
    summary = run_round(study, links, post_answers, second)
    stored = row(summary)
    assert stored["n_paired"] == 8
    changed = sum(a != b for a, b in zip(first, second, strict=True))
    assert stored["changed_share"] == changed / 8
    q1, q3 = np.percentile(second, [25, 75])
    p1, p3 = np.percentile(first, [25, 75])
    assert stored["iqr_change"] == (q3 - q1) - (p3 - p1)
    # R's wilcox.test(second, first, paired = TRUE) with ties: normal approximation with
    # continuity correction, zeros dropped (scipy reproduces it with these settings).
    reference = stats.wilcoxon(
        np.array(second) - np.array(first),
        zero_method="wilcox",
        correction=True,
        method="asymptotic",
    )
    assert stored["wilcoxon_p"] == reference.pvalue


def test_subgroup_rows_mask_small_groups_and_what_would_reveal_them(
    app, make_study, make_panel, post_answers
):
    study = make_study()  # feedback_min_n = 3
    groups = ("a",) * 5 + ("b",) * 4 + ("small",) * 2
    links = make_panel(study, len(groups), groups=groups)
    values = [1, 2, 3, 4, 5, 2, 2, 4, 4, 5, 5]  # a: 1-5, b: 2 2 4 4, small: 5 5
    summary = run_round(study, links, post_answers, values)
    rows = {r["group"]: r for r in summary.statistics["groups"] if r["item"] == "trust_now"}
    assert rows["a"]["n"] == 5
    assert rows["a"]["median"] == 3.0
    assert rows["small"]["masked"] is True
    assert rows["small"]["median"] is None
    # With "small" hidden, the panel minus "a" minus "b" would reveal it: the next
    # smallest group is hidden too.
    assert rows["b"]["masked"] is True
    assert rows["b"]["median"] is None
    assert rows["a"]["masked"] is False


def test_stopping_rule_stops_when_every_item_is_at_consensus(
    app, make_study, make_panel, post_answers
):
    study = make_study()
    links = make_panel(study, 4)
    run_round(study, links, post_answers, [4, 4, 4, 5])  # IQR 0.25 <= 1
    decision = stopping_recommendation(db.session, study)
    assert decision is not None
    assert decision.stop is True
    assert decision.items.loc["trust_now", "status"] == "consensus"


def test_stopping_rule_continues_while_an_item_is_open_until_the_last_round(
    app, make_study, make_panel, post_answers
):
    study = make_study()  # max_rounds = 3
    links = make_panel(study, 4)
    run_round(study, links, post_answers, [1, 2, 4, 5])  # IQR 2.5 > 1
    decision = stopping_recommendation(db.session, study)
    assert decision.stop is False
    assert decision.items.loc["trust_now", "status"] == "open"
    run_round(study, links, post_answers, [5, 1, 2, 4])  # everybody moved: not stable
    assert stopping_recommendation(db.session, study).stop is False
    run_round(study, links, post_answers, [1, 5, 4, 2])
    final = stopping_recommendation(db.session, study)
    assert final.stop is True  # round 3 of 3
    assert final.round == 3
