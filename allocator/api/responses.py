"""OpenAPI descriptions of the problem answers each route may give."""

from __future__ import annotations

from typing import Any

from allocator.api.problems import MEDIA_TYPE
from allocator.api.schemas import ProblemOut

_TEXT = {
    400: "Bad request.",
    401: "No API key, or an unknown, revoked or malformed one.",
    403: "The key lacks the scope for this request.",
    404: "No such resource.",
    409: "Conflict with the current state (not available, already allocated, wrong state).",
    422: "Invalid input: `errors` lists each field and reason.",
    503: "The database is not reachable.",
}


def problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    schema = {"$ref": "#/components/schemas/ProblemOut"}
    out: dict[int | str, dict[str, Any]] = {}
    for code in (401, 403, 422, 503, *codes):
        out[code] = {
            "model": ProblemOut,
            "description": _TEXT[code],
            "content": {MEDIA_TYPE: {"schema": schema}},
        }
    return out
