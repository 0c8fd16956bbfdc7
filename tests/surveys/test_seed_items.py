"""Seed items (calibration questions with a known answer) and Cooke's classical model in
the study lifecycle (issue 16, point 5): definition, writer, answers, the close's
``classical_model`` entry, and the known answer's absence from every expert page."""

from __future__ import annotations

import math

import numpy as np
import pytest

import analysis
from elicit.extensions import db
from surveys.answers import parse_answers, submit_responses
from surveys.calibration import classical_model_summary
from surveys.definition import InvalidDefinition, parse_definition
from surveys.definition_writer import definition_to_toml
from surveys.errors import InvalidAnswers
from surveys.panel import panelist_for_token
from surveys.rounds import close_round, open_round, responses_frame
from surveys.serialization import item_from_json, item_to_json
from surveys.simulation import simulated_answers
from surveys.studies import study_definition
from tests.conftest import enter, log_in

#: A known answer no page would print by chance.
SECRET = 4817.25

SOURCE = f"""\
[study]
slug = "seeds"
languages = ["en", "es"]
max_rounds = 3
title.en = "Seeds"
title.es = "Semillas"

[consensus]
criteria = [{{ kind = "iqr", max = 1 }}]

[[items]]
key = "seed_cases"
kind = "seed"
text.en = "How many cases were recorded?"
text.es = "¿Cuántos casos se registraron?"
unit.en = "cases"
unit.es = "casos"
answer = {SECRET}

[[items]]
key = "seed_ratio"
kind = "seed"
text.en = "What was the ratio?"
text.es = "¿Cuál fue la proporción?"
answer = 2.5
background = "log-uniform"

[[items]]
key = "seed_level"
kind = "seed"
text.en = "What was the level?"
text.es = "¿Cuál fue el nivel?"
answer = 40

[[items]]
key = "estimate"
kind = "numeric_estimate"
text.en = "How many next year?"
text.es = "¿Cuántos el año próximo?"

[[items]]
key = "chance"
kind = "probability"
text.en = "How likely?"
text.es = "¿Qué probabilidad?"
"""

#: Four experts' answers: (seed_cases, seed_ratio, seed_level) as 5/50/95 percentiles,
#: then the estimate as (lowest, highest, best, confidence).
ANSWERS = [
    ((4000, 4800, 5600), (1.5, 2.4, 4), (30, 41, 50), (10, 30, 20, 80)),
    ((4900, 5000, 5100), (3, 3.5, 4), (45, 50, 55), (12, 40, 25, 50)),
    ((1000, 3000, 9000), (0.5, 2, 9), (10, 35, 90), (11, 20, 18, 90)),
    ((4700, 4810, 4820), (2, 2.6, 2.7), (39, 40.5, 41), (5, 50, 30, 70)),
]


def form_of(answer) -> dict[str, str]:
    """The expert form of one of :data:`ANSWERS`."""
    cases, ratio, level, (lowest, highest, best, confidence) = answer
    form = {}
    for key, values in (("seed_cases", cases), ("seed_ratio", ratio), ("seed_level", level)):
        for part, value in zip(("q05", "q50", "q95"), values, strict=True):
            form[f"{key}.{part}"] = str(value)
    form.update(
        {
            "estimate.lowest": str(lowest),
            "estimate.highest": str(highest),
            "estimate.best": str(best),
            "estimate.confidence": str(confidence),
            "chance": "40",
        }
    )
    return form


def problems(source: str) -> list[str]:
    with pytest.raises(InvalidDefinition) as raised:
        parse_definition(source, name="seeds.toml")
    return [str(error) for error in raised.value.errors]


# -- definition ---------------------------------------------------------------------------


