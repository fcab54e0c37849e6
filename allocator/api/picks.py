"""Confirm a pick: the EPCs a shop actually picked for an allocation, checked one by one.

Each EPC must be known (`tag_state`), at that shop, not already picked, still in the shop
(`present`, or `missing`: the picker holding it proves it is there), and of a GTIN the allocation
reserved at that shop with units outstanding. All or nothing: one refused EPC refuses the pick
with every reason listed. Accepted EPCs become `picked` in `tag_state`, each gets a `picked`
tag_event (seq = the item's last_seq + 1; `last_seq` itself is the gateway's and stays), and the
reservations count the picked units, becoming `fulfilled` when complete.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import TupleRow

from allocator.api.problems import FieldError, ProblemError, ProblemType
from allocator.api.reservations import OPEN_STATUSES, load_allocation

log = logging.getLogger(__name__)

PICKABLE = ("present", "missing")


class PickRefusal(StrEnum):
    DUPLICATE = "duplicate_epc"
    UNKNOWN_EPC = "unknown_epc"
    WRONG_SHOP = "wrong_shop"
    ALREADY_PICKED = "already_picked"
    NOT_PRESENT = "not_present"
    WRONG_GTIN = "wrong_gtin"
    OVER_PICK = "over_pick"


@dataclass(frozen=True)
class _Tag:
    epc: bytes
    store_id: str
    gtin: str | None
    status: str


def _norm(hex_: str) -> bytes:
    return bytes.fromhex(hex_ if len(hex_) % 2 == 0 else "0" + hex_)


async def confirm(
    conn: AsyncConnection[TupleRow], allocation_id: uuid.UUID, node_id: str, epcs: list[str]
) -> dict[str, Any]:
    """Check and record a pick inside the caller's transaction; ProblemError when refused."""
    cur = await conn.execute(
        "SELECT status FROM allocations WHERE allocation_id = %s FOR UPDATE", (allocation_id,)
    )
    row = await cur.fetchone()
    if row is None:
        raise ProblemError(404, ProblemType.NOT_FOUND, f"no allocation {allocation_id}")
    if row[0] not in OPEN_STATUSES:
        raise ProblemError(
            409, ProblemType.INVALID_STATE, f"allocation {allocation_id} is {row[0]}; nothing to pick"
        )
    cur = await conn.execute(
        "SELECT gtin, qty - picked, expires_at > now() FROM reservations"
        " WHERE allocation_id = %s AND node_id = %s AND status = 'active' ORDER BY gtin FOR UPDATE",
        (allocation_id, node_id),
    )
    open_rows = await cur.fetchall()
    if not open_rows:
        raise ProblemError(
            422,
            ProblemType.PICK_REJECTED,
            f"allocation {allocation_id} has nothing open to pick at {node_id}",
            [FieldError("node_id", "no open reservation at this node", code="not_in_allocation")],
        )
    if not all(bool(r[2]) for r in open_rows):
        raise ProblemError(
            409, ProblemType.INVALID_STATE, f"the reservation at {node_id} has expired"
        )
    outstanding = {str(g): int(n) for g, n, _ in open_rows}

    raw = [_norm(e) for e in epcs]
    cur = await conn.execute(
        "SELECT epc, store_id, gtin, status FROM tag_state WHERE epc = ANY(%s) ORDER BY epc"
        " FOR UPDATE",
        (sorted(set(raw)),),
    )
    tags = {bytes(r[0]): _Tag(bytes(r[0]), str(r[1]), r[2], str(r[3])) for r in await cur.fetchall()}

    errors: list[FieldError] = []
    seen: set[bytes] = set()
    per_gtin: Counter[str] = Counter()
    for i, (text, epc) in enumerate(zip(epcs, raw, strict=True)):
        reason: PickRefusal | None = None
        detail = ""
        tag = tags.get(epc)
        if epc in seen:
            reason, detail = PickRefusal.DUPLICATE, "listed twice"
        elif tag is None:
            reason, detail = PickRefusal.UNKNOWN_EPC, "no such item in any shop"
        elif tag.store_id != node_id:
            reason, detail = PickRefusal.WRONG_SHOP, f"the item is recorded at {tag.store_id}"
        elif tag.status == "picked":
            reason, detail = PickRefusal.ALREADY_PICKED, "the item was already picked"
        elif tag.status not in PICKABLE:
            reason, detail = PickRefusal.NOT_PRESENT, f"the item is {tag.status}"
        elif tag.gtin is None or tag.gtin not in outstanding:
            reason = PickRefusal.WRONG_GTIN
            detail = f"GTIN {tag.gtin} is not reserved at {node_id} for this allocation"
        else:
            per_gtin[tag.gtin] += 1
            if per_gtin[tag.gtin] > outstanding[tag.gtin]:
                reason = PickRefusal.OVER_PICK
                detail = f"only {outstanding[tag.gtin]} units of {tag.gtin} are outstanding"
        seen.add(epc)
        if reason is not None:
            errors.append(FieldError(f"epcs[{i}]", f"{text.upper()}: {detail}", code=reason.value))
    if errors:
        log.info("pick refused for %s at %s: %d of %d EPCs", allocation_id, node_id, len(errors), len(epcs))
        raise ProblemError(
            422, ProblemType.PICK_REJECTED, f"{len(errors)} of {len(epcs)} EPCs refused; nothing recorded",
            errors,
        )

    await conn.execute(
        "INSERT INTO tag_events (store_id, epc, seq, time, kind, zone, from_zone, gtin, serial)"
        " SELECT store_id, epc, last_seq + 1, now(), 'picked', zone, zone, gtin, serial"
        "   FROM tag_state WHERE epc = ANY(%s)",
        (raw,),
    )
    await conn.execute(
        "UPDATE tag_state SET status = 'picked', updated_at = now() WHERE epc = ANY(%s)", (raw,)
    )
    await conn.execute(
        "UPDATE reservations r SET picked = r.picked + t.n, updated_at = now(),"
        "  status = CASE WHEN r.picked + t.n = r.qty THEN 'fulfilled' ELSE r.status END"
        "  FROM unnest(%s::text[], %s::int[]) AS t (gtin, n)"
        " WHERE r.allocation_id = %s AND r.node_id = %s AND r.gtin = t.gtin AND r.status = 'active'",
        (list(per_gtin), list(per_gtin.values()), allocation_id, node_id),
    )
    await conn.execute(
        "UPDATE allocations a SET updated_at = now(), status = CASE WHEN EXISTS ("
        "   SELECT 1 FROM reservations r WHERE r.allocation_id = a.allocation_id"
        "    AND r.status = 'active') THEN 'picking' ELSE 'fulfilled' END"
        " WHERE a.allocation_id = %s",
        (allocation_id,),
    )
    log.info("pick confirmed for %s at %s: %s", allocation_id, node_id, dict(per_gtin))
    body = await load_allocation(conn, allocation_id)
    assert body is not None
    return {
        "allocation": body,
        "picked": [{"gtin": g, "units": n} for g, n in sorted(per_gtin.items())],
    }
