"""Console pages for consensus rules in plain language: every item's effective rule and
its warnings, and a form (no TOML) for the study's default rule, a kind's rule and an
item's own rule.

Each view: load (404 if missing or not a member) → authorise → validate the form →
one call into :mod:`surveys.rule_editing` → flash and redirect, or render the form again
with every problem beside its input and everything typed kept.  Adding or removing a
criterion is a button that posts the form and shows it again, changed, without saving:
the editor works without JavaScript.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import get_locale, gettext
from flask_login import login_required

from analysis import CRITERIA, ConsensusRule
from elicit.extensions import db
from elicit.facilitate.access import console_user, study_for
from elicit.facilitate.rule_forms import RuleForm, criterion_data, mark_problems, read_criteria
from elicit.facilitate.rule_words import (
    CRITERION_EXPLANATIONS,
    CRITERION_NAMES,
    KIND_IN_SENTENCE,
    KIND_NAMES,
    RuleWords,
    ScaleContext,
    default_parameters,
    level_words,
    parameter_help,
    parameter_label,
    part_name,
    rule_words,
    scale_of,
    warning_sentence,
)
from elicit.facilitate.views import blueprint
from surveys.definition import ItemDefinition, StudyDefinition
from surveys.errors import Conflict, InvalidValues, NotFound
from surveys.models import Role, Study
from surveys.protocol import is_stamped
from surveys.rounds import open_round_of
from surveys.rule_checks import RuleWarning, rule_warnings
from surveys.rule_editing import (
    CRITERIA_LIMIT,
    MULTI_PART_KINDS,
    NO_RULE,
    RULED_KINDS,
    PartSetting,
    RuleTarget,
    build_rule,
    current_rule,
    effective_rule,
    kind_has_default,
    set_rule,
)
from surveys.serialization import item_from_json
from surveys.studies import study_definition


@dataclass(frozen=True)
class PartRule:
    """The rule of one part of a multi-part item's answer, as the pages show it."""

    key: str
    #: The part as the expert reads it: a scenario, an option, "Best guess" …
    name: str
    words: RuleWords | None
    #: "part" (its own rule), "given_none" (given no rule) or "follows" (its item's).
    level: str
    source: str


@dataclass(frozen=True)
class ItemRule:
    """One item's effective rule as the pages show it."""

    key: str
    kind: str
    text: str
    #: The rule in words, with the item's own scale; ``None`` without a rule.
    words: RuleWords | None
    #: "item", "kind", "study" or "none".
    level: str
    #: Where the rule comes from, in words.
    source: str
    warnings: tuple[str, ...]
    #: The rules of the item's parts (a multi-part item's), each with where it comes
    #: from; empty for an item of one number.
    parts: tuple[PartRule, ...] = ()

    @property
    def own_parts(self) -> tuple[PartRule, ...]:
        """The parts decided otherwise than by the item's rule (their own, or none)."""
        return tuple(part for part in self.parts if part.level != "follows")

    @property
    def numeric(self) -> bool:
        """Whether the item has numbers to agree on (open questions have no rule)."""
        return self.kind != "open_text"


def item_rule(definition: StudyDefinition, item: ItemDefinition) -> ItemRule:
    """``item``'s effective rule in words, where it comes from, and its warnings."""
    language = str(get_locale())
    fallback = definition.default_language
    effective = effective_rule(definition.consensus, item)
    scale = scale_of(item, language=language, fallback=fallback)
    if not item.numeric:
        source = gettext("Open questions have no consensus rule.")
    elif effective.rule is None:
        source = gettext(
            "No rule: a %(kind)s reaches consensus only by a rule written for it or for its kind.",
            kind=KIND_IN_SENTENCE[item.kind],
        )
    else:
        source = gettext("From %(level)s.", level=level_words(effective.level, item.kind))
    return ItemRule(
        key=item.key,
        kind=item.kind,
        text=item.text.get(language, fallback),
        words=rule_words(effective.rule, scale) if effective.rule is not None else None,
        level=effective.level,
        source=source,
        warnings=tuple(_warnings(definition, item)),
        parts=tuple(_part_rules(definition, item)),
    )


