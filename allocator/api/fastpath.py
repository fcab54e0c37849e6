"""The hot route without FastAPI's per-request machinery: an ASGI middleware in front of the app.

`POST /v1/allocations` with no query string, a JSON body that `OrderIn` accepts, a valid key with
the `oms` (or `admin`) scope and, if any, a well-formed Idempotency-Key is answered here by the
very function the FastAPI route calls (`routes_allocations.allocate_order`), skipping dependency
solving, the Request object and the exception middleware (about half of the route's CPU).
Anything else — another route, a dry run, a body or key FastAPI would refuse — goes to the app
unchanged (the body already read is handed on), so every refusal is FastAPI's own answer. The
OpenAPI document still describes the route as FastAPI declares it.
"""

from __future__ import annotations

import logging

from pydantic import ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from allocator.api import idempotency
from allocator.api.deps import ApiState
from allocator.api.problems import ProblemError, ProblemType
from allocator.api.routes_allocations import allocate_order
from allocator.api.schemas import OrderIn

log = logging.getLogger(__name__)

PATH = "/v1/allocations"
MAX_BODY = 256 * 1024  # larger bodies (100 lines at most fit in far less) go the long way


def _headers(scope: Scope) -> dict[bytes, bytes]:
    """The first value of each header (as Starlette's `headers.get`), names lower case."""
    out: dict[bytes, bytes] = {}
    for name, value in scope["headers"]:
        out.setdefault(name, value)
    return out


def _token(headers: dict[bytes, bytes]) -> str | None:
    """The API key as FastAPI's `APIKeyHeader` then `HTTPBearer` (auto_error off) find it."""
    api_key = headers.get(b"x-api-key")
    if api_key:
        return api_key.decode("latin-1")
    authorization = headers.get(b"authorization")
    if not authorization:
        return None
    scheme, _, credentials = authorization.decode("latin-1").partition(" ")
    if not scheme or not credentials or scheme.lower() != "bearer":
        return None
    return credentials


class FastAllocate:
    """ASGI middleware: answers plainly valid allocate-and-reserve requests itself."""

    def __init__(self, app: ASGIApp, state: ApiState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != PATH
            or scope.get("query_string") or scope.get("root_path")
        ):
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        content_type = headers.get(b"content-type", b"")
        if not content_type.startswith(b"application/json"):
            await self.app(scope, receive, send)
            return
        body, complete = await _read_body(receive)
        if not complete:  # the client went away, or too large to be ours: the app decides
            await self.app(scope, _replay(body, receive, complete), send)
            return
        if not await self._serve(scope, headers, body, send):
            await self.app(scope, _replay(body, receive, complete), send)

    async def _serve(self, scope: Scope, headers: dict[bytes, bytes], body: bytes, send: Send) -> bool:
        """Answer the request and return True, or False (nothing sent) for the app to answer."""
        state = self.state
        if state.pool is None:
            return False
        try:
            order = OrderIn.model_validate_json(body)
        except ValidationError:
            return False
        raw_key = headers.get(b"idempotency-key")
        idem_key = None if raw_key is None else raw_key.decode("latin-1")
        if idem_key is not None and (
            not idem_key or len(idem_key) > idempotency.MAX_KEY_LENGTH or not idem_key.isprintable()
        ):
            return False
        try:
            caller = await state.keys.verify(state.pool, _token(headers))
        except ProblemError:
            return False
        if not caller.allowed(oms=True):
            return False
        path = scope["path"]
        try:
            response = await allocate_order(state, caller, order, False, idem_key, path)
        except ProblemError as problem:
            response = problem.response(path)
        except Exception as exc:  # as the app's handler: logged, answered as a problem
            log.error("unhandled error on POST %s", path, exc_info=exc)
            response = ProblemError(500, ProblemType.INTERNAL, "internal error").response(path)

        async def no_receive() -> Message:
            return {"type": "http.disconnect"}

        await response(scope, no_receive, send)
        return True


async def _read_body(receive: Receive) -> tuple[bytes, bool]:
    """The request body, and False when it did not arrive whole (disconnect or over MAX_BODY)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), False
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), True
        if size > MAX_BODY:
            return b"".join(chunks), False


def _replay(body: bytes, receive: Receive, complete: bool) -> Receive:
    """A `receive` that gives `body` first (as one message), then defers to `receive`."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": not complete}
        return await receive()

    return replay
