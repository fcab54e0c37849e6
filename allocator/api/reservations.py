"""Allocations and their reservations in PostgreSQL (callers own the transaction).

`allocate_once` calls `shelfsight_allocate_keyed` (allocator/migrations/0002) in autocommit: it
writes the Idempotency-Key row with the answer, locks the order row, then `shelfsight_reserve`
takes a transaction advisory lock per node x GTIN in one global order, recounts availability and
inserts only if every cell fits (so concurrent callers can never reserve more than is
available), then the allocation and its lines are stored: one round trip, one transaction.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import msgspec
from psycopg import AsyncConnection
from psycopg.rows import TupleRow

from allocator.api.problems import ProblemError, ProblemType
from allocator.decision import Decision
from allocator.model import Order

log = logging.getLogger(__name__)

OPEN_STATUSES = ("reserved", "picking")
_LINES = msgspec.json.Encoder()


@dataclass(frozen=True)
class Shortage:
    node_id: str
    gtin: str
    wanted: int
    available: int


def cells_of(decision: Decision) -> list[tuple[str, str, int]]:
    merged: dict[tuple[str, str], int] = {}
    for a in decision.assignments:
        merged[(a.node_id, a.gtin)] = merged.get((a.node_id, a.gtin), 0) + a.qty
    return [(n, g, q) for (n, g), q in merged.items()]


class AttemptOutcome(StrEnum):
    RESERVED = "reserved"
    SHORT = "short"
    REPLAY = "replay"  # the Idempotency-Key was used already: answer with what it stored
    RECORDED = "recorded"  # a refusal's answer stored under its Idempotency-Key


@dataclass(frozen=True)
class Attempt:
    """The outcome of one `shelfsight_allocate_keyed` call."""

    outcome: AttemptOutcome
    shortages: list[Shortage]


@dataclass(frozen=True)
class KeyRow:
    """The Idempotency-Key row written with the allocation (the answer a retry replays)."""

    api_key_id: str
    key: str
    method: str
    path: str
    digest: bytes
    status: int
    content_type: str


_ALLOCATE_SQL = (
    "SELECT outcome, node_id, gtin, wanted, available, info FROM shelfsight_allocate_keyed("
    + ", ".join(["%s"] * 9) + ", %s::jsonb, %s, %s, %s::jsonb, " + ", ".join(["%s"] * 12) + ")"
)


async def allocate_once(
    conn: AsyncConnection[TupleRow],
    allocation_id: uuid.UUID,
    order: Order,
    decision: Decision,
    decision_json: bytes,
    created_at: datetime,
    expires_at: datetime,
    protect: int,
    key: KeyRow | None,
    answer: bytes,
) -> Attempt:
    """Reserve every cell, store the allocation and the key's answer: all or nothing, one call.

    Run in autocommit: the call is its own transaction (migration 0002).
    """
    a = decision.assignments
    cur = await conn.execute(
        _ALLOCATE_SQL,
        (
            allocation_id, created_at, expires_at, protect,
            order.id, order.ship_lat, order.ship_lon, order.service_level.value, order.collect_shop,
            _LINES.encode([{"gtin": x.gtin, "qty": x.qty} for x in order.lines]).decode(),
            decision.policy, decision.breakdown.total, decision_json.decode(),
            [x.line for x in a], [x.node_id for x in a], [x.gtin for x in a], [x.qty for x in a],
            None if key is None else key.api_key_id, None if key is None else key.key,
            None if key is None else key.method, None if key is None else key.path,
            None if key is None else key.digest, None if key is None else key.status,
            None if key is None else key.content_type, None if key is None else answer,
        ),
    )
    rows = await cur.fetchall()
    first = rows[0][0] if rows else None
    if first == "order_open":
        raise order_open(order.id, str(rows[0][5]))
    if first == "reserved":
        return Attempt(AttemptOutcome.RESERVED, [])
    if first == "replay":
        return Attempt(AttemptOutcome.REPLAY, [])
    return Attempt(
        AttemptOutcome.SHORT, [Shortage(str(n), str(g), int(w), int(v)) for _, n, g, w, v, _ in rows]
    )


def order_open(order_id: str, allocation_id: str) -> ProblemError:
    return ProblemError(
        409,
        ProblemType.ORDER_ALREADY_ALLOCATED,
        f"order {order_id} already has the open allocation {allocation_id}; cancel it first",
        extra={"allocation_id": allocation_id},
    )


def _dt(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


async def load_allocation(
    conn: AsyncConnection[TupleRow], allocation_id: uuid.UUID, *, for_update: bool = False
) -> dict[str, Any] | None:
    """The allocation as the API shows it, or None."""
    lock = " FOR UPDATE" if for_update else ""
    cur = await conn.execute(
        "SELECT order_id, status, policy, decision, created_at, expires_at"
        " FROM allocations WHERE allocation_id = %s" + lock,
        (allocation_id,),
    )
    row = await cur.fetchone()
    if row is None:
        return None
    order_id, status, policy, decision, created_at, expires_at = row
    cur = await conn.execute(
        "SELECT node_id, gtin, qty, picked, status, expires_at FROM reservations"
        " WHERE allocation_id = %s ORDER BY node_id, gtin",
        (allocation_id,),
    )
    reservations = [
        {"node_id": n, "gtin": g, "qty": q, "picked": p, "status": s, "expires_at": _dt(e)}
        for n, g, q, p, s, e in await cur.fetchall()
    ]
    return allocation_body(
        str(allocation_id), order_id, status, policy, decision, reservations, created_at, expires_at
    )


def allocation_body(
    allocation_id: str | None,
    order_id: str,
    status: str,
    policy: str,
    decision: dict[str, Any],
    reservations: list[dict[str, Any]],
    created_at: datetime | None,
    expires_at: datetime | None,
) -> dict[str, Any]:
    return {
        "allocation_id": allocation_id,
        "order_id": order_id,
        "status": status,
        "policy": policy,
        "solver": decision.get("solver", "none"),
        "parcels": decision.get("parcels", 0),
        "lines": decision.get("assignments", []),
        "cost": decision["cost"],
        "alternatives": decision.get("alternatives", []),
        "reservations": reservations,
        "created_at": _dt(created_at),
        "expires_at": _dt(expires_at),
    }


async def cancel(conn: AsyncConnection[TupleRow], allocation_id: uuid.UUID) -> dict[str, Any]:
    """Cancel an open allocation and release its reservations; no-op if already closed."""
    current = await load_allocation(conn, allocation_id, for_update=True)
    if current is None:
        raise ProblemError(404, ProblemType.NOT_FOUND, f"no allocation {allocation_id}")
    if current["status"] == "fulfilled":
        raise ProblemError(
            409, ProblemType.INVALID_STATE, f"allocation {allocation_id} is already fulfilled"
        )
    if current["status"] in OPEN_STATUSES:
        await conn.execute(
            "UPDATE reservations SET status = 'cancelled', updated_at = now()"
            " WHERE allocation_id = %s AND status = 'active'",
            (allocation_id,),
        )
        await conn.execute(
            "UPDATE allocations SET status = 'cancelled', updated_at = now()"
            " WHERE allocation_id = %s",
            (allocation_id,),
        )
        log.info("cancelled allocation %s", allocation_id)
    out = await load_allocation(conn, allocation_id)
    assert out is not None
    return out


async def expire(conn: AsyncConnection[TupleRow]) -> int:
    """Relabel lapsed reservations as expired (they stopped counting at `expires_at`)."""
    cur = await conn.execute("SELECT shelfsight_expire_reservations()")
    row = await cur.fetchone()
    return int(row[0]) if row else 0


async def allocation_shops(conn: AsyncConnection[TupleRow], allocation_id: uuid.UUID) -> set[str]:
    cur = await conn.execute(
        "SELECT DISTINCT node_id FROM allocation_lines WHERE allocation_id = %s", (allocation_id,)
    )
    return {str(r[0]) for r in await cur.fetchall()}
