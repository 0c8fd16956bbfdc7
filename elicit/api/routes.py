"""The API's routes.  Each: authorise (by its declaration) → load the study (404 if the
user is not a member) → validate → one call into ``surveys`` → a model as JSON."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, g, request, url_for

from elicit.api import schemas
from elicit.api.core import (
    ApiError,
    api_study,
    api_user,
    json_body,
    operation,
    query_arguments,
    respond,
)
from elicit.api.openapi import openapi_document
from elicit.downloads import export_download, prepared_download
from elicit.extensions import current_link_keys, db
from surveys import tracking
from surveys.accounts import studies_of
from surveys.closing import current_status, failure, request_close, study_closing
from surveys.closing import hand_again as hand_again_closing
from surveys.definition import InvalidDefinition, parse_definition
from surveys.errors import Conflict
from surveys.exports import (
    FORMATS,
    TooLargeForSpreadsheet,
    disclosure,
    response_page,
    visible_group_rows,
)
from surveys.models import (
    ClosingStatus,
    Item,
    PreparedExport,
    PreparedStatus,
    Role,
    RoundClosing,
    RoundStatus,
    ScenarioObservation,
    Study,
)
from surveys.panel import (
    InvalidPanel,
    NewPanelist,
    add_panelists,
    check_entries,
    panel_counts_of,
    panel_page,
)
from surveys.prepared_exports import (
    hand_again,
    lost_jobs,
    needs_preparing,
    request_export,
    response_count,
    study_export,
    study_exports,
)
from surveys.progress import RoundState, panel_size, round_states
from surveys.resolutions import resolvable, resolve, withdraw
from surveys.rounds import close_round, closed_summary, open_round
from surveys.scores import panelist_scores, stored_scores
from surveys.studies import find_study, load_study
from surveys.toml_lines import LineIndex
from surveys.tracking import scenario_tracker

#: Keys of a response record that the API does not repeat in each response (the study
#: is in the URL) or that it shapes itself.
EXTRA = ("study", "values")

# -- helpers -------------------------------------------------------------------------------


def _round(state: RoundState) -> schemas.RoundOut:
    round_ = state.round
    return schemas.RoundOut(
        number=round_.number,
        status=round_.status.value,
        opened_at=round_.opened_at,
        deadline=round_.deadline,
        closed_at=round_.closed_at,
        respondents=state.respondents,
        started_from=round_.started_from,  # type: ignore[arg-type]
    )


def _rounds(study: Study) -> list[schemas.RoundOut]:
    return [_round(state) for state in round_states(db.session, study)]


def _study(study: Study) -> schemas.StudyOut:
    return schemas.StudyOut(
        slug=study.slug,
        title=study.title,
        languages=list(study.languages["codes"]),
        anonymity=study.anonymity,  # type: ignore[arg-type]
        max_rounds=study.max_rounds,
        quantile_method=study.quantile_method,
        feedback_min_n=study.feedback_min_n,
        rationale_outside_iqr=study.rationale_outside_iqr,  # type: ignore[arg-type]
        carry_over=study.carry_over,  # type: ignore[arg-type]
        consensus=study.consensus,
        created_at=study.created_at,
        panelists=panel_size(db.session, study),
        rounds=_rounds(study),
    )


def _item(item: Item) -> schemas.ItemOut:
    return schemas.ItemOut(
        key=item.key,
        kind=item.kind,
        position=item.position,
        version=item.version,
        spec=item.spec,
        retired_at=item.retired_at,
        retired_reason=item.retired_reason,
        versions=[
            schemas.ItemVersionOut(
                version=version.version,
                spec=version.spec,
                note=version.note,
                created_at=version.created_at,
            )
            for version in item.versions
        ],
    )


def _summary(study: Study, number: int) -> schemas.SummaryOut:
    summary = closed_summary(db.session, study, number)
    if summary is None:
        raise ApiError(404, f"Round {number} of {study.slug!r} does not exist or is not closed.")
    statistics = summary.statistics
    return schemas.SummaryOut(
        round=number,
        closed_at=summary.round.closed_at,
        quantile_method=summary.quantile_method,
        respondents=summary.respondents,
        settings=statistics.get("settings", {}),
        rows=statistics.get("rows", []),
        groups=visible_group_rows(statistics.get("groups", []), disclosure(db.session, study)),
        distributions=statistics.get("distributions", {}),
        rationales=statistics.get("rationales", {}),
        cannot_judge=statistics.get("cannot_judge", {}),
    )


def _base_url() -> str:
    """Where personal links point: the configured public address, else this host."""
    return str(current_app.config["ELICIT_BASE_URL"] or request.host_url)


def _study_location(study: Study) -> str:
    return url_for("api.get_study", slug=study.slug)


# -- the document and the caller -------------------------------------------------------------


@operation(
    "GET",
    "/openapi.json",
    summary="This API's OpenAPI 3.1 document",
    tag="account",
    scope=None,
)
def get_openapi() -> Response:
    """The OpenAPI 3.1 document describing every operation of the API."""
    response = current_app.json.response(openapi_document())
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@operation("GET", "/me", summary="The token's user", tag="account", returns=schemas.Me)
def get_me() -> Response:
    """Who the token acts for, its scope and when it expires."""
    token = g.api_token
    return respond(
        schemas.Me(
            email=token.user.email,
            role=token.user.role.value,
            token_name=token.name,
            scope=token.scope,
            token_expires_at=token.expires_at,
        )
    )


# -- studies ---------------------------------------------------------------------------------


@operation("GET", "/studies", summary="Your studies", tag="studies", returns=schemas.StudyList)
def list_studies() -> Response:
    """The studies the token's user is a member of, newest first."""
    studies = studies_of(db.session, api_user())
    return respond(schemas.StudyList(studies=[_study(study) for study in studies]))


