"""The overview at the top of the results page and the report (issue 13, point 6):
every summarised item with its text and key and its state in each closed round in
words, read from the stored summaries; an item not asked in a round says so."""

from __future__ import annotations

import html
import random
import re

from elicit.extensions import db
from elicit.facilitate.overview import NO_RULE, NOT_ASKED, overview, round_state
from surveys.answers import submit_responses
from surveys.curation import retire_item
from surveys.panel import panelist_by_pseudonym
from surveys.results import RoundResult, study_results
from surveys.rounds import close_round, open_round
from surveys.simulation import simulated_answers
from surveys.studies import study_definition
from tests.elicit.test_chart_scales import every_kind  # noqa: F401 - a fixture

WORDS = {
    "consensus": "consensus",
    "no_consensus": "no consensus",
    "dissensus": "dissensus",
    NO_RULE: "no rule",
    NOT_ASKED: "not asked",
}


def test_an_items_state_combines_its_parts():
    def parts(*states):
        return [RoundResult(1, {"state": state} if state else {}, []) for state in states]

    assert round_state(parts("consensus", "consensus")) == "consensus"
    assert round_state(parts("consensus", "no_consensus")) == "no_consensus"
    assert round_state(parts("consensus", "dissensus")) == "dissensus"
    assert round_state(parts(None, None)) == NO_RULE
    assert round_state([]) == NOT_ASKED
    later = overview([("late", "Late", False, {"": [RoundResult(2, {"state": "consensus"}, [])]}),
                      ("early", "Early", False, {"": parts("no_consensus")})])  # fmt: skip
    assert later.rounds == [1, 2]
    assert [row.states for row in later.rows] == [
        {1: NOT_ASKED, 2: "consensus"},
        {1: "no_consensus", 2: NOT_ASKED},
    ]


def _overview_rows(page: str) -> dict[str, list[str]]:
    """Each overview row's key and its cells' words, read from the page."""
    section = re.search(r'<section id="overview".*?</section>', page, re.DOTALL)
    assert section is not None, "no overview on the page"
    rows = {}
    for match in re.finditer(r'<tr data-item="([^"]+)">(.*?)</tr>', section.group(0), re.DOTALL):
        cells = re.findall(
            r'<td class="overview-state[^"]*" data-round="\d+">(.*?)</td>', match.group(2)
        )
        rows[match.group(1)] = [html.unescape(cell).strip() for cell in cells]
    return rows


def test_results_page_and_report_open_with_the_overview(client, every_kind):  # noqa: F811
    study = every_kind
    retire_item(db.session, study, "chance", "Settled")
    expected = {
        entry.key: [
            WORDS[
                round_state(
                    r for history in entry.components.values() for r in history if r.round == n
                )
            ]
            for n in (1, 2)
        ]
        for entry in study_results(db.session, study, "en")
    }
    assert set(expected) == {"agree", "chance", "futures", "tonnes", "order"}
    assert any("consensus" in states or "no consensus" in states for states in expected.values())
    for address, anchor in (("results", "result-"), ("report", "item-")):
        page = client.get(f"/console/studies/every-kind/{address}").text
        assert _overview_rows(page) == expected, address
        top = page.index('id="overview"')
        assert top < page.index(f'id="{anchor}agree"')
        assert f'href="#{anchor}tonnes">tonnes</a>' in page
        assert "How many tonnes?" in page[top : top + 20_000]
        chance = re.search(r'<tr data-item="chance">.*?</tr>', page, re.DOTALL)
        assert chance is not None and "retired" in chance.group(0)
    # A third round asking only some items: the retired one was "not asked".
    open_round(db.session, study)

    definition = study_definition(study)
    rng = random.Random(3)
    for panelist in study.panelists:
        submit_responses(
            db.session,
            panelist_by_pseudonym(db.session, study, panelist.pseudonym),
            simulated_answers(rng, definition),
        )
    close_round(db.session, study)
    rows = _overview_rows(client.get("/console/studies/every-kind/results").text)
    assert rows["chance"][2] == "not asked"
    assert rows["agree"][2] != "not asked"
