"""Every route × every kind of visitor gets the status its rule says.

The routes come from the app's URL map: a new route without a rule here fails
``test_every_route_has_a_rule``, so nothing is added without deciding who may use it.
Every request comes from a fresh session of its visitor and carries a valid CSRF token,
so the status shows what the visitor may do, not how the form was filled.
"""

from __future__ import annotations

import pytest

from elicit.extensions import current_link_keys, db
from surveys.api_tokens import create_token
from surveys.messaging import queue_invitations
from surveys.panel import panelist_by_pseudonym
from surveys.rounds import open_round
from surveys.schedules import add_schedule
from tests.conftest import csrf_token, enter, log_in

VISITORS = ("anonymous", "expert", "other_facilitator", "researcher", "facilitator")

#: (endpoint, method) → expected status per visitor, in the order of VISITORS.
EXPECTED: dict[tuple[str, str], tuple[int, ...]] = {
    # The personal link is itself the credential: it works for whoever holds it.
    ("expert.enter", "GET"): (302, 302, 302, 302, 302),
    ("expert.answer", "GET"): (401, 200, 401, 401, 401),
    # An empty submission is a valid one (every item may be left unanswered).
    ("expert.answer", "POST"): (401, 302, 401, 401, 401),
    ("expert.autosave", "POST"): (401, 200, 401, 401, 401),
    # No personal link pasted: the page that keeps what was typed asks for it.
    ("expert.resume", "POST"): (401, 401, 401, 401, 401),
    ("facilitate.login", "GET"): (200, 200, 200, 200, 200),
    ("facilitate.login", "POST"): (422, 422, 422, 422, 422),  # no email, no password
    ("facilitate.logout", "POST"): (302, 302, 302, 302, 302),
    # Each user changes their own password; an empty form gets the fields' errors.
    ("facilitate.change_password", "GET"): (302, 302, 200, 200, 200),
    ("facilitate.change_password", "POST"): (302, 302, 422, 422, 422),
    ("facilitate.studies", "GET"): (302, 302, 200, 200, 200),
    ("facilitate.study", "GET"): (302, 302, 404, 200, 200),
    # the study page's response rate, polled by its script: whoever may see the page
    ("facilitate.response_rate", "GET"): (302, 302, 404, 200, 200),
    # Round 1 is open already: the confirmation says so (200) and offers no button; a
    # post anyway is told so and sent back to the study (303).
    ("facilitate.open_next_round", "GET"): (302, 302, 404, 403, 200),
    ("facilitate.open_next_round", "POST"): (302, 302, 404, 403, 303),
    ("facilitate.close_current_round", "GET"): (302, 302, 404, 403, 200),
    ("facilitate.close_current_round", "POST"): (302, 302, 404, 403, 303),
    # Computing a large round's close preview again: back to the close's page, or to the
    # study once the round is closed.
    ("facilitate.compute_close_preview", "POST"): (302, 302, 404, 403, 303),
    # A close that failed, of round 1, which the post above has closed since: its page
    # sends the facilitator to the study page (a researcher may not close rounds).
    ("facilitate.closing", "GET"): (302, 302, 404, 403, 303),
    # results and deadline (issue 5)
    ("facilitate.results", "GET"): (302, 302, 404, 200, 200),
    # the stamped protocol (issue 12): members read it, researchers included
    ("facilitate.stamped_protocol", "GET"): (302, 302, 404, 200, 200),
    # No new deadline in the form: refused as incomplete once access is granted.
    ("facilitate.move_deadline", "POST"): (302, 302, 404, 403, 400),
    # exports (issue 6): researchers export too
    ("facilitate.export", "GET"): (302, 302, 404, 200, 200),
    # prepared exports (issue 15): whoever may export; a post without a format is
    # incomplete; the world's export is ready, so its file is sent
    ("facilitate.exports", "GET"): (302, 302, 404, 200, 200),
    ("facilitate.prepare", "POST"): (302, 302, 404, 400, 400),
    ("facilitate.prepared_file", "GET"): (302, 302, 404, 200, 200),
    # the study report (issue 6): members read it, researchers included
    ("facilitate.report", "GET"): (302, 302, 404, 200, 200),
    ("facilitate.download_report", "GET"): (302, 302, 404, 200, 200),
    # panel and messaging (issue 5)
    ("facilitate.panel", "GET"): (302, 302, 404, 200, 200),
    # An empty form or no file: the page again with the fields' errors.
    ("facilitate.add_to_panel", "POST"): (302, 302, 404, 403, 422),
    ("facilitate.import_panel", "POST"): (302, 302, 404, 403, 422),
    ("facilitate.revoke_panelist", "POST"): (302, 302, 404, 403, 303),
    # A standard study: the new link is shown on the page that answers.
    ("facilitate.reissue_panelist", "POST"): (302, 302, 404, 403, 200),
    # No email given: the panel page again with the field's error.
    ("facilitate.act_on_person", "POST"): (302, 302, 404, 403, 422),
    ("facilitate.send_invitations", "POST"): (302, 302, 404, 403, 303),
    ("facilitate.send_reminders", "POST"): (302, 302, 404, 403, 303),
    ("facilitate.send_outbox", "POST"): (302, 302, 404, 403, 303),
    # message texts (issue 14): members read them; a post of an empty form saves an
    # empty signature (303), and an empty text is refused on its field (422)
    ("facilitate.message_texts", "GET"): (302, 302, 404, 200, 200),
    ("facilitate.message_texts", "POST"): (302, 302, 404, 403, 303),
    ("facilitate.message_text", "GET"): (302, 302, 404, 200, 200),
    ("facilitate.message_text", "POST"): (302, 302, 404, 403, 422),
    # planned reminders (issue 14): no amount given is refused on its field; there is
    # no schedule to remove
    ("facilitate.plan_reminder", "POST"): (302, 302, 404, 403, 422),
    ("facilitate.unplan_reminder", "POST"): (302, 302, 404, 403, 303),
    # Round 1 is open for the researcher (404: no reasons yet); the facilitator's visit
    # to the close route earlier in the table closed it (200).  No reason 1 to pin (a
    # closed round's pinning and its rules: tests/elicit/test_reason_pinning.py).
    ("facilitate.round_reasons", "GET"): (302, 302, 404, 404, 200),
    ("facilitate.pin", "POST"): (302, 302, 404, 403, 404),
    ("facilitate.outcomes", "GET"): (302, 302, 404, 200, 200),
    ("facilitate.record_outcome", "POST"): (302, 302, 404, 403, 422),
    # the scenario tracker (issue 16, point 3): researchers read; an empty form is the
    # page again with its errors; the world has no observation 1 to withdraw
    ("facilitate.tracker", "GET"): (302, 302, 404, 200, 200),
    ("facilitate.record_observation", "POST"): (302, 302, 404, 403, 422),
    ("facilitate.withdraw_observation", "POST"): (302, 302, 404, 403, 404),
    ("facilitate.reminder_text", "GET"): (302, 302, 404, 200, 200),
    ("facilitate.reminder_text", "POST"): (302, 302, 404, 403, 422),
    # a panelist's messages and visits (issue 14, point 5): the facilitator of a
    # standard study only; researchers see pseudonymous data only
    ("facilitate.panelist_messages", "GET"): (302, 302, 404, 403, 200),
    ("facilitate.outbox_page", "GET"): (302, 302, 404, 200, 200),
    # sending by hand (issue 14, point 6): the mail-merge file names people and holds
    # links, so facilitators only; the world's invitation is marked as sent (303)
    ("facilitate.mail_merge", "GET"): (302, 302, 404, 403, 200),
    ("facilitate.mark_message_sent", "POST"): (302, 302, 404, 403, 303),
    ("facilitate.mark_outbox_sent", "POST"): (302, 302, 404, 403, 303),
    # studies, settings and items (issue 5)
    ("facilitate.new_study", "GET"): (302, 302, 200, 403, 200),
    # Neither a file nor a pasted text: the page again with the field's error.
    ("facilitate.new_study", "POST"): (302, 302, 422, 403, 422),
    # The demo's slug is taken by the world's study: the facilitator is told so (303).
    ("facilitate.create_demo", "POST"): (302, 302, 303, 403, 303),
    ("facilitate.study_settings", "GET"): (302, 302, 404, 403, 200),
    # An empty form: the page again with every field's error.
    ("facilitate.study_settings", "POST"): (302, 302, 404, 403, 422),
    ("facilitate.items", "GET"): (302, 302, 404, 200, 200),
    ("facilitate.add_new_item", "GET"): (302, 302, 404, 403, 200),
    # Visited while round 1 is still open (before the close below): items wait for it.
    ("facilitate.add_new_item", "POST"): (302, 302, 404, 403, 409),
    ("facilitate.reword", "GET"): (302, 302, 404, 403, 200),
    ("facilitate.reword", "POST"): (302, 302, 404, 403, 409),
    ("facilitate.retire", "POST"): (302, 302, 404, 403, 422),
    # the study builder (issue 12): its facilitators only.  Round 1 is open in this
    # world, so the builder is read-only and each change is sent back to it (303).
    ("facilitate.start_study", "POST"): (302, 302, 422, 403, 422),  # an empty form
    ("facilitate.build", "GET"): (302, 302, 404, 403, 200),
    ("facilitate.build_texts", "POST"): (302, 302, 404, 403, 303),
    ("facilitate.build_add_section", "POST"): (302, 302, 404, 403, 303),
    ("facilitate.build_rename_section", "POST"): (302, 302, 404, 403, 303),
    ("facilitate.build_move_section", "POST"): (302, 302, 404, 403, 303),
    ("facilitate.build_delete_section", "POST"): (302, 302, 404, 403, 303),
    # No kind of item chosen: the page asks for it; a post without one is incomplete.
    ("facilitate.build_new_item", "GET"): (302, 302, 404, 403, 200),
    ("facilitate.build_new_item", "POST"): (302, 302, 404, 403, 400),
    ("facilitate.build_item", "GET"): (302, 302, 404, 403, 200),
    ("facilitate.build_item", "POST"): (302, 302, 404, 403, 303),
    ("facilitate.build_move_item", "POST"): (302, 302, 404, 403, 303),
    ("facilitate.build_duplicate_item", "POST"): (302, 302, 404, 403, 303),
    ("facilitate.build_delete_item", "POST"): (302, 302, 404, 403, 303),
    ("facilitate.build_download", "GET"): (302, 302, 404, 403, 200),
    ("facilitate.build_import", "GET"): (302, 302, 404, 403, 200),
    ("facilitate.build_import", "POST"): (302, 302, 404, 403, 303),
    # API tokens (issue 6): each user manages their own.
    ("facilitate.api_tokens", "GET"): (302, 302, 200, 200, 200),
    # No name for the token: the page again with the field's error.
    ("facilitate.api_tokens", "POST"): (302, 302, 422, 422, 422),
    # The token is the lead facilitator's: nobody else's list holds it.
    ("facilitate.revoke_api_token", "POST"): (302, 302, 404, 404, 303),
    # The API reads no session cookie: without a bearer token everyone is refused
    # (tests/elicit/test_api.py checks what each token may do).
    ("api.get_openapi", "GET"): (200, 200, 200, 200, 200),
    ("api.get_me", "GET"): (401, 401, 401, 401, 401),
    ("api.list_studies", "GET"): (401, 401, 401, 401, 401),
    ("api.create_study", "POST"): (401, 401, 401, 401, 401),
    ("api.get_study", "GET"): (401, 401, 401, 401, 401),
    ("api.list_items", "GET"): (401, 401, 401, 401, 401),
    ("api.list_panelists", "GET"): (401, 401, 401, 401, 401),
    ("api.add_to_panel", "POST"): (401, 401, 401, 401, 401),
    ("api.list_rounds", "GET"): (401, 401, 401, 401, 401),
    ("api.list_observations", "GET"): (401, 401, 401, 401, 401),
    ("api.record_observation", "POST"): (401, 401, 401, 401, 401),
    ("api.withdraw_observation", "DELETE"): (401, 401, 401, 401, 401),
    ("api.get_round", "GET"): (401, 401, 401, 401, 401),
    ("api.open_next_round", "POST"): (401, 401, 401, 401, 401),
    ("api.close_open_round", "POST"): (401, 401, 401, 401, 401),
    ("api.close_round_later", "POST"): (401, 401, 401, 401, 401),
    ("api.get_closing", "GET"): (401, 401, 401, 401, 401),
    ("api.get_summary", "GET"): (401, 401, 401, 401, 401),
    ("api.list_responses", "GET"): (401, 401, 401, 401, 401),
    ("api.export", "GET"): (401, 401, 401, 401, 401),
    ("api.prepare_export", "POST"): (401, 401, 401, 401, 401),
    ("api.list_prepared_exports", "GET"): (401, 401, 401, 401, 401),
    ("api.get_prepared_export", "GET"): (401, 401, 401, 401, 401),
    ("api.prepared_export_file", "GET"): (401, 401, 401, 401, 401),
    ("api.list_resolutions", "GET"): (401, 401, 401, 401, 401),
    ("api.put_resolution", "PUT"): (401, 401, 401, 401, 401),
    ("api.delete_resolution", "DELETE"): (401, 401, 401, 401, 401),
    ("api.get_scores", "GET"): (401, 401, 401, 401, 401),
    # consensus rules (issue 12): members read them, facilitators change them.  An empty
    # form (no "all"/"any"): the editor again with the field's error.
    ("facilitate.rules", "GET"): (302, 302, 404, 200, 200),
    ("facilitate.edit_default_rule", "GET"): (302, 302, 404, 403, 200),
    ("facilitate.edit_default_rule", "POST"): (302, 302, 404, 403, 422),
    ("facilitate.edit_kind_rule", "GET"): (302, 302, 404, 403, 200),
    ("facilitate.edit_kind_rule", "POST"): (302, 302, 404, 403, 422),
    ("facilitate.edit_item_rule", "GET"): (302, 302, 404, 403, 200),
    ("facilitate.edit_item_rule", "POST"): (302, 302, 404, 403, 422),
    # The item here (trust_now) is a single number: it has no parts to give rules.
    ("facilitate.edit_part_rule", "GET"): (302, 302, 404, 403, 404),
    ("facilitate.edit_part_rule", "POST"): (302, 302, 404, 403, 404),
    # preview as an expert (issue 12): members, researchers included; it changes nothing,
    # so a post (save, review, submit) only shows the page again, and saves nothing.
    ("facilitate.preview", "GET"): (302, 302, 404, 200, 200),
    ("facilitate.preview", "POST"): (302, 302, 404, 200, 200),
    ("facilitate.preview_autosave", "POST"): (302, 302, 404, 200, 200),
    # the front page (issue 13): the same for everyone, nothing personal in it
    ("landing.index", "GET"): (200, 200, 200, 200, 200),
    # health (issue 11): open to all, nothing personal in them.  The test schema is not
    # made by Alembic (no revision), so /readyz says the service is not ready.
    ("health.healthz", "GET"): (200, 200, 200, 200, 200),
    ("health.readyz", "GET"): (503, 503, 503, 503, 503),
    # metrics (issue 15): no session opens them; without ELICIT_METRICS_TOKEN (as here)
    # the endpoint does not exist (its token checks: tests/elicit/test_metrics.py)
    ("metrics.metrics", "GET"): (404, 404, 404, 404, 404),
}
PUBLIC = {"static"}


