"""All configuration, read from the environment.  No other module reads ``os.environ``.

``ELICIT_DATABASE_URL``
    SQLAlchemy URL; default a SQLite file ``elicit.sqlite3`` in the instance folder.
    ``postgresql://…`` is accepted and means the psycopg 3 driver.
``ELICIT_SECRET_KEY``
    Signs session cookies and CSRF tokens; unless ``ELICIT_LINK_KEYS`` is set, the key
    that seals personal links is derived from it.  When unset, a random key is generated once
    and kept in the instance folder (``secret_key``, mode 0600), so that restarts and
    several workers on one host share it; another host would generate its own, so with
    a database server (which several hosts may share) the log and ``/readyz`` warn.  There is no
    built-in key.
``ELICIT_LINK_KEYS``
    Fernet keys that seal personal links (comma-separated, newest first: links are
    sealed with the first and read with any).  When unset, one key is derived from
    the secret key (HKDF-SHA256).  See :mod:`surveys.links` and the README's Security
    section for rotation.
``ELICIT_BASE_URL``
    Public address of the service, used to build personal links.  When unset, links
    point at the local server (``http://127.0.0.1:PORT``).
``ELICIT_INSTANCE_PATH``
    Folder for the SQLite file and the generated key (default: Flask's instance folder).
``ELICIT_RATELIMIT_STORAGE_URL``
    Where rate-limit counters live (default ``memory://``, one process).  With several
    workers or hosts, point them all at one Redis: ``redis://127.0.0.1:6379/0``.  While
    it cannot be reached, each process counts in its own memory (``/readyz``: degraded).
``ELICIT_SMTP_URL``
    Mail server for invitations and reminders, e.g.
    ``smtp://user:password@mail.example.org:587?starttls=1`` (user and password
    percent-encoded; ``starttls=1`` upgrades the connection).  When unset, messages wait
    in the console's outbox, with their links, for the facilitator to send by hand.
``ELICIT_QUEUE_URL``
    The Redis that carries delivery jobs and the jobs that write large studies' exports
    (``redis://127.0.0.1:6379/1``), shared by every web host and run by ``elicit
    worker`` processes (:mod:`elicit.jobs`).  When unset,
    jobs run in a thread of each web process.  Not ``ELICIT_RATELIMIT_STORAGE_URL``:
    rate-limit counters may be lost or evicted at no cost (a Redis for them may run
    ``allkeys-lru``, and the service falls back to memory without it), jobs may not.
``ELICIT_MAIL_FROM``
    Sender address of those messages (default: the SMTP user, else
    ``elicit@<SMTP host>``).
``ELICIT_PROXY_HOPS``
    Number of reverse proxies in front of the service whose ``X-Forwarded-*`` headers
    are trusted (default 0).  Rate limits key on the client address this reveals; with
    0 behind a proxy they would key on the proxy, so ``X-Forwarded-For`` arriving then
    is warned about (once per process, and on ``/readyz``).
``ELICIT_LOG_FORMAT``
    ``text`` (default) or ``json``: one JSON object per line for every log record of
    the process, gunicorn's included (:class:`elicit.logs.JsonFormatter`), for log
    shippers.  Personal links and tokens are redacted in both.
``ELICIT_METRICS_TOKEN``
    The bearer token that ``GET /metrics`` (Prometheus's text format, :mod:`elicit.metrics`)
    asks for; unset, the endpoint does not exist (404).
``PROMETHEUS_MULTIPROC_DIR``
    prometheus_client's own variable: the folder where each gunicorn worker writes its
    metrics, so that a scrape adds them up.  ``gunicorn.conf.py`` sets it to a fresh
    temporary folder (:func:`prepare_metrics_directory`); an operator may name one.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Mapping
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Any

from surveys.links import InvalidLinkKeys, LinkKeys

DEFAULT_BASE_URL = "http://127.0.0.1:5000"
SECRET_KEY_FILE = "secret_key"  # noqa: S105 - a file name, not a secret


def instance_path() -> str | None:
    """The instance folder chosen in the environment, or ``None`` for Flask's default."""
    return os.environ.get("ELICIT_INSTANCE_PATH") or None


#: The values ``ELICIT_LOG_FORMAT`` may take.
LOG_FORMATS = ("text", "json")


