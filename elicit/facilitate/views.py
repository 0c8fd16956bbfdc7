"""Console pages: log in, list one's studies, follow a study, open and close rounds.

Each view: load (404 if missing or not a member) → authorise → validate the form →
one call into ``surveys`` → flash and redirect, or render.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import format_decimal, get_locale, gettext
from flask_login import login_required
from werkzeug.wrappers import Response as WerkzeugResponse

from elicit.extensions import db
from elicit.facilitate.access import console_user, may_export, study_for
from elicit.facilitate.amendment_words import amendments_context
from elicit.facilitate.calibration_words import glance_words
from elicit.facilitate.forms import (
    ChangePasswordForm,
    ConfirmOpeningForm,
    LoginForm,
    OpenRoundForm,
)
from elicit.facilitate.login import log_in, log_out
from elicit.paging import page_number
from elicit.ratelimits import limiter
from surveys.accounts import (
    MIN_PASSWORD_LENGTH,
    InvalidAccount,
    WrongPassword,
    authenticate,
    studies_of,
)
from surveys.accounts import change_password as change_account_password
from surveys.audit import study_log_page
from surveys.calibration import classical_model_glance
from surveys.closing import UNFINISHED as CLOSING_UNFINISHED
from surveys.closing import current_status, open_round_closing
from surveys.errors import Conflict
from surveys.models import RoundClosing, Study
from surveys.opening import OpeningPlan, plan_next_round
from surveys.progress import StudyProgress, gather_small_groups, round_states, study_progress
from surveys.protocol import protocol_stamp
from surveys.rounds import (
    NotTheNextRound,
    open_round,
    stopping_recommendation,
)
from surveys.schedules import planned
from surveys.scores import stored_scores

blueprint = Blueprint("facilitate", __name__, url_prefix="/console")

#: How often the study page's response rate refreshes itself while a round is open.
DASHBOARD_REFRESH_SECONDS = 30


def _failed_login(response: WerkzeugResponse) -> bool:
    """Only refused logins count against the limit."""
    return request.method == "POST" and response.status_code == 401


@blueprint.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["ELICIT_LOGIN_LIMIT"], deduct_when=_failed_login)
def login() -> Any:
    """Log in with email and password."""
    form = LoginForm()
    if form.validate_on_submit():
        account = authenticate(db.session, form.email.data or "", form.password.data or "")
        if account is not None:
            log_in(account)
            return redirect(url_for("facilitate.studies"))
        form.password.errors = [gettext("The email or the password is not right.")]
        return render_template("facilitate/login.html", form=form), 401
    status = 422 if request.method == "POST" else 200
    return render_template("facilitate/login.html", form=form), status


@blueprint.route("/logout", methods=["POST"])
@login_required
def logout() -> WerkzeugResponse:
    """End the console session on the server: a copy of the cookie stops working too."""
    log_out()
    flash(gettext("You are logged out."))
    return redirect(url_for("facilitate.login"))


def _wrong_current_password(response: WerkzeugResponse) -> bool:
    """Only a wrong current password counts against the limit: the page must not let a
    borrowed session guess the password."""
    return bool(g.get("wrong_current_password"))


@blueprint.route("/password", methods=["GET", "POST"])
@login_required
@limiter.limit(
    lambda: current_app.config["ELICIT_LOGIN_LIMIT"], deduct_when=_wrong_current_password
)
def change_password() -> Any:
    """Change one's own password.  Every session of the user ends; this browser is
    given a new one, so that a copy of its old cookie stops working too."""
    form = ChangePasswordForm()
    if not form.is_submitted():
        return _password_page(form)
    if form.validate():
        account = console_user()
        try:
            change_account_password(
                db.session,
                account,
                form.current_password.data or "",
                form.new_password.data or "",
                lifetime=current_app.config["ELICIT_LOGIN_LIFETIME"],
            )
        except WrongPassword:
            g.wrong_current_password = True
            form.current_password.errors = [gettext("The current password is not right.")]
        except InvalidAccount as error:
            form.new_password.errors = [str(error)]
        else:
            log_in(account)
            flash(gettext("Your password is changed. Every other session of yours has ended."))
            return redirect(url_for("facilitate.change_password"), 303)
    return _password_page(form), 422


def _password_page(form: ChangePasswordForm) -> str:
    """The change-password page with ``form`` and its errors."""
    return render_template("facilitate/password.html", form=form, min_length=MIN_PASSWORD_LENGTH)


@blueprint.route("/")
@login_required
def studies() -> str:
    """The studies the user is a member of, with their status."""
    user = console_user()
    rows = [(study, study_progress(db.session, study)) for study in studies_of(db.session, user)]
    return render_template("facilitate/studies.html", rows=rows)


@blueprint.route("/studies/<slug>")
@login_required
def study(slug: str) -> str:
    """A study's rounds, response rate, results so far, recommendation and audit log."""
    current = study_for(slug)
    progress = study_progress(db.session, current)
    log = study_log_page(db.session, current, page_number("log"))
    return render_template(
        "facilitate/study.html",
        study=current,
        stamp=protocol_stamp(db.session, current),
        **amendments_context(db.session, current, str(get_locale())),
        progress=progress,
        decision=stopping_recommendation(db.session, current),
        # Each closed round's respondents as a column: the round's summary, which can
        # be large, is not loaded for it.
        respondents={
            state.round.id: state.respondents for state in round_states(db.session, current)
        },
        log=log,
        log_numbers={
            name: format_decimal(getattr(log, name))
            for name in ("first", "last", "total", "page", "pages")
        },
        open_form=OpenRoundForm(),
        can_change=console_user().role == "facilitator",
        can_export=may_export(console_user()),
        refresh_seconds=DASHBOARD_REFRESH_SECONDS,
        reminders=planned(db.session, current, progress.open_round),
        tracker_state=_tracker_routes.current_state(current, str(get_locale())),
        scores=stored_scores(db.session, current),
        pool_names=_outcome_routes.POOL_NAMES,
        classical=glance_words(classical_model_glance(db.session, current)),
        closing_under_way=_closing_under_way(current),
        **_response_rate_context(current, progress),
    )


