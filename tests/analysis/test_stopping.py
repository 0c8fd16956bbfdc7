"""The stopping rule over round summaries."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis import stopping_decision


def _summaries(rows):
    frame = pd.DataFrame(rows, columns=["round", "item", "component", "state", "stable"])
    frame["stable"] = frame["stable"].astype("boolean")
    return frame.set_index(["round", "item", "component"])


def test_stops_when_every_item_reached_consensus_or_stability():
    summaries = _summaries(
        [
            (1, "a", "", "no_consensus", pd.NA),
            (2, "a", "", "consensus", False),
            (2, "b", "x", "dissensus", True),
            (2, "b", "y", "no_consensus", True),
        ]
    )
    decision = stopping_decision(summaries, max_rounds=4)
    assert decision.stop
    assert decision.round == 2
    assert decision.items.loc["a", "status"] == "consensus"
    assert decision.items.loc["b", "status"] == "stable"


def test_continues_while_an_item_is_open_and_names_it():
    summaries = _summaries([(2, "a", "", "consensus", False), (2, "b", "x", "no_consensus", False)])
    decision = stopping_decision(summaries, max_rounds=4)
    assert not decision.stop
    assert "b" in decision.reason
    assert decision.items.loc["b", "status"] == "open"


def test_round_limit_stops_with_open_items():
    summaries = _summaries([(3, "a", "", "no_consensus", False)])
    decision = stopping_decision(summaries, max_rounds=3)
    assert decision.stop and "round limit 3" in decision.reason


def test_only_the_latest_round_counts_and_empty_input_does_not_stop():
    summaries = _summaries(
        [(1, "retired", "", "no_consensus", pd.NA), (2, "a", "", "consensus", pd.NA)]
    )
    assert stopping_decision(summaries).stop
    assert not stopping_decision(summaries.iloc[:0]).stop
    with pytest.raises(ValueError, match="max_rounds"):
        stopping_decision(summaries, max_rounds=0)


def test_summaries_read_back_from_json_records(make_frame):
    # The domain stores summary rows as JSON (NaN and NA as null) and reads them back.
    import json

    from analysis import ConsensusRule, Criterion, summarize_round

    frame = pd.concat(
        [make_frame({"a": [3, 3, 4], "b": [1, 5, 3]}, round_number=r) for r in (1, 2)],
        ignore_index=True,
    )
    rule = ConsensusRule((Criterion("iqr", {"max": 0.5}),))
    table = summarize_round(frame, rules={"a": rule}, bootstrap_resamples=0)
    records = json.loads(
        table.reset_index()
        .astype(object)
        .where(table.reset_index().notna(), None)
        .to_json(orient="records")
    )
    restored = pd.DataFrame(records).set_index(["round", "item", "component"])
    decision = stopping_decision(restored, max_rounds=5)
    assert decision.stop  # both items answered identically in round 2: stable
    assert decision.items["status"].to_dict() == {"a": "consensus", "b": "stable"}


def test_parts_without_a_rule_do_not_hold_an_item_back():
    """An estimate whose best guess agrees and whose confidence has no rule is at
    consensus; an item none of whose parts has a rule is not."""
    summaries = _summaries(
        [
            (2, "estimate", "best", "consensus", False),
            (2, "estimate", "confidence", None, False),
            (2, "unruled", "a", None, False),
            (2, "unruled", "b", None, False),
            (2, "mixed", "a", "consensus", False),
            (2, "mixed", "b", "no_consensus", False),
            (2, "mixed", "c", None, False),
        ]
    )
    items = stopping_decision(summaries).items
    assert items["status"].to_dict() == {
        "estimate": "consensus",
        "mixed": "open",
        "unruled": "open",
    }
