"""``elicit serve``: gunicorn with the shipped settings, from any working directory,
stopped cleanly by SIGTERM (issue 15, point 6)."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.elicit.test_cli_startup import _imported

ELICIT = Path(sys.executable).with_name("elicit")


def free_port() -> int:
    """A TCP port nothing listens on just now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(url: str, server: subprocess.Popen[bytes], log: Path) -> int:
    """The status of the first answer ``url`` gives, waiting for the server to listen."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:
                return int(answer.status)
        except urllib.error.HTTPError as answer:
            answer.close()
            return int(answer.code)
        except OSError:
            assert server.poll() is None, log.read_text()
            time.sleep(0.2)
    raise AssertionError(f"{url} never answered:\n{log.read_text()}")


@contextmanager
def serving(
    folder: Path, *arguments: str, env: dict[str, str] | None = None
) -> Iterator[tuple[str, subprocess.Popen[bytes], Path]]:
    """Run ``elicit serve --bind 127.0.0.1:PORT ARGUMENTS`` in ``folder`` (a folder
    without gunicorn.conf.py or wsgi.py) on a SQLite database there; yield its address,
    process and log, once it answers; SIGTERM it afterwards if it still runs."""
    port = free_port()
    log = folder / "serve.log"
    environment = {
        **os.environ,
        "ELICIT_DATABASE_URL": f"sqlite:///{folder / 'elicit.sqlite3'}",
        "ELICIT_SECRET_KEY": secrets.token_hex(32),
        "ELICIT_INSTANCE_PATH": str(folder),
        **(env or {}),
    }
    with log.open("wb") as output:
        server = subprocess.Popen(
            [str(ELICIT), "serve", "--bind", f"127.0.0.1:{port}", *arguments],
            cwd=folder,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    address = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{address}/healthz", server, log)
        yield address, server, log
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=60)


def test_serve_answers_from_any_folder_and_stops_cleanly_on_sigterm(tmp_path):
    assert not (tmp_path / "gunicorn.conf.py").exists()
    with serving(tmp_path, "--workers", "2") as (address, server, log):
        with urllib.request.urlopen(f"{address}/healthz", timeout=10) as answer:
            assert answer.status == 200
            assert answer.read() == b'{"status":"ok"}\n'
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=60) == 0, log.read_text()
    logged = log.read_text()
    assert logged.count("Booting worker with pid") == 2  # --workers reached gunicorn
    assert "Using worker: sync" in logged  # the shipped settings, read by their path
    assert "Shutting down: Master" in logged
    assert "Traceback" not in logged


def test_serve_refuses_a_worker_count_below_one(tmp_path):
    completed = subprocess.run(
        [str(ELICIT), "serve", "--workers", "0"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 2
    assert "'--workers' / '-w': must be at least 1" in completed.stderr


def test_the_command_list_imports_no_gunicorn(tmp_path):
    # elicit --help names `serve` without importing gunicorn: only running it does; nor
    # does the app it builds import prometheus_client: a request does (elicit.metrics).
    imported = _imported(["--help"], tmp_path)
    assert "gunicorn" not in imported
    assert "prometheus_client" not in imported


def test_serve_names_a_wrong_log_format_instead_of_starting(tmp_path):
    completed = subprocess.run(
        [str(ELICIT), "serve", "--bind", f"127.0.0.1:{free_port()}"],
        cwd=tmp_path,
        env={**os.environ, "ELICIT_LOG_FORMAT": "yaml"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 1
    assert "Error: ELICIT_LOG_FORMAT must be one of text, json, not 'yaml'" in completed.stderr
    assert "Traceback" not in completed.stderr


def test_two_servers_on_one_machine_each_keep_their_own_control_socket(tmp_path):
    """gunicorn's control socket (``gunicornc``) is one per user by default: two web
    hosts on one machine would share it, the second taking it from the first and the
    first removing it at exit.  Each ``elicit serve`` gets one named after its address,
    which answers for that server alone and outlives the other."""
    run = tmp_path / "run"
    run.mkdir(mode=0o700)
    gunicornc = Path(sys.executable).with_name("gunicornc")
    environment = {"XDG_RUNTIME_DIR": str(run)}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()

    def arbiter_of(socket_path: Path) -> int:
        shown = subprocess.run(
            [str(gunicornc), "-s", str(socket_path), "-c", "show stats", "-j"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        return int(json.loads(shown.stdout)["pid"])

    with (
        serving(tmp_path / "a", "--workers", "1", env=environment) as (first, one, _),
        serving(tmp_path / "b", "--workers", "1", env=environment) as (second, two, _),
    ):
        sockets = {
            address: run / f"elicit-{address.removeprefix('http://').replace(':', '-')}.ctl"
            for address in (first, second)
        }
        deadline = time.monotonic() + 30
        while not all(path.exists() for path in sockets.values()):
            assert time.monotonic() < deadline, sorted(run.iterdir())
            time.sleep(0.2)
        assert arbiter_of(sockets[first]) == one.pid
        assert arbiter_of(sockets[second]) == two.pid
        assert not (run / "gunicorn.ctl").exists()
        one.send_signal(signal.SIGTERM)
        one.wait(timeout=60)
        assert arbiter_of(sockets[second]) == two.pid  # the other's exit left it
        assert not sockets[first].exists()
