"""Forms for one item of each kind, with every text side by side in each of the study's
languages, and the study builder's other forms.

An item form is built for its kind, the study's languages and the number of its likert
points or choices (:func:`item_form`), so that every text is a plain field the
control-character rule of :class:`elicit.forms.SafeForm` sees.  The field names follow
the definition format: ``text_en``, ``help_es``, ``label_3_en`` (the label of the point
3), ``choice_0_text_es`` (the first scenario or option), ``unit_en``, ``scale_min``,
``bounds_max``.  :func:`item_form_data` fills one from an item; :func:`form_definition`
reads an :class:`ItemDefinition` out of it; :func:`place_errors` puts each problem the
domain names (``labels.es[3]``, ``scenarios[2].text.en``) on its field.  The forms hold
no study and query nothing: the builder uses them before round 1, and the pages that add
or reword items between rounds can use them as they are.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from typing import Any

from babel import Locale, UnknownLocaleError
from flask_babel import get_locale, lazy_gettext
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    Field,
    FloatField,
    HiddenField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from elicit.facilitate.design_forms import ANONYMITY_CHOICES
from elicit.forms import SafeForm
from surveys.definition import (
    CONFIDENCE_RANGE,
    DEFAULT_OPEN_TEXT_LENGTH,
    LIKERT_OPTION_LIMIT,
    NUMBER_LIMIT,
    RANKING_OPTION_LIMIT,
    SCENARIO_LIMIT,
    Choice,
    ItemDefinition,
    LikertScale,
    LocalizedText,
)

KIND_NAMES = {
    "likert": lazy_gettext("Rating scale (likert)"),
    "probability": lazy_gettext("Probability (0–100 %)"),
    "scenario_set": lazy_gettext("Scenario set (probabilities summing to 100 %)"),
    "numeric_estimate": lazy_gettext("Numeric estimate (lowest, highest, best guess)"),
    "ranking": lazy_gettext("Ranking"),
    "open_text": lazy_gettext("Open text"),
    "signpost": lazy_gettext("Signpost (how likely under each scenario)"),
    "cross_impact": lazy_gettext("Cross-impact (scenarios if each trigger happens)"),
    "seed": lazy_gettext("Seed question (known answer, for calibration)"),
}
"""Each item kind in a facilitator's words, in the order the builder offers them."""
CHOICE_LIMITS = {"scenario_set": SCENARIO_LIMIT, "ranking": RANKING_OPTION_LIMIT}
"""The kinds whose answers are shares of (or places among) choices, and their limits."""
#: Likert points of a new item and its labels in English (a 1–5 agreement scale).
NEW_SCALE = (1, 5)
#: Open-text answers take at most this many characters.
MAX_LENGTH_LIMIT = 20000


def language_name(code: str) -> str:
    """The language ``code`` named in the interface's language ("Spanish", "español")."""
    try:
        name = Locale.parse(code).get_display_name(str(get_locale()))
    except (UnknownLocaleError, ValueError):
        return code
    return (name[:1].upper() + name[1:]) if name else code


# -- a form per kind ---------------------------------------------------------------------


class ItemFormBase(SafeForm):
    """The fields every item has; :func:`item_form` adds the per-language ones."""

    key = StringField(
        lazy_gettext("Short name"),
        description=lazy_gettext(
            "Names the item in exports and in the definition file. Lower-case letters, "
            "digits and _; leave it empty to have one made from the question."
        ),
        validators=[Optional(), Length(max=63)],
    )
    section = SelectField(lazy_gettext("Section"), choices=[], validate_choice=False)
    rationale = BooleanField(lazy_gettext("Ask experts for a reason (rationale) with their answer"))
    #: How many scenarios or options the form shows.
    choice_count = HiddenField()