def test_a_seed_item_is_read_written_and_stored_losslessly() -> None:
    definition = parse_definition(SOURCE)
    seed = definition.items[0]
    assert seed.kind == "seed"
    assert seed.components == ("q05", "q50", "q95")
    assert seed.seed_answer == SECRET and seed.background == "uniform"
    assert definition.items[1].background == "log-uniform"
    assert definition.consensus.rule_for(seed) is None
    text = definition_to_toml(definition)
    assert f"answer = {SECRET}" in text
    assert "no panel feedback on\n# seed items" in text
    assert parse_definition(text) == definition
    for item in definition.items:
        assert item_from_json(item.key, item.kind, item_to_json(item)) == item


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("", "items.seed_cases.answer: required field is missing"),
        (
            f'answer = "{SECRET}"\n',
            "items.seed_cases.answer: must be a number, not a string",
        ),
        ("answer = nan\n", "items.seed_cases.answer: must be a finite number, not nan"),
        ("answer = 1e300\n", "items.seed_cases.answer: must be between -10^15 and 10^15"),
        (
            f'answer = {SECRET}\nbackground = "normal"\n',
            'items.seed_cases.background: must be "uniform" or "log-uniform", not \'normal\'',
        ),
        (
            'answer = -3\nbackground = "log-uniform"\n',
            "items.seed_cases.answer: must be above 0 on a log-uniform background",
        ),
        (
            f'answer = {SECRET}\nconsensus = {{ criteria = [{{ kind = "iqr", max = 1 }}] }}\n',
            "items.seed_cases.consensus: seed items have no consensus rule",
        ),
        (
            f"answer = {SECRET}\nbounds = {{ min = 0, max = 1 }}\n",
            "items.seed_cases.bounds: unknown field",
        ),
    ],
)
def test_a_seed_item_s_problems_name_its_field(change: str, expected: str) -> None:
    source = SOURCE.replace(f"answer = {SECRET}\n", change, 1)
    found = problems(source)
    assert any(expected in problem for problem in found), found


def test_a_kind_rule_for_seed_items_is_refused() -> None:
    source = SOURCE.replace(
        "[[items]]",
        '[consensus.by_kind.seed]\ncriteria = [{ kind = "iqr", max = 1 }]\n\n[[items]]',
        1,
    )
    assert any(
        "consensus.by_kind.seed: seed items have no consensus rule" in p for p in problems(source)
    )


# -- answers ------------------------------------------------------------------------------


def seed_errors(form: dict[str, str]) -> list[tuple[str, str]]:
    items = parse_definition(SOURCE).items
    with pytest.raises(InvalidAnswers) as raised:
        parse_answers(items, form)
    return [(error.field, error.code) for error in raised.value.errors]


def test_a_seed_answer_is_three_increasing_numbers() -> None:
    items = parse_definition(SOURCE).items
    parsed = parse_answers(
        items, {"seed_cases.q05": "1", "seed_cases.q50": "2,5", "seed_cases.q95": "7"}
    )
    assert parsed.answers == {"seed_cases": {"components": {"q05": 1.0, "q50": 2.5, "q95": 7.0}}}
    assert parse_answers(items, {}).answers == {}


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (("5", "5", "7"), [("seed_cases.q50", "percentiles_not_increasing")]),
        (("9", "5", "7"), [("seed_cases.q50", "percentiles_not_increasing")]),
        (("1", "8", "7"), [("seed_cases.q95", "percentiles_not_increasing")]),
        (("$5", "6", "7"), [("seed_cases.q05", "not_a_number")]),
        (("=1+1", "6", "7"), [("seed_cases.q05", "not_a_number")]),
        (("1\x00", "6", "7"), [("seed_cases.q05", "not_a_number")]),
        (("1", "6", "10000000000000"), [("seed_cases.q95", "not_a_number")]),
        (("1", "6", "1e9"), [("seed_cases.q95", "not_a_number")]),
        (("1", "", "7"), [("seed_cases.q50", "estimate_missing")]),
        (("1", "1,000", "7"), [("seed_cases.q50", "ambiguous_number")]),
    ],
)
def test_a_wrong_seed_answer_is_refused_naming_its_field(values, expected) -> None:
    form = {
        f"seed_cases.{part}": value
        for part, value in zip(("q05", "q50", "q95"), values, strict=True)
    }
    assert seed_errors(form) == expected


