"""Console pages that shape a study: create it from a definition file or the demo,
change its settings, and curate its items between rounds.

Each view: load (404 if missing or not a member) → authorise → validate the form →
one call into ``surveys`` → flash and redirect, or render the form again with every
problem shown and nothing typed lost.
"""

from __future__ import annotations

import json
import re
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale, gettext, lazy_gettext, ngettext
from flask_login import login_required
from werkzeug.datastructures import MultiDict
from wtforms import StringField
from wtforms.validators import Length, Optional

from elicit.extensions import db
from elicit.facilitate.access import console_user, study_for
from elicit.facilitate.design_forms import (
    DemoStudyForm,
    ItemForm,
    NewStudyForm,
    RetireForm,
    SettingsForm,
)
from elicit.facilitate.item_forms import (
    CHOICE_LIMITS,
    KIND_NAMES,
    check_bounds,
    cross_impact_choices,
    form_definition,
    item_form,
    item_form_data,
    item_shape,
    new_item_data,
    place_errors,
    posted_shape,
    text_fields,
)
from elicit.facilitate.views import blueprint
from elicit.forms import SafeForm
from surveys.curation import (
    TAG_LIMIT,
    AnswerSheet,
    ListedAnswer,
    Placement,
    RewordedMeanwhile,
    add_item,
    answer_sheet,
    find_item,
    item_history,
    latest_states,
    retire_item,
    reword_item,
    tag_answers,
)
from surveys.definition import (
    DefinitionError,
    InvalidDefinition,
    ItemDefinition,
    LocalizedText,
    parse_definition,
)
from surveys.demo import DEMO_DEFINITION, demo_source
from surveys.errors import Conflict, InvalidValues, NotFound
from surveys.models import Item, Role, Study
from surveys.protocol import is_stamped, protocol_stamp
from surveys.rounds import open_round_of
from surveys.serialization import item_from_json, item_to_toml, sections_from_json
from surveys.settings import SETTINGS, update_settings
from surveys.studies import all_items, find_study, load_study
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
        "carry_over": study.carry_over,
        "show_outcome": study.show_outcome,
        "show_own_score": study.show_own_score,
    }


def _shown_settings(posted: str | None) -> dict[str, Any] | None:
    """The settings the page showed (its hidden ``shown``), if it sent them intact."""
    try:
        shown = json.loads(posted or "")
    except (ValueError, RecursionError):
        return None
    return shown if isinstance(shown, dict) else None


def _setting_words(field: Any, value: Any) -> str:
    """A setting's value as its field offers it (a choice's label, on or off)."""
    if isinstance(value, bool):
        return gettext("on") if value else gettext("off")
    labels = {str(choice): str(label) for choice, label in getattr(field, "choices", None) or ()}
    return labels.get(str(value), str(value))


def _clashes(
    form: SettingsForm, changes: dict[str, Any], shown: dict[str, Any], stored: dict[str, Any]
) -> bool:
    """Mark each setting the facilitator changed that was also changed since their page
    was drawn (a colleague, the API) to another value; whether there was any."""
    clashed = False
    for name, value in changes.items():
        if name in stored and stored[name] != shown.get(name) and stored[name] != value:
            form[name].errors = [
                *form[name].errors,
                gettext(
                    "Changed meanwhile (by a colleague, or through the API) to %(now)s; your "
                    "page showed %(shown)s. Nothing was saved: choose again, and save.",
                    now=_setting_words(form[name], stored[name]),
                    shown=_setting_words(form[name], shown.get(name)),
                ),
            ]
            clashed = True
    return clashed


