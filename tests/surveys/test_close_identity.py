"""A faster close stores byte-identical summaries (issue 15, point 1).

The fixture was written by the close as it was before it was made fast (see
:mod:`tests.surveys.close_identity`): three studies of 5, 26 and 100 panelists in
subgroups (some masked), with "I can't judge this" answers, half points, skipped items,
rankings, scenario sets and estimates, three quantile methods, and a second round for
stability.  Closing the same answers again must store the same JSON text.
"""

from __future__ import annotations

import importlib
import json

import pytest

from elicit.extensions import db
from tests.surveys.close_identity import close_all, read_fixture

FIXTURE = read_fixture()


def _first_difference(expected: str, actual: str) -> str:
    """Where two summaries first differ, for a readable failure."""
    old, new = json.loads(expected), json.loads(actual)
    for part in old:
        if old[part] != new.get(part):
            if isinstance(old[part], list):
                for index, (a, b) in enumerate(zip(old[part], new[part], strict=False)):
                    if a != b:
                        keys = [key for key in a if a.get(key) != b.get(key)]
                        was = [a.get(key) for key in keys]
                        now = [b.get(key) for key in keys]
                        return f"{part}[{index}] {keys}: {was} → {now}"
            return f"{part} differs"
    return "same values, different text (order or formatting)"


@pytest.mark.parametrize("study", FIXTURE["studies"], ids=lambda study: study["slug"])
def test_closing_the_same_answers_stores_the_same_summary(app, study):
    stored = close_all(db.session, study)
    for number, (expected, actual) in enumerate(zip(study["summaries"], stored, strict=True), 1):
        assert actual == expected, f"round {number}: {_first_difference(expected, actual)}"


def test_the_compiled_bootstrap_stores_the_same_summary(app, monkeypatch):
    # Every distribution's bootstrap through the compiled kernel, which large panels use.
    monkeypatch.setattr(importlib.import_module("analysis.describe"), "COMPILED_MIN_DRAWS", 0)
    (study,) = [study for study in FIXTURE["studies"] if study["slug"] == "close-medium"]
    stored = close_all(db.session, study)
    for number, (expected, actual) in enumerate(zip(study["summaries"], stored, strict=True), 1):
        assert actual == expected, f"round {number}: {_first_difference(expected, actual)}"
