"""What the API accepts and returns, as pydantic models.

The same models validate request bodies (so a bad field is named in the 422 answer),
serialise responses, and give the OpenAPI document its JSON Schemas (draft 2020-12,
the dialect of OpenAPI 3.1): the document cannot say something the API does not do.
No model has a field for a panelist's name, email or link token, except
:class:`NewPanelist` (what a facilitator sends) and :class:`IssuedLink` (the link,
returned once when it is created).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

from elicit.deadlines import MAX_YEARS_AHEAD, in_utc, latest_deadline
from surveys.api_tokens import SCOPES
from surveys.definition import SIZE_LIMIT as DEFINITION_SIZE_LIMIT

Scope = Literal["read", "write"]
assert set(SCOPES) == {"read", "write"}


def _printable(value: str) -> str:
    """Refuse control characters (NUL cannot even be stored by PostgreSQL)."""
    if any(ord(character) < 32 and character not in "\t\n\r" for character in value):
        raise ValueError("must not contain control characters")
    return value


Text = Annotated[str, AfterValidator(_printable)]


class Model(BaseModel):
    """Base of every API model: unknown fields in a request are an error, not ignored."""

    model_config = ConfigDict(extra="forbid")


# -- errors --------------------------------------------------------------------------------


class DefinitionProblem(Model):
    """One problem of a study definition, at a line of its TOML source."""

    line: int
    field: str
    message: str


class Problem(Model):
    """An error (RFC 9457 problem details): ``detail`` says what went wrong and what to do."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    #: Field → messages, for a request whose values were refused.
    errors: dict[str, list[str]] | None = None
    #: For a study definition that does not validate: every problem with its line.
    problems: list[DefinitionProblem] | None = None


# -- the caller ------------------------------------------------------------------------------


class Me(Model):
    """The token's user and what the token allows."""

    email: str
    role: Literal["facilitator", "researcher"]
    token_name: str
    scope: Scope
    token_expires_at: datetime | None


# -- studies and items ---------------------------------------------------------------------


class RoundOut(Model):
    """A round: its state and dates, and, once closed, how many panelists submitted."""

    number: int
    status: Literal["draft", "open", "closed"]
    opened_at: datetime | None
    deadline: datetime | None
    closed_at: datetime | None
    respondents: int | None = Field(description="Panelists who submitted; set once closed.")
    started_from: Literal["previous", "blank"] | None = Field(
        description="What the round's answers started from, set when it opened: each "
        "panelist's own answers of the round before ('previous') or nothing ('blank')."
    )


class StudyOut(Model):
    """A study's identity and settings, and where it stands."""

    slug: str
    title: dict[str, str] = Field(description="Title by language code.")
    languages: list[str]
    anonymity: Literal["standard", "blind"]
    max_rounds: int
    quantile_method: str
    feedback_min_n: int
    rationale_outside_iqr: Literal["off", "optional", "required"]
    carry_over: Literal["previous", "blank"] = Field(
        description="What rounds after the first start from (the protocol's setting)."
    )
    consensus: dict[str, Any] = Field(description="The consensus rules, as loaded.")
    created_at: datetime
    panelists: int = Field(description="Panelists whose link is not revoked.")
    rounds: list[RoundOut]


class StudyList(Model):
    """The studies the token's user is a member of."""

    studies: list[StudyOut]


class ItemVersionOut(Model):
    """One wording of an item; responses record the version their panelist saw."""

    version: int
    spec: dict[str, Any] = Field(description="Texts in every language, scale, rule.")
    note: str | None
    created_at: datetime


class ItemOut(Model):
    """An item with its current definition and every earlier wording."""

    key: str
    kind: str
    position: int
    version: int
    spec: dict[str, Any]
    retired_at: datetime | None
    retired_reason: str | None
    versions: list[ItemVersionOut]


class ItemList(Model):
    """A study's items in their order of appearance, retired ones included."""

    items: list[ItemOut]


class RoundList(Model):
    """A study's rounds in order."""

    rounds: list[RoundOut]


class SummaryOut(Model):
    """What closing a round stored: per item and component every statistic, the
    subgroup rows (small groups masked), the sorted answers and the rationales."""

    round: int
    closed_at: datetime | None
    quantile_method: str
    respondents: int
    settings: dict[str, Any]
    rows: list[dict[str, Any]]
    groups: list[dict[str, Any]]
    distributions: dict[str, dict[str, list[float]]]
    rationales: dict[str, list[str]]
    cannot_judge: dict[str, int]