@operation(
    "POST",
    "/studies",
    summary="Load a study definition",
    tag="studies",
    returns=schemas.StudyOut,
    status=201,
    body=schemas.NewStudy,
    scope="write",
    role=Role.FACILITATOR,
    errors=(409,),
)
def create_study() -> Response:
    """Load a study from the TOML text of a study file; the caller becomes its member.

    A definition with problems is refused with 422, every problem listed with its line;
    a slug already taken, with 409.
    """
    new = json_body(schemas.NewStudy)
    try:
        definition = parse_definition(new.definition, name="definition")
    except InvalidDefinition as invalid:
        raise ApiError(
            422,
            f"The definition has {len(invalid.errors)} problem(s); nothing was loaded.",
            problems=[
                schemas.DefinitionProblem(line=error.line, field=error.field, message=error.message)
                for error in invalid.errors
            ],
        ) from None
    if find_study(db.session, definition.slug) is not None:
        line = LineIndex(new.definition).line_of(("study", "slug"))
        raise ApiError(
            409,
            f"A study with the slug {definition.slug!r} exists already; choose another slug.",
            problems=[
                schemas.DefinitionProblem(line=line, field="study.slug", message="is already taken")
            ],
        )
    study = load_study(
        db.session, definition, new.definition, actor=api_user(), anonymity=new.anonymity
    )
    return respond(_study(study), 201, Location=_study_location(study))


@operation("GET", "/studies/<slug>", summary="A study", tag="studies", returns=schemas.StudyOut)
def get_study(slug: str) -> Response:
    """A study's settings, panel size and rounds."""
    return respond(_study(api_study(slug)))


@operation(
    "GET",
    "/studies/<slug>/items",
    summary="A study's items",
    tag="studies",
    returns=schemas.ItemList,
)
def list_items(slug: str) -> Response:
    """Every item with its current definition and all earlier wordings."""
    study = api_study(slug)
    return respond(schemas.ItemList(items=[_item(item) for item in study.items]))


