"""What a close reads: every submitted number, the rationales, the "can't judge" counts
and the sorted distributions, whichever way the database hands them over (issue 15)."""

from __future__ import annotations

import random

import numpy as np
import pandas as pd
from sqlalchemy import select

from elicit.extensions import db
from surveys.answers import CANNOT_JUDGE, AnswerRules, parse_answers, submit_responses
from surveys.definition import parse_definition
from surveys.demo import demo_source
from surveys.models import Panelist
from surveys.rounds import (
    answer_values,
    close_round,
    comments_of,
    distributions,
    open_round,
    panel_comments,
    responses_frame,
)
from surveys.simulation import simulated_answers

RULES = AnswerRules(cannot_judge=True)
#: Decimals whose binary values are inexact: any conversion that is not correctly
#: rounded both ways changes one of them.
AWKWARD = ["0.1", "33.3", "66.7", "12.3456", "99.99", "0.3", "2.6751", "50.05"]


def _forms(definition, count):
    """Simulated answers with awkward decimals, "can't judge" and open text in them."""
    rng = random.Random(4)
    forms = []
    for index in range(count):
        form = simulated_answers(rng, definition)
        for item in definition.items:
            if item.kind == "probability":
                form[item.key] = rng.choice(AWKWARD)
            elif item.kind == "likert" and index % 3 == 0:
                form[item.key] = CANNOT_JUDGE
            elif item.kind == "open_text":
                form[item.key] = "Mentions cannot_judge in its text, which counts for nothing."
        forms.append(form)
    return forms


def _submitted(make_study, make_panel, count=12):
    """A demo study whose round 1 has ``count`` submissions; the forms sent."""
    study = make_study()
    make_panel(study, count)
    round_ = open_round(db.session, study)
    definition = parse_definition(demo_source(), name="demo")
    forms = _forms(definition, count)
    panelists = db.session.execute(
        select(Panelist).where(Panelist.study_id == study.id).order_by(Panelist.id)
    ).scalars()
    pseudonyms = {}
    for panelist, form in zip(list(panelists), forms, strict=True):
        pseudonyms[panelist.pseudonym] = (panelist.group, form)
        submit_responses(db.session, panelist, form)
    return study, round_, definition, pseudonyms


def test_every_number_is_read_as_the_same_double(app, make_study, make_panel):
    study, _, definition, sent = _submitted(make_study, make_panel)
    records = []
    for pseudonym, (group, form) in sent.items():
        for key, answer in parse_answers(definition.items, form, RULES).answers.items():
            for component, value in answer_values(answer):
                records.append((pseudonym, group, 1, key, component, value))
    expected = pd.DataFrame.from_records(
        records, columns=["panelist", "group", "round", "item", "component", "value"]
    )
    frame = responses_frame(db.session, study, round_numbers=[0, 1])
    keys = ["panelist", "item", "component"]
    got = frame.sort_values(keys, ignore_index=True)
    want = expected.sort_values(keys, ignore_index=True)
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    assert np.isnan(got["value"]).sum() == 4 * 10  # four panelists × ten likert items
    assert responses_frame(db.session, study, round_numbers=[]).empty


def test_comments_and_distributions_are_those_of_every_answer(app, make_study, make_panel):
    study, round_, definition, sent = _submitted(make_study, make_panel)
    # The reference: every answer of the round, in the order of its key, rationale and
    # language (each panelist's own, as they submitted without choosing another).
    languages = {
        panelist.pseudonym: panelist.language
        for panelist in db.session.execute(db.select(Panelist)).scalars()
    }
    rows = sorted(
        (
            (key, answer, parsed.rationales.get(key), languages[pseudonym])
            for pseudonym, (_, form) in sent.items()
            for parsed in [parse_answers(definition.items, form, RULES)]
            for key, answer in parsed.answers.items()
        ),
        key=lambda row: (row[0], row[2] or "", row[3]),
    )
    comments = panel_comments(db.session, round_)
    assert comments == comments_of(rows)
    assert list(comments["cannot_judge"]) == sorted(comments["cannot_judge"])
    assert sum(comments["cannot_judge"].values()) == 4 * 10
    frame = responses_frame(db.session, study)
    reference: dict[str, dict[str, list[float]]] = {}
    for (item, component), values in frame.dropna(subset=["value"]).groupby(["item", "component"])[
        "value"
    ]:
        reference.setdefault(str(item), {})[str(component)] = sorted(float(v) for v in values)
    stored = distributions(frame)
    assert stored == reference
    assert list(stored) == list(reference)
    assert all(list(stored[item]) == list(reference[item]) for item in stored)


def test_rows_come_round_by_round_and_each_distribution_by_panelist(app, make_study, make_panel):
    # Resubmissions rewrite rows: on PostgreSQL their new versions lie elsewhere in the
    # table, and a scan reads them in that order; the frame's order must not follow it.
    study, _, definition, _ = _submitted(make_study, make_panel)
    panel = list(
        db.session.execute(
            select(Panelist).where(Panelist.study_id == study.id).order_by(Panelist.id.desc())
        ).scalars()
    )
    rng = random.Random(9)
    for panelist in panel[:5]:
        submit_responses(db.session, panelist, simulated_answers(rng, definition))
    close_round(db.session, study)
    open_round(db.session, study)
    for panelist in panel[2:9]:
        submit_responses(db.session, panelist, simulated_answers(rng, definition))
    order = {panelist.pseudonym: panelist.id for panelist in panel}
    frame = responses_frame(db.session, study)
    rounds = frame["round"].to_numpy()
    assert (rounds[1:] >= rounds[:-1]).all() and set(rounds) == {1, 2}
    distributions = frame.groupby(["round", "item", "component"], sort=False)["panelist"]
    assert len(distributions) > 20
    for _, pseudonyms in distributions:
        ids = [order[pseudonym] for pseudonym in pseudonyms]
        assert ids == sorted(ids)
    assert frame.loc[frame["round"] == 2, "panelist"].nunique() == 7
