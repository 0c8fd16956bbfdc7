"""The scenario tracker's observations in the exports (issue 16, point 3): a table of
the dated observations (date, kind, item, seen, note, recorded at; never who recorded
them) in the CSV archive, the workbook and the JSON document, described in the
codebook, with the tracker's definition among the methods once there is one."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import date

import openpyxl
import pytest

from elicit.extensions import db
from surveys.accounts import create_user
from surveys.exports import (
    OBSERVATION_COLUMNS,
    TRACKER_DEFINITION,
    export_tables,
    open_export,
    write_export,
)
from surveys.models import Item
from surveys.tracking import record, withdraw

FACILITATOR = "tracker.facilitator@example.org"


@pytest.fixture
def observed(make_study):
    study = make_study()
    db.session.add(
        Item(
            study_id=study.id,
            key="signpost_exported",
            kind="signpost",
            position=1000,
            spec={
                "text": {"en": "A signpost", "es": "Un indicador"},
                "section": "signposts",
                "scenario_item": "scenarios",
            },
        )
    )
    db.session.commit()
    user = create_user(db.session, FACILITATOR, "a long enough password 1", role="facilitator")
    # Recorded out of date order: the table follows the tracker's order (by date).
    record(
        db.session,
        study,
        kind="trigger",
        item_key="trigger_tariffs",
        observed_on=date(2026, 3, 2),
        note="Diario Oficial, 2 March",
        actor=user,
    )
    record(
        db.session,
        study,
        kind="signpost",
        item_key="signpost_exported",
        observed_on=date(2026, 1, 15),
        seen=False,
        note="=not in the January press review",
        actor=user,
    )
    mistaken = record(
        db.session,
        study,
        kind="signpost",
        item_key="signpost_exported",
        observed_on=date(2026, 1, 20),
        note="recorded by mistake",
        actor=user,
    )
    withdraw(db.session, study, mistaken.id, user)
    return study


def test_the_table_holds_each_observation_in_date_order_without_its_recorder(observed):
    tables = export_tables(db.session, observed)
    observations = tables.observations
    assert list(observations.columns) == list(OBSERVATION_COLUMNS)
    assert observations["observed_on"].tolist() == ["2026-01-15", "2026-03-02"]
    assert observations["kind"].tolist() == ["signpost", "trigger"]
    assert observations["item"].tolist() == ["signpost_exported", "trigger_tariffs"]
    assert observations["seen"].tolist() == [False, True]
    assert observations["note"].tolist() == [
        "=not in the January press review",
        "Diario Oficial, 2 March",
    ]
    assert all(value.startswith("20") and "T" in value for value in observations["recorded_at"])
    described = tables.codebook[tables.codebook["table"] == "observations"]
    assert described["column"].tolist() == list(OBSERVATION_COLUMNS)
    methods = dict(zip(tables.methods["key"], tables.methods["value"], strict=True))
    assert methods["definition.scenario_tracker"] == TRACKER_DEFINITION


def test_a_study_without_observations_has_an_empty_table_and_no_tracker_method(make_study):
    tables = export_tables(db.session, make_study())
    assert tables.observations.empty
    assert list(tables.observations.columns) == list(OBSERVATION_COLUMNS)
    assert "definition.scenario_tracker" not in set(tables.methods["key"])


def test_every_format_carries_them_and_no_facilitator(observed):
    archive = io.BytesIO()
    write_export(open_export(db.session, observed), "csv", archive)
    with zipfile.ZipFile(archive) as opened:
        files = {name.split("/", 1)[1]: opened.read(name).decode() for name in opened.namelist()}
    rows = list(csv.DictReader(io.StringIO(files["observations.csv"])))
    assert [(row["item"], row["seen"]) for row in rows] == [
        ("signpost_exported", "False"),
        ("trigger_tariffs", "True"),
    ]
    assert rows[0]["note"] == "=not in the January press review"  # as typed
    spreadsheet = list(csv.DictReader(io.StringIO(files["spreadsheet/observations.csv"])))
    assert spreadsheet[0]["note"] == "'=not in the January press review"
    assert "observations.csv" in files["README.txt"]
    workbook = io.BytesIO()
    write_export(open_export(db.session, observed), "xlsx", workbook)
    sheet = openpyxl.load_workbook(workbook)["observations"]
    assert [cell.value for cell in sheet[1]] == list(OBSERVATION_COLUMNS)
    assert sheet.max_row == 3
    document = io.BytesIO()
    write_export(open_export(db.session, observed), "json", document)
    parsed = json.loads(document.getvalue())
    assert [row["observed_on"] for row in parsed["observations"]] == ["2026-01-15", "2026-03-02"]
    assert parsed["observations"][1]["seen"] is True
    everything = "".join(files.values()) + json.dumps(parsed)
    assert FACILITATOR not in everything and "tracker.facilitator" not in everything
