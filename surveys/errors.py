"""Exceptions the domain raises; each entry point turns them into a message and a 4xx."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any


class DomainError(Exception):
    """A use case refused: the message says why, in words a facilitator understands."""


class NotFound(DomainError):
    """The study, round or panelist asked for does not exist."""


class Conflict(DomainError):
    """The request contradicts the current state (e.g. a round is already open)."""


class InvalidValues(DomainError):
    """Some values given to a use case are not acceptable; nothing was changed.

    ``errors`` maps each field to the messages about it.
    """

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__(
            "; ".join(
                f"{field}: {message}" for field, messages in errors.items() for message in messages
            )
        )
        self.errors = errors


class AccessRevoked(DomainError):
    """The personal link was withdrawn by the facilitator."""


@dataclass(frozen=True)
class AnswerError:
    """One problem with one field of an expert's answers.

    ``code`` names the problem (the web layer words it in the expert's language);
    ``params`` carries the numbers the message needs.
    """

    field: str
    code: str
    params: dict[str, Any] = dataclass_field(default_factory=dict)


class InvalidAnswers(DomainError):
    """Some answers are malformed; nothing was saved."""

    def __init__(self, errors: list[AnswerError]) -> None:
        super().__init__(f"{len(errors)} answer(s) need correcting")
        self.errors = errors
