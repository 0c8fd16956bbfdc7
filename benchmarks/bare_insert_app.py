"""The floor for ``benchmarks/submit.py``: bare Flask + Flask-SQLAlchemy, one INSERT.

``POST /insert`` with a form field ``n`` inserts one row into ``bench_insert`` in the
database named by ``ELICIT_DATABASE_URL`` (the same database the elicit app uses in the
benchmark), commits, and answers 204.  Served by gunicorn as
``benchmarks.bare_insert_app:app`` with the same settings as ``wsgi:app``.
"""

from __future__ import annotations

import os

from flask import Flask, request
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import BigInteger, Integer, String, create_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

TABLE = "bench_insert"


class Base(DeclarativeBase):
    """Metadata of the one table."""


class BenchInsert(Base):
    """One row per acknowledged request."""

    __tablename__ = TABLE

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    n: Mapped[int] = mapped_column(Integer)
    payload: Mapped[str] = mapped_column(String(200))


db = SQLAlchemy(model_class=Base)


def database_url() -> str:
    """The benchmark database, with the psycopg 3 driver."""
    url = os.environ["ELICIT_DATABASE_URL"]
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def create_table(url: str) -> None:
    """Create ``bench_insert`` (called once by the benchmark, before gunicorn starts)."""
    engine = create_engine(url)
    try:
        Base.metadata.create_all(engine)
    finally:
        engine.dispose()


def create_app() -> Flask:
    """The bare app.  Same engine options as elicit (``pool_pre_ping``) for a fair floor."""
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = database_url()
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {"pool_pre_ping": True}
    db.init_app(app)

    @app.post("/insert")
    def insert() -> tuple[str, int]:
        db.session.add(
            BenchInsert(n=int(request.form["n"]), payload=request.form.get("payload", ""))
        )
        db.session.commit()
        return "", 204

    @app.get("/ping")
    def ping() -> tuple[str, int]:
        return "", 204

    return app


app = create_app() if "ELICIT_DATABASE_URL" in os.environ else None
