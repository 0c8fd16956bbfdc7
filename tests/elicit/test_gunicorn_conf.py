"""The shipped ``gunicorn.conf.py``: the settings the load benchmark measured, and no
personal link in gunicorn's logs."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from unittest import mock

from gunicorn.config import Config
from sqlalchemy import create_engine

from elicit.config import prepare_metrics_directory, remove_metrics_directory
from surveys.models import Base
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
