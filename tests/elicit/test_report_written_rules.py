"""The report prints rules and their evidence as people write them (issue 13, point 6):
``iqr ≤ 10,000``, not ``iqr <= 1e+04`` as the analysis states them with four
significant digits; in Spanish with its own separators."""

from __future__ import annotations

import html
import re

import pytest

from elicit.facilitate.report import written
from tests.elicit.test_chart_scales import every_kind  # noqa: F401 - a fixture


@pytest.mark.parametrize(
    ("plain", "words"),
    [
        ("all of: iqr <= 1e+04", "all of: iqr ≤ 10,000"),
        ("iqr 1.823e+04 <= 2e+04: met", "iqr 18,230 ≤ 20,000: met"),
        ("any of: rwg >= 0.7; ad_median <= A/6", "any of: rwg ≥ 0.7; ad_median ≤ A/6"),
        ("share in [4, 5] >= 0.75", "share in [4, 5] ≥ 0.75"),
        ("cv n/a <= 0.25: not met", "cv n/a ≤ 0.25: not met"),
    ],
)
def test_rules_are_written_with_grouped_numbers_and_signs(app, plain, words):
    with app.test_request_context():
        assert written(plain) == words


def test_item_keys_with_digits_keep_their_digits(app):
    with app.test_request_context():
        assert written("all of: iqr <= 2.5e+04") == "all of: iqr ≤ 25,000"
        assert written("q3_2030 <= 1e+05") == "q3_2030 ≤ 100,000"


def test_the_report_prints_the_rules_as_people_write_them(client, every_kind):  # noqa: F811
    page = client.get("/console/studies/every-kind/report")
    assert page.status_code == 200
    # The appendix is the export's methods table as stored, for whoever compares the two.
    text = html.unescape(page.text).split('id="methods-table"')[0]
    assert "Item tonnes: <code>all of: iqr ≤ 10,000</code>" in text
    rounds = re.search(r'<ul id="rules-by-round">(.*?)</ul>', text, re.DOTALL)
    assert rounds is not None and "iqr ≤ 10,000" in rounds.group(1)
    assert not re.search(r"\de[+-]\d", text), "a number in scientific notation"
    assert "<=" not in text and ">=" not in text
    spanish = html.unescape(client.get("/console/studies/every-kind/report?lang=es").text)
    assert "iqr ≤ 10.000" in spanish
