"""CLI commands.  Each is a thin wrapper over one domain function in ``surveys``.

A command imports the domain modules it calls when it runs, not with this module:
every command is listed (and its module imported) to run any one of them, and the
definitions' and rounds' modules (with the statistics' pure-Python layer) were a tenth
of a second of every start-up that most commands never use (issue 15, point 7).
"""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import click
from flask import current_app
from flask.cli import with_appcontext
from werkzeug.serving import run_simple

from elicit.config import DEFAULT_BASE_URL
from elicit.extensions import current_link_keys, db
from surveys.accounts import (
    activate_user,
    create_user,
    deactivate_user,
    find_user,
    grant_access,
    revoke_sessions,
    set_password,
)
from surveys.api_tokens import SCOPES, create_token, revoke_token, tokens_of
from surveys.errors import DomainError
from surveys.links import derived_key, new_key
from surveys.models import Role, Study, User

if TYPE_CHECKING:
    from surveys.definition import StudyDefinition


def _fail(error: Exception) -> None:
    """Print a domain error on stderr and exit 1."""
    click.echo(f"error: {error}", err=True)
    sys.exit(1)


def _get_study(slug: str) -> Study:
    """The study ``slug`` (:func:`surveys.studies.get_study`); raises ``NotFound``."""
    from surveys.studies import get_study

    return get_study(db.session, slug)


@click.group("study", help="Study definition files.")
def study_cli() -> None:
    """Group of study commands."""


@study_cli.command("validate")
@click.argument("path", type=click.Path(dir_okay=False))
def validate_study(path: str) -> None:
    """Check a definition file; print every problem as PATH:LINE: field: message, then
    (exit 0) every rule warning as PATH:LINE: items.KEY.consensus: warning: message."""
    from surveys.definition import InvalidDefinition, load_definition_file

    try:
        definition = load_definition_file(path)
    except InvalidDefinition as error:
        for problem in error.errors:
            click.echo(str(problem))
        sys.exit(1)
    warnings = _rule_warnings(path, definition)
    for warning in warnings:
        click.echo(warning)
    counted = f", {len(warnings)} warning{'s' if len(warnings) != 1 else ''}" if warnings else ""
    click.echo(f"{path}: valid ({definition.slug}, {len(definition.items)} items){counted}")


def _rule_warnings(path: str, definition: StudyDefinition) -> list[str]:
    """The rule warnings of the valid file at ``path``, each with its line."""
    from surveys.rule_checks import located_warnings, rule_warnings

    source = Path(path).read_text(encoding="utf-8")
    return located_warnings(rule_warnings(definition), source, path)


@study_cli.command("load")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@with_appcontext
def load_study_command(path: str) -> None:
    """Load a definition file into the database and print the study's slug; rule
    warnings go to standard error, as ``study validate`` prints them."""
    from surveys.definition import InvalidDefinition, load_definition_file
    from surveys.studies import load_study

    try:
        definition = load_definition_file(path)
        study = load_study(db.session, definition, Path(path).read_text(encoding="utf-8"))
    except InvalidDefinition as error:
        for problem in error.errors:
            click.echo(str(problem), err=True)
        sys.exit(1)
    except DomainError as error:
        _fail(error)
    for warning in _rule_warnings(path, definition):
        click.echo(warning, err=True)
    click.echo(study.slug)


@click.group("panel", help="The panel of experts.")
def panel_cli() -> None:
    """Group of panel commands."""


@panel_cli.command("add")
@click.argument("slug")
@click.option(
    "--csv",
    "csv_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="File with the columns name,email,group,language.",
)
@with_appcontext
def add_panel(slug: str, csv_path: str) -> None:
    """Add panelists; print email,link for each (each keeps that link for the study:
    invitations and reminders carry it again).

    No pseudonym is printed: beside the email it would join the person to their
    answers.  A blind study's links are never printed: the system mails them.
    """
    from surveys.panel import InvalidPanel, add_panelists, parse_panel_csv

    try:
        study = _get_study(slug)
        entries = parse_panel_csv(
            Path(csv_path).read_text(encoding="utf-8"), study.languages["codes"]
        )
        links = add_panelists(db.session, study, entries, keys=current_link_keys())
    except InvalidPanel as error:
        for problem in error.errors:
            click.echo(f"{csv_path}: {problem}", err=True)
        sys.exit(1)
    except DomainError as error:
        _fail(error)
    if study.anonymity == "blind":
        click.echo(
            f"added {len(links)} panelist(s) to {slug}; this study is blind, so their links "
            "are sent only with the invitations"
        )
        return
    base_url = current_app.config["ELICIT_BASE_URL"] or DEFAULT_BASE_URL
    click.echo("email,link")
    for entry, link in zip(entries, links, strict=True):
        click.echo(f"{entry.email},{link.url(base_url)}")


