"""The rule editor in the console: a form, no TOML; criteria added and removed without
JavaScript; problems named beside their inputs with everything typed kept; amendments
with a reason after the stamp, nothing while a round is open."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from analysis import ConsensusRule, Criterion
from elicit.extensions import db
from surveys.models import Amendment, Item
from surveys.rounds import close_round, open_round
from surveys.serialization import consensus_from_json, item_from_json
from tests.conftest import csrf_token, log_in


@pytest.fixture
def study(make_study, make_user, client):
    """The demo study before round 1, its facilitator logged in."""
    created = make_study()
    make_user("lead@example.org", studies=[created])
    assert log_in(client, "lead@example.org").status_code == 302
    return created


def editor(client, study, path, **data):
    """Post ``data`` to the editor at ``path`` with the page's CSRF token."""
    url = f"/console/studies/{study.slug}/rules/{path}"
    token = csrf_token(client.get(url).text)
    return client.post(url, data={"csrf_token": token, **data})


def item_rule(study, key):
    """Item ``key``'s own rule as stored."""
    db.session.expire_all()
    row = db.session.execute(
        select(Item).where(Item.study_id == study.id, Item.key == key)
    ).scalar_one()
    return item_from_json(row.key, row.kind, row.spec).consensus


def test_the_overview_gives_every_items_effective_rule_in_words_and_its_level(client, study):
    page = client.get(f"/console/studies/{study.slug}/rules")
    assert page.status_code == 200
    html = page.text
    scenarios = html[html.index('id="item-scenarios"') :]
    scenarios = scenarios[: scenarios.index("</article>")]
    assert "IQR at most 20 percentage points on this 0–100 % scale" in scenarios
    assert "From the study&#39;s rule for this kind of item (Scenario set)." in scenarios
    trust = html[html.index('id="item-trust_now"') :]
    trust = trust[: trust.index("</article>")]
    assert "IQR at most 1 point on this 1–5 scale" in trust
    assert "From the study&#39;s default rule." in trust
    # Without the demo's rule for rankings, a ranking has no rule at all.
    cleared = editor(client, study, "kinds/ranking", action="clear", combine="all")
    assert cleared.status_code == 303
    html = client.get(f"/console/studies/{study.slug}/rules").text
    ranking = html[html.index('id="item-driver_ranking"') :]
    assert "No rule: a ranking reaches consensus only" in ranking[: ranking.index("</article>")]


def test_an_items_editor_starts_from_the_rule_that_applies_and_saves_a_new_one(client, study):
    page = client.get(f"/console/studies/{study.slug}/rules/items/scenarios")
    assert 'id="started-from"' in page.text
    assert re.search(r'name="criteria-0-max" value="20"', page.text)
    saved = editor(
        client,
        study,
        "items/scenarios",
        action="save",
        combine="any",
        **{"criteria-0-kind": "iqr", "criteria-0-max": "15"},
        **{"criteria-1-kind": "share", "criteria-1-low": "0", "criteria-1-high": "10"},
        **{"criteria-1-min": "80"},
    )
    assert saved.status_code == 303
    assert saved.headers["Location"].endswith("/rules#item-scenarios")
    assert item_rule(study, "scenarios") == ConsensusRule(
        (
            Criterion("iqr", {"max": 15}),
            Criterion("share", {"low": 0, "high": 10, "min": 0.8}),
        ),
        "any",
    )


def test_adding_and_removing_criteria_needs_no_script_and_saves_nothing(client, study):
    added = editor(
        client,
        study,
        "default",
        action="add",
        combine="all",
        new_kind="share",
        **{"criteria-0-kind": "iqr", "criteria-0-max": "1"},
    )
    assert added.status_code == 200
    html = added.text
    assert re.search(r'name="criteria-1-kind" type="hidden" value="share"', html)
    assert 'name="criteria-1-min" value="75"' in html  # the published median, in %
    assert consensus_from_json(study.consensus).default == ConsensusRule(
        (Criterion("iqr", {"max": 1}),)
    )
    removed = editor(
        client,
        study,
        "default",
        action="remove-0",
        combine="all",
        **{"criteria-0-kind": "iqr", "criteria-0-max": "1"},
        **{"criteria-1-kind": "rwg", "criteria-1-min": "0.7"},
    )
    assert removed.status_code == 200
    assert re.search(r'name="criteria-0-kind" type="hidden" value="rwg"', removed.text)
    assert "criteria-1-kind" not in removed.text
    assert "Within-group agreement rwg at least 0.7" in removed.text  # the rule in words


