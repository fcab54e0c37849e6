"""The write floor of allocate-and-reserve: the least any design must do per request.

`bench api` serves this beside the trivial endpoint, the same way (uvicorn, 2 workers, `async
def`), and drives it with the same allocation requests. Its route makes no decision and checks
no stock: it writes one row per request (the Idempotency-Key and the body, the least a durable
reservation needs) and answers once that row is committed. Rows are group-committed: each worker
keeps one connection and writes everything that arrived meanwhile in one `INSERT ... unnest` and
one commit, as the API's reservation batcher does. What this endpoint reaches is an upper bound
for the real route on the same machine; PostgreSQL runs with the same durability (fsync on).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import psycopg
from fastapi import FastAPI, Request, Response

TABLE = "bench_floor"
DDL = f"CREATE TABLE IF NOT EXISTS {TABLE} (idem_key text PRIMARY KEY, body bytea NOT NULL)"


class _Writer:
    """One connection; every row that arrived while the previous commit ran goes in the next."""

    def __init__(self, conn: psycopg.AsyncConnection[tuple[object, ...]]) -> None:
        self.conn = conn
        self.queue: list[tuple[str, bytes, asyncio.Future[None]]] = []
        self.wake = asyncio.Event()
        self.task = asyncio.create_task(self._run())

    async def write(self, key: str, body: bytes) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.queue.append((key, body, done))
        self.wake.set()
        await done

    async def _run(self) -> None:
        while True:
            await self.wake.wait()
            self.wake.clear()
            batch, self.queue = self.queue, []
            if not batch:
                continue
            try:
                async with self.conn.transaction():
                    await self.conn.execute(
                        f"INSERT INTO {TABLE} SELECT * FROM unnest(%s::text[], %s::bytea[])"
                        " ON CONFLICT DO NOTHING",
                        ([k for k, _, _ in batch], [b for _, b, _ in batch]),
                    )
            except Exception as exc:  # every waiter hears of it
                for _, _, done in batch:
                    done.set_exception(exc)
            else:
                for _, _, done in batch:
                    done.set_result(None)


def floor_app() -> FastAPI:
    """POST /v1/allocations: commit one row per request, answer 201."""
    dsn = os.environ["SHELFSIGHT__DATABASE__DSN"]

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        conn = await psycopg.AsyncConnection.connect(dsn, autocommit=True)
        app.state.floor_writer = writer = _Writer(conn)
        yield
        writer.task.cancel()
        await conn.close()

    app = FastAPI(lifespan=lifespan)

    @app.get("/ready")
    async def ready() -> dict[str, bool]:
        return {"ok": True}

    @app.post("/v1/allocations", status_code=201)
    async def allocate(request: Request) -> Response:
        body = await request.body()
        writer: _Writer = request.app.state.floor_writer
        await writer.write(request.headers["idempotency-key"], body)
        return Response(b'{"status":"reserved"}', 201, media_type="application/json")

    return app