@click.group("links", help="The keys that seal personal links (see README, Security).")
def links_cli() -> None:
    """Group of link-key commands."""


@links_cli.command("reseal")
@with_appcontext
def reseal_links_command() -> None:
    """Seal every stored personal link again with the newest key of ELICIT_LINK_KEYS.

    The step of a key rotation after which the old keys can be removed.  Exits 1 if
    some links cannot be read with any configured key (they are left as they are):
    removing a key would not lose them, but those panelists need new links, or the
    lost key back, before a message can carry their link.
    """
    from surveys.panel import reseal_links

    done = reseal_links(db.session, current_link_keys())
    click.echo(f"re-sealed {done.resealed} personal link(s) with the newest key")
    if done.unreadable:
        click.echo(
            f"error: {done.unreadable} personal link(s) cannot be read with any configured "
            "key and were left as they are; restore the key they were sealed with, or "
            "issue those panelists new links",
            err=True,
        )
        sys.exit(1)


@links_cli.command("new-key")
def new_key_command() -> None:
    """Print a new random key, to put first in ELICIT_LINK_KEYS."""
    click.echo(new_key())


@links_cli.command("derived-key")
@with_appcontext
def derived_key_command() -> None:
    """Print the key derived from the current ELICIT_SECRET_KEY: what seals links while
    ELICIT_LINK_KEYS is unset, to keep in ELICIT_LINK_KEYS as an old key when moving to
    keys of their own or before changing the secret key."""
    click.echo(derived_key(str(current_app.config["SECRET_KEY"])))


@click.group("round", help="Open and close rounds.")
def round_cli() -> None:
    """Group of round commands."""


@round_cli.command("open")
@click.argument("slug")
@with_appcontext
def open_round_command(slug: str) -> None:
    """Open the study's next round."""
    from surveys.rounds import open_round

    try:
        round_ = open_round(db.session, _get_study(slug))
    except DomainError as error:
        _fail(error)
    click.echo(f"round {round_.number} of {slug} is open")


@round_cli.command("close")
@click.argument("slug")
@with_appcontext
def close_round_command(slug: str) -> None:
    """Close the open round and store its summary."""
    from surveys.rounds import close_round, stopping_recommendation

    try:
        study = _get_study(slug)
        summary = close_round(db.session, study)
    except DomainError as error:
        _fail(error)
    rows = summary.statistics["rows"]
    consensus = sum(1 for row in rows if row.get("state") == "consensus")
    dissensus = sum(1 for row in rows if row.get("state") == "dissensus")
    click.echo(
        f"round {summary.round.number} of {slug} is closed: {summary.respondents} "
        f"respondent(s); of {len(rows)} distributions {consensus} at consensus, "
        f"{dissensus} in dissensus (quantiles: {summary.quantile_method})"
    )
    decision = stopping_recommendation(db.session, study)
    if decision is not None:
        verdict = "stop" if decision.stop else "continue"
        click.echo(f"stopping rule: {verdict}: {decision.reason}")