def test_a_log_uniform_seed_answer_must_be_above_zero() -> None:
    form = {"seed_ratio.q05": "0", "seed_ratio.q50": "1", "seed_ratio.q95": "2"}
    assert seed_errors(form) == [("seed_ratio.q05", "not_positive")]


def test_simulated_experts_answer_seed_items_validly_and_differently() -> None:
    import random

    definition = parse_definition(SOURCE)
    answers = [simulated_answers(random.Random(seed), definition) for seed in range(12)]
    for form in answers:
        parsed = parse_answers(definition.items, form)
        assert set(parsed.answers) >= {"seed_cases", "seed_ratio", "seed_level"}
    widths = {
        round(float(form["seed_level.q95"]) - float(form["seed_level.q05"]), -1) for form in answers
    }
    assert len(widths) > 2


# -- the close ------------------------------------------------------------------------------


def answer_round(study, links, answers) -> None:
    for link, answer in zip(links, answers, strict=False):
        submit_responses(db.session, panelist_for_token(db.session, link.token), form_of(answer))


def expected_model(answers, realizations=(SECRET, 2.5, 40.0)):
    """The classical model on the arrays of :data:`ANSWERS`, computed directly."""
    assessments = []
    for cases, ratio, level, (lowest, highest, best, confidence) in answers:
        low = best - (best - lowest) * 90 / confidence
        high = best + (highest - best) * 90 / confidence
        assessments.append([cases, ratio, level, (low, best, high)])
    return analysis.classical_model(
        np.array(assessments, dtype=float),
        np.array([*realizations, math.nan]),
        background=["uniform", "log-uniform", "uniform", "uniform"],
        overshoot=0.1,
        optimise=True,
    )


def test_the_close_stores_the_classical_model_of_the_latest_answers(
    app, make_study, make_panel
) -> None:
    study = make_study(SOURCE)
    links = make_panel(study, 5)
    open_round(db.session, study)
    answer_round(study, links, ANSWERS)
    # The fifth expert answers only the probability: no seed answer, not scored.
    submit_responses(db.session, panelist_for_token(db.session, links[4].token), {"chance": "5"})
    summary = close_round(db.session, study)
    model = summary.statistics["classical_model"]
    expected = expected_model(ANSWERS)
    assert model["status"] == "ok"
    assert model["scored_experts"] == 4 and model["experts_without_seeds"] == 1
    assert model["alpha"] == pytest.approx(expected.alpha, abs=1e-12)
    order = sorted(range(4), key=lambda e: (-expected.weights[e], -expected.combined[e]))
    rows = model["experts"]
    assert [row["expert"] for row in rows] == [1, 2, 3, 4]
    for row, expert in zip(rows, order, strict=True):
        assert row["calibration"] == pytest.approx(expected.calibration[expert], abs=1e-12)
        assert row["information"] == pytest.approx(expected.information[expert], abs=1e-12)
        assert row["weight"] == pytest.approx(expected.weights[expert], abs=1e-12)
        assert row["seeds_answered"] == 3
    assert sum(row["weight"] for row in rows) == pytest.approx(1.0)
    (target,) = model["targets"]
    assert target["item"] == "estimate" and target["experts"] == 4
    assert target["performance"] == pytest.approx(list(expected.dm[3]), abs=1e-9)
    assert target["equal"] == pytest.approx(list(expected.dm_equal[3]), abs=1e-9)
    assert [seed["item"] for seed in model["seeds"]] == ["seed_cases", "seed_ratio", "seed_level"]
    assert model["seeds"][0]["answer"] == SECRET
    # No pseudonym anywhere in the entry.
    text = repr(model)
    for link in links:
        assert link.pseudonym not in text
    # In round 2 the first expert revises one seed answer; the others keep round 1's.
    open_round(db.session, study)
    revised = [list(answer) for answer in ANSWERS]
    revised[0][0] = (4500, 4800, 5000)
    answer_round(study, links[:1], [revised[0]])
    summary = close_round(db.session, study)
    expected = expected_model([tuple(answer) for answer in revised])
    stored = sorted(row["calibration"] for row in summary.statistics["classical_model"]["experts"])
    assert stored == pytest.approx(sorted(expected.calibration), abs=1e-12)