@blueprint.route("/studies/<slug>/settings", methods=["GET", "POST"])
@login_required
def study_settings(slug: str) -> Any:
    """Change the study's settings; rules and what experts see wait for the open round
    to close, and once the protocol is stamped every change needs a reason.

    The page carries the settings it showed (``shown``): only those the facilitator
    changed are saved, so a colleague's change made meanwhile to another setting
    stands, and one made to the same setting is not overwritten unseen (409, with both
    values).  A post without ``shown`` (a script) sets every setting it holds."""
    current = study_for(slug, change=True)
    stored = _settings_of(current)
    form = SettingsForm(data=stored if request.method == "GET" else None)
    round_open = open_round_of(db.session, current) is not None
    stamp = protocol_stamp(db.session, current)
    status = 200
    shown = _shown_settings(request.form.get("shown")) if request.method == "POST" else None
    baseline = shown if shown is not None else stored
    if form.validate_on_submit():
        # The consensus rules are changed in the rule editor, not on this form.
        posted = {name: form[name].data for name in SETTINGS if name in form}
        changes = (
            posted
            if shown is None
            else {name: value for name, value in posted.items() if value != shown.get(name)}
        )
        reason = (form.reason.data or "").replace("\r\n", "\n")
        if shown is not None and _clashes(form, changes, shown, stored):
            # Shown again with the settings as they are now as what the page showed.
            status, baseline = 409, stored
        else:
            try:
                changed = update_settings(
                    db.session, current, changes, console_user(), reason=reason
                )
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
        "facilitate/settings.html",
        study=current,
        form=form,
        round_open=round_open,
        stamp=stamp,
        shown=json.dumps(baseline),
    ), status


# -- items -----------------------------------------------------------------------------
#
# The pages that change items between rounds use the builder's item forms
# (``elicit.facilitate.item_forms``) and its field template, so an item's fields are
# written once.  ``elicit.facilitate.builder`` imports this module, hence the imports
# of it inside the functions below.

#: The kind a new item's form starts with.
DEFAULT_KIND = "probability"
#: The item form's fields that hold texts: all a rewording may change.
TEXT_FIELD = re.compile(r"(text|help|unit)_[a-z]{2}|label_-?\d+_[a-z]{2}|choice_\d+_text_[a-z]{2}")


def _texts(definition: ItemDefinition) -> list[tuple[str, LocalizedText]]:
    """Every text of an item definition, labelled, in every language: all that a
    rewording can change, so that the history shows each version's."""
    texts = [(gettext("Text"), definition.text), (gettext("Help"), definition.help)]
    scale = definition.scale
    if scale is not None and scale.labels:
        points = range(scale.minimum, scale.maximum + 1)
        joined = tuple(
            (
                code,
                " · ".join(
                    f"{value} {label}" for value, label in zip(points, labels, strict=False)
                ),
            )
            for code, labels in scale.labels
        )
        texts.append((gettext("Labels"), LocalizedText(joined)))
    texts += [(choice.key, choice.text) for choice in definition.scenarios]
    texts += [(choice.key, choice.text) for choice in definition.options]
    texts.append((gettext("Unit"), definition.unit))
    return [(label, text) for label, text in texts if text is not None]


def _render_items(study: Study, posted: dict[str, RetireForm] | None = None, status=200):
    """The items page: each item's state, its consensus in the latest closed round and
    its history, with the forms that change it (a retire form that was posted comes
    back with its problems and what was typed)."""
    history = item_history(db.session, study)
    latest_round, states = latest_states(db.session, study)
    forms = {entry.key: RetireForm(formdata=None) for entry in history if not entry.retired}
    forms.update(posted or {})
    # Items whose every part reached consensus, still asked: the ones to consider retiring.
    at_consensus = [
        entry.key for entry in history if not entry.retired and states.get(entry.key) == "consensus"
    ]
    return render_template(
        "facilitate/items.html",
        study=study,
        history=history,
        latest_round=latest_round,
        states={key: value.split(", ") for key, value in states.items()},
        at_consensus=at_consensus,
        texts=_texts,
        round_open=open_round_of(db.session, study) is not None,
        can_change=console_user().role == Role.FACILITATOR,
        retire_forms=forms,
        retire_errors={key: form.reason.errors for key, form in forms.items() if form.errors},
    ), status


@blueprint.route("/studies/<slug>/items")
@login_required
def items(slug: str) -> Any:
    """Every item with its kind, version, state, consensus and wording history."""
    return _render_items(study_for(slug))


def _stored_or_404(study: Study, key: str) -> Item:
    """The study's item ``key``, or 404."""
    try:
        return find_item(study, key)
    except NotFound:
        abort(404)


def _short(text: Any, study: Study) -> str:
    """A text in the interface's language (else the study's first), cut to 60 characters."""
    value = text.get(str(get_locale()), study.languages["codes"][0]) if text else ""
    return value if len(value) <= 60 else value[:59] + "…"


