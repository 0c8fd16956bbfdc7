"""Closed-round summaries frozen before the close was made fast (issue 15, point 1).

The fixture ``data/close_summaries.json.gz`` holds, for a few studies, everything needed
to close their rounds again — the study definition (a frozen copy of the demo with its
slug, quantile method and feedback minimum changed), each panelist's subgroup and the
answers every panelist typed in each round — together with the summaries that the code
of commit 6e46b75 stored when it closed those rounds.  A faster close must store
byte-identical JSON for the same answers.

``python -m tests.surveys.close_identity`` writes the fixture again with the code as it
is (only ever with the code whose summaries are the reference).
"""

from __future__ import annotations

import gzip
import json
import random
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from surveys.answers import CANNOT_JUDGE, submit_responses
from surveys.definition import StudyDefinition, parse_definition
from surveys.links import LinkKeys
from surveys.models import Panelist, Round, RoundSummary, Study
from surveys.panel import NewPanelist, add_panelists
from surveys.rounds import close_round, open_round
from surveys.simulation import simulated_answers
from surveys.studies import load_study

FIXTURE = Path(__file__).resolve().parent / "data" / "close_summaries.json.gz"


@dataclass(frozen=True)
class Plan:
    """One study of the fixture: its size, subgroups and settings."""

    slug: str
    panelists: int
    #: Subgroup of each panelist, cycled; "" is "no group".
    groups: tuple[str, ...]
    quantile_method: str
    feedback_min_n: int
    seed: int


PLANS = (
    # Tiny: most subgroup rows masked, n = 1 and n = 2 distributions.
    Plan("close-tiny", 5, ("a", "b"), "linear", 3, 1),
    # Small, type 6 quantiles (interpolated bootstrap medians), an empty group name and
    # a group of two (masked, with secondary suppression).
    Plan(
        "close-small",
        26,
        ("us", "mx", "academic", "", "us", "mx") * 4 + ("pair",) * 2,
        "weibull",
        3,
        2,
    ),
    # Larger, three groups, type 8 quantiles.
    Plan("close-medium", 100, ("us_official", "mx_official", "academic"), "median_unbiased", 5, 3),
)


def study_source(base: str, plan: Plan) -> str:
    """The frozen demo definition with the plan's slug, quantile method and minimum."""
    source = re.sub(r'(?m)^slug = ".*"$', f'slug = "{plan.slug}"', base, count=1)
    source = re.sub(
        r'(?m)^quantile_method = "[a-z_]+"',
        f'quantile_method = "{plan.quantile_method}"',
        source,
        count=1,
    )
    return re.sub(
        r"(?m)^feedback_min_n = \d+", f"feedback_min_n = {plan.feedback_min_n}", source, count=1
    )


def typed_answers(
    rng: random.Random, definition: StudyDefinition, previous: dict[str, str] | None
) -> dict[str, str]:
    """A form as an expert types it: simulated answers with "I can't judge this", half
    points, varied rationales and skipped items; in a later round, often the previous
    answers with three items answered anew."""
    form = simulated_answers(rng, definition)
    for item in definition.items:
        if item.kind == "likert" and rng.random() < 0.12:
            form[item.key] = CANNOT_JUDGE
        elif item.kind == "probability" and rng.random() < 0.2 and form[item.key] != "100":
            form[item.key] = f"{form[item.key]}.5"
        elif item.kind in ("likert", "probability") and rng.random() < 0.05:
            del form[item.key]
            form.pop(f"rationale.{item.key}", None)
        rationale = f"rationale.{item.key}"
        if rationale in form:
            form[rationale] = rng.choice(
                ["Because of recent events.", "Precedent from 2008.", "Ver la frontera.", "Zölle"]
            )
    if previous is None or rng.random() < 0.4:
        return form
    kept = dict(previous)
    for item in rng.sample(list(definition.items), k=3):
        mine = [key for key in kept if _of_item(key, item.key)]
        for key in mine:
            del kept[key]
        kept.update({key: value for key, value in form.items() if _of_item(key, item.key)})
    return kept


def _of_item(field: str, key: str) -> bool:
    """Whether a form field belongs to the item ``key`` (its answer, parts, rationale)."""
    return field in (key, f"rationale.{key}") or field.startswith(f"{key}.")


