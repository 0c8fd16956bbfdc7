"""Commands that compute no statistic start without pandas, scipy, matplotlib, numba,
numpy or pydantic (issue 15, point 7): their imports, and the views' with the API's
schemas, are what made every command cost seconds of CPU.  Nor do they import the rate
limiter (no command limits anything) or, but for the migrations' own, Alembic.

Each command runs as an operator runs it, in a fresh interpreter, under
``python -X importtime``, which names every module imported; timings belong to
``benchmarks/``, not here.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from werkzeug.security import check_password_hash, generate_password_hash

from elicit.cli import MIGRATION_COMMANDS_HELP
from surveys.accounts import _UNKNOWN_USER_HASH
from surveys.demo import demo_source

#: What such a command must not import: the statistics' libraries, and pydantic with the
#: API's schemas and every view (an app made without routes: ``elicit.cli.WITHOUT_ROUTES``).
HEAVY = ("pandas", "scipy", "matplotlib", "numba", "numpy", "pydantic")
#: What only an app with routes needs: Flask-Limiter and its ``limits``.
RATE_LIMITER = ("flask_limiter", "limits")


def _environment(folder: Path) -> dict[str, str]:
    """The environment of a command run on a SQLite file in ``folder``."""
    return {
        **os.environ,
        "ELICIT_DATABASE_URL": f"sqlite:///{folder / 'cli.sqlite3'}",
        "ELICIT_INSTANCE_PATH": str(folder),
        "ELICIT_SECRET_KEY": "cli start-up test " * 3,
    }


def _elicit(
    arguments: list[str], folder: Path, *, stdin: str = "", python: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    """Run ``elicit ARGUMENTS`` in a fresh interpreter (with ``python``'s options)."""
    return subprocess.run(
        [sys.executable, *python, "-c", "from elicit.cli import main; main()", *arguments],
        input=stdin,
        capture_output=True,
        text=True,
        env=_environment(folder),
        cwd=folder,
        timeout=120,
        check=False,
    )


def _imported(arguments: list[str], folder: Path, stdin: str = "") -> set[str]:
    """Run ``elicit ARGUMENTS``; the top-level names of every module it imported."""
    completed = _elicit(arguments, folder, stdin=stdin, python=("-X", "importtime"))
    assert completed.returncode == 0, completed.stderr[-2000:]
    names = set()
    for line in completed.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    assert "flask" in names  # the report is there to read
    return names


def test_commands_without_statistics_import_no_heavy_library(tmp_path):
    study_file = tmp_path / "study.toml"
    study_file.write_text(demo_source(), encoding="utf-8")
    commands: list[tuple[list[str], str]] = [
        (["--help"], ""),
        (["user", "--help"], ""),
        (["db", "upgrade"], ""),
        (["study", "validate", str(study_file)], ""),
        (["study", "load", str(study_file)], ""),
        (["round", "open", "us-mexico-intelligence"], ""),
        (["worker", "--help"], ""),
        (
            ["user", "create", "lead@example.org", "--role", "facilitator"],
            "a long enough password\n",
        ),
    ]
    for arguments, stdin in commands:
        unneeded = {*HEAVY, *RATE_LIMITER}
        if arguments[0] != "db":
            unneeded |= {"alembic", "flask_migrate"}
        imported = sorted(unneeded & _imported(arguments, tmp_path, stdin))
        assert imported == [], f"elicit {' '.join(arguments)} imported {imported}"


def test_the_command_list_gives_the_deferred_commands_their_own_help(tmp_path):
    """``elicit --help`` lists ``db`` and the plugins' commands without importing them
    (``elicit.cli.ElicitGroup.format_commands``): ``db``'s help must stay Flask-Migrate's
    own, and each plugin's command must still be listed, and run, by its name."""
    from flask_migrate.cli import db as migration_commands

    assert migration_commands.get_short_help_str() == MIGRATION_COMMANDS_HELP
    completed = _elicit(["--help"], tmp_path)
    assert completed.returncode == 0, completed.stderr[-2000:]
    listed = {
        line.split(None, 1)[0]: line.split(None, 1)[1]
        for line in completed.stdout.split("Commands:", 1)[1].splitlines()
        if line.strip()
    }
    assert listed["db"] == MIGRATION_COMMANDS_HELP
    assert listed["limiter"] == "Commands of Flask-Limiter (elicit limiter --help)."
    for name in ("study", "panel", "round", "export", "user", "token", "worker", "serve"):
        assert listed.get(name), listed
    plugin = _elicit(["limiter", "--help"], tmp_path)
    assert plugin.returncode == 0, plugin.stderr[-2000:]
    assert "Flask-Limiter maintenance" in plugin.stdout


def test_the_commands_about_the_whole_app_get_every_route(tmp_path):
    """``routes`` (Flask's own, outside ``WITHOUT_ROUTES``) lists the pages and the API:
    only the commands that serve nothing get an app without its blueprints."""
    completed = _elicit(["routes"], tmp_path)
    assert completed.returncode == 0, completed.stderr[-2000:]
    listed = completed.stdout
    for rule in ("/api/v1/openapi.json", "/console/login", "/e/<token>", "/healthz"):
        assert rule in listed, listed


def test_the_unknown_user_hash_is_made_as_new_passwords_are(production_password_method):
    # Written out to spare every command a scrypt at import; it must cost what a real
    # user's hash costs, so its method and parameters must be those new passwords get,
    # werkzeug's default (the tests' own users get cheaper ones: see the conftest).
    method = generate_password_hash("any password").split("$", 1)[0]
    assert production_password_method == method == "scrypt:32768:8:1"
    assert _UNKNOWN_USER_HASH.split("$", 1)[0] == method
    assert check_password_hash(_UNKNOWN_USER_HASH, "not a real password, only for timing")