def item_form(
    kind: str,
    languages: Sequence[str],
    *,
    sections: Sequence[tuple[str, str]] = (),
    points: tuple[int, int] | None = None,
    choices: int = 0,
    scenario_sets: Sequence[tuple[str, str]] = (),
    formdata: Any = None,
    data: Mapping[str, Any] | None = None,
) -> ItemFormBase:
    """The form of an item of ``kind`` in ``languages``, with ``points`` (likert: its
    lowest and highest value) or ``choices`` rows (scenario set, ranking).

    ``sections`` are ``(key, title)``, and so are ``scenario_sets``, the study's scenario
    sets a signpost may be rated against; ``formdata`` is the request's form (``None``
    renders ``data``).
    """
    fields: dict[str, Field] = {}
    for code in languages:
        name = language_name(code)
        fields[f"text_{code}"] = TextAreaField(
            lazy_gettext("Question (%(language)s)", language=name),
            validators=[Optional()],
        )
        fields[f"help_{code}"] = TextAreaField(
            lazy_gettext("Help text (%(language)s, optional)", language=name),
            validators=[Optional()],
        )
    if kind == "likert":
        fields["scale_min"] = IntegerField(
            lazy_gettext("Lowest point"),
            validators=[InputRequired(), NumberRange(min=-NUMBER_LIMIT, max=NUMBER_LIMIT)],
        )
        fields["scale_max"] = IntegerField(
            lazy_gettext("Highest point"),
            validators=[InputRequired(), NumberRange(min=-NUMBER_LIMIT, max=NUMBER_LIMIT)],
        )
        low, high = points or NEW_SCALE
        if high - low + 1 <= LIKERT_OPTION_LIMIT:
            for value in range(low, high + 1):
                for code in languages:
                    fields[f"label_{value}_{code}"] = StringField(
                        lazy_gettext(
                            "Point %(value)s (%(language)s)",
                            value=value,
                            language=language_name(code),
                        ),
                        validators=[Optional()],
                    )
    elif kind in CHOICE_LIMITS:
        for index in range(choices):
            fields[f"choice_{index}_key"] = StringField(
                lazy_gettext("Short name"),
                description=lazy_gettext(
                    "Names this choice in exports and in the definition file; leave it "
                    "empty to have one made from its text."
                ),
                validators=[Optional(), Length(max=63)],
            )
            for code in languages:
                fields[f"choice_{index}_text_{code}"] = StringField(
                    lazy_gettext("Text (%(language)s)", language=language_name(code)),
                    validators=[Optional()],
                )
    elif kind == "numeric_estimate":
        for code in languages:
            fields[f"unit_{code}"] = StringField(
                lazy_gettext("Unit (%(language)s, optional)", language=language_name(code)),
                validators=[Optional()],
            )
        fields["bounds_min"] = FloatField(
            lazy_gettext("Smallest possible value (optional)"), validators=[Optional()]
        )
        fields["bounds_max"] = FloatField(
            lazy_gettext("Largest possible value (optional)"), validators=[Optional()]
        )
        fields["estimate_level"] = FloatField(
            lazy_gettext("Standardise intervals to (%)"),
            description=lazy_gettext(
                "Before the panel's intervals are averaged, every expert's interval is "
                "rescaled to this confidence, so that an interval given at 60 %% and one "
                "given at 95 %% count alike. 80 %% is usual; leave it empty for 80 %%. "
                "From %(low)s to %(high)s.",
                low=CONFIDENCE_RANGE[0],
                high=CONFIDENCE_RANGE[1],
            ),
            validators=[Optional(), NumberRange(min=CONFIDENCE_RANGE[0], max=CONFIDENCE_RANGE[1])],
        )
    elif kind == "signpost":
        # The fieldset's help says what the experts do with the set chosen here.
        fields["scenario_item"] = SelectField(
            lazy_gettext("Scenario set"), choices=[], validate_choice=False
        )
    elif kind == "seed":
        for code in languages:
            fields[f"unit_{code}"] = StringField(
                lazy_gettext("Unit (%(language)s, optional)", language=language_name(code)),
                validators=[Optional()],
            )
        fields["seed_answer"] = FloatField(
            lazy_gettext("Known answer (never shown to experts)"),
            description=lazy_gettext(
                "The true value, known to you. Experts give their 5th, 50th and 95th "
                "percentiles; their answers to seed questions weight them in Cooke's "
                "classical model. Only the facilitator's pages show this value."
            ),
            validators=[InputRequired(), NumberRange(min=-NUMBER_LIMIT, max=NUMBER_LIMIT)],
        )
        fields["background"] = SelectField(
            lazy_gettext("Background measure"),
            description=lazy_gettext(
                "Log-uniform for quantities that span orders of magnitude (the answer and "
                "every percentile must then be above 0); uniform otherwise."
            ),
            choices=[
                SelectChoice("uniform", lazy_gettext("Uniform")),
                SelectChoice("log-uniform", lazy_gettext("Log-uniform")),
            ],
            default="uniform",
        )
    elif kind == "open_text":
        fields["max_length"] = IntegerField(
            lazy_gettext("Longest answer, in characters"),
            validators=[InputRequired(), NumberRange(min=1, max=MAX_LENGTH_LIMIT)],
        )
    elif kind == "cross_impact":
        # The choices are the study's items, set by :func:`cross_impact_choices`; the
        # domain checks what is posted (an item of the right kind).
        fields["scenario_item"] = SelectField(
            lazy_gettext("Scenario set"),
            description=lazy_gettext("The scenario-set item whose scenarios the experts split."),
            choices=[],
            validate_choice=False,
        )
        fields["triggers"] = SelectMultipleField(
            lazy_gettext("Triggers"),
            description=lazy_gettext(
                "Probability items: for each one ticked, experts give the scenario set they "
                "expect if it happens."
            ),
            choices=[],
            validate_choice=False,
            widget=ListWidget(prefix_label=False),
            option_widget=CheckboxInput(),
        )
    form_class = type(f"{kind.title().replace('_', '')}ItemForm", (ItemFormBase,), fields)
    form = form_class(formdata=formdata, data=dict(data or {}))
    form.section.choices = [("", lazy_gettext("No section")), *sections]
    if kind == "signpost":
        form["scenario_item"].choices = [
            ("", lazy_gettext("Choose a scenario set…")),
            *scenario_sets,
        ]
    form.kind = kind  # type: ignore[attr-defined]
    form.languages = tuple(languages)  # type: ignore[attr-defined]
    form.points = (low, high) if kind == "likert" else None  # type: ignore[attr-defined]
    form.choices = choices  # type: ignore[attr-defined]
    form.choice_count.data = str(choices)
    return form