# -- responses -----------------------------------------------------------------------------


class AnswerValue(Model):
    """One number or text of an answer; multi-value kinds have one per component."""

    component: str
    value: float | None
    text: str | None
    cannot_judge: bool


class ResponseOut(Model):
    """One panelist's response to one item in one round, under their pseudonym."""

    round: int
    item: str
    item_version: int
    item_kind: str
    pseudonym: str
    group: str
    language: str
    values: list[AnswerValue]
    rationale: str | None
    rationale_language: str = Field(
        description="The language of the page the answer was submitted from (the "
        "panelist's preferred language for answers stored before it was recorded)."
    )
    status: Literal["draft", "submitted"]
    created_at: datetime | None = Field(description="Null in a blind study.")
    updated_at: datetime | None = Field(description="Null in a blind study.")
    submitted_at: datetime | None = Field(description="Null if not submitted; in a blind study.")


class ResponsePage(Model):
    """One page of responses; ``next`` is the URL of the following page, if any."""

    responses: list[ResponseOut]
    page: int
    per_page: int
    total: int
    next: str | None


class ResponseQuery(Model):
    """Which responses, and which page of them."""

    round: int | None = Field(default=None, ge=1, le=1000, description="Only this round.")
    page: int = Field(default=1, ge=1, le=1_000_000)
    per_page: int = Field(default=100, ge=1, le=1000)


# -- writes --------------------------------------------------------------------------------


class NewStudy(Model):
    """A study definition (the TOML text of a study file) to load."""

    definition: Text = Field(min_length=1, max_length=DEFINITION_SIZE_LIMIT)
    anonymity: Literal["standard", "blind"] = "standard"


class NewPanelist(Model):
    """An expert to add.  Their name and email go to the roster and are never returned."""

    name: Text = Field(min_length=1, max_length=200)
    email: Text = Field(min_length=3, max_length=320)
    group: Text = Field(default="", max_length=63)
    language: Text = Field(default="", max_length=8, description="Empty: the study's first.")
    time_zone: Text = Field(
        default="",
        max_length=64,
        description="IANA time zone messages write the deadline in, e.g. "
        "America/Mexico_City; empty: UTC.",
    )


class NewPanelists(Model):
    """Experts to add, all or none."""

    panelists: list[NewPanelist] = Field(min_length=1, max_length=5000)


class IssuedLink(Model):
    """A new panelist's personal link, by the position of their entry in the request.
    Shown this once: only a hash of the link is kept.  No pseudonym: the caller knows
    who each entry is, and the pseudonym would join that person to their answers."""

    index: int = Field(description="The entry's position in the request, from 0.")
    group: str
    language: str
    link: str


class IssuedLinks(Model):
    """How many panelists were added and, in a standard study, their links in the
    order they were sent.  A blind study answers no link at all (the system mails
    them with the invitations), so nothing joins a person to their link."""

    added: int
    panelists: list[IssuedLink]


class PanelistRound(Model):
    """Where a panelist stands in one opened round."""

    round: int
    invited: bool
    opened: bool
    draft: bool
    submitted: bool


class PanelistOut(Model):
    """A panelist as the API shows them: pseudonym, subgroup, language, link state and
    their status in every opened round."""

    pseudonym: str
    group: str
    language: str
    revoked: bool
    rounds: list[PanelistRound]


class RoundCountsOut(Model):
    """How many panelists reached each step of one opened round."""

    round: int
    invited: int
    opened: int
    draft: int
    submitted: int


class GroupCountOut(Model):
    """A subgroup's size and its submissions per opened round; ``group`` is null for
    the row gathering every group smaller than ``min_group_size``."""

    group: str | None
    panelists: int
    submitted: list[int]


class PanelCountsOut(Model):
    """The panel as counts."""

    panelists: int
    active: int = Field(description="Panelists whose link is valid.")
    rounds: list[RoundCountsOut]
    groups: list[GroupCountOut]
    min_group_size: int


class PanelistList(Model):
    """The study's panel, without names or emails: counts of the whole panel, and in a
    standard study one page of panelists by pseudonym (``next`` is the URL of the
    following page, if any).  A blind study lists no pseudonym (``panelists`` is empty
    and ``total`` 0): a list compared before and after adding one person would reveal
    theirs."""

    counts: PanelCountsOut
    panelists: list[PanelistOut]
    page: int
    per_page: int
    total: int = Field(description="Panelists listed over all pages.")
    next: str | None