def test_the_model_needs_two_experts_with_seed_answers(app, make_study, make_panel) -> None:
    study = make_study(SOURCE)
    links = make_panel(study, 3)
    open_round(db.session, study)
    answer_round(study, links[:1], ANSWERS[:1])
    submit_responses(db.session, panelist_for_token(db.session, links[1].token), {"chance": "5"})
    model = close_round(db.session, study).statistics["classical_model"]
    assert model["status"] == "too_few_experts"
    assert model["scored_experts"] == 1 and model["experts_without_seeds"] == 1
    assert "experts" not in model


def test_a_study_without_numeric_estimates_still_scores_its_experts() -> None:
    definition = parse_definition(SOURCE)
    rows = []
    for number, answer in enumerate(ANSWERS):
        for key, values in zip(("seed_cases", "seed_ratio", "seed_level"), answer[:3], strict=True):
            for part, value in zip(("q05", "q50", "q95"), values, strict=True):
                rows.append((f"p{number}", "a", 1, key, part, float(value)))
    import pandas as pd

    frame = pd.DataFrame(rows, columns=list(analysis.COLUMNS))
    model = classical_model_summary(frame, definition, number=1)
    assert model["status"] == "ok" and model["targets"] == []
    assert len(model["experts"]) == 4


def test_studies_without_seed_items_have_no_classical_model(app, make_study, make_panel) -> None:
    study = make_study(SOURCE.split("[[items]]", 1)[0] + "[[items]]" + SOURCE.split("[[items]]")[4])
    links = make_panel(study, 3)
    open_round(db.session, study)
    for link in links:
        submit_responses(
            db.session,
            panelist_for_token(db.session, link.token),
            {
                "estimate.lowest": "1",
                "estimate.highest": "3",
                "estimate.best": "2",
                "estimate.confidence": "80",
            },
        )
    assert "classical_model" not in close_round(db.session, study).statistics


# -- the known answer never reaches an expert -------------------------------------------


def secret_written(html: str) -> bool:
    squeezed = html.replace("\xa0", "").replace("\u202f", "").replace(" ", "")
    return any(text in squeezed for text in ("4817", "4.817", "4,817"))


def test_the_known_answer_is_on_no_expert_page(app, client, make_study, make_panel) -> None:
    study = make_study(SOURCE)
    links = make_panel(study, 4)
    open_round(db.session, study)
    pages = []
    for language in ("en", "es"):
        enter(client, links[0].token, lang=language)
        pages.append(client.get("/e/").text)
    answer_round(study, links[1:], ANSWERS[1:])
    enter(client, links[0].token)
    page = client.get("/e/").text
    from tests.conftest import csrf_token

    review = client.post(
        "/e/", data={"csrf_token": csrf_token(page), "action": "review", **form_of(ANSWERS[0])}
    )
    pages.append(review.text)
    assert "95th percentile" in review.text
    close_round(db.session, study)
    open_round(db.session, study)
    for language in ("en", "es"):
        enter(client, links[0].token, lang=language)
        pages.append(client.get("/e/").text)
    round_two = pages[-1]
    # No feedback on seed items: the panel's medians of them are nowhere on the page.
    section = round_two.split('id="item-seed_cases"', 1)[1].split("</section>", 1)[0]
    assert "Mediana del panel" not in section and "Panel median" not in section
    assert "Mediana del panel" in round_two.split('id="item-chance"', 1)[1]
    for html in pages:
        assert "seed_cases.q05" in html or "seed_cases" in html
        assert not secret_written(html)


