"""The API's plumbing: the blueprint, bearer-token authentication, JSON errors, and the
``operation`` decorator that declares a route and its OpenAPI description at once.

Every route is declared by :func:`operation`, which records its method, path,
parameters, request body, responses and required scope; the OpenAPI document
(:mod:`elicit.api.openapi`) is built from those records only, and the route is refused
to a token whose scope is too narrow before its view runs.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, TypeVar

from flask import Blueprint, Response, current_app, g, jsonify, request
from flask_limiter.errors import RateLimitExceeded
from pydantic import BaseModel, ValidationError
from werkzeug.exceptions import HTTPException

from elicit.api.schemas import DefinitionProblem, Problem
from elicit.extensions import csrf, db
from elicit.ratelimits import limiter
from surveys.accounts import is_member
from surveys.api_tokens import authenticate_token
from surveys.errors import Conflict, InvalidValues, NotFound
from surveys.models import ApiToken, Role, Study, User
from surveys.studies import find_study

blueprint = Blueprint("api", __name__, url_prefix="/api/v1")
# Requests carry a bearer token, never the console's cookie: there is nothing for a
# cross-site request to ride on, so CSRF tokens do not apply.
csrf.exempt(blueprint)

PROBLEM_JSON = "application/problem+json"
ModelT = TypeVar("ModelT", bound=BaseModel)


class ApiError(Exception):
    """An error the API answers with a problem document."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        errors: dict[str, list[str]] | None = None,
        problems: list[DefinitionProblem] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = errors
        self.problems = problems
        self.headers = headers or {}


def problem_response(error: ApiError) -> Response:
    """The problem document of ``error``, with its status and headers."""
    body = Problem(
        title=HTTPStatus(error.status).phrase,
        status=error.status,
        detail=error.detail,
        errors=error.errors,
        problems=error.problems,
    )
    response = jsonify(body.model_dump(mode="json", exclude_none=True))
    response.status_code = error.status
    response.mimetype = PROBLEM_JSON
    response.headers.update(error.headers)
    return response


# -- operations and their OpenAPI description ------------------------------------------------


@dataclass(frozen=True)
class Operation:
    """One route of the API as the OpenAPI document describes it."""

    method: str
    path: str
    operation_id: str
    summary: str
    description: str
    tag: str
    scope: str | None
    role: Role | None
    body: type[BaseModel] | None
    query: type[BaseModel] | None
    returns: type[BaseModel] | None
    status: int
    errors: tuple[int, ...]
    #: For a file download: media type → description, instead of a JSON model.
    files: dict[str, str] = field(default_factory=dict)
    path_parameters: dict[str, tuple[str, str]] = field(default_factory=dict)


OPERATIONS: list[Operation] = []
_CONVERTER = re.compile(r"<(?:(\w+):)?(\w+)>")
#: Each path parameter's JSON type and description.
PATH_PARAMETERS: dict[str, tuple[str, str]] = {
    "slug": ("string", "The study's slug, as in its definition file."),
    "number": ("integer", "The round's number, from 1."),
    "fmt": ("string", "The export format: csv (a zip of CSV files), xlsx or json."),
    "item": ("string", "An item's key, as in the study's definition."),
    "observation_id": ("integer", "The observation's id, as listed."),
    "export_id": ("integer", "The prepared export's id, as listed."),
    "closing_id": (
        "integer",
        "The close's id, from the Location of the request that asked for it.",
    ),
}