@operation(
    "GET",
    "/studies/<slug>/panelists",
    summary="The panel, by pseudonym, a page at a time",
    tag="studies",
    returns=schemas.PanelistList,
    query=schemas.PanelistQuery,
)
def list_panelists(slug: str) -> Response:
    """The panel as counts by round and group and, in a standard study, ``per_page``
    panelists at a time with each one's pseudonym, group, language and status per
    round; never a name.  The counts are the database's (no panelist row is loaded for
    them) and a page reads its own panelists only, so the cost follows the page, not
    the panel."""
    study = api_study(slug)
    query = query_arguments(schemas.PanelistQuery)
    counts = panel_counts_of(db.session, study)
    blind = study.anonymity == "blind"
    # A page past the last lists nobody (the console's pager would show the last).
    past_end = (query.page - 1) * query.per_page >= counts.panelists
    listed = (
        None
        if blind or past_end
        else panel_page(
            db.session, study, page=query.page, page_size=query.per_page, total=counts.panelists
        )
    )
    total = 0 if blind else counts.panelists
    following: str | None = None
    if query.page * query.per_page < total:
        following = url_for(
            "api.list_panelists", slug=slug, page=query.page + 1, per_page=query.per_page
        )
    return respond(
        schemas.PanelistList(
            counts=schemas.PanelCountsOut(
                panelists=counts.panelists,
                active=counts.active,
                rounds=[
                    schemas.RoundCountsOut(
                        round=entry.round_number,
                        invited=entry.invited,
                        opened=entry.opened,
                        draft=entry.draft,
                        submitted=entry.submitted,
                    )
                    for entry in counts.rounds
                ],
                groups=[
                    schemas.GroupCountOut(
                        group=entry.group, panelists=entry.panelists, submitted=entry.submitted
                    )
                    for entry in counts.groups
                ],
                min_group_size=counts.min_group_size,
            ),
            panelists=[
                schemas.PanelistOut(
                    pseudonym=status.pseudonym,
                    group=status.group,
                    language=status.language,
                    revoked=status.revoked,
                    rounds=[
                        schemas.PanelistRound(
                            round=entry.round_number,
                            invited=entry.invited,
                            opened=entry.opened,
                            draft=entry.draft,
                            submitted=entry.submitted,
                        )
                        for entry in status.rounds
                    ],
                )
                for status in ([] if listed is None else listed.rows)
            ],
            page=query.page,
            per_page=query.per_page,
            total=total,
            next=following,
        )
    )


@operation(
    "POST",
    "/studies/<slug>/panelists",
    summary="Add panelists; in a standard study their links are returned once",
    tag="studies",
    returns=schemas.IssuedLinks,
    status=201,
    body=schemas.NewPanelists,
    scope="write",
    role=Role.FACILITATOR,
    errors=(404,),
)
def add_to_panel(slug: str) -> Response:
    """Add experts (all or none).  The answer holds each one's personal link; only its
    hash is stored, so it cannot be shown again (a new one can be issued in the
    console)."""
    study = api_study(slug)
    new = json_body(schemas.NewPanelists)
    try:
        entries = check_entries(
            (
                NewPanelist(entry.name, entry.email, entry.group, entry.language, entry.time_zone)
                for entry in new.panelists
            ),
            study.languages["codes"],
        )
        links = add_panelists(
            db.session, study, entries, actor=api_user(), keys=current_link_keys()
        )
    except InvalidPanel as invalid:
        errors = {f"panelists.{where}": problems for where, problems in invalid.fields.items()}
        if not errors:  # already on the panel: say which entries, without their emails
            errors = {
                "panelists": [
                    f"panelists.{index}.email is already on the panel"
                    for index, entry in enumerate(entries)
                    if any(f" {entry.email} " in f" {error} " for error in invalid.errors)
                ]
                or ["an email is already on the panel"]
            }
        raise ApiError(
            422,
            "Some panelists are not acceptable; none was added.",
            errors=errors or {"panelists": invalid.errors},
        ) from None
    base_url = _base_url()
    # add_panelists issues the links in the order of the entries.  A blind study's
    # links are mailed by the system only: none is answered, not even by position.
    shown = [] if study.anonymity == "blind" else list(enumerate(zip(entries, links, strict=True)))
    return respond(
        schemas.IssuedLinks(
            added=len(links),
            panelists=[
                schemas.IssuedLink(
                    index=index,
                    group=entry.group,
                    language=entry.language,
                    link=link.url(base_url),
                )
                for index, (entry, link) in shown
            ],
        ),
        201,
    )


# -- rounds ----------------------------------------------------------------------------------


@operation(
    "GET",
    "/studies/<slug>/rounds",
    summary="A study's rounds",
    tag="rounds",
    returns=schemas.RoundList,
)
def list_rounds(slug: str) -> Response:
    """Every round with its state and dates."""
    study = api_study(slug)
    return respond(schemas.RoundList(rounds=_rounds(study)))


def _find_round(study: Study, number: int) -> RoundState:
    for state in round_states(db.session, study):
        if state.round.number == number:
            return state
    raise ApiError(404, f"The study {study.slug!r} has no round {number}.")


@operation(
    "GET",
    "/studies/<slug>/rounds/<int:number>",
    summary="One round",
    tag="rounds",
    returns=schemas.RoundOut,
)
def get_round(slug: str, number: int) -> Response:
    """One round's state and dates."""
    return respond(_round(_find_round(api_study(slug), number)))


