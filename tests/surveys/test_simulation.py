"""Simulated experts answer any valid study, not only the demo's shapes: a preview of
an expert's page (:mod:`surveys.preview`) simulates the panel of whatever study is
being built."""

from __future__ import annotations

import random

import pytest

from surveys.answers import parse_answers
from surveys.definition import parse_definition
from surveys.simulation import simulated_answers

STUDY = """\
[study]
slug = "shapes"
title.en = "Shapes"
languages = ["en"]
max_rounds = 3

[consensus]
criteria = [{{ kind = "iqr", max = 1 }}]

[[items]]
key = "pair"
kind = "scenario_set"
text.en = "Two scenarios"
[[items.scenarios]]
key = "a"
text.en = "A"
[[items.scenarios]]
key = "b"
text.en = "B"

[[items]]
key = "five"
kind = "scenario_set"
text.en = "Five scenarios"
{five}

[[items]]
key = "small"
kind = "numeric_estimate"
text.en = "A small quantity"
bounds = {{ min = 0.5, max = 2.5 }}

[[items]]
key = "large"
kind = "numeric_estimate"
text.en = "A large quantity"
bounds = {{ min = 1000, max = 5000 }}

[[items]]
key = "negative"
kind = "numeric_estimate"
text.en = "A temperature"
bounds = {{ min = -40, max = -10 }}
"""


@pytest.mark.parametrize("seed", range(25))
def test_simulated_answers_are_valid_for_any_number_of_scenarios_and_any_bounds(seed):
    five = "\n".join(f'[[items.scenarios]]\nkey = "s{i}"\ntext.en = "S{i}"' for i in range(5))
    definition = parse_definition(STUDY.format(five=five))
    answers = simulated_answers(random.Random(seed), definition)
    parsed = parse_answers(definition.items, answers)
    assert set(parsed.answers) == {"pair", "five", "small", "large", "negative"}
    for key in ("pair", "five"):
        assert sum(parsed.answers[key]["components"].values()) == 100
    for item in definition.items:
        if item.estimate_bounds:
            low, high = item.estimate_bounds
            parts = parsed.answers[item.key]["components"]
            assert low <= parts["lowest"] <= parts["best"] <= parts["highest"] <= high


def test_the_demo_study_is_answered_as_before(demo_definition):
    # Three scenarios and unbounded estimates draw the same numbers as they always did
    # (pinned from the code before scenario sets of any size were simulated), so tests
    # and benchmarks built on fixed seeds keep their data.
    answers = simulated_answers(random.Random(7), demo_definition)
    parts = {key: value for key, value in answers.items() if "." in key}
    parts = {key: value for key, value in parts.items() if not key.startswith("rationale.")}
    # The cross-impact item, added later, draws from a stream of its own: one scenario
    # set per trigger, each summing to 100.
    cross = {key: int(value) for key, value in parts.items() if key.startswith("trigger_impact.")}
    for trigger in ("trigger_tariffs", "trigger_unilateral_strike"):
        assert sum(value for key, value in cross.items() if f".{trigger}:" in key) == 100
    parts = {key: value for key, value in parts.items() if key not in cross}
    # The signposts, added later, draw from streams of their own too.
    signposts = {key for key in parts if key.startswith("signpost_")}
    assert len(signposts) == 3 * 3
    parts = {key: value for key, value in parts.items() if key not in signposts}
    # The seed questions, last in the demo, draw after everything else.
    parts = {key: value for key, value in parts.items() if not key.startswith("seed_")}
    assert parts == {
        "driver_ranking.trust": "4",
        "driver_ranking.agendas": "3",
        "driver_ranking.trade": "5",
        "driver_ranking.us_politics": "2",
        "driver_ranking.violence": "1",
        "scenarios.status_quo": "8",
        "scenarios.rift": "30",
        "scenarios.renewal": "62",
        "transfers_next_year.lowest": "8",
        "transfers_next_year.best": "17",
        "transfers_next_year.highest": "43",
        "transfers_next_year.confidence": "70",
    }