def _part_rules(definition: StudyDefinition, item: ItemDefinition) -> list[PartRule]:
    """Every part of a multi-part item with the rule that decides it."""
    if item.kind not in MULTI_PART_KINDS:
        return []
    language = str(get_locale())
    parts = []
    for part in item.components:
        effective = effective_rule(definition.consensus, item, part)
        scale = scale_of(item, part=part, language=language, fallback=definition.default_language)
        level = "follows"
        if part not in dict(item.part_rules):
            source = gettext("The item's rule.") if effective.rule else gettext("No rule.")
        elif effective.rule is not None:
            level, source = "part", gettext("Its own rule.")
        else:
            level = "given_none"
            source = gettext("Given no rule: this part never reaches consensus.")
        parts.append(
            PartRule(
                key=part,
                name=part_name(item, part, language, definition.default_language),
                words=rule_words(effective.rule, scale) if effective.rule is not None else None,
                level=level,
                source=source,
            )
        )
    return parts


def _warnings(definition: StudyDefinition, item: ItemDefinition) -> list[str]:
    """The warnings of :func:`surveys.rule_checks.rule_warnings` about ``item``'s rule,
    worded for the page.  The study's warnings are found once per request."""
    cache = g.setdefault("rule_warnings", {})
    if id(definition) not in cache:
        found: dict[str, list[RuleWarning]] = {}
        for warning in rule_warnings(definition):
            found.setdefault(warning.item, []).append(warning)
        cache[id(definition)] = (definition, found)
    return [
        warning_sentence(
            warning.code,
            warning.message,
            item=item,
            component=warning.component,
            level=_LEVEL_OF_SOURCE.get(warning.source, warning.source),
            language=str(get_locale()),
            default_language=definition.default_language,
        )
        for warning in cache[id(definition)][1].get(item.key, [])
    ]


#: The level of :func:`elicit.facilitate.rule_words.level_words` where each source of a
#: :class:`surveys.rule_checks.RuleWarning` is written.
_LEVEL_OF_SOURCE = {"default": "study"}


def _state(study: Study) -> dict[str, Any]:
    """Whether rules can change now, and whether a change is an amendment."""
    return {
        "round_open": open_round_of(db.session, study) is not None,
        "stamped": is_stamped(db.session, study),
        "can_change": console_user().role == Role.FACILITATOR,
    }


@blueprint.route("/studies/<slug>/rules")
@login_required
def rules(slug: str) -> str:
    """Every item's effective rule in words, with its warnings; the study's and the
    kinds' rules; links to change each."""
    study = study_for(slug)
    definition = study_definition(study)
    language = str(get_locale())
    kinds_used = [kind for kind in RULED_KINDS if any(i.kind == kind for i in definition.items)]
    by_kind = dict(definition.consensus.by_kind)
    kinds = [
        {
            "kind": kind,
            "name": KIND_NAMES[kind],
            "in_sentence": KIND_IN_SENTENCE[kind],
            "words": rule_words(by_kind[kind], scale_of(None, kind=kind))
            if kind in by_kind
            else None,
            "falls_back": kind_has_default(kind),
        }
        for kind in kinds_used
    ]
    return render_template(
        "facilitate/rules/overview.html",
        study=study,
        default=rule_words(definition.consensus.default, scale_of(None)),
        kinds=kinds,
        items=[item_rule(definition, item) for item in definition.items],
        kind_names=KIND_NAMES,
        language=language,
        **_state(study),
    )


def _target_name(target: RuleTarget, part: str | None = None) -> str:
    """The rule being edited, as the page's heading names it."""
    if target.level == "kind":
        return gettext(
            "Consensus rule for every %(kind)s item", kind=KIND_IN_SENTENCE.get(target.kind or "")
        )
    if target.level == "item":
        return gettext("Consensus rule of item %(key)s", key=target.item)
    if target.level == "part":
        return gettext(
            "Consensus rule of one part of item %(key)s: %(part)s", key=target.item, part=part
        )
    return gettext("The study's default consensus rule")


