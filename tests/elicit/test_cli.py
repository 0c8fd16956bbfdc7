"""The ``elicit`` command line: each command wraps one domain function."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from sqlalchemy import create_engine, func, select

from elicit.extensions import db
from surveys.demo import demo_source
from surveys.models import (
    ItemResolution,
    Panelist,
    Round,
    RoundStatus,
    ScenarioObservation,
    Study,
)
from surveys.panel import hash_token
from surveys.rounds import latest_round
from surveys.studies import get_study
from tests.conftest import BASE_URL

ELICIT = str(Path(sys.executable).with_name("elicit"))
LINK = re.compile(r"^([^,@]+@[^,]+),(" + re.escape(BASE_URL) + r"/e/([A-Za-z0-9_-]{43,}))$")
PSEUDONYM = re.compile(r"P-[A-Z2-9]{6}")


def test_study_load_prints_the_slug(app, tmp_path):
    path = tmp_path / "study.toml"
    path.write_text(demo_source(), encoding="utf-8")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["study", "load", str(path)])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "us-mexico-intelligence"
    assert len(get_study(db.session, "us-mexico-intelligence").items) == 30
    again = runner.invoke(args=["study", "load", str(path)])
    assert again.exit_code == 1
    assert "already loaded" in again.output


def test_study_load_reports_an_invalid_file(app, tmp_path):
    path = tmp_path / "broken.toml"
    source = demo_source()
    line = source.splitlines().index("max_rounds = 3") + 1
    path.write_text(source.replace("max_rounds = 3", 'max_rounds = "three"'), encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["study", "load", str(path)])
    assert result.exit_code == 1
    assert result.output == f"{path}:{line}: study.max_rounds: must be an integer, not a string\n"


def test_study_load_takes_what_becomes_of_items_at_consensus(app, tmp_path):
    """``consensus_items`` in the file is the study's setting; a wrong value is refused
    on its line, naming the field and the three choices."""
    path = tmp_path / "study.toml"
    source = demo_source().replace("max_rounds = 3", 'max_rounds = 3\nconsensus_items = "leave"', 1)
    path.write_text(source, encoding="utf-8")
    runner = app.test_cli_runner()
    assert runner.invoke(args=["study", "load", str(path)]).exit_code == 0
    assert get_study(db.session, "us-mexico-intelligence").consensus_items == "leave"
    line = source.splitlines().index('consensus_items = "leave"') + 1
    path.write_text(source.replace('"leave"', '"never"', 1), encoding="utf-8")
    refused = runner.invoke(args=["study", "validate", str(path)])
    assert refused.exit_code == 1
    assert refused.output == (
        f"{path}:{line}: study.consensus_items: choose one of leave, stay, ask, not 'never'\n"
    )


def test_panel_add_prints_one_link_per_new_panelist(app, make_study, tmp_path):
    make_study()
    panel = tmp_path / "panel.csv"
    panel.write_text(
        "name,email,group,language\n"
        "Ana Ruiz,ana@example.org,mx_official,es\n"
        "Bob Stone,bob@example.org,us_official,en\n",
        encoding="utf-8",
    )
    result = app.test_cli_runner().invoke(
        args=["panel", "add", "us-mexico-intelligence", "--csv", str(panel)]
    )
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[0] == "email,link"
    matches = [LINK.match(line) for line in lines[1:]]
    assert all(matches) and len(matches) == 2
    assert not PSEUDONYM.search(result.output)  # beside an email it would name them
    stored = {
        row.roster.email: row.token_hash for row in db.session.execute(select(Panelist)).scalars()
    }
    for match in matches:
        assert stored[match.group(1)] == hash_token(match.group(3))
    # The same file again: every row is a duplicate, nothing is added.
    again = app.test_cli_runner().invoke(
        args=["panel", "add", "us-mexico-intelligence", "--csv", str(panel)]
    )
    assert again.exit_code == 1
    assert "ana@example.org is already on the panel" in again.output
    assert db.session.execute(select(func.count(Panelist.id))).scalar_one() == 2


def test_panel_add_to_a_blind_study_prints_no_link_and_no_pseudonym(app, make_study, tmp_path):
    study = make_study()
    study.anonymity = "blind"
    db.session.commit()
    panel = tmp_path / "panel.csv"
    panel.write_text("name,email,group,language\nAna Ruiz,ana@example.org,a,es\n", "utf-8")
    result = app.test_cli_runner().invoke(args=["panel", "add", study.slug, "--csv", str(panel)])
    assert result.exit_code == 0, result.output
    assert "added 1 panelist(s)" in result.output
    assert "/e/" not in result.output and not PSEUDONYM.search(result.output)


def test_two_closes_at_once_from_the_command_line(
    app, make_study, make_panel, post_answers, database_url
):
    """Two ``elicit round close`` processes at once: one closes the round, the other
    says that no round is open and exits 1, without a traceback."""
    study = make_study()
    links = make_panel(study, 3)
    runner = app.test_cli_runner()
    assert runner.invoke(args=["round", "open", study.slug]).exit_code == 0
    for link in links:
        post_answers(link.token, {"trust_now": "3", "rationale.trust_now": "secret reason"})
    environment = {key: value for key, value in os.environ.items() if not key.startswith("ELICIT_")}
    environment["ELICIT_DATABASE_URL"] = database_url
    environment["ELICIT_SECRET_KEY"] = "test"
    closes = [
        subprocess.Popen(
            [ELICIT, "round", "close", study.slug],
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = sorted((close.wait(timeout=120), *close.communicate()) for close in closes)
    (ok, ok_out, ok_err), (refused, _refused_out, refused_err) = results
    assert (ok, refused) == (0, 1), results
    assert "is closed: 3 respondent(s)" in ok_out
    assert refused_err.strip() == "error: no round is open"
    assert "Traceback" not in ok_err + refused_err and "secret reason" not in refused_err


def test_an_unreachable_database_ends_a_command_with_one_line(tmp_path):
    environment = {key: value for key, value in os.environ.items() if not key.startswith("ELICIT_")}
    environment["ELICIT_DATABASE_URL"] = "postgresql://postgres@127.0.0.1:1/nothing"
    environment["ELICIT_INSTANCE_PATH"] = str(tmp_path)
    result = subprocess.run(
        [ELICIT, "round", "close", "any-study"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith(
        "Error: the database is unreachable or busy, nothing was changed"
    )


def test_panel_add_reports_bad_rows_by_line(app, make_study, tmp_path):
    make_study()
    panel = tmp_path / "panel.csv"
    panel.write_text("name,email,group,language\n,nobody,x,fr\n", encoding="utf-8")
    result = app.test_cli_runner().invoke(
        args=["panel", "add", "us-mexico-intelligence", "--csv", str(panel)]
    )
    assert result.exit_code == 1
    assert "line 2: name: is empty" in result.output
    assert "line 2: email: 'nobody' is not an email address" in result.output
    assert "line 2: language: 'fr' is not one of en, es" in result.output


def test_round_open_and_close(app, make_study, make_panel, post_answers):
    study = make_study()
    runner = app.test_cli_runner()
    assert runner.invoke(args=["round", "close", study.slug]).exit_code == 1
    opened = runner.invoke(args=["round", "open", study.slug])
    assert opened.output.strip() == "round 1 of us-mexico-intelligence is open"
    refused = runner.invoke(args=["round", "open", study.slug])
    assert refused.exit_code == 1
    assert "round 1 is still open" in refused.output
    closed = runner.invoke(args=["round", "close", study.slug])
    assert closed.exit_code == 0, closed.output
    assert "round 1 of us-mexico-intelligence is closed: 0 respondent(s)" in closed.output
    assert "(quantiles: linear)" in closed.output
    # Nobody answered, so there is nothing to base a stopping recommendation on.
    assert "stopping rule" not in closed.output
    db.session.expire_all()
    assert latest_round(db.session, study).status == RoundStatus.CLOSED
    assert runner.invoke(args=["round", "open", "no-such-study"]).exit_code == 1


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def fetch(url: str) -> str:
    """GET ``url``, waiting up to 30 s for the server to start listening."""
    deadline = time.monotonic() + 30
    # The link sets a session cookie and redirects; keep the cookie like a browser.
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
    while True:
        try:
            with opener.open(url, timeout=5) as response:
                return response.read().decode()
        except OSError:
            assert time.monotonic() < deadline, f"nothing answered at {url}"
            time.sleep(0.2)


def run_demo(
    instance: Path, panelists: int, *options: str, round_number: int = 1
) -> tuple[str, list[str]]:
    """Run ``elicit demo`` (with ``options``), open its first link, which shows round
    ``round_number``, stop it; return the slug and links."""
    port = free_port()
    environment = {key: value for key, value in os.environ.items() if not key.startswith("ELICIT_")}
    environment["ELICIT_INSTANCE_PATH"] = str(instance)
    log = instance.parent / f"demo-{port}.log"
    with (
        log.open("w") as errors,
        subprocess.Popen(
            [ELICIT, "demo", "--port", str(port), "--panelists", str(panelists), *options],
            env=environment,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
        ) as process,
    ):
        try:
            assert process.stdout is not None
            lines = [process.stdout.readline().strip() for _ in range(panelists + 1)]
            assert all(lines), log.read_text()
            page = fetch(lines[1])
            assert f"Round {round_number} of at most 3" in page
            assert "How much trust is there today" in page
        finally:
            process.terminate()
            process.wait(timeout=10)
    return lines[0], lines[1:]


def test_demo_runs_twice_without_duplicating(tmp_path):
    instance = tmp_path / "instance"
    slug, links = run_demo(instance, 3)
    assert slug == "us-mexico-intelligence"
    assert all(
        re.fullmatch(r"http://127\.0\.0\.1:\d+/e/[A-Za-z0-9_-]{43,}", link) for link in links
    )
    slug_again, links_again = run_demo(instance, 4)
    assert slug_again == slug
    assert len(links_again) == 4
    engine = create_engine(f"sqlite:///{instance / 'elicit.sqlite3'}")
    with engine.connect() as connection:
        assert connection.execute(select(func.count(Study.id))).scalar_one() == 1
        assert connection.execute(select(func.count(Panelist.id))).scalar_one() == 4
    engine.dispose()
    assert (instance / "secret_key").stat().st_mode & 0o777 == 0o600


def test_demo_simulate_plays_two_rounds_and_the_aftermath(tmp_path):
    instance = tmp_path / "instance"
    run_demo(instance, 4, "--simulate", round_number=3)
    engine = create_engine(f"sqlite:///{instance / 'elicit.sqlite3'}")
    with engine.connect() as connection:
        closed = connection.execute(
            select(func.count(Round.id)).where(Round.status == RoundStatus.CLOSED)
        ).scalar_one()
        observed = connection.execute(select(func.count(ScenarioObservation.id))).scalar_one()
        resolved = connection.execute(select(func.count(ItemResolution.id))).scalar_one()
    engine.dispose()
    assert (closed, observed, resolved) == (2, 3, 2)