def log_format() -> str:
    """How log records are written: ``text`` or ``json`` (``ELICIT_LOG_FORMAT``).

    Read apart from :func:`load` too, because gunicorn's settings need it before any
    app exists.  Any other value stops the start with a message that names the variable.
    """
    value = (os.environ.get("ELICIT_LOG_FORMAT") or "text").strip().lower()
    if value not in LOG_FORMATS:
        raise ValueError(
            f"ELICIT_LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}, not {value!r}"
        )
    return value


#: prometheus_client's variable for its multiprocess mode.
METRICS_DIRECTORY_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


@cache
def prepare_metrics_directory() -> tuple[Path, bool]:
    """Give prometheus_client's multiprocess mode an empty folder, once per process, and
    say whether it was made here (to be removed at exit) or named by the operator.

    Called by ``gunicorn.conf.py`` before any worker starts or imports prometheus_client
    (which reads the variable when it is imported); the workers inherit it.  A folder
    the operator named is emptied of the values of a previous run, as prometheus_client
    requires: a dead run's counters would otherwise be added to this one's.  Once per
    process, because gunicorn reads its settings again on SIGHUP while the workers'
    files are live.
    """
    named = os.environ.get(METRICS_DIRECTORY_VARIABLE)
    if named:
        folder = Path(named)
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("*.db"):
            stale.unlink()
        return folder, False
    folder = Path(tempfile.mkdtemp(prefix="elicit-metrics-"))
    os.environ[METRICS_DIRECTORY_VARIABLE] = str(folder)
    return folder, True


def remove_metrics_directory() -> None:
    """Remove the folder :func:`prepare_metrics_directory` made (at the server's exit)."""
    folder, made_here = prepare_metrics_directory()
    if made_here:
        shutil.rmtree(folder, ignore_errors=True)


