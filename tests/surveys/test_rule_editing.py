"""Consensus rules edited one at a time: the study's default, a kind's, an item's.
Checked as a definition file's rules are; saved freely before round 1, amendments with
a reason after the protocol is stamped, and never while a round is open."""

from __future__ import annotations

import math

import pytest
from sqlalchemy import func, select

from analysis import ConsensusRule, Criterion
from elicit.extensions import db
from surveys.errors import Conflict, InvalidValues, NotFound
from surveys.models import Amendment, AuditEvent, Item
from surveys.rounds import close_round, consensus_rules, open_round
from surveys.rule_editing import (
    NO_RULE,
    EffectiveRule,
    RuleTarget,
    build_rule,
    current_rule,
    effective_rule,
    set_rule,
)
from surveys.serialization import consensus_from_json, item_from_json, rule_to_json
from surveys.studies import study_definition

IQR_20 = ConsensusRule((Criterion("iqr", {"max": 20}),))
SHARE = ConsensusRule(
    (Criterion("share", {"low": 4, "high": 5, "min": 0.75}), Criterion("iqr", {"max": 1})), "any"
)


@pytest.fixture
def study(make_study):
    """The demo study, before round 1."""
    return make_study()


@pytest.fixture
def lead(make_user, study):
    """A facilitator of the study."""
    return make_user("lead@example.org", studies=[study])


def events(study, action):
    """The study's audit events of ``action``, oldest first."""
    return list(
        db.session.execute(
            select(AuditEvent)
            .where(AuditEvent.study_id == study.id, AuditEvent.action == action)
            .order_by(AuditEvent.id)
        ).scalars()
    )


def item_row(study, key):
    """The study's item row ``key``."""
    return db.session.execute(
        select(Item).where(Item.study_id == study.id, Item.key == key)
    ).scalar_one()


# -- building a rule from the editor's values ------------------------------------------


def test_a_rule_is_built_from_its_criteria():
    rule = build_rule("any", [("share", {"low": 4, "high": 5, "min": 0.75}), ("iqr", {"max": 1})])
    assert rule == SHARE


@pytest.mark.parametrize(
    ("combine", "criteria", "field"),
    [
        ("both", [("iqr", {"max": 1})], "combine"),
        ("all", [], "criteria"),
        ("all", [("split", {"min_share": 0.3})], "criteria"),
        ("all", [("median", {"max": 1})], "criteria-0-kind"),
        ("all", [("iqr", {})], "criteria-0-max"),
        ("all", [("iqr", {"max": "1"})], "criteria-0-max"),
        ("all", [("iqr", {"max": True})], "criteria-0-max"),
        ("all", [("iqr", {"max": math.nan})], "criteria-0-max"),
        ("all", [("iqr", {"max": 1e16})], "criteria-0-max"),
        ("all", [("iqr", {"max": -1})], "criteria-0-max"),
        (
            "all",
            [("iqr", {"max": 1}), ("share", {"low": 5, "high": 4, "min": 0.5})],
            "criteria-1-low",
        ),
        ("all", [("share", {"low": 1, "high": 4, "min": 1.5})], "criteria-0-min"),
        ("all", [("ad_mean", {"divisor": 0})], "criteria-0-divisor"),
        ("all", [("split", {"min_share": 2}), ("iqr", {"max": 1})], "criteria-0-min_share"),
        ("all", [("iqr", {"max": 1})] * 11, "criteria"),
    ],
)
def test_a_wrong_rule_is_refused_naming_its_field(combine, criteria, field):
    with pytest.raises(InvalidValues) as refused:
        build_rule(combine, criteria)
    assert field in refused.value.errors, refused.value.errors


# -- before round 1 --------------------------------------------------------------------


def test_before_round_one_a_rule_change_saves_and_is_audited(study, lead):
    assert set_rule(db.session, study, RuleTarget.of_kind("scenario_set"), SHARE, actor=lead)
    db.session.expire_all()
    settings = consensus_from_json(study.consensus)
    assert dict(settings.by_kind)["scenario_set"] == SHARE
    (event,) = events(study, "consensus.rule")
    assert event.user_email == "lead@example.org"
    assert event.details["what"] == "consensus.by_kind.scenario_set"
    assert event.details["old"] == '{ combine = "all", criteria = [{ kind = "iqr", max = 20 }] }'
    assert "share" in event.details["new"]
    assert db.session.execute(select(func.count()).select_from(Amendment)).scalar_one() == 0


