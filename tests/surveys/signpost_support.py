"""A small study with a scenario set and three signposts, shared by the signpost tests."""

from __future__ import annotations

SIGNPOST_STUDY = """
[study]
slug = "signpost-study"
languages = ["en", "es"]
max_rounds = 3
feedback_min_n = 1

[study.title]
en = "Signposts"
es = "Señales"

[consensus]
criteria = [{ kind = "iqr", max = 20 }]

[[items]]
key = "scenarios"
kind = "scenario_set"
text = { en = "How likely is each scenario?", es = "¿Qué tan probable es cada escenario?" }

[[items.scenarios]]
key = "calm"
text = { en = "Calm", es = "Calma" }

[[items.scenarios]]
key = "storm"
text = { en = "Storm", es = "Tormenta" }

[[items.scenarios]]
key = "thaw"
text = { en = "Thaw", es = "Deshielo" }

[[items]]
key = "signpost_troops"
kind = "signpost"
scenario_item = "scenarios"
text = { en = "Troops move to the border.", es = "Tropas se mueven a la frontera." }

[[items]]
key = "signpost_talks"
kind = "signpost"
scenario_item = "scenarios"
text = { en = "Talks resume.", es = "Se reanudan las conversaciones." }

[[items]]
key = "signpost_weather"
kind = "signpost"
scenario_item = "scenarios"
text = { en = "It rains in May.", es = "Llueve en mayo." }
"""

#: Each expert's answers (percent): the scenario set, then each signpost per scenario
#: (calm, storm, thaw).
ANSWERS = [
    {
        "scenarios": (50, 30, 20),
        "signpost_troops": (10, 90, 5),
        "signpost_talks": (40, 10, 80),
        "signpost_weather": (50, 50, 50),
    },
    {
        "scenarios": (60, 20, 20),
        "signpost_troops": (20, 70, 10),
        "signpost_talks": (30, 20, 70),
        "signpost_weather": (60, 50, 55),
    },
    {
        "scenarios": (40, 40, 20),
        "signpost_troops": (0, 80, 15),
        "signpost_talks": (50, 0, 90),
        "signpost_weather": (40, 50, 45),
    },
]

SCENARIOS = ("calm", "storm", "thaw")


def form(answers: dict[str, tuple[int, ...]]) -> dict[str, str]:
    """One expert's answers as the form posts them."""
    return {
        f"{item}.{scenario}": str(value)
        for item, values in answers.items()
        for scenario, value in zip(SCENARIOS, values, strict=True)
    }
