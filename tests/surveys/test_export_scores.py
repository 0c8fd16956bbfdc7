"""Scores and resolutions in the exports (issue 16, point 4): a resolutions table
(item, outcome, date, source) and a scores table (each pooling method and each
panelist by pseudonym, never a name or an email) in the CSV folder, the workbook and
the JSON document, as stored when the outcomes were recorded."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import date

import openpyxl
import pytest
from sqlalchemy import select

from elicit.extensions import db
from surveys.answers import submit_responses
from surveys.exports import export_tables, open_export, write_export
from surveys.models import Panelist
from surveys.resolutions import resolve
from surveys.rounds import close_round, open_round


@pytest.fixture
def scored(make_study, make_panel):
    study = make_study()
    make_panel(study, 2)
    open_round(db.session, study)
    panelists = list(db.session.execute(select(Panelist).order_by(Panelist.id)).scalars())
    for panelist, value in zip(panelists, ("80", "30"), strict=True):
        submit_responses(
            db.session,
            panelist,
            {
                "trigger_tariffs": value,
                "scenarios.status_quo": "60",
                "scenarios.rift": "30",
                "scenarios.renewal": "10",
            },
        )
    close_round(db.session, study)
    resolve(db.session, study, "trigger_tariffs", "yes", date(2026, 1, 5), "Diario Oficial")
    resolve(db.session, study, "scenarios", "rift", date(2026, 2, 1), "Reuters")
    return study, panelists


def test_the_tables_hold_the_resolutions_and_the_scores_by_pseudonym(scored):
    study, panelists = scored
    tables = export_tables(db.session, study)
    resolutions = tables.resolutions.set_index("item")
    assert resolutions.loc["trigger_tariffs", "outcome"] == "yes"
    assert resolutions.loc["trigger_tariffs", "resolved_on"] == "2026-01-05"
    assert resolutions.loc["scenarios", "source"] == "Reuters"
    assert resolutions.loc["scenarios", "scored_round"] == 1
    scores = tables.scores
    panel = scores[scores["kind"] == "panelist"].set_index("forecaster")
    assert set(panel.index) == {p.pseudonym for p in panelists}
    assert panel.loc[panelists[0].pseudonym, "brier"] == pytest.approx(0.04)
    assert panel.loc[panelists[1].pseudonym, "brier"] == pytest.approx(0.49)
    # (.6, .3, .1) and "rift": .36 + .49 + .01.
    assert panel.loc[panelists[1].pseudonym, "brier_scenarios"] == pytest.approx(0.86)
    pools = scores[(scores["kind"] == "pool") & (scores["item"] == "")]
    assert list(pools["forecaster"]) == [
        "mean",
        "median",
        "trimmed_mean",
        "geometric_odds",
        "extremized",
    ]
    per_item = scores[(scores["kind"] == "pool") & (scores["item"] == "trigger_tariffs")]
    mean = per_item[per_item["forecaster"] == "mean"].iloc[0]
    assert mean["brier"] == pytest.approx(0.2025)
    assert set(tables.codebook.loc[tables.codebook["table"] == "scores", "column"]) == set(
        scores.columns
    )


def test_every_format_carries_them_without_a_name_or_email(scored):
    study, panelists = scored
    names = ["Expert Number", "expert.number", "@example.org"]  # make_panel's roster
    archive = io.BytesIO()
    write_export(open_export(db.session, study), "csv", archive)
    with zipfile.ZipFile(archive) as opened:
        files = {name.split("/", 1)[1]: opened.read(name) for name in opened.namelist()}
    assert "resolutions.csv" in files and "spreadsheet/scores.csv" in files
    text = files["scores.csv"].decode() + files["resolutions.csv"].decode()
    assert panelists[0].pseudonym in text and "Diario Oficial" in text
    assert not any(name in text for name in names)
    workbook = io.BytesIO()
    write_export(open_export(db.session, study), "xlsx", workbook)
    sheets = openpyxl.load_workbook(workbook)
    assert {"resolutions", "scores"} <= set(sheets.sheetnames)
    assert sheets["scores"].max_row == 1 + 5 + 5 * 2 + 2  # header, pools, per item, panel
    document = io.BytesIO()
    write_export(open_export(db.session, study), "json", document)
    parsed = json.loads(document.getvalue())
    assert {row["forecaster"] for row in parsed["scores"] if row["kind"] == "panelist"} == {
        p.pseudonym for p in panelists
    }
    assert parsed["resolutions"][0]["item"] in {"trigger_tariffs", "scenarios"}
    assert not any(name in json.dumps(parsed) for name in names)
