"""Flask extensions, created unbound and initialised in :func:`elicit.create_app`."""

from typing import Any

from flask import Flask, current_app
from flask_babel import Babel
from flask_login import LoginManager
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect

from surveys.database import configure_connections
from surveys.links import LinkKeys
from surveys.models import Base

# SQLite in WAL mode with a busy timeout, on every engine (see surveys.database).
configure_connections()

# Objects stay readable after a commit instead of being reloaded attribute by attribute:
# a request commits once and is over, and the reloads doubled a submission's queries.
db = SQLAlchemy(metadata=Base.metadata, session_options={"expire_on_commit": False})


class DeferredMigrateConfig:
    """What Flask-Migrate keeps in ``app.extensions["migrate"]``, without importing it.

    Flask-Migrate imports Alembic (and through it Mako and Pygments), half a second of
    CPU that every command and every worker paid at start-up.  The migration folder and
    the database (all the health check and ``migrations/env.py`` read) are here; any
    other attribute, which only a migration command reads, sets Flask-Migrate up for
    real (it then replaces this object) and is read from it.
    """

    def __init__(self, app: Flask, database: Any, directory: str, options: dict[str, Any]):
        self.db = database
        self.directory = directory
        self._app = app
        self._options = options

    def __getattr__(self, name: str) -> Any:
        """Set Flask-Migrate up on first use of anything else, and read from it."""
        from flask_migrate import Migrate

        Migrate(self._app, self.db, directory=self.directory, **self._options)
        return getattr(self._app.extensions["migrate"], name)


class DeferredMigrate:
    """Flask-Migrate's ``Migrate``, set up when first needed (see
    :class:`DeferredMigrateConfig`); its ``db`` commands come through the CLI
    (:class:`elicit.cli.ElicitGroup`)."""

    def init_app(self, app: Flask, database: Any, *, directory: str, **options: Any) -> None:
        """Keep what Flask-Migrate needs, import nothing."""
        app.extensions["migrate"] = DeferredMigrateConfig(app, database, directory, options)


migrate = DeferredMigrate()
csrf = CSRFProtect()
#: A short date and time is written ISO-style in every language (2026-12-03 18:10), not
#: the locale's short form: "12/3/26, 6:10 PM" reads as 12 March in Mexico and most of
#: the world, and the console's short times date records (the protocol stamp,
#: amendments, the audit log, deliveries) that a reader must not misread.
babel = Babel(date_formats={**Babel.default_date_formats, "datetime.short": "yyyy-MM-dd HH:mm"})
login_manager = LoginManager()
login_manager.login_view = "facilitate.login"

#: Where the app keeps its :class:`~surveys.links.LinkKeys`, built once at start.
LINK_KEYS_EXTENSION = "elicit_link_keys"


def current_link_keys() -> LinkKeys:
    """The keys that seal this app's personal links (``ELICIT_LINK_KEYS``, else derived
    from the secret key), for the domain calls that issue, send or show a link."""
    keys: LinkKeys = current_app.extensions[LINK_KEYS_EXTENSION]
    return keys