@click.command("export")
@click.argument("slug")
@click.option(
    "--format",
    "format_name",
    type=click.Choice(["csv", "xlsx", "json"]),
    required=True,
    help="csv: a folder of CSV files with reproduce.py; xlsx: a workbook; json: one file.",
)
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(),
    help="The folder (csv) or file (xlsx, json) to write.",
)
@with_appcontext
def export_command(slug: str, format_name: str, out: str) -> None:
    """Export a study's responses, summaries, items, codebook and methods.

    The responses are read and written a chunk at a time, whatever the panel's size.
    A workbook or JSON file is written under a temporary name beside ``--out`` and
    renamed when complete, so that ``--out`` never holds half a file; a study with more
    rows than a spreadsheet's sheet holds gets no workbook (exit 1) but the advice to
    export as CSV.
    """
    # Here, not with the module: the exports load numpy, which no other command needs.
    from surveys.exports import (
        TooLargeForSpreadsheet,
        open_export,
        write_csv,
        write_json,
        write_xlsx,
    )

    try:
        export = open_export(db.session, _get_study(slug))
    except DomainError as error:
        _fail(error)
    path = Path(out)
    if format_name == "csv":
        if path.exists() and not path.is_dir():
            _fail(DomainError(f"{out} is a file; give a folder for the CSV export"))
        rows = write_csv(export, path)
    else:
        write = write_xlsx if format_name == "xlsx" else write_json
        partial = path.with_name(f".{path.name}.partial")
        try:
            rows = write(export, partial)
            partial.replace(path)
        except TooLargeForSpreadsheet as refused:
            _fail(DomainError(f"{refused} (elicit export {slug} --format csv --out FOLDER)"))
        finally:
            partial.unlink(missing_ok=True)
    click.echo(
        f"exported {slug} as {format_name} to {out}: {rows} response row(s), "
        f"{len(export.summaries)} summary row(s)"
    )


@click.group("user", help="Console accounts (facilitators and researchers).")
def user_cli() -> None:
    """Group of user commands."""


def _read_password() -> str:
    """A password asked for twice on a terminal, or read from standard input's first line."""
    if sys.stdin.isatty():
        return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))
    return sys.stdin.readline().rstrip("\n")


def _login_lifetime() -> timedelta:
    """The console login lifetime, to count the sessions that were still live."""
    return current_app.config["ELICIT_LOGIN_LIFETIME"]  # type: ignore[no-any-return]


@user_cli.command("create")
@click.argument("email")
@click.option("--role", type=click.Choice([role.value for role in Role]), required=True)
@with_appcontext
def create_user_command(email: str, role: str) -> None:
    """Create an account; the password is asked for (or read from standard input)."""
    try:
        user = create_user(db.session, email, _read_password(), role)
    except DomainError as error:
        _fail(error)
    click.echo(f"created {user.role.value} {user.email}")


@user_cli.command("grant")
@click.argument("email")
@click.argument("slug")
@with_appcontext
def grant_command(email: str, slug: str) -> None:
    """Make a user a member of a study."""
    user = find_user(db.session, email)
    if user is None:
        _fail(DomainError(f"no user has the email {email}"))
    try:
        study = _get_study(slug)
    except DomainError as error:
        _fail(error)
    grant_access(db.session, user, study)
    click.echo(f"{user.email} is a member of {study.slug}")


@user_cli.command("password")
@click.argument("email")
@with_appcontext
def set_password_command(email: str) -> None:
    """Set a user's password (asked for, or read from standard input) and end every
    console session of theirs."""
    user = _user_or_fail(email)
    try:
        ended = set_password(db.session, user, _read_password(), lifetime=_login_lifetime())
    except DomainError as error:
        _fail(error)
    click.echo(f"set a new password for {user.email}; ended {ended} console session(s)")


@user_cli.command("deactivate")
@click.argument("email")
@with_appcontext
def deactivate_command(email: str) -> None:
    """Shut a user out: end their console sessions, refuse their logins and API tokens."""
    user = _user_or_fail(email)
    ended = deactivate_user(db.session, user, lifetime=_login_lifetime())
    click.echo(f"deactivated {user.email}; ended {ended} console session(s)")


@user_cli.command("activate")
@click.argument("email")
@with_appcontext
def activate_command(email: str) -> None:
    """Let a deactivated user log in again (their unrevoked API tokens work again)."""
    user = _user_or_fail(email)
    activate_user(db.session, user)
    click.echo(f"activated {user.email}")


@user_cli.command("logout")
@click.argument("email")
@with_appcontext
def logout_command(email: str) -> None:
    """End every console session of a user; the account keeps working."""
    user = _user_or_fail(email)
    ended = revoke_sessions(db.session, user, lifetime=_login_lifetime())
    click.echo(f"ended {ended} console session(s) of {user.email}")


@click.group("token", help="API tokens (bearer tokens for /api/v1).")
def token_cli() -> None:
    """Group of token commands."""


def _user_or_fail(email: str) -> User:
    user = find_user(db.session, email)
    if user is None:
        _fail(DomainError(f"no user has the email {email}"))
    assert user is not None
    return user


