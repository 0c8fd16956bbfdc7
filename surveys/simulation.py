"""Simulated experts: valid answers for any study, for demos, tests and benchmarks."""

from __future__ import annotations

import random

from surveys.definition import StudyDefinition


def simulated_answers(rng: random.Random, definition: StudyDefinition) -> dict[str, str]:
    """A full, valid set of answers to ``definition``, as an expert would type them into
    the form (field names of :mod:`surveys.fields`), about 30 % with a rationale."""
    answers: dict[str, str] = {}
    for item in definition.items:
        if item.kind == "likert":
            answers[item.key] = str(rng.randint(item.scale.minimum, item.scale.maximum))  # type: ignore[union-attr]
        elif item.kind == "probability":
            answers[item.key] = str(rng.randint(0, 100))
        elif item.kind == "scenario_set":
            first = rng.randint(0, 100)
            second = rng.randint(0, 100 - first)
            values = [first, second, 100 - first - second]
            for scenario, value in zip(item.scenarios, values, strict=True):
                answers[f"{item.key}.{scenario.key}"] = str(value)
        elif item.kind == "ranking":
            places = list(range(1, len(item.options) + 1))
            rng.shuffle(places)
            for option, place in zip(item.options, places, strict=True):
                answers[f"{item.key}.{option.key}"] = str(place)
        elif item.kind == "numeric_estimate":
            low = rng.randint(0, 40)
            best = low + rng.randint(0, 30)
            answers[f"{item.key}.lowest"] = str(low)
            answers[f"{item.key}.best"] = str(best)
            answers[f"{item.key}.highest"] = str(best + rng.randint(0, 50))
            answers[f"{item.key}.confidence"] = str(rng.choice([50, 70, 80, 90]))
        elif item.kind == "open_text":
            answers[item.key] = f"Something about {rng.choice(['tariffs', 'fentanyl'])}."
        if item.numeric and rng.random() < 0.3:
            answers[f"rationale.{item.key}"] = "Because of recent events."
    return answers