class PanelistQuery(Model):
    """Which page of the panel, in pseudonym order."""

    page: int = Field(default=1, ge=1, le=1_000_000)
    per_page: int = Field(default=100, ge=1, le=1000)


def _deadline_in_range(value: datetime | None) -> datetime | None:
    """A deadline with its zone, in UTC, at most :data:`MAX_YEARS_AHEAD` years ahead
    (whether it lies in the future, the domain judges: 409)."""
    if value is None:
        return None
    if value.utcoffset() is None:
        raise PydanticCustomError(
            "deadline_zone", "must carry a time zone, e.g. 2027-01-31T17:00:00Z"
        )
    utc = in_utc(value)
    if utc is None or utc > latest_deadline():
        raise PydanticCustomError(
            "deadline_range", f"must be at most {MAX_YEARS_AHEAD} years ahead"
        )
    return utc


class OpenRound(Model):
    """Options for opening the next round."""

    deadline: Annotated[datetime | None, AfterValidator(_deadline_in_range)] = Field(
        default=None,
        description="When answers are due, with its zone; in the future and at most "
        f"{MAX_YEARS_AHEAD} years ahead.  Stored and answered in UTC.",
    )
    number: int | None = Field(
        default=None,
        ge=1,
        le=1000,
        description="The round you mean to open: if the next round is another (a colleague "
        "opened, and closed, that one since you looked), nothing is opened (409).",
    )


# -- the scenario tracker ------------------------------------------------------------------


def _one_line(value: str) -> str:
    """Refuse every control character, line breaks included: a source is one line."""
    if any(ord(character) < 32 or 127 <= ord(character) < 160 for character in value) or any(
        character in value for character in "\u2028\u2029"
    ):
        raise ValueError("must be one line of text, without control characters")
    return value


class NewObservation(Model):
    """A dated observation after the study: a signpost seen (``seen`` true) or
    explicitly not seen by the date (``seen`` false), or a trigger that occurred."""

    observed_on: date = Field(description="When it was observed; not later than today (UTC).")
    kind: Literal["signpost", "trigger"]
    item: str = Field(
        min_length=1,
        max_length=63,
        description="The key of a signpost item, or of a trigger: a probability item a "
        "cross-impact item names as one (in a study without cross-impact items, a "
        "probability item of the section 'triggers').",
    )
    seen: bool = Field(
        default=True,
        description="For a signpost: false when it was not seen by the date.  A trigger "
        "is recorded when it occurred: true.",
    )
    note: Annotated[str, AfterValidator(_one_line)] = Field(
        min_length=1, max_length=500, description="Where it was observed, or looked for."
    )


class ObservationOut(Model):
    """One recorded observation; ``step`` is its number in the timeline (date order)."""

    id: int
    step: int
    observed_on: date
    kind: Literal["signpost", "trigger"]
    item: str
    seen: bool
    note: str
    recorded_at: datetime


class TimelineStepOut(Model):
    """The pooled scenario probabilities after one step (0: the prior), and their range
    over the panel's individual likelihoods; ``applied`` false for an observation the
    closed rounds hold no judgement of (the probabilities stay as they were)."""

    step: int
    observation: int | None
    applied: bool
    probability: dict[str, float]
    low: dict[str, float]
    high: dict[str, float]


class TrackerOut(Model):
    """The timeline: Bayes' rule with the panel's pooled likelihoods, assuming the
    signposts are independent given the scenario."""

    scenario_item: str
    scenarios: list[str]
    rounds: dict[str, int] = Field(
        description="The closed round each input comes from: prior, signposts, cross_impact."
    )
    assumption: str
    timeline: list[TimelineStepOut]


class ObservationList(Model):
    """A study's observations in date order and, once a closed round holds the panel's
    judgements of its signposts or triggers, the timeline."""

    observations: list[ObservationOut]
    tracker: TrackerOut | None


# -- outcomes and scores ------------------------------------------------------------------


class NewResolution(Model):
    """What happened for a probability item or a scenario set."""

    outcome: Text = Field(
        min_length=1,
        max_length=63,
        description="yes or no for a probability item (the event occurred within the "
        "horizon or not); the key of the scenario that unfolded for a scenario set.",
    )
    resolved_on: date = Field(
        description="When it became known (ISO 8601 date, not later than today, UTC)."
    )
    source: Text = Field(
        min_length=1, max_length=500, description="Where it is known from (one line of text)."
    )


