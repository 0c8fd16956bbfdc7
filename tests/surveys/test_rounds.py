"""Rounds: their lifecycle, the summary a round closes into, the database's own guarantees,
and the rules every answer must meet."""

from __future__ import annotations

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from elicit.extensions import db
from surveys.answers import RATIONALE_MAX_LENGTH, parse_answers, submit_responses
from surveys.definition import parse_definition
from surveys.errors import AnswerError, Conflict, InvalidAnswers
from surveys.models import Response, ResponseStatus, Round, RoundStatus, RoundSummary
from surveys.panel import panelist_for_token
from surveys.rounds import close_round, closed_summary, open_round, open_round_of

# Weibull (Hyndman & Fan type 6) puts the p-quantile of n sorted values at position
# (n + 1)p: with three answers q1, median and q3 are exactly the 1st, 2nd and 3rd
# values, where the default (type 7) would interpolate q1 and q3.
SOURCE = """\
[study]
slug = "round-study"
languages = ["en", "es"]
max_rounds = 2
quantile_method = "weibull"
title = { en = "Rounds", es = "Rondas" }

[consensus]
criteria = [{ kind = "iqr", max = 1 }]

[consensus.by_kind.probability]
criteria = [{ kind = "iqr", max = 20 }]

[[items]]
key = "rating"
kind = "likert"
scale = { min = 1, max = 5 }
text = { en = "Rate it", es = "Califíquelo" }
labels = { en = ["1", "2", "3", "4", "5"], es = ["1", "2", "3", "4", "5"] }

[[items]]
key = "chance"
kind = "probability"
text = { en = "How likely?", es = "¿Qué tan probable?" }

[[items]]
key = "futures"
kind = "scenario_set"
text = { en = "Which future?", es = "¿Qué futuro?" }

[[items.scenarios]]
key = "good"
text = { en = "Good", es = "Bueno" }

[[items.scenarios]]
key = "bad"
text = { en = "Bad", es = "Malo" }

[[items]]
key = "comment"
kind = "open_text"
max_length = 50
rationale = false
text = { en = "Anything else?", es = "¿Algo más?" }
"""

ITEMS = list(parse_definition(SOURCE).items)


def round_count(study) -> int:
    """How many rounds the study has in the database."""
    return db.session.execute(
        select(func.count()).select_from(Round).where(Round.study_id == study.id)
    ).scalar_one()


# -- lifecycle ---------------------------------------------------------------------------


def test_open_round_numbers_from_one(make_study):
    """The first round is number 1 and open."""
    study = make_study(SOURCE)
    round_ = open_round(db.session, study)
    assert (round_.number, round_.status) == (1, RoundStatus.OPEN)
    assert round_.opened_at is not None
    assert open_round_of(db.session, study) is round_


def test_cannot_open_while_a_round_is_open(make_study):
    """A second open is refused and creates nothing."""
    study = make_study(SOURCE)
    open_round(db.session, study)
    with pytest.raises(Conflict):
        open_round(db.session, study)
    assert round_count(study) == 1


def test_rounds_follow_each_other_up_to_max_rounds(make_study):
    """Close, open the next; beyond ``max_rounds`` (2 here) opening is refused."""
    study = make_study(SOURCE)
    open_round(db.session, study)
    close_round(db.session, study)
    second = open_round(db.session, study)
    assert second.number == 2
    close_round(db.session, study)
    with pytest.raises(Conflict, match="at most 2"):
        open_round(db.session, study)
    assert round_count(study) == 2


def test_close_without_an_open_round(make_study):
    """Closing needs an open round: none yet, or the last already closed."""
    study = make_study(SOURCE)
    with pytest.raises(Conflict):
        close_round(db.session, study)
    open_round(db.session, study)
    close_round(db.session, study)
    with pytest.raises(Conflict):
        close_round(db.session, study)
    assert db.session.execute(select(func.count()).select_from(RoundSummary)).scalar_one() == 1


def test_closing_an_unanswered_round_stores_an_empty_summary(make_study):
    """A round nobody answered closes with no respondents and no rows."""
    study = make_study(SOURCE)
    open_round(db.session, study)
    summary = close_round(db.session, study)
    assert summary.respondents == 0
    assert summary.statistics["rows"] == []


