"""The OpenAPI document at /api/v1/openapi.json; feature packages add their paths."""

from __future__ import annotations

import copy
from typing import Any

ERROR = {"$ref": "#/components/schemas/Error"}


def error_responses(*statuses: int) -> dict[str, Any]:
    text = {
        400: "Malformed request",
        401: "Missing or invalid token",
        403: "Not allowed for this role or unit",
        404: "Not found",
        409: "Conflicts with the current state",
        422: "Invalid input",
    }
    return {
        str(s): {"description": text[s], "content": {"application/json": {"schema": ERROR}}}
        for s in statuses
    }


def json_content(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


UNIT = {
    "type": "object",
    "required": ["code", "name", "kind", "parent", "headcount", "is_active"],
    "properties": {
        "code": {"type": "string"},
        "name": {"type": "string"},
        "kind": {"type": "string"},
        "parent": {"type": ["string", "null"]},
        "headcount": {"type": "integer"},
        "is_active": {"type": "boolean"},
    },
}

_DOC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "Readiness API",
        "version": "1",
        "description": "Emergency equipment readiness. Authenticate with "
        "`Authorization: Bearer <token>` (tokens from `flask --app wsgi users token USERNAME`). "
        'Errors are `{"error": {"code", "message"}}`.',
    },
    "servers": [{"url": "/api/v1"}],
    "security": [{"bearer": []}],
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            "Error": {
                "type": "object",
                "required": ["error"],
                "properties": {
                    "error": {
                        "type": "object",
                        "required": ["code", "message"],
                        "properties": {
                            "code": {"type": "string"},
                            "message": {"type": "string"},
                            "field": {"type": "string"},
                        },
                    }
                },
            },
            "Unit": UNIT,
        },
    },
    "paths": {
        "/me": {
            "get": {
                "summary": "The caller",
                "responses": {
                    "200": {
                        "description": "The user the token belongs to",
                        "content": json_content(
                            {
                                "type": "object",
                                "required": ["username", "role", "unit"],
                                "properties": {
                                    "username": {"type": "string"},
                                    "name": {"type": "string"},
                                    "role": {"type": "string"},
                                    "unit": {"type": ["string", "null"]},
                                    "language": {"type": "string"},
                                },
                            }
                        ),
                    },
                    **error_responses(401),
                },
            }
        },
        "/units": {
            "get": {
                "summary": "Units the caller may see, in tree order",
                "responses": {
                    "200": {
                        "description": "Units",
                        "content": json_content(
                            {
                                "type": "object",
                                "required": ["units"],
                                "properties": {
                                    "units": {
                                        "type": "array",
                                        "items": {"$ref": "#/components/schemas/Unit"},
                                    }
                                },
                            }
                        ),
                    },
                    **error_responses(401),
                },
            },
            "post": {
                "summary": "Create a unit (admin)",
                "requestBody": {
                    "required": True,
                    "content": json_content(
                        {
                            "type": "object",
                            "required": ["code", "name", "kind"],
                            "properties": {
                                "code": {
                                    "type": "string",
                                    "pattern": "^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$",
                                },
                                "name": {"type": "string", "minLength": 1, "maxLength": 100},
                                "kind": {"type": "string"},
                                "parent": {"type": ["string", "null"]},
                                "headcount": {"type": "integer", "minimum": 0},
                            },
                        }
                    ),
                },
                "responses": {
                    "201": {
                        "description": "Created",
                        "content": json_content({"$ref": "#/components/schemas/Unit"}),
                    },
                    **error_responses(400, 401, 403, 409, 422),
                },
            },
        },
        "/units/{code}": {
            "get": {
                "summary": "One unit",
                "parameters": [
                    {"name": "code", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "responses": {
                    "200": {
                        "description": "The unit",
                        "content": json_content({"$ref": "#/components/schemas/Unit"}),
                    },
                    **error_responses(401, 403, 404),
                },
            }
        },
        "/openapi.json": {
            "get": {
                "summary": "This document",
                "security": [],
                "responses": {"200": {"description": "OpenAPI document"}},
            }
        },
    },
}


def add_paths(paths: dict[str, Any], schemas: dict[str, Any] | None = None) -> None:
    """Let a feature package describe its endpoints."""
    _DOC["paths"].update(paths)
    if schemas:
        _DOC["components"]["schemas"].update(schemas)


def document() -> dict[str, Any]:
    return copy.deepcopy(_DOC)
