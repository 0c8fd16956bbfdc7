"""The CPU a command of the CLI costs to start: issue 15, point 7 (under 1 s of CPU for
commands that need neither pandas nor matplotlib).

``tests/elicit/test_cli_startup.py`` checks that such commands import none of pandas,
scipy, matplotlib or numba; this script measures what they cost.  Commands like that
test's, those that change nothing (so that every run does the same work), each run
``--repeat`` times as an operator runs them (``.venv/bin/elicit …``, a fresh
interpreter, on a fresh SQLite file in a temporary folder: the database is upgraded and
the demo study loaded first, so that each command has something to act on), and the
child's CPU (user + system, ``resource.getrusage(RUSAGE_CHILDREN)`` before and after)
is printed, median of the runs, beside the target.  Then the same for the parts of every
start-up: ``import elicit`` and ``create_app``, in one fresh interpreter each.

Run: ``.venv/bin/python benchmarks/cli_startup.py [--repeat 5]``.  Exit status 0
whether or not the target is met (the table says so), 1 when a command fails.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ELICIT = Path(sys.executable).parent / "elicit"
TARGET_CPU_S = 1.0
SLUG = "us-mexico-intelligence"

#: The parts of a start-up, each timed in a fresh interpreter from inside it.
PARTS = {
    "python -c 'import elicit' (the whole process)": "import elicit",
    "create_app (its own CPU, after the imports)": (
        "import elicit; t = __import__('time').process_time(); "
        "elicit.create_app(); print(__import__('time').process_time() - t)"
    ),
    "create_app(routes=False), as those commands make it": (
        "import elicit; t = __import__('time').process_time(); "
        "elicit.create_app(routes=False); print(__import__('time').process_time() - t)"
    ),
}


def _children_cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def run(
    command: list[str], env: dict[str, str], folder: Path, stdin: str = ""
) -> tuple[float, str]:
    """Run ``command`` in ``folder``; the CPU it cost, in seconds, and what it printed."""
    before = _children_cpu()
    completed = subprocess.run(
        command, input=stdin, capture_output=True, text=True, env=env, cwd=folder, check=False
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{completed.stderr[-2000:]}")
    return _children_cpu() - before, completed.stdout.strip()


def elicit(arguments: list[str], env: dict[str, str], folder: Path) -> float:
    """Run ``elicit ARGUMENTS``; the CPU it cost, in seconds."""
    return run([str(ELICIT), *arguments], env, folder)[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per command")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from surveys.demo import demo_source

    with tempfile.TemporaryDirectory(prefix="elicit-cli-startup-") as name:
        folder = Path(name)
        env = {
            **os.environ,
            "ELICIT_DATABASE_URL": f"sqlite:///{folder / 'cli.sqlite3'}",
            "ELICIT_INSTANCE_PATH": str(folder),
            "ELICIT_SECRET_KEY": "cli start-up benchmark " * 2,
        }
        study_file = folder / "study.toml"
        study_file.write_text(demo_source(), encoding="utf-8")
        elicit(["db", "upgrade"], env, folder)
        elicit(["study", "load", str(study_file)], env, folder)
        run(
            [str(ELICIT), "user", "create", "lead@example.org", "--role", "facilitator"],
            env,
            folder,
            stdin="a long enough password\n",
        )
        commands: list[tuple[str, list[str]]] = [
            ("elicit --help", ["--help"]),
            ("elicit user --help", ["user", "--help"]),
            ("elicit db upgrade (nothing to do)", ["db", "upgrade"]),
            ("elicit study validate FILE", ["study", "validate", str(study_file)]),
            ("elicit round --help", ["round", "--help"]),
            ("elicit token list EMAIL (reads the database)", ["token", "list", "lead@example.org"]),
            ("elicit links new-key", ["links", "new-key"]),
            ("elicit panel add --help", ["panel", "add", "--help"]),
            ("elicit worker --help", ["worker", "--help"]),
            ("elicit serve --help", ["serve", "--help"]),
        ]
        rows = []
        for label, arguments in commands:
            times = [elicit(arguments, env, folder) for _ in range(args.repeat)]
            rows.append((label, statistics.median(times)))
        for label, code in PARTS.items():
            times = []
            for _ in range(args.repeat):
                whole, printed = run([sys.executable, "-c", code], env, ROOT)
                # create_app's own share is printed by the child; the import, the rest.
                times.append(float(printed) if printed else whole)
            rows.append((label, statistics.median(times)))
    print(f"| command | CPU, median of {args.repeat} | target < {TARGET_CPU_S:.0f} s |")
    print("|---|---|---|")
    for label, seconds in rows:
        verdict = "met" if seconds < TARGET_CPU_S else "not met"
        print(f"| {label} | {seconds:.2f} s | {verdict if label.startswith('elicit') else ''} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
