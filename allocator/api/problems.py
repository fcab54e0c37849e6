"""RFC 9457 problem details: one exception type, rendered the same by handlers and idempotency."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import msgspec
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from shelfsight.fieldpath import dotted

log = logging.getLogger(__name__)

PROBLEM_BASE = "https://shelfsight.dev/problems/"
MEDIA_TYPE = "application/problem+json"


class ProblemType(StrEnum):
    """The `type` slugs this API answers with (full URI = PROBLEM_BASE + slug)."""

    VALIDATION = "validation"
    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not-found"
    METHOD_NOT_ALLOWED = "method-not-allowed"
    NOT_AVAILABLE = "not-available"
    UNKNOWN_GTIN = "unknown-gtin"
    UNKNOWN_NODE = "unknown-node"
    ORDER_ALREADY_ALLOCATED = "order-already-allocated"
    INVALID_STATE = "invalid-state"
    PICK_REJECTED = "pick-rejected"
    IDEMPOTENCY_KEY_REUSED = "idempotency-key-reused"
    UNAVAILABLE = "service-unavailable"
    INTERNAL = "internal"


TITLES: dict[ProblemType, str] = {
    ProblemType.VALIDATION: "Request is not valid",
    ProblemType.UNAUTHORIZED: "Missing or invalid API key",
    ProblemType.FORBIDDEN: "API key lacks the scope for this request",
    ProblemType.NOT_FOUND: "Not found",
    ProblemType.METHOD_NOT_ALLOWED: "Method not allowed",
    ProblemType.NOT_AVAILABLE: "Stock not available",
    ProblemType.UNKNOWN_GTIN: "Unknown GTIN",
    ProblemType.UNKNOWN_NODE: "Unknown shop or warehouse",
    ProblemType.ORDER_ALREADY_ALLOCATED: "Order already has an open allocation",
    ProblemType.INVALID_STATE: "Allocation is not in a state that allows this",
    ProblemType.PICK_REJECTED: "Pick refused",
    ProblemType.IDEMPOTENCY_KEY_REUSED: "Idempotency-Key reused with a different request",
    ProblemType.UNAVAILABLE: "Service unavailable",
    ProblemType.INTERNAL: "Internal error",
}


@dataclass(frozen=True)
class FieldError:
    """One reason a request was refused: `field` is a dotted path (`lines[0].gtin`)."""

    field: str
    reason: str
    location: str = "body"
    code: str | None = None

    def to_json(self) -> dict[str, str]:
        out = {"field": self.field, "location": self.location, "reason": self.reason}
        if self.code is not None:
            out["code"] = self.code
        return out


@dataclass
class ProblemError(Exception):
    """Raise anywhere below a route: rendered as `application/problem+json`."""

    status: int
    type: ProblemType
    detail: str
    errors: Sequence[FieldError] = ()
    extra: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.status} {self.type.value}: {self.detail}"

    def body(self, instance: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": PROBLEM_BASE + self.type.value,
            "title": TITLES[self.type],
            "status": self.status,
            "detail": self.detail,
        }
        if instance is not None:
            out["instance"] = instance
        if self.errors:
            out["errors"] = [e.to_json() for e in self.errors]
        out.update(self.extra)
        return out

    def render(self, instance: str | None = None) -> bytes:
        return msgspec.json.encode(self.body(instance))

    def response(self, instance: str | None = None) -> Response:
        return Response(
            self.render(instance), status_code=self.status, media_type=MEDIA_TYPE,
            headers=self.headers or None,
        )


def validation_problem(exc: RequestValidationError) -> ProblemError:
    errors: list[FieldError] = []
    for err in exc.errors():
        loc = tuple(err.get("loc", ()))
        location = str(loc[0]) if loc else "body"
        errors.append(
            FieldError(
                field=dotted(loc[1:]) or "<root>",
                location=location,
                reason=str(err.get("msg", "invalid")),
                code=str(err.get("type", "")) or None,
            )
        )
    detail = "; ".join(f"{e.location}.{e.field}: {e.reason}" for e in errors[:5])
    return ProblemError(422, ProblemType.VALIDATION, detail or "invalid request", errors)


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into a problem document."""

    async def on_problem(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ProblemError)
        return exc.response(request.url.path)

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return validation_problem(exc).response(request.url.path)

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        kind = {
            404: ProblemType.NOT_FOUND,
            405: ProblemType.METHOD_NOT_ALLOWED,
            401: ProblemType.UNAUTHORIZED,
            403: ProblemType.FORBIDDEN,
        }.get(exc.status_code, ProblemType.VALIDATION)
        problem = ProblemError(exc.status_code, kind, str(exc.detail), headers=dict(exc.headers or {}))
        return problem.response(request.url.path)

    async def on_crash(request: Request, exc: Exception) -> Response:
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return ProblemError(500, ProblemType.INTERNAL, "internal error").response(request.url.path)

    app.add_exception_handler(ProblemError, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_crash)