def test_the_facilitator_sees_the_known_answer_and_the_weights(
    app, client, make_study, make_panel, make_user
) -> None:
    study = make_study(SOURCE)
    links = make_panel(study, 4)
    open_round(db.session, study)
    answer_round(study, links, ANSWERS)
    close_round(db.session, study)
    make_user("lead@example.org", studies=[study])
    assert log_in(client, "lead@example.org").status_code == 302
    for path in ("results", "report"):
        html = client.get(f"/console/studies/{study.slug}/{path}").text
        assert 'id="classical-model"' in html, path
        assert "Expert 1" in html
        assert "4,817.25" in html  # the known answer, for the facilitator
        for link in links:
            assert (
                link.pseudonym
                not in html.split('id="classical-model"', 1)[1].split("</section>", 1)[0]
            )


def test_the_frame_of_a_closed_study_gives_the_same_model(app, make_study, make_panel) -> None:
    study = make_study(SOURCE)
    links = make_panel(study, 4)
    open_round(db.session, study)
    answer_round(study, links, ANSWERS)
    stored = close_round(db.session, study).statistics["classical_model"]
    again = classical_model_summary(
        responses_frame(db.session, study), study_definition(study), number=1
    )
    assert again == stored


def test_a_seed_study_exports_and_reproduces(app, make_study, make_panel, tmp_path) -> None:
    from surveys.exports import export_tables, write_csv
    from tests.conftest import run_reproduce

    study = make_study(SOURCE)
    links = make_panel(study, 4)
    open_round(db.session, study)
    answer_round(study, links, ANSWERS)
    close_round(db.session, study)
    tables = export_tables(db.session, study)
    responses = tables.responses
    seeds = responses[responses["item"] == "seed_cases"]
    assert set(seeds["component"]) == {"q05", "q50", "q95"}
    assert set(seeds["item_kind"]) == {"seed"}
    methods = dict(zip(tables.methods["key"], tables.methods["value"], strict=True))
    assert methods["seed.seed_cases.answer"] == str(SECRET)
    assert methods["seed.seed_ratio.background"] == "log-uniform"
    assert "Cooke's classical model" in methods["definition.classical_model"]
    folder = tmp_path / "csv"
    write_csv(tables, folder)
    result = run_reproduce(folder)
    assert result.returncode == 0, result.stdout + result.stderr


def test_round_two_starts_from_the_expert_s_own_seed_answer(app, client, make_study, make_panel):
    study = make_study(SOURCE)
    links = make_panel(study, 4)
    open_round(db.session, study)
    answer_round(study, links, ANSWERS)
    close_round(db.session, study)
    open_round(db.session, study)
    enter(client, links[1].token, lang="en")
    page = client.get("/e/").text
    assert 'name="seed_cases.q05" value="4900"' in page
    assert 'name="seed_level.q95" value="55"' in page