def _place_choices(study: Study) -> dict[str, list[tuple[str, str]]]:
    """Where a new item can go, as option groups: its section's end or start, or just
    before or after an active item (grouped by section, in the experts' order)."""
    titles = {
        section.key: _short(section.title, study) for section in sections_from_json(study.sections)
    }
    choices: dict[str, list[tuple[str, str]]] = {
        gettext("In the section chosen above"): [
            (Placement().choice, gettext("At the end of its section")),
            (Placement("start").choice, gettext("At the start of its section")),
        ]
    }
    for item in sorted(study.items, key=lambda each: each.position):
        if item.retired_at is not None:
            continue
        section = item.spec.get("section")
        group = (
            gettext("Section: %(title)s", title=titles.get(section, section))
            if section
            else gettext("Items without a section")
        )
        text = _short(item_from_json(item.key, item.kind, item.spec).text, study)
        if group not in choices:
            before = gettext("Before %(key)s (%(text)s)", key=item.key, text=text)
            choices[group] = [(Placement("before", item.key).choice, before)]
        after = gettext("After %(key)s (%(text)s)", key=item.key, text=text)
        choices[group].append((Placement("after", item.key).choice, after))
    return choices


def _side_form(study: Study, **data: Any) -> ItemForm:
    """The fields beside an item's own: its kind, its place, the note (the reason once
    the protocol is stamped) and the TOML alternative; posted ones are read back."""
    form = ItemForm(data=data) if request.method == "GET" else ItemForm()
    form.kind.choices = list(KIND_NAMES.items())
    form.place.choices = _place_choices(study)
    if is_stamped(db.session, study):
        form.note.label.text = gettext("Reason for the change (required)")
        form.note.description = gettext(
            "Round 1 has opened, so the protocol is stamped: this change is an amendment, "
            "and its reason is shown with it on the study page and in the report."
        )
    return form


def _tag_name(answer: ListedAnswer) -> str:
    """The form field of an answer's tag: named by the answer's hash, not its author."""
    return f"tag-{answer.item}-{answer.reference}"


def _tag_form(sheet: AnswerSheet, *, posted: bool) -> SafeForm:
    """A tag field per listed answer, with the stored tags or (``posted``) as posted."""
    answers = [answer for entry in sheet.items for answer in entry.answers]
    fields = {
        _tag_name(answer): StringField(
            lazy_gettext("Group of answer %(number)s", number=number),
            validators=[Optional(), Length(max=TAG_LIMIT)],
        )
        for number, answer in enumerate(answers, start=1)
    }
    form_class = type("AnswerTagsForm", (SafeForm,), fields)
    if posted:
        return form_class()
    return form_class(formdata=None, data={_tag_name(a): a.tag or "" for a in answers})


def _save_tags(study: Study, sheet: AnswerSheet, form: SafeForm) -> bool:
    """Store the posted tags; ``False``, with the problems on their fields, if some
    cannot be stored (then none is)."""
    if not form.validate():
        return False
    # Only the tags posted: a request without them (a script's) clears none.
    wanted = {
        (answer.item, answer.reference): form[_tag_name(answer)].data or ""
        for entry in sheet.items
        for answer in entry.answers
        if _tag_name(answer) in request.form
    }
    try:
        tag_answers(db.session, study, wanted, console_user())
    except InvalidValues as invalid:
        for name, messages in invalid.errors.items():
            field = "tag-" + name.replace(":", "-", 1)
            if field in form:
                form[field].errors = [*form[field].errors, *messages]
        return False
    return True


def _item_page(
    template: str,
    study: Study,
    form: Any,
    side: ItemForm,
    *,
    problems: list[str] | None = None,
    listing: dict[str, Any] | None = None,
    status: int = 200,
    **context: Any,
):
    """The add or reword page: the item's fields as the builder shows them, the side
    fields, and every problem named by its field (a TOML text's beside its lines)."""
    from elicit.facilitate.builder import missing_words

    cross_impact_choices(
        form,
        [stored.definition for stored in all_items(study)],
        str(get_locale()),
        study.languages["codes"][0],
    )
    return render_template(
        template,
        study=study,
        form=form,
        side=side,
        kind=form.kind,
        kind_name=KIND_NAMES[form.kind],
        languages=tuple(study.languages["codes"]),
        missing_words=missing_words,
        text_fields=text_fields,
        choice_limit=CHOICE_LIMITS.get(form.kind),
        problems=problems or [],
        listing=listing,
        round_open=open_round_of(db.session, study) is not None,
        **context,
    ), status


