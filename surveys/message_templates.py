"""The texts of invitations, reminders and thank-yous: templates a study's team edits,
per kind of message and language, rendered for each panelist in a sandbox.

A template is a subject (one line) and a body (plain text) that name placeholders as
``{{ name }}`` and may leave a passage out when a placeholder is empty with
``{% if deadline %}…{% else %}…{% endif %}``.  Nothing else is allowed: no filters, no
loops, no attribute or item access, no calls, no other tag.  :func:`template_problems`
checks that on the parsed template (Jinja's own parser), so a template that could run
code, reach data beyond its placeholders or loop for ever is refused when it is saved,
with a message naming what is wrong; rendering then goes through Jinja's immutable
sandbox with strict undefined names as a second wall, and every value it can reach is a
plain string.  A ``$``, ``=``, ``%`` or a brace that opens no placeholder is ordinary text.

Placeholders (:data:`PLACEHOLDERS`): the panelist's name and personal link, the round,
its deadline written in the panelist's language and time zone, the study's title in
their language, and the lead's name and contact as the study gives them.

The defaults (:data:`DEFAULTS`, English and Spanish) are what a research team would send
as they are.  A language without a default of its own gets the English one, to be
translated by the team.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, meta, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

KINDS: tuple[str, ...] = ("invitation", "reminder", "thank_you")
"""The messages a study sends: the invitation to a round, a reminder to those who have
not submitted, and a thank-you to those who have."""

PLACEHOLDERS: dict[str, str] = {
    "name": "the panelist's name",
    "link": "the panelist's personal link",
    "round": "the round's number",
    "deadline": "the round's deadline, in the panelist's language and time zone "
    "(empty when the round has none)",
    "study_title": "the study's title, in the panelist's language",
    "lead_name": "the study lead's name (empty when not given)",
    "lead_contact": "how to reach the study lead (empty when not given)",
}
"""Every name a template may use, and what it stands for."""

REQUIRED: dict[str, tuple[str, ...]] = {
    "invitation": ("link",),
    "reminder": ("link",),
    "thank_you": (),
}
"""Placeholders a kind's body must use: an invitation or reminder without the link would
leave the expert with no way in."""

SUBJECT_LIMIT = 300
BODY_LIMIT = 10_000


@dataclass(frozen=True)
class MessageText:
    """A template's subject and body (or, rendered, a message's)."""

    subject: str
    body: str


_SIGNATURE_EN = (
    "{% if lead_name %}With thanks,\n{{ lead_name }}"
    "{% if lead_contact %}\n{{ lead_contact }}{% endif %}"
    "{% else %}With thanks,\nThe study team{% endif %}\n"
)
_SIGNATURE_ES = (
    "{% if lead_name %}Con nuestro agradecimiento,\n{{ lead_name }}"
    "{% if lead_contact %}\n{{ lead_contact }}{% endif %}"
    "{% else %}Con nuestro agradecimiento,\nEl equipo del estudio{% endif %}\n"
)

DEFAULTS: dict[str, dict[str, MessageText]] = {
    "en": {
        "invitation": MessageText(
            "Round {{ round }} of “{{ study_title }}” is open",
            "Dear {{ name }},\n\n"
            "Round {{ round }} of the study “{{ study_title }}” is open, and we would be "
            "grateful for your answers."
            "{% if deadline %} Please answer by {{ deadline }}.{% endif %}\n\n"
            "Your personal link:\n{{ link }}\n\n"
            "The link opens your page without a password, so please keep it to yourself. "
            "It stays the same for the whole study, and whatever you save there is kept "
            "until you submit. The other experts never learn who gave which answer.\n\n"
            + _SIGNATURE_EN,
        ),
        "reminder": MessageText(
            "Reminder: round {{ round }} of “{{ study_title }}”",
            "Dear {{ name }},\n\n"
            "We have not yet received your answers to round {{ round }} of the study "
            "“{{ study_title }}”."
            "{% if deadline %} The round closes on {{ deadline }}.{% endif %}\n\n"
            "Your personal link:\n{{ link }}\n\n"
            "Anything you saved there is kept. If you cannot take part this time, a short "
            "reply to this message helps us plan.\n\n" + _SIGNATURE_EN,
        ),
        "thank_you": MessageText(
            "Thank you for your answers to round {{ round }}",
            "Dear {{ name }},\n\n"
            "Thank you for your answers to round {{ round }} of the study "
            "“{{ study_title }}”. They are recorded; once the round closes, the next round "
            "will show you where the panel stands.\n\n" + _SIGNATURE_EN,
        ),
    },
    "es": {
        "invitation": MessageText(
            "La ronda {{ round }} de «{{ study_title }}» está abierta",
            "Estimado/a {{ name }}:\n\n"
            "La ronda {{ round }} del estudio «{{ study_title }}» está abierta y le "
            "agradeceríamos sus respuestas."
            "{% if deadline %} Le rogamos que responda antes del {{ deadline }}.{% endif %}\n\n"
            "Su enlace personal:\n{{ link }}\n\n"
            "El enlace abre su página sin contraseña, por lo que le pedimos que no lo "
            "comparta. Es el mismo durante todo el estudio, y lo que guarde allí se conserva "
            "hasta que lo envíe. Los demás expertos nunca sabrán quién dio cada respuesta.\n\n"
            + _SIGNATURE_ES,
        ),
        "reminder": MessageText(
            "Recordatorio: ronda {{ round }} de «{{ study_title }}»",
            "Estimado/a {{ name }}:\n\n"
            "Aún no hemos recibido sus respuestas a la ronda {{ round }} del estudio "
            "«{{ study_title }}»."
            "{% if deadline %} La ronda se cierra el {{ deadline }}.{% endif %}\n\n"
            "Su enlace personal:\n{{ link }}\n\n"
            "Lo que haya guardado allí se conserva. Si esta vez no puede participar, una "
            "breve respuesta a este mensaje nos ayuda a planificar.\n\n" + _SIGNATURE_ES,
        ),
        "thank_you": MessageText(
            "Gracias por sus respuestas a la ronda {{ round }}",
            "Estimado/a {{ name }}:\n\n"
            "Gracias por sus respuestas a la ronda {{ round }} del estudio "
            "«{{ study_title }}». Han quedado registradas; cuando se cierre la ronda, la "
            "siguiente le mostrará la posición del panel.\n\n" + _SIGNATURE_ES,
        ),
    },
}
"""The default texts by language and kind."""


def default_text(kind: str, language: str) -> MessageText:
    """The default template of ``kind`` in ``language`` (English where none exists)."""
    return DEFAULTS.get(language, DEFAULTS["en"])[kind]


_ENVIRONMENT = ImmutableSandboxedEnvironment(
    autoescape=False,  # plain-text mail: nothing is HTML
    undefined=StrictUndefined,
    keep_trailing_newline=True,
    # No line statements or comments: only {{ … }} and {% … %} mean anything.
    line_statement_prefix=None,
    line_comment_prefix=None,
)


def template_problems(text: str, *, kind: str | None = None, part: str = "body") -> list[str]:
    """What is wrong with a subject or body template, in words; empty when it is fine.

    Refused: a syntax error (with its line), a name that is no placeholder (listing the
    ones there are), anything but a plain placeholder or an ``if`` on placeholders, a
    line break in a subject, a text over its limit, and a body of ``kind`` without the
    placeholders it needs (:data:`REQUIRED`).
    """
    limit = SUBJECT_LIMIT if part == "subject" else BODY_LIMIT
    if len(text) > limit:
        return [f"is {len(text):,} characters long; at most {limit:,}"]
    if part == "subject" and ("\n" in text or "\r" in text):
        return ["must be one line"]
    if part == "body" and not text.strip():
        return ["must not be empty"]
    try:
        parsed = _ENVIRONMENT.parse(text)
    except TemplateSyntaxError as error:
        return [f"line {error.lineno}: {error.message or 'not a valid template'}"]
    problems: list[str] = []
    used: set[str] = set()
    _check_nodes(parsed.body, problems, used)
    if part == "body" and kind is not None:
        problems += [
            f"must contain {{{{ {name} }}}}" for name in REQUIRED.get(kind, ()) if name not in used
        ]
    return list(dict.fromkeys(problems))


_ALLOWED_HINT = "only placeholders such as {{ name }} and {% if deadline %}…{% endif %} are allowed"


def _check_nodes(body: list[nodes.Node], problems: list[str], used: set[str]) -> None:
    for node in body:
        if isinstance(node, nodes.Output):
            for child in node.nodes:
                if isinstance(child, nodes.TemplateData):
                    continue
                _check_expression(child, problems, used)
        elif isinstance(node, nodes.If):
            _check_condition(node.test, problems, used)
            _check_nodes(node.body, problems, used)
            for branch in node.elif_:
                _check_condition(branch.test, problems, used)
                _check_nodes(branch.body, problems, used)
            _check_nodes(node.else_, problems, used)
        else:
            problems.append(f"{{% {_tag_name(node)} %}}: {_ALLOWED_HINT}")


def _check_condition(test: nodes.Node, problems: list[str], used: set[str]) -> None:
    if isinstance(test, nodes.Not):
        test = test.node
    _check_expression(test, problems, used)


def _check_expression(node: nodes.Node, problems: list[str], used: set[str]) -> None:
    if isinstance(node, nodes.Name):
        if node.name in PLACEHOLDERS:
            used.add(node.name)
        else:
            problems.append(
                f"{{{{ {node.name} }}}} is no placeholder; use one of " + ", ".join(PLACEHOLDERS)
            )
        return
    problems.append(f"“{_expression_text(node)}”: {_ALLOWED_HINT}")


_TAGS = {"Assign": "set", "AssignBlock": "set", "CallBlock": "call", "FilterBlock": "filter"}


def _tag_name(node: nodes.Node) -> str:
    """The tag a statement node was written as (``{% set %}`` parses to ``Assign``)."""
    name = type(node).__name__
    return _TAGS.get(name, name.lower())


def _expression_text(node: nodes.Node) -> str:
    """A short name for an expression that is not allowed (a filter, a call, …)."""
    if isinstance(node, nodes.Filter):
        return f"| {node.name}"
    if isinstance(node, nodes.Getattr):
        return f".{node.attr}"
    if isinstance(node, nodes.Const):
        return repr(node.value)
    return type(node).__name__.lower()


def render(template: MessageText, values: Mapping[str, str]) -> MessageText:
    """``template`` with ``values`` (one per placeholder) put in.  The subject is made
    one line (every run of white space becomes one space).  Raises ``ValueError`` for a
    template :func:`template_problems` would refuse."""
    subject_template = _checked(template.subject, "subject")
    body_template = _checked(template.body, "body")
    context = {name: str(values.get(name, "")) for name in PLACEHOLDERS}
    subject = subject_template.render(context)
    body = body_template.render(context)
    return MessageText(" ".join(subject.split()), body)


class Renderer:
    """:func:`render` for the many messages of one batch: a part (subject or body) whose
    placeholders have the values they had for an earlier message is not rendered again.
    A subject usually names only the study and the round, so 10,000 invitations render
    it once per language; a body names its panelist and is rendered each time."""

    #: Rendered parts kept per batch (a few subjects; bodies differ by panelist).
    KEPT = 64

    def __init__(self) -> None:
        self._done: dict[tuple[str, str, tuple[str, ...]], str] = {}

    def render(self, template: MessageText, values: Mapping[str, str]) -> MessageText:
        """As :func:`render`."""
        context = {name: str(values.get(name, "")) for name in PLACEHOLDERS}
        subject = self._part(template.subject, "subject", context)
        body = self._part(template.body, "body", context)
        return MessageText(" ".join(subject.split()), body)

    def _part(self, text: str, part: str, context: dict[str, str]) -> str:
        compiled = _checked(text, part)
        key = (text, part, tuple(context[name] for name in _used(text)))
        rendered = self._done.get(key)
        if rendered is None:
            rendered = compiled.render(context)
            if len(self._done) < self.KEPT:
                self._done[key] = rendered
        return rendered


@lru_cache(maxsize=256)
def _used(text: str) -> tuple[str, ...]:
    """The placeholders ``text`` (a checked template) reads, in a fixed order."""
    return tuple(sorted(meta.find_undeclared_variables(_ENVIRONMENT.parse(text))))


@lru_cache(maxsize=256)
def _checked(text: str, part: str) -> Template:
    """``text`` checked (:func:`template_problems`) and compiled in the sandbox, once per
    text: a click that queues 10,000 invitations renders two templates 10,000 times, and
    checking and compiling them each time took three quarters of its time.  A refused
    text raises ``ValueError`` (and is not kept)."""
    problems = template_problems(text, part=part)
    if problems:
        raise ValueError(f"{part}: " + "; ".join(problems))
    return _ENVIRONMENT.from_string(text)


def deadline_words(deadline: datetime | None, language: str, time_zone: str | None) -> str:
    """A round's deadline as a panelist reads it: the full date and the time in their
    time zone (UTC when none is known or it is not a valid zone name), with the zone's
    name, in their language: "Friday, December 11, 2026, 5:00 PM (Central Standard
    Time)"; empty for no deadline."""
    from babel.dates import format_date, format_datetime, format_time

    if deadline is None:
        return ""
    zone = _zone(time_zone)
    local = (deadline if deadline.tzinfo else deadline.replace(tzinfo=UTC)).astimezone(zone)
    locale = language if language in DEFAULTS else "en"
    day = format_date(local, "full", locale=locale)
    time = format_time(local, "short", locale=locale)
    name = format_datetime(local, "zzzz", locale=locale)
    return f"{day}, {time} ({name})"


def _zone(time_zone: str | None) -> ZoneInfo:
    if time_zone:
        try:
            return ZoneInfo(time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return ZoneInfo("UTC")


def valid_time_zone(name: str) -> bool:
    """Whether ``name`` is an IANA time zone this machine knows (``America/Mexico_City``)."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True