def test_the_model_depends_on_the_answers_not_on_the_pseudonyms() -> None:
    """The same answers under other pseudonyms give the same entry, to the last bit: the
    experts enter the model in the order of their answers, so every sum runs in the
    same order (a close of the same data on another panel stores the same summary)."""
    import random

    import pandas as pd

    definition = parse_definition(SOURCE)
    rng = random.Random(3)
    answers = []
    for _ in range(60):
        seeds = []
        for centre in (4817.25, 2.5, 40.0):
            low, high = centre * rng.uniform(0.5, 0.99), centre * rng.uniform(1.01, 1.6)
            seeds.append((low, centre * rng.uniform(0.8, 1.2), high))
        seeds = [(a, min(max(b, a * 1.001), c * 0.999), c) for a, b, c in seeds]
        best = rng.uniform(10, 40)
        answers.append((*seeds, (best - rng.uniform(1, 9), best + rng.uniform(1, 9), best, 80)))

    def frame(names: list[str]) -> pd.DataFrame:
        rows = []
        for name, (cases, ratio, level, (lowest, highest, best, confidence)) in zip(
            names, answers, strict=True
        ):
            for key, values in (
                ("seed_cases", cases),
                ("seed_ratio", ratio),
                ("seed_level", level),
            ):
                for part, value in zip(("q05", "q50", "q95"), values, strict=True):
                    rows.append((name, "a", 1, key, part, float(value)))
            for part, value in zip(
                ("lowest", "highest", "best", "confidence"),
                (lowest, highest, best, confidence),
                strict=True,
            ):
                rows.append((name, "a", 1, "estimate", part, float(value)))
        return pd.DataFrame(rows, columns=list(analysis.COLUMNS))

    names = [f"P{number:03d}" for number in range(len(answers))]
    shuffled = names[:]
    random.Random(8).shuffle(shuffled)
    first = classical_model_summary(frame(names), definition, number=1)
    second = classical_model_summary(frame(shuffled), definition, number=1)
    assert first["status"] == "ok" and len(first["experts"]) == len(answers)
    assert first == second


def test_the_export_holds_every_round_s_model_without_pseudonyms(
    app, make_study, make_panel, tmp_path
) -> None:
    from surveys.exports import export_tables, write_csv

    study = make_study(SOURCE)
    links = make_panel(study, 4)
    open_round(db.session, study)
    answer_round(study, links, ANSWERS)
    close_round(db.session, study)
    open_round(db.session, study)
    revised = [list(answer) for answer in ANSWERS]
    revised[0][0] = (4500, 4800, 5000)
    answer_round(study, links[:1], [revised[0]])
    close_round(db.session, study)
    table = export_tables(db.session, study).classical_model
    for number, answers in ((1, ANSWERS), (2, [tuple(answer) for answer in revised])):
        expected = expected_model(answers)
        rows = table[table["round"] == number]
        experts = rows[rows["kind"] == "expert"].sort_values("expert")
        assert list(experts["expert"]) == [1, 2, 3, 4]
        assert sorted(experts["calibration"]) == pytest.approx(sorted(expected.calibration))
        assert sorted(experts["weight"]) == pytest.approx(sorted(expected.weights))
        assert experts["weight"].is_monotonic_decreasing
        makers = rows[rows["kind"] == "decision_maker"].set_index("decision_maker")
        assert makers.loc["performance", "alpha"] == pytest.approx(expected.alpha, abs=1e-12)
        assert makers.loc["performance", "calibration"] == pytest.approx(expected.dm_calibration)
        assert makers.loc["equal", "information"] == pytest.approx(expected.dm_equal_information)
        estimate = rows[(rows["kind"] == "item") & (rows["item"] == "estimate")]
        estimate = estimate.set_index("decision_maker")
        performance = estimate.loc["performance", ["q05", "q50", "q95"]].astype(float)
        assert list(performance) == pytest.approx(list(expected.dm[3]), abs=1e-9)
        equal = estimate.loc["equal", ["q05", "q50", "q95"]].astype(float)
        assert list(equal) == pytest.approx(list(expected.dm_equal[3]), abs=1e-9)
        seed = rows[(rows["kind"] == "item") & (rows["item"] == "seed_cases")]
        assert set(seed["known_answer"]) == {SECRET}
    write_csv(export_tables(db.session, study), tmp_path / "csv")
    written = (tmp_path / "csv" / "classical_model.csv").read_text(encoding="utf-8")
    assert written.startswith("round,kind,expert,decision_maker,item,")
    for link in links:
        assert link.pseudonym not in written


