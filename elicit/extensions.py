"""Flask extensions, created unbound and initialised in :func:`elicit.create_app`."""

from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect

from surveys.database import configure_connections
from surveys.models import Base

# SQLite in WAL mode with a busy timeout, on every engine (see surveys.database).
configure_connections()

# Objects stay readable after a commit instead of being reloaded attribute by attribute:
# a request commits once and is over, and the reloads doubled a submission's queries.
db = SQLAlchemy(metadata=Base.metadata, session_options={"expire_on_commit": False})
migrate = Migrate()
csrf = CSRFProtect()
babel = Babel()
limiter = Limiter(key_func=get_remote_address)
login_manager = LoginManager()
login_manager.login_view = "facilitate.login"
