"""Simulated experts: valid answers for any study, for demos, tests and benchmarks."""

from __future__ import annotations

import math
import random

from surveys.answers import ambiguous_number
from surveys.definition import ItemDefinition, StudyDefinition


def simulated_answers(rng: random.Random, definition: StudyDefinition) -> dict[str, str]:
    """A full, valid set of answers to ``definition``, as an expert would type them into
    the form (field names of :mod:`surveys.fields`), about 30 % with a rationale."""
    answers: dict[str, str] = {}
    seed_style: tuple[float, float] | None = None
    for item in definition.items:
        # Kinds added later draw from a stream of their own, seeded by what was drawn
        # so far: every other item of a study draws the numbers it always did (tests
        # and benchmarks are built on fixed seeds).
        own_stream = item.kind in ("cross_impact", "signpost")
        draw = random.Random(_seed_of(item, answers)) if own_stream else rng  # noqa: S311
        if item.kind == "likert":
            answers[item.key] = str(rng.randint(item.scale.minimum, item.scale.maximum))  # type: ignore[union-attr]
        elif item.kind == "probability":
            answers[item.key] = str(rng.randint(0, 100))
        elif item.kind == "scenario_set":
            # Each scenario but the last takes a share of what is left; the last the rest.
            left = 100
            for scenario in item.scenarios[:-1]:
                value = rng.randint(0, left)
                left -= value
                answers[f"{item.key}.{scenario.key}"] = str(value)
            answers[f"{item.key}.{item.scenarios[-1].key}"] = str(left)
        elif item.kind == "signpost":
            for scenario, value in zip(
                item.scenarios, _signpost_likelihoods(draw, definition, item), strict=True
            ):
                answers[f"{item.key}.{scenario.key}"] = str(value)
        elif item.kind == "cross_impact":
            answers.update(_cross_impact(draw, item, answers))
        elif item.kind == "ranking":
            places = list(range(1, len(item.options) + 1))
            rng.shuffle(places)
            for option, place in zip(item.options, places, strict=True):
                answers[f"{item.key}.{option.key}"] = str(place)
        elif item.kind == "numeric_estimate":
            low = rng.randint(0, 40)
            best = low + rng.randint(0, 30)
            high = best + rng.randint(0, 50)
            estimates = (str(low), str(best), str(high))
            bounds = item.estimate_bounds
            if bounds is not None and not bounds[0] <= low <= high <= bounds[1]:
                estimates = _within(bounds, (low, best, high))
            for part, typed in zip(("lowest", "best", "highest"), estimates, strict=True):
                answers[f"{item.key}.{part}"] = typed
            answers[f"{item.key}.confidence"] = str(rng.choice([50, 70, 80, 90]))
        elif item.kind == "seed" and item.seed_answer is not None:
            if seed_style is None:  # drawn only for studies with seed items
                seed_style = _seed_style(rng)
            for part, typed in zip(
                ("q05", "q50", "q95"),
                _seed_percentiles(rng, item.seed_answer, seed_style),
                strict=True,
            ):
                answers[f"{item.key}.{part}"] = typed
        elif item.kind == "open_text":
            answers[item.key] = f"Something about {rng.choice(['tariffs', 'fentanyl'])}."
        if item.numeric and draw.random() < 0.3:
            answers[f"rationale.{item.key}"] = "Because of recent events."
    return answers


#: How far apart the scenarios' likelihoods of a study's first, second, third …
#: signpost lie (percentage points, cycled), so that simulated panels find one
#: signpost strongly diagnostic, one somewhat, one hardly at all.
SIGNPOST_SPREADS = (70, 35, 8)
#: How far one simulated expert's likelihood strays from the panel's (points, ±).
SIGNPOST_NOISE = 10


