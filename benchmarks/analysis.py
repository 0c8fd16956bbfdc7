"""Benchmark: the closing analysis of a large synthetic Delphi study.

1,000 panelists × 200 items × 5 rounds = 1,000,000 ratings (about 3 % "cannot judge").
Times the complete closing analysis of every round — :func:`analysis.summarize_round`
with descriptive statistics, consensus (IQR, share, RAND/UCLA, bimodal split), stability
against the previous round, pooling and the panel-level coefficients, without the
bootstrap — and, in the same run, the floor
``frame.groupby(["round", "item"]).value.agg(["count", "mean", "median", "std"])``.

Run: ``.venv/bin/python benchmarks/analysis.py [--panelists 1000 --items 200 --rounds 5]``.
"""

from __future__ import annotations

import argparse
import importlib
import resource
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

# This file is itself called analysis.py: keep its folder off the import path so that
# ``analysis`` is the package, not this script.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != _HERE]
analysis = importlib.import_module("analysis")
ConsensusRule = analysis.ConsensusRule
Criterion = analysis.Criterion
Scale = analysis.Scale


def synthetic_study(panelists: int, items: int, rounds: int, seed: int = 1) -> pd.DataFrame:
    """A tidy frame: 90 % 1–9 likert items, 10 % probabilities, answers converging."""
    generator = np.random.default_rng(seed)
    probability_items = max(items // 10, 1)
    keys = np.array([f"item{index:03d}" for index in range(items)], dtype=object)
    panelist_keys = np.array([f"panelist{index:04d}" for index in range(panelists)], dtype=object)
    groups = np.array(["us", "mx", "academic"], dtype=object)[np.arange(panelists) % 3]
    centre = generator.uniform(2, 8, size=items)
    opinion = generator.normal(0, 2.0, size=(panelists, items))
    parts = []
    for round_number in range(1, rounds + 1):
        spread = 1.0 / round_number
        raw = centre[None, :] + opinion * spread + generator.normal(0, 0.3, (panelists, items))
        values = np.clip(np.rint(raw), 1, 9)
        probability = np.clip(np.rint(raw[:, :probability_items] * 10), 0, 100)
        values[:, :probability_items] = probability
        values[generator.random((panelists, items)) < 0.03] = np.nan
        parts.append(
            pd.DataFrame(
                {
                    "panelist": np.repeat(panelist_keys, items),
                    "group": np.repeat(groups, items),
                    "round": round_number,
                    "item": np.tile(keys, panelists),
                    "component": "",
                    "value": values.ravel(),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def study_settings(items: int) -> tuple[dict[str, object], dict[str, object]]:
    """Scales and consensus rules of the synthetic study."""
    probability_items = max(items // 10, 1)
    likert = Scale(kind="likert", minimum=1, maximum=9, band=(7, 9))
    scales: dict[str, object] = {}
    rules: dict[str, object] = {}
    likert_rule = ConsensusRule(
        (
            Criterion("iqr", {"max": 2}),
            Criterion("rand_ucla"),
            Criterion("split", {"min_share": 1 / 3}),
        )
    )
    probability_rule = ConsensusRule(
        (Criterion("share", {"low": 40, "high": 60, "min": 0.7}), Criterion("cv", {"max": 0.5})),
        combine="any",
    )
    for index in range(items):
        key = f"item{index:03d}"
        if index < probability_items:
            scales[key] = analysis.PROBABILITY_SCALE
            rules[key] = probability_rule
        else:
            scales[key] = likert
            rules[key] = likert_rule
    return scales, rules


def best_of_interleaved(
    functions: list[Callable[[], object]], repeat: int
) -> tuple[list[float], list[float]]:
    """The fastest of ``repeat`` timings of each function: (wall-clock, CPU) seconds.

    The functions run in turn within each repetition, so a busy machine slows them
    alike; CPU time (``time.process_time``) is also reported because it excludes the
    time other processes hold the CPU.
    """
    wall = [float("inf")] * len(functions)
    cpu = [float("inf")] * len(functions)
    for _ in range(repeat):
        for index, function in enumerate(functions):
            start_wall, start_cpu = time.perf_counter(), time.process_time()
            function()
            wall[index] = min(wall[index], time.perf_counter() - start_wall)
            cpu[index] = min(cpu[index], time.process_time() - start_cpu)
    return wall, cpu


def main() -> None:
    """Build the study, time both computations, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--panelists", type=int, default=1000)
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()

    frame = synthetic_study(options.panelists, options.items, options.rounds)
    scales, rules = study_settings(options.items)
    # What the round lifecycle passes when round r closes: rounds r − 1 and r.
    closing_frames = {
        number: frame.loc[frame["round"].isin([number - 1, number])].reset_index(drop=True)
        for number in range(1, options.rounds + 1)
    }

    def close_every_round() -> list[pd.DataFrame]:
        return [
            analysis.summarize_round(
                closing_frames[number],
                rules=rules,
                scales=scales,
                closing_round=number,
                bootstrap_resamples=0,
            )
            for number in closing_frames
        ]

    def all_rounds_at_once() -> pd.DataFrame:
        return analysis.summarize_round(frame, rules=rules, scales=scales, bootstrap_resamples=0)

    def floor() -> pd.DataFrame:
        return frame.groupby(["round", "item"]).value.agg(["count", "mean", "median", "std"])

    def floor_per_round() -> list[pd.DataFrame]:
        return [
            part.groupby(["round", "item"]).value.agg(["count", "mean", "median", "std"])
            for part in closing_frames.values()
        ]

    floor()  # warm caches and imports on both sides before timing
    close_every_round()
    # Interleaved, so that a busy machine slows every measurement alike; best of each.
    wall, cpu = best_of_interleaved(
        [floor, all_rounds_at_once, close_every_round, floor_per_round], options.repeat
    )

    tracemalloc.start()
    summaries = close_every_round()
    all_rounds_at_once()
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    max_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux

    ratings = len(frame)
    rows = sum(len(summary) for summary in summaries)
    print(
        f"ratings: {ratings:,} ({options.panelists} panelists × {options.items} items × "
        f"{options.rounds} rounds); summary rows: {rows:,}; best of {options.repeat}"
    )
    for label, times in (("wall-clock", wall), ("CPU", cpu)):
        floor_seconds, at_once_seconds, closing_seconds, floor_per_round_seconds = times
        print(f"[{label}]")
        print(f"  floor groupby(round, item) count/mean/median/std: {floor_seconds:7.3f} s")
        print(
            f"  closing analysis of every round, one call:       {at_once_seconds:7.3f} s"
            f"  ratio {at_once_seconds / floor_seconds:5.2f}"
        )
        print(
            f"  closing round by round ({options.rounds} calls on rounds r-1, r): "
            f"{closing_seconds:7.3f} s  ratio {closing_seconds / floor_seconds:5.2f}; "
            f"{closing_seconds / floor_per_round_seconds:5.2f} to the floor on the same "
            f"inputs ({floor_per_round_seconds:.3f} s)"
        )
    print(f"peak traced Python allocations: {traced_peak / 2**20:7.1f} MiB")
    print(f"peak resident set size:         {max_rss:7.1f} MiB (whole process)")


if __name__ == "__main__":
    main()
