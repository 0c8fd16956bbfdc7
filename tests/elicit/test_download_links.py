"""The study's data within reach (issue 13, point 3): "Download data: CSV · Excel ·
JSON" and the report on the study page and the results page, for the roles that may
export (facilitators and researchers who are members); nobody else reaches them."""

from __future__ import annotations

import io
import json
import re
import zipfile

import pytest
from openpyxl import load_workbook

from elicit.extensions import db
from elicit.facilitate.access import EXPORTING_ROLES, may_export
from surveys.models import Role
from surveys.rounds import close_round, open_round
from tests.conftest import enter, log_in

SLUG = "us-mexico-intelligence"
STUDY = f"/console/studies/{SLUG}"
PAGES = (STUDY, f"{STUDY}/results")


@pytest.fixture
def study(make_study, make_user, make_panel, post_answers):
    """The demo study after one closed round, with a member facilitator and researcher
    and a facilitator of nothing."""
    created = make_study()
    links = make_panel(created, 3)
    open_round(db.session, created)
    for link, value in zip(links, ("2", "3", "4"), strict=True):
        post_answers(link.token, {"trust_now": value})
    close_round(db.session, created)
    make_user("lead@example.org", studies=[created])
    make_user("analyst@example.org", role="researcher", studies=[created])
    make_user("rival@example.org")
    created.expert_token = links[0].token
    return created


def download_links(page: str) -> dict[str, str]:
    """The downloads line of ``page``: link text (the visible part) → address.

    None is marked ``download``: a study too large to export at once answers them with
    the page that prepares its export, and one too large for a spreadsheet answers
    Excel with a page that says so, which the browser must show (issue 15, point 4).
    The line ends with the link to the prepared exports.
    """
    line = re.search(r'<p class="downloads" id="downloads">(.*?)</p>', page, re.S)
    assert line, "no downloads line"
    assert line.group(1).strip().startswith("Download data:")
    assert " download" not in line.group(1)
    links = re.findall(r'<a href="([^"]+)">(.*?)</a>', line.group(1))
    return {text: href for href, text in links}


@pytest.mark.parametrize("email", ["lead@example.org", "analyst@example.org"])
def test_members_who_may_export_find_every_download_and_the_report(client, study, email):
    log_in(client, email)
    for address in PAGES:
        page = client.get(address).text
        assert download_links(page) == {
            "CSV": f"{STUDY}/export/csv",
            "Excel": f"{STUDY}/export/xlsx",
            "JSON": f"{STUDY}/export/json",
            "Prepared exports": f"{STUDY}/exports",
        }
        assert f'href="{STUDY}/report"' in page
    # Each link gives its file.
    archive = zipfile.ZipFile(io.BytesIO(client.get(f"{STUDY}/export/csv").data))
    assert f"{SLUG}/reproduce.py" in archive.namelist()
    workbook = load_workbook(io.BytesIO(client.get(f"{STUDY}/export/xlsx").data))
    assert workbook.sheetnames
    exported = json.loads(client.get(f"{STUDY}/export/json").data)
    assert exported
    report = client.get(f"{STUDY}/report")
    assert report.status_code == 200


def test_those_who_may_not_export_reach_neither_the_links_nor_the_files(client, study):
    log_in(client, "rival@example.org")
    for address in (*PAGES, f"{STUDY}/export/csv", f"{STUDY}/export/json"):
        assert client.get(address).status_code == 404
    enter(client, study.expert_token)
    expert_page = client.get("/e/").text
    assert 'id="downloads"' not in expert_page and "/export/" not in expert_page
    for address in (*PAGES, f"{STUDY}/export/csv"):
        assert client.get(address).status_code == 302  # to the console's login


def test_a_role_without_export_gets_no_links_and_no_file(client, study, monkeypatch):
    # Every role today may export; the pages and the route follow the one rule, so a
    # role taken out of it loses the links and the files together.
    assert {Role.FACILITATOR, Role.RESEARCHER} == set(EXPORTING_ROLES)
    monkeypatch.setattr("elicit.facilitate.access.EXPORTING_ROLES", frozenset({Role.FACILITATOR}))
    log_in(client, "analyst@example.org")
    for address in PAGES:
        page = client.get(address)
        assert page.status_code == 200
        assert 'id="downloads"' not in page.text
    assert client.get(f"{STUDY}/export/json").status_code == 403
    log_in(client, "lead@example.org")
    assert 'id="downloads"' in client.get(STUDY).text


def test_the_rule_names_the_roles(make_user, app):
    assert may_export(make_user("a@example.org", role="researcher")) is True
    assert may_export(make_user("b@example.org", role="facilitator")) is True