#: The labels of a new likert item's 1–5 agreement scale, in the languages that have them.
NEW_SCALE_LABELS = {
    "en": (
        "Strongly disagree",
        "Disagree",
        "Neither agree nor disagree",
        "Agree",
        "Strongly agree",
    ),
    "es": (
        "Muy en desacuerdo",
        "En desacuerdo",
        "Ni de acuerdo ni en desacuerdo",
        "De acuerdo",
        "Muy de acuerdo",
    ),
}


def new_item_data(kind: str, languages: Sequence[str], section: str = "") -> dict[str, Any]:
    """The data of a new item's form: a 1–5 agreement scale (labelled in the languages
    that have labels here), two empty choices, answers of 2,000 characters."""
    data: dict[str, Any] = {"section": section, "rationale": True}
    if kind == "likert":
        data["scale_min"], data["scale_max"] = NEW_SCALE
        for code in languages:
            for value, label in enumerate(NEW_SCALE_LABELS.get(code, ()), start=NEW_SCALE[0]):
                data[f"label_{value}_{code}"] = label
    if kind == "open_text":
        data["max_length"] = DEFAULT_OPEN_TEXT_LENGTH
    return data


def item_form_data(definition: ItemDefinition, languages: Sequence[str]) -> dict[str, Any]:
    """The form data of ``definition``: every text in its per-language field."""
    data: dict[str, Any] = {
        "key": definition.key,
        "section": definition.section or "",
        "rationale": definition.rationale,
    }

    def put(prefix: str, text: LocalizedText | None) -> None:
        for code, value in text.values if text else ():
            data[f"{prefix}_{code}"] = value

    put("text", definition.text)
    put("help", definition.help)
    put("unit", definition.unit)
    if definition.scale is not None:
        data["scale_min"] = definition.scale.minimum
        data["scale_max"] = definition.scale.maximum
        for code, labels in definition.scale.labels:
            for value, label in zip(
                range(definition.scale.minimum, definition.scale.maximum + 1), labels, strict=False
            ):
                data[f"label_{value}_{code}"] = label
    for index, choice in enumerate(definition.scenarios or definition.options):
        data[f"choice_{index}_key"] = choice.key
        put(f"choice_{index}_text", choice.text)
    if definition.estimate_bounds is not None:
        data["bounds_min"], data["bounds_max"] = definition.estimate_bounds
    if definition.estimate_level is not None:
        data["estimate_level"] = definition.estimate_level
    if definition.max_length is not None:
        data["max_length"] = definition.max_length
    if definition.scenario_item is not None:
        data["scenario_item"] = definition.scenario_item
    if definition.kind == "cross_impact":
        data["scenario_item"] = definition.scenario_item or ""
        data["triggers"] = [trigger.key for trigger in definition.triggers]
    if definition.kind == "seed":
        data["seed_answer"] = definition.seed_answer
        data["background"] = definition.background
    return data


