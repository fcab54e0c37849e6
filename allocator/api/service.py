"""Allocate one order: snapshot -> policy decision -> atomic reservation -> stored allocation.

When the reservation finds a cell short (another request took the units between the snapshot
and the lock), the snapshot is re-read and the policy asked again, up to `ATTEMPTS` times; the
caller then gets a 409 `not-available` problem. Nothing is written unless everything fits.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import msgspec
import numpy as np
from fastapi.responses import Response
from psycopg_pool import AsyncConnectionPool

from allocator.api import engine, idempotency, reservations
from allocator.api.batcher import Pending, ReserveBatcher
from allocator.api.caches import Caches
from allocator.api.db import LazyConnection
from allocator.api.problems import FieldError, ProblemError, ProblemType
from allocator.api.schemas import OrderIn
from allocator.config import CostConfig, ReservationConfig
from allocator.decision import Decision
from allocator.model import NodeKind, Order, OrderLine, StockSnapshot

log = logging.getLogger(__name__)

ATTEMPTS = 3


class Outcome:
    RESERVED = "reserved"
    DRY_RUN = "dry_run"
    NOT_AVAILABLE = "not_available"
    RACE_LOST = "race_lost"
    REPLAYED = "replayed"



@dataclass(frozen=True)
class AllocationResult:
    content: bytes  # the JSON answer
    outcome: str
    attempts: int
    replay: Response | None = None  # Outcome.REPLAYED: the answer stored under the key


def to_order(body: OrderIn) -> Order:
    return Order(
        id=body.order_id,
        lines=tuple(OrderLine(x.gtin, x.qty) for x in body.lines),
        ship_lat=body.ship_lat,
        ship_lon=body.ship_lon,
        service_level=body.service_level,
        collect_shop=body.collect_shop,
    )


async def _snapshot(
    pool: AsyncConnectionPool, caches: Caches, order: Order, costs: CostConfig,
    *, since: float | None = None,
) -> tuple[StockSnapshot, float]:
    """The order's snapshot from the worker's caches (a connection only for what they miss),
    and when its stock cells were read from PostgreSQL (time.monotonic(), the oldest column).

    `since`: only stock cells read at or after that time (see `CellCache.arrays`).
    """
    gtins = [x.gtin for x in order.lines]
    async with LazyConnection(pool) as db:
        # One consistent node order for the whole snapshot.
        view = caches.nodes.current if caches.nodes.fresh() else await caches.nodes.view(await db.get())
        if caches.gtins.missing(gtins):
            products, _ = await caches.gtins.get(await db.get(), gtins)
        else:
            products = caches.gtins.cached(gtins)
        errors = [
            FieldError(f"lines[{i}].gtin", f"unknown GTIN {x.gtin}", code="unknown_gtin")
            for i, x in enumerate(order.lines)
            if x.gtin not in products
        ]
        if errors:
            raise ProblemError(
                422, ProblemType.UNKNOWN_GTIN, "; ".join(e.reason for e in errors), errors
            )
        if order.collect_shop is not None and view.kinds.get(order.collect_shop) != NodeKind.SHOP:
            raise ProblemError(
                422,
                ProblemType.UNKNOWN_NODE,
                f"collect_shop {order.collect_shop!r} is not a known shop",
                [FieldError("collect_shop", "unknown shop", code="unknown_node")],
            )
        cells = await caches.cells.arrays(db.get, gtins, view, costs.protection_units, since=since)
    velocity = caches.gtins.velocity(gtins, view, costs)
    snap = caches.snapshots.snapshot(
        view, products, gtins, cells.available, cells.confidence, costs, velocity
    )
    if caches.bids is not None:
        snap = caches.bids.attach(snap)
    return snap, cells.read_at


def _same_stock(a: StockSnapshot, b: StockSnapshot) -> bool:
    return (
        a.node_ids == b.node_ids and np.array_equal(a.available, b.available)
        and np.array_equal(a.confidence, b.confidence)
    )


def _not_available(decision: Decision, detail: str) -> ProblemError:
    lines = [
        {"line": u.line, "gtin": u.gtin, "qty": u.qty, "reason": u.reason} for u in decision.unfilled
    ]
    return ProblemError(
        409, ProblemType.NOT_AVAILABLE, detail, extra={"unfilled": lines, "order_id": decision.order_id}
    )


_ENCODER = msgspec.json.Encoder()


async def allocate(
    pool: AsyncConnectionPool,
    body: OrderIn,
    *,
    dry_run: bool,
    costs: CostConfig,
    reservation: ReservationConfig,
    caches: Caches,
    guard: idempotency.Guard | None = None,
    policy: str = engine.DEFAULT_POLICY,
    batcher: ReserveBatcher | None = None,
) -> AllocationResult:
    """Decide and reserve; raises ProblemError for 4xx outcomes.

    Per attempt: the stock cells (one query), then the reservation: with a `batcher`, in its next
    group-committed `shelfsight_allocate_batch` call (no connection held meanwhile), else one
    `shelfsight_allocate_keyed` call. Either writes the reservation, the allocation and `guard`'s
    answer as one transaction. A dry run with a guard records its answer under the key (one
    statement). A `guard` whose key was used already comes back as `Outcome.REPLAYED` with the
    stored answer in `replay`.
    """
    arrived = time.monotonic()
    order = to_order(body)
    allocation_id = uuid.uuid4()
    short_at: float | None = None
    for attempt in range(1, ATTEMPTS + 1):
        # The cache may steer the choice among nodes on stock up to CELL_TTL_S old. It never
        # decides a refusal: that takes stock read after the request arrived (as before the
        # cache); nor a retry after PostgreSQL found a cell short: stock read after that.
        snap, read_at = await _snapshot(pool, caches, order, costs, since=short_at)
        decision = engine.decide(order, snap, costs, policy)
        if decision.unfilled and read_at < arrived:
            cached = snap
            snap, read_at = await _snapshot(pool, caches, order, costs, since=arrived)
            if not _same_stock(cached, snap):  # the same inputs would decide the same
                decision = engine.decide(order, snap, costs, policy)
        if decision.unfilled:
            raise _not_available(decision, "not enough units for every line in any node")
        if dry_run:
            body_out = reservations.allocation_body(
                None, order.id, "dry_run", decision.policy, decision.to_json(), [], None, None
            )
            content = _ENCODER.encode(body_out)
            if guard is not None:
                async with idempotency.connection(pool) as conn:
                    answer = await idempotency.record_answer(
                        conn, guard, 200, idempotency.JSON, content
                    )
                if answer is not None:
                    return AllocationResult(b"", Outcome.REPLAYED, attempt, answer)
            return AllocationResult(content, Outcome.DRY_RUN, attempt)
        created = datetime.now(UTC)
        expires = created + timedelta(seconds=reservation.ttl_s)
        cells = reservations.cells_of(decision)
        decision_json = decision.to_json()
        res = [
            {"node_id": n, "gtin": g, "qty": q, "picked": 0, "status": "active",
             "expires_at": expires.isoformat()}
            for n, g, q in sorted(cells)
        ]
        content = _ENCODER.encode(reservations.allocation_body(
            str(allocation_id), order.id, "reserved", decision.policy, decision_json, res,
            created, expires,
        ))
        key = None if guard is None else reservations.KeyRow(
            guard.api_key_id, guard.key, guard.method, guard.path, guard.digest, 201,
            idempotency.JSON,
        )
        pending = Pending(
            allocation_id, order, decision, _ENCODER.encode(decision_json), created, expires,
            key, content,
        )
        done = await _reserve(pool, pending, costs.protection_units, batcher)
        if done.outcome is reservations.AttemptOutcome.RESERVED:
            return AllocationResult(content, Outcome.RESERVED, attempt)
        if done.outcome is reservations.AttemptOutcome.REPLAY:
            assert guard is not None
            async with idempotency.connection(pool) as conn:
                replayed = await guard.replay(conn)
            return AllocationResult(b"", Outcome.REPLAYED, attempt, replayed)
        short_at = time.monotonic()
        log.debug("order %s attempt %d short at %s", order.id, attempt, done.shortages)
    raise ProblemError(
        409,
        ProblemType.NOT_AVAILABLE,
        f"stock changed under {ATTEMPTS} attempts to reserve; not available now",
        extra={"order_id": order.id, "unfilled": []},
    )


async def _reserve(
    pool: AsyncConnectionPool, p: Pending, protect: int, batcher: ReserveBatcher | None
) -> reservations.Attempt:
    if batcher is not None:
        return await batcher.reserve(p)
    async with idempotency.connection(pool) as conn:
        return await reservations.allocate_once(
            conn, p.allocation_id, p.order, p.decision, p.decision_json, p.created_at,
            p.expires_at, protect, p.key, p.answer,
        )