def _form_from_rule(rule: ConsensusRule | None) -> RuleForm:
    """A form holding ``rule`` (on a first visit) or what was posted."""
    if request.method == "POST":
        return RuleForm()
    data: dict[str, Any] = {"combine": "all", "criteria": []}
    if rule is not None:
        data = {
            "combine": rule.combine,
            "criteria": [criterion_data(c.kind, c.params) for c in rule.criteria],
        }
    return RuleForm(data=data)


def _editor(
    study: Study,
    target: RuleTarget,
    *,
    scale: ScaleContext,
    item: ItemDefinition | None = None,
) -> Any:
    """Show and handle the editor of the rule at ``target``."""
    definition = study_definition(study)
    try:
        stored = current_rule(study, target)
    except NotFound:
        abort(404)
    # A level without a rule of its own starts from the rule that applies there now.
    written_rule = stored if isinstance(stored, ConsensusRule) else None
    applies = written_rule or _applying(target, definition, item)
    form = _form_from_rule(applies)
    state = _state(study)
    problem: str | None = None
    status = 200
    # Enter in an input submits the form with its first button, "save" (see edit.html).
    action = request.form.get("action", "save")
    if request.method == "POST":
        if state["round_open"]:
            problem, status = _locked(), 409
        elif not form.validate():
            status = 422
        elif action == "add":
            _add_criterion(form, scale)
        elif action.startswith("remove-"):
            _remove_criterion(form, action.removeprefix("remove-"))
        elif action in ("save", "clear", "none") and (action != "none" or target.part):
            outcome = _save(study, target, form, state, action=action)
            if isinstance(outcome, str):
                problem, status = outcome, 409
            elif outcome is None:
                status = 422
            else:
                return outcome
        else:
            abort(400)
    return render_template(
        "facilitate/rules/edit.html",
        study=study,
        language=str(get_locale()),
        target=target,
        heading=_target_name(
            target,
            part_name(item, target.part, str(get_locale()), definition.default_language)
            if item is not None and target.part
            else None,
        ),
        form=form,
        scale=scale,
        item=item,
        item_rule=item_rule(definition, item) if item is not None else None,
        decided=_decided(target, definition),
        stored=rule_words(written_rule, scale) if written_rule is not None else None,
        no_rule=stored == NO_RULE,
        started_from=(
            rule_words(applies, scale) if written_rule is None and applies is not None else None
        ),
        part=part_name(item, target.part, str(get_locale()), definition.default_language)
        if item is not None and target.part
        else None,
        written=_written(form, scale) if request.method == "POST" else None,
        problem=problem,
        has_errors=bool(problem) or _has_errors(form),
        criterion_names=CRITERION_NAMES,
        explanations=CRITERION_EXPLANATIONS,
        parameters=CRITERIA,
        parameter_label=parameter_label,
        parameter_help=parameter_help,
        kind_names=KIND_NAMES,
        falls_back_to=_falls_back_to(target, definition, item),
        **state,
    ), status


def _decided(target: RuleTarget, definition: StudyDefinition) -> list[ItemRule]:
    """The items a study's or a kind's rule decides now (those without a rule of their
    own, and for the default those whose kind has none), with their warnings."""
    if target.level == "item":
        return []

    def decides(item: ItemDefinition) -> bool:
        level = effective_rule(definition.consensus, item).level
        if target.level == "study":
            return level == "study"
        return item.kind == target.kind and level != "item"

    return [item_rule(definition, item) for item in definition.items if decides(item)]


def _has_errors(form: RuleForm) -> bool:
    """Whether any input of the form, or the form's list of criteria, has a problem."""
    if any(form[name].errors for name in ("combine", "new_kind", "reason", "csrf_token")):
        return True
    if any(isinstance(error, str) for error in form.criteria.errors):
        return True
    return any(field.errors for entry in form.criteria for field in entry.form)


def _applying(
    target: RuleTarget, definition: StudyDefinition, item: ItemDefinition | None
) -> ConsensusRule | None:
    """The rule that decides at ``target`` while it has none of its own (for a part:
    its item's)."""
    if item is not None:
        return effective_rule(definition.consensus, item).rule
    if target.level == "kind" and kind_has_default(target.kind or ""):
        return definition.consensus.default
    return None


