"""Console pages that shape a study: create it from a definition file or the demo,
change its settings, and curate its items between rounds.

Each view: load (404 if missing or not a member) → authorise → validate the form →
one call into ``surveys`` → flash and redirect, or render the form again with every
problem shown and nothing typed lost.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import login_required

from elicit.extensions import db
from elicit.facilitate.access import console_user, study_for
from elicit.facilitate.design_forms import (
    DemoStudyForm,
    ItemForm,
    NewStudyForm,
    RetireForm,
    SettingsForm,
)
from elicit.facilitate.views import blueprint
from surveys.curation import (
    add_item,
    find_item,
    item_history,
    latest_states,
    open_text_answers,
    retire_item,
    reword_item,
)
from surveys.definition import DefinitionError, InvalidDefinition, parse_definition
from surveys.demo import DEMO_DEFINITION, demo_source
from surveys.errors import Conflict, InvalidValues, NotFound
from surveys.models import Role, Study
from surveys.protocol import protocol_stamp
from surveys.rounds import open_round_of
from surveys.serialization import item_from_json, item_to_toml, toml_string
from surveys.settings import SETTINGS, update_settings
from surveys.studies import find_study, load_study
from surveys.toml_lines import LineIndex


def _facilitators_only() -> None:
    """Refuse researchers: they read and export but create nothing."""
    if console_user().role != Role.FACILITATOR:
        abort(403, gettext("Researchers can read and export a study but not change it."))


def _source_listing(source: str, errors: list[DefinitionError]) -> dict[str, Any]:
    """The source's lines and, by line number, the errors that concern each line."""
    lines = source.splitlines() or [""]
    by_line: dict[int, list[DefinitionError]] = {}
    for error in errors:
        by_line.setdefault(min(max(error.line, 1), len(lines)), []).append(error)
    return {"lines": lines, "errors": by_line, "count": len(errors)}


# -- creating a study ------------------------------------------------------------------


def _render_new(form: NewStudyForm, listing: dict[str, Any] | None = None, status: int = 200):
    """The creation page (a starting point for the builder, or a definition file to
    import), with the file's problems listed beside its lines."""
    from elicit.facilitate.builder import StartStudyForm, render_start  # the builder needs us

    return render_start(StartStudyForm(formdata=None, prefix="new"), form, listing, status)


@blueprint.route("/studies/new", methods=["GET", "POST"])
@login_required
def new_study() -> Any:
    """Create a study from an uploaded or pasted definition file."""
    _facilitators_only()
    form = NewStudyForm()
    if not form.validate_on_submit():
        return _render_new(form, status=422 if request.method == "POST" else 200)
    name = "definition"
    upload = form.definition.data
    if upload is not None and getattr(upload, "filename", ""):
        name = upload.filename
        try:
            form.source.data = upload.read().decode("utf-8-sig")
        except UnicodeDecodeError:
            form.definition.errors = [gettext("The file is not UTF-8 text.")]
            return _render_new(form, status=422)
    source = (form.source.data or "").replace("\r\n", "\n")
    form.source.data = source
    if not source.strip():
        form.source.errors = [gettext("Choose a definition file or paste its text.")]
        return _render_new(form, status=422)
    try:
        definition = parse_definition(source, name=name)
    except InvalidDefinition as invalid:
        return _render_new(form, _source_listing(source, invalid.errors), 422)
    try:
        study = load_study(
            db.session, definition, source, actor=console_user(), anonymity=form.anonymity.data
        )
    except Conflict:
        line = LineIndex(source).line_of(("study", "slug"))
        taken = DefinitionError(
            name,
            line,
            "study.slug",
            gettext(
                "A study with the slug %(slug)s exists already; choose another slug.",
                slug=definition.slug,
            ),
        )
        return _render_new(form, _source_listing(source, [taken]), 409)
    flash(gettext("The study %(slug)s is loaded. You are a member of it.", slug=study.slug))
    return redirect(url_for("facilitate.study", slug=study.slug)), 303


