"""Read-only queries behind the dashboard; each returns JSON-ready values.

Reads per second come from `tag_reads` (the gateway's per-cycle summaries: `read_count` raw
reads per row) in `BUCKET_S` buckets aligned to the epoch; the newest bucket is still filling,
so the rate shown is the last complete one, or, when that one holds no reads (a reader that has
just started, as in the demo's first seconds), the newest bucket's reads over the time it has
been filling. Everything else reads the same tables as the API.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from psycopg import AsyncConnection

from allocator.api import stock
from allocator.config import CostConfig
from allocator.dashboard.explain import NodeInfo, explain

BUCKET_S = 5
SERIES_BUCKETS = 24  # two minutes
HEALTH_WINDOW_S = 3600
OK_WITHIN_S = 15.0
IDLE_WITHIN_S = 120.0


async def nodes(conn: AsyncConnection[Any]) -> dict[str, NodeInfo]:
    cur = await conn.execute(
        "SELECT s.store_id, s.name, s.kind, s.lat, s.lon, s.pick_capacity, coalesce(p.units, 0)"
        " FROM stores s LEFT JOIN ("
        "   SELECT node_id, sum(qty)::bigint AS units FROM reservations"
        "    WHERE created_at >= date_trunc('day', now()) AND status IN ('active', 'fulfilled')"
        "    GROUP BY node_id) p ON p.node_id = s.store_id"
        " ORDER BY s.kind DESC, s.store_id"
    )
    return {
        str(r[0]): NodeInfo(str(r[0]), str(r[1]), str(r[2]), r[3], r[4], int(r[5]), int(r[6]))
        for r in await cur.fetchall()
    }


def health(last_read_age_s: float | None, up: float | None) -> str:
    """ok / idle / silent from the age of the newest read; `down` when the gateway says so."""
    if up is not None and up < 0.5:
        return "down"
    if last_read_age_s is None or last_read_age_s > IDLE_WITHIN_S:
        return "silent"
    return "ok" if last_read_age_s <= OK_WITHIN_S else "idle"


async def readers(
    conn: AsyncConnection[Any], gateway: dict[tuple[str, str], dict[str, float]]
) -> list[dict[str, Any]]:
    """Per reader: reads/s now, a 2-minute series, age of the newest read, health."""
    cur = await conn.execute(
        "SELECT store_id, reader_id, driver FROM readers ORDER BY store_id, reader_id"
    )
    configured = {(str(s), str(r)): str(d) for s, r, d in await cur.fetchall()}
    cur = await conn.execute(
        "SELECT store_id, reader_id,"
        "       floor(extract(epoch FROM cycle_start) / %(b)s)::bigint AS bucket,"
        "       sum(read_count)::bigint,"
        "       extract(epoch FROM now())::float8"
        "  FROM tag_reads"
        " WHERE cycle_start > now() - make_interval(secs => %(w)s)"
        " GROUP BY 1, 2, 3",
        {"b": BUCKET_S, "w": BUCKET_S * (SERIES_BUCKETS + 1)},
    )
    series: dict[tuple[str, str], list[float]] = {}
    filling: dict[tuple[str, str], float] = {}  # the newest bucket's rate so far
    for store_id, reader_id, bucket, reads, now in await cur.fetchall():
        back = int(now // BUCKET_S) - int(bucket)  # 0: the bucket still filling
        key = (str(store_id), str(reader_id))
        if back == 0:
            filling[key] = round(int(reads) / max(float(now) - int(bucket) * BUCKET_S, 1.0), 2)
        elif 1 <= back <= SERIES_BUCKETS:
            s = series.setdefault(key, [0.0] * SERIES_BUCKETS)
            s[SERIES_BUCKETS - back] = round(int(reads) / BUCKET_S, 2)
    cur = await conn.execute(
        "SELECT store_id, reader_id, extract(epoch FROM now() - max(last_seen))::float8"
        "  FROM tag_reads WHERE cycle_start > now() - make_interval(secs => %s)"
        " GROUP BY 1, 2",
        (HEALTH_WINDOW_S,),
    )
    ages = {(str(s), str(r)): float(a) for s, r, a in await cur.fetchall()}
    keys = sorted(set(configured) | set(series) | set(filling) | set(ages) | set(gateway))
    out = []
    for key in keys:
        points = series.get(key, [0.0] * SERIES_BUCKETS)
        g = gateway.get(key, {})
        age = ages.get(key)
        out.append({
            "store_id": key[0],
            "reader_id": key[1],
            "driver": configured.get(key, "?"),
            "reads_per_s": points[-1] or filling.get(key, 0.0),
            "series": points,
            "last_read_age_s": None if age is None else round(max(age, 0.0), 1),
            "reads_total": g.get("reads_total"),
            "up": g.get("up"),
            "heartbeat_age_s": g.get("heartbeat_age_s"),
            "health": health(age, g.get("up")),
        })
    return out


async def events_recent(conn: AsyncConnection[Any], window_s: int = 300) -> dict[str, dict[str, int]]:
    cur = await conn.execute(
        "SELECT store_id, kind, count(*)::bigint FROM tag_events"
        " WHERE time > now() - make_interval(secs => %s) GROUP BY 1, 2",
        (window_s,),
    )
    out: dict[str, dict[str, int]] = {}
    for store_id, kind, n in await cur.fetchall():
        out.setdefault(str(store_id), {})[str(kind)] = int(n)
    return out


async def allocation_counts(conn: AsyncConnection[Any]) -> dict[str, int]:
    cur = await conn.execute(
        "SELECT status, count(*)::bigint FROM allocations"
        " WHERE created_at >= date_trunc('day', now()) GROUP BY status"
    )
    return {str(s): int(n) for s, n in await cur.fetchall()}


async def stock_by_zone(conn: AsyncConnection[Any]) -> dict[str, Any]:
    """Per shop x zone: items present, GTINs, freshness; per shop the items by status."""
    cur = await conn.execute(
        "SELECT store_id, coalesce(zone, '?'), count(*)::bigint, count(DISTINCT gtin)::bigint,"
        "       extract(epoch FROM now() - max(last_seen))::float8,"
        "       extract(epoch FROM now() - min(last_seen))::float8,"
        "       avg(confidence)::float8"
        "  FROM tag_state WHERE status = 'present' GROUP BY 1, 2 ORDER BY 1, 2"
    )
    shops: dict[str, dict[str, Any]] = {}
    for store_id, zone, units, gtins, newest, oldest, conf in await cur.fetchall():
        shop = shops.setdefault(str(store_id), {"zones": [], "status": {}})
        shop["zones"].append({
            "zone": str(zone), "units": int(units), "gtins": int(gtins),
            "newest_age_s": round(max(float(newest), 0.0), 1),
            "oldest_age_s": round(max(float(oldest), 0.0), 1),
            "mean_confidence": None if conf is None else round(float(conf), 3),
        })
    cur = await conn.execute("SELECT store_id, status, count(*)::bigint FROM tag_state GROUP BY 1, 2")
    for store_id, status, n in await cur.fetchall():
        shops.setdefault(str(store_id), {"zones": [], "status": {}})["status"][str(status)] = int(n)
    cur = await conn.execute(
        "SELECT warehouse_id, sum(on_hand)::bigint, count(*)::bigint,"
        "       extract(epoch FROM now() - max(updated_at))::float8"
        "  FROM warehouse_stock GROUP BY 1 ORDER BY 1"
    )
    warehouses = [
        {"warehouse_id": str(w), "units": int(u), "gtins": int(g), "updated_age_s": round(float(a), 1)}
        for w, u, g, a in await cur.fetchall()
    ]
    return {"shops": shops, "warehouses": warehouses}


async def slow_movers(
    conn: AsyncConnection[Any], costs: CostConfig, per_shop: int = 6
) -> dict[str, list[dict[str, Any]]]:
    """Per shop, GTINs whose days of cover run past their markdown date (as the API's route)."""
    cur = await conn.execute(
        "SELECT s.store_id, s.gtin, s.units, coalesce(d.sold, 0), p.markdown_date, current_date,"
        "       p.name, p.size"
        "  FROM (SELECT store_id, gtin, count(*) AS units FROM tag_state"
        "         WHERE status = 'present' AND gtin IS NOT NULL GROUP BY 1, 2) s"
        "  JOIN stores st ON st.store_id = s.store_id AND st.kind = 'shop'"
        "  LEFT JOIN (SELECT store_id, gtin, sum(units) AS sold FROM sales_daily"
        "              WHERE day >= now() - make_interval(days => %s) GROUP BY 1, 2) d"
        "         ON d.store_id = s.store_id AND d.gtin = s.gtin"
        "  LEFT JOIN products p ON p.gtin = s.gtin",
        (stock.VELOCITY_DAYS,),
    )
    out: dict[str, list[dict[str, Any]]] = {}
    for store_id, gtin, units, sold, md_date, today, name, size in await cur.fetchall():
        out.setdefault(str(store_id), []).append(
            slow_mover(str(gtin), int(units), int(sold), md_date, today, costs, name, size)
        )
    for shop, items in out.items():
        items.sort(key=lambda x: (not x["at_risk"], -x["excess_units"], x["gtin"]))
        out[shop] = items[:per_shop]
    return out


def slow_mover(
    gtin: str, units: int, sold: int, md_date: date | None, today: date, costs: CostConfig,
    name: str | None = None, size: str | None = None,
) -> dict[str, Any]:
    vel = stock.velocity(sold, True, costs)
    cover = None if vel <= 0 else round(units / vel, 1)
    to_md = None if md_date is None else float((md_date - today).days)
    horizon = stock.NO_MARKDOWN_HORIZON_DAYS if to_md is None else max(to_md, 0.0)
    excess = max(units - vel * horizon, 0.0)
    return {
        "gtin": gtin, "name": name or gtin, "size": size, "units": units,
        "velocity_per_day": round(vel, 3), "days_of_cover": cover,
        "days_to_markdown": to_md, "excess_units": round(excess, 1),
        "at_risk": to_md is not None and (cover is None or cover > max(to_md, 0.0)),
    }


async def decisions(conn: AsyncConnection[Any], limit: int) -> list[dict[str, Any]]:
    """The newest allocations with their lines and an explanation of each choice."""
    node_info = await nodes(conn)
    cur = await conn.execute(
        "SELECT a.allocation_id::text, a.order_id, a.status, a.policy, a.decision, a.created_at,"
        "       o.ship_lat, o.ship_lon, o.collect_shop,"
        "       extract(epoch FROM now() - a.created_at)::float8"
        "  FROM allocations a JOIN orders o USING (order_id)"
        " ORDER BY a.created_at DESC LIMIT %s",
        (limit,),
    )
    out = []
    for alloc_id, order_id, status, policy, decision, created, lat, lon, collect, age in (
        await cur.fetchall()
    ):
        body = decision if isinstance(decision, dict) else {}
        out.append({
            "allocation_id": alloc_id,
            "order_id": str(order_id),
            "status": str(status),
            "policy": str(policy),
            "solver": body.get("solver"),
            "created_at": created.isoformat(),
            "age_s": round(max(float(age), 0.0), 1),
            "ship_to": {"lat": lat, "lon": lon},
            "collect_shop": collect,
            "lines": body.get("assignments", []),
            "why": explain(body, lat, lon, node_info),
        })
    return out


async def products(conn: AsyncConnection[Any], limit: int = 200) -> list[dict[str, Any]]:
    """GTINs with their shop and warehouse units, those with stock first (the order form)."""
    cur = await conn.execute(
        "SELECT p.gtin, p.name, p.size, p.price::float8,"
        "       coalesce(s.units, 0)::bigint, coalesce(w.units, 0)::bigint"
        "  FROM products p"
        "  LEFT JOIN (SELECT gtin, count(*) AS units FROM tag_state WHERE status = 'present'"
        "              GROUP BY gtin) s USING (gtin)"
        "  LEFT JOIN (SELECT gtin, sum(on_hand) AS units FROM warehouse_stock GROUP BY gtin) w"
        "         USING (gtin)"
        " ORDER BY (coalesce(s.units, 0) + coalesce(w.units, 0) > 0) DESC, p.gtin LIMIT %s",
        (limit,),
    )
    return [
        {"gtin": g, "name": n, "size": z, "price": p, "shop_units": int(s), "warehouse_units": int(w)}
        for g, n, z, p, s, w in await cur.fetchall()
    ]