def cross_impact_choices(
    form: ItemFormBase, items: Sequence[ItemDefinition], language: str, fallback: str
) -> None:
    """Offer a cross-impact form the study's scenario sets and probability items."""
    if getattr(form, "kind", None) != "cross_impact":
        return

    def named(item: ItemDefinition) -> tuple[str, str]:
        return (item.key, f"{item.text.get(language, fallback)} ({item.key})")

    form["scenario_item"].choices = [  # type: ignore[attr-defined]
        ("", lazy_gettext("Choose a scenario set…")),
        *(named(item) for item in items if item.kind == "scenario_set"),
    ]
    form["triggers"].choices = [  # type: ignore[attr-defined]
        named(item) for item in items if item.kind == "probability"
    ]


def item_shape(definition: ItemDefinition) -> dict[str, Any]:
    """The ``points`` and ``choices`` of :func:`item_form` for ``definition``."""
    points = (definition.scale.minimum, definition.scale.maximum) if definition.scale else None
    return {"points": points, "choices": len(definition.scenarios or definition.options)}


def posted_shape(kind: str, formdata: Mapping[str, str]) -> dict[str, Any]:
    """The ``points`` and ``choices`` a posted form had (its scale as typed, its number of
    choice rows), so that it is read back with every field it showed."""
    points = None
    if kind == "likert":
        try:
            points = (int(formdata.get("scale_min", "")), int(formdata.get("scale_max", "")))
        except ValueError:
            points = None
        if points is not None and not 2 <= points[1] - points[0] + 1 <= LIKERT_OPTION_LIMIT:
            points = None
    choices = 0
    if kind in CHOICE_LIMITS:
        try:
            choices = int(formdata.get("choice_count", "0"))
        except ValueError:
            choices = 0
        choices = min(max(choices, 0), CHOICE_LIMITS[kind])
    return {"points": points, "choices": choices}


def _one_line(value: str | None) -> str:
    """A one-line text as typed, a line break typed by mistake made a space."""
    return re.sub(r"\s*[\r\n]+\s*", " ", value or "").strip()


def _texts(form: ItemFormBase, prefix: str, *, one_line: bool = True) -> LocalizedText | None:
    """The per-language fields ``<prefix>_<language>`` as a text (``None`` if all empty)."""
    values = []
    for code in form.languages:  # type: ignore[attr-defined]
        field = form[f"{prefix}_{code}"]
        raw = field.data or ""
        value = _one_line(raw) if one_line else raw.replace("\r\n", "\n").strip()
        if value:
            values.append((code, value))
    return LocalizedText(tuple(values)) if values else None