@operation(
    "POST",
    "/studies/<slug>/rounds",
    summary="Open the next round",
    tag="rounds",
    returns=schemas.RoundOut,
    status=201,
    body=schemas.OpenRound,
    scope="write",
    role=Role.FACILITATOR,
    errors=(404, 409),
)
def open_next_round(slug: str) -> Response:
    """Open the study's next round, with an optional deadline.  Refused (409) while a
    round is open, once the study's last round has been held, or for a past deadline."""
    study = api_study(slug)
    # The schema refuses a deadline without a zone, or out of reach (422, by field).
    options = json_body(schemas.OpenRound)
    round_ = open_round(
        db.session, study, deadline=options.deadline, actor=api_user(), expected=options.number
    )
    return respond(
        _round(RoundState(round_, None)),
        201,
        Location=url_for("api.get_round", slug=study.slug, number=round_.number),
    )


@operation(
    "POST",
    "/studies/<slug>/rounds/<int:number>/close",
    summary="Close the open round and store its summary",
    tag="rounds",
    returns=schemas.SummaryOut,
    scope="write",
    role=Role.FACILITATOR,
    errors=(404, 409),
)
def close_open_round(slug: str, number: int) -> Response:
    """Close round ``number``, which must be the open round, and return the summary
    stored for it (every statistic, consensus and stability per item), within the
    request: a close takes minutes at 100,000 panelists, past a request's time limit,
    so close a large panel's round in the background (``POST …/closing``)."""
    study = api_study(slug)
    round_ = _find_round(study, number).round
    if round_.status != RoundStatus.OPEN:
        raise Conflict(f"round {number} is {round_.status.value}, not open")
    close_round(db.session, study, actor=api_user(), number=number)
    return respond(_summary(study, number))


def _closing(closing: RoundClosing, slug: str) -> schemas.ClosingOut:
    status = current_status(closing)
    number = closing.round.number
    done = status == ClosingStatus.DONE
    return schemas.ClosingOut(
        id=closing.id,
        round=number,
        status=status.value,  # type: ignore[arg-type]
        requested_at=closing.requested_at,
        started_at=closing.started_at,
        finished_at=closing.finished_at,
        error=failure(closing),
        summary=url_for("api.get_summary", slug=slug, number=number) if done else None,
    )


def _submit_closing(closing_id: int) -> None:
    """Hand closing ``closing_id`` to a job (:mod:`elicit.jobs`)."""
    from elicit.jobs import close_later

    close_later(current_app._get_current_object(), closing_id)  # type: ignore[attr-defined]


@operation(
    "POST",
    "/studies/<slug>/rounds/<int:number>/closing",
    summary="Close the open round in the background",
    tag="rounds",
    returns=schemas.ClosingOut,
    status=202,
    scope="write",
    role=Role.FACILITATOR,
    errors=(404, 409),
)
def close_round_later(slug: str, number: int) -> Response:
    """Have round ``number``, which must be the open round, closed by a job: for a
    panel large enough that a close takes longer than a request may (minutes at
    100,000 panelists).  202 with the close's state and its address in ``Location``:
    read it until ``status`` is ``done``, then read ``summary``.  A close of the round
    already queued or under way is returned instead of a second one.  The round takes
    submissions until the job starts."""
    study = api_study(slug)
    round_ = _find_round(study, number).round
    if round_.status != RoundStatus.OPEN:
        raise Conflict(f"round {number} is {round_.status.value}, not open")
    # The number again: the round may have closed, and the next opened, since the check.
    requested = request_close(db.session, study, actor=api_user(), number=number)
    if requested.submit:
        _submit_closing(requested.closing.id)
    closing = study_closing(db.session, study, requested.closing.id)
    if closing is None:  # pragma: no cover - deleted with its study meanwhile
        raise ApiError(404, "The close is gone.")
    location = url_for("api.get_closing", slug=slug, closing_id=closing.id)
    return respond(_closing(closing, slug), 202, Location=location)


@operation(
    "GET",
    "/studies/<slug>/closings/<int:closing_id>",
    summary="The state of a round's close in the background",
    tag="rounds",
    returns=schemas.ClosingOut,
)
def get_closing(slug: str, closing_id: int) -> Response:
    """A close asked for in the background (its address is the ``Location`` of
    ``POST …/rounds/N/closing``): its state, and the summary's address once done."""
    study = api_study(slug)
    closing = study_closing(db.session, study, closing_id)
    if closing is None:
        raise ApiError(404, f"The study has no close {closing_id}.")
    if hand_again_closing(db.session, closing):  # its job was lost: another
        _submit_closing(closing.id)
    return respond(_closing(closing, slug))


