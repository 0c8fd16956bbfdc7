"""``elicit serve``: gunicorn with the shipped settings, for operators who would rather
not learn gunicorn's command line.

The settings are the repository's ``gunicorn.conf.py`` (the file the load and fault
benchmarks measured), read by its path, beside the ``elicit`` package's folder as the
install (``pip install -e .``) leaves it, as the migrations folder is found
(:data:`elicit.MIGRATIONS_DIRECTORY`).  So the command serves the same way from any
working directory, where ``gunicorn`` alone would look for ``gunicorn.conf.py`` and
``wsgi.py`` in the current one.

Gunicorn runs inside this process: the ``elicit serve`` process is the arbiter, so
SIGTERM to it stops the workers gracefully (within ``graceful_timeout``) and SIGHUP
reloads the settings.  Gunicorn is imported when the command runs, never by
``elicit --help`` or another command.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

#: The shipped gunicorn settings.
GUNICORN_SETTINGS = Path(__file__).resolve().parent.parent / "gunicorn.conf.py"

#: How this process tells its server that it is alive: gunicorn's ``worker.notify``,
#: set in each worker by ``post_worker_init`` (:func:`beat_with`); nothing elsewhere.
_HEARTBEAT: list[Callable[[], None]] = []


def beat_with(notify: Callable[[], None]) -> None:
    """Make :func:`keep_alive` call ``notify`` (a gunicorn worker's, once per worker)."""
    _HEARTBEAT[:] = [notify]


def keep_alive() -> None:
    """Tell the server that this worker, busy with one long response, is alive.

    A sync worker tells gunicorn so only between requests, and gunicorn kills a worker
    silent for ``timeout`` (120 s).  A response that keeps making progress, such as a
    file of gigabytes sent to a slow client a block at a time, calls this after each
    block, so that only a worker that is stuck is killed."""
    for notify in _HEARTBEAT:
        notify()


def _positive(context: click.Context, parameter: click.Parameter, value: int | None) -> Any:
    """Refuse zero or negative worker counts with the option's name."""
    if value is not None and value < 1:
        raise click.BadParameter("must be at least 1")
    return value


@click.command("serve")
@click.option(
    "--bind",
    "-b",
    "binds",
    multiple=True,
    metavar="ADDRESS",
    help="Where to listen: HOST:PORT or unix:PATH; repeat for several "
    "(default: gunicorn's, 127.0.0.1:8000).",
)
@click.option(
    "--workers",
    "-w",
    type=int,
    default=None,
    callback=_positive,
    help="Worker processes (default: gunicorn.conf.py's, 2 × cores + 1).",
)
@click.option(
    "--access-logfile",
    metavar="PATH",
    default=None,
    help="Write an access log line per request to PATH ('-': standard output); "
    "off by default. Personal links and tokens appear as /e/<token> and elicit_<token>.",
)
def serve_command(binds: tuple[str, ...], workers: int | None, access_logfile: str | None) -> None:
    """Serve the app with gunicorn and the shipped gunicorn.conf.py (from any folder)."""
    from elicit.config import log_format

    try:
        log_format()  # read by the settings too: a wrong value is named here, not in a traceback
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    if not GUNICORN_SETTINGS.is_file():
        raise click.ClickException(
            f"the gunicorn settings are missing ({GUNICORN_SETTINGS}): "
            "install elicit from its source folder (pip install -e .)"
        )
    options: dict[str, Any] = {}
    if binds:
        options["bind"] = list(binds)
    if workers is not None:
        options["workers"] = workers
    if access_logfile is not None:
        options["accesslog"] = access_logfile
    _server(options).run()


def _server(options: dict[str, Any]) -> Any:
    """A gunicorn application: the shipped settings, then ``options`` over them, and
    the app built by :func:`elicit.create_app` in each worker."""
    from gunicorn.app.base import Application

    class ElicitServer(Application):
        """Gunicorn reading ``gunicorn.conf.py`` by path (no command line of its own)."""

        def load_config(self) -> None:
            """The file's settings, then the command's options (also on SIGHUP)."""
            self.load_config_from_file(str(GUNICORN_SETTINGS))
            for name, value in options.items():
                self.cfg.set(name, value)

        def load(self) -> Any:
            """The app, built in each worker from the environment."""
            from elicit import create_app

            return create_app()

    return ElicitServer(usage="elicit serve [OPTIONS]", prog="elicit serve")
