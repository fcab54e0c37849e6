"""Allocations and their reservations in PostgreSQL (callers own the transaction).

`allocate_once` calls `shelfsight_allocate` (allocator/migrations/0001): it locks the order row,
then `shelfsight_reserve` takes a transaction advisory lock per node x GTIN in one global order,
recounts availability and inserts only if every cell fits (so concurrent callers can never
reserve more than is available), then the allocation and its lines are stored: one round trip.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import TupleRow
from psycopg.types.json import Jsonb

from allocator.api.problems import ProblemError, ProblemType
from allocator.decision import Decision
from allocator.model import Order

log = logging.getLogger(__name__)

OPEN_STATUSES = ("reserved", "picking")


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


@dataclass(frozen=True)
class Attempt:
    """The outcome of one `shelfsight_allocate` call."""

    created_at: datetime | None
    shortages: list[Shortage]


async def allocate_once(
    conn: AsyncConnection[TupleRow],
    allocation_id: uuid.UUID,
    order: Order,
    decision: Decision,
    decision_json: dict[str, Any],
    expires_at: datetime,
    protect: int,
) -> Attempt:
    """Lock the order, reserve every cell and store the allocation, all or nothing (one call)."""
    a = decision.assignments
    cur = await conn.execute(
        "SELECT outcome, node_id, gtin, wanted, available, info FROM shelfsight_allocate("
        "%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (
            allocation_id, expires_at, protect,
            order.id, order.ship_lat, order.ship_lon, order.service_level.value, order.collect_shop,
            Jsonb([{"gtin": x.gtin, "qty": x.qty} for x in order.lines]),
            decision.policy, decision.breakdown.total, Jsonb(decision_json),
            [x.line for x in a], [x.node_id for x in a], [x.gtin for x in a], [x.qty for x in a],
        ),
    )
    rows = await cur.fetchall()
    if rows and rows[0][0] == "order_open":
        raise _order_open(order.id, str(rows[0][5]))
    if rows and rows[0][0] == "reserved":
        return Attempt(datetime.fromisoformat(str(rows[0][5])), [])
    return Attempt(None, [Shortage(str(n), str(g), int(w), int(v)) for _, n, g, w, v, _ in rows])


def _order_open(order_id: str, allocation_id: str) -> ProblemError:
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