def _new_item_form(study: Study, kind: str, *, formdata: Any = None, data: Any = None) -> Any:
    """The item form of a new item of ``kind``: as posted (``formdata``), else ``data``."""
    from elicit.facilitate.builder import scenario_set_choices, section_choices

    languages = study.languages["codes"]
    if formdata is not None:
        shape = posted_shape(kind, formdata)
    else:
        shape = {"choices": 2 if kind in CHOICE_LIMITS else 0}
    return item_form(
        kind,
        languages,
        sections=section_choices(study),
        scenario_sets=scenario_set_choices(study),
        formdata=formdata,
        data=data,
        **shape,
    )


def _other_kind(study: Study, kind: str) -> Any:
    """A new item's form for ``kind``, keeping the texts, section, key and rationale
    typed for the kind shown before."""
    languages = study.languages["codes"]
    data = new_item_data(kind, languages, request.form.get("section", ""))
    for name in ("key", *(f"{part}_{code}" for part in ("text", "help") for code in languages)):
        data[name] = request.form.get(name, "")
    data["rationale"] = "rationale" in request.form
    return _new_item_form(study, kind, data=data)


def _prefill_from_group(form: Any, side: ItemForm, sheet: AnswerSheet, tag: str) -> bool:
    """Start the item from the group ``tag``: its tag as the question in the study's
    first language (or as the help text, if a question is written already) and a note
    saying where it came from.  ``False`` if no group has that tag."""
    group = next((group for group in sheet.groups if group.tag.casefold() == tag.casefold()), None)
    if group is None:
        return False
    first = form.languages[0]
    target = form[f"text_{first}"] if not (form[f"text_{first}"].data or "").strip() else None
    if target is None and not (form[f"help_{first}"].data or "").strip():
        target = form[f"help_{first}"]
    if target is not None:
        target.data = group.tag
    side.group.data = group.tag
    if not (side.note.data or "").strip():
        side.note.data = ngettext(
            "From the group “%(tag)s” of round %(round)s's open-text answers (%(num)s answer).",
            "From the group “%(tag)s” of round %(round)s's open-text answers (%(num)s answers).",
            sum(answer.count for answer in group.answers),
            tag=group.tag,
            round=sheet.round,
        )
    return True


def _side_errors(side: ItemForm, errors: dict[str, list[str]]) -> dict[str, list[str]]:
    """Put the problems with the note and the place on their fields; return the rest."""
    rest: dict[str, list[str]] = {}
    for name, messages in errors.items():
        if name in ("note", "place"):
            side[name].errors = [*side[name].errors, *messages]
        else:
            rest[name] = messages
    return rest


def _placement(side: ItemForm) -> Placement:
    """The place chosen; :class:`InvalidValues` under ``place`` for a forged one."""
    return Placement.from_choice(side.place.data or "")