def _closing_under_way(study: Study) -> RoundClosing | None:
    """The close of ``study``'s open round that a job has yet to finish, if any."""
    closing = open_round_closing(db.session, study)
    if closing is None or current_status(closing) not in CLOSING_UNFINISHED:
        return None
    return closing


@blueprint.route("/studies/<slug>/response-rate")
@login_required
def response_rate(slug: str) -> str:
    """The open round's response rate alone: the fragment of the study page that
    ``static/dashboard.js`` polls, for whoever may see the study page."""
    current = study_for(slug)
    progress = study_progress(db.session, current)
    return render_template(
        "facilitate/_response_rate.html",
        progress=progress,
        **_response_rate_context(current, progress),
    )


def _response_rate_context(study: Study, progress: StudyProgress) -> dict[str, Any]:
    """What the response-rate block shows of ``progress``'s groups; in a blind
    study those smaller than the minimum group size are gathered in one unnamed row."""
    if study.anonymity != "blind":
        return {"rates": progress.by_group, "gathered": None}
    rates, gathered = gather_small_groups(progress.by_group, study.feedback_min_n)
    return {
        "rates": rates,
        "gathered": gathered,
        "min_group_size": study.feedback_min_n,
    }


def _deadline(form: ConfirmOpeningForm) -> datetime | None:
    """The form's deadline in UTC (the field is read as UTC), if one was given and valid."""
    if form.deadline.errors or form.deadline.data is None:
        return None
    return form.deadline.data.replace(tzinfo=UTC)


def _opening_plan(study: Study, form: ConfirmOpeningForm) -> OpeningPlan:
    """What opening the next round with the form's deadline will do; a deadline in the
    past gets its message on the field."""
    plan = plan_next_round(db.session, study, deadline=_deadline(form))
    if plan.deadline_problem is not None:
        form.deadline.errors = [
            *form.deadline.errors,
            gettext("The deadline must lie in the future."),
        ]
    return plan


def _opening_page(
    study: Study,
    form: ConfirmOpeningForm,
    plan: OpeningPlan,
    status: int,
    changed: str | None = None,
) -> Any:
    """The confirmation before a round opens, for ``plan``, with the form's errors and,
    when the round it was confirmed for is no longer the next, ``changed``."""
    return render_template(
        "facilitate/open_round.html",
        study=study,
        form=form,
        plan=plan,
        changed=changed,
        field_words=_builder_routes.field_words,
        missing_words=_builder_routes.missing_words,
    ), status


