"""Issue 15, point 4 in a real browser: the Excel link of a study with more rows than
a spreadsheet holds shows a page that says so, axe-clean at 1280 and 375 px, whose CSV
link downloads the whole export; nothing is saved as a workbook."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from playwright.sync_api import expect

from elicit.extensions import db
from surveys import exports
from surveys.exports import export_tables
from tests.conftest import PASSWORD
from tests.e2e.support import serve_axe
from tests.e2e.test_open_and_landing_browser import SLUG, STUDY, checked, stopped_after_round_one

pytestmark = pytest.mark.e2e


def test_a_study_too_large_for_a_spreadsheet_is_offered_csv_instead(
    live_server, new_page, make_study, make_user, make_panel, post_answers, artifacts, monkeypatch
):
    study = make_study()
    stopped_after_round_one(study, make_panel, post_answers)  # four response rows
    make_user("analyst@example.org", role="researcher", studies=[study])
    monkeypatch.setattr(exports, "SPREADSHEET_MAX_ROWS", 4)
    page = new_page(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    downloaded: list[str] = []
    page.on("download", lambda download: downloaded.append(download.suggested_filename))
    serve_axe(page, live_server)
    page.goto(f"{live_server}/console/login")
    page.get_by_label("Email").fill("analyst@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{live_server}/console/")
    page.goto(f"{live_server}{STUDY}")
    page.locator("#downloads").get_by_role("link", name="Excel", exact=True).click()
    expect(page).to_have_url(f"{live_server}{STUDY}/export/xlsx")
    expect(page.get_by_role("heading", level=1)).to_have_text("Too large for a spreadsheet")
    items = len(export_tables(db.session, study).items) + 1  # the first sheet too large
    expect(page.locator("#refusal")).to_contain_text(
        f"The items sheet of this study's workbook would need {items} rows, more than the 4 rows"
    )
    problems: list[str] = []
    checked(page, live_server, artifacts, "export-refused", problems)
    assert problems == [], "\n\n".join(problems)
    assert downloaded == []  # no workbook, not even a broken one
    with page.expect_download() as started:
        page.get_by_role("link", name="Download the CSV files").click()
    download = started.value
    assert download.suggested_filename == f"{SLUG}-export.zip"
    with zipfile.ZipFile(io.BytesIO(Path(download.path()).read_bytes())) as archive:
        rows = archive.read(f"{SLUG}/responses.csv").decode("utf-8").count("\r\n")
    assert rows == 5  # the header and every answer
    page.get_by_role("link", name="Back to the study").click()
    expect(page).to_have_url(f"{live_server}{STUDY}")
