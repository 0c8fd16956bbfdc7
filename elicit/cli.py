"""The ``elicit`` console script: Flask's CLI bound to this app, plus our commands."""

from typing import Any

import click
from flask.cli import FlaskGroup
from sqlalchemy.exc import InterfaceError, OperationalError

from elicit import create_app


def _create_app():
    """Build the app for the CLI from the environment."""
    return create_app()


class ElicitGroup(FlaskGroup):
    """Flask's CLI, where a database that cannot be reached (or stays busy past its
    timeout) ends a command with one line and exit status 1, not a traceback."""

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