def test_close_stores_the_round_summary(make_study, make_panel):
    """Respondents, one row per (item, component), open text absent, method recorded."""
    study = make_study(SOURCE)
    links = make_panel(study, 4)
    round_ = open_round(db.session, study)
    forms = [
        {"rating": "1", "chance": "40", "futures.good": "50", "futures.bad": "50",
         "comment": "Tariffs."},
        {"rating": "2", "chance": "50", "futures.good": "60", "futures.bad": "40"},
        {"rating": "3", "chance": "60", "futures.good": "70", "futures.bad": "30",
         "comment": "Elections."},
        {},  # the fourth expert opens the page and submits nothing
    ]  # fmt: skip
    for link, form in zip(links, forms, strict=True):
        submit_responses(db.session, panelist_for_token(db.session, link.token), form)

    summary = close_round(db.session, study)

    assert round_.status == RoundStatus.CLOSED
    assert round_.closed_at is not None
    assert summary.respondents == 3
    assert summary.quantile_method == "weibull"
    rows = {(row["item"], row["component"]): row for row in summary.statistics["rows"]}
    assert set(rows) == {("rating", ""), ("chance", ""), ("futures", "good"), ("futures", "bad")}
    expected = {
        # (n, min, q1, median, q3, iqr, max, consensus)
        ("rating", ""): (3, 1, 1, 2, 3, 2, 3, False),  # default rule: IQR ≤ 1
        ("chance", ""): (3, 40, 40, 50, 60, 20, 60, True),  # probability: IQR ≤ 20
        ("futures", "good"): (3, 50, 50, 60, 70, 20, 70, False),
        ("futures", "bad"): (3, 30, 30, 40, 50, 20, 50, False),
    }
    for key, (n, low, q1, median, q3, iqr, high, consensus) in expected.items():
        row = rows[key]
        assert row["round"] == 1
        assert row["n"] == n, key
        assert row["mean"] == pytest.approx(median), key  # symmetric answers
        assert (row["min"], row["q1"], row["median"]) == pytest.approx((low, q1, median)), key
        assert (row["q3"], row["iqr"], row["max"]) == pytest.approx((q3, iqr, high)), key
        assert row["consensus"] is consensus, key

    db.session.expire_all()
    stored = closed_summary(db.session, study, 1)
    assert stored is not None
    assert stored.respondents == 3
    assert stored.quantile_method == "weibull"
    assert {(row["item"], row["component"]) for row in stored.statistics["rows"]} == set(rows)


def test_second_round_summary_counts_only_that_round(make_study, make_panel):
    """Round 2's summary holds round 2's answers and respondents, not round 1's."""
    study = make_study(SOURCE)
    first, second = make_panel(study, 2)
    open_round(db.session, study)
    for link, rating in ((first, "1"), (second, "5")):
        submit_responses(db.session, panelist_for_token(db.session, link.token), {"rating": rating})
    close_round(db.session, study)
    open_round(db.session, study)
    submit_responses(db.session, panelist_for_token(db.session, second.token), {"rating": "4"})

    summary = close_round(db.session, study)

    assert summary.respondents == 1
    (row,) = summary.statistics["rows"]
    assert (row["round"], row["item"], row["component"], row["n"]) == (2, "rating", "", 1)
    assert (row["min"], row["median"], row["max"]) == pytest.approx((4, 4, 4))
    assert closed_summary(db.session, study, 1).respondents == 2


# -- constraints the database enforces on its own ----------------------------------------


def _round_row(study, number: int, status: RoundStatus) -> None:
    """Insert a round directly, past every check ``open_round`` makes."""
    db.session.execute(insert(Round).values(study_id=study.id, number=number, status=status))
    db.session.flush()


