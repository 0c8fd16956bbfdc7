"""The study report's contents: the demo study after two simulated rounds, checked
against the stored round summaries and against values recomputed here from the
answers the simulated panel submitted (not with the code under test)."""

from __future__ import annotations

import importlib.metadata
import math
from collections import Counter

import numpy as np
import pytest

from elicit.extensions import db
from surveys.report import (
    CONSENSUS_COLUMNS,
    POOLED_COLUMNS,
    STABILITY_COLUMNS,
    SUBGROUP_COLUMNS,
    study_report,
)
from surveys.rounds import open_round, stopping_recommendation
from surveys.studies import study_definition
from tests.report_support import (
    RETIRE_REASON,
    RETIRED,
    secrets_of,
    two_round_study,
)

LIKERT = "trust_now"
PROBABILITY = "trigger_tariffs"


@pytest.fixture
def finished(app, make_study, built_once):
    """The demo study after two closed rounds and its report in English."""
    run = two_round_study(make_study, built_once=built_once)
    return run, study_report(db.session, run.study, "en")


def answers_to(run, number: int, field: str, *, group: str | None = None) -> list[float]:
    """The numbers submitted to ``field`` in round ``number`` (by ``group``)."""
    return [
        float(answers[field])
        for pseudonym, answers in run.given[number].items()
        if field in answers and (group is None or run.groups[pseudonym] == group)
    ]


def quartiles(values: list[float]) -> tuple[float, float, float]:
    """Median and quartiles under Hyndman & Fan type 7, the demo's method."""
    q1, median, q3 = np.quantile(values, [0.25, 0.5, 0.75], method="linear")
    return float(median), float(q1), float(q3)


def stored_rows(run) -> dict[tuple[int, str, str], dict]:
    """Every stored summary row by (round, item, component)."""
    return {
        (round_.number, row["item"], row["component"]): row
        for round_ in run.study.rounds
        for row in round_.summary.statistics["rows"]
    }


def test_rounds_panel_response_rates_and_stopping(finished):
    run, report = finished
    assert report.slug == run.study.slug
    assert report.title.startswith("U.S.–Mexico intelligence cooperation")
    assert report.panel == {"academic": 1, "mx_official": 2, "us_official": 4}
    assert [facts.number for facts in report.rounds] == [1, 2]
    first, second = report.rounds
    assert (first.panelists, first.respondents) == (7, 7)
    assert (second.panelists, second.respondents) == (7, 6)
    assert second.rate == pytest.approx(6 / 7)
    for facts in report.rounds:
        assert facts.respondents == len(run.given[facts.number])
        stored = next(r for r in run.study.rounds if r.number == facts.number).summary
        assert facts.respondents == stored.respondents
        assert sum(group.submitted for group in facts.by_group) == facts.respondents
        assert sum(group.panelists for group in facts.by_group) == facts.panelists
        assert facts.quantile_method == "linear"
        assert facts.min_group_size == 3
        assert facts.consensus_rules == (
            "all of: cv <= 0.5",
            "all of: iqr <= 1",
            "all of: iqr <= 20",
        )
    academic = {group.group: group for group in second.by_group}["academic"]
    assert (academic.panelists, academic.submitted) == (1, 0)
    assert report.open_round is None
    expected = stopping_recommendation(db.session, run.study)
    assert report.stopping is not None and expected is not None
    assert (report.stopping.stop, report.stopping.reason) == (expected.stop, expected.reason)
    assert report.stopping.round == 2
    open_round(db.session, run.study)
    later = study_report(db.session, run.study, "en")
    assert later.open_round == 3
    assert [facts.number for facts in later.rounds] == [1, 2]  # the open round is left out


