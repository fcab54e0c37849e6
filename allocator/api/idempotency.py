"""`Idempotency-Key` on POST: a retry gets the first answer (same status, same body).

The key row is inserted in the same transaction as the work it guards, so it commits with the
work or not at all: a concurrent duplicate blocks on the row until the first commits, then
replays it; a crash (5xx) leaves no key and the retry runs again. 4xx problems are stored and
replayed too: the work's transaction rolls back, then the refusal is recorded on its own.
The same key with a different method, path or body is refused (422 `idempotency-key-reused`).
Keys live `TTL_HOURS` hours, per API key.

The allocation hot path does not use `run`: `shelfsight_allocate_keyed` (migration 0002) writes
the key row with the answer in the same autocommit call as the reservation, and a refusal is
recorded with `record_problem`; `Guard` carries what both need.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import msgspec
from fastapi.responses import Response
from psycopg import AsyncConnection
from psycopg.pq import TransactionStatus
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool

from allocator.api.problems import MEDIA_TYPE, FieldError, ProblemError, ProblemType

log = logging.getLogger(__name__)

TTL_HOURS = 24
MAX_KEY_LENGTH = 200
JSON = "application/json"

Work = Callable[[AsyncConnection[TupleRow]], Awaitable[tuple[int, dict[str, Any]]]]


def request_hash(method: str, path: str, body: bytes) -> bytes:
    return hashlib.sha256(b"\0".join((method.encode(), path.encode(), body))).digest()


def check_key(key: str) -> str:
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise ProblemError(
            422,
            ProblemType.VALIDATION,
            f"Idempotency-Key must be 1..{MAX_KEY_LENGTH} printable characters",
            [FieldError("Idempotency-Key", "invalid key", location="header")],
        )
    return key


async def run(
    pool: AsyncConnectionPool,
    *,
    api_key_id: str,
    idem_key: str | None,
    method: str,
    path: str,
    canonical_body: bytes,
    work: Work,
    instance: str,
) -> Response:
    """Run `work(conn)` in one transaction, once per (api key, Idempotency-Key)."""
    async with pool.connection() as conn:
        if idem_key is None:
            async with conn.transaction():
                status, body = await work(conn)
            return Response(msgspec.json.encode(body), status_code=status, media_type=JSON)
        key = check_key(idem_key)
        digest = request_hash(method, path, canonical_body)
        problem: ProblemError | None = None
        try:
            async with conn.transaction():
                cur = await conn.execute(
                    "INSERT INTO idempotency_keys (api_key_id, idem_key, method, path, request_hash)"
                    " VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING 1",
                    (api_key_id, key, method, path, digest),
                )
                if await cur.fetchone() is None:
                    return await replay(conn, api_key_id, key, digest)
                status, body = await work(conn)
                content, media = msgspec.json.encode(body), JSON
                await _record(conn, api_key_id, key, status, media, content)
        except ProblemError as exc:
            if exc.type is ProblemType.IDEMPOTENCY_KEY_REUSED:
                raise
            problem = exc
        if problem is not None:
            # The work rolled back with its key row; record the refusal on its own, unless a
            # concurrent duplicate got there first (then both callers see that answer).
            status, content, media = problem.status, problem.render(instance), MEDIA_TYPE
            async with conn.transaction():
                cur = await conn.execute(
                    "INSERT INTO idempotency_keys (api_key_id, idem_key, method, path, request_hash,"
                    " status, content_type, body) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
                    " ON CONFLICT DO NOTHING RETURNING 1",
                    (api_key_id, key, method, path, digest, status, media, content),
                )
                if await cur.fetchone() is None:
                    return await replay(conn, api_key_id, key, digest)
        return Response(content, status_code=status, media_type=media)


async def _record(
    conn: AsyncConnection[TupleRow], api_key_id: str, key: str, status: int, media: str, body: bytes
) -> None:
    await conn.execute(
        "UPDATE idempotency_keys SET status = %s, content_type = %s, body = %s"
        " WHERE api_key_id = %s AND idem_key = %s",
        (status, media, body, api_key_id, key),
    )


async def replay(
    conn: AsyncConnection[TupleRow], api_key_id: str, key: str, digest: bytes
) -> Response:
    """The stored first answer for (api key, key); 422 when it was for another request."""
    cur = await conn.execute(
        "SELECT request_hash, status, content_type, body FROM idempotency_keys"
        " WHERE api_key_id = %s AND idem_key = %s",
        (api_key_id, key),
    )
    row = await cur.fetchone()
    if row is None or row[1] is None:  # deleted by the sweep meanwhile, or never completed
        raise ProblemError(409, ProblemType.IDEMPOTENCY_KEY_REUSED, "retry: key state changed")
    if bytes(row[0]) != digest:
        raise ProblemError(
            422,
            ProblemType.IDEMPOTENCY_KEY_REUSED,
            "this Idempotency-Key was used for a different request",
            [FieldError("Idempotency-Key", "used with another method, path or body", "header")],
        )
    log.debug("replayed idempotent response for key %s of %s", key, api_key_id)
    return Response(
        bytes(row[3]), status_code=int(row[1]), media_type=str(row[2]),
        headers={"Idempotent-Replayed": "true"},
    )


async def sweep(conn: AsyncConnection[TupleRow]) -> int:
    cur = await conn.execute(
        "DELETE FROM idempotency_keys WHERE created_at < now() - make_interval(hours => %s)",
        (TTL_HOURS,),
    )
    return cur.rowcount


@dataclass(frozen=True)
class Guard:
    """One POST's Idempotency-Key, checked, with the hash of what it guards."""

    api_key_id: str
    key: str
    method: str
    path: str
    digest: bytes

    @classmethod
    def of(
        cls, api_key_id: str, idem_key: str | None, method: str, path: str, canonical_body: bytes
    ) -> Guard | None:
        if idem_key is None:
            return None
        key = check_key(idem_key)
        return cls(api_key_id, key, method, path, request_hash(method, path, canonical_body))

    async def replay(self, conn: AsyncConnection[TupleRow]) -> Response:
        return await replay(conn, self.api_key_id, self.key, self.digest)


