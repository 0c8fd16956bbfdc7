"""The OpenAPI 3.1 document of the API, built from the declared operations and the
pydantic models they use (see :func:`elicit.api.core.operation`)."""

from __future__ import annotations

from functools import cache
from http import HTTPStatus
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from elicit.api.core import OPERATIONS, PROBLEM_JSON, Operation
from elicit.api.schemas import Problem
from elicit.converters import DATABASE_INTEGER_MAX
from surveys.exports import software_version

REF = "#/components/schemas/{model}"

DESCRIPTION = """\
Read a study's items, rounds, round summaries and responses; load studies, add
panelists, open and close rounds, so that a study can be run by a script.

Authenticate with a bearer token (`Authorization: Bearer elicit_…`) created in the
console (“API tokens”) or with `elicit token create EMAIL`. A token acts as its user on
the studies the user is a member of; a *read* token only reads, a *write* token may also
do what the user's role allows (loading studies, the panel and rounds need a
facilitator). Errors are problem documents (RFC 9457) whose `detail` says what went
wrong. No response holds a panelist's name or email; a personal link is returned once,
when the panelist is added.
"""


def _models() -> list[type[BaseModel]]:
    models: list[type[BaseModel]] = [Problem]
    for operation in OPERATIONS:
        for model in (operation.body, operation.returns):
            if model is not None and model not in models:
                models.append(model)
    return models


def _schemas() -> dict[str, Any]:
    """JSON Schemas of every model used, each under its class name."""
    keyed = [(model, "validation") for model in _models()]
    _, definitions = models_json_schema(keyed, ref_template=REF)  # type: ignore[arg-type]
    return dict(definitions.get("$defs", {}))


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template=REF)
    required = set(schema.get("required", []))
    parameters = []
    for name, prop in schema["properties"].items():
        prop = dict(prop)
        description = prop.pop("description", None)
        prop.pop("title", None)
        # A query parameter is absent or a string: "null" is not one of its values.
        branches = [branch for branch in prop.pop("anyOf", []) if branch != {"type": "null"}]
        if branches:
            (only,) = branches
            prop.update(only)
        if prop.get("default", "") is None:
            del prop["default"]
        parameter: dict[str, Any] = {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": prop,
        }
        if description:
            parameter["description"] = description
        parameters.append(parameter)
    return parameters


def _json(model: type[BaseModel], media_type: str = "application/json") -> dict[str, Any]:
    return {media_type: {"schema": {"$ref": REF.format(model=model.__name__)}}}


def _operation(operation: Operation) -> dict[str, Any]:
    parameters = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "description": description,
            # Larger numbers match no route (elicit.converters): 404.
            "schema": {"type": kind, "minimum": 0, "maximum": DATABASE_INTEGER_MAX}
            if kind == "integer"
            else {"type": kind, "enum": ["csv", "xlsx", "json"]}
            if name == "fmt"
            else {"type": kind},
        }
        for name, (kind, description) in operation.path_parameters.items()
    ]
    if operation.query is not None:
        parameters += _query_parameters(operation.query)
    success: dict[str, Any] = {"description": HTTPStatus(operation.status).phrase}
    if operation.returns is not None:
        success["content"] = _json(operation.returns)
    elif operation.files:
        success["content"] = {
            # A JSON file is a JSON document (clients parse it), the others bytes.
            media: {"schema": {"type": "object"}}
            if media == "application/json"
            else {"schema": {"type": "string", "contentMediaType": media}}
            for media in operation.files
        }
    responses: dict[str, Any] = {str(operation.status): success}
    for status in operation.errors:
        responses[str(status)] = {
            "description": HTTPStatus(status).phrase,
            "content": _json(Problem, PROBLEM_JSON),
        }
    document: dict[str, Any] = {
        "operationId": operation.operation_id,
        "summary": operation.summary,
        "description": operation.description,
        "tags": [operation.tag],
        "parameters": parameters,
        "responses": responses,
    }
    if operation.scope is None:
        document["security"] = []
    else:
        document["security"] = [{"bearerToken": [operation.scope]}]
    if operation.body is not None:
        document["requestBody"] = {"required": True, "content": _json(operation.body)}
    return document


@cache
def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of every declared operation (built once per process)."""
    paths: dict[str, dict[str, Any]] = {}
    for operation in OPERATIONS:
        paths.setdefault(operation.path, {})[operation.method] = _operation(operation)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "elicit API",
            "version": software_version(),
            "description": DESCRIPTION,
        },
        "servers": [{"url": "/"}],
        "tags": [
            {"name": "account", "description": "The token's user."},
            {"name": "studies", "description": "Studies, their items and panel."},
            {"name": "rounds", "description": "Opening, closing and summaries of rounds."},
            {"name": "data", "description": "Responses and exports."},
            {
                "name": "outcomes",
                "description": "What happened for probability items and scenario sets, "
                "and the panel's scores on it.",
            },
            {
                "name": "tracker",
                "description": "After the study: observations of signposts and triggers, "
                "and the scenario probabilities updated after each one.",
            },
        ],
        "paths": paths,
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {
                "bearerToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A token created in the console or with "
                    "`elicit token create EMAIL`.",
                }
            },
        },
        "security": [{"bearerToken": []}],
    }