def test_methods_state_the_rules_and_settings_in_the_language(finished):
    run, report = finished
    methods = report.methods
    assert methods.quantile_method == "linear"
    assert methods.hyndman_fan_type == 7
    assert methods.consensus_default == "all of: iqr <= 1"
    assert dict(methods.consensus_by_kind) == {
        "probability": "all of: iqr <= 20",
        "scenario_set": "all of: iqr <= 20",
        "signpost": "all of: iqr <= 20",
        "cross_impact": "all of: iqr <= 20",
        "ranking": "all of: iqr <= 1",
    }
    assert methods.consensus_by_item == (("transfers_next_year.best", "all of: cv <= 0.5"),)
    assert set(methods.kinds_without_default_rule) == {"ranking", "numeric_estimate"}
    assert methods.parameters["stability_rule"] == {"max_changed_share": 0.15, "min_pvalue": None}
    assert methods.parameters["zero_method"] == "wilcox"
    assert methods.feedback_min_n == 3
    assert methods.max_rounds == 3
    assert methods.software_version == importlib.metadata.version("elicit")
    table = dict(zip(methods.table["key"], methods.table["value"], strict=True))
    assert table["quantile_method"] == "linear"
    assert table["round.2.respondents"] == "6"
    # Texts in the language asked for.
    spanish = study_report(db.session, run.study, "es")
    assert spanish.title.startswith("Cooperación de inteligencia")
    likert = next(item for item in spanish.items if item.key == LIKERT)
    assert likert.labels[1.0] == "Muy baja"
    assert likert.section == "Factores de la cooperación"


def test_consensus_table_and_final_states_are_the_stored_summaries(finished):
    run, report = finished
    stored = stored_rows(run)
    table = report.consensus
    assert list(table.columns) == list(CONSENSUS_COLUMNS)
    assert len(table) == len(stored)
    for row in table.to_dict("records"):
        expected = stored[(row["round"], row["item"], row["component"])]
        for column in ("n", "median", "q1", "q3", "iqr", "state", "rule", "evidence"):
            assert row[column] == expected[column], (row["item"], column)
    # Items in the study's order; within an item, rounds in order.
    keys = [item.key for item in study_definition(run.study).items]
    shown = list(dict.fromkeys(table["item"]))
    assert [key for key in shown if key in keys] == [key for key in keys if key in shown]
    # The retired item is reported for the round it was asked in.
    assert set(table.loc[table["item"] == RETIRED, "round"]) == {1}
    # An item's final state combines its components' states in its last round.
    for item in report.items:
        states = [
            row["state"]
            for (number, key, _), row in stored.items()
            if key == item.key and number == item.final_round and row["state"]
        ]
        if not states:
            assert item.final_state is None
        elif "dissensus" in states:
            assert item.final_state == "dissensus"
        elif set(states) == {"consensus"}:
            assert item.final_state == "consensus"
        else:
            assert item.final_state == "no_consensus"


def test_item_distributions_and_convergence_equal_recomputed_values(finished):
    run, report = finished
    items = {item.key: item for item in report.items}
    likert = items[LIKERT]
    assert likert.labels[1.0] == "Very low"
    assert likert.rounds == [1, 2]
    for entry in likert.components[""]:
        submitted = answers_to(run, entry.round, LIKERT)
        median, q1, q3 = quartiles(submitted)
        assert entry.statistics["median"] == pytest.approx(median)
        assert entry.statistics["q1"] == pytest.approx(q1)
        assert entry.statistics["q3"] == pytest.approx(q3)
        assert entry.statistics["n"] == len(submitted)
        assert list(entry.values) == sorted(submitted)
        counts = Counter(submitted)
        assert entry.histogram.options == (1.0, 2.0, 3.0, 4.0, 5.0)
        assert entry.histogram.counts == tuple(counts.get(v, 0) for v in (1, 2, 3, 4, 5))

    scenarios = items["scenarios"]
    assert list(scenarios.components) == ["status_quo", "rift", "renewal"]
    assert scenarios.component_texts["rift"].startswith("A total rift")
    for component, history in scenarios.components.items():
        for entry in history:
            submitted = answers_to(run, entry.round, f"scenarios.{component}")
            counts, _ = np.histogram(submitted, bins=np.linspace(0, 100, 11))
            assert entry.histogram.edges == tuple(float(e) for e in np.linspace(0, 100, 11))
            assert entry.histogram.counts == tuple(int(c) for c in counts)

    ranking = items["driver_ranking"]
    assert list(ranking.components) == ["trust", "agendas", "trade", "us_politics", "violence"]
    # Rankings have no default rule: the demo gives them one ([consensus.by_kind.ranking]).
    assert ranking.final_state in ("consensus", "no_consensus", "dissensus")

    estimate = items["transfers_next_year"]
    assert list(estimate.components) == ["lowest", "highest", "best", "confidence"]
    best = estimate.components["best"][1]
    assert best.statistics["median"] == pytest.approx(
        quartiles(answers_to(run, 2, "transfers_next_year.best"))[0]
    )

    retired = items[RETIRED]
    assert retired.retired_reason == RETIRE_REASON
    assert retired.retired_after_round == 1
    assert retired.rounds == [1]
    assert [item.key for item in report.retired] == [RETIRED]
    # Open-text items are not summarised, only counted.
    assert "missing_factors" not in items
    (open_text,) = report.open_text
    assert open_text.answers_by_round == {1: 7, 2: 6}