@operation(
    "GET",
    "/studies/<slug>/rounds/<int:number>/summary",
    summary="A closed round's summary",
    tag="rounds",
    returns=schemas.SummaryOut,
    errors=(404,),
)
def get_summary(slug: str, number: int) -> Response:
    """What closing the round stored: per item and component every statistic of the
    analysis (descriptives, consensus state and the rule's numbers, stability against
    the previous round), subgroup rows with small groups masked, and the rationales."""
    return respond(_summary(api_study(slug), number))


# -- data ------------------------------------------------------------------------------------


@operation(
    "GET",
    "/studies/<slug>/responses",
    summary="Responses, a page at a time",
    tag="data",
    returns=schemas.ResponsePage,
    query=schemas.ResponseQuery,
)
def list_responses(slug: str) -> Response:
    """Every submitted response under its panelist's pseudonym, in the export's order,
    ``per_page`` at a time.  (What an expert has typed but not submitted is a draft,
    which belongs to the expert and is not a response.)"""
    study = api_study(slug)
    query = query_arguments(schemas.ResponseQuery)
    total, records = response_page(
        db.session,
        study,
        round_number=query.round,
        offset=(query.page - 1) * query.per_page,
        limit=query.per_page,
    )
    following: str | None = None
    if query.page * query.per_page < total:
        arguments: dict[str, Any] = query.model_dump(exclude_none=True)
        arguments["page"] = query.page + 1
        following = url_for("api.list_responses", slug=slug, **arguments)
    return respond(
        schemas.ResponsePage(
            responses=[
                schemas.ResponseOut(
                    **{key: value for key, value in record.items() if key not in EXTRA},
                    values=[
                        schemas.AnswerValue(
                            component=component, value=value, text=text, cannot_judge=cannot
                        )
                        for component, value, text, cannot in record["values"]
                    ],
                )
                for record in records
            ],
            page=query.page,
            per_page=query.per_page,
            total=total,
            next=following,
        )
    )


@operation(
    "GET",
    "/studies/<slug>/export/<fmt>",
    summary="The study's export as a file",
    tag="data",
    errors=(404, 409),
    files={media: f"The {name} export" for name, (media, _) in FORMATS.items()},
)
def export(slug: str, fmt: str) -> Response:
    """The export the console and ``elicit export`` make: responses, summaries,
    subgroups, items, codebook and methods (CSV as a zip with ``reproduce.py``).  The
    response gives the file's length and its SHA-256 (``Repr-Digest``).  xlsx is
    refused (409, before anything is written) when a table has more rows than a
    spreadsheet's sheet holds (1,048,576 with the header): the problem names the sheet
    and its rows, and a ``Link`` header points to the CSV export, which holds them all.

    A study too large to export within one request (minutes of writing: hundreds of
    thousands of responses) is refused too (409), with a ``Link`` to
    ``POST /studies/{slug}/exports``, which prepares the file in the background."""
    study = api_study(slug)
    if fmt not in FORMATS:
        raise ApiError(404, f"There is no export format {fmt!r}; use csv, xlsx or json.")
    responses = response_count(db.session, study)
    if needs_preparing(responses, fmt, current_app.config["ELICIT_EXPORT_INLINE_LIMIT"]):
        prepare = url_for("api.prepare_export", slug=slug)
        raise ApiError(
            409,
            f"This study's {fmt} export holds {responses:,} responses, too many to write "
            "within one request. Prepare it with POST "
            f"{prepare} and download its file once it is ready.",
            headers={"Link": f'<{prepare}>; rel="related"'},
        )
    try:
        return export_download(study, fmt)
    except TooLargeForSpreadsheet as refused:
        csv = url_for("api.export", slug=slug, fmt="csv")
        raise ApiError(
            409,
            f"The {refused.sheet} sheet would need {refused.rows:,} rows, more than the "
            f"{refused.limit:,} a spreadsheet holds; no workbook was made. The CSV export "
            "holds every row.",
            errors={refused.sheet: [f"{refused.rows} rows; at most {refused.limit}"]},
            headers={"Link": f'<{csv}>; rel="alternate"; type="application/zip"'},
        ) from refused