def test_pages_list_the_heaviest_experts_and_count_the_rest(
    app, client, make_study, make_panel, make_user, monkeypatch
) -> None:
    monkeypatch.setattr("surveys.calibration.LISTED_EXPERTS", 2)
    study = make_study(SOURCE)
    links = make_panel(study, 4)
    open_round(db.session, study)
    answer_round(study, links, ANSWERS)
    model = close_round(db.session, study).statistics["classical_model"]
    weighted = sum(1 for row in model["experts"] if row["weight"] > 0)
    make_user("lead@example.org", studies=[study])
    assert log_in(client, "lead@example.org").status_code == 302
    for path in ("results", "report"):
        html = client.get(f"/console/studies/{study.slug}/{path}").text
        section = html.split('id="classical-model"', 1)[1].split("</section>", 1)[0]
        assert 'data-expert="1"' in section and 'data-expert="2"' in section, path
        assert 'data-expert="3"' not in section and 'data-expert="4"' not in section, path
        assert "… 2 more experts, not listed here" in section
        assert (
            f"The 2 heaviest of the 4 scored experts are listed; {weighted} of them all "
            "weigh more than 0." in section
        )


def test_a_combination_s_percentile_past_the_item_s_bounds_is_marked(
    app, client, make_study, make_panel, make_user
) -> None:
    bounded = SOURCE.replace(
        'text.en = "How many next year?"',
        'bounds = { min = 0, max = 1000 }\ntext.en = "How many next year?"',
    )
    # The fourth expert's interval, 1 to 50 around 30 at 50 % confidence, widens to
    # 90 %: from 30 − 29 × 1.8 = −22.2, below the count's 0.
    answers = [*ANSWERS[:3], (*ANSWERS[3][:3], (1, 50, 30, 50))]
    expected = expected_model(answers)
    assert expected.dm_equal[3][0] < 0 <= expected.dm[3][1]
    study = make_study(bounded)
    links = make_panel(study, 4)
    open_round(db.session, study)
    answer_round(study, links, answers)
    close_round(db.session, study)
    make_user("lead@example.org", studies=[study])
    assert log_in(client, "lead@example.org").status_code == 302
    html = client.get(f"/console/studies/{study.slug}/results").text
    targets = html.split('id="classical-targets"', 1)[1].split("</table>", 1)[0]
    marked = targets.count('class="beyond-bounds"')
    below = sum(value < 0 for value in (*expected.dm_equal[3], *expected.dm[3]))
    assert marked == below >= 1
    assert "Outside the possible values, 0 to 1,000" in targets
    assert "Outside the question&#39;s possible values" in html or (
        "Outside the question's possible values" in html
    )
    seeds = html.split('id="classical-seeds"', 1)[1].split("</table>", 1)[0]
    assert 'class="beyond-bounds"' not in seeds


def test_a_third_round_s_model_reads_the_first_round_as_before(app, make_study, make_panel):
    """Round 3's close reads round 1 again for the model only (its seed answers and one
    row per panelist): the entry equals the model of every round's whole answers."""
    study = make_study(SOURCE)
    links = make_panel(study, 6)
    open_round(db.session, study)
    answer_round(study, links, ANSWERS)
    # Two panelists answer only the probability, in round 1 only: not scored, counted.
    for link in links[4:]:
        submit_responses(db.session, panelist_for_token(db.session, link.token), {"chance": "5"})
    close_round(db.session, study)
    open_round(db.session, study)
    revised = [list(answer) for answer in ANSWERS]
    revised[1][1] = (2, 2.4, 3)
    answer_round(study, links[1:2], [revised[1]])
    close_round(db.session, study)
    open_round(db.session, study)
    revised[2][0] = (3000, 4000, 6000)
    answer_round(study, links[2:3], [revised[2]])
    stored = close_round(db.session, study).statistics["classical_model"]
    whole = classical_model_summary(
        responses_frame(db.session, study), study_definition(study), number=3
    )
    assert stored == whole
    assert stored["scored_experts"] == 4 and stored["experts_without_seeds"] == 2
    expected = expected_model([tuple(answer) for answer in revised])
    assert sorted(row["calibration"] for row in stored["experts"]) == pytest.approx(
        sorted(expected.calibration), abs=1e-12
    )
