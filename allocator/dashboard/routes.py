"""Read-only JSON routes of the dashboard under `/v1/dashboard/` (keys with `oms` or `admin`)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from allocator.api.deps import Caller, Pool, State
from allocator.api.responses import problems
from allocator.dashboard import queries
from allocator.dashboard.relay import GatewayMetricsRelay

router = APIRouter(prefix="/v1/dashboard", tags=["dashboard"])

JSON = "application/json"
_OK: dict[int | str, dict[str, Any]] = {
    200: {"description": "Dashboard data (JSON object).", "content": {JSON: {"schema": {"type": "object"}}}}
}


def _json(body: dict[str, Any]) -> Response:
    return Response(msgspec.json.encode(body), media_type=JSON)


def relay_of(request: Request) -> GatewayMetricsRelay | None:
    relay = getattr(request.app.state, "dashboard_relay", None)
    return relay if isinstance(relay, GatewayMetricsRelay) else None


@router.get("/summary", responses={**_OK, **problems()}, summary="Nodes, readers (reads/s, health), totals.")
async def summary(request: Request, pool: Pool, caller: Caller) -> Response:
    caller.require(oms=True)
    relay = relay_of(request)
    gateway = relay.reader_view() if relay is not None else {}
    async with pool.connection() as conn:
        nodes = await queries.nodes(conn)
        readers = await queries.readers(conn, gateway)
        events = await queries.events_recent(conn)
        allocations = await queries.allocation_counts(conn)
        cur = await conn.execute("SELECT now()")
        row = await cur.fetchone()
    return _json({
        "as_of": row[0].isoformat() if row else None,
        "bucket_s": queries.BUCKET_S,
        "nodes": [n.__dict__ for n in nodes.values()],
        "readers": readers,
        "reads_per_s": round(sum(r["reads_per_s"] for r in readers), 2),
        "reads_total": sum(r["reads_total"] or 0 for r in readers) if gateway else None,
        "events_5min": events,
        "allocations_today": allocations,
        "metrics_relay": relay is not None,
    })


@router.get(
    "/stock", responses={**_OK, **problems()}, summary="Items present per shop x zone, with freshness."
)
async def stock_by_zone(pool: Pool, caller: Caller) -> Response:
    caller.require(oms=True)
    async with pool.connection() as conn:
        return _json(await queries.stock_by_zone(conn))


@router.get("/slow-movers", responses={**_OK, **problems()}, summary="The slow movers of every shop.")
async def slow_movers(
    state: State, pool: Pool, caller: Caller,
    per_shop: Annotated[int, Query(ge=1, le=50)] = 6,
) -> Response:
    caller.require(oms=True)
    async with pool.connection() as conn:
        shops = await queries.slow_movers(conn, state.settings.costs, per_shop)
    return _json({"shops": shops})


@router.get(
    "/decisions", responses={**_OK, **problems()},
    summary="Recent allocations with why each node was chosen (Δ saved, distance, capacity left).",
)
async def decisions(
    pool: Pool, caller: Caller, limit: Annotated[int, Query(ge=1, le=100)] = 20
) -> Response:
    caller.require(oms=True)
    async with pool.connection() as conn:
        return _json({"decisions": await queries.decisions(conn, limit)})


@router.get("/products", responses={**_OK, **problems()}, summary="GTINs and where they are in stock.")
async def products(pool: Pool, caller: Caller) -> Response:
    caller.require(oms=True)
    async with pool.connection() as conn:
        return _json({"products": await queries.products(conn)})
