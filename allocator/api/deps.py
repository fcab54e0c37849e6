"""Per-app state and the FastAPI dependencies that read it (pool, caller, settings)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from psycopg_pool import AsyncConnectionPool

from allocator.api.auth import KeyStore, Principal
from allocator.api.batcher import ReserveBatcher
from allocator.api.caches import Caches
from allocator.api.metrics import ApiMetrics
from allocator.api.problems import ProblemError, ProblemType
from allocator.api.stock import NodeCache
from shelfsight.settings import ApiSettings


@dataclass
class ApiState:
    settings: ApiSettings
    metrics: ApiMetrics
    pool: AsyncConnectionPool | None = None
    keys: KeyStore = field(default_factory=KeyStore)
    caches: Caches = field(default_factory=Caches)
    batcher: ReserveBatcher | None = None  # set by the lifespan: group commit of reservations

    @property
    def nodes(self) -> NodeCache:
        return self.caches.nodes


def state_of(request: Request) -> ApiState:
    state: ApiState = request.app.state.shelfsight
    return state


# Dependencies are `async def`: FastAPI runs plain `def` dependencies in a thread pool.
async def get_state(request: Request) -> ApiState:
    return state_of(request)


def pool_of(state: ApiState) -> AsyncConnectionPool:
    """The open pool (503 before the lifespan opened it); for routes that skip `Pool`."""
    if state.pool is None:
        raise ProblemError(503, ProblemType.UNAVAILABLE, "database pool not open")
    return state.pool


async def get_pool(request: Request) -> AsyncConnectionPool:
    return pool_of(state_of(request))


_bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer ssk_<id>_<secret>`")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="`X-API-Key: ssk_...`")


async def get_principal(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    api_key: Annotated[str | None, Security(_api_key)],
) -> Principal:
    token = api_key or (bearer.credentials if bearer is not None else None)
    return await state_of(request).keys.verify(await get_pool(request), token)


State = Annotated[ApiState, Depends(get_state)]
Pool = Annotated[AsyncConnectionPool, Depends(get_pool)]
Caller = Annotated[Principal, Depends(get_principal)]
