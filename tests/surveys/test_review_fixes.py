"""Edge cases found in review: numbers people type, reserved keys, tricky TOML,
non-finite values, quartiles behind withheld feedback."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from elicit.extensions import db
from surveys.answers import AnswerRules, parse_answers, parse_number
from surveys.definition import InvalidDefinition, parse_definition
from surveys.demo import demo_source
from surveys.errors import InvalidAnswers
from surveys.rounds import close_round, open_round, previous_quartiles, summary_records


@pytest.mark.parametrize(
    ("typed", "value"),
    [("12", 12.0), ("12.5", 12.5), ("12,5", 12.5), (" 7 %", 7.0), ("-3", -3.0), ("0.25", 0.25)],
)
def test_numbers_people_type(typed, value):
    assert parse_number(typed) == value


@pytest.mark.parametrize(
    "typed",
    [
        "1,000",
        "1.000",
        "1e3",
        "1_000",
        "١٢",
        "1,000.5",
        "1 000",
        "nan",
        "inf",
        "1e308",
        "10000000000000",
    ],
)
def test_numbers_refused(typed):
    assert parse_number(typed) is None


def test_ambiguous_thousands_get_their_own_message():
    definition = parse_definition(demo_source())
    (item,) = [i for i in definition.items if i.key == "trigger_tariffs"]
    with pytest.raises(InvalidAnswers) as refused:
        parse_answers([item], {"trigger_tariffs": "1,000"}, AnswerRules())
    assert [error.code for error in refused.value.errors] == ["ambiguous_number"]


def minimal_study(items: str) -> str:
    """A study file around the given ``[[items]]`` text."""
    return (
        '[study]\nslug = "tt"\nlanguages = ["en"]\nmax_rounds = 2\ntitle = { en = "T" }\n'
        '[consensus]\ncriteria = [{ kind = "iqr", max = 1 }]\n' + items
    )


@pytest.mark.parametrize("key", ["action", "csrf_token", "rationale", "lang"])
def test_reserved_item_keys_are_refused(key):
    source = minimal_study(f'[[items]]\nkey = "{key}"\nkind = "probability"\ntext.en = "A"\n')
    with pytest.raises(InvalidDefinition) as refused:
        parse_definition(source, name="t.toml")
    (error,) = refused.value.errors
    assert "reserved" in error.message
    assert error.line == source.splitlines().index(f'key = "{key}"') + 1


def test_non_finite_bounds_and_empty_consensus_are_refused():
    source = minimal_study(
        '[[items]]\nkey = "n"\nkind = "numeric_estimate"\ntext.en = "N"\n'
        "bounds = { min = nan, max = inf }\nconsensus = {}\n"
    )
    with pytest.raises(InvalidDefinition) as refused:
        parse_definition(source, name="t.toml")
    problems = sorted((error.field, error.message) for error in refused.value.errors)
    assert problems == [
        ("items.n.bounds.max", "must be a finite number, not inf"),
        ("items.n.bounds.min", "must be a finite number, not nan"),
        ("items.n.consensus.criteria", "required field is missing"),
    ]


NOISE = [
    '# a comment with """ three quotes\n',
    "# and ''' the other three\n",
    '# a [ bracket and a " quote\n',
    'introduction.en = "say \\"[hi\\" now" # [ not a bracket\n',
    "introduction.en = 'C:\\\\path\\\\[x]'\n",
    'introduction.en = """\nline [one\n# not a comment\n"""\n',
    "introduction.en = '''\n\"\"\" [\n'''\n",
]


@pytest.mark.parametrize("noise", NOISE)
def test_line_numbers_survive_quotes_brackets_and_comments(noise):
    items = (
        '[[items]]\nkey = "b"\nkind = "likert"\ntext.en = "B"\n'
        'scale = { min = 5, max = 1 }\nlabels.en = ["1", "2", "3", "4", "5"]\n'
    )
    source = minimal_study(items).replace(
        'title = { en = "T" }\n', 'title = { en = "T" }\n' + noise
    )
    with pytest.raises(InvalidDefinition) as refused:
        parse_definition(source, name="t.toml")
    (error,) = refused.value.errors
    assert error.field == "items.b.scale.max"
    assert error.line == source.splitlines().index("scale = { min = 5, max = 1 }") + 1


def test_line_numbers_after_an_escaped_quote_and_a_bracket_in_a_string():
    source = minimal_study(
        '[[items]]\nkey = "a"\nkind = "probability"\ntext.en = "say \\"[hi\\" now"\n'
        '[[items]]\nkey = "b"\nkind = "likert"\ntext.en = "B"\nscale = { min = 5, max = 1 }\n'
        'labels.en = ["1"]\n'
    )
    with pytest.raises(InvalidDefinition) as refused:
        parse_definition(source, name="t.toml")
    lines = source.splitlines()
    found = {(error.field, error.line) for error in refused.value.errors}
    assert ("items.b.scale.max", lines.index("scale = { min = 5, max = 1 }") + 1) in found


def test_non_finite_statistics_are_stored_as_null():
    frame = pd.DataFrame(
        {"item": ["x"], "component": [""], "mean": [math.inf], "sd": [math.nan], "n": [2]}
    ).set_index(["item", "component"])
    (record,) = summary_records(frame)
    assert record == {"item": "x", "component": "", "mean": None, "sd": None, "n": 2}


def test_quartiles_behind_withheld_feedback_are_not_given_out(
    app, make_study, make_panel, post_answers
):
    study = make_study()  # feedback_min_n = 3
    links = make_panel(study, 3)
    open_round(db.session, study)
    for index, link in enumerate(links):
        answers = {"trust_now": str(index + 2)}
        if index == 0:
            answers["trust_horizon"] = "1"  # one answer only
        post_answers(link.token, answers)
    close_round(db.session, study)
    round_two = open_round(db.session, study)
    quartiles = previous_quartiles(db.session, round_two)
    assert quartiles["trust_now"][""] == (2.5, 3.5)
    assert "trust_horizon" not in quartiles
