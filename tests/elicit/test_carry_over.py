"""Carry-over as part of the protocol (issue 13, point 9): a round after the first starts
either from each expert's own previous answers or blank; the choice is a study setting,
each round records the one it opened with, and the stability statistics say which was
used.  With "previous", answers submitted as they were shown count as unchanged."""

from __future__ import annotations

import html
import random
import re
from html.parser import HTMLParser

import pytest

from elicit.extensions import db
from surveys.api_tokens import create_token
from surveys.definition import parse_definition
from surveys.definition_writer import definition_to_toml
from surveys.demo import demo_source
from surveys.errors import InvalidValues
from surveys.exports import export_tables
from surveys.models import Round
from surveys.protocol import amendments
from surveys.rounds import close_round, open_round
from surveys.settings import update_settings
from surveys.simulation import simulated_answers
from tests.conftest import csrf_token, enter, log_in
from tests.feedback_parser import parse_feedback

PANEL = 6


def blank_source() -> str:
    """The demo study, with later rounds starting blank."""
    source = demo_source()
    assert "\n[study]\n" in source
    return source.replace("\n[study]\n", '\n[study]\ncarry_over = "blank"\n', 1)


class FormFields(HTMLParser):
    """The answer form's fields as the page shows them: what the browser would post if
    the expert pressed submit without touching anything."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, str] = {}
        self._textarea: str | None = None
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        name = attributes.get("name") or ""
        if tag == "input" and name and name not in ("csrf_token", "action"):
            kind = attributes.get("type") or "text"
            if kind == "text" or (kind == "radio" and "checked" in attributes):
                self.values[name] = attributes.get("value") or ""
        elif tag == "textarea" and name:
            self._textarea = name
            self.values[name] = ""
        elif tag == "select" and name:
            self._select = name
            self.values.setdefault(name, "")
        elif tag == "option" and self._select and "selected" in attributes:
            self.values[self._select] = attributes.get("value") or ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.values[self._textarea] += data


def shown_fields(page: str) -> dict[str, str]:
    """The form's fields and their values as shown."""
    parser = FormFields()
    parser.feed(page)
    return parser.values


def answers_of(fields: dict[str, str]) -> dict[str, str]:
    """The fields that carry an answer (not rationales), with a value."""
    return {
        name: value
        for name, value in fields.items()
        if value and not name.startswith("rationale.") and name != "missing_factors"
    }


def run_round_one(study, links, post_answers, definition) -> dict[str, dict[str, str]]:
    """Round 1 answered in full by every panelist, closed; round 2 opened."""
    open_round(db.session, study)
    rng = random.Random(20261204)
    given = {link.token: simulated_answers(rng, definition) for link in links}
    for link in links:
        assert post_answers(link.token, given[link.token]).status_code == 302
    close_round(db.session, study)
    open_round(db.session, study)
    return given


def test_the_setting_is_read_checked_and_written_back_only_when_not_the_default():
    blank = parse_definition(blank_source(), name="blank")
    assert blank.carry_over == "blank"
    assert parse_definition(demo_source(), name="demo").carry_over == "previous"
    written = definition_to_toml(blank)
    assert 'carry_over = "blank"' in written
    assert parse_definition(written, name="again").carry_over == "blank"
    assert "carry_over" not in definition_to_toml(parse_definition(demo_source(), name="demo"))
    bad = blank_source().replace('carry_over = "blank"', 'carry_over = "nothing"')
    with pytest.raises(Exception) as refused:
        parse_definition(bad, name="bad")
    assert "carry_over" in str(refused.value) and "previous, blank" in str(refused.value)


@pytest.mark.parametrize("carry_over", ["previous", "blank"])
def test_round_two_starts_as_the_protocol_says_and_feedback_shows_the_own_answer_either_way(
    client, make_study, make_panel, post_answers, demo_definition, carry_over
):
    study = make_study(blank_source() if carry_over == "blank" else None)
    links = make_panel(study, PANEL)
    given = run_round_one(study, links, post_answers, demo_definition)
    rounds = db.session.query(Round).filter_by(study_id=study.id).order_by(Round.number).all()
    assert [round_.started_from for round_ in rounds] == [carry_over, carry_over]

    link = links[0]
    enter(client, link.token, lang="en")
    page = client.get("/e/").text
    fields = answers_of(shown_fields(page))
    before = answers_of(given[link.token])
    if carry_over == "previous":
        assert fields == {name: value for name, value in before.items() if name in fields}
        assert len(fields) >= len(before) - 1  # every answer but none is shown again
        assert "Your answers start where you left them" in page
    else:
        assert fields == {}
        assert "Please give each answer again" in page
    # The feedback beside each question still shows the expert's own answer then.
    feedback = parse_feedback(page)
    own = {
        f"{item}.{part}" if part else item: line["own"] for (item, part), line in feedback.items()
    }
    for name, value in before.items():
        if name in own:
            assert float(own[name]) == float(value)


