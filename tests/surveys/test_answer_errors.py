"""Every problem of an item is reported in one submission (issue 13, point 8): the
parser of experts' answers (:func:`surveys.answers.parse_answers`) goes on checking an
item after its first problem, so an expert corrects everything in one go."""

from __future__ import annotations

import pytest

from surveys.answers import RATIONALE_MAX_LENGTH, parse_answers
from surveys.definition import parse_definition
from surveys.demo import demo_source
from surveys.errors import AnswerError, InvalidAnswers

ITEMS = parse_definition(demo_source()).items
ESTIMATE = "transfers_next_year"  # bounds 0–1000, unit "people"


def estimate(lowest: str = "", highest: str = "", best: str = "", confidence: str = ""):
    """The four fields of the demo's numeric estimate."""
    return {
        f"{ESTIMATE}.lowest": lowest,
        f"{ESTIMATE}.highest": highest,
        f"{ESTIMATE}.best": best,
        f"{ESTIMATE}.confidence": confidence,
    }


def errors_of(form: dict[str, str]) -> list[AnswerError]:
    """The problems ``form`` is refused with, in the order they were found."""
    with pytest.raises(InvalidAnswers) as caught:
        parse_answers(ITEMS, form)
    return caught.value.errors


def test_a_confidence_of_120_and_a_lowest_above_the_highest_are_reported_together():
    assert errors_of(estimate("500", "100", "300", "120")) == [
        AnswerError(f"{ESTIMATE}.confidence", "out_of_range", {"min": 50, "max": 100}),
        AnswerError(ESTIMATE, "lowest_above_highest", {"lowest": 500, "highest": 100}),
    ]


def test_a_missing_part_does_not_hide_the_order_of_the_others():
    assert errors_of(estimate("500", "100", "", "80")) == [
        AnswerError(f"{ESTIMATE}.best", "estimate_missing"),
        AnswerError(ESTIMATE, "lowest_above_highest", {"lowest": 500, "highest": 100}),
    ]


def test_a_value_outside_the_bounds_is_still_placed_in_order():
    assert errors_of(estimate("2000", "100", "50", "abc")) == [
        AnswerError(f"{ESTIMATE}.lowest", "outside_bounds", {"min": 0, "max": 1000}),
        AnswerError(f"{ESTIMATE}.confidence", "not_a_number"),
        AnswerError(ESTIMATE, "lowest_above_highest", {"lowest": 2000, "highest": 100}),
    ]


@pytest.mark.parametrize(
    ("best", "expected"),
    [
        ("5", AnswerError(ESTIMATE, "best_below_lowest", {"best": 5, "lowest": 10})),
        ("70", AnswerError(ESTIMATE, "best_above_highest", {"best": 70, "highest": 60})),
    ],
)
def test_a_best_guess_outside_the_range_names_the_values_it_is_compared_with(best, expected):
    assert errors_of(estimate("10", "60", best, "40")) == [
        AnswerError(f"{ESTIMATE}.confidence", "out_of_range", {"min": 50, "max": 100}),
        expected,
    ]


def test_a_valid_estimate_is_parsed_as_before():
    parsed = parse_answers(ITEMS, estimate("10", "60", "25", "80 %"))
    assert parsed.answers == {
        ESTIMATE: {"components": {"lowest": 10, "highest": 60, "best": 25, "confidence": 80}}
    }


def test_a_share_out_of_range_and_a_wrong_total_are_reported_together():
    form = {"scenarios.status_quo": "120", "scenarios.rift": "10", "scenarios.renewal": "0"}
    assert errors_of(form) == [
        AnswerError("scenarios.status_quo", "out_of_range", {"min": 0, "max": 100}),
        AnswerError("scenarios", "scenario_sum", {"total": 130, "expected": 100}),
    ]


def test_a_scenario_that_is_not_a_number_leaves_the_total_unjudged():
    form = {"scenarios.status_quo": "x", "scenarios.rift": "10", "scenarios.renewal": "0"}
    assert errors_of(form) == [AnswerError("scenarios.status_quo", "not_a_number")]


def test_a_place_given_twice_is_reported_while_another_is_missing():
    form = {
        "driver_ranking.trust": "1",
        "driver_ranking.agendas": "1",
        "driver_ranking.trade": "3",
        "driver_ranking.us_politics": "",
        "driver_ranking.violence": "5",
    }
    assert errors_of(form) == [
        AnswerError("driver_ranking.us_politics", "rank_missing", {"max": 5}),
        AnswerError("driver_ranking", "rank_duplicate", {"max": 5}),
    ]


def test_every_problem_of_every_item_and_its_reason_comes_back_in_one_submission():
    form = {
        **estimate("900", "100", "", "120"),
        f"rationale.{ESTIMATE}": "r" * (RATIONALE_MAX_LENGTH + 1),
        "scenarios.status_quo": "70",
        "scenarios.rift": "-5",
        "scenarios.renewal": "20",
        "trust_now": "9",
    }
    found = [(error.field, error.code) for error in errors_of(form)]
    assert found == [
        ("trust_now", "not_an_option"),
        ("scenarios.rift", "out_of_range"),
        ("scenarios", "scenario_sum"),
        (f"{ESTIMATE}.best", "estimate_missing"),
        (f"{ESTIMATE}.confidence", "out_of_range"),
        (ESTIMATE, "lowest_above_highest"),
        (f"rationale.{ESTIMATE}", "too_long"),
    ]