class ResolutionOut(Model):
    """A resolved item."""

    item: str
    item_kind: Literal["probability", "scenario_set"]
    outcome: str
    resolved_on: date
    source: str
    recorded_at: datetime
    scored_round: int | None = Field(
        description="The round whose answers were scored on it; null before a round closed."
    )


class ResolutionList(Model):
    """Every resolved item of the study, in the study's order."""

    resolutions: list[ResolutionOut]


class ScoreOut(Model):
    """A forecaster's scores: means over the resolved items it is scored on (losses:
    lower is better, 0 is perfect)."""

    forecaster: str = Field(
        description="A pooling method (mean, median, trimmed_mean, geometric_odds, "
        "extremized) or a panelist's pseudonym."
    )
    item: str = Field(description="Empty: over all resolved items; else the item's key.")
    items: int = Field(description="Resolved items scored.")
    log: float | None = Field(
        description="Mean logarithmic score, -ln of the probability given to what "
        "happened (probabilities clipped to [0.01, 0.99])."
    )
    probability_items: int
    brier: float | None = Field(description="Mean Brier score of the probability items, in [0, 1].")
    scenario_items: int
    brier_scenarios: float | None = Field(
        description="Mean Brier score of the scenario sets (summed over scenarios), in [0, 2]."
    )


class CalibrationBin(Model):
    """One non-empty bin of a calibration table (probabilities in [0, 1])."""

    bin_low: float
    bin_high: float
    count: int
    events: int = Field(description="Forecasts in the bin whose event happened.")
    mean_forecast: float
    observed_frequency: float
    ci_low: float = Field(description="Wilson 95 % interval of the observed frequency.")
    ci_high: float


class CalibrationOut(Model):
    """A calibration table: of every panelist's forecasts together ('panel') or of a
    pooling method's."""

    forecaster: str
    events: int = Field(
        description="Distinct resolved events (a scenario set counts one per scenario)."
    )
    forecasts: int
    shown: bool = Field(
        description="Whether the console and the report show it: from 10 resolved events."
    )
    bins: list[CalibrationBin]


class ScoresOut(Model):
    """The stored scores (computed when an outcome or a round changed): each pooling
    method over all items and per item, the calibration tables, and one page of the
    panelists by pseudonym, best logarithmic score first (never a name)."""

    computed_at: datetime | None
    scored_rounds: dict[str, int] = Field(description="Item key → the round scored.")
    pools: list[ScoreOut]
    pool_items: list[ScoreOut]
    calibration: list[CalibrationOut]
    panelists: list[ScoreOut]
    page: int
    per_page: int
    total: int = Field(description="Panelists with a score, over all pages.")
    next: str | None


class ScoresQuery(Model):
    """Which page of the panelists' scores."""

    page: int = Field(default=1, ge=1, le=1_000_000)
    per_page: int = Field(default=100, ge=1, le=1000)


# -- prepared exports -------------------------------------------------------------------------


ExportFormat = Literal["csv", "xlsx", "json"]


class NewPreparedExport(Model):
    """Which export to prepare."""

    format: ExportFormat


class PreparedExportOut(Model):
    """An export of the study written by a job: its state, and its file once written."""

    id: int
    format: ExportFormat
    status: Literal["queued", "running", "ready", "failed"] = Field(
        description="queued: waiting for a worker; running: being written; ready: the "
        "file can be downloaded from 'file'; failed: see 'error'."
    )
    requested_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    closed_rounds: int | None = Field(
        description="How many rounds were closed when the file was written (ready only): "
        "a later close is not in it."
    )
    size: int | None = Field(description="The file's length in bytes (ready only).")
    sha256: str | None = Field(description="The file's SHA-256, hexadecimal (ready only).")
    error: str | None = Field(description="Why it failed (failed only).")
    file: str | None = Field(description="Where to download the file (ready only).")


class ClosingOut(Model):
    """A round's close computed by a job: its state, and the summary's address once the
    round is closed."""

    id: int
    round: int
    status: Literal["queued", "running", "done", "failed"] = Field(
        description="queued: waiting for a worker; running: the summary is being computed "
        "(the round takes no more submissions); done: the round is closed, its summary at "
        "'summary'; failed: the round is still open and every answer kept, see 'error'."
    )
    requested_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None = Field(description="Why it failed (failed only).")
    summary: str | None = Field(description="Where to read the round's summary (done only).")


class PreparedExportList(Model):
    """A study's prepared exports, newest first."""

    exports: list[PreparedExportOut]