@token_cli.command("create")
@click.argument("email")
@click.option("--name", default="command line", show_default=True, help="What it is for.")
@click.option("--scope", type=click.Choice(SCOPES), default="read", show_default=True)
@click.option("--expires-in-days", type=int, default=None, help="Default: never expires.")
@with_appcontext
def create_token_command(email: str, name: str, scope: str, expires_in_days: int | None) -> None:
    """Create a token for a user and print it (once: only its hash is kept)."""
    user = _user_or_fail(email)
    try:
        issued = create_token(db.session, user, name, scope, expires_in_days=expires_in_days)
    except DomainError as error:
        _fail(error)
    click.echo(issued.secret)


@token_cli.command("list")
@click.argument("email")
@with_appcontext
def list_tokens_command(email: str) -> None:
    """List a user's tokens: id, prefix, name, scope, created, last used, state."""
    for token in tokens_of(db.session, _user_or_fail(email)):
        state = (
            "revoked"
            if token.revoked_at
            else "expires "
            + (token.expires_at.isoformat(timespec="minutes") if token.expires_at else "never")
        )
        used = token.last_used_at.isoformat(timespec="minutes") if token.last_used_at else "never"
        click.echo(
            f"{token.id}\t{token.prefix}…\t{token.name}\t{token.scope}\t"
            f"created {token.created_at.isoformat(timespec='minutes')}\tused {used}\t{state}"
        )


@token_cli.command("revoke")
@click.argument("email")
@click.argument("token_id", type=int)
@with_appcontext
def revoke_token_command(email: str, token_id: int) -> None:
    """Revoke one of a user's tokens, by the id ``token list`` shows."""
    try:
        token = revoke_token(db.session, _user_or_fail(email), token_id)
    except DomainError as error:
        _fail(error)
    click.echo(f"revoked {token.prefix}… ({token.name})")


@click.command("demo")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--panelists", default=12, show_default=True, type=click.IntRange(1, 500))
@click.option(
    "--simulate",
    is_flag=True,
    help="Have the demo panel answer and close rounds 1 and 2 with simulated answers, "
    "record sample (fictional) tracker observations and outcomes, and open round 3.",
)
@with_appcontext
def demo_command(port: int, panelists: int, simulate: bool) -> None:
    """Create the database, load the demo study, print its links and serve it."""
    from flask_migrate import upgrade  # Alembic: only for the commands that migrate

    from surveys.demo import ensure_demo  # the demo's answers and outcomes: only here

    upgrade(directory=current_app.extensions["migrate"].directory)
    demo = ensure_demo(db.session, panelists=panelists, keys=current_link_keys(), simulate=simulate)
    if simulate and not demo.simulated:
        click.echo("the demo study has answers already: nothing simulated", err=True)
    base_url = current_app.config["ELICIT_BASE_URL"] or f"http://127.0.0.1:{port}"
    click.echo(demo.slug)
    for link in demo.links:
        click.echo(link.url(base_url))
    db.session.remove()
    click.echo(f"serving on http://127.0.0.1:{port} (Ctrl+C to stop)", err=True)
    # Flask refuses app.run() inside its own CLI; the same development server, directly:
    run_simple("127.0.0.1", port, current_app._get_current_object(), threaded=True)


@click.command("worker")
@click.option("--burst", is_flag=True, help="Run what is queued and due, then exit.")
@click.option("--name", default=None, help="The worker's name in Redis (default: random).")
@with_appcontext
def worker_command(burst: bool, name: str | None) -> None:
    """Send invitations and reminders, and write large studies' prepared exports: run
    jobs from the Redis queue (ELICIT_QUEUE_URL) and retry what is due, until stopped
    (SIGTERM: after the job in hand).  Run as many as needed, on any host."""
    from elicit.jobs import run_worker

    if not current_app.config["ELICIT_QUEUE_URL"]:
        _fail(
            RuntimeError(
                "ELICIT_QUEUE_URL is not set: without a queue, messages are sent by the web "
                "process itself, and no worker is needed"
            )
        )
    if not current_app.config["ELICIT_SMTP_URL"]:
        click.echo(
            "warning: ELICIT_SMTP_URL is not set: no message can be sent (prepared exports "
            "are still written)",
            err=True,
        )
    run_worker(current_app._get_current_object(), burst=burst, name=name)