def test_the_same_rule_again_changes_nothing(study, lead):
    default = current_rule(study, RuleTarget.study())
    assert not set_rule(db.session, study, RuleTarget.study(), default, actor=lead)
    assert events(study, "consensus.rule") == []


def test_an_items_own_rule_decides_it_and_removing_it_falls_back(study, lead):
    target = RuleTarget.of_item("trust_now")
    before = item_row(study, "trust_now").version
    set_rule(db.session, study, target, SHARE, actor=lead)
    db.session.expire_all()
    row = item_row(study, "trust_now")
    assert row.version == before  # a rule is not a new wording
    assert item_from_json(row.key, row.kind, row.spec).consensus == SHARE
    current = next(v for v in row.versions if v.version == row.version)
    assert current.spec["consensus"] == row.spec["consensus"]
    definition = study_definition(study)
    assert consensus_rules(definition)["trust_now"] == SHARE
    trust = next(item for item in definition.items if item.key == "trust_now")
    assert effective_rule(definition.consensus, trust).level == "item"

    set_rule(db.session, study, target, None, actor=lead)
    db.session.expire_all()
    definition = study_definition(study)
    trust = next(item for item in definition.items if item.key == "trust_now")
    assert effective_rule(definition.consensus, trust).level == "study"
    assert consensus_rules(definition)["trust_now"] == definition.consensus.default


def test_a_kinds_rule_is_removed_and_its_items_follow_the_default(study, lead):
    set_rule(db.session, study, RuleTarget.of_kind("probability"), None, actor=lead)
    db.session.expire_all()
    definition = study_definition(study)
    probability = next(item for item in definition.items if item.kind == "probability")
    effective = effective_rule(definition.consensus, probability)
    assert effective.level == "study"
    assert effective.rule == definition.consensus.default


def test_a_ranking_has_no_rule_until_one_is_written_for_it(study, lead):
    set_rule(db.session, study, RuleTarget.of_kind("ranking"), None, actor=lead)
    db.session.expire_all()
    definition = study_definition(study)
    ranking = next(item for item in definition.items if item.kind == "ranking")
    assert effective_rule(definition.consensus, ranking).level == "none"
    rwg = ConsensusRule((Criterion("rwg", {"min": 0.7}),))
    set_rule(db.session, study, RuleTarget.of_kind("ranking"), rwg, actor=lead)
    db.session.expire_all()
    definition = study_definition(study)
    assert effective_rule(definition.consensus, ranking).level == "kind"
    assert consensus_rules(definition)[ranking.key] == rwg


@pytest.mark.parametrize(
    ("target", "rule", "refusal"),
    [
        (RuleTarget.study(), None, Conflict),
        (RuleTarget.of_kind("open_text"), IQR_20, Conflict),
        (RuleTarget.of_kind("nonsense"), IQR_20, Conflict),
        (RuleTarget.of_item("missing_trigger"), IQR_20, NotFound),
        (RuleTarget.of_item("missing"), IQR_20, NotFound),
    ],
)
def test_a_target_that_cannot_hold_the_rule_is_refused(study, lead, target, rule, refusal):
    open_question = next(item.key for item in study.items if item.kind == "open_text")
    if target.item == "missing_trigger":
        target = RuleTarget.of_item(open_question)
        refusal = Conflict
    before = dict(study.consensus)
    with pytest.raises(refusal):
        set_rule(db.session, study, target, rule, actor=lead)
    db.session.expire_all()
    assert study.consensus == before


# -- while a round is open, and after the stamp ----------------------------------------


def test_no_rule_changes_while_a_round_is_open(study, lead):
    open_round(db.session, study, actor=lead)
    before = dict(study.consensus)
    with pytest.raises(Conflict, match="while a round is open"):
        set_rule(db.session, study, RuleTarget.study(), IQR_20, reason="why not", actor=lead)
    db.session.expire_all()
    assert study.consensus == before


