"""The ``elicit`` console script: Flask's CLI bound to this app, plus our commands."""

from flask.cli import FlaskGroup

from elicit import create_app


def _create_app():
    """Build the app for the CLI from the environment."""
    return create_app()


main = FlaskGroup(create_app=_create_app, help="elicit: Delphi studies and expert elicitation.")