def routes(app):
    """(endpoint, method, rule) for every route of the app but static files."""
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule.endpoint, method, rule


def test_every_route_has_a_rule(app):
    missing = [
        (endpoint, method)
        for endpoint, method, _ in routes(app)
        if (endpoint, method) not in EXPECTED
    ]
    assert missing == [], f"routes without an authorisation rule: {missing}"
    stale = set(EXPECTED) - {(endpoint, method) for endpoint, method, _ in routes(app)}
    assert stale == set(), f"rules for routes that no longer exist: {stale}"


@pytest.fixture
def world(app, make_study, make_panel, make_user):
    """A running study with one expert, a member facilitator and researcher, and a
    facilitator of another study."""
    study = make_study()
    other = make_study(study.source.replace('slug = "us-mexico-intelligence"', 'slug = "other"'))
    (link,) = make_panel(study, 1)
    round_ = open_round(db.session, study)
    (invitation,) = queue_invitations(
        db.session, study, round_, "http://localhost", keys=current_link_keys()
    )
    lead = make_user("lead@example.org", studies=[study])
    make_user("analyst@example.org", role="researcher", studies=[study])
    make_user("rival@example.org", studies=[other])
    return {
        "slug": study.slug,
        "key": "trust_now",
        "kind": "probability",
        "message": "invitation",
        "message_id": invitation.id,
        # Visited by the reminder's text (registered first), then removed.
        "schedule_id": add_schedule(db.session, study, 24, "http://localhost").id,
        "language": "en",
        "item_key": "trigger_tariffs",
        "item": "trigger_tariffs",
        "reason_id": 1,
        "part": "best",
        "token": link.token,
        "pseudonym": link.pseudonym,
        "panelist_id": panelist_by_pseudonym(db.session, study, link.pseudonym).id,
        "fmt": "json",
        "number": 1,
        "section": "drivers",
        "token_id": create_token(db.session, lead, "notebook").token.id,
        "observation_id": 1,
        "export_id": _ready_export(study),
        "closing_id": _failed_closing(round_),
    }


