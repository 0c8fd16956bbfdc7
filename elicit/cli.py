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