def _signpost_likelihoods(
    rng: random.Random, definition: StudyDefinition, item: ItemDefinition
) -> list[int]:
    """One simulated expert's likelihoods of a signpost, one per scenario (percent).

    The panel shares a profile per signpost: the study's j-th signpost (from 0) is
    likeliest under scenario j and least likely under scenario j + 1 (cyclically), the
    others in between, spread by the signpost's entry of :data:`SIGNPOST_SPREADS`
    around a centre drawn from the item's key alone (the same for every expert); each
    expert strays by up to :data:`SIGNPOST_NOISE` points."""
    signposts = [other.key for other in definition.items if other.kind == "signpost"]
    position = signposts.index(item.key)
    spread = SIGNPOST_SPREADS[position % len(SIGNPOST_SPREADS)]
    count = len(item.scenarios)
    steps = []
    for index in range(count):
        distance = (index - position) % count  # 0: likeliest, 1: least likely
        steps.append(
            0.5 if distance == 0 else -0.5 if distance == 1 else 0.5 - (distance - 1) / (count - 1)
        )
    profile = random.Random(f"signpost:{item.key}")  # noqa: S311 (a simulation, not a secret)
    centre = profile.randint(10 + spread // 2, 90 - spread // 2)
    return [
        min(
            100,
            max(0, round(centre + spread * step) + rng.randint(-SIGNPOST_NOISE, SIGNPOST_NOISE)),
        )
        for step in steps
    ]


def _seed_of(item: ItemDefinition, answers: dict[str, str]) -> str:
    """A seed for ``item``'s own stream: its key and the answers drawn before it."""
    return item.key + "|" + "|".join(f"{key}={value}" for key, value in sorted(answers.items()))


def _cross_impact(
    rng: random.Random, item: ItemDefinition, answers: dict[str, str]
) -> dict[str, str]:
    """A conditional scenario set per trigger, mostly coherent with the expert's own
    scenario set u and P(trigger) t as already drawn: the set u moved a random part of
    the way towards one scenario, that trigger's "favourite".  By the law of total
    probability it must satisfy t·c ≤ u ≤ t·c + 1 − t, which a small move and a small t
    keep; a large move with a likely trigger leaves the expert somewhat incoherent, as
    real experts often are."""
    keys = [scenario.key for scenario in item.scenarios]
    given = [float(answers.get(f"{item.scenario_item}.{key}", 100 / len(keys))) for key in keys]
    fields: dict[str, str] = {}
    for trigger in item.triggers:
        favourite = rng.randrange(len(keys))
        weight = rng.uniform(0.0, 0.6)
        moved = [
            (1 - weight) * value + (100 * weight if index == favourite else 0.0)
            for index, value in enumerate(given)
        ]
        shares = [int(value) for value in moved]
        shares[favourite] += 100 - sum(shares)
        for key, share in zip(keys, shares, strict=True):
            fields[f"{item.key}.{trigger.key}:{key}"] = str(share)
    return fields


#: The draws of an estimate lie from 0 to this; when the item's bounds do not hold them,
#: they are mapped onto the bounds.
_ESTIMATE_SPAN = 120


def _within(bounds: tuple[float, float], values: tuple[int, int, int]) -> tuple[str, str, str]:
    """Estimates drawn from 0 to 120 mapped onto ``bounds``, written as an expert would
    type them: whole numbers when the bounds are a few units apart or more, else four
    decimals (never three, which ``1,000`` makes ambiguous)."""
    low, high = bounds
    # Answers are at most 10^12 in size (surveys.answers.LARGEST_NUMBER).
    low, high = max(low, -1e12), min(high, 1e12)
    mapped = [low + (high - low) * value / _ESTIMATE_SPAN for value in values]
    if high - low >= 3:
        whole = [min(max(round(value), math.ceil(low)), math.floor(high)) for value in mapped]
        return (str(whole[0]), str(whole[1]), str(whole[2]))
    written = [f"{min(max(value, low), high):.4f}" for value in mapped]
    # Rounding to four decimals may step just outside a bound: write the bound instead.
    clamped = [
        text if low <= float(text) <= high else f"{(low if float(text) < low else high):.4f}"
        for text in written
    ]
    return (clamped[0], clamped[1], clamped[2])


#: Simulated experts' styles on seed items: (bias, half-width), both relative to the
#: known answer.  The spread between them is what gives the classical model's
#: calibration scores something to tell apart: a well-calibrated expert, an
#: overconfident one (narrow and off), a cautious one (wide) and a biased one.
_SEED_STYLES = ((0.15, 0.6), (0.35, 0.08), (0.1, 1.5), (0.6, 0.3))


def _seed_style(rng: random.Random) -> tuple[float, float]:
    """One simulated expert's (bias spread, interval half-width) on seed items."""
    return rng.choice(_SEED_STYLES)


def _seed_percentiles(
    rng: random.Random, answer: float, style: tuple[float, float]
) -> tuple[str, str, str]:
    """Strictly increasing 5th, 50th and 95th percentiles around ``answer``, written as
    an expert would type them: the median off the answer by a draw of the expert's
    bias, the interval as wide as the expert's style (on a multiplicative scale for a
    positive answer, so that they stay above 0)."""
    bias, width = style
    scale = abs(answer) or 1.0
    shift = rng.gauss(0.0, bias)
    spread = width * rng.uniform(0.7, 1.3)
    if answer > 0:
        median = answer * math.exp(shift)
        values = (median / (1 + spread), median, median * (1 + spread))
    else:
        median = answer + shift * scale
        values = (median - spread * scale, median, median + spread * scale)
    for decimals in (2, 4, 6):
        # Trailing zeros dropped, as the page shows a number again: "28.3910" would come
        # back as "28.391", which reads as ambiguous (a thousands separator?).
        written = tuple(_plain_decimal(value, decimals) for value in values)
        if all(not ambiguous_number(text) for text in written) and (
            float(written[0]) < float(written[1]) < float(written[2])
        ):
            return written[0], written[1], written[2]
    return "1", "2", "3"  # unreachable for answers of a sensible size


def _plain_decimal(value: float, decimals: int) -> str:
    """``value`` with at most ``decimals`` decimals and no trailing zeros."""
    text = f"{value:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text