@blueprint.route("/studies/<slug>/items/add", methods=["GET", "POST"])
@login_required
def add_new_item(slug: str) -> Any:
    """Add an item beside the last closed round's open-text answers, which can be
    tagged into groups, one group giving the new item its start; the item goes where
    the facilitator chooses.  Every button keeps everything typed on the page."""
    from elicit.facilitate.builder import resized_item_form

    current = study_for(slug, change=True)
    sheet = answer_sheet(db.session, current)
    page = "facilitate/add_item.html"
    if request.method == "GET":
        kind = request.args.get("kind", DEFAULT_KIND)
        kind = kind if kind in KIND_NAMES else DEFAULT_KIND
        form = _new_item_form(current, kind, data=new_item_data(kind, current.languages["codes"]))
        side = _side_form(current, kind=kind, place=Placement().choice)
        tags = _tag_form(sheet, posted=False)
        return _item_page(page, current, form, side, sheet=sheet, tags=tags)
    shown = request.form.get("shown_kind") or DEFAULT_KIND
    if shown not in KIND_NAMES:
        abort(400)
    side = _side_form(current)
    form = _new_item_form(current, shown, formdata=request.form)
    tags = _tag_form(sheet, posted=True)
    # Every button saves the tags, so nothing typed in them is lost.
    if not _save_tags(current, sheet, tags):
        side.validate()  # its own problems are named at the same time
        return _item_page(page, current, form, side, sheet=sheet, tags=tags, status=422)
    sheet = answer_sheet(db.session, current)
    context: dict[str, Any] = {"sheet": sheet, "tags": _tag_form(sheet, posted=False)}
    action = request.form.get("action") or ("toml" if (side.item.data or "").strip() else "save")
    if action == "tags":
        flash(gettext("The groups are saved."))
        return _item_page(page, current, form, side, **context)
    if action.startswith("group:"):
        if not _prefill_from_group(form, side, sheet, action.removeprefix("group:")):
            flash(gettext("No group has this tag any more."))
        return _item_page(page, current, form, side, **context)
    if side.kind.data in KIND_NAMES and side.kind.data != shown:
        flash(gettext("The fields of the kind chosen are shown; nothing is added yet."))
        return _item_page(page, current, _other_kind(current, side.kind.data), side, **context)
    resized = resized_item_form(current, shown, form)
    if resized is not None or action == "kind":
        return _item_page(page, current, resized or form, side, **context)
    if action == "toml":
        return _add_from_toml(current, form, side, context)
    valid = form.validate()
    valid = check_bounds(form) and side.validate() and valid
    if not valid:
        return _item_page(page, current, form, side, status=422, **context)
    try:
        item = add_item(
            db.session,
            current,
            form_definition(form),
            console_user(),
            side.note.data or None,
            place=_placement(side),
        )
    except InvalidValues as invalid:
        problems = place_errors(form, _side_errors(side, invalid.errors))
        return _item_page(page, current, form, side, problems=problems, status=422, **context)
    except Conflict as error:
        return _item_page(page, current, form, side, problems=[str(error)], status=409, **context)
    flash(gettext("The item %(key)s is added.", key=item.key))
    return redirect(url_for("facilitate.items", slug=slug, _anchor=f"item-{item.key}")), 303


def _add_from_toml(study: Study, form: Any, side: ItemForm, context: dict[str, Any]) -> Any:
    """Add the item pasted as TOML (for those who write definition files), with its
    problems beside its lines."""
    page = "facilitate/add_item.html"
    source = (side.item.data or "").replace("\r\n", "\n")
    side.item.data = source
    if not side.validate():
        return _item_page(page, study, form, side, status=422, toml=True, **context)
    try:
        item = add_item(
            db.session,
            study,
            source,
            console_user(),
            side.note.data or None,
            place=_placement(side),
        )
    except InvalidDefinition as invalid:
        listing = _source_listing(source, invalid.errors)
        return _item_page(
            page, study, form, side, listing=listing, status=422, toml=True, **context
        )
    except InvalidValues as invalid:
        rest = _side_errors(side, invalid.errors)
        problems = [f"{name}: {message}" for name, messages in rest.items() for message in messages]
        return _item_page(
            page, study, form, side, problems=problems, status=422, toml=True, **context
        )
    except Conflict as error:
        return _item_page(
            page, study, form, side, problems=[str(error)], status=409, toml=True, **context
        )
    flash(gettext("The item %(key)s is added.", key=item.key))
    return redirect(url_for("facilitate.items", slug=study.slug, _anchor=f"item-{item.key}")), 303


def _reword_formdata(data: dict[str, Any], posted: Any) -> MultiDict:
    """The posted texts, with every other field as the item has it: a rewording
    changes texts only (and disabled fields are not posted)."""
    merged = MultiDict(
        [
            (name, value)
            for name, value in posted.items(multi=True)
            if name == "csrf_token" or TEXT_FIELD.fullmatch(name)
        ]
    )
    for name, value in data.items():
        if TEXT_FIELD.fullmatch(name) or value is None or value is False:
            continue
        merged[name] = "y" if value is True else str(value)
    return merged