def _next_round_changed(asked: int, plan: OpeningPlan) -> str:
    """Why nothing was opened: the page confirmed round ``asked``, which a colleague
    (or the API, or the command line) opened meanwhile."""
    return gettext(
        "Nothing was opened: round %(asked)s was opened meanwhile. This page now shows "
        "round %(number)s; read it again before you confirm.",
        asked=asked,
        number=plan.number,
    )


@blueprint.route("/studies/<slug>/rounds/open", methods=["GET", "POST"])
@login_required
def open_next_round(slug: str) -> Any:
    """Say what opening the study's next round will do (GET, for the deadline chosen on
    the study page, ``?deadline=``) and open it when confirmed (POST).

    Experts can be invited the moment a round is open, and round 1 fixes the protocol,
    so the study page's button leads here: the panel by group, the items asked and those
    that left, the deadline; when the last close's stopping rule recommended stopping,
    the round opens only with the acknowledgement ticked.  The API and the CLI open
    directly (nobody reads a page there); the refusals they share (a round still open,
    no item, texts not translated) are the domain's, flashed on the study page.
    """
    current = study_for(slug, change=True)
    if request.method == "GET":
        form = ConfirmOpeningForm(formdata=request.args)
        form.deadline.validate(form)
        plan = _opening_plan(current, form)
        return _opening_page(current, form, plan, 422 if form.deadline.errors else 200)
    form = ConfirmOpeningForm()
    # The round the confirmation described: a page kept while a colleague opened and
    # closed that round must not open the one after it (NotTheNextRound).
    number = request.form.get("round", type=int)
    if not form.validate_on_submit() or number is None:
        if form.csrf_token.errors or number is None:
            abort(400)
        return _opening_page(current, form, _opening_plan(current, form), 422)
    plan = _opening_plan(current, form)
    if plan.number != number:
        return _opening_page(current, form, plan, 409, _next_round_changed(number, plan))
    if form.deadline.errors:
        return _opening_page(current, form, plan, 422)
    if plan.can_open and plan.stop_recommended and not form.acknowledge_stop.data:
        form.acknowledge_stop.errors = [
            gettext(
                "The stopping rule recommends stopping: tick this box to open round "
                "%(number)s anyway, or cancel.",
                number=plan.number,
            )
        ]
        return _opening_page(current, form, plan, 422)
    try:
        round_ = open_round(
            db.session, current, deadline=_deadline(form), actor=console_user(), expected=number
        )
    except NotTheNextRound:
        plan = _opening_plan(current, form)
        return _opening_page(current, form, plan, 409, _next_round_changed(number, plan))
    except Conflict as error:
        flash(gettext("The round could not be opened: %(reason)s", reason=str(error)), "warning")
        return redirect(url_for("facilitate.study", slug=slug)), 303
    flash(gettext("Round %(number)s is open.", number=round_.number))
    return redirect(url_for("facilitate.study", slug=slug)), 303


# Routes defined in their own modules, on this blueprint.
from elicit.facilitate import builder as _builder_routes  # noqa: E402 (also: the words of missing texts)
from elicit.facilitate import closing as _closing_routes  # noqa: E402, F401
from elicit.facilitate import design as _design_routes  # noqa: E402, F401
from elicit.facilitate import exports as _export_routes  # noqa: E402, F401
from elicit.facilitate import message_history as _history_routes  # noqa: E402, F401
from elicit.facilitate import message_templates as _message_routes  # noqa: E402, F401
from elicit.facilitate import outcomes as _outcome_routes  # noqa: E402
from elicit.facilitate import panel as _panel_routes  # noqa: E402, F401
from elicit.facilitate import preview as _preview_routes  # noqa: E402, F401
from elicit.facilitate import protocol as _protocol_routes  # noqa: E402, F401
from elicit.facilitate import report as _report_routes  # noqa: E402, F401
from elicit.facilitate import results as _results_routes  # noqa: E402, F401
from elicit.facilitate import rules as _rules_routes  # noqa: E402, F401
from elicit.facilitate import tokens as _token_routes  # noqa: E402, F401
from elicit.facilitate import tracker as _tracker_routes  # noqa: E402
