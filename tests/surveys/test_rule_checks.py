"""Rule checks: every warning, its code, part, source and line; shipped files have none."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from surveys.definition import parse_definition
from surveys.demo import demo_source
from surveys.rule_checks import CODES, located_warnings, rule_warnings
from surveys.templates import TEMPLATES, template_definition

HEADER = """\
[study]
slug = "checks"
languages = ["en"]
max_rounds = 3
title.en = "Checks"

[consensus]
criteria = [{ default }]
"""

ITEMS = {
    "likert": 'kind = "likert"\nscale = {{ min = {low}, max = {high} }}\nlabels.en = [{labels}]',
    "probability": 'kind = "probability"',
    "scenario_set": (
        'kind = "scenario_set"\n'
        '[[items.scenarios]]\nkey = "a"\ntext.en = "A"\n'
        '[[items.scenarios]]\nkey = "b"\ntext.en = "B"'
    ),
    "ranking": (
        'kind = "ranking"\n'
        '[[items.options]]\nkey = "a"\ntext.en = "A"\n'
        '[[items.options]]\nkey = "b"\ntext.en = "B"\n'
        '[[items.options]]\nkey = "c"\ntext.en = "C"'
    ),
    "numeric_estimate": 'kind = "numeric_estimate"{bounds}',
}


def item(
    kind: str,
    rule: str | None = None,
    *,
    key: str = "x",
    parts: dict[str, str] | None = None,
    **shape: object,
) -> str:
    """One ``[[items]]`` table of ``kind`` with ``rule`` as its consensus, if given, and
    ``parts`` (part → criterion, or "none") as rules of its parts."""
    fields = {"low": 1, "high": 5, "bounds": "", **shape}
    if kind == "likert":
        count = int(fields["high"]) - int(fields["low"]) + 1  # type: ignore[call-overload]
        fields["labels"] = ", ".join(f'"{n}"' for n in range(count))
    body = ITEMS[kind].format(**fields)
    own = f"consensus = {{ criteria = [{{ {rule} }}] }}\n" if rule else ""
    if parts:
        own = f"consensus.criteria = [{{ {rule} }}]\n" if rule else ""
        for part, criterion in parts.items():
            written = '"none"' if criterion == "none" else f"{{ criteria = [{{ {criterion} }}] }}"
            own += f"consensus.parts.{part} = {written}\n"
    # The item's own keys come before its sub-tables (scenarios, options).
    head, _, tables = body.partition("\n[[")
    tables = f"[[{tables}" if tables else ""
    return f'\n[[items]]\nkey = "{key}"\ntext.en = "Q"\n{head}\n{own}{tables}\n'


def study(*items: str, default: str = 'kind = "iqr", max = 1', by_kind: str = "") -> str:
    """A whole definition: the header, optional per-kind rules, then ``items``."""
    return HEADER.replace("{ default }", f"{{ {default} }}") + by_kind + "".join(items)


def warned(source: str) -> list[tuple[str, str | None, str]]:
    """(item, component, code) of every warning of ``source``."""
    return [(w.item, w.component, w.code) for w in rule_warnings(parse_definition(source))]


ESTIMATE_PARTS = ("lowest", "highest", "best")
BOUNDED = "\nbounds = { min = 0, max = 1000 }"
CASES = [
    # code, source, expected (item, component) pairs
    ("no_rule", study(item("ranking")), [("x", None)]),
    ("no_rule", study(item("numeric_estimate")), [("x", None)]),
    # The example: a probability falling back to the default "IQR ≤ 1".
    ("iqr_too_small", study(item("probability")), [("x", None)]),
    ("iqr_too_small", study(item("scenario_set")), [("x", None)]),
    (
        "iqr_too_small",
        study(
            item(
                "numeric_estimate",
                'kind = "iqr", max = 1',
                bounds="\nbounds = { min = 0, max = 1000 }",
            )
        ),
        [("x", part) for part in (*ESTIMATE_PARTS, "confidence")],
    ),
    ("iqr_always_met", study(item("likert", 'kind = "iqr", max = 4')), [("x", None)]),
    ("iqr_always_met", study(item("ranking", 'kind = "iqr", max = 2')), [("x", None)]),
    (
        "iqr_always_met",
        study(
            item(
                "numeric_estimate",
                'kind = "iqr", max = 60',
                bounds="\nbounds = { min = 0, max = 1000 }",
            )
        ),
        [("x", "confidence")],
    ),
    (
        "share_always_met",
        study(item("likert", 'kind = "share", low = 1, high = 5, min = 0.7')),
        [("x", None)],
    ),
    (
        "share_always_met",
        study(item("likert", 'kind = "share", low = 4, high = 5, min = 0')),
        [("x", None)],
    ),
    (
        "share_band_outside_scale",
        study(item("likert", 'kind = "share", low = 7, high = 9, min = 0.7')),
        [("x", None)],
    ),
    (
        "share_bound_outside_scale",
        study(item("likert", 'kind = "share", low = 4, high = 6, min = 0.7')),
        [("x", None)],
    ),
    (
        "share_band_between_options",
        study(item("likert", 'kind = "share", low = 4.2, high = 4.8, min = 0.7')),
        [("x", None)],
    ),
    (
        "share_band_too_narrow",
        study(item("probability", 'kind = "share", low = 0.6, high = 1, min = 0.7')),
        [("x", None)],
    ),
    ("needs_fixed_options", study(item("probability", 'kind = "rwg", min = 0.7')), [("x", None)]),
    (
        "needs_fixed_options",
        study(item("scenario_set", 'kind = "ad_mean", divisor = 6')),
        [("x", None)],
    ),
    ("rwg_never_met", study(item("likert", 'kind = "rwg", min = 1.5')), [("x", None)]),
    ("rwg_always_met", study(item("likert", 'kind = "rwg", min = 0')), [("x", None)]),
    ("ad_always_met", study(item("likert", 'kind = "ad_median", divisor = 2')), [("x", None)]),
    (
        "needs_bounded_scale",
        study(item("numeric_estimate", 'kind = "rand_ucla"')),
        [("x", part) for part in (*ESTIMATE_PARTS, "confidence")],
    ),
    ("rand_ucla_not_nine_point", study(item("likert", 'kind = "rand_ucla"')), [("x", None)]),
    (
        "split_always_fires",
        study(item("likert", 'kind = "iqr", max = 1 }, { kind = "split", min_share = 0', high=9)),
        [("x", None)],
    ),
    (
        "split_never_fires",
        study(item("likert", 'kind = "iqr", max = 1 }, { kind = "split", min_share = 0.6', high=9)),
        [("x", None)],
    ),
    ("cv_scale_not_positive", study(item("probability", 'kind = "cv", max = 0.5')), [("x", None)]),
    (
        "cv_scale_not_positive",
        study(item("likert", 'kind = "cv", max = 0.5', low=0, high=4)),
        [("x", None)],
    ),
    (
        "cv_scale_not_positive",
        study(
            item(
                "numeric_estimate",
                'kind = "cv", max = 0.5',
                bounds="\nbounds = { min = -10, max = 10 }",
            )
        ),
        [("x", part) for part in ESTIMATE_PARTS],
    ),
]


CASES += [
    (
        "rule_on_confidence",
        study(item("numeric_estimate", 'kind = "cv", max = 0.5', bounds=BOUNDED)),
        [("x", "confidence")],
    ),
    (
        "rule_on_confidence",
        study(
            item("numeric_estimate", bounds=BOUNDED),
            by_kind=(
                '\n[consensus.by_kind.numeric_estimate]\ncriteria = [{ kind = "cv", max = 0.5 }]\n'
            ),
        ),
        [("x", "confidence")],
    ),
    # A part's own rule is checked on that part alone.
    (
        "iqr_too_small",
        study(item("scenario_set", 'kind = "iqr", max = 20', parts={"a": 'kind = "iqr", max = 1'})),
        [("x", "a")],
    ),
    # The default's "IQR ≤ 1" still reaches the part without a rule of its own.
    (
        "iqr_too_small",
        study(item("scenario_set", parts={"a": 'kind = "iqr", max = 20'})),
        [("x", "b")],
    ),
    # A ranking whose only part rule is "none": nothing decides it.
    ("no_rule", study(item("ranking", parts={"a": "none"})), [("x", None)]),
]


@pytest.mark.parametrize(("code", "source", "expected"), CASES, ids=[c[0] for c in CASES])
def test_each_warning(code: str, source: str, expected: list[tuple[str, str | None]]) -> None:
    """The rule gets exactly the expected warning, on the expected parts (and an
    estimate's item rule the warning that it decides the confidence too)."""
    found = warned(source)
    assert [w for w in found if w[2] == code] == [(key, part, code) for key, part in expected]
    others = {w[2] for w in found if w[2] != code}
    item_rule = "consensus = " in source and "numeric_estimate" in source
    expected_others = item_rule and code not in ("no_rule", "rule_on_confidence")
    assert others == ({"rule_on_confidence"} if expected_others else set())


def test_every_code_is_tested() -> None:
    assert {case[0] for case in CASES} == set(CODES)


@pytest.mark.parametrize(
    "source",
    [
        study(item("likert", 'kind = "iqr", max = 1')),
        study(item("likert", 'kind = "iqr", max = 0')),
        study(item("likert", 'kind = "share", low = 4, high = 5, min = 0.7')),
        study(item("likert", 'kind = "rwg", min = 0.7')),
        study(item("likert", 'kind = "ad_mean", divisor = 6')),
        study(item("likert", 'kind = "rand_ucla" }, { kind = "split", min_share = 0.33', high=9)),
        study(item("likert", 'kind = "cv", max = 0.5')),
        study(item("probability", 'kind = "iqr", max = 20')),
        study(item("scenario_set", 'kind = "share", low = 0, high = 10, min = 0.75')),
        study(item("ranking", 'kind = "iqr", max = 1')),
        study(item("ranking", 'kind = "rwg", min = 0.7')),
        study(item("numeric_estimate", parts={"best": 'kind = "cv", max = 0.5'}, bounds=BOUNDED)),
        study(
            item(
                "numeric_estimate",
                'kind = "iqr", max = 10',
                parts={"confidence": "none", "lowest": "none", "highest": "none"},
            )
        ),
        study(item("numeric_estimate", parts={"best": 'kind = "iqr", max = 10'})),
        # Every part given "none" on purpose: no rule, and no warning.
        study(item("ranking", parts={"a": "none", "b": "none", "c": "none"})),
        study(item("ranking", parts={"a": 'kind = "iqr", max = 1'})),
        study(item("probability"), default='kind = "iqr", max = 20'),
    ],
)
def test_rules_that_fit_their_scale_pass(source: str) -> None:
    assert warned(source) == []


@pytest.mark.parametrize("key", [entry.key for entry in TEMPLATES])
def test_shipped_definitions_have_no_warnings(key: str) -> None:
    """The demo and every template: no rule that cannot be right."""
    assert rule_warnings(template_definition(key)) == []


def test_a_warning_says_where_its_rule_comes_from() -> None:
    """Default, per-kind and own rules are named, with the rule in words."""
    by_kind = '\n[consensus.by_kind.probability]\ncriteria = [{ kind = "iqr", max = 2 }]\n'
    source = study(
        item("probability", key="own_rule", rule='kind = "iqr", max = 0.5'),
        item("scenario_set", key="from_default"),
        item("probability", key="from_kind"),
        by_kind=by_kind,
    )
    warnings = {w.item: w for w in rule_warnings(parse_definition(source))}
    assert {key: w.source for key, w in warnings.items()} == {
        "own_rule": "item",
        "from_default": "default",
        "from_kind": "kind",
    }
    assert warnings["own_rule"].message.endswith("(the item's own rule).")
    assert "[consensus.by_kind.probability]" in warnings["from_kind"].message
    assert "the study's default rule, [consensus]" in warnings["from_default"].message
    assert warnings["from_default"].message.startswith(
        "IQR ≤ 1 on the 0–100 % scale asks the middle half of the panel to answer within 1"
    )
    assert warnings["from_default"].rule == "all of: iqr <= 1"
    assert str(warnings["from_kind"]).startswith("items.from_kind.consensus: warning: IQR ≤ 2")


def test_estimate_warnings_name_the_part() -> None:
    source = study(
        item(
            "numeric_estimate",
            'kind = "iqr", max = 60',
            bounds="\nbounds = { min = 0, max = 1000 }",
        )
    )
    always, confidence = rule_warnings(parse_definition(source))
    assert always.message.startswith("its confidence: IQR ≤ 60 always holds on the confidence")
    assert (confidence.code, confidence.component) == ("rule_on_confidence", "confidence")


def test_located_warnings_point_at_the_rule_or_the_item() -> None:
    """The line of the item's own rule, else of the item's header."""
    source = study(
        item("probability", key="own_rule", rule='kind = "iqr", max = 0.5'),
        item("probability", key="inherits"),
    )
    lines = source.splitlines()
    own = next(n for n, line in enumerate(lines, 1) if line.startswith("consensus = {"))
    header = [n for n, line in enumerate(lines, 1) if line == "[[items]]"][1]
    located = located_warnings(rule_warnings(parse_definition(source)), source, "s.toml")
    assert [line.split(": warning: ")[0] for line in located] == [
        f"s.toml:{own}: items.own_rule.consensus",
        f"s.toml:{header}: items.inherits.consensus",
    ]


# -- the CLI -----------------------------------------------------------------------------


def test_validate_prints_warnings_and_exits_zero(app, tmp_path: Path) -> None:
    source = study(item("probability", key="chance"), item("ranking", key="order"))
    path = tmp_path / "warned.toml"
    path.write_text(source, encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["study", "validate", str(path)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    pattern = re.compile(rf"^{re.escape(str(path))}:(\d+): items\.(\w+)\.consensus: warning: .+$")
    matches = [pattern.match(line) for line in lines[:-1]]
    assert all(matches), lines
    assert [m.group(2) for m in matches if m] == ["chance", "order"]
    assert lines[-1] == f"{path}: valid (checks, 2 items), 2 warnings"


def test_validate_of_a_file_without_warnings_prints_one_line(app, tmp_path: Path) -> None:
    path = tmp_path / "demo.toml"
    path.write_text(demo_source(), encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["study", "validate", str(path)])
    assert (result.exit_code, result.output) == (
        0,
        f"{path}: valid (us-mexico-intelligence, 30 items)\n",
    )


def test_load_prints_warnings_on_stderr_and_the_slug_on_stdout(app, tmp_path: Path) -> None:
    path = tmp_path / "warned.toml"
    path.write_text(study(item("probability", key="chance")), encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["study", "load", str(path)])
    assert result.exit_code == 0, result.output
    assert result.stdout == "checks\n"
    assert re.match(
        rf"^{re.escape(str(path))}:\d+: items\.chance\.consensus: warning: IQR ≤ 1 ",
        result.stderr,
    )


def test_a_part_rule_warning_names_its_part_and_line() -> None:
    source = study(
        item("scenario_set", 'kind = "iqr", max = 20', parts={"a": 'kind = "iqr", max = 1'})
    )
    (warning,) = rule_warnings(parse_definition(source))
    assert (warning.source, warning.field) == ("part", "items.x.consensus.parts.a")
    assert warning.message.startswith("scenario a: IQR ≤ 1 on the 0–100 % scale")
    assert warning.message.endswith("(the rule of this part, consensus.parts.a).")
    line = (
        source.splitlines().index('consensus.parts.a = { criteria = [{ kind = "iqr", max = 1 }] }')
        + 1
    )
    (located,) = located_warnings([warning], source, "s.toml")
    assert located.startswith(f"s.toml:{line}: items.x.consensus.parts.a: warning: scenario a:")
