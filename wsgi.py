"""WSGI entry point: `gunicorn wsgi:app`."""

from elicit import create_app

app = create_app()