def test_problems_are_named_beside_their_inputs_and_nothing_typed_is_lost(client, study):
    refused = editor(
        client,
        study,
        "kinds/probability",
        action="save",
        combine="all",
        **{"criteria-0-kind": "share", "criteria-0-low": "60", "criteria-0-high": "40"},
        **{"criteria-0-min": "170"},
        **{"criteria-1-kind": "cv", "criteria-1-max": "1,000"},
    )
    assert refused.status_code == 422
    html = refused.text
    assert 'id="criteria-0-min-error">Enter a percentage from 0 to 100.' in html
    assert 'id="criteria-0-high-error">Must not be below “From”.' in html
    assert 'id="criteria-1-max-error">Enter a number, for example 0.7 or 20' in html
    for typed in ('value="60"', 'value="40"', 'value="170"', 'value="1,000"'):
        assert typed in html
    assert 'class="error-summary"' in html


def test_decimals_are_read_with_a_comma_as_in_spanish(client, study):
    saved = editor(
        client,
        study,
        "items/trust_now",
        action="save",
        combine="all",
        **{"criteria-0-kind": "rwg", "criteria-0-min": "0,65"},
    )
    assert saved.status_code == 303
    assert item_rule(study, "trust_now") == ConsensusRule((Criterion("rwg", {"min": 0.65}),))


def test_removing_an_items_rule_falls_back_to_its_kind(client, study):
    editor(
        client,
        study,
        "items/scenarios",
        action="save",
        combine="all",
        **{"criteria-0-kind": "iqr", "criteria-0-max": "10"},
    )
    page = client.get(f"/console/studies/{study.slug}/rules/items/scenarios")
    assert "then the study&#39;s rule for this kind of item (Scenario set) applies" in page.text
    cleared = editor(client, study, "items/scenarios", action="clear", combine="all")
    assert cleared.status_code == 303
    assert item_rule(study, "scenarios") is None


def test_after_the_stamp_a_change_needs_a_reason_and_becomes_an_amendment(client, study):
    open_round(db.session, study)
    close_round(db.session, study)
    rule = {"combine": "all", "criteria-0-kind": "iqr", "criteria-0-max": "10"}
    page = client.get(f"/console/studies/{study.slug}/rules/items/scenarios")
    assert 'id="rules-amendment"' in page.text and 'name="reason"' in page.text
    refused = editor(client, study, "items/scenarios", action="save", **rule)
    assert refused.status_code == 422
    assert 'id="reason-error">Say why the rule changes' in refused.text
    assert 'value="10"' in refused.text
    assert item_rule(study, "scenarios") is None
    saved = editor(
        client, study, "items/scenarios", action="save", reason="1 point is never met", **rule
    )
    assert saved.status_code == 303
    (amendment,) = db.session.execute(select(Amendment)).scalars()
    assert (amendment.what, amendment.reason) == (
        "items.scenarios.consensus",
        "1 point is never met",
    )


def test_while_a_round_is_open_the_editor_is_shown_but_nothing_changes(client, study):
    open_round(db.session, study)
    page = client.get(f"/console/studies/{study.slug}/rules/default")
    assert 'id="rules-locked"' in page.text
    assert re.search(r'<fieldset class="rule-fields" disabled>', page.text)
    before = dict(study.consensus)
    refused = editor(
        client,
        study,
        "default",
        action="save",
        combine="all",
        reason="x",
        **{"criteria-0-kind": "iqr", "criteria-0-max": "2"},
    )
    assert refused.status_code == 409
    assert "consensus rules cannot change until it closes" in refused.text
    db.session.expire_all()
    assert study.consensus == before


def test_researchers_read_the_rules_but_cannot_edit_them(client, study, make_user):
    make_user("analyst@example.org", role="researcher", studies=[study])
    client.post("/console/logout", data={"csrf_token": csrf_token(client.get("/console/").text)})
    assert log_in(client, "analyst@example.org").status_code == 302
    overview = client.get(f"/console/studies/{study.slug}/rules")
    assert overview.status_code == 200
    assert "/rules/items/" not in overview.text  # no link to an editor
    assert client.get(f"/console/studies/{study.slug}/rules/default").status_code == 403


def test_a_rule_that_cannot_fit_its_scale_is_flagged_beside_its_item_with_a_fix(client, study):
    # Without its kind's rule the scenario set falls back to the default "IQR ≤ 1".
    editor(client, study, "kinds/scenario_set", action="clear", combine="all")
    for path in ("rules", "items", "build/items/scenarios"):
        html = client.get(f"/console/studies/{study.slug}/{path}").text
        place = html.index('data-item-rule="scenarios"')
        block = html[place : html.index("</div>", html.index('class="rule-warnings"', place))]
        assert "IQR at most 1 percentage point on this 0–100 % scale" in block, path
        assert "The IQR threshold is a sliver of this scale" in block, path
        assert "The rule comes from the study&#39;s default rule." in block, path
        assert f'href="/console/studies/{study.slug}/rules/items/scenarios">Fix' in block, path
    editor(
        client,
        study,
        "items/scenarios",
        action="save",
        combine="all",
        **{"criteria-0-kind": "iqr", "criteria-0-max": "20"},
    )
    for path in ("rules", "items", "build/items/scenarios"):
        html = client.get(f"/console/studies/{study.slug}/{path}").text
        place = html.index('data-item-rule="scenarios"')
        block = html[place : html.index("</div>", place)]
        assert "IQR at most 20 percentage points" in block, path
        assert "rule-warning" not in block, path


