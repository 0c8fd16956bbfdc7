"""The shipped ``gunicorn.conf.py``: the settings the load benchmark measured, and no
personal link in gunicorn's logs."""

from __future__ import annotations

import hashlib
import os
import random
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zlib
from datetime import UTC, datetime
from pathlib import Path
from unittest import mock

from gunicorn.config import Config
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from elicit.config import prepare_metrics_directory, remove_metrics_directory
from surveys.accounts import create_user, grant_access
from surveys.api_tokens import create_token
from surveys.definition import parse_definition
from surveys.demo import demo_source
from surveys.models import Base, PreparedExport, PreparedExportChunk, PreparedStatus
from surveys.studies import load_study
from tests.elicit.test_rate_limit_store import private_redis, shut_down  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = Path(sys.executable).with_name("gunicorn")


def _settings() -> Config:
    config = Config()
    namespace: dict[str, object] = {"__file__": str(ROOT / "gunicorn.conf.py")}
    # The file makes a metrics folder and names it in the environment, as it does for
    # gunicorn's workers: here both are undone, for the tests that follow.
    with mock.patch.dict(os.environ):
        os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
        prepare_metrics_directory.cache_clear()
        code = compile((ROOT / "gunicorn.conf.py").read_text(), "gunicorn.conf.py", "exec")
        exec(code, namespace)
        remove_metrics_directory()
        prepare_metrics_directory.cache_clear()
    for name, value in namespace.items():
        if name in config.settings:
            config.set(name, value)
    return config


def test_the_settings_are_sync_workers_two_per_core_plus_one():
    config = _settings()
    assert config.worker_class_str == "sync"
    assert config.workers == 2 * len(os.sched_getaffinity(0)) + 1
    assert config.timeout == 120
    assert config.wsgi_app == "wsgi:app"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_gunicorn_serves_the_app_and_logs_no_personal_link(tmp_path, private_redis):  # noqa: F811
    database = tmp_path / "elicit.sqlite3"
    engine = create_engine(f"sqlite:///{database}")
    Base.metadata.create_all(engine)
    engine.dispose()
    access_log, error_log = tmp_path / "access.log", tmp_path / "error.log"
    port = _free_port()
    env = {
        **os.environ,
        "ELICIT_DATABASE_URL": f"sqlite:///{database}",
        "ELICIT_SECRET_KEY": secrets.token_hex(32),
        "ELICIT_INSTANCE_PATH": str(tmp_path),
        "ELICIT_RATELIMIT_STORAGE_URL": f"redis://127.0.0.1:{private_redis}/0",
    }
    server = subprocess.Popen(
        [
            str(GUNICORN),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--access-logfile",
            str(access_log),
            "--error-logfile",
            str(error_log),
        ],
        cwd=ROOT,
        env=env,
    )
    token = secrets.token_urlsafe(32)
    try:
        status = None
        deadline = time.monotonic() + 60
        while status is None and time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/e/{token}", timeout=5)
            except urllib.error.HTTPError as answer:
                status = answer.code
            except OSError:
                assert server.poll() is None, error_log.read_text()
                time.sleep(0.2)
        assert status == 404, "an unknown link is refused"
        # Libraries' warnings reach gunicorn's error log too: with the rate-limit
        # store gone, Flask-Limiter's "falling back to memory" (it went nowhere: the
        # library's logger has only a NullHandler).
        shut_down(private_redis)
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/e/{token}", timeout=10)
        except urllib.error.HTTPError as answer:
            assert answer.code == 404, "the limit falls back to memory, links still work"
    finally:
        server.terminate()
        server.wait(timeout=30)
    logged = access_log.read_text()
    assert "GET /e/<token> HTTP/1.1" in logged
    assert token not in logged
    assert token not in error_log.read_text()
    assert "falling back to in-memory storage" in error_log.read_text()


def test_a_slow_client_gets_a_prepared_file_for_longer_than_the_worker_timeout(tmp_path):
    """A prepared export of many megabytes, sent to a client that reads slowly, keeps
    its sync worker busy past gunicorn's timeout (2 s here, 120 s shipped): the worker
    tells gunicorn it is alive after each slice (``elicit.serving.keep_alive``), so it is
    not killed part-way, and the client gets every byte."""
    database = tmp_path / "elicit.sqlite3"
    engine = create_engine(f"sqlite:///{database}")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        text = demo_source()
        study = load_study(session, parse_definition(text, name="demo"), text)
        user = create_user(session, "analyst@example.org", "a long enough password", "researcher")
        grant_access(session, user, study)
        secret = create_token(session, user, "t", "read").secret
        content = random.Random(5).randbytes(12 << 20)  # incompressible
        export = PreparedExport(
            study_id=study.id,
            format="json",
            status=PreparedStatus.READY,
            finished_at=datetime.now(UTC),
            media_type="application/json",
            filename="big.json",
            size=len(content),
            sha256=hashlib.sha256(content).hexdigest(),
        )
        session.add(export)
        session.flush()
        for number, start in enumerate(range(0, len(content), 1 << 20)):
            piece = zlib.compress(content[start : start + (1 << 20)], 1)
            session.add(PreparedExportChunk(export_id=export.id, number=number, data=piece))
        session.commit()
        address = f"/api/v1/studies/{study.slug}/exports/{export.id}/file"
    engine.dispose()
    error_log, port = tmp_path / "error.log", _free_port()
    env = {
        **os.environ,
        "ELICIT_DATABASE_URL": f"sqlite:///{database}",
        "ELICIT_SECRET_KEY": secrets.token_hex(32),
        "ELICIT_INSTANCE_PATH": str(tmp_path),
    }
    server = subprocess.Popen(
        [
            str(GUNICORN),
            *("--bind", f"127.0.0.1:{port}", "--workers", "1", "--timeout", "2"),
            *("--error-logfile", str(error_log)),
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5)
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, error_log.read_text()
                time.sleep(0.2)
        started = time.monotonic()
        with socket.socket() as client:
            client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 << 10)
            client.connect(("127.0.0.1", port))
            client.sendall(
                f"GET {address} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {secret}\r\n"
                "Connection: close\r\n\r\n".encode()
            )
            received = bytearray()
            while chunk := client.recv(16 << 10):
                received += chunk
                time.sleep(0.01)  # about 1.6 MB/s at most: several seconds in all
        took = time.monotonic() - started
    finally:
        server.terminate()
        server.wait(timeout=30)
    head, _, body = bytes(received).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    assert f"content-length: {len(content)}".encode() in head.lower()
    assert "WORKER TIMEOUT" not in error_log.read_text()
    assert len(body) == len(content)
    assert hashlib.sha256(body).digest() == hashlib.sha256(content).digest()
    # And the test means something: the worker was busy for twice its timeout.
    assert took > 2 * 2, f"the download took {took:.1f} s, not past the timeout"
