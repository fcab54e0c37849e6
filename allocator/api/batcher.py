"""Group commit of allocate-and-reserve requests: one PostgreSQL call per batch, per worker.

A request that has its decision hands a `Pending` to `ReserveBatcher.reserve` and awaits its own
`Attempt`. While no batch is in flight, the next one is sent as soon as the event loop has let
the requests that are ready in this iteration join it; while one is in flight, arriving requests
wait and all go together in the next (at most `max_batch` per call). A batch is one call of
`shelfsight_allocate_batch` (migration 0003): one transaction, one WAL flush, every request with
its own outcome (one request's `short` never fails the others; nothing of a refused request is
left written). Should the call itself fail (a deadlock with another worker's batch, a lost
connection), each request of the batch is retried on its own with `shelfsight_allocate_keyed`,
so that a failure is only ever the failing request's.

The call also returns the availability of every cell it locked, after the batch: handed to
`on_cells` (the stock cache), so hot cells are refreshed without a query of their own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
import psycopg
from psycopg import AsyncConnection
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool

from allocator.api import idempotency, reservations
from allocator.api.reservations import Attempt, AttemptOutcome, KeyRow, Shortage
from allocator.decision import Decision
from allocator.model import Order

log = logging.getLogger(__name__)

#: Requests per call at most (each refused one costs a little WAL; 32 keeps a call short).
MAX_BATCH = 32

_ENCODER = msgspec.json.Encoder()
# Binary parameters (no text-array quoting: a third of the call's client CPU), cast explicitly:
# a list of only NULLs (no Idempotency-Key in the batch) has no type of its own.
_TYPES = (
    "int", "uuid[]", "timestamptz[]", "timestamptz[]", "text[]", "float8[]", "float8[]", "text[]",
    "text[]", "jsonb[]", "text[]", "float8[]", "jsonb[]", "text[]", "text[]", "text[]", "text[]",
    "bytea[]", "int[]", "text[]", "bytea[]", "int[]", "text[]", "text[]", "int[]", "int[]", "int[]",
    "text[]", "text[]", "int[]",
)
_COLUMNS = "SELECT req, outcome, node_id, gtin, wanted, available, info FROM "
_ALLOCATE = "shelfsight_allocate_batch(" + ", ".join(f"%b::{t}" for t in _TYPES) + ")"
_RECORD_TYPES = ("int", "text[]", "text[]", "text[]", "text[]", "bytea[]", "int[]", "text[]", "bytea[]")
_RECORD = "shelfsight_record_answers(" + ", ".join(f"%b::{t}" for t in _RECORD_TYPES) + ")"
_BATCH_SQL = _COLUMNS + _ALLOCATE
_RECORD_SQL = _COLUMNS + _RECORD
# One statement, one transaction: the reservations first, then the refusals' answers.
_BOTH_SQL = f"{_COLUMNS}{_ALLOCATE} UNION ALL {_COLUMNS}{_RECORD}"


@dataclass(frozen=True, slots=True)
class Pending:
    """One request's reservation: what `reservations.allocate_once` takes, ready to batch."""

    allocation_id: uuid.UUID
    order: Order
    decision: Decision
    decision_json: bytes
    created_at: datetime
    expires_at: datetime
    key: KeyRow | None
    answer: bytes


@dataclass(frozen=True, slots=True)
class Answer:
    """A refusal to store under its Idempotency-Key (as `idempotency.record_answer` does)."""

    guard: idempotency.Guard
    status: int
    content_type: str
    body: bytes


@dataclass(frozen=True, slots=True)
class CellAvailability:
    node_id: str
    gtin: str
    available: int


CellsCallback = Callable[[list[CellAvailability]], None]
_Waiter = tuple[Pending | Answer, "asyncio.Future[Attempt]"]


