"""Stock reads: one GTIN across nodes, a shop by zone, a shop's slow movers, its EPCIS events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Path, Query
from fastapi.responses import Response
from psycopg import AsyncConnection
from psycopg.rows import TupleRow

from allocator.api import epcis, stock
from allocator.api.deps import Caller, Pool, State
from allocator.api.problems import FieldError, ProblemError, ProblemType
from allocator.api.responses import problems
from allocator.api.schemas import Gtin14, GtinStockOut, ShopStockOut, SlowMoversOut
from allocator.model import NodeKind

router = APIRouter(prefix="/v1", tags=["stock"])

JSON = "application/json"
JSON_LD = "application/ld+json"
MAX_EXPORT_DAYS = 31
ShopId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")]


def _json(body: dict[str, Any], media_type: str = JSON) -> Response:
    return Response(msgspec.json.encode(body), media_type=media_type)


async def _require_shop(conn: AsyncConnection[TupleRow], shop_id: str) -> None:
    cur = await conn.execute("SELECT kind FROM stores WHERE store_id = %s", (shop_id,))
    row = await cur.fetchone()
    if row is None or row[0] != NodeKind.SHOP.value:
        raise ProblemError(404, ProblemType.UNKNOWN_NODE, f"no shop {shop_id!r}")


@router.get(
    "/stock/{gtin}",
    response_model=GtinStockOut,
    responses=problems(404),
    summary="Units, reservations and availability of one GTIN in every node (oms, admin).",
)
async def gtin_stock(gtin: Annotated[Gtin14, Path()], state: State, pool: Pool, caller: Caller) -> Response:
    caller.require(oms=True)
    costs = state.settings.costs
    async with pool.connection() as conn:
        products = await stock.load_products(conn, [gtin])
        if gtin not in products:
            raise ProblemError(404, ProblemType.UNKNOWN_GTIN, f"no product with GTIN {gtin}")
        await state.nodes.get(conn)
        cells = await stock.load_cells(conn, [gtin])
    nodes = []
    total = 0
    kinds = state.nodes.kinds
    for node_id in sorted({k[0] for k in (*cells.units, *cells.reserved)}):
        kind = kinds.get(node_id)
        if kind is None:
            continue
        key = (node_id, gtin)
        units, reserved = cells.units.get(key, 0), cells.reserved.get(key, 0)
        avail = stock.available(units, reserved, kind is NodeKind.SHOP, costs)
        total += avail
        seen = cells.newest_seen.get(key)
        nodes.append({
            "node_id": node_id, "kind": kind.value, "units": units, "reserved": reserved,
            "available": avail, "confidence": cells.confidence.get(key),
            "newest_seen": None if seen is None else seen.isoformat(),
        })
    return _json({"gtin": gtin, "nodes": nodes, "total_available": total})


@router.get(
    "/shops/{shop_id}/stock",
    response_model=ShopStockOut,
    responses=problems(404),
    summary="Items present in a shop by GTIN and zone, with freshness (oms, admin, store:<id>).",
)
async def shop_stock(
    shop_id: ShopId, state: State, pool: Pool, caller: Caller,
    gtin: Annotated[Gtin14 | None, Query(description="Only this GTIN.")] = None,
) -> Response:
    caller.require(oms=True, shop=shop_id)
    async with pool.connection() as conn:
        await _require_shop(conn, shop_id)
        cur = await conn.execute(
            "SELECT gtin, zone, units, newest_seen, oldest_seen, mean_confidence, now()"
            " FROM stock_by_zone WHERE store_id = %s AND gtin IS NOT NULL"
            " AND (%s::text IS NULL OR gtin = %s) ORDER BY gtin, zone",
            (shop_id, gtin, gtin),
        )
        rows = await cur.fetchall()
        as_of = rows[0][6] if rows else datetime.now(UTC)
    zones = [
        {
            "gtin": g, "zone": z, "units": int(u), "newest_seen": new.isoformat(),
            "oldest_seen": old.isoformat(), "age_s": round((now - old).total_seconds(), 3),
            "mean_confidence": None if c is None else float(c),
        }
        for g, z, u, new, old, c, now in rows
    ]
    return _json({"shop_id": shop_id, "as_of": as_of.isoformat(), "zones": zones})


@router.get(
    "/shops/{shop_id}/slow-movers",
    response_model=SlowMoversOut,
    responses=problems(404),
    summary="GTINs whose days of cover run past their markdown date (oms, admin, store:<id>).",
)
async def slow_movers(
    shop_id: ShopId, state: State, pool: Pool, caller: Caller,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Response:
    caller.require(oms=True, shop=shop_id)
    costs = state.settings.costs
    async with pool.connection() as conn:
        await _require_shop(conn, shop_id)
        cur = await conn.execute(
            "SELECT s.gtin, s.units, coalesce(d.sold, 0), p.markdown_date, current_date, now()"
            " FROM (SELECT gtin, count(*) AS units FROM tag_state"
            "        WHERE store_id = %(s)s AND status = 'present' AND gtin IS NOT NULL"
            "        GROUP BY gtin) s"
            " LEFT JOIN (SELECT gtin, sum(units) AS sold FROM sales_daily"
            "             WHERE store_id = %(s)s AND day >= now() - make_interval(days => %(d)s)"
            "             GROUP BY gtin) d USING (gtin)"
            " LEFT JOIN products p USING (gtin)",
            {"s": shop_id, "d": stock.VELOCITY_DAYS},
        )
        rows = await cur.fetchall()
    items = []
    as_of = rows[0][5] if rows else datetime.now(UTC)
    for gtin, units, sold, md_date, today, _ in rows:
        vel = stock.velocity(int(sold), True, costs)
        cover = None if vel <= 0 else round(int(units) / vel, 2)
        to_md = None if md_date is None else float((md_date - today).days)
        horizon = stock.NO_MARKDOWN_HORIZON_DAYS if to_md is None else max(to_md, 0.0)
        excess = max(int(units) - vel * horizon, 0.0)
        at_risk = to_md is not None and (cover is None or cover > max(to_md, 0.0))
        items.append({
            "gtin": gtin, "units": int(units), "velocity_per_day": round(vel, 4),
            "days_of_cover": cover, "markdown_date": None if md_date is None else md_date.isoformat(),
            "days_to_markdown": to_md, "excess_units": round(excess, 2), "at_risk": at_risk,
        })
    items.sort(key=lambda x: (not x["at_risk"], -x["excess_units"], x["gtin"]))
    return _json({"shop_id": shop_id, "as_of": as_of.isoformat(), "items": items[:limit]})


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


@router.get(
    "/shops/{shop_id}/epcis",
    responses={
        200: {"description": "An EPCISDocument (EPCIS 2.0 JSON-LD).",
              "content": {JSON_LD: {"schema": {"type": "object"}}}},
        **problems(404),
    },
    summary="The shop's item events as an EPCIS 2.0 JSON-LD document (oms, admin, store:<id>).",
)
async def epcis_export(
    shop_id: ShopId, state: State, pool: Pool, caller: Caller,
    from_: Annotated[
        datetime | None, Query(alias="from", description="Start (inclusive); default to - 1 day.")
    ] = None,
    to: Annotated[datetime | None, Query(description="End (exclusive); default now.")] = None,
    limit: Annotated[int, Query(ge=1, le=50_000)] = 10_000,
) -> Response:
    caller.require(oms=True, shop=shop_id)
    try:
        end = _utc(to) if to is not None else datetime.now(UTC)
        start = _utc(from_) if from_ is not None else end - timedelta(days=1)
        bad = start >= end or end - start > timedelta(days=MAX_EXPORT_DAYS)
    except OverflowError:
        bad = True
    if bad:
        raise ProblemError(
            422, ProblemType.VALIDATION,
            f"'from' must be before 'to' and at most {MAX_EXPORT_DAYS} days earlier",
            [FieldError("from", "range empty or too long", location="query")],
        )
    async with pool.connection() as conn:
        await _require_shop(conn, shop_id)
        cur = await conn.execute(
            "SELECT store_id, epc, seq, time, kind, zone, from_zone, gtin, serial FROM tag_events"
            " WHERE store_id = %s AND time >= %s AND time < %s ORDER BY time, epc, seq LIMIT %s",
            (shop_id, start, end, limit),
        )
        rows = [epcis.EventRow(str(r[0]), bytes(r[1]), int(r[2]), *r[3:]) for r in await cur.fetchall()]
    return _json(epcis.document(rows), JSON_LD)