def _prepared(export: PreparedExport, slug: str) -> schemas.PreparedExportOut:
    ready = export.status == PreparedStatus.READY
    return schemas.PreparedExportOut(
        id=export.id,
        format=export.format,  # type: ignore[arg-type]
        status=export.status.value,  # type: ignore[arg-type]
        requested_at=export.requested_at,
        started_at=export.started_at,
        finished_at=export.finished_at,
        closed_rounds=export.closed_rounds if ready else None,
        size=export.size if ready else None,
        sha256=export.sha256 if ready else None,
        error=export.error,
        file=url_for("api.prepared_export_file", slug=slug, export_id=export.id) if ready else None,
    )


def _prepared_export(slug: str, export_id: int) -> PreparedExport:
    """Prepared export ``export_id`` of study ``slug``; 404 if the study has none."""
    export = study_export(db.session, api_study(slug), export_id)
    if export is None:
        raise ApiError(404, f"The study has no prepared export {export_id}.")
    return export


def _submit_export(export_id: int) -> None:
    """Hand prepared export ``export_id`` to a job (:mod:`elicit.jobs`)."""
    from elicit.jobs import prepare_export as submit

    submit(current_app._get_current_object(), export_id)  # type: ignore[attr-defined]


@operation(
    "POST",
    "/studies/<slug>/exports",
    summary="Prepare the study's export in the background",
    tag="data",
    returns=schemas.PreparedExportOut,
    status=202,
    body=schemas.NewPreparedExport,
)
def prepare_export(slug: str) -> Response:
    """Have the study's export in ``format`` written by a job, for a study too large to
    export within one request (any study may use it).  202 with the export's state and
    its address in ``Location``: read it until ``status`` is ``ready``, then download
    ``file``.  An export of the same format already queued or being written is returned
    instead of a second one.  A file is kept for a week, and replaced when the same
    format is prepared again (the old one stays readable for an hour: a download of it
    under way finishes)."""
    study = api_study(slug)
    wanted = json_body(schemas.NewPreparedExport)
    requested = request_export(db.session, study, wanted.format, api_user())
    if requested.submit:
        _submit_export(requested.export.id)
    export = study_export(db.session, study, requested.export.id)
    if export is None:  # pragma: no cover - deleted with its study meanwhile
        raise ApiError(404, "The export is gone.")
    location = url_for("api.get_prepared_export", slug=slug, export_id=export.id)
    return respond(_prepared(export, slug), 202, Location=location)


@operation(
    "GET",
    "/studies/<slug>/exports",
    summary="The study's prepared exports",
    tag="data",
    returns=schemas.PreparedExportList,
)
def list_prepared_exports(slug: str) -> Response:
    """The study's prepared exports, newest first."""
    study = api_study(slug)
    for lost in lost_jobs(db.session, study):  # a queued export's job was lost: another
        _submit_export(lost)
    listed = study_exports(db.session, study)
    return respond(
        schemas.PreparedExportList(exports=[_prepared(export, slug) for export in listed])
    )


@operation(
    "GET",
    "/studies/<slug>/exports/<int:export_id>",
    summary="One prepared export's state",
    tag="data",
    returns=schemas.PreparedExportOut,
)
def get_prepared_export(slug: str, export_id: int) -> Response:
    """A prepared export's state, with the address of its file once it is ready."""
    export = _prepared_export(slug, export_id)
    if hand_again(db.session, export):  # its job was lost: another
        _submit_export(export.id)
    return respond(_prepared(export, slug))


@operation(
    "GET",
    "/studies/<slug>/exports/<int:export_id>/file",
    summary="A prepared export's file",
    tag="data",
    errors=(404, 409),
    files={media: f"The {name} export" for name, (media, _) in FORMATS.items()},
)
def prepared_export_file(slug: str, export_id: int) -> Response:
    """The file of a ready prepared export, with its length and SHA-256
    (``Repr-Digest``); 409 while it is not ready (or failed)."""
    export = _prepared_export(slug, export_id)
    if export.status != PreparedStatus.READY:
        raise ApiError(409, f"The export is {export.status.value}, not ready.")
    return prepared_download(export)


# -- the scenario tracker ------------------------------------------------------------------