def batch_params(protect: int, items: list[Pending]) -> tuple[Any, ...]:
    """The 30 parameters of `shelfsight_allocate_batch` for `items` (request i is items[i-1])."""
    cell_req: list[int] = []
    cell_nodes: list[str] = []
    cell_gtins: list[str] = []
    cell_qtys: list[int] = []
    line_req: list[int] = []
    line_nos: list[int] = []
    line_nodes: list[str] = []
    line_gtins: list[str] = []
    line_qtys: list[int] = []
    for i, p in enumerate(items, 1):
        for node, gtin, qty in reservations.cells_of(p.decision):
            cell_req.append(i)
            cell_nodes.append(node)
            cell_gtins.append(gtin)
            cell_qtys.append(qty)
        for a in p.decision.assignments:
            line_req.append(i)
            line_nos.append(a.line)
            line_nodes.append(a.node_id)
            line_gtins.append(a.gtin)
            line_qtys.append(a.qty)
    keys = [p.key for p in items]
    return (
        protect,
        [p.allocation_id for p in items], [p.created_at for p in items],
        [p.expires_at for p in items], [p.order.id for p in items],
        [p.order.ship_lat for p in items], [p.order.ship_lon for p in items],
        [p.order.service_level.value for p in items], [p.order.collect_shop for p in items],
        [_ENCODER.encode([{"gtin": x.gtin, "qty": x.qty} for x in p.order.lines]).decode()
         for p in items],
        [p.decision.policy for p in items], [p.decision.breakdown.total for p in items],
        [p.decision_json.decode() for p in items],
        [None if k is None else k.api_key_id for k in keys],
        [None if k is None else k.key for k in keys],
        [None if k is None else k.method for k in keys],
        [None if k is None else k.path for k in keys],
        [None if k is None else k.digest for k in keys],
        [None if k is None else k.status for k in keys],
        [None if k is None else k.content_type for k in keys],
        [None if p.key is None else p.answer for p in items],
        cell_req, cell_nodes, cell_gtins, cell_qtys,
        line_req, line_nos, line_nodes, line_gtins, line_qtys,
    )


def record_params(offset: int, answers: list[Answer]) -> tuple[Any, ...]:
    """The parameters of `shelfsight_record_answers` (request offset + i is answers[i-1])."""
    g = [a.guard for a in answers]
    return (
        offset, [x.api_key_id for x in g], [x.key for x in g], [x.method for x in g],
        [x.path for x in g], [x.digest for x in g], [a.status for a in answers],
        [a.content_type for a in answers], [a.body for a in answers],
    )


class BatchResult:
    """The rows of one batch call, split per request (1-based) and the cells' availability."""

    def __init__(self, rows: list[tuple[Any, ...]], n: int) -> None:
        self.outcome: list[str | None] = [None] * (n + 1)
        self.info: list[str | None] = [None] * (n + 1)
        self.short: list[list[Shortage]] = [[] for _ in range(n + 1)]
        self.cells: list[CellAvailability] = []
        for req, outcome, node, gtin, wanted, available, info in rows:
            if outcome == "cell":
                self.cells.append(CellAvailability(str(node), str(gtin), int(available)))
                continue
            self.outcome[req] = outcome
            self.info[req] = info
            if outcome == "short":
                self.short[req].append(Shortage(str(node), str(gtin), int(wanted), int(available)))

    def attempt(self, i: int, order_id: str) -> Attempt:
        """Request i's `Attempt`; raises the `order-already-allocated` problem as a single call does."""
        outcome = self.outcome[i]
        if outcome == "reserved":
            return Attempt(AttemptOutcome.RESERVED, [])
        if outcome == "replay":
            return Attempt(AttemptOutcome.REPLAY, [])
        if outcome == "short":
            return Attempt(AttemptOutcome.SHORT, self.short[i])
        if outcome == "recorded":
            return Attempt(AttemptOutcome.RECORDED, [])
        if outcome == "order_open":
            raise reservations.order_open(order_id, str(self.info[i]))
        raise RuntimeError(f"shelfsight_allocate_batch: no outcome for request {i}")


async def call_batch(
    conn: AsyncConnection[TupleRow], protect: int, items: list[Pending],
    answers: list[Answer] | None = None,
) -> BatchResult:
    """One statement on an autocommit connection: `shelfsight_allocate_batch` for `items`
    (requests 1..n) and `shelfsight_record_answers` for `answers` (requests n+1..)."""
    n = len(items)
    if not answers:
        cur = await conn.execute(_BATCH_SQL, batch_params(protect, items))
    elif not items:
        cur = await conn.execute(_RECORD_SQL, record_params(0, answers))
    else:
        cur = await conn.execute(_BOTH_SQL, batch_params(protect, items) + record_params(n, answers))
    return BatchResult(await cur.fetchall(), n + len(answers or []))