def test_the_builder_and_the_study_page_lead_to_the_preview(client, study):
    for path in ("build", "build/items/trust_now", ""):
        html = client.get(f"/console/studies/{study.slug}/{path}".rstrip("/")).text
        assert f'href="/console/studies/{study.slug}/preview/1?lang=en"' in html, path
    study_page = client.get(f"/console/studies/{study.slug}").text
    assert f'href="/console/studies/{study.slug}/preview/2?lang=es"' in study_page


def test_the_settings_page_sums_the_rules_up_and_links_to_the_editor(client, study):
    editor(client, study, "kinds/scenario_set", action="clear", combine="all")
    html = client.get(f"/console/studies/{study.slug}/settings").text
    summary = html[html.index('id="consensus-rules"') : html.index("</section>")]
    assert "IQR at most 1 in each item&#39;s own units" in summary
    assert "1 item's rule has a warning." in summary
    assert f'href="/console/studies/{study.slug}/rules"' in summary


def test_a_part_of_an_answer_gets_its_own_rule_or_none_through_the_form(client, study):
    page = client.get(f"/console/studies/{study.slug}/rules/items/scenarios")
    assert 'id="part-rift"' in page.text
    part_editor = f"/console/studies/{study.slug}/rules/items/scenarios/parts/rift"
    assert f'href="{part_editor}"' in page.text
    form = client.get(part_editor).text
    assert "Consensus rule of one part of item scenarios: A total rift" in form
    saved = editor(
        client,
        study,
        "items/scenarios/parts/rift",
        action="save",
        combine="all",
        **{"criteria-0-kind": "share", "criteria-0-low": "0", "criteria-0-high": "10"},
        **{"criteria-0-min": "70"},
    )
    assert saved.status_code == 303
    assert saved.headers["Location"].endswith("/rules/items/scenarios#part-rift")
    db.session.expire_all()
    row = db.session.execute(
        select(Item).where(Item.study_id == study.id, Item.key == "scenarios")
    ).scalar_one()
    rift = dict(item_from_json(row.key, row.kind, row.spec).part_rules)["rift"]
    assert rift == ConsensusRule((Criterion("share", {"low": 0, "high": 10, "min": 0.7}),))
    overview = client.get(f"/console/studies/{study.slug}/rules").text
    entry = overview[overview.index('id="item-scenarios"') :]
    entry = entry[: entry.index("</article>")]
    assert "A total rift" in entry and "Share of answers between 0% and 10%" in entry

    none = editor(client, study, "items/scenarios/parts/rift", action="none", combine="all")
    assert none.status_code == 303
    page = client.get(f"/console/studies/{study.slug}/rules/items/scenarios").text
    start = page.index('id="part-rift"')
    rift_line = page[start : page.index("</li>", start)]
    assert "Given no rule: this part never reaches consensus." in rift_line
    cleared = editor(client, study, "items/scenarios/parts/rift", action="clear", combine="all")
    assert cleared.status_code == 303
    db.session.expire_all()
    assert (
        "parts"
        not in db.session.execute(
            select(Item).where(Item.study_id == study.id, Item.key == "scenarios")
        )
        .scalar_one()
        .spec
    )


def test_only_the_parts_of_multi_part_items_have_editors(client, study):
    base = f"/console/studies/{study.slug}/rules/items"
    assert client.get(f"{base}/trust_now/parts/x").status_code == 404
    assert client.get(f"{base}/scenarios/parts/nowhere").status_code == 404
    assert client.get(f"{base}/transfers_next_year/parts/confidence").status_code == 200
    rule = client.get(f"{base}/transfers_next_year/parts/confidence").text
    assert "answers from 50 to 100" in rule  # the confidence's own scale, in %


def test_an_open_question_has_a_page_that_says_it_has_no_rule(client, study):
    url = f"/console/studies/{study.slug}/rules/items/missing_factors"
    page = client.get(url)
    assert page.status_code == 200
    assert "Open questions have no consensus rule" in page.text
    assert 'name="criteria' not in page.text
    token = csrf_token(page.text)
    refused = client.post(url, data={"csrf_token": token, "action": "save", "combine": "all"})
    assert refused.status_code == 409
    assert client.get(f"/console/studies/{study.slug}/rules/items/nothing").status_code == 404