def load(instance_folder: str, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Build the app's configuration from the environment, then apply ``overrides``.

    Tests pass their settings as ``overrides`` instead of touching the environment.
    """
    overrides = dict(overrides or {})
    folder = Path(instance_folder)
    database_url = overrides.pop("SQLALCHEMY_DATABASE_URI", None) or os.environ.get(
        "ELICIT_DATABASE_URL"
    )
    if not database_url:
        folder.mkdir(parents=True, exist_ok=True)
        database_url = f"sqlite:///{folder / 'elicit.sqlite3'}"
    secret_key = overrides.pop("SECRET_KEY", None) or os.environ.get("ELICIT_SECRET_KEY")
    base_url = (os.environ.get("ELICIT_BASE_URL") or "").rstrip("/") or None
    config: dict[str, Any] = {
        "SQLALCHEMY_DATABASE_URI": normalise_database_url(database_url),
        "SECRET_KEY": secret_key or stored_secret_key(folder),
        # A key generated into the instance folder is this host's alone (/readyz says so
        # when the database is a server that other hosts may share).
        "ELICIT_SECRET_KEY_GENERATED": not secret_key,
        "ELICIT_LINK_KEYS": os.environ.get("ELICIT_LINK_KEYS") or None,
        "ELICIT_BASE_URL": base_url,
        "ELICIT_SMTP_URL": os.environ.get("ELICIT_SMTP_URL") or None,
        "ELICIT_MAIL_FROM": os.environ.get("ELICIT_MAIL_FROM") or None,
        "ELICIT_PROXY_HOPS": int(os.environ.get("ELICIT_PROXY_HOPS") or 0),
        "ELICIT_LOG_FORMAT": log_format(),
        "ELICIT_METRICS_TOKEN": (os.environ.get("ELICIT_METRICS_TOKEN") or "").strip() or None,
        METRICS_DIRECTORY_VARIABLE: os.environ.get(METRICS_DIRECTORY_VARIABLE) or None,
        "RATELIMIT_STORAGE_URI": os.environ.get("ELICIT_RATELIMIT_STORAGE_URL") or "memory://",
        # Should the store (Redis) become unreachable, each process counts limits in its
        # own memory until it answers again, instead of refusing every request that has
        # a limit; Flask-Limiter logs the change once, and /readyz reports "degraded".
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "RATELIMIT_SWALLOW_ERRORS": True,
        "RATELIMIT_HEADERS_ENABLED": True,
        # Failed link look-ups per client address: enough for typos, too few for guessing.
        "ELICIT_LINK_LOOKUP_LIMIT": "10 per minute;50 per day",
        # The session cookie is Secure whenever the public address is HTTPS.
        "SESSION_COOKIE_SECURE": bool(base_url and base_url.startswith("https://")),
        "PERMANENT_SESSION_LIFETIME": timedelta(days=30),
        # A console login lasts a working day, however long the cookie lives.
        "ELICIT_LOGIN_LIFETIME": timedelta(hours=8),
        "ELICIT_LOGIN_LIMIT": "5 per minute;30 per hour",
        # Refused API tokens per client address.
        "ELICIT_API_AUTH_LIMIT": "20 per minute;200 per day",
        "ELICIT_QUEUE_URL": os.environ.get("ELICIT_QUEUE_URL") or None,
        # How often a worker (or the web process, without a queue) looks in the outbox
        # for retries that are due and messages a dead worker or a lost job left.
        "ELICIT_SWEEP_INTERVAL": timedelta(seconds=30),
        # Responses (weighted by format: surveys.prepared_exports.FORMAT_WEIGHTS) up to
        # which an export is written while the client waits: about 15 s for a CSV zip
        # here, far inside the web server's limits even on a loaded machine.  Past it,
        # the export is prepared by a job (surveys.prepared_exports).
        "ELICIT_EXPORT_INLINE_LIMIT": 200_000,
        # Answers to read (the round's and the previous round's submitted panelists
        # times the items) up to which the close's page computes its preview at each
        # visit: about 0.6 s here (2.3 s for 75,600 on SQLite).  Past it, a job
        # computes it and the page keeps it (surveys.close_previews).
        "ELICIT_CLOSE_PREVIEW_INLINE_LIMIT": 20_000,
        # No error message (a log line, a CLI traceback, an error page) may carry a
        # statement's parameters: answers, rationales, emails.
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True, "hide_parameters": True},
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "WTF_CSRF_TIME_LIMIT": None,
        "BABEL_DEFAULT_LOCALE": "en",
        "MAX_CONTENT_LENGTH": 2 * 1024 * 1024,
    }
    config.update(overrides)
    if str(config["RATELIMIT_STORAGE_URI"]).startswith("redis"):  # redis, rediss, redis+unix
        # An unreachable store costs a request at most a second, not the system's
        # TCP timeout.
        config.setdefault(
            "RATELIMIT_STORAGE_OPTIONS", {"socket_connect_timeout": 1, "socket_timeout": 1}
        )
    url = str(config["SQLALCHEMY_DATABASE_URI"])
    if url.startswith("postgresql") and "connect_timeout" not in url:
        # An unreachable server fails a request (503) in seconds, within any proxy's
        # patience, instead of after the system's TCP timeout.
        options = config["SQLALCHEMY_ENGINE_OPTIONS"] = dict(config["SQLALCHEMY_ENGINE_OPTIONS"])
        options["connect_args"] = {"connect_timeout": 5, **options.get("connect_args", {})}
    return config


def link_keys(config: Mapping[str, Any]) -> LinkKeys:
    """The keys that seal personal links: ``ELICIT_LINK_KEYS`` if set, else one derived
    from the secret key.  A malformed list stops the start with a message that names
    the variable and the entry's position, never a key."""
    setting = config.get("ELICIT_LINK_KEYS")
    if not setting:
        return LinkKeys.derived_from(str(config["SECRET_KEY"]))
    try:
        return LinkKeys.from_setting(str(setting))
    except InvalidLinkKeys as error:
        raise ValueError(f"ELICIT_LINK_KEYS: {error}") from None


def normalise_database_url(url: str) -> str:
    """Select psycopg 3 for plain ``postgresql://`` URLs (psycopg2 is not installed)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def stored_secret_key(folder: Path) -> str:
    """Read the instance folder's secret key, creating it on first use.

    The key is written to a temporary file and linked into place in one step, so that
    workers starting together never read a half-written key: one link wins, the others
    read what it wrote.
    """
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / SECRET_KEY_FILE
    if not path.exists():
        temporary = folder / f".{SECRET_KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_hex(32))
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass  # another worker was first; use its key
        finally:
            temporary.unlink()
    return path.read_text().strip()