@blueprint.route("/studies/<slug>/items/<key>/reword", methods=["GET", "POST"])
@login_required
def reword(slug: str, key: str) -> Any:
    """Reword an item: its texts in the item's own form, the wording now under each;
    a new version, and answers keep the version they answered."""
    from elicit.facilitate.builder import scenario_set_choices, section_choices

    current = study_for(slug, change=True)
    stored = _stored_or_404(current, key)
    existing = item_from_json(stored.key, stored.kind, stored.spec)
    languages = current.languages["codes"]
    data = item_form_data(existing, languages)
    posted = request.method == "POST"
    form = item_form(
        stored.kind,
        languages,
        sections=section_choices(current),
        scenario_sets=scenario_set_choices(current),
        formdata=_reword_formdata(data, request.form) if posted else None,
        data=data,
        **item_shape(existing),
    )
    side = _side_form(current, item=item_to_toml(existing))
    now = {name: value for name, value in data.items() if TEXT_FIELD.fullmatch(name)}
    context: dict[str, Any] = {"item": stored, "current": now}
    page = "facilitate/reword.html"
    if not posted:
        return _item_page(page, current, form, side, **context)
    typed = any(TEXT_FIELD.fullmatch(name) for name in request.form)
    action = request.form.get("action") or ("save" if typed else "toml")
    source = None
    if action == "toml":
        source = (side.item.data or "").replace("\r\n", "\n")
        side.item.data = source
        context["toml"] = True
    valid = side.validate()
    valid = (source is not None or form.validate()) and valid
    if not valid:
        return _item_page(page, current, form, side, status=422, **context)
    note = side.note.data or None
    # The version the page showed: a colleague's rewording saved since is not replaced
    # by one written against the wording before it (RewordedMeanwhile).
    based_on = request.form.get("version", type=int)
    try:
        reworded = source if source is not None else form_definition(form, existing=existing)
        item = reword_item(
            db.session, current, key, reworded, console_user(), note, based_on=based_on
        )
    except InvalidDefinition as invalid:
        listing = _source_listing(source or "", invalid.errors)
        return _item_page(page, current, form, side, listing=listing, status=422, **context)
    except InvalidValues as invalid:
        rest = _side_errors(side, invalid.errors)
        problems = (
            place_errors(form, rest)
            if source is None
            else [f"{name}: {message}" for name, messages in rest.items() for message in messages]
        )
        return _item_page(page, current, form, side, problems=problems, status=422, **context)
    except RewordedMeanwhile as moved:
        problem = gettext(
            "Nothing was saved: %(key)s was reworded meanwhile and is now at version "
            "%(version)s. Its wording now is shown above each field, and what you typed is "
            "kept: save again to make yours version %(next)s.",
            key=key,
            version=moved.version,
            next=moved.version + 1,
        )
        return _item_page(page, current, form, side, problems=[problem], status=409, **context)
    except Conflict as error:
        return _item_page(page, current, form, side, problems=[str(error)], status=409, **context)
    flash(gettext("The item %(key)s is now at version %(version)s.", key=key, version=item.version))
    return redirect(url_for("facilitate.items", slug=slug, _anchor=f"item-{key}")), 303


@blueprint.route("/studies/<slug>/items/<key>/retire", methods=["POST"])
@login_required
def retire(slug: str, key: str) -> Any:
    """Retire an item, with the reason: it leaves the next round, stays in the history."""
    current = study_for(slug, change=True)
    _stored_or_404(current, key)
    form = RetireForm()
    if not form.validate_on_submit():
        return _render_items(current, {key: form}, 422)
    try:
        retire_item(db.session, current, key, form.reason.data or "", console_user())
    except InvalidValues as invalid:  # the stamped protocol's rules for a reason
        form.reason.errors = [*form.reason.errors, *invalid.errors.get("reason", [])]
        return _render_items(current, {key: form}, 422)
    except Conflict as error:
        flash(gettext("The item could not be retired: %(reason)s", reason=str(error)))
        return redirect(url_for("facilitate.items", slug=slug)), 303
    flash(gettext("The item %(key)s is retired.", key=key))
    return redirect(url_for("facilitate.items", slug=slug, _anchor=f"item-{key}")), 303
