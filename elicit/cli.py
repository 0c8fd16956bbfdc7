"""The ``elicit`` console script: Flask's CLI bound to this app, plus our commands."""

from importlib import metadata
from typing import Any

import click
from flask.cli import FlaskGroup, ScriptInfo
from sqlalchemy.exc import InterfaceError, OperationalError

from elicit import create_app


def _plugin_commands() -> dict[str, metadata.EntryPoint]:
    """The commands that installed packages offer Flask (``flask.commands``), unloaded."""
    return {entry.name: entry for entry in metadata.entry_points(group="flask.commands")}


#: The commands (and groups) that serve no page and build no address: their app is made
#: without the blueprints (:func:`elicit.create_app`), which spares each of them the
#: import of every view, of the API and of pydantic (issue 15: a command that computes
#: no statistic starts in under a second of CPU).  ``worker`` is one of them: a job
#: builds no address (a message's link is ``ELICIT_BASE_URL`` and the token) and renders
#: no page.  ``demo`` serves, and Flask's own ``routes``, ``run`` and ``shell`` are about
#: the whole app: those get it whole.
WITHOUT_ROUTES = frozenset(
    {"db", "study", "panel", "links", "round", "export", "user", "token", "worker"}
)


#: The help ``elicit --help`` shows for ``db`` without importing it: Flask-Migrate's
#: group imports Alembic, a tenth of a second of CPU (``tests/elicit/test_cli_startup.py``
#: checks that this is still that group's own help).
MIGRATION_COMMANDS_HELP = "Perform database migrations."


def _plugin_help(entry: metadata.EntryPoint) -> str:
    """What ``elicit --help`` says of a plugin's command, without importing it (a
    plugin's commands import the plugin: Flask-Limiter's, ``limits`` and ``rich``)."""
    package = entry.dist.name if entry.dist is not None else entry.module
    return f"Commands of {package} (elicit {entry.name} --help)."


def _create_app():
    """Build the app for the CLI from the environment."""
    return create_app()


def _create_app_without_routes():
    """Build the app for a command of :data:`WITHOUT_ROUTES`."""
    return create_app(routes=False)


class ElicitGroup(FlaskGroup):
    """Flask's CLI, where a database that cannot be reached (or stays busy past its
    timeout) ends a command with one line and exit status 1, not a traceback."""

    def _load_plugin_commands(self) -> None:
        """Flask imports every plugin's commands for any command (Flask-Limiter's
        imports rich); here a plugin's command is imported when it is named
        (:meth:`get_command`)."""
        self._loaded_plugin_commands = True

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        """A command by name.  ``db`` (Flask-Migrate's, which imports Alembic),
        ``serve`` and the plugins' commands are imported only when asked for, so that
        no other command pays for importing them.  ``serve`` builds no app here: each
        gunicorn worker builds its own (:mod:`elicit.serving`).  A command of
        :data:`WITHOUT_ROUTES` gets an app without the blueprints."""
        if name in WITHOUT_ROUTES:
            ctx.ensure_object(ScriptInfo).create_app = _create_app_without_routes
        if name == "db":
            from flask_migrate.cli import db as migration_commands

            return migration_commands
        if name == "serve":
            from elicit.serving import serve_command

            return serve_command
        plugin = _plugin_commands().get(name)
        if plugin is not None and name not in self.commands:
            self.add_command(plugin.load(), name)
        return super().get_command(ctx, name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every command's name, ``db``, ``serve`` and the plugins' included (listing
        them needs no route: the app made for it has none)."""
        # An app made before (a command named first) stays: ScriptInfo keeps it.
        ctx.ensure_object(ScriptInfo).create_app = _create_app_without_routes
        return sorted({*super().list_commands(ctx), "db", "serve", *_plugin_commands()})

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """List the commands with their short help, as click does, but give ``db``'s
        and the plugins' from :data:`MIGRATION_COMMANDS_HELP` and their entry points:
        listing a command must not import it (:meth:`get_command`)."""
        names = self.list_commands(ctx)
        if not names:
            return
        deferred = {"db": MIGRATION_COMMANDS_HELP}
        deferred.update(
            (name, _plugin_help(entry))
            for name, entry in _plugin_commands().items()
            if name not in self.commands
        )
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = []
        for name in names:
            if name in deferred:
                stand_in = click.Command(name, help=deferred[name])  # shortened as click does
                rows.append((name, stand_in.get_short_help_str(limit)))
                continue
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; turn a connection-level database error into a message."""
        try:
            return super().invoke(ctx)
        except (OperationalError, InterfaceError) as error:
            reason = str(error.orig or error).strip().splitlines()[0]
            raise click.ClickException(
                f"the database is unreachable or busy, nothing was changed ({reason}); "
                "try again in a moment"
            ) from None


main = ElicitGroup(create_app=_create_app, help="elicit: Delphi studies and expert elicitation.")