class ReserveBatcher:
    """Per worker (per app): gathers `reserve` calls into `shelfsight_allocate_batch` calls."""

    def __init__(
        self,
        pool: AsyncConnectionPool,
        protect: int,
        *,
        max_batch: int = MAX_BATCH,
        on_cells: CellsCallback | None = None,
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        self.pool = pool
        self.protect = protect
        self.max_batch = max(1, max_batch)
        self.on_cells = on_cells
        self.on_batch = on_batch
        self._waiting: list[_Waiter] = []
        self._drainer: asyncio.Task[None] | None = None

    async def reserve(self, item: Pending) -> Attempt:
        """Reserve `item` in the next batch; its outcome, or the problem a single call raises."""
        return await self._enqueue(item)

    async def record(self, answer: Answer) -> Attempt:
        """Store a refusal under its key in the next batch: RECORDED, or REPLAY when the key
        had an answer already (read it with `Guard.replay`)."""
        return await self._enqueue(answer)

    async def _enqueue(self, item: Pending | Answer) -> Attempt:
        future: asyncio.Future[Attempt] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if self._drainer is None:
            # A task starts after the callbacks already scheduled: requests ready now join.
            self._drainer = asyncio.create_task(self._drain(), name="shelfsight-reserve-batch")
        return await future

    async def close(self) -> None:
        task = self._drainer
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _drain(self) -> None:
        try:
            while self._waiting:
                batch = self._waiting[: self.max_batch]
                del self._waiting[: self.max_batch]
                await self._run(batch)
        finally:
            self._drainer = None
            for _, future in self._waiting:  # cancelled at shutdown: nobody is left waiting
                if not future.done():
                    future.set_exception(RuntimeError("reservation batcher stopped"))
            self._waiting.clear()

    async def _run(self, waiting: list[_Waiter]) -> None:
        # Reservations first (requests 1..n), then answers: the order of the call's results.
        batch = [w for w in waiting if isinstance(w[0], Pending)]
        batch += [w for w in waiting if isinstance(w[0], Answer)]
        items = [item for item, _ in batch if isinstance(item, Pending)]
        answers = [item for item, _ in batch if isinstance(item, Answer)]
        try:
            async with idempotency.connection(self.pool) as conn:
                result = await call_batch(conn, self.protect, items, answers)
        except (psycopg.Error, OSError) as exc:
            log.warning("reservation batch of %d failed (%s): each request on its own", len(items), exc)
            await self._one_by_one(batch)
            return
        except BaseException as exc:
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc if isinstance(exc, Exception) else RuntimeError(str(exc)))
            raise
        if self.on_batch is not None and items:
            self.on_batch(len(items))
        if self.on_cells is not None and result.cells:
            self.on_cells(result.cells)
        for i, (item, future) in enumerate(batch, 1):
            if future.done():
                continue
            try:
                order_id = item.order.id if isinstance(item, Pending) else ""
                future.set_result(result.attempt(i, order_id))
            except Exception as exc:
                future.set_exception(exc)

    async def _one_by_one(self, batch: list[_Waiter]) -> None:
        for item, future in batch:
            try:
                async with idempotency.connection(self.pool) as conn:
                    attempt = await _single(conn, self.protect, item)
            except Exception as exc:
                if not future.done():
                    future.set_exception(exc)
                continue
            if not future.done():
                future.set_result(attempt)


async def _single(conn: AsyncConnection[TupleRow], protect: int, item: Pending | Answer) -> Attempt:
    """`item` on its own: `shelfsight_allocate_keyed`, or one key row insert."""
    if isinstance(item, Answer):
        stored = await idempotency.insert_answer(
            conn, item.guard, item.status, item.content_type, item.body
        )
        return Attempt(AttemptOutcome.RECORDED if stored else AttemptOutcome.REPLAY, [])
    return await reservations.allocate_once(
        conn, item.allocation_id, item.order, item.decision, item.decision_json,
        item.created_at, item.expires_at, protect, item.key, item.answer,
    )