def write_fixture(session: Session, base_source: str) -> dict[str, Any]:
    """Run every plan with the code as it is and return the fixture's content."""
    studies = []
    for plan in PLANS:
        source = study_source(base_source, plan)
        definition = parse_definition(source, name=f"{plan.slug}.toml")
        rng = random.Random(plan.seed)
        groups = [plan.groups[index % len(plan.groups)] for index in range(plan.panelists)]
        rounds: list[list[dict[str, str] | None]] = []
        previous: list[dict[str, str] | None] = [None] * plan.panelists
        for number in (1, 2):
            forms: list[dict[str, str] | None] = []
            for index in range(plan.panelists):
                # Round 1: everyone but the last; round 2: all but a few (new ones too).
                absent = (number == 1 and index == plan.panelists - 1) or (
                    number == 2 and index % 7 == 3
                )
                forms.append(None if absent else typed_answers(rng, definition, previous[index]))
            previous = [form or previous[index] for index, form in enumerate(forms)]
            rounds.append(forms)
        studies.append({"slug": plan.slug, "source": source, "groups": groups, "rounds": rounds})
    content = {"studies": studies}
    for study in studies:
        study["summaries"] = close_all(session, study)
    return content


def close_all(session: Session, study: dict[str, Any]) -> list[str]:
    """Load one fixture study, submit its forms round by round, close each round and
    return the stored statistics of each as JSON text (read back from the database).

    The rationales' languages (``rationale_languages``, stored since summaries recorded
    them) are checked here and left out of the text: every panelist answers in English,
    so each rationale's language is "en"; the rest must stay byte for byte what the
    fixtures froze."""
    source = study["source"]
    definition = parse_definition(source, name=f"{study['slug']}.toml")
    row = load_study(session, definition, source)
    entries = [
        NewPanelist(f"Panelist {index}", f"panelist{index}@example.org", group, "en")
        for index, group in enumerate(study["groups"])
    ]
    add_panelists(session, row, entries, keys=LinkKeys.derived_from("close identity"))
    panelists = name_panelists(session, row)
    stored = []
    for forms in study["rounds"]:
        open_round(session, row)
        for panelist, form in zip(panelists, forms, strict=True):
            if form is not None:
                submit_responses(session, panelist, form)
        summary = close_round(session, row)
        summary_id = summary.id
        session.expire_all()
        statistics = session.execute(
            select(RoundSummary.statistics).where(RoundSummary.id == summary_id)
        ).scalar_one()
        languages = statistics.pop("rationale_languages")
        assert languages == {
            key: ["en"] * len(texts) for key, texts in statistics["rationales"].items()
        }
        stored.append(json.dumps(statistics))
    return stored


def name_panelists(session: Session, study: Study) -> list[Panelist]:
    """Give the study's panelists fixed pseudonyms in the order they were added (the
    random ones would order a ranking's matrix differently on every run) and return
    them in that order."""
    panelists = list(
        session.execute(
            select(Panelist).where(Panelist.study_id == study.id).order_by(Panelist.id)
        ).scalars()
    )
    for index, panelist in enumerate(panelists):
        session.execute(
            update(Panelist).where(Panelist.id == panelist.id).values(pseudonym=f"P-{index:05d}")
        )
    session.commit()
    session.expire_all()
    return panelists


def read_fixture() -> dict[str, Any]:
    """The frozen fixture."""
    with gzip.open(FIXTURE, "rt", encoding="utf-8") as handle:
        return json.load(handle)


def closed_rounds(session: Session, study: Study) -> list[Round]:
    """The study's rounds in order (for diagnostics)."""
    return list(
        session.execute(
            select(Round).where(Round.study_id == study.id).order_by(Round.number)
        ).scalars()
    )


def main() -> None:
    """Write the fixture with the code as it is, on a temporary SQLite database."""
    import tempfile

    from elicit import create_app
    from elicit.extensions import db
    from surveys.demo import demo_source
    from surveys.models import Base

    base = Path(sys.argv[1]).read_text(encoding="utf-8") if len(sys.argv) > 1 else demo_source()
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/fixture.sqlite3"
        app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "x" * 32})
        with app.app_context():
            Base.metadata.create_all(db.engine)
            content = write_fixture(db.session, base)
            db.session.remove()
            db.engine.dispose()
    FIXTURE.parent.mkdir(exist_ok=True)
    with gzip.GzipFile(FIXTURE, "wb", mtime=0) as raw:
        raw.write(json.dumps(content, indent=1, ensure_ascii=False).encode())
    print(f"wrote {FIXTURE} ({FIXTURE.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
