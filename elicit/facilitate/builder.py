"""The study builder: create a study and shape it in the browser before round 1 opens.

Every page works without JavaScript; ``static/builder.js`` only moves items and
sections in place and warns before unsaved typing is left behind.  Each view: load
(404 if missing or not a member) → authorise (researchers 403) → validate the form →
one call into :mod:`surveys.builder`, which saves at once → redirect to what was
changed, or the form again with every problem on its field and nothing typed lost.
Once round 1 has opened the builder shows the study read-only and says why.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale, gettext
from flask_login import login_required
from werkzeug.datastructures import MultiDict

from elicit.extensions import db
from elicit.facilitate.access import console_user, study_for
from elicit.facilitate.design import _facilitators_only, _source_listing
from elicit.facilitate.design_forms import NewStudyForm
from elicit.facilitate.item_forms import (
    CHOICE_LIMITS,
    KIND_NAMES,
    ImportForm,
    StartStudyForm,
    check_bounds,
    cross_impact_choices,
    form_definition,
    item_form,
    item_form_data,
    item_shape,
    language_codes,
    language_name,
    new_item_data,
    per_language,
    place_errors,
    posted_shape,
    section_form,
    text_fields,
    texts_form,
)
from elicit.facilitate.views import blueprint
from surveys import builder
from surveys.definition import InvalidDefinition, ItemDefinition
from surveys.definition_writer import definition_to_toml
from surveys.errors import Conflict, InvalidValues, NotFound
from surveys.models import Item, Study
from surveys.serialization import item_from_json, sections_from_json
from surveys.studies import all_items, study_definition
from surveys.templates import TEMPLATES, template_definition, template_source

#: How a move button says its direction, and the offset it asks the domain for.
DIRECTIONS = {"up": -1, "down": 1}


# -- starting a study ----------------------------------------------------------------------


def starting_points() -> dict[str, tuple[str, str]]:
    """Starting point key → (name, what it holds) in the interface's language: the
    shipped templates (a blank study and the demo among them), in the catalogue's order."""
    language = str(get_locale())
    return {
        entry.key: (entry.title.get(language, "en"), entry.description.get(language, "en"))
        for entry in TEMPLATES
    }


def render_start(start_form: StartStudyForm, import_form: Any, listing=None, status: int = 200):
    """The page that creates a study: a starting point, or a definition file to import."""
    points = starting_points()
    start_form.start.choices = [(key, name) for key, (name, _) in points.items()]
    return render_template(
        "facilitate/new_study.html",
        start_form=start_form,
        form=import_form,
        points=points,
        listing=listing,
    ), status


@blueprint.route("/studies/new/start", methods=["POST"])
@login_required
def start_study() -> Any:
    """Create a study from a template (a blank study and the demo among them), and open
    the builder."""
    _facilitators_only()
    form = StartStudyForm(prefix="new")
    form.start.choices = [(key, key) for key in starting_points()]
    if not form.validate_on_submit():
        return render_start(form, NewStudyForm(formdata=None), status=422)
    key = form.start.data or ""
    start, source = template_definition(key), template_source(key)
    try:
        study = builder.create_study(
            db.session,
            slug=(form.slug.data or "").strip(),
            languages=language_codes(form.languages.data),
            anonymity=form.anonymity.data or "",
            start=start,
            title=form.title.data or "",
            source=source,
            actor=console_user(),
        )
    except InvalidValues as invalid:
        for name, messages in invalid.errors.items():
            form[name].errors = [*form[name].errors, *messages]
        return render_start(form, NewStudyForm(formdata=None), status=422)
    flash(gettext("The study is created. Every change you make here is saved at once."))
    return redirect(url_for("facilitate.build", slug=study.slug)), 303


# -- the builder's page ----------------------------------------------------------------------


def _draft_or_refuse(study: Study) -> None:
    """Refuse a change once round 1 has opened: say why on the builder's page."""
    if not builder.is_draft(db.session, study):
        flash(gettext("The study can no longer change here: round 1 has opened."))
        abort(redirect(url_for("facilitate.build", slug=study.slug), 303))


def section_choices(study: Study) -> list[tuple[str, str]]:
    """(key, title in the interface's first study language) of each section."""
    first = study.languages["codes"][0]
    return [
        (section.key, section.title.get(first)) for section in sections_from_json(study.sections)
    ]