@blueprint.route("/studies/new/demo", methods=["POST"])
@login_required
def create_demo() -> Any:
    """Create the demo study, unless a study with its slug exists already."""
    _facilitators_only()
    form = DemoStudyForm(prefix="demo")
    if not form.validate_on_submit():
        abort(400)
    source = demo_source()
    definition = parse_definition(source, name=DEMO_DEFINITION)
    if find_study(db.session, definition.slug) is not None:
        flash(
            gettext(
                "The demo study (%(slug)s) exists already; ask one of its facilitators "
                "for access, or load a copy with another slug.",
                slug=definition.slug,
            )
        )
        return redirect(url_for("facilitate.new_study")), 303
    try:
        study = load_study(
            db.session, definition, source, actor=console_user(), anonymity=form.anonymity.data
        )
    except Conflict:  # created by someone else at the same moment
        flash(gettext("The demo study (%(slug)s) exists already.", slug=definition.slug))
        return redirect(url_for("facilitate.new_study")), 303
    flash(gettext("The demo study is loaded. You are a member of it."))
    return redirect(url_for("facilitate.study", slug=study.slug)), 303


# -- settings --------------------------------------------------------------------------


def _settings_of(study: Study) -> dict[str, Any]:
    """The study's settings as the form shows them."""
    return {
        "quantile_method": study.quantile_method,
        "feedback_min_n": study.feedback_min_n,
        "rationale_outside_iqr": study.rationale_outside_iqr,
        "max_rounds": study.max_rounds,
        "cannot_judge": study.cannot_judge,
        "anonymity": study.anonymity,
        "consensus_items": study.consensus_items,
    }


@blueprint.route("/studies/<slug>/settings", methods=["GET", "POST"])
@login_required
def study_settings(slug: str) -> Any:
    """Change the study's settings; rules and what experts see wait for the open round
    to close, and once the protocol is stamped every change needs a reason."""
    current = study_for(slug, change=True)
    form = SettingsForm(data=_settings_of(current) if request.method == "GET" else None)
    round_open = open_round_of(db.session, current) is not None
    stamp = protocol_stamp(db.session, current)
    status = 200
    if form.validate_on_submit():
        # The consensus rules are changed in the rule editor, not on this form.
        changes = {name: form[name].data for name in SETTINGS if name in form}
        reason = (form.reason.data or "").replace("\r\n", "\n")
        try:
            changed = update_settings(db.session, current, changes, console_user(), reason=reason)
        except InvalidValues as invalid:
            for name, messages in invalid.errors.items():
                form[name].errors = list(messages)
            status = 422
        else:
            if changed:
                flash(gettext("The settings are saved."))
            else:
                flash(gettext("Nothing changed."))
            return redirect(url_for("facilitate.study", slug=slug)), 303
    elif request.method == "POST":
        status = 422
    return render_template(
        "facilitate/settings.html", study=current, form=form, round_open=round_open, stamp=stamp
    ), status


# -- items -----------------------------------------------------------------------------


def _texts(definition: Any) -> list[tuple[str, str]]:
    """Every text of an item definition, labelled, in every language."""
    texts = [(gettext("Text"), definition.text), (gettext("Help"), definition.help)]
    texts += [(choice.key, choice.text) for choice in definition.scenarios]
    texts += [(choice.key, choice.text) for choice in definition.options]
    return [(label, text) for label, text in texts if text is not None]


def _render_items(study: Study, retire_errors: dict[str, list[str]] | None = None, status=200):
    """The items page: each item's state and history, with the forms that change it."""
    history = item_history(db.session, study)
    latest_round, states = latest_states(db.session, study)
    return render_template(
        "facilitate/items.html",
        study=study,
        history=history,
        latest_round=latest_round,
        states=states,
        texts=_texts,
        item_toml=item_to_toml,
        round_open=open_round_of(db.session, study) is not None,
        can_change=console_user().role == Role.FACILITATOR,
        retire_form=RetireForm(),
        retire_errors=retire_errors or {},
    ), status


@blueprint.route("/studies/<slug>/items")
@login_required
def items(slug: str) -> Any:
    """Every item with its kind, version, state and wording history."""
    return _render_items(study_for(slug))


def _item_skeleton(study: Study) -> str:
    """A starting point for a new item: its fields, with texts to fill in."""
    lines = ["[[items]]", 'key = "new_item"', 'kind = "probability"']
    lines += [f"text.{language} = {toml_string('')}" for language in study.languages["codes"]]
    return "\n".join(lines) + "\n"