def _falls_back_to(
    target: RuleTarget, definition: StudyDefinition, item: ItemDefinition | None
) -> str | None:
    """What removing the rule at ``target`` leaves in force, in words (``None`` for the
    study's default, which cannot be removed)."""
    if target.level == "part":
        return gettext("the item's rule")
    if target.level == "item" and item is not None:
        if item.kind in dict(definition.consensus.by_kind):
            return level_words("kind", item.kind)
        return level_words("study") if kind_has_default(item.kind) else level_words("none")
    if target.level == "kind":
        return level_words("study") if kind_has_default(target.kind or "") else level_words("none")
    return None


def _written(form: RuleForm, scale: ScaleContext) -> RuleWords | None:
    """The rule as it stands in the posted form, in words, when it is a valid rule."""
    criteria, problems = read_criteria(form)
    if problems:
        return None
    try:
        return rule_words(build_rule(form.combine.data or "all", criteria), scale)
    except InvalidValues:
        return None


def _add_criterion(form: RuleForm, scale: ScaleContext) -> None:
    """Append a criterion of the chosen kind, starting from the published cut-offs."""
    kind = form.new_kind.data or ""
    if kind not in CRITERIA:
        form.new_kind.errors = [gettext("Choose a criterion from the list.")]
        return
    if len(form.criteria.entries) >= (form.criteria.max_entries or 0):
        form.criteria.errors = [
            gettext("A rule combines at most %(n)s criteria.", n=CRITERIA_LIMIT)
        ]
        return
    form.criteria.append_entry(criterion_data(kind, default_parameters(kind, scale)))


def _remove_criterion(form: RuleForm, index: str) -> None:
    """Remove the criterion at ``index`` (as the button names it)."""
    if not index.isdigit() or int(index) >= len(form.criteria.entries):
        abort(400)
    entries = form.criteria.entries
    del entries[int(index)]
    # Renumber, so that the inputs' names and ids follow their places again.
    kept = [entry.form.data for entry in entries]
    form.criteria.entries = []
    form.criteria.last_index = -1
    for data in kept:
        form.criteria.append_entry(data)


def _locked() -> str:
    """Why no rule can change now."""
    return gettext(
        "A round is open: consensus rules cannot change until it closes, so that no rule "
        "is chosen after seeing the round's answers."
    )


def _save(
    study: Study, target: RuleTarget, form: RuleForm, state: dict[str, Any], *, action: str
) -> Any:
    """Save the rule ("save"), remove it ("clear") or give a part none ("none"): a
    redirect when done, ``None`` when the form has problems (marked on it), or the
    refusal's message."""
    clear = action != "save"
    reason = (form.reason.data or "").strip()
    if state["stamped"] and not reason:
        form.reason.errors = [
            gettext(
                "Say why the rule changes: the protocol is stamped, and the reason is shown "
                "with the amendment in the report."
            )
        ]
    rule: PartSetting = NO_RULE if action == "none" else None
    if not clear:
        criteria, problems = read_criteria(form)
        mark_problems(form, problems)
        if problems or form.reason.errors:
            return None
        try:
            rule = build_rule(form.combine.data or "all", criteria)
        except InvalidValues as invalid:
            mark_problems(form, invalid.errors)
            return None
    elif form.reason.errors:
        return None
    try:
        changed = set_rule(
            db.session, study, target, rule, reason=reason or None, actor=console_user()
        )
    except InvalidValues as invalid:
        mark_problems(form, invalid.errors)
        return None
    except Conflict as error:
        return str(error)
    if not changed:
        flash(gettext("Nothing changed."))
    elif state["stamped"]:
        flash(gettext("The rule is changed, recorded as an amendment with your reason."))
    else:
        flash(gettext("The rule is saved."))
    if target.level == "part":
        back = url_for("facilitate.edit_item_rule", slug=study.slug, key=target.item)
        return redirect(f"{back}#part-{target.part}", 303)
    anchor = f"item-{target.item}" if target.level == "item" else None
    return redirect(url_for("facilitate.rules", slug=study.slug, _anchor=anchor), 303)