def scenario_set_choices(study: Study) -> list[tuple[str, str]]:
    """(key, "question (key)" in the study's first language) of each scenario set: what
    a signpost may be rated against."""
    first = study.languages["codes"][0]
    return [
        (key, f"{item_from_json(key, 'scenario_set', spec).text.get(first)} ({key})")
        for key, spec in (
            (item.key, item.spec) for item in study.items if item.kind == "scenario_set"
        )
    ]


def missing_words(codes: tuple[str, ...] | list[str]) -> str:
    """ "Spanish missing", "French, German missing"."""
    return gettext(
        "%(languages)s missing", languages=", ".join(language_name(code) for code in codes)
    )


def field_words(field: str) -> str:
    """A field of an item as the domain names it, in a facilitator's words."""
    if match := re.fullmatch(r"(scenarios|options|labels)\[(\d+)\](?:\.text)?", field):
        number = int(match.group(2))
        if match.group(1) == "scenarios":
            return gettext("scenario %(number)s", number=number)
        if match.group(1) == "options":
            return gettext("option %(number)s", number=number)
        return gettext("label %(number)s", number=number)
    words = {"text": gettext("question"), "help": gettext("help text"), "unit": gettext("unit")}
    return words.get(field, field)


def _merged_labels(fields: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """``(field, what is missing)`` in words, the labels of a scale missing the same
    languages said once ("labels 1–5")."""
    labels: dict[str, list[int]] = {}
    for field, missing in fields:
        if match := re.fullmatch(r"labels\[(\d+)\]", field):
            labels.setdefault(missing, []).append(int(match.group(1)))
    merged: list[tuple[str, str]] = []
    for field, missing in fields:
        match = re.fullmatch(r"labels\[(\d+)\]", field)
        numbers = labels.get(missing, [])
        if match is None or len(numbers) < 2:
            merged.append((field_words(field), missing))
        elif int(match.group(1)) == numbers[0]:
            contiguous = numbers == list(range(numbers[0], numbers[-1] + 1))
            listed = f"{numbers[0]}–{numbers[-1]}" if contiguous else ", ".join(map(str, numbers))
            merged.append((gettext("labels %(numbers)s", numbers=listed), missing))
    return merged


def _overview_context(study: Study) -> dict[str, Any]:
    """What the builder's page shows: the study's texts, sections and items, and every
    missing translation in words."""
    languages = tuple(study.languages["codes"])
    definitions = {item.key: item_from_json(item.key, item.kind, item.spec) for item in study.items}
    groups: list[tuple[dict[str, Any] | None, list[Item]]] = []
    order = [item for item in builder.ordered_items(study) if item.retired_at is None]
    loose = [item for item in order if item.spec.get("section") is None]
    if loose or not study.sections.get("sections"):
        groups.append((None, loose))
    for section in study.sections.get("sections", []):
        held = [item for item in order if item.spec.get("section") == section["key"]]
        groups.append((section, held))
    missing = builder.missing_translations(study)
    by_place: dict[str, list[Any]] = {}
    for entry in missing:
        by_place.setdefault(entry.place, []).append(entry)
    groups_missing = []
    for place, entries in by_place.items():
        kind, _, key = place.partition(":")
        groups_missing.append(
            {
                "kind": kind,
                "key": key,
                "first_language": entries[0].languages[0],
                "same": len({entry.languages for entry in entries}) == 1,
                "fields": _merged_labels(
                    [(entry.field, missing_words(entry.languages)) for entry in entries]
                ),
            }
        )
    return {
        "study": study,
        "languages": languages,
        "draft": builder.is_draft(db.session, study),
        "groups": groups,
        "definitions": definitions,
        "missing": missing,
        "missing_by_place": by_place,
        "missing_groups": groups_missing,
        "missing_words": missing_words,
        "kind_names": KIND_NAMES,
        "language_name": language_name,
        "item_missing": lambda key: builder.item_missing(definitions[key], languages),
        "texts_fields": text_fields,
    }


def render_overview(study: Study, *, texts=None, new_section=None, sections=None, status=200):
    """The builder's page, with the forms given (their errors shown) or fresh ones."""
    languages = tuple(study.languages["codes"])
    if texts is None:
        data = {f"title_{code}": study.title.get(code, "") for code in languages}
        data |= {f"introduction_{code}": study.introduction.get(code, "") for code in languages}
        texts = texts_form(languages, data=data)
    section_forms = {
        section["key"]: section_form(
            languages,
            data={f"title_{code}": section["title"].get(code, "") for code in languages},
            prefix=f"section-{section['key']}",
        )
        for section in study.sections.get("sections", [])
    }
    section_forms.update(sections or {})
    return render_template(
        "facilitate/builder/overview.html",
        texts=texts,
        new_section=new_section or section_form(languages, prefix="new-section"),
        section_forms=section_forms,
        **_overview_context(study),
    ), status


@blueprint.route("/studies/<slug>/build")
@login_required
def build(slug: str) -> Any:
    """The study as it stands: its texts, sections and items, each changeable in place
    before round 1; read-only, saying why, afterwards."""
    return render_overview(study_for(slug, change=True))


def _place(form: Any, errors: dict[str, list[str]], prefix: str) -> None:
    """Put problems named ``<prefix>.<language>`` (or ``<prefix>``) on their fields."""
    first = form.languages[0]
    for name, messages in errors.items():
        field, _, code = name.partition(".")
        target = f"{prefix}_{code or first}" if field == prefix else None
        if target is not None and target in form:
            form[target].errors = [*form[target].errors, *messages]


@blueprint.route("/studies/<slug>/build/texts", methods=["POST"])
@login_required
def build_texts(slug: str) -> Any:
    """Save the study's title and introduction in every language."""
    current = study_for(slug, change=True)
    _draft_or_refuse(current)
    form = texts_form(current.languages["codes"], formdata=request.form)
    if not form.validate_on_submit():
        return render_overview(current, texts=form, status=422)
    try:
        builder.update_texts(
            db.session,
            current,
            title=per_language(form, "title"),
            introduction=per_language(form, "introduction"),
            actor=console_user(),
        )
    except InvalidValues as invalid:
        _place(form, invalid.errors, "title")
        _place(form, invalid.errors, "introduction")
        return render_overview(current, texts=form, status=422)
    flash(gettext("The title and introduction are saved."))
    return redirect(url_for("facilitate.build", slug=slug, _anchor="texts")), 303


# -- sections -----------------------------------------------------------------------------------


@blueprint.route("/studies/<slug>/build/sections", methods=["POST"])
@login_required
def build_add_section(slug: str) -> Any:
    """Add a section at the end of the study."""
    current = study_for(slug, change=True)
    _draft_or_refuse(current)
    form = section_form(current.languages["codes"], formdata=request.form, prefix="new-section")
    if not form.validate_on_submit():
        return render_overview(current, new_section=form, status=422)
    try:
        key = builder.add_section(
            db.session, current, per_language(form, "title"), actor=console_user()
        )
    except InvalidValues as invalid:
        _place(form, invalid.errors, "title")
        for name in ("section", "key"):
            for message in invalid.errors.get(name, []):
                form[f"title_{form.languages[0]}"].errors.append(message)
        return render_overview(current, new_section=form, status=422)
    flash(gettext("The section is added."))
    return redirect(url_for("facilitate.build", slug=slug, _anchor=f"section-{key}")), 303


@blueprint.route("/studies/<slug>/build/sections/<section>", methods=["POST"])
@login_required
def build_rename_section(slug: str, section: str) -> Any:
    """Save a section's title in every language."""
    current = study_for(slug, change=True)
    _draft_or_refuse(current)
    form = section_form(
        current.languages["codes"], formdata=request.form, prefix=f"section-{section}"
    )
    if not form.validate_on_submit():
        return render_overview(current, sections={section: form}, status=422)
    try:
        builder.rename_section(
            db.session, current, section, per_language(form, "title"), actor=console_user()
        )
    except NotFound:
        abort(404)
    except InvalidValues as invalid:
        _place(form, invalid.errors, "title")
        return render_overview(current, sections={section: form}, status=422)
    flash(gettext("The section's title is saved."))
    return redirect(url_for("facilitate.build", slug=slug, _anchor=f"section-{section}")), 303


def _direction() -> int:
    """The offset a move button asks for; 400 for anything else."""
    offset = DIRECTIONS.get(request.form.get("direction", ""))
    if offset is None:
        abort(400, gettext("Choose up or down."))
    return offset


def _checked_post(study: Study) -> None:
    """A bare POST (a move, duplicate or delete button): its CSRF token is checked."""
    from elicit.facilitate.forms import ConfirmForm

    if not ConfirmForm().validate_on_submit():
        abort(400)
    _draft_or_refuse(study)


@blueprint.route("/studies/<slug>/build/sections/<section>/move", methods=["POST"])
@login_required
def build_move_section(slug: str, section: str) -> Any:
    """Move a section, with its items, one place up or down."""
    current = study_for(slug, change=True)
    _checked_post(current)
    try:
        builder.move_section(db.session, current, section, _direction(), actor=console_user())
    except NotFound:
        abort(404)
    except Conflict as error:
        flash(str(error))
    return redirect(url_for("facilitate.build", slug=slug, _anchor=f"section-{section}")), 303


@blueprint.route("/studies/<slug>/build/sections/<section>/delete", methods=["POST"])
@login_required
def build_delete_section(slug: str, section: str) -> Any:
    """Delete a section that holds no item."""
    current = study_for(slug, change=True)
    _checked_post(current)
    try:
        builder.delete_section(db.session, current, section, actor=console_user())
    except NotFound:
        abort(404)
    except Conflict as error:
        flash(gettext("The section is not deleted: %(reason)s", reason=str(error)))
        return redirect(url_for("facilitate.build", slug=slug, _anchor=f"section-{section}")), 303
    flash(gettext("The section is deleted."))
    return redirect(url_for("facilitate.build", slug=slug, _anchor="structure")), 303


# -- items ---------------------------------------------------------------------------------------


def _posted_form(study: Study, kind: str, **shape: Any):
    """The item form as posted, with as many label and choice fields as it showed."""
    return item_form(
        kind,
        study.languages["codes"],
        sections=section_choices(study),
        scenario_sets=scenario_set_choices(study),
        formdata=request.form,
        **shape,
    )


def resized_item_form(study: Study, kind: str, form: Any) -> Any | None:
    """The form again after "Add a scenario", "Remove" or "Show the labels": a row more
    or fewer, or label fields for the scale as typed; nothing is saved yet.  (Also for
    the page that adds items between rounds, ``elicit.facilitate.design``.)"""
    action = request.form.get("action", "save")
    shape = posted_shape(kind, request.form)
    if action == "add_choice" and kind in CHOICE_LIMITS:
        shape["choices"] = min(shape["choices"] + 1, CHOICE_LIMITS[kind])
    elif action.startswith("remove_choice_") and kind in CHOICE_LIMITS:
        try:
            removed = int(action.removeprefix("remove_choice_"))
        except ValueError:
            abort(400)
        data = {
            name: value for name, value in request.form.items() if not name.startswith("choice_")
        }
        kept = 0
        for index in range(shape["choices"]):
            if index == removed:
                continue
            for name, value in request.form.items():
                prefix = f"choice_{index}_"
                if name.startswith(prefix):
                    data[f"choice_{kept}_{name.removeprefix(prefix)}"] = value
            kept += 1
        shape["choices"] = kept
        languages = study.languages["codes"]
        sections = section_choices(study)
        return item_form(
            kind,
            languages,
            sections=sections,
            scenario_sets=scenario_set_choices(study),
            formdata=MultiDict(data),
            **shape,
        )
    elif action != "rescale":
        return None
    return _posted_form(study, kind, **shape)


def _render_item(
    study: Study,
    form: Any,
    *,
    item: Item | None = None,
    problems: list[str] | None = None,
    unsaved: bool = False,
    status: int = 200,
    seen: str | None = None,
):
    """An item's page: its form, or its fields read-only once round 1 has opened.

    The form carries the fingerprint of the item it was drawn from (``seen``: given, or
    what a posted form carried, or the item's own), so that a save tells whether
    someone else saved the item since (:class:`surveys.builder.SavedMeanwhile`)."""
    languages = tuple(study.languages["codes"])
    if seen is None and item is not None:
        posted = request.form.get("seen") if request.method == "POST" else None
        seen = posted or builder.spec_fingerprint(item.spec)
    definition = item_from_json(item.key, item.kind, item.spec) if item is not None else None
    cross_impact_choices(
        form,
        [stored.definition for stored in all_items(study)],
        str(get_locale()),
        languages[0],
    )
    return render_template(
        "facilitate/builder/item.html",
        study=study,
        form=form,
        item=item,
        definition=definition,
        kind=form.kind,
        kind_name=KIND_NAMES[form.kind],
        languages=languages,
        language_name=language_name,
        text_fields=text_fields,
        missing=builder.item_missing(definition, languages) if definition else {},
        missing_words=missing_words,
        problems=problems or [],
        unsaved=unsaved,
        seen=seen,
        draft=builder.is_draft(db.session, study),
        choice_limit=CHOICE_LIMITS.get(form.kind),
    ), status


def _save_item(study: Study, kind: str, item: Item | None) -> Any:
    """Read the posted item form, save the item, or show the form again."""
    existing = item_from_json(item.key, item.kind, item.spec) if item is not None else None
    form = _posted_form(study, kind, **posted_shape(kind, request.form))
    resized = resized_item_form(study, kind, form)
    if resized is not None:
        resized.validate_on_submit()
        if resized.csrf_token.errors:
            abort(400)
        for field in resized:  # nothing is checked before "Save the item"
            field.errors = []
        return _render_item(study, resized, item=item, unsaved=True)
    valid = form.validate_on_submit()
    valid = check_bounds(form) and valid
    if not valid:
        return _render_item(study, form, item=item, unsaved=True, status=422)
    definition = form_definition(form, existing=existing)
    try:
        saved = (
            builder.update_item(
                db.session,
                study,
                item.key,
                definition,
                actor=console_user(),
                based_on=request.form.get("seen") or None,
            )
            if item is not None
            else builder.add_item(db.session, study, definition, actor=console_user())
        )
    except builder.SavedMeanwhile:
        assert item is not None  # only an update can find the item saved meanwhile
        problem = gettext(
            "Nothing was saved: someone else saved this item after this page was drawn. "
            "Open the item again in another tab to see it as saved now; your fields are "
            "kept here: save again to replace it with them."
        )
        return _render_item(
            study,
            form,
            item=item,
            problems=[problem],
            unsaved=True,
            status=409,
            seen=builder.spec_fingerprint(item.spec),
        )
    except InvalidValues as invalid:
        problems = place_errors(form, invalid.errors)
        return _render_item(study, form, item=item, problems=problems, unsaved=True, status=422)
    except Conflict as error:
        return _render_item(study, form, item=item, problems=[str(error)], unsaved=True, status=409)
    flash(gettext("The item %(key)s is saved.", key=saved.key))
    return redirect(url_for("facilitate.build_item", slug=study.slug, key=saved.key)), 303


@blueprint.route("/studies/<slug>/build/items/new", methods=["GET", "POST"])
@login_required
def build_new_item(slug: str) -> Any:
    """A new item of the kind chosen, in the section chosen."""
    current = study_for(slug, change=True)
    values = request.form if request.method == "POST" else request.args
    kind = values.get("kind", "")
    if kind not in KIND_NAMES and request.method == "GET":
        # No kind chosen yet: the page that asks for it.
        return render_template(
            "facilitate/builder/new_item.html",
            study=current,
            draft=builder.is_draft(db.session, current),
            kind_names=KIND_NAMES,
            sections=section_choices(current),
            section=values.get("section", ""),
        )
    if kind not in KIND_NAMES:
        abort(400, gettext("Choose the kind of item to add."))
    if request.method == "POST":
        _draft_or_refuse(current)
        return _save_item(current, kind, None)
    languages = current.languages["codes"]
    section = values.get("section", "")
    form = item_form(
        kind,
        languages,
        sections=section_choices(current),
        scenario_sets=scenario_set_choices(current),
        choices=2 if kind in CHOICE_LIMITS else 0,
        data=new_item_data(kind, languages, section),
    )
    return _render_item(current, form)


def _item_or_404(study: Study, key: str) -> Item:
    """The study's item ``key``, or 404."""
    try:
        return builder.find_item(study, key)
    except NotFound:
        abort(404)


@blueprint.route("/studies/<slug>/build/items/<key>", methods=["GET", "POST"])
@login_required
def build_item(slug: str, key: str) -> Any:
    """An item's fields, every text side by side in each language; saved at once."""
    current = study_for(slug, change=True)
    item = _item_or_404(current, key)
    if request.method == "POST":
        _draft_or_refuse(current)
        return _save_item(current, item.kind, item)
    definition: ItemDefinition = item_from_json(item.key, item.kind, item.spec)
    form = item_form(
        item.kind,
        current.languages["codes"],
        sections=section_choices(current),
        scenario_sets=scenario_set_choices(current),
        data=item_form_data(definition, current.languages["codes"]),
        **item_shape(definition),
    )
    return _render_item(current, form, item=item)


@blueprint.route("/studies/<slug>/build/items/<key>/move", methods=["POST"])
@login_required
def build_move_item(slug: str, key: str) -> Any:
    """Move an item one place up or down within its section."""
    current = study_for(slug, change=True)
    _checked_post(current)
    _item_or_404(current, key)
    try:
        builder.move_item(db.session, current, key, _direction(), actor=console_user())
    except Conflict as error:
        flash(str(error))
    return redirect(url_for("facilitate.build", slug=slug, _anchor=f"item-{key}")), 303


@blueprint.route("/studies/<slug>/build/items/<key>/duplicate", methods=["POST"])
@login_required
def build_duplicate_item(slug: str, key: str) -> Any:
    """Copy an item, right after it, and open the copy."""
    current = study_for(slug, change=True)
    _checked_post(current)
    _item_or_404(current, key)
    try:
        copy = builder.duplicate_item(db.session, current, key, actor=console_user())
    except Conflict as error:
        flash(str(error))
        return redirect(url_for("facilitate.build", slug=slug, _anchor=f"item-{key}")), 303
    flash(gettext("The item is copied as %(key)s.", key=copy.key))
    return redirect(url_for("facilitate.build_item", slug=slug, key=copy.key)), 303


@blueprint.route("/studies/<slug>/build/items/<key>/delete", methods=["POST"])
@login_required
def build_delete_item(slug: str, key: str) -> Any:
    """Delete an item for good (nobody has answered it before round 1)."""
    current = study_for(slug, change=True)
    _checked_post(current)
    _item_or_404(current, key)
    try:
        builder.delete_item(db.session, current, key, actor=console_user())
    except Conflict as refused:
        flash(str(refused))
        return redirect(url_for("facilitate.build", slug=slug, _anchor=f"item-{key}")), 303
    flash(gettext("The item %(key)s is deleted.", key=key))
    return redirect(url_for("facilitate.build", slug=slug, _anchor="structure")), 303


# -- the study as a definition file ----------------------------------------------------------


@blueprint.route("/studies/<slug>/build/definition.toml")
@login_required
def build_download(slug: str) -> Any:
    """The study as it stands, as its definition file."""
    current = study_for(slug, change=True)
    text = definition_to_toml(study_definition(current))
    return Response(
        text,
        mimetype="application/toml",
        headers={"Content-Disposition": f'attachment; filename="{current.slug}.toml"'},
    )


@blueprint.route("/studies/<slug>/build/import", methods=["GET", "POST"])
@login_required
def build_import(slug: str) -> Any:
    """Replace the draft with a definition file; its problems are shown beside its lines."""
    current = study_for(slug, change=True)
    form = ImportForm()
    draft = builder.is_draft(db.session, current)
    page = "facilitate/builder/import.html"
    if request.method == "GET":
        return render_template(page, study=current, form=form, draft=draft)
    _draft_or_refuse(current)
    if not form.validate_on_submit():
        return render_template(page, study=current, form=form, draft=draft), 422
    upload = form.definition.data
    if upload is not None and getattr(upload, "filename", ""):
        try:
            form.source.data = upload.read().decode("utf-8-sig")
        except UnicodeDecodeError:
            form.definition.errors = [gettext("The file is not UTF-8 text.")]
            return render_template(page, study=current, form=form, draft=draft), 422
    source = (form.source.data or "").replace("\r\n", "\n")
    form.source.data = source
    if not source.strip():
        form.source.errors = [gettext("Choose a definition file or paste its text.")]
        return render_template(page, study=current, form=form, draft=draft), 422
    try:
        builder.replace_study(db.session, current, source, actor=console_user())
    except InvalidDefinition as invalid:
        listing = _source_listing(source, invalid.errors)
        return render_template(page, study=current, form=form, draft=draft, listing=listing), 422
    flash(gettext("The study is replaced by the definition file."))
    return redirect(url_for("facilitate.build", slug=slug)), 303
