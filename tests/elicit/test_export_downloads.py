"""Export downloads (issue 15, point 4): the console, the API and ``elicit export`` send
the files the exports wrote before they streamed, with their length and SHA-256; a
workbook too large for a spreadsheet is refused before anything is written, with the
way to the CSV export (a page, a problem document, a message and exit status 1)."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import random
import zipfile
from datetime import UTC, datetime

import pytest

from elicit import downloads
from elicit.extensions import db
from surveys import exports
from surveys.answers import submit_responses
from surveys.api_tokens import create_token
from surveys.models import Study
from surveys.panel import panelist_by_pseudonym
from surveys.rounds import close_round, open_round
from surveys.simulation import simulated_answers
from surveys.studies import study_definition
from tests.conftest import log_in
from tests.surveys.export_reference import (
    reference_csv_files,
    reference_export_tables,
    reference_json,
)

EXPORTED_AT = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)
SLUG = "us-mexico-intelligence"
CONSOLE = f"/console/studies/{SLUG}/export"
API = f"/api/v1/studies/{SLUG}/export"


@pytest.fixture
def study(app, make_study, make_panel, make_user, monkeypatch, built_once):
    """The demo study after one closed round of ten panelists; a researcher member
    with a read token (``study.secret``)."""
    monkeypatch.setattr(exports, "utcnow", lambda: EXPORTED_AT)
    created = db.session.get(Study, built_once(lambda: _closed_round(make_study, make_panel)))
    user = make_user("analyst@example.org", role="researcher", studies=[created])
    created.secret = create_token(db.session, user, "t", "read").secret
    return created


def _closed_round(make_study, make_panel) -> int:
    created = make_study()
    links = make_panel(created, 10)
    open_round(db.session, created)
    rng = random.Random(4)
    for link in links:
        answers = simulated_answers(rng, study_definition(created))
        answers["rationale.trust_now"] = "=1+1"
        panelist = panelist_by_pseudonym(db.session, created, link.pseudonym)
        submit_responses(db.session, panelist, answers)
    close_round(db.session, created)
    return created.id


def _checked(response, media_type: str) -> bytes:
    """The body of a download, after checking its headers: attachment, not stored, its
    length and its SHA-256 (RFC 9530)."""
    assert response.status_code == 200, response.text
    assert response.mimetype == media_type
    assert response.headers["Content-Disposition"].startswith("attachment; filename=")
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_data()
    assert int(response.headers["Content-Length"]) == len(body)
    digest = base64.b64encode(hashlib.sha256(body).digest()).decode("ascii")
    assert response.headers["Repr-Digest"] == f"sha-256=:{digest}:"
    return body


@pytest.mark.parametrize("in_memory", [True, False], ids=["in-memory", "from-disk"])
def test_the_console_and_the_api_send_the_files_of_before(client, study, monkeypatch, in_memory):
    if not in_memory:  # every file goes through a temporary file on disk
        monkeypatch.setattr(downloads, "IN_MEMORY", 0)
    before = reference_export_tables(db.session, study)
    expected_json = io.BytesIO()
    reference_json(before, expected_json)
    expected_csv = {
        f"{SLUG}/{name}": payload for name, payload in reference_csv_files(before).items()
    }
    log_in(client, "analyst@example.org")
    bearer = {"Authorization": f"Bearer {study.secret}"}
    for address, headers in ((CONSOLE, {}), (API, bearer)):
        body = _checked(client.get(f"{address}/json", headers=headers), "application/json")
        assert body == expected_json.getvalue()
        body = _checked(client.get(f"{address}/csv", headers=headers), "application/zip")
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            assert {name: archive.read(name) for name in archive.namelist()} == expected_csv
        body = _checked(
            client.get(f"{address}/xlsx", headers=headers),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
        assert body.startswith(b"PK")


def test_the_console_refuses_a_workbook_too_large_with_a_page_that_links_to_csv(
    client, study, monkeypatch
):
    rows = len(reference_export_tables(db.session, study).responses) + 1
    monkeypatch.setattr(exports, "SPREADSHEET_MAX_ROWS", rows - 1)
    log_in(client, "analyst@example.org")
    response = client.get(f"{CONSOLE}/xlsx")
    assert response.status_code == 409
    assert response.mimetype == "text/html"
    assert "Content-Disposition" not in response.headers
    page = response.text
    assert "Too large for a spreadsheet" in page
    assert f"The responses sheet of this study's workbook would need {rows:,} rows" in page
    assert f"more than the {rows - 1:,} rows a spreadsheet holds" in page
    # No download attribute: a study too large to export at once answers these links
    # with the page that prepares its export, which the browser must show.
    assert f'href="{CONSOLE}/csv">Download the CSV files</a>' in page
    assert f'href="{CONSOLE}/json">' in page
    # The CSV export the page offers holds every row.
    with zipfile.ZipFile(io.BytesIO(client.get(f"{CONSOLE}/csv").data)) as archive:
        lines = archive.read(f"{SLUG}/responses.csv").decode("utf-8").count("\r\n")
    assert lines == rows


def test_the_api_refuses_a_workbook_too_large_with_a_documented_409(client, study, monkeypatch):
    rows = len(reference_export_tables(db.session, study).responses) + 1
    monkeypatch.setattr(exports, "SPREADSHEET_MAX_ROWS", rows - 1)
    response = client.get(f"{API}/xlsx", headers={"Authorization": f"Bearer {study.secret}"})
    assert response.status_code == 409
    assert response.mimetype == "application/problem+json"
    problem = response.json
    assert problem["status"] == 409
    assert f"The responses sheet would need {rows:,} rows" in problem["detail"]
    assert "CSV export holds every row" in problem["detail"]
    assert problem["errors"] == {"responses": [f"{rows} rows; at most {rows - 1}"]}
    assert response.headers["Link"] == f'<{API}/csv>; rel="alternate"; type="application/zip"'
    operation = client.get("/api/v1/openapi.json").json["paths"][
        "/api/v1/studies/{slug}/export/{fmt}"
    ]["get"]
    assert operation["responses"]["409"]["content"]["application/problem+json"]
    assert "409" in operation["description"] and "Link" in operation["description"]


def test_elicit_export_writes_the_files_of_before_and_refuses_a_workbook_too_large(
    app, study, monkeypatch, tmp_path
):
    runner = app.test_cli_runner()
    before = reference_export_tables(db.session, study)
    rows = len(before.responses)
    document = tmp_path / "study.json"
    result = runner.invoke(args=["export", SLUG, "--format", "json", "--out", str(document)])
    assert result.exit_code == 0, result.output
    assert f"{rows} response row(s), {len(before.summaries)} summary row(s)" in result.output
    expected = io.BytesIO()
    reference_json(before, expected)
    assert document.read_bytes() == expected.getvalue()
    assert json.loads(document.read_bytes())["study"] == SLUG
    assert sorted(path.name for path in tmp_path.iterdir()) == ["study.json"]

    monkeypatch.setattr(exports, "SPREADSHEET_MAX_ROWS", rows)
    workbook = tmp_path / "study.xlsx"
    result = runner.invoke(args=["export", SLUG, "--format", "xlsx", "--out", str(workbook)])
    assert result.exit_code == 1
    assert f"the responses sheet would need {rows + 1:,} rows" in result.output
    assert f"elicit export {SLUG} --format csv --out FOLDER" in result.output
    assert sorted(path.name for path in tmp_path.iterdir()) == ["study.json"]  # nothing else
