"""``elicit export`` and the console download: thin wrappers over ``surveys.exports``."""

from __future__ import annotations

import io
import json
import zipfile

import openpyxl
import pandas as pd

from elicit.extensions import db
from surveys.exports import TABLES
from surveys.rounds import close_round, open_round
from tests.conftest import log_in

ANSWERS = ("2", "3", "5", "4")


def _closed_round(study, make_panel, post_answers):
    """Round 1 of ``study`` answered by four experts on trust_now, then closed."""
    links = make_panel(study, len(ANSWERS))
    open_round(db.session, study)
    for value, link in zip(ANSWERS, links, strict=True):
        assert post_answers(link.token, {"trust_now": value}).status_code == 302
    close_round(db.session, study)
    return links


def test_export_writes_each_format(app, make_study, make_panel, post_answers, tmp_path):
    study = make_study()
    links = _closed_round(study, make_panel, post_answers)
    runner = app.test_cli_runner()

    folder = tmp_path / "csv"
    result = runner.invoke(args=["export", study.slug, "--format", "csv", "--out", str(folder)])
    assert result.exit_code == 0, result.output
    assert "4 response row(s), 1 summary row(s)" in result.output
    assert {f"{name}.csv" for name in TABLES} <= {p.name for p in folder.iterdir()}
    assert (folder / "reproduce.py").exists() and (folder / "settings.json").exists()
    responses = pd.read_csv(folder / "responses.csv")
    assert sorted(responses["value"]) == sorted(float(a) for a in ANSWERS)
    summaries = pd.read_csv(folder / "summaries.csv")
    assert summaries.loc[0, "median"] == 3.5

    workbook = tmp_path / "study.xlsx"
    result = runner.invoke(args=["export", study.slug, "--format", "xlsx", "--out", str(workbook)])
    assert result.exit_code == 0, result.output
    assert openpyxl.load_workbook(workbook).sheetnames == list(TABLES)

    document = tmp_path / "study.json"
    result = runner.invoke(args=["export", study.slug, "--format", "json", "--out", str(document)])
    assert result.exit_code == 0, result.output
    data = json.loads(document.read_text(encoding="utf-8"))
    assert data["summaries"][0]["n"] == 4
    text = document.read_text(encoding="utf-8")
    for link in links:
        assert link.token not in text
    assert "Expert Number" not in text and "@example.org" not in text


def test_export_refuses_an_unknown_study_and_format(app, tmp_path):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["export", "nope", "--format", "csv", "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert "no study has the slug 'nope'" in result.output
    result = runner.invoke(args=["export", "nope", "--format", "sav", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "'sav' is not one of" in result.output


def test_console_download(app, client, make_study, make_panel, post_answers, make_user):
    study = make_study()
    links = _closed_round(study, make_panel, post_answers)
    make_user("analyst@example.org", role="researcher", studies=[study])
    assert log_in(client, "analyst@example.org").status_code == 302

    response = client.get(f"/console/studies/{study.slug}/export/csv")
    assert response.status_code == 200
    assert response.mimetype == "application/zip"
    assert "attachment" in response.headers["Content-Disposition"]
    with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
        names = archive.namelist()
        assert f"{study.slug}/reproduce.py" in names
        summaries = pd.read_csv(io.BytesIO(archive.read(f"{study.slug}/summaries.csv")))
    assert summaries.loc[0, "n"] == 4

    response = client.get(f"/console/studies/{study.slug}/export/xlsx")
    assert response.status_code == 200
    sheets = pd.read_excel(io.BytesIO(response.data), sheet_name=None)
    assert list(sheets) == list(TABLES)

    response = client.get(f"/console/studies/{study.slug}/export/json")
    assert response.status_code == 200
    assert response.json["study"] == study.slug
    for link in links:
        assert link.token not in response.text

    assert client.get(f"/console/studies/{study.slug}/export/sav").status_code == 404
    assert client.get("/console/studies/nope/export/csv").status_code == 404