TRACKER_ASSUMPTION = (
    "Bayes' rule with the panel's pooled likelihoods, assuming the signposts are "
    "independent given the scenario; a signpost not seen by a date counts as not seen "
    "within the horizon; after a trigger, the panel's scenario set given that trigger "
    "replaces the prior.  low and high: the range over the panelists' own likelihoods."
)


def _observations(study: Study) -> schemas.ObservationList:
    found = scenario_tracker(db.session, study)
    steps = {row.id: number for number, row in enumerate(found.observations, start=1)}
    tracker = None
    if found.timeline is not None and found.inputs is not None:
        timeline = []
        for step, rows in found.timeline.groupby("step", sort=True):
            first = rows.iloc[0]
            timeline.append(
                schemas.TimelineStepOut(
                    step=int(step),
                    observation=None if first["observation"] is None else int(first["observation"]),
                    applied=bool(first["applied"]),
                    probability=dict(zip(rows["scenario"], rows["probability"], strict=True)),
                    low=dict(zip(rows["scenario"], rows["low"], strict=True)),
                    high=dict(zip(rows["scenario"], rows["high"], strict=True)),
                )
            )
        tracker = schemas.TrackerOut(
            scenario_item=found.inputs.scenario_item,
            scenarios=found.inputs.scenarios,
            rounds=found.inputs.rounds,
            assumption=TRACKER_ASSUMPTION,
            timeline=timeline,
        )
    return schemas.ObservationList(
        observations=[_observation(row, steps[row.id]) for row in found.observations],
        tracker=tracker,
    )


def _observation(row: ScenarioObservation, step: int) -> schemas.ObservationOut:
    return schemas.ObservationOut(
        id=row.id,
        step=step,
        observed_on=row.observed_on,
        kind=row.kind,  # type: ignore[arg-type]
        item=row.item_key,
        seen=row.seen,
        note=row.note,
        recorded_at=row.recorded_at,
    )


@operation(
    "GET",
    "/studies/<slug>/observations",
    summary="The scenario tracker: observations and the timeline",
    tag="tracker",
    returns=schemas.ObservationList,
)
def list_observations(slug: str) -> Response:
    """Every observation recorded after the study, in date order, and the pooled
    scenario probabilities after each one (Bayes' rule from the closed rounds' stored
    judgements), with their range over the panelists' own likelihoods."""
    return respond(_observations(api_study(slug)))


@operation(
    "POST",
    "/studies/<slug>/observations",
    summary="Record an observation",
    tag="tracker",
    returns=schemas.ObservationOut,
    status=201,
    body=schemas.NewObservation,
    scope="write",
    role=Role.FACILITATOR,
)
def record_observation(slug: str) -> Response:
    """Record a signpost seen (or not seen by a date) or a trigger that occurred.  An
    item that is not a signpost or trigger of the study, a trigger "not seen", a date
    later than today (UTC) or an empty note is refused with 422, naming the field."""
    study = api_study(slug)
    new = json_body(schemas.NewObservation)
    row = tracking.record(
        db.session,
        study,
        kind=new.kind,
        item_key=new.item,
        observed_on=new.observed_on,
        seen=new.seen,
        note=new.note,
        actor=api_user(),
    )
    step = next(
        number
        for number, entry in enumerate(tracking.observations(db.session, study), start=1)
        if entry.id == row.id
    )
    return respond(
        _observation(row, step),
        201,
        Location=url_for("api.list_observations", slug=study.slug),
    )


@operation(
    "DELETE",
    "/studies/<slug>/observations/<int:observation_id>",
    summary="Withdraw an observation",
    tag="tracker",
    status=204,
    scope="write",
    role=Role.FACILITATOR,
)
def withdraw_observation(slug: str, observation_id: int) -> Response:
    """Withdraw an observation recorded by mistake; 404 if the study has none with
    this id."""
    study = api_study(slug)
    if not tracking.withdraw(db.session, study, observation_id, api_user()):
        raise ApiError(404, f"The study {slug!r} has no observation {observation_id}.")
    response = Response(status=204)
    response.headers["Cache-Control"] = "no-store"
    return response


# -- outcomes and scores ---------------------------------------------------------------------


def _resolutions(study: Study) -> schemas.ResolutionList:
    sheet = stored_scores(db.session, study)
    rounds = sheet.rounds if sheet is not None else {}
    return schemas.ResolutionList(
        resolutions=[
            schemas.ResolutionOut(
                item=entry.definition.key,
                item_kind=entry.definition.kind,  # type: ignore[arg-type]
                outcome=entry.resolution.outcome,
                resolved_on=entry.resolution.resolved_on,
                source=entry.resolution.source,
                recorded_at=entry.resolution.recorded_at,
                scored_round=rounds.get(entry.definition.key),
            )
            for entry in resolvable(db.session, study)
            if entry.resolution is not None
        ]
    )