def test_a_page_submitted_as_shown_is_unchanged_with_previous_and_must_be_retyped_with_blank(
    client, make_study, make_panel, post_answers, demo_definition
):
    """Every expert submits round 2 as the page shows it.  Started from their previous
    answers, nobody changed anything: every pair counts as unchanged.  Started blank,
    the page shows no answer: the experts type their round-1 answers again, and an
    answer given again with the same value counts as unchanged too.  The export's
    methods say, per round, which start the round had."""
    for carry_over in ("previous", "blank"):
        source = demo_source() if carry_over == "previous" else blank_source()
        study = make_study(source.replace('"us-mexico-intelligence"', f'"start-{carry_over}"'))
        links = make_panel(study, PANEL)
        given = run_round_one(study, links, post_answers, demo_definition)
        for link in links:
            enter(client, link.token, lang="en")
            page = client.get("/e/").text
            fields = shown_fields(page)
            if carry_over == "blank":
                assert answers_of(fields) == {}
                fields.update(answers_of(given[link.token]))
            response = client.post("/e/", data={"csrf_token": csrf_token(page), **fields})
            assert response.status_code == 302, response.text
        close_round(db.session, study)
        tables = export_tables(db.session, study)
        methods = dict(zip(tables.methods["key"], tables.methods["value"], strict=True))
        assert methods["carry_over"] == carry_over
        assert methods["round.2.started_from"] == carry_over
        second = tables.summaries[tables.summaries["round"] == 2]
        paired = second.dropna(subset=["changed_share"])
        assert len(paired) > 20
        assert (paired["changed_share"] == 0).all(), carry_over
        assert (paired["n_paired"] > 0).all()


def test_carry_over_waits_for_the_open_round_and_is_an_amendment_once_stamped(
    app, make_study, make_panel, make_user
):
    study = make_study()
    make_panel(study, 3)
    open_round(db.session, study)
    with pytest.raises(InvalidValues) as refused:
        update_settings(db.session, study, {"carry_over": "blank"}, reason="fewer anchors")
    assert "carry_over" in refused.value.errors
    assert "open round" in refused.value.errors["carry_over"][0]
    close_round(db.session, study)
    with pytest.raises(InvalidValues) as no_reason:
        update_settings(db.session, study, {"carry_over": "blank"})
    assert "reason" in str(no_reason.value.errors)
    assert update_settings(
        db.session, study, {"carry_over": "blank"}, reason="experts anchored on round 1"
    ) == {"carry_over": "blank"}
    (amendment,) = [a for a in amendments(db.session, study) if a.what == "settings.carry_over"]
    assert (amendment.old_value, amendment.new_value) == ("previous", "blank")
    with pytest.raises(InvalidValues) as unknown:
        update_settings(db.session, study, {"carry_over": "half"}, reason="x")
    assert "previous, blank" in unknown.value.errors["carry_over"][0]
    second = open_round(db.session, study)
    assert second.started_from == "blank"
    assert db.session.query(Round).filter_by(study_id=study.id, number=1).one().started_from == (
        "previous"
    )


def test_results_report_close_preview_api_and_settings_say_which_start_each_round_had(
    client, make_study, make_panel, make_user, post_answers, demo_definition
):
    study = make_study()
    links = make_panel(study, PANEL)
    run_round_one(study, links, post_answers, demo_definition)  # round 2 from previous
    close_round(db.session, study)
    update_settings(db.session, study, {"carry_over": "blank"}, reason="avoid anchoring")
    open_round(db.session, study)  # round 3 blank
    lead = make_user("lead@example.org", studies=[study])
    log_in(client, "lead@example.org")
    base = f"/console/studies/{study.slug}"

    close = client.get(f"{base}/rounds/close").text
    assert re.search(r'data-round="3" data-started-from="blank"', close)
    assert "Round 3 started blank" in close

    close_round(db.session, study)
    for address in (f"{base}/results", f"{base}/report"):
        page = html.unescape(client.get(address).text)
        assert 'data-round="2" data-started-from="previous"' in page
        assert 'data-round="3" data-started-from="blank"' in page
        assert "Round 2 started from each panelist's own answers of round 1" in page
        assert "Round 3 started blank" in page
    report = client.get(f"{base}/report").text
    assert "Study setting: later rounds start blank" in report  # in the methods

    settings = client.get(f"{base}/settings").text
    assert re.search(r'<option selected value="blank">|<option value="blank" selected>', settings)
    assert "Currently, later rounds start blank" in client.get(base).text

    secret = create_token(db.session, lead, "notebook", "read").secret
    described = client.get(
        f"/api/v1/studies/{study.slug}", headers={"Authorization": f"Bearer {secret}"}
    ).get_json()
    assert described["carry_over"] == "blank"
    assert [r["started_from"] for r in described["rounds"]] == ["previous", "previous", "blank"]