def test_stability_rows_pair_the_panelists_who_answered_both_rounds(finished):
    run, report = finished
    stored = stored_rows(run)
    table = report.stability
    assert list(table.columns) == list(STABILITY_COLUMNS)
    assert set(table["round"]) == {2}
    assert RETIRED not in set(table["item"])
    for row in table.to_dict("records"):
        expected = stored[(2, row["item"], row["component"])]
        for column in ("n_paired", "changed_share", "wilcoxon_v", "wilcoxon_p", "stable"):
            assert row[column] == expected[column], (row["item"], column)
    likert = table[(table["item"] == LIKERT)].iloc[0]
    both = [p for p in run.given[2] if p in run.given[1]]
    assert likert["n_paired"] == len(both) == 6
    changed = sum(run.given[1][p][LIKERT] != run.given[2][p][LIKERT] for p in both)
    assert likert["changed_share"] == pytest.approx(changed / len(both))


def test_subgroups_keep_the_masked_rows_masked(finished):
    run, report = finished
    likert = next(item for item in report.items if item.key == LIKERT)
    rows = {(row["round"], row["group"]): row for row in likert.subgroups.to_dict("records")}
    assert list(likert.subgroups.columns) == list(SUBGROUP_COLUMNS)
    # Round 1: two groups below the minimum of 3, both masked; the U.S. officials shown.
    for group in ("mx_official", "academic"):
        assert rows[(1, group)]["masked"] is True
        assert rows[(1, group)]["median"] is None and rows[(1, group)]["iqr"] is None
    visible = rows[(1, "us_official")]
    assert visible["masked"] is False
    submitted = answers_to(run, 1, LIKERT, group="us_official")
    assert visible["n"] == len(submitted) == 4
    assert visible["median"] == pytest.approx(quartiles(submitted)[0])
    # Round 2: one small group masked, so the other is masked too (secondary suppression).
    assert rows[(2, "mx_official")]["masked"] is True
    assert rows[(2, "us_official")]["masked"] is True
    assert rows[(2, "us_official")]["median"] is None
    assert (2, "academic") not in rows  # the academic did not answer round 2


def test_pooled_probabilities_of_probabilities_and_scenario_sets(finished):
    run, report = finished
    pooled = report.pooled
    assert list(pooled.columns) == list(POOLED_COLUMNS)
    assert {"scenarios", PROBABILITY} <= set(pooled["item"])
    assert "trust_now" not in set(pooled["item"])
    for row in pooled.to_dict("records"):
        field = row["item"] + (f".{row['component']}" if row["component"] else "")
        submitted = answers_to(run, row["round"], field)
        assert row["mean"] == pytest.approx(np.mean(submitted))
        assert row["median"] == pytest.approx(quartiles(submitted)[0])
        assert 0 <= row["pool_geometric_odds"] <= 100
    # Scenario sets as answered sum to 100, so their linear pools do too.
    for number in (1, 2):
        scenarios = pooled[(pooled["item"] == "scenarios") & (pooled["round"] == number)]
        assert math.isclose(scenarios["mean"].sum(), 100.0)
    assert [item.key for item in report.scenario_sets] == ["scenarios"]


def test_the_report_names_no_panelist(finished):
    run, report = finished
    everything = repr(report) + "".join(
        frame.to_csv()
        for frame in (report.consensus, report.stability, report.pooled, report.methods.table)
    )
    everything += "".join(item.subgroups.to_csv() for item in report.items)
    for secret in secrets_of(run):
        assert secret not in everything, secret


def test_a_study_without_closed_rounds(app, make_study, make_panel):
    study = make_study()
    make_panel(study, 3)
    open_round(db.session, study)
    report = study_report(db.session, study, "en")
    assert report.rounds == [] and report.items == []
    assert report.consensus.empty and report.stability.empty and report.pooled.empty
    assert report.stopping is None
    assert report.open_round == 1
    assert report.panel == {"a": 1, "b": 1, "c": 1}
