"""A deployment as the README's "Deployment" section describes it, on one machine.

Web hosts are ``elicit serve`` processes, each with its own gunicorn workers, instance
folder and port; the balancer is Debian's nginx running the README's own configuration
(``/etc/nginx/conf.d/elicit.conf`` there), read from the README, with the hosts'
addresses and the listening port put in; they share one PostgreSQL database and one
Redis.  Used by ``tests/e2e/test_scale_out_deployment.py`` and
``benchmarks/scale_out.py``.

Every process is started in a session of its own and stopped by its own process id:
SIGTERM (gunicorn's arbiter stops its workers gracefully, nginx its workers), and, should
it hang, SIGKILL of that process group only.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
NGINX = Path("/usr/sbin/nginx")
ELICIT = Path(sys.executable).with_name("elicit")
#: The README's example addresses of the web hosts, and its listening line.
_EXAMPLE_HOST = re.compile(r"^\s*server\s+\S+:\d+;.*$")
_LISTEN = re.compile(r"^(\s*)listen\s+80;")
#: Where the README's configuration writes its logs.
_LOG_FOLDER = "/var/log/nginx/"


def free_port() -> int:
    """A TCP port nobody listens on now, on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def readme_nginx_site() -> str:
    """The nginx configuration the README gives (from ``upstream elicit {`` to the end of
    its ``server`` block), as written there."""
    lines = README.read_text(encoding="utf-8").splitlines()
    start = next(n for n, line in enumerate(lines) if line.strip() == "upstream elicit {")
    indent = len(lines[start]) - len(lines[start].lstrip())
    block = []
    for line in lines[start:]:
        if line.strip() and len(line) - len(line.lstrip()) < indent:
            break
        block.append(line)
    return textwrap.dedent("\n".join(block)).strip() + "\n"


def nginx_site(hosts: list[str], port: int, folder: Path) -> str:
    """The README's configuration with ``hosts`` (``127.0.0.1:8001``…) as the upstream
    servers, nginx listening on loopback ``port``, and its logs in ``folder``."""
    lines, placed = [], False
    for line in readme_nginx_site().splitlines():
        if _EXAMPLE_HOST.match(line):
            if not placed:
                prefix = line[: len(line) - len(line.lstrip())]
                lines += [f"{prefix}server {host};" for host in hosts]
                placed = True
            continue
        line = line.replace(_LOG_FOLDER, f"{folder}/")
        lines.append(_LISTEN.sub(rf"\1listen 127.0.0.1:{port};", line))
    assert placed, "the README's upstream block names no host"
    assert any(f"listen 127.0.0.1:{port};" in line for line in lines), "no 'listen 80;'"
    return "\n".join(lines) + "\n"


def nginx_config(site: str, folder: Path) -> str:
    """A whole nginx.conf around ``site``, as Debian's /etc/nginx/nginx.conf includes
    conf.d, but with every file in ``folder`` and the process in the foreground."""
    user = "user root root;\n" if os.geteuid() == 0 else ""  # temporary files in folder
    paths = "".join(
        f"    {kind}_temp_path {folder / kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return (
        f"{user}daemon off;\nworker_processes 1;\npid {folder / 'nginx.pid'};\n"
        f"error_log {folder / 'error.log'} warn;\n"
        "events { worker_connections 1024; }\n"
        "http {\n"
        f"{paths}" + textwrap.indent(site, "    ") + "}\n"
    )


@dataclass
class Started:
    """A process started here, with its log."""

    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        """SIGTERM; SIGKILL of its own process group if it has not ended in 30 s."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=30)

    def output(self) -> str:
        """What the process wrote so far."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def _start(command: list[str], log: Path, env: Mapping[str, str] | None = None) -> Started:
    with log.open("ab") as output:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=dict(env) if env is not None else None,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Started(process, log)


def wait_until_answering(url: str, started: Started, timeout_s: float = 60.0) -> None:
    """Wait until ``url`` answers 200; fail with the process's output if it exits or
    does not answer in time."""
    deadline = time.monotonic() + timeout_s
    while True:
        if started.process.poll() is not None:
            raise RuntimeError(f"{url}: the process exited:\n{started.output()}")
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:
                if answer.status == 200:
                    return
        except urllib.error.HTTPError as answer:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} answered {answer.code}:\n{started.output()}") from None
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer in {timeout_s} s:\n{started.output()}")
        time.sleep(0.1)


def host_environment(
    database_url: str, redis_url: str, secret_key: str, base_url: str, instance: Path
) -> dict[str, str]:
    """The environment every web host of the site shares (the README's list), with an
    instance folder of the host's own: nothing may depend on it being shared."""
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("ELICIT_") and name != "PROMETHEUS_MULTIPROC_DIR"
    }
    environment.update(
        ELICIT_DATABASE_URL=database_url,
        ELICIT_SECRET_KEY=secret_key,
        ELICIT_RATELIMIT_STORAGE_URL=redis_url,
        ELICIT_BASE_URL=base_url,
        ELICIT_PROXY_HOPS="1",
        ELICIT_INSTANCE_PATH=str(instance),
        # This checkout's code, whichever checkout the virtualenv was installed from.
        PYTHONPATH=str(ROOT),
    )
    return environment