def test_one_response_per_panelist_round_and_item(make_study, make_panel):
    """A second response to the same item in the same round is refused by the database."""
    study = make_study(SOURCE)
    (link,) = make_panel(study, 1)
    panelist = panelist_for_token(db.session, link.token)
    round_ = open_round(db.session, study)
    rating, chance = study.items[0], study.items[1]

    def response(item, value: int) -> None:
        db.session.execute(
            insert(Response).values(
                round_id=round_.id, panelist_id=panelist.id, item_id=item.id,
                item_version=1, answer={"value": value}, status=ResponseStatus.SUBMITTED,
            )
        )  # fmt: skip
        db.session.flush()

    response(rating, 3)
    response(chance, 40)  # another item is fine
    with pytest.raises(IntegrityError):
        response(rating, 4)
    db.session.rollback()


def test_round_number_unique_per_study(make_study):
    """Two rounds numbered 1 in one study are refused; in two studies they are fine."""
    study = make_study(SOURCE)
    other = make_study(SOURCE.replace('slug = "round-study"', 'slug = "other-study"'))
    _round_row(study, 1, RoundStatus.CLOSED)
    _round_row(other, 1, RoundStatus.CLOSED)
    with pytest.raises(IntegrityError):
        _round_row(study, 1, RoundStatus.CLOSED)
    db.session.rollback()


def test_at_most_one_open_round_per_study(make_study):
    """The partial unique index refuses a second open round."""
    study = make_study(SOURCE)
    _round_row(study, 1, RoundStatus.OPEN)
    with pytest.raises(IntegrityError):
        _round_row(study, 2, RoundStatus.OPEN)
    db.session.rollback()


def test_closed_rounds_do_not_count_against_the_open_one(make_study):
    """Any number of closed rounds, one open round, and another study's open round."""
    study = make_study(SOURCE)
    other = make_study(SOURCE.replace('slug = "round-study"', 'slug = "other-study"'))
    _round_row(study, 1, RoundStatus.CLOSED)
    _round_row(study, 2, RoundStatus.CLOSED)
    _round_row(study, 3, RoundStatus.OPEN)
    _round_row(other, 1, RoundStatus.OPEN)
    db.session.commit()
    assert round_count(study) == 3
    assert open_round_of(db.session, study).number == 3


# -- parse_answers -----------------------------------------------------------------------


def answer_errors(form: dict[str, str]) -> list[AnswerError]:
    """The errors ``form`` is refused with."""
    with pytest.raises(InvalidAnswers) as caught:
        parse_answers(ITEMS, form)
    return caught.value.errors


def test_valid_answers_are_parsed() -> None:
    """Numbers, scenario components, texts and rationales come back typed."""
    parsed = parse_answers(
        ITEMS,
        {
            "rating": " 4 ",
            "chance": "12.5 %",
            "futures.good": "62,5",
            "futures.bad": "37,5",
            "comment": "  Watch the border.  ",
            "rationale.rating": " Because. ",
        },
    )
    assert parsed.answers == {
        "rating": {"value": 4},
        "chance": {"value": 12.5},
        "futures": {"components": {"good": 62.5, "bad": 37.5}},
        "comment": {"text": "Watch the border."},
    }
    assert parsed.rationales == {"rating": "Because."}


def test_comma_decimal_is_accepted() -> None:
    """``12,5`` is twelve and a half, as many experts write it."""
    assert parse_answers(ITEMS, {"chance": "12,5"}).answers == {"chance": {"value": 12.5}}


def test_blank_means_unanswered() -> None:
    """Blank inputs are no answer and no error; so is an untouched scenario set."""
    parsed = parse_answers(
        ITEMS,
        {"rating": "", "chance": "   ", "futures.good": "", "futures.bad": " ", "comment": ""},
    )
    assert parsed.answers == {}
    assert parsed.rationales == {}
    assert parse_answers(ITEMS, {}).answers == {}


@pytest.mark.parametrize("raw", ["0", "6", "2.5", "three", "-1"])
def test_likert_not_an_option(raw: str) -> None:
    """Only the scale's whole options 1–5 are answers."""
    assert answer_errors({"rating": raw}) == [
        AnswerError("rating", "not_an_option", {"min": 1, "max": 5})
    ]


def test_likert_whole_number_written_as_decimal() -> None:
    """``3.0`` is option 3."""
    assert parse_answers(ITEMS, {"rating": "3.0"}).answers == {"rating": {"value": 3}}