async def insert_answer(
    conn: AsyncConnection[TupleRow], guard: Guard, status: int, media: str, content: bytes
) -> bool:
    """Store an answer under the key in one statement (autocommit); False when the key had one."""
    cur = await conn.execute(
        "INSERT INTO idempotency_keys (api_key_id, idem_key, method, path, request_hash,"
        " status, content_type, body) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT DO NOTHING RETURNING 1",
        (guard.api_key_id, guard.key, guard.method, guard.path, guard.digest, status, media,
         content),
    )
    return await cur.fetchone() is not None


async def record_answer(
    conn: AsyncConnection[TupleRow], guard: Guard, status: int, media: str, content: bytes
) -> Response | None:
    """Store an answer under the key in one statement (autocommit): None when stored, else the
    answer stored first (a replay)."""
    if not await insert_answer(conn, guard, status, media, content):
        return await guard.replay(conn)
    return None


async def record_problem(
    conn: AsyncConnection[TupleRow], guard: Guard, problem: ProblemError, instance: str
) -> Response:
    """A refusal stored under the key (or the answer a concurrent first request stored)."""
    if problem.type is ProblemType.IDEMPOTENCY_KEY_REUSED:
        raise problem
    content = problem.render(instance)
    replayed = await record_answer(conn, guard, problem.status, MEDIA_TYPE, content)
    if replayed is not None:
        return replayed
    return Response(content, status_code=problem.status, media_type=MEDIA_TYPE)


@contextlib.asynccontextmanager
async def autocommit(conn: AsyncConnection[TupleRow]) -> AsyncIterator[AsyncConnection[TupleRow]]:
    """`conn` in autocommit mode for the block (a no-op for the API's own pool, autocommit)."""
    if conn.autocommit:
        yield conn
        return
    await conn.set_autocommit(True)
    try:
        yield conn
    finally:
        if conn.pgconn.transaction_status == TransactionStatus.IDLE:
            await conn.set_autocommit(False)
        else:  # interrupted mid-query: never hand the pool a connection left in autocommit
            await conn.close()


@contextlib.asynccontextmanager
async def connection(pool: AsyncConnectionPool) -> AsyncIterator[AsyncConnection[TupleRow]]:
    """A pooled connection in autocommit mode for the block (see `autocommit`)."""
    async with pool.connection() as pooled, autocommit(pooled) as conn:
        yield conn