@operation(
    "GET",
    "/studies/<slug>/resolutions",
    summary="What happened: the resolved items",
    tag="outcomes",
    returns=schemas.ResolutionList,
)
def list_resolutions(slug: str) -> Response:
    """Every resolved probability item and scenario set: its outcome, when it became
    known, its source, and the round whose answers were scored on it."""
    return respond(_resolutions(api_study(slug)))


@operation(
    "PUT",
    "/studies/<slug>/resolutions/<item>",
    summary="Record or correct what happened for an item",
    tag="outcomes",
    returns=schemas.ResolutionList,
    body=schemas.NewResolution,
    scope="write",
    role=Role.FACILITATOR,
)
def put_resolution(slug: str, item: str) -> Response:
    """Record (or correct) the outcome of a probability item (``yes`` or ``no``) or of
    a scenario set (the key of the scenario that unfolded), with the date it became
    known and its source; the scores are stored anew at once.  Each wrong field is
    named (422): ``item`` (not a probability item or scenario set of the study),
    ``outcome``, ``resolved_on`` (later than today, UTC), ``source``.  Answers every
    resolution of the study."""
    study = api_study(slug)
    new = json_body(schemas.NewResolution)
    resolve(db.session, study, item, new.outcome, new.resolved_on, new.source, api_user())
    return respond(_resolutions(study))


@operation(
    "DELETE",
    "/studies/<slug>/resolutions/<item>",
    summary="Withdraw an item's outcome",
    tag="outcomes",
    returns=schemas.ResolutionList,
    scope="write",
    role=Role.FACILITATOR,
)
def delete_resolution(slug: str, item: str) -> Response:
    """Withdraw the outcome recorded for ``item`` (recorded by mistake); the scores
    are stored anew at once.  404 if the item has none.  Answers the remaining
    resolutions."""
    study = api_study(slug)
    if not withdraw(db.session, study, item, api_user()):
        raise ApiError(404, f"The item {item!r} has no outcome recorded.")
    return respond(_resolutions(study))


@operation(
    "GET",
    "/studies/<slug>/scores",
    summary="Scores of the pools and the panelists, and calibration",
    tag="outcomes",
    returns=schemas.ScoresOut,
    query=schemas.ScoresQuery,
)
def get_scores(slug: str) -> Response:
    """The scores stored when an outcome was last recorded or withdrawn or a round
    closed (nothing is computed here): Brier and logarithmic scores of every pooling
    method over all resolved items and per item, the calibration tables (of the panel's
    forecasts together and of each pool), and ``per_page`` panelists by pseudonym at a
    time, best logarithmic score first.  Empty lists before anything is scored."""
    study = api_study(slug)
    query = query_arguments(schemas.ScoresQuery)
    stored = stored_scores(db.session, study)
    total = stored.panelists if stored is not None else 0
    following: str | None = None
    if query.page * query.per_page < total:
        following = url_for(
            "api.get_scores", slug=slug, page=query.page + 1, per_page=query.per_page
        )
    panelists = (
        panelist_scores(
            db.session,
            study,
            offset=(query.page - 1) * query.per_page,
            limit=query.per_page,
        )
        if stored is not None
        else []
    )
    return respond(
        schemas.ScoresOut(
            computed_at=stored.computed_at if stored is not None else None,
            scored_rounds=stored.rounds if stored is not None else {},
            pools=[schemas.ScoreOut(**row) for row in stored.pools] if stored else [],
            pool_items=[
                schemas.ScoreOut(**row) for rows in stored.pool_items.values() for row in rows
            ]
            if stored
            else [],
            calibration=[
                schemas.CalibrationOut(
                    forecaster=table.forecaster,
                    events=table.events,
                    forecasts=table.forecasts,
                    shown=table.shown,
                    bins=[schemas.CalibrationBin(**row) for row in table.rows],
                )
                for table in stored.calibration.values()
            ]
            if stored
            else [],
            panelists=[schemas.ScoreOut(**row) for row in panelists],
            page=query.page,
            per_page=query.per_page,
            total=total,
            next=following,
        )
    )
