"""elicit: the web service.  The factory below reads like a table of contents."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from contextlib import suppress
from pathlib import Path
from typing import Any

from flask import Flask, Response, abort, render_template, request
from flask_babel import get_locale, gettext
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DataError, InterfaceError, OperationalError, PendingRollbackError
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.middleware.proxy_fix import ProxyFix

from elicit import config
from elicit.converters import DatabaseInteger
from elicit.extensions import (
    LINK_KEYS_EXTENSION,
    babel,
    csrf,
    db,
    login_manager,
    migrate,
)
from elicit.i18n import select_locale
from elicit.jobs import register_jobs
from elicit.logs import (
    keep_values_out_of_database_errors,
    redact_personal_links,
    use_log_format,
)
from elicit.memory import return_large_blocks

MIGRATIONS_DIRECTORY = str(Path(__file__).resolve().parent.parent / "migrations")
#: What a request that found the database unreachable is told to wait (503).
DATABASE_RETRY_AFTER_SECONDS = 5


def create_app(test_config: Mapping[str, Any] | None = None, *, routes: bool = True) -> Flask:
    """Build the application; ``test_config`` overrides settings read from the environment.

    ``routes=False`` leaves out the blueprints (every page and the API, with pydantic
    and the views' modules: half a second of CPU) and the rate limiter, for the
    command-line commands that serve nothing and build no address
    (:data:`elicit.cli.WITHOUT_ROUTES`)."""
    redact_personal_links()  # first, so that nothing this process logs escapes it
    return_large_blocks()  # a close's freed arrays go back to the system (see the module)
    app = Flask(__name__, instance_path=config.instance_path(), instance_relative_config=True)
    app.config.from_mapping(config.load(app.instance_path, test_config))
    use_log_format(app.config["ELICIT_LOG_FORMAT"])  # before anything logs
    register_converters(app)
    register_input_guards(app)
    # Before the extensions: response hooks run in reverse order, so these headers are
    # set after Flask-Limiter's, which would round a 503's Retry-After down.
    register_response_headers(app)
    register_extensions(app)
    if routes:
        register_rate_limits(app)
        register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)
    register_jobs(app)
    return app


def register_converters(app: Flask) -> None:
    """URL converters, before any route is declared (a route compiles its converters
    when it is added): ``<int:…>`` stays within the database's integers."""
    app.url_map.converters["int"] = DatabaseInteger


#: C0 control characters and DEL: never part of an address this service answers.
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


def register_input_guards(app: Flask) -> None:
    """Refuse control characters in a request's path (404) or query (400) before any
    view, rate limit or database query sees them: PostgreSQL cannot even compare a
    text with NUL in it, and a study slug or a page parameter never holds one."""

    @app.before_request
    def refuse_control_characters() -> None:
        if _CONTROL_CHARACTERS.search(request.path):
            abort(404)
        for name, value in request.args.items(multi=True):
            if _CONTROL_CHARACTERS.search(name) or _CONTROL_CHARACTERS.search(value):
                abort(400, gettext("The address holds a control character."))


def register_extensions(app: Flask) -> None:
    """Bind the extensions to ``app``, and build the keys that seal personal links
    (a malformed ``ELICIT_LINK_KEYS`` stops the start here)."""
    app.extensions[LINK_KEYS_EXTENSION] = config.link_keys(app.config)
    db.init_app(app)
    # After Flask-SQLAlchemy's own teardown, so it runs first (teardowns run in reverse).
    app.teardown_appcontext(end_session_safely)
    with app.app_context():
        for engine in db.engines.values():
            keep_values_out_of_database_errors(engine)
    migrate.init_app(app, db, directory=MIGRATIONS_DIRECTORY, render_as_batch=True)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    app.context_processor(lambda: {"language": str(get_locale())})
    login_manager.init_app(app)
    if app.config["ELICIT_PROXY_HOPS"]:
        hops = app.config["ELICIT_PROXY_HOPS"]
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_prefix=hops
        )


def end_session_safely(error: BaseException | None = None) -> None:
    """End the request's database session even when its connection is dead.

    Flask-SQLAlchemy ends it with a rollback, which on a connection the server has
    just ended (a PostgreSQL restart: ``AdminShutdown``) raises after the response was
    made, so that a request answered 503, or even one whose submission committed, went
    out as a 500.  Here a failed close drops the connection without a rollback
    (nothing uncommitted can survive a dead connection anyway), and the session is
    removed before Flask-SQLAlchemy's teardown finds it.
    """
    del error
    session = db.session()
    try:
        session.close()
    except Exception:
        app_logger = logging.getLogger("elicit")
        app_logger.warning("a database connection broke; it is dropped")
        with suppress(Exception):
            session.invalidate()
    finally:
        db.session.remove()