def _failed_closing(round_) -> int:
    """A close of ``round_`` that failed (the round stays open for the other routes)."""
    from surveys.models import ClosingStatus, RoundClosing

    closing = RoundClosing(round=round_, status=ClosingStatus.FAILED, error="a test")
    db.session.add(closing)
    db.session.commit()
    return closing.id


def _ready_export(study) -> int:
    """A prepared export of ``study``, written (what its open round holds)."""
    from surveys.prepared_exports import request_export, write_prepared

    export_id = request_export(db.session, study, "json", None).export.id
    write_prepared(db.session, export_id)
    return export_id


#: What a form posts beside its CSRF token where an empty form would be refused before
#: any access is checked: a round's confirmation names its round (round 1, open here).
FORM_FIELDS = {
    "facilitate.open_next_round": {"round": "1"},
    "facilitate.close_current_round": {"round": "1"},
}


def visit_as(client, visitor, world):
    """Give ``client`` the session of ``visitor``."""
    emails = {
        "other_facilitator": "rival@example.org",
        "researcher": "analyst@example.org",
        "facilitator": "lead@example.org",
    }
    if visitor == "expert":
        enter(client, world["token"])
    elif visitor in emails:
        assert log_in(client, emails[visitor]).status_code == 302


@pytest.mark.parametrize("visitor", VISITORS)
def test_each_visitor_gets_the_expected_status_everywhere(app, database_url, world, visitor):
    from flask import url_for

    from tests.conftest import _test_app

    served = _test_app(database_url)
    index = VISITORS.index(visitor)
    wrong = []
    for endpoint, method, rule in routes(app):
        client = served.test_client()  # a fresh session for every request
        visit_as(client, visitor, world)
        token = csrf_token(client.get("/console/login").text)
        with app.test_request_context():
            url = url_for(endpoint, **{name: world[name] for name in rule.arguments})
        response = client.open(
            url,
            method=method,
            data={"csrf_token": token, **FORM_FIELDS.get(endpoint, {})}
            if method == "POST"
            else None,
            headers={"X-CSRFToken": token},
        )
        expected = EXPECTED[(endpoint, method)][index]
        if response.status_code != expected:
            wrong.append(f"{method} {url}: {response.status_code}, expected {expected}")
    with served.app_context():
        db.session.remove()
        db.engine.dispose()
    assert wrong == [], "\n".join(wrong)