def test_after_the_stamp_a_change_needs_a_reason_and_is_an_amendment(study, lead):
    open_round(db.session, study, actor=lead)
    close_round(db.session, study, actor=lead)
    target = RuleTarget.of_item("scenarios")
    with pytest.raises(InvalidValues) as refused:
        set_rule(db.session, study, target, SHARE, actor=lead)
    assert "reason" in refused.value.errors
    db.session.expire_all()
    assert item_row(study, "scenarios").spec["consensus"] is None

    set_rule(
        db.session, study, target, IQR_20, reason="0–100 scale: 1 point is never met", actor=lead
    )
    db.session.expire_all()
    (amendment,) = db.session.execute(select(Amendment)).scalars()
    assert amendment.what == "items.scenarios.consensus"
    assert amendment.old_value == ""
    assert amendment.new_value == '{ combine = "all", criteria = [{ kind = "iqr", max = 20 }] }'
    assert amendment.reason == "0–100 scale: 1 point is never met"
    assert amendment.first_round == 2
    assert amendment.user_email == "lead@example.org"
    assert events(study, "protocol.amend")
    assert events(study, "consensus.rule") == []
    assert consensus_rules(study_definition(study))["scenarios"] == IQR_20


# -- the parts of multi-part answers -----------------------------------------------------


def parts_of(study, key):
    """Item ``key``'s part rules as stored (``None`` when it has none)."""
    db.session.expire_all()
    return item_row(study, key).spec.get("parts")


def test_a_part_gets_its_own_rule_and_the_others_follow_the_item(study, lead):
    target = RuleTarget.of_part("scenarios", "rift")
    assert set_rule(db.session, study, target, SHARE, actor=lead)
    assert parts_of(study, "scenarios") == {"rift": rule_to_json(SHARE)}
    row = item_row(study, "scenarios")
    current = next(v for v in row.versions if v.version == row.version)
    assert current.spec["parts"] == row.spec["parts"]
    definition = study_definition(study)
    scenarios = next(item for item in definition.items if item.key == "scenarios")
    assert effective_rule(definition.consensus, scenarios, "rift") == EffectiveRule(SHARE, "part")
    assert effective_rule(definition.consensus, scenarios, "renewal").level == "kind"
    assert definition.consensus.rule_for_part(scenarios, "rift") == SHARE
    (event,) = events(study, "consensus.rule")
    assert event.details["what"] == "items.scenarios.consensus.parts.rift"

    set_rule(db.session, study, target, None, actor=lead)
    assert parts_of(study, "scenarios") is None  # no "parts" left behind


def test_an_estimates_confidence_can_be_given_no_rule(study, lead):
    target = RuleTarget.of_part("transfers_next_year", "confidence")
    set_rule(db.session, study, target, None, actor=lead)  # whatever the demo says
    set_rule(db.session, study, target, NO_RULE, actor=lead)
    assert parts_of(study, "transfers_next_year")["confidence"] is None
    assert current_rule(study, target) == NO_RULE
    definition = study_definition(study)
    estimate = next(item for item in definition.items if item.key == "transfers_next_year")
    assert effective_rule(definition.consensus, estimate, "confidence") == EffectiveRule(
        None, "none"
    )
    assert events(study, "consensus.rule")[-1].details["new"] == '"none"'


@pytest.mark.parametrize(
    ("target", "rule", "refusal"),
    [
        (RuleTarget.of_part("trust_now", "x"), IQR_20, Conflict),
        (RuleTarget.of_part("scenarios", "nowhere"), IQR_20, NotFound),
        (RuleTarget.of_item("scenarios"), NO_RULE, Conflict),
        (RuleTarget.of_kind("probability"), NO_RULE, Conflict),
        (RuleTarget.of_part("scenarios", "rift"), "something", Conflict),
    ],
)
def test_a_part_that_cannot_hold_the_rule_is_refused(study, lead, target, rule, refusal):
    with pytest.raises(refusal):
        set_rule(db.session, study, target, rule, actor=lead)


def test_after_the_stamp_a_parts_rule_is_an_amendment(study, lead):
    open_round(db.session, study, actor=lead)
    close_round(db.session, study, actor=lead)
    target = RuleTarget.of_part("scenarios", "rift")
    set_rule(db.session, study, target, IQR_20, reason="the rift is rarer", actor=lead)
    (amendment,) = db.session.execute(select(Amendment)).scalars()
    assert amendment.what == "items.scenarios.consensus.parts.rift"
    assert (amendment.old_value, amendment.reason) == ("", "the rift is rarer")
    assert amendment.new_value == '{ combine = "all", criteria = [{ kind = "iqr", max = 20 }] }'