def form_definition(
    form: ItemFormBase, *, existing: ItemDefinition | None = None
) -> ItemDefinition:
    """The item the form describes; what the form does not edit (the consensus rules,
    the study's and each part's) is kept from ``existing``."""
    kind: str = form.kind  # type: ignore[attr-defined]
    languages: tuple[str, ...] = form.languages  # type: ignore[attr-defined]
    fields: dict[str, Any] = {}
    if kind == "likert":
        low, high = form.points  # type: ignore[attr-defined]
        minimum = form["scale_min"].data if form["scale_min"].data is not None else low
        maximum = form["scale_max"].data if form["scale_max"].data is not None else high
        labels = tuple(
            (
                code,
                tuple(
                    _one_line(form[f"label_{value}_{code}"].data)
                    if f"label_{value}_{code}" in form
                    else ""
                    for value in range(minimum, maximum + 1)
                )
                if maximum - minimum + 1 <= LIKERT_OPTION_LIMIT
                else (),
            )
            for code in languages
        )
        fields["scale"] = LikertScale(minimum, maximum, labels)
    elif kind in CHOICE_LIMITS:
        rows = tuple(
            Choice(
                (form[f"choice_{index}_key"].data or "").strip(),
                _texts(form, f"choice_{index}_text") or LocalizedText(()),
            )
            for index in range(form.choices)  # type: ignore[attr-defined]
        )
        fields["scenarios" if kind == "scenario_set" else "options"] = rows
    elif kind == "numeric_estimate":
        fields["unit"] = _texts(form, "unit")
        low, high = form["bounds_min"].data, form["bounds_max"].data
        fields["estimate_bounds"] = (
            (float(low), float(high)) if low is not None and high is not None else None
        )
        level = form["estimate_level"].data
        fields["estimate_level"] = float(level) if level is not None else None
    elif kind == "seed":
        fields["unit"] = _texts(form, "unit")
        answer = form["seed_answer"].data
        fields["seed_answer"] = float(answer) if answer is not None else None
        # Uniform is the default: written out only when chosen otherwise, so that an
        # item keeps the form its file gave it.
        background = form["background"].data
        kept = existing.seed_background if existing is not None else None
        fields["seed_background"] = (
            background if background != "uniform" or kept == "uniform" else None
        )
    elif kind == "open_text":
        fields["max_length"] = form["max_length"].data
    elif kind == "signpost":
        # Its scenarios are the set's, copied when the item is checked.
        fields["scenario_item"] = form["scenario_item"].data or None
    elif kind == "cross_impact":
        # Keys only: the study's items give the scenarios and the triggers' texts.
        fields["scenario_item"] = (form["scenario_item"].data or "").strip()
        known = {trigger.key: trigger.text for trigger in existing.triggers} if existing else {}
        fields["triggers"] = tuple(
            Choice(key, known.get(key, LocalizedText(())))
            for key in dict.fromkeys(form["triggers"].data or [])
        )
    fields.update(
        key=(form.key.data or "").strip(),
        kind=kind,
        text=_texts(form, "text") or LocalizedText(()),
        section=form.section.data or None,
        help=_texts(form, "help", one_line=False),
        rationale=bool(form.rationale.data),
    )
    # Whatever the form does not edit (the consensus rules) stays as it was.
    return dataclasses.replace(existing, **fields) if existing else ItemDefinition(**fields)


def check_bounds(form: ItemFormBase) -> bool:
    """A numeric estimate's bounds come both or not at all; say so on the missing one."""
    if form.kind != "numeric_estimate":  # type: ignore[attr-defined]
        return True
    low, high = form["bounds_min"], form["bounds_max"]
    if (low.data is None) == (high.data is None) or low.errors or high.errors:
        return True
    missing = high if low.data is not None else low
    missing.errors = [*missing.errors, lazy_gettext("Give both values, or neither.")]
    return False


def place_errors(form: ItemFormBase, errors: Mapping[str, list[str]]) -> list[str]:
    """Put each problem the domain names on its field; return those of no field."""
    languages: tuple[str, ...] = form.languages  # type: ignore[attr-defined]
    unplaced: list[str] = []
    for field, messages in errors.items():
        name = _field_name(form, field, languages[0])
        if name is not None and name in form:
            form[name].errors = [*form[name].errors, *messages]
        else:
            unplaced.extend(f"{field}: {message}" for message in messages)
    return unplaced


def _field_name(form: ItemFormBase, field: str, first: str) -> str | None:
    """The form field of a problem named as the domain names it, if there is one."""
    if field in ("key", "section", "rationale", "max_length", "scenario_item", "triggers"):
        return field
    if match := re.fullmatch(r"(text|help|unit)(?:\.([a-z]{2}))?", field):
        return f"{match.group(1)}_{match.group(2) or first}"
    if match := re.fullmatch(r"scale(?:\.(min|max))?", field):
        return f"scale_{match.group(1) or 'max'}"
    if field == "level":
        return "estimate_level"
    if field == "answer":
        return "seed_answer"
    if field == "background":
        return "background"
    if match := re.fullmatch(r"bounds(?:\.(min|max))?", field):
        return f"bounds_{match.group(1) or 'max'}"
    if match := re.fullmatch(r"labels(?:\.([a-z]{2}))?(?:\[(\d+)\])?", field):
        low = form.points[0] if form.points else 0  # type: ignore[attr-defined]
        return f"label_{low + int(match.group(2) or 1) - 1}_{match.group(1) or first}"
    if match := re.fullmatch(
        r"(?:scenarios|options)\[(\d+)\](?:\.(key|text)(?:\.([a-z]{2}))?)?", field
    ):
        index = int(match.group(1)) - 1
        if match.group(2) == "key":
            return f"choice_{index}_key"
        return f"choice_{index}_text_{match.group(3) or first}"
    return None


