"""The JSON API under ``/api/v1``: bearer tokens, problem documents, OpenAPI 3.1."""
