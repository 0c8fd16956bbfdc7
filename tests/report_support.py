"""The demo study after two simulated rounds, as the study report's tests need it.

Seven panelists with known names and emails in three groups of unequal size (so that
some subgroup rows are masked); round 1 answered by all, one item retired after it,
round 2 answered by all but the only academic.  Every answer is submitted through
:func:`surveys.answers.submit_responses`, the domain call behind the expert page, with
the form fields an expert would type.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from elicit.extensions import current_link_keys, db
from surveys.answers import submit_responses
from surveys.curation import retire_item
from surveys.models import Study
from surveys.panel import IssuedLink, NewPanelist, add_panelists, panelist_by_pseudonym
from surveys.rounds import close_round, open_round
from surveys.simulation import simulated_answers
from surveys.studies import study_definition

PANEL = [
    ("Zelda Quixote", "zelda.quixote@nowhere.example", "us_official"),
    ("Barnaby Fitzwilliam", "barnaby.f@hidden.example", "us_official"),
    ("Ottoline Marchbanks", "o.marchbanks@secret.example", "us_official"),
    ("Cornelius Vexley", "vexley@private.example", "us_official"),
    ("Philippa Tumbledown", "ptumbledown@unseen.example", "mx_official"),
    ("Hortensia Blackwood", "hortensia@covert.example", "mx_official"),
    ("Leopold Ashgrove", "l.ashgrove@quiet.example", "academic"),
]
RETIRED = "signpost_precursors"
RETIRE_REASON = "Agreed enough after round 1"
#: The panelist (by position in PANEL) who does not answer round 2.
SKIPS_ROUND_TWO = 6


@dataclass(frozen=True)
class ReportStudy:
    """The study, its panel's links and what each panelist submitted per round."""

    study: Study
    links: list[IssuedLink]
    #: round → pseudonym → the form fields submitted.
    given: dict[int, dict[str, dict[str, str]]]
    #: pseudonym → group.
    groups: dict[str, str]


def two_round_study(
    make_study: Callable[..., Study],
    *,
    seed: int = 6,
    built_once: Callable[..., Any] | None = None,
) -> ReportStudy:
    """Load the demo, add the panel, run and close two rounds of simulated answers;
    with ``built_once`` (the fixture of ``tests/conftest.py``), once a run."""
    if built_once is None:
        return _two_round_study(make_study, seed)

    def build() -> tuple[int, list[IssuedLink], dict[int, dict[str, dict[str, str]]]]:
        run = _two_round_study(make_study, seed)
        return run.study.id, run.links, run.given

    study_id, links, given = built_once(build, seed)
    study = db.session.get(Study, study_id)
    assert study is not None
    return ReportStudy(study, links, given, _groups(links))


def _groups(links: list[IssuedLink]) -> dict[str, str]:
    return {link.pseudonym: PANEL[index][2] for index, link in enumerate(links)}


def _two_round_study(make_study: Callable[..., Study], seed: int) -> ReportStudy:
    study = make_study()
    links = add_panelists(
        db.session,
        study,
        [
            NewPanelist(name, email, group, ("en", "es")[index % 2])
            for index, (name, email, group) in enumerate(PANEL)
        ],
        keys=current_link_keys(),
    )
    rng = random.Random(seed)
    given: dict[int, dict[str, dict[str, str]]] = {}
    for number in (1, 2):
        open_round(db.session, study)
        given[number] = {}
        definition = study_definition(study)
        for index, link in enumerate(links):
            answers = simulated_answers(rng, definition)
            if number == 2 and index == SKIPS_ROUND_TWO:
                continue
            panelist = panelist_by_pseudonym(db.session, study, link.pseudonym)
            submit_responses(db.session, panelist, answers)
            given[number][link.pseudonym] = answers
        close_round(db.session, study)
        if number == 1:
            retire_item(db.session, study, RETIRED, RETIRE_REASON)
    return ReportStudy(study, links, given, _groups(links))


def secrets_of(report_study: ReportStudy) -> list[str]:
    """Everything that must never appear in a report: names, emails, tokens, pseudonyms."""
    return [
        *(name for name, _, _ in PANEL),
        *(email for _, email, _ in PANEL),
        *(link.token for link in report_study.links),
        *(link.pseudonym for link in report_study.links),
    ]


def expected_plots(study: Study) -> set[tuple[str, str]]:
    """(kind, item) of every plot the report promises, read from the stored summaries:
    a distribution and a convergence plot per summarised item, a pooled plot per
    scenario set."""
    summarised = {
        row["item"]
        for round_ in study.rounds
        if round_.summary is not None
        for row in round_.summary.statistics["rows"]
    }
    kinds = {item.key: item.kind for item in study.items}
    plots = set()
    for key in summarised:
        plots |= {("distribution", key), ("convergence", key)}
        if kinds[key] == "scenario_set":
            plots.add(("pooled", key))
    return plots


CAPTIONS = {
    "distribution": "Distribution of the answers by round: {item}",
    "convergence": "Convergence of the median and IQR: {item}",
    "pooled": "Pooled scenario probabilities: {item}",
}
"""Each plot's caption in English, after its figure number."""