def _render_item_form(
    template: str,
    study: Study,
    form: ItemForm,
    *,
    listing: dict[str, Any] | None = None,
    problem: str | None = None,
    status: int = 200,
    **context: Any,
):
    """The add or reword page, with the item's problems listed beside its lines."""
    return render_template(
        template,
        study=study,
        form=form,
        listing=listing,
        problem=problem,
        round_open=open_round_of(db.session, study) is not None,
        **context,
    ), status


@blueprint.route("/studies/<slug>/items/add", methods=["GET", "POST"])
@login_required
def add_new_item(slug: str) -> Any:
    """Add an item, with the last closed round's open-text answers beside the form."""
    current = study_for(slug, change=True)
    form = ItemForm(data={"item": _item_skeleton(current)} if request.method == "GET" else None)
    context = {"answers": open_text_answers(db.session, current), "texts": _texts}
    if not form.validate_on_submit():
        status = 422 if request.method == "POST" else 200
        return _render_item_form(
            "facilitate/add_item.html", current, form, status=status, **context
        )
    source = (form.item.data or "").replace("\r\n", "\n")
    form.item.data = source
    try:
        item = add_item(db.session, current, source, console_user(), form.note.data or None)
    except InvalidDefinition as invalid:
        listing = _source_listing(source, invalid.errors)
        return _render_item_form(
            "facilitate/add_item.html", current, form, listing=listing, status=422, **context
        )
    except InvalidValues as invalid:  # the protocol is stamped: the note is the reason
        form.note.errors = list(invalid.errors.get("note", []))
        return _render_item_form("facilitate/add_item.html", current, form, status=422, **context)
    except Conflict as error:
        return _render_item_form(
            "facilitate/add_item.html", current, form, problem=str(error), status=409, **context
        )
    flash(gettext("The item %(key)s is added.", key=item.key))
    return redirect(url_for("facilitate.items", slug=slug)), 303


@blueprint.route("/studies/<slug>/items/<key>/reword", methods=["GET", "POST"])
@login_required
def reword(slug: str, key: str) -> Any:
    """Reword an item: a new version; answers keep the version they answered."""
    current = study_for(slug, change=True)
    try:
        stored = find_item(current, key)
    except NotFound:
        abort(404)
    definition = item_from_json(stored.key, stored.kind, stored.spec)
    form = ItemForm(data={"item": item_to_toml(definition)} if request.method == "GET" else None)
    context = {"item": stored}
    if not form.validate_on_submit():
        status = 422 if request.method == "POST" else 200
        return _render_item_form("facilitate/reword.html", current, form, status=status, **context)
    source = (form.item.data or "").replace("\r\n", "\n")
    form.item.data = source
    try:
        item = reword_item(db.session, current, key, source, console_user(), form.note.data or None)
    except InvalidDefinition as invalid:
        listing = _source_listing(source, invalid.errors)
        return _render_item_form(
            "facilitate/reword.html", current, form, listing=listing, status=422, **context
        )
    except InvalidValues as invalid:  # the protocol is stamped: the note is the reason
        form.note.errors = list(invalid.errors.get("note", []))
        return _render_item_form("facilitate/reword.html", current, form, status=422, **context)
    except Conflict as error:
        return _render_item_form(
            "facilitate/reword.html", current, form, problem=str(error), status=409, **context
        )
    flash(gettext("The item %(key)s is now at version %(version)s.", key=key, version=item.version))
    return redirect(url_for("facilitate.items", slug=slug)), 303


@blueprint.route("/studies/<slug>/items/<key>/retire", methods=["POST"])
@login_required
def retire(slug: str, key: str) -> Any:
    """Retire an item, with the reason: it leaves the next round, stays in the history."""
    current = study_for(slug, change=True)
    form = RetireForm()
    if not form.validate_on_submit():
        return _render_items(current, {key: list(form.reason.errors)}, 422)
    try:
        retire_item(db.session, current, key, form.reason.data or "", console_user())
    except NotFound:
        abort(404)
    except Conflict as error:
        flash(gettext("The item could not be retired: %(reason)s", reason=str(error)))
        return redirect(url_for("facilitate.items", slug=slug)), 303
    flash(gettext("The item %(key)s is retired.", key=key))
    return redirect(url_for("facilitate.items", slug=slug)), 303
