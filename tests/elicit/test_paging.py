"""The page number every paged page reads (elicit.paging): a plain ASCII number, at
least 1, bounded before any SQL; anything else is page 1."""

from __future__ import annotations

import re

import pytest

from elicit.extensions import db
from elicit.paging import MAX_PAGE, page_number
from surveys import audit
from tests.conftest import log_in

STUDY = "/console/studies/us-mexico-intelligence"


def logged(page: str) -> list[int]:
    """The panelist ids of the ``panel.reissue`` events the audit log table lists."""
    log = page.split('id="audit-log"', 1)[1].split("</table>", 1)[0]
    return [int(number) for number in re.findall(r"panelist: (\d+)", log)]


@pytest.mark.parametrize(
    ("asked", "read"),
    [
        ("1", 1),
        ("2", 2),
        ("007", 7),
        (str(MAX_PAGE), MAX_PAGE),
        (str(MAX_PAGE + 1), MAX_PAGE),
        ("99999999999999999999", MAX_PAGE),
        ("0" * 30 + "3", 3),
        ("9" * 5000, MAX_PAGE),  # longer than int() reads
        ("0", 1),
        ("", 1),
        ("-3", 1),
        ("+2", 1),
        (" 2", 1),
        ("2.0", 1),
        ("1_000", 1),
        ("abc", 1),
        ("²", 1),  # str.isdigit() says yes, int() refuses it
        ("٢", 1),  # int() reads it as 2
        ("２", 1),  # a full-width 2
    ],
)
def test_a_page_argument_is_a_plain_bounded_number_or_page_one(app, asked, read):
    with app.test_request_context("/", query_string={"page": asked, "log": asked}):
        assert page_number() == read
        assert page_number("log") == read
    assert page_number(values={"page": asked}) == read


def test_no_page_argument_is_page_one(app):
    with app.test_request_context("/"):
        assert page_number() == 1 and page_number("log") == 1
    assert page_number(values={}) == 1


def test_the_audit_log_reads_its_page_the_same_way(client, make_study, make_user, monkeypatch):
    study = make_study()
    make_user("lead@example.org", studies=[study])
    for number in range(1, 8):  # after the study.load event: eight in all
        audit.record(db.session, "panel.reissue", study=study, user=None, panelist=number)
    db.session.commit()
    monkeypatch.setattr(audit, "AUDIT_PAGE_SIZE", 3)
    log_in(client, "lead@example.org")
    # "٢" was read as page 2 before.
    for asked, shown in (("٢", [7, 6, 5]), ("²", [7, 6, 5]), ("9" * 30, [1]), ("2", [4, 3, 2])):
        response = client.get(STUDY, query_string={"log": asked})
        assert response.status_code == 200
        assert logged(response.text) == shown