def register_rate_limits(app: Flask) -> None:
    """Bind the rate limiter (:mod:`elicit.ratelimits`): only an app with routes has
    requests to limit, and the commands' apps spare themselves Flask-Limiter's import."""
    from elicit.ratelimits import limiter

    limiter.init_app(app)


def register_blueprints(app: Flask) -> None:
    """Mount each audience's blueprint."""
    from elicit.api import routes as _api_routes  # noqa: F401 (declares the API's routes)
    from elicit.api.core import blueprint as api
    from elicit.expert.views import blueprint as expert
    from elicit.facilitate.views import blueprint as facilitate
    from elicit.health import blueprint as health
    from elicit.landing import blueprint as landing
    from elicit.metrics import blueprint as metrics

    app.register_blueprint(landing)
    app.register_blueprint(expert)
    app.register_blueprint(facilitate)
    app.register_blueprint(api)
    app.register_blueprint(health)
    app.register_blueprint(metrics)


def _api_errors() -> Any:
    """The API's problem documents (:mod:`elicit.api.core`), imported when an error is
    answered, not with this package: they load pydantic, which no command needs."""
    from elicit.api import core

    return core


def register_errorhandlers(app: Flask) -> None:
    """Render errors as pages that say what happened, with the right status."""

    def render_error(error: Any) -> Any:
        code = getattr(error, "code", 500) or 500
        api = _api_errors()
        if api.is_api_request():
            return api.http_error_as_problem(
                error if isinstance(error, HTTPException) else InternalServerError()
            )
        # Our own descriptions are written for people and translated; the libraries'
        # defaults (Werkzeug, Flask-WTF, Flask-Limiter) are neither, so they are not shown.
        description = getattr(error, "description", None)
        from flask_limiter.errors import RateLimitExceeded  # loaded with the routes

        own = (
            isinstance(error, HTTPException)
            and not isinstance(error, CSRFError | RateLimitExceeded)
            and description != type(error).description
        )
        return render_template(
            "error.html", code=code, description=description if own else None
        ), code

    for code in (400, 401, 403, 404, 405, 409, 413, 422, 429, 500):
        app.register_error_handler(code, render_error)
    app.register_error_handler(CSRFError, render_error)

    def database_unavailable(error: Exception) -> Any:
        # The connection failed or broke (or SQLite's file is locked): a moment's
        # outage, not a fault of the request, so the client is asked to retry.  (Expert
        # pages have their own handler, which keeps what the expert typed.)
        cause = str(getattr(error, "orig", None) or error).strip().splitlines()[0:1]
        app.logger.warning("The database cannot be reached: %s", " ".join(cause))
        # Retry-After: set on every 503 (register_response_headers).
        api = _api_errors()
        if api.is_api_request():
            return api.problem_response(
                api.ApiError(
                    503, "The database cannot be reached just now; try again in a few seconds."
                )
            )
        return render_template("error.html", code=503, description=None), 503

    def value_not_storable(error: DataError) -> Any:
        # A value the database refuses (a text it cannot hold, a number out of its
        # range) that no check caught earlier: the request's fault, answered 400
        # rather than 500.  Every input has its own check; this is the last resort.
        app.logger.warning("The database refused a value: %s", type(error.orig).__name__)
        db.session.rollback()
        message = gettext("The request holds a value that cannot be stored.")
        api = _api_errors()
        if api.is_api_request():
            return api.problem_response(api.ApiError(400, message))
        return render_template("error.html", code=400, description=message), 400

    app.register_error_handler(DataError, value_not_storable)
    app.register_error_handler(OperationalError, database_unavailable)
    app.register_error_handler(InterfaceError, database_unavailable)
    app.register_error_handler(PendingRollbackError, database_unavailable)


def register_response_headers(app: Flask) -> None:
    """Headers that keep personal links out of referrers, scripts out of pages, pages
    out of caches, and tell a client when to retry."""

    @app.after_request
    def add_headers(response: Response) -> Response:
        # Any dynamic page may show a one-time secret (a new link, a new API token) or
        # answers, so none is stored by a browser or proxy unless its view declared it
        # public (the OpenAPI document); send_file's default "no-cache" would still let
        # a download be stored.  Static files keep their own caching.
        if request.endpoint != "static" and not response.cache_control.public:
            response.headers["Cache-Control"] = "no-store"
        if response.status_code == 503:  # the database is unreachable (or not ready)
            response.headers["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        )
        return response


def register_commands(app: Flask) -> None:
    """Add the project's CLI commands to ``elicit`` (Flask's CLI)."""
    from elicit.commands import (
        demo_command,
        export_command,
        links_cli,
        panel_cli,
        round_cli,
        study_cli,
        token_cli,
        user_cli,
        worker_command,
    )

    for command in (
        study_cli,
        panel_cli,
        round_cli,
        user_cli,
        token_cli,
        links_cli,
        export_command,
        demo_command,
        worker_command,
    ):
        app.cli.add_command(command)
