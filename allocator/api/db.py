"""A pooled connection taken only when a request needs one (cache hits need none)."""

from __future__ import annotations

import contextlib
from types import TracebackType

from psycopg import AsyncConnection
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool

from allocator.api import idempotency


class LazyConnection:
    """`async with LazyConnection(pool) as db`: `await db.get()` takes an autocommit connection
    from `pool` on first use; it goes back to the pool at the end of the block."""

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool
        self._stack = contextlib.AsyncExitStack()
        self._conn: AsyncConnection[TupleRow] | None = None

    async def get(self) -> AsyncConnection[TupleRow]:
        if self._conn is None:
            self._conn = await self._stack.enter_async_context(idempotency.connection(self.pool))
        return self._conn

    async def __aenter__(self) -> LazyConnection:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._conn = None
        await self._stack.__aexit__(kind, exc, tb)