@pytest.mark.parametrize("raw", ["lots", "nan", "inf", "1..2"])
def test_probability_not_a_number(raw: str) -> None:
    """Text that is not a finite number is refused."""
    assert answer_errors({"chance": raw}) == [AnswerError("chance", "not_a_number")]


@pytest.mark.parametrize("raw", ["100.5", "-1", "101"])
def test_probability_out_of_range(raw: str) -> None:
    """A probability lies between 0 and 100."""
    assert answer_errors({"chance": raw}) == [
        AnswerError("chance", "out_of_range", {"min": 0, "max": 100})
    ]


@pytest.mark.parametrize("raw", ["0", "100"])
def test_probability_bounds_are_answers(raw: str) -> None:
    """0 and 100 are allowed."""
    assert parse_answers(ITEMS, {"chance": raw}).answers == {"chance": {"value": float(raw)}}


def test_scenario_missing() -> None:
    """A started scenario set needs every scenario."""
    assert answer_errors({"futures.good": "100"}) == [
        AnswerError("futures.bad", "scenario_missing")
    ]


def test_scenario_component_checks() -> None:
    """Each scenario is a number from 0 to 100."""
    assert answer_errors({"futures.good": "abc", "futures.bad": "120"}) == [
        AnswerError("futures.good", "not_a_number"),
        AnswerError("futures.bad", "out_of_range", {"min": 0, "max": 100}),
    ]


def test_scenario_sum_reports_the_total() -> None:
    """Scenarios summing to 90 are refused, saying 90 and 100."""
    assert answer_errors({"futures.good": "60", "futures.bad": "30"}) == [
        AnswerError("futures", "scenario_sum", {"total": 90, "expected": 100})
    ]
    assert answer_errors({"futures.good": "60,5", "futures.bad": "40"}) == [
        AnswerError("futures", "scenario_sum", {"total": 100.5, "expected": 100})
    ]


def test_open_text_too_long() -> None:
    """An open answer holds at most the item's ``max_length`` (50 here) characters."""
    assert parse_answers(ITEMS, {"comment": "x" * 50}).answers == {"comment": {"text": "x" * 50}}
    assert answer_errors({"comment": "x" * 51}) == [
        AnswerError("comment", "too_long", {"max": 50, "length": 51})
    ]


def test_rationale_too_long() -> None:
    """A rationale holds at most RATIONALE_MAX_LENGTH characters."""
    limit = RATIONALE_MAX_LENGTH
    ok = parse_answers(ITEMS, {"rating": "3", "rationale.rating": "r" * limit})
    assert ok.rationales == {"rating": "r" * limit}
    assert answer_errors({"rating": "3", "rationale.rating": "r" * (limit + 1)}) == [
        AnswerError("rationale.rating", "too_long", {"max": limit, "length": limit + 1})
    ]


def test_rationale_without_answer() -> None:
    """A reason for no answer is refused (so the expert sees the answer is missing)."""
    assert answer_errors({"rationale.chance": "It depends."}) == [
        AnswerError("rationale.chance", "rationale_without_answer")
    ]


def test_rationale_of_a_wrong_answer_is_not_a_second_error() -> None:
    """When the answer itself is wrong, only the answer is reported."""
    assert answer_errors({"chance": "150", "rationale.chance": "Sure."}) == [
        AnswerError("chance", "out_of_range", {"min": 0, "max": 100})
    ]


def test_rationale_ignored_where_the_item_takes_none() -> None:
    """``rationale = false`` items ignore a stray rationale field."""
    parsed = parse_answers(ITEMS, {"comment": "Hi", "rationale.comment": "Why not"})
    assert parsed.rationales == {}


def test_every_error_is_reported_at_once() -> None:
    """One submission with a problem in every item gets every problem back, in item order."""
    assert answer_errors(
        {
            "rating": "9",
            "chance": "x",
            "rationale.chance": "Because.",
            "futures.good": "70",
            "futures.bad": "",
            "comment": "y" * 60,
        }
    ) == [
        AnswerError("rating", "not_an_option", {"min": 1, "max": 5}),
        AnswerError("chance", "not_a_number"),
        AnswerError("futures.bad", "scenario_missing"),
        AnswerError("comment", "too_long", {"max": 50, "length": 60}),
    ]