def text_fields(form: ItemFormBase, prefix: str) -> list[Field]:
    """The per-language fields ``<prefix>_<language>`` of ``form``, in language order."""
    return [form[f"{prefix}_{code}"] for code in form.languages]  # type: ignore[attr-defined]


# -- the builder's other forms -------------------------------------------------------------


class StartStudyForm(SafeForm):
    """A new study: where it starts from, its address, languages, title and anonymity.
    The domain checks them all at once by the loader's rules (no length here)."""

    start = SelectField(lazy_gettext("Start from"), choices=[], validate_choice=True)
    slug = StringField(
        lazy_gettext("Short address (slug)"),
        description=lazy_gettext(
            "Appears in the console's addresses: 2 to 63 lower-case letters, digits and "
            "hyphens, e.g. water-2040. It cannot change later."
        ),
        validators=[DataRequired()],
    )
    languages = StringField(
        lazy_gettext("Languages"),
        description=lazy_gettext(
            "Two-letter codes separated by commas, the first being the default: "
            "en, es (English and Spanish), fr, pt…"
        ),
        default="en, es",
        validators=[DataRequired()],
    )
    title = StringField(
        lazy_gettext("Title (in the first language, optional)"),
        description=lazy_gettext("Leave it empty to keep the starting point's title for now."),
        validators=[Optional()],
    )
    anonymity = SelectField(
        lazy_gettext("Anonymity"), choices=ANONYMITY_CHOICES, default="standard"
    )


def language_codes(value: str | None) -> list[str]:
    """The codes typed in a languages field: separated by commas or spaces, lower-cased."""
    return [code for code in re.split(r"[\s,;]+", (value or "").strip().lower()) if code]


class StudyTextsForm(SafeForm):
    """The study's title and introduction, per language (fields added by :func:`texts_form`)."""


def texts_form(languages: Sequence[str], *, formdata: Any = None, data: Any = None) -> SafeForm:
    """The study's title and introduction in each of ``languages``."""
    fields: dict[str, Field] = {}
    for code in languages:
        fields[f"title_{code}"] = StringField(
            lazy_gettext("Title (%(language)s)", language=language_name(code)),
            validators=[Optional()],
        )
        fields[f"introduction_{code}"] = TextAreaField(
            lazy_gettext("Introduction (%(language)s, optional)", language=language_name(code)),
            validators=[Optional()],
        )
    form_class = type("TextsForm", (StudyTextsForm,), fields)
    form = form_class(formdata=formdata, data=dict(data or {}))
    form.languages = tuple(languages)  # type: ignore[attr-defined]
    return form


def section_form(
    languages: Sequence[str], *, formdata: Any = None, data: Any = None, prefix: str = ""
) -> SafeForm:
    """A section's title in each of ``languages``."""
    fields: dict[str, Field] = {
        f"title_{code}": StringField(
            lazy_gettext("Section title (%(language)s)", language=language_name(code)),
            validators=[Optional()],
        )
        for code in languages
    }
    form_class = type("SectionForm", (SafeForm,), fields)
    form = form_class(formdata=formdata, data=dict(data or {}), prefix=prefix)
    form.languages = tuple(languages)  # type: ignore[attr-defined]
    return form


def per_language(form: SafeForm, prefix: str) -> dict[str, str]:
    """``{language: typed text}`` of the fields ``<prefix>_<language>``."""
    return {
        code: (form[f"{prefix}_{code}"].data or "").replace("\r\n", "\n")
        for code in form.languages  # type: ignore[attr-defined]
    }


class ImportForm(SafeForm):
    """A definition file to replace the draft with, uploaded or pasted."""

    definition = FileField(lazy_gettext("Definition file (TOML)"))
    source = TextAreaField(lazy_gettext("Or paste the definition"), validators=[Optional()])


__all__ = [
    "CHOICE_LIMITS",
    "KIND_NAMES",
    "ImportForm",
    "ItemFormBase",
    "StartStudyForm",
    "check_bounds",
    "cross_impact_choices",
    "form_definition",
    "item_form",
    "item_form_data",
    "item_shape",
    "language_codes",
    "language_name",
    "new_item_data",
    "per_language",
    "place_errors",
    "posted_shape",
    "section_form",
    "text_fields",
    "texts_form",
]
