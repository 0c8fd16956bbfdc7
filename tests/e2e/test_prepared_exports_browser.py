"""Issue 15, point 4 in a real browser: the CSV link of a study too large to export at
once leads to the page that prepares it, which says why; one click prepares it, the
page then offers the file, which downloads whole.  The page has no axe violation and
fits 375 px, before and after.

Here every study counts as large (the threshold itself is tested with the pages in
``tests/elicit/test_prepared_export_pages.py``), and the test app runs the job inside
the request that asks for it."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD
from tests.e2e.support import serve_axe
from tests.e2e.test_open_and_landing_browser import SLUG, STUDY, checked, stopped_after_round_one

pytestmark = pytest.mark.e2e


def test_a_large_study_s_csv_is_prepared_then_downloaded(
    live_server, new_page, make_study, make_user, make_panel, post_answers, artifacts, monkeypatch
):
    study = make_study()
    stopped_after_round_one(study, make_panel, post_answers)
    make_user("analyst@example.org", role="researcher", studies=[study])
    monkeypatch.setattr("elicit.facilitate.exports.needs_preparing", lambda *arguments: True)
    page = new_page(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    serve_axe(page, live_server)
    page.goto(f"{live_server}/console/login")
    page.get_by_label("Email").fill("analyst@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{live_server}/console/")
    page.goto(f"{live_server}{STUDY}")
    page.locator("#downloads").get_by_role("link", name="CSV", exact=True).click()
    expect(page).to_have_url(f"{live_server}{STUDY}/exports?large=csv")
    expect(page.locator("#why-prepared")).to_contain_text(
        "This study is too large to download at once"
    )
    problems: list[str] = []
    checked(page, live_server, artifacts, "exports-large", problems)
    page.get_by_role("button", name="Prepare the CSV export").click()
    expect(page).to_have_url(f"{live_server}{STUDY}/exports")
    expect(page.get_by_role("status")).to_contain_text("The CSV export is being prepared.")
    expect(page.locator("#prepared-exports")).to_contain_text("Ready: written")
    checked(page, live_server, artifacts, "exports-ready", problems)
    assert problems == [], "\n\n".join(problems)
    with page.expect_download() as started:
        page.get_by_role("link", name="Download CSV").click()
    download = started.value
    assert download.failure() is None
    assert download.suggested_filename == f"{SLUG}-export.zip"
    with zipfile.ZipFile(io.BytesIO(Path(download.path()).read_bytes())) as archive:
        assert archive.testzip() is None
        assert f"{SLUG}/reproduce.py" in archive.namelist()
        rows = archive.read(f"{SLUG}/responses.csv").decode("utf-8").count("\r\n")
    assert rows == 5  # the header and every answer
    expect(page).to_have_url(f"{live_server}{STUDY}/exports")  # the page stays


def test_the_page_follows_an_export_written_while_it_is_open(
    live_server, new_page, make_study, make_user, make_panel, post_answers, artifacts, monkeypatch
):
    """The page asks after a queued export (static/follow.js, no timed reload): it keeps
    its place while nothing changes, and shows the file once the job has written it."""
    from elicit.extensions import db
    from elicit.facilitate import exports as export_pages
    from surveys.prepared_exports import request_export, write_prepared

    monkeypatch.setattr(export_pages, "FOLLOW_SECONDS", 1)
    study = make_study()
    stopped_after_round_one(study, make_panel, post_answers)
    make_user("analyst@example.org", role="researcher", studies=[study])
    export_id = request_export(db.session, study, "json", None).export.id
    page = new_page(viewport={"width": 375, "height": 800})
    serve_axe(page, live_server)
    page.goto(f"{live_server}/console/login")
    page.get_by_label("Email").fill("analyst@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{live_server}/console/")
    page.goto(f"{live_server}{STUDY}/exports")
    expect(page.locator("#prepared-exports")).to_contain_text("Waiting for a worker")
    page.evaluate("window.notReloaded = true")
    page.wait_for_timeout(2500)  # two questions asked, nothing changed: no reload
    assert page.evaluate("window.notReloaded") is True
    write_prepared(db.session, export_id)  # the job, as a worker runs it
    expect(page.locator("#prepared-exports")).to_contain_text("Ready: written", timeout=30_000)
    expect(page.get_by_role("link", name="Download JSON")).to_be_visible()
    expect(page.locator("#refreshing")).to_have_count(0)  # nothing left to wait for
    problems: list[str] = []
    checked(page, live_server, artifacts, "exports-followed", problems)
    assert problems == [], "\n\n".join(problems)
