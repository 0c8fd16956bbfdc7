"""Round summaries frozen before per-part consensus rules were added (issue 12).

The fixture ``data/summaries_before_part_rules.json.gz`` holds one study in the format
of :mod:`tests.surveys.close_identity`: a frozen copy of the demo as it stood when part
rules were added (a rule for every kind, the ranking's and the estimate's included, so
that multi-part items are decided by a rule), twelve panelists in three groups, the
answers they typed in two rounds, and the summaries the code of commit f4283d1 stored
when it closed those rounds.  A study without part rules must keep exactly those.

``python -m tests.surveys.part_rules_support DEMO.toml`` writes the fixture again with
the code as it is (only ever with the code whose summaries are the reference).
"""

from __future__ import annotations

import gzip
import json
import math
import random
import sys
import tempfile
from pathlib import Path
from typing import Any

from surveys.definition import parse_definition
from tests.surveys.close_identity import Plan, close_all, study_source, typed_answers

FIXTURE = Path(__file__).resolve().parent / "data" / "summaries_before_part_rules.json.gz"
PLAN = Plan("before-part-rules", 12, ("us_official", "mx_official", "academic"), "linear", 3, 12)


def read_fixture() -> dict[str, Any]:
    """The frozen study: slug, source, groups, rounds of forms and stored summaries."""
    with gzip.open(FIXTURE, "rt", encoding="utf-8") as handle:
        return json.load(handle)


def main() -> None:
    """Write the fixture with the code as it is, on a temporary SQLite database."""
    from elicit import create_app
    from elicit.extensions import db
    from surveys.models import Base

    source = study_source(Path(sys.argv[1]).read_text(encoding="utf-8"), PLAN)
    definition = parse_definition(source, name=f"{PLAN.slug}.toml")
    rng = random.Random(PLAN.seed)
    groups = [PLAN.groups[index % len(PLAN.groups)] for index in range(PLAN.panelists)]
    rounds = []
    previous: list[dict[str, str] | None] = [None] * PLAN.panelists
    for _ in (1, 2):
        forms = [typed_answers(rng, definition, previous[index]) for index in range(PLAN.panelists)]
        previous = list(forms)
        rounds.append(forms)
    study = {"slug": PLAN.slug, "source": source, "groups": groups, "rounds": rounds}
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/fixture.sqlite3"
        app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "x" * 32})
        with app.app_context():
            Base.metadata.create_all(db.engine)
            study["summaries"] = close_all(db.session, study)
            db.session.remove()
            db.engine.dispose()
    with gzip.GzipFile(FIXTURE, "wb", mtime=0) as raw:
        raw.write(json.dumps(study, indent=1, ensure_ascii=False).encode())
    print(f"wrote {FIXTURE} ({FIXTURE.stat().st_size} bytes)")


def same_summary(actual: object, expected: object) -> bool:
    """Whether two decoded summaries (or parts of them) are equal: every float to 12
    significant digits, everything else exactly, keys and list orders included.

    Krippendorff's alpha (``panel_alpha``) multiplies matrices through BLAS, whose
    kernels (chosen for the processor) sum in different orders: the frozen reference
    was written on another machine, and its last digits differ here by 2e-16.  A change
    of method or data differs by far more."""
    if isinstance(actual, float) and isinstance(expected, float):
        return math.isclose(actual, expected, rel_tol=1e-12, abs_tol=1e-15)
    if isinstance(actual, dict) and isinstance(expected, dict):
        return actual.keys() == expected.keys() and all(
            same_summary(actual[key], expected[key]) for key in actual
        )
    if isinstance(actual, list) and isinstance(expected, list):
        return len(actual) == len(expected) and all(
            same_summary(a, e) for a, e in zip(actual, expected, strict=True)
        )
    return type(actual) is type(expected) and actual == expected


if __name__ == "__main__":
    main()
