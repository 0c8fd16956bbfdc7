"""Configuration comes from the environment only, with no built-in secret."""

from __future__ import annotations

import pytest

from elicit import config


@pytest.fixture
def clean_environment(monkeypatch):
    """No ELICIT_* variable set."""
    for name in ("ELICIT_DATABASE_URL", "ELICIT_SECRET_KEY", "ELICIT_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_defaults_use_the_instance_folder(clean_environment, tmp_path):
    settings = config.load(str(tmp_path))
    assert settings["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'elicit.sqlite3'}"
    assert settings["ELICIT_BASE_URL"] is None
    key = (tmp_path / "secret_key").read_text()
    assert settings["SECRET_KEY"] == key
    assert len(key) == 64
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_generated_secret_key_is_kept_across_starts(clean_environment, tmp_path):
    first = config.load(str(tmp_path))["SECRET_KEY"]
    assert config.load(str(tmp_path))["SECRET_KEY"] == first
    assert config.load(str(tmp_path / "other"))["SECRET_KEY"] != first


def test_environment_wins(clean_environment, tmp_path):
    clean_environment.setenv("ELICIT_DATABASE_URL", "postgresql://u@db.example/elicit")
    clean_environment.setenv("ELICIT_SECRET_KEY", "from-the-environment")
    clean_environment.setenv("ELICIT_BASE_URL", "https://delphi.example.org/")
    settings = config.load(str(tmp_path))
    assert settings["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@db.example/elicit"
    assert settings["SECRET_KEY"] == "from-the-environment"
    assert settings["ELICIT_BASE_URL"] == "https://delphi.example.org"
    assert not (tmp_path / "secret_key").exists()


def test_only_config_reads_the_environment():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    readers = [
        path.relative_to(root).as_posix()
        for package in ("elicit", "surveys", "analysis")
        for path in (root / package).rglob("*.py")
        if "os.environ" in path.read_text(encoding="utf-8")
        or "getenv" in path.read_text(encoding="utf-8")
    ]
    assert readers == ["elicit/config.py"]