def operation(
    method: str,
    rule: str,
    *,
    summary: str,
    tag: str,
    returns: type[BaseModel] | None = None,
    status: int = 200,
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    scope: str | None = "read",
    role: Role | None = None,
    errors: tuple[int, ...] = (),
    files: dict[str, str] | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare an API route (Flask ``rule``) and its OpenAPI description.

    ``scope`` is the token scope the route needs (``None``: no token at all); ``role``
    the user role.  Every route may answer 400 (a malformed request), every
    authenticated route 401, 429 and 503; ``errors`` lists the other error statuses it
    may answer.
    """

    def register(view: Callable[..., Any]) -> Callable[..., Any]:
        path = _CONVERTER.sub(lambda match: "{" + match.group(2) + "}", rule)
        names = [match.group(2) for match in _CONVERTER.finditer(rule)]
        # 400: every request passes the input guard first, which refuses a control
        # character in the query (elicit.register_input_guards) and a request werkzeug
        # cannot read.
        statuses = set(errors) | {400}
        if names:  # an unknown study (or not the user's), round or format
            statuses.add(404)
        if scope is not None:  # 503: the database (which tokens live in) is unreachable
            statuses |= {401, 429, 503}
            if scope == "write" or role is not None:
                statuses.add(403)
        if body is not None:
            statuses |= {400, 413, 415, 422}  # 413: over MAX_CONTENT_LENGTH
        if query is not None:
            statuses.add(422)
        OPERATIONS.append(
            Operation(
                method=method.lower(),
                path=blueprint.url_prefix + path,  # type: ignore[operator]
                operation_id=view.__name__,
                summary=summary,
                description=(view.__doc__ or "").strip(),
                tag=tag,
                scope=scope,
                role=role,
                body=body,
                query=query,
                returns=returns,
                status=status,
                errors=tuple(sorted(statuses)),
                files=files or {},
                path_parameters={name: PATH_PARAMETERS[name] for name in names},
            )
        )

        def guarded(**kwargs: Any) -> Any:
            if scope is not None:
                authorise(scope, role)
            return view(**kwargs)

        guarded.__name__ = view.__name__
        guarded.__doc__ = view.__doc__
        blueprint.add_url_rule(rule, view.__name__, guarded, methods=[method])
        return view

    return register


# -- authentication and authorisation --------------------------------------------------------


def _failed_authentication(response: Response) -> bool:
    """Only refused tokens count against the limit (not a request without any)."""
    return response.status_code == 401 and g.get("api_token_refused", False)


# Guessing tokens is hopeless (256 random bits), but refused tokens are limited per
# address all the same, as failed link look-ups and logins are.
limiter.limit(
    lambda: current_app.config["ELICIT_API_AUTH_LIMIT"], deduct_when=_failed_authentication
)(blueprint)


@blueprint.before_request
def authenticate() -> None:
    """Find the request's token, if it brings one; routes needing it check later."""
    g.api_token = None
    g.api_token_refused = False
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() == "bearer" and secret.strip():
        g.api_token = authenticate_token(db.session, secret.strip())
        g.api_token_refused = g.api_token is None


def authorise(scope: str, role: Role | None) -> None:
    """Refuse the request unless it brings a usable token of ``scope`` and ``role``."""
    token: ApiToken | None = g.get("api_token")
    if token is None:
        refused = g.get("api_token_refused", False)
        raise ApiError(
            401,
            "The token is not valid, has expired or was revoked."
            if refused
            else "This request needs a token: send the header 'Authorization: Bearer <token>'.",
            headers={
                "WWW-Authenticate": 'Bearer realm="elicit"'
                + (', error="invalid_token"' if refused else "")
            },
        )
    if scope == "write" and token.scope != "write":
        raise ApiError(403, "This token may only read; create a token with the write scope.")
    if role is not None and token.user.role != role:
        raise ApiError(403, f"Only a {role.value}'s token may do this.")


def api_user() -> User:
    """The user the request's token acts for (after :func:`authorise`)."""
    token: ApiToken = g.api_token
    return token.user


def api_study(slug: str) -> Study:
    """The study ``slug`` if the token's user is a member of it; 404 otherwise (its
    existence is not revealed to others)."""
    study = find_study(db.session, slug)
    if study is None or not is_member(db.session, api_user(), study):
        raise ApiError(404, f"There is no study {slug!r}, or you are not a member of it.")
    return study


# -- request bodies and query strings --------------------------------------------------------


def _field_errors(error: ValidationError) -> dict[str, list[str]]:
    """pydantic's errors by dotted field path (``panelists.0.email``)."""
    errors: dict[str, list[str]] = {}
    for entry in error.errors(include_url=False):
        path = ".".join(str(part) for part in entry["loc"]) or "body"
        errors.setdefault(path, []).append(entry["msg"])
    return errors


def json_body(model: type[ModelT]) -> ModelT:
    """The request's JSON body validated as ``model``; 415, 400 or 422 otherwise."""
    if not request.is_json:
        raise ApiError(415, "Send the body as JSON, with 'Content-Type: application/json'.")
    try:
        data = request.get_json(silent=True)
    except RecursionError:
        # Python's parser recurses once per level of nesting (a 2 MB body may nest a
        # million levels deep); no request of this API nests more than a few.
        raise ApiError(400, "The body is nested too deeply to be a request of this API.") from None
    if data is None:
        raise ApiError(400, "The body is not valid JSON.")
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise ApiError(
            422, "Some fields are not acceptable; nothing was changed.", errors=_field_errors(error)
        ) from None


def query_arguments(model: type[ModelT]) -> ModelT:
    """The query string validated as ``model``; 422 naming each bad parameter."""
    try:
        return model.model_validate(request.args.to_dict())
    except ValidationError as error:
        raise ApiError(
            422, "Some query parameters are not acceptable.", errors=_field_errors(error)
        ) from None


def respond(model: BaseModel, status: int = 200, **headers: str) -> Response:
    """``model`` as JSON with ``status``; responses are never cached (they may hold
    answers, and links once)."""
    response = jsonify(model.model_dump(mode="json"))
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    response.headers.update(headers)
    return response


# -- errors as problem documents -------------------------------------------------------------


@blueprint.errorhandler(ApiError)
def _api_error(error: ApiError) -> Response:
    return problem_response(error)


@blueprint.errorhandler(NotFound)
def _not_found(error: NotFound) -> Response:
    return problem_response(ApiError(404, str(error)))


@blueprint.errorhandler(Conflict)
def _conflict(error: Conflict) -> Response:
    return problem_response(ApiError(409, f"{str(error)[:1].upper()}{str(error)[1:]}."))


@blueprint.errorhandler(InvalidValues)
def _invalid(error: InvalidValues) -> Response:
    return problem_response(ApiError(422, "Some values are not acceptable.", errors=error.errors))


@blueprint.errorhandler(RateLimitExceeded)
def _too_many(error: RateLimitExceeded) -> Response:
    return problem_response(
        ApiError(429, "Too many refused tokens from this address; wait a minute.")
    )


def is_api_request() -> bool:
    """Whether the current request is addressed to the API (errors answered in JSON)."""
    return request.path == "/api/v1" or request.path.startswith("/api/v1/")


def http_error_as_problem(error: HTTPException) -> Response:
    """An HTTP error raised outside the views (404 for an unknown path, 405, 413) as JSON."""
    code = error.code or 500
    detail = {
        404: "There is nothing at this address in the API; see /api/v1/openapi.json.",
        405: f"This address does not accept {request.method}; see /api/v1/openapi.json.",
    }.get(code, HTTPStatus(code).description)
    response = problem_response(ApiError(code, detail))
    if code == 405 and error.get_response().headers.get("Allow"):
        response.headers["Allow"] = error.get_response().headers["Allow"]
    return response