@contextmanager
def web_hosts(
    count: int, environment: Mapping[str, str], folder: Path, *, workers: int | None = None
) -> Iterator[list[str]]:
    """``count`` hosts (``elicit serve`` on free loopback ports, ``workers`` each, else
    the shipped setting), each with its own instance folder; yield their ``host:port``
    once all answer ``/readyz``; stop them all afterwards."""
    started: list[Started] = []
    addresses: list[str] = []
    try:
        for number in range(count):
            address = f"127.0.0.1:{free_port()}"
            instance = folder / f"host-{number}"
            instance.mkdir(parents=True, exist_ok=True)
            command = [str(ELICIT), "serve", "--bind", address]
            if workers is not None:
                command += ["--workers", str(workers)]
            env = {**environment, "ELICIT_INSTANCE_PATH": str(instance)}
            started.append(_start(command, instance / "gunicorn.log", env))
            addresses.append(address)
        for address, host in zip(addresses, started, strict=True):
            wait_until_answering(f"http://{address}/readyz", host)
        yield addresses
    finally:
        for host in started:
            host.stop()


@dataclass(frozen=True)
class Balancer:
    """nginx in front of the hosts: its address, and its access log (the README's
    format, which ends with the host that answered)."""

    url: str
    access_log: Path

    def upstreams(self) -> list[str]:
        """The host (``127.0.0.1:port``) that answered each request so far, in order."""
        if not self.access_log.exists():
            return []
        return [line.rsplit(" ", 1)[-1] for line in self.access_log.read_text().splitlines()]


@contextmanager
def nginx(hosts: list[str], folder: Path) -> Iterator[Balancer]:
    """Debian's nginx with the README's configuration in front of ``hosts``, on a free
    loopback port; yield it once it answers; stop it afterwards."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = folder / "nginx.conf"
    config.write_text(nginx_config(nginx_site(hosts, port, folder), folder))
    command = [str(NGINX), "-p", str(folder), "-e", str(folder / "error.log"), "-c", str(config)]
    checked = subprocess.run([*command, "-t"], capture_output=True, text=True, check=False)
    if checked.returncode != 0:
        raise RuntimeError(
            f"nginx refuses the configuration:\n{checked.stderr}\n{config.read_text()}"
        )
    started = _start(command, folder / "nginx.out")
    balancer = Balancer(f"http://127.0.0.1:{port}", folder / "elicit.access.log")
    try:
        wait_until_answering(f"{balancer.url}/healthz", started)
        yield balancer
    finally:
        started.stop()


def postgresql_server_url() -> str:
    """The PostgreSQL server to make a database in: ``ELICIT_TEST_DATABASE_URL``'s when it
    names one, else the one at 127.0.0.1:5432 (which CI always runs)."""
    named = os.environ.get("ELICIT_TEST_DATABASE_URL", "")
    if named.startswith(("postgresql", "postgres:")):
        return named
    return "postgresql://postgres@127.0.0.1:5432/postgres"


def _libpq(url: str) -> str:
    """``url`` as libpq (psycopg) reads it: no driver name, no SQLAlchemy options."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url).set(drivername="postgresql").set(query={})
    return parsed.render_as_string(hide_password=False)


@contextmanager
def postgresql_database(server_url: str, prefix: str) -> Iterator[str]:
    """A new, empty database on ``server_url``'s server; yield its SQLAlchemy URL; drop
    it afterwards (and any connection left to it)."""
    import psycopg
    from sqlalchemy.engine import make_url

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = _libpq(server_url)
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    url = make_url(server_url).set(drivername="postgresql+psycopg", database=name, query={})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]


def create_schema_at_head(database_url: str) -> None:
    """The tables as ``elicit db upgrade`` leaves them, made from the models and stamped
    with the migrations' head (``tests/test_migrations.py`` checks that the two agree),
    in a fraction of the migrations' time."""
    from alembic.script import ScriptDirectory
    from sqlalchemy import create_engine, text

    from elicit import MIGRATIONS_DIRECTORY
    from surveys.models import Base

    (head,) = ScriptDirectory(MIGRATIONS_DIRECTORY).get_heads()
    engine = create_engine(database_url)
    try:
        Base.metadata.create_all(engine)
        with engine.begin() as connection:
            connection.execute(
                text("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)")
            )
            connection.execute(text("INSERT INTO alembic_version VALUES (:head)"), {"head": head})
    finally:
        engine.dispose()