@blueprint.route("/studies/<slug>/rules/default", methods=["GET", "POST"])
@login_required
def edit_default_rule(slug: str) -> Any:
    """Change the study's default consensus rule."""
    study = study_for(slug, change=True)
    return _editor(study, RuleTarget.study(), scale=scale_of(None))


@blueprint.route("/studies/<slug>/rules/kinds/<kind>", methods=["GET", "POST"])
@login_required
def edit_kind_rule(slug: str, kind: str) -> Any:
    """Write, change or remove the rule for every item of one kind."""
    study = study_for(slug, change=True)
    if kind not in RULED_KINDS:
        abort(404)
    return _editor(study, RuleTarget.of_kind(kind), scale=scale_of(None, kind=kind))


@blueprint.route("/studies/<slug>/rules/items/<key>", methods=["GET", "POST"])
@login_required
def edit_item_rule(slug: str, key: str) -> Any:
    """Write, change or remove one item's own rule."""
    study = study_for(slug, change=True)
    stored = next((item for item in study.items if item.key == key), None)
    if stored is None:
        abort(404)
    definition = item_from_json(stored.key, stored.kind, stored.spec)
    if stored.kind not in RULED_KINDS:
        # An open question has no numbers to agree on: say so, on its page.
        return render_template(
            "facilitate/rules/no_rule.html",
            study=study,
            item=definition,
            language=str(get_locale()),
        ), (409 if request.method == "POST" else 200)
    scale = scale_of(
        definition,
        language=str(get_locale()),
        fallback=study.languages["codes"][0],
    )
    return _editor(study, RuleTarget.of_item(key), scale=scale, item=definition)


@blueprint.route("/studies/<slug>/rules/items/<key>/parts/<part>", methods=["GET", "POST"])
@login_required
def edit_part_rule(slug: str, key: str, part: str) -> Any:
    """Write, change or remove the rule of one part of an item's answer, or give the
    part no rule."""
    study = study_for(slug, change=True)
    stored = next((item for item in study.items if item.key == key), None)
    if stored is None or stored.kind not in MULTI_PART_KINDS:
        abort(404)
    definition = item_from_json(stored.key, stored.kind, stored.spec)
    if part not in definition.components:
        abort(404)
    scale = scale_of(
        definition,
        part=part,
        language=str(get_locale()),
        fallback=study.languages["codes"][0],
    )
    return _editor(study, RuleTarget.of_part(key, part), scale=scale, item=definition)


@blueprint.context_processor
def rule_summaries() -> dict[str, Any]:
    """For the include ``facilitate/builder/_item_rule.html`` on the builder's and the
    items page: ``item_rule_summary(study, definition)`` and ``rules_can_change(study)``."""
    return {
        "item_rule_summary": _item_rule_summary,
        "rules_can_change": _rules_can_change,
        "consensus_summary": _consensus_summary,
    }


@dataclass(frozen=True)
class ConsensusSummary:
    """A study's rules in brief, for its settings page."""

    default: RuleWords
    #: How many kinds, and how many items, have a rule of their own.
    kinds: int
    items: int
    #: How many items' rules have a warning.
    warnings: int


def _consensus_summary(study: Study) -> ConsensusSummary:
    """The study's default rule in words and how many rules and warnings it has."""
    definition = study_definition(study)
    return ConsensusSummary(
        default=rule_words(definition.consensus.default, scale_of(None)),
        kinds=len(definition.consensus.by_kind),
        items=sum(1 for item in definition.items if item.consensus is not None),
        warnings=len({warning.item for warning in rule_warnings(definition)}),
    )


def _item_rule_summary(study: Study, definition: ItemDefinition) -> ItemRule:
    """``definition``'s effective rule in ``study``; the study's definition is read once
    per request, however many items a page shows."""
    cache = g.setdefault("study_definitions", {})
    if study.id not in cache:
        cache[study.id] = study_definition(study)
    return item_rule(cache[study.id], definition)


def _rules_can_change(study: Study) -> bool:
    """Whether the user may change the study's rules now (a facilitator, no round open)."""
    return console_user().role == Role.FACILITATOR and open_round_of(db.session, study) is None
