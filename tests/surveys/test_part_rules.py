"""Consensus rules per part of a multi-part answer (issue 12): definition, storage,
writer, analysis, the summary's settings and the export's reproduction."""

from __future__ import annotations

import json

from elicit.extensions import db
from tests.surveys.close_identity import close_all
from tests.surveys.part_rules_support import read_fixture

FROZEN = read_fixture()


def test_summaries_of_a_study_without_part_rules_are_byte_identical(app) -> None:
    """The demo with a rule on every kind, closed by the code before part rules: the
    same answers closed now store the same JSON text, round by round."""
    stored = close_all(db.session, FROZEN)
    assert len(stored) == 2
    for number, (expected, actual) in enumerate(zip(FROZEN["summaries"], stored, strict=True), 1):
        assert actual == expected, f"round {number}"
    rows = json.loads(stored[1])["rows"]
    ruled = {row["item"] for row in rows if row["rule"]}
    assert {"driver_ranking", "transfers_next_year", "scenarios"} <= ruled
