"""The rate limiter of the pages and the API (Flask-Limiter), bound to an app with its
routes (:func:`elicit.create_app`).

It lives apart from :mod:`elicit.extensions` because only an app that serves requests
needs it: a command of the CLI makes its app without routes, and importing
Flask-Limiter (with ``limits`` and its asynchronous storages) was a tenth of such a
command's start-up (issue 15, point 7).
"""

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

limiter = Limiter(key_func=get_remote_address)
