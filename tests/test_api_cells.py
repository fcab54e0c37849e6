"""The per-worker stock cell cache (allocator/api/cells.py) and its use on the allocation path."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import numpy as np
import psycopg
import pytest
from api_fixtures import FAST, SLOW, make_chain

from allocator.api import cells as cells_mod
from allocator.api.batcher import CellAvailability
from allocator.api.cells import CellCache
from allocator.api.stock import GtinCache, NodeCache, NodeView, load_cell_arrays, snapshot_velocity
from allocator.config import CostConfig
from allocator.model import NodeKind


async def _run(dsn: str, body: Any) -> Any:
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        nodes = NodeCache()
        view = await nodes.view(conn)
        opened: list[int] = []

        async def connection() -> psycopg.AsyncConnection[Any]:
            opened.append(1)
            return conn

        return await body(conn, view, connection, opened)


def _count_reads(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The GTINs of every stock read the cell cache sends from now on, in order. Each read
    yields to the event loop first, so that concurrent requests arrive while it is in flight."""
    reads: list[list[str]] = []

    async def counting(conn: Any, gtins: list[str], index: dict[str, int]) -> Any:
        reads.append(list(gtins))
        await asyncio.sleep(0)
        return await load_cell_arrays(conn, gtins, index)

    monkeypatch.setattr(cells_mod, "load_cell_arrays", counting)
    return reads


def _column(avail: Any, view: NodeView, j: int = 0) -> dict[str, int]:
    return {node.id: int(avail[i, j]) for i, node in enumerate(view.nodes)}


def test_columns_are_read_once_then_served_and_updated_by_batches(
    pg_migrated_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    dsn = make_chain(pg_migrated_dsn).dsn
    reads = _count_reads(monkeypatch)

    async def body(conn: Any, view: NodeView, connection: Any, opened: list[int]) -> None:
        cache = CellCache(ttl_s=3600)
        before = time.monotonic()
        cells = await cache.arrays(connection, [SLOW, FAST], view, 0)
        assert cells.read_at >= before and _column(cells.available, view) == {"s1": 6, "s2": 3, "w1": 0}
        assert _column(cells.available, view, 1) == {"s1": 2, "s2": 5, "w1": 50}
        assert cells.confidence[0, 0] == pytest.approx(0.95)
        again = await cache.arrays(connection, [FAST], view, 0)
        assert again.read_at == cells.read_at and reads == [[SLOW, FAST]] and opened == [1]
        cache.apply([CellAvailability("s2", FAST, 1), CellAvailability("nowhere", FAST, 9)])
        assert _column((await cache.arrays(connection, [FAST], view, 0)).available, view) == {
            "s1": 2, "s2": 1, "w1": 50}
        # Read again: for other protection units; when asked for a read sent since a later time;
        # and once the TTL lapsed.
        protected = await cache.arrays(connection, [SLOW], view, 1)
        assert _column(protected.available, view) == {"s1": 5, "s2": 2, "w1": 0}
        await cache.arrays(connection, [FAST], view, 0, since=cells.read_at)  # still that read
        assert reads == [[SLOW, FAST], [SLOW]]
        later = time.monotonic()
        assert (await cache.arrays(connection, [FAST], view, 0, since=later)).read_at >= later
        cache.ttl_s = -1.0
        await cache.arrays(connection, [SLOW], view, 1)
        assert reads == [[SLOW, FAST], [SLOW], [FAST], [SLOW]]

    asyncio.run(_run(dsn, body))


def test_a_changed_node_layout_is_read_again(pg_migrated_dsn: str) -> None:
    dsn = make_chain(pg_migrated_dsn).dsn

    async def body(conn: Any, view: NodeView, connection: Any, opened: list[int]) -> None:
        cache = CellCache(ttl_s=3600)
        first = await cache.arrays(connection, [SLOW], view, 0)
        await conn.execute("INSERT INTO stores VALUES ('s0', 'Bonn', 'shop', 50.7, 7.1, 100)")
        nodes = NodeCache()
        wider = await nodes.view(conn)
        cells = await cache.arrays(connection, [SLOW], wider, 0)
        assert cells.read_at > first.read_at and opened == [1, 1]
        assert _column(cells.available, wider) == {"s0": 0, "s1": 6, "s2": 3, "w1": 0}
        # Cells of the new layout are what a batch updates now.
        cache.apply([CellAvailability("s1", SLOW, 4)])
        assert _column((await cache.arrays(connection, [SLOW], wider, 0)).available, wider)["s1"] == 4

    asyncio.run(_run(dsn, body))


def test_velocity_is_per_gtin_and_memoised_until_sales_or_nodes_change(pg_migrated_dsn: str) -> None:
    """A GTIN's velocity is its own estimate (with its style's sizes), whatever else the order
    holds: a two-line order's columns are the two one-line orders' columns."""
    dsn = make_chain(pg_migrated_dsn).dsn
    costs = CostConfig()

    async def body(conn: Any, view: NodeView, connection: Any, opened: list[int]) -> None:
        cache = GtinCache()
        await cache.get(conn, [FAST, SLOW])
        is_shop = np.array([n.kind is NodeKind.SHOP for n in view.nodes])[:, None]
        vel, shape = cache.velocity([FAST, SLOW], view, costs)
        for j, g in enumerate([FAST, SLOW]):
            alone = snapshot_velocity(cache.sales_columns([g], view), is_shop, costs)
            assert np.array_equal(vel[:, [j]], alone[0]) and np.array_equal(shape[:, [j]], alone[1])
            assert np.array_equal(cache.velocity([g], view, costs)[0], alone[0])
        # Estimated together the set would give another velocity: the order's other line
        # would move it.
        joint = snapshot_velocity(cache.sales_columns([FAST, SLOW], view), is_shop, costs)
        assert not np.array_equal(vel, joint[0])
        assert cache.velocity([FAST, SLOW], view, costs)[0] is vel
        assert [a.shape for a in cache.velocity([], view, costs)] == [(len(view.nodes), 0)] * 2
        assert cache.velocity([SLOW, FAST], view, costs)[0] is not vel  # another column order
        with pytest.raises(ValueError):
            vel[0, 0] = 1.0  # shared by snapshots: read-only
        await conn.execute("UPDATE sales_daily SET units = units * 10")
        cache.ttl_s = -1.0
        await cache.get(conn, [FAST, SLOW])
        assert not np.array_equal(cache.velocity([FAST, SLOW], view, costs)[0], vel)

    asyncio.run(_run(dsn, body))


def test_concurrent_misses_share_one_read_unless_a_later_one_is_asked_for(
    pg_migrated_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    dsn = make_chain(pg_migrated_dsn).dsn
    reads = _count_reads(monkeypatch)

    async def body(conn: Any, view: NodeView, connection: Any, opened: list[int]) -> None:
        cache = CellCache(ttl_s=3600)
        arrived = time.monotonic()

        async def after_now() -> Any:  # a read sent before this call does not do
            return await cache.arrays(connection, [SLOW], view, 0, since=time.monotonic())

        out = await asyncio.gather(
            cache.arrays(connection, [SLOW], view, 0),  # reads SLOW
            cache.arrays(connection, [SLOW, FAST], view, 0),  # joins that read, reads FAST
            cache.arrays(connection, [SLOW], view, 0, since=arrived),  # joins: sent since
            after_now(),  # reads SLOW itself
        )
        assert reads == [[SLOW], [FAST], [SLOW]]
        assert all(_column(c.available, view) == {"s1": 6, "s2": 3, "w1": 0} for c in out)
        assert all(c.read_at >= arrived for c in out) and out[3].read_at > out[0].read_at

    asyncio.run(_run(dsn, body))


def test_velocity_pools_the_sizes_of_a_style(pg_migrated_dsn: str) -> None:
    # SLOW (style 'SLOW-JKT') never sold; its other size sold 3 a day in s2 only. Pooled, s2 is where
    # the style sells, so SLOW's velocity there rises above the other shop's, and above what
    # the unpooled estimate says (both shops alike: no sales of SLOW itself anywhere).
    dsn = make_chain(pg_migrated_dsn).dsn
    other = "04012345000019"
    with psycopg.connect(dsn) as conn:
        conn.execute("UPDATE products SET style = 'SLOW-JKT' WHERE gtin = %s", (SLOW,))
        conn.execute("INSERT INTO products (gtin, sku, style, name, price, cost) VALUES"
                     " (%s, 'SL-L', 'SLOW-JKT', 'slow jacket, size L', 80, 30)", (other,))
        conn.execute("INSERT INTO sales_daily (store_id, gtin, day, units)"
                     " SELECT 's2', %s, d, 3 FROM generate_series(now() - interval '13 days', now(),"
                     " interval '1 day') AS d", (other,))
    costs = CostConfig()

    async def body(conn: Any, view: NodeView, connection: Any, opened: list[int]) -> None:
        cache = GtinCache()
        await cache.get(conn, [SLOW])
        assert cache.style_pool(SLOW) == [SLOW, other]
        vel, _ = cache.velocity([SLOW], view, costs)
        assert vel.shape == (len(view.nodes), 1)
        s1, s2 = view.index["s1"], view.index["s2"]
        assert vel[s2, 0] > 2 * vel[s1, 0]
        is_shop = np.array([n.kind is NodeKind.SHOP for n in view.nodes])[:, None]
        alone = snapshot_velocity(cache.sales_columns([SLOW], view), is_shop, costs)[0]
        assert alone[s1, 0] == pytest.approx(alone[s2, 0])
        assert vel[s2, 0] > alone[s2, 0]

    asyncio.run(_run(dsn, body))


def test_node_view_weighs_shops_by_their_recent_walk_in_sales(pg_migrated_dsn: str) -> None:
    """Where the bid-price LP puts the customers: each shop's units sold in the last 28 days
    over every GTIN (warehouses 0), read with the nodes and then kept for STORE_SALES_TTL_S."""
    dsn = make_chain(pg_migrated_dsn).dsn
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DELETE FROM sales_daily")
        conn.execute(
            "INSERT INTO sales_daily (store_id, gtin, day, units) VALUES"
            " ('s1', %(a)s, date_trunc('day', now()) - interval '1 day', 4),"
            " ('s1', %(b)s, date_trunc('day', now()) - interval '20 days', 2),"
            " ('s2', %(a)s, date_trunc('day', now()) - interval '3 days', 3),"
            " ('s2', %(b)s, date_trunc('day', now()) - interval '40 days', 50)",  # too old
            {"a": SLOW, "b": FAST},
        )

    async def body(conn: Any, view: NodeView, connection: Any, opened: list[int]) -> None:
        assert view.customer_weight is not None
        got = {node.id: float(view.customer_weight[i]) for i, node in enumerate(view.nodes)}
        assert got == {"s1": 6.0, "s2": 3.0, "w1": 0.0}
        await conn.execute("INSERT INTO sales_daily (store_id, gtin, day, units)"
                           " VALUES ('s2', %s, date_trunc('day', now()), 30)", (FAST,))
        nodes = NodeCache(ttl_s=-1.0)  # nodes re-read on every view
        first = await nodes.view(conn)
        assert first.customer_weight is not None and first.customer_weight.tolist() == [6.0, 33.0, 0.0]
        await conn.execute("DELETE FROM sales_daily")
        kept = await nodes.view(conn)  # nodes read again, sales kept for the hour
        assert kept is not first and kept.version == first.version  # the same layout
        assert kept.customer_weight is not None and kept.customer_weight.tolist() == [6.0, 33.0, 0.0]
        nodes.sales_ttl_s = -1.0
        assert (await nodes.view(conn)).customer_weight is None  # no sales at all: no weights

    asyncio.run(_run(dsn, body))


def test_store_sales_are_re_read_in_the_background_once_the_app_gave_a_pool(
    pg_migrated_dsn: str,
) -> None:
    """With a pool the hourly re-read does not hold up the node refresh: the view keeps the
    weights it has until the pooled read is done."""
    from psycopg_pool import AsyncConnectionPool

    dsn = make_chain(pg_migrated_dsn).dsn
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DELETE FROM sales_daily")
        conn.execute("INSERT INTO sales_daily (store_id, gtin, day, units)"
                     " VALUES ('s1', %s, date_trunc('day', now()), 4)", (SLOW,))

    async def run() -> None:
        async with AsyncConnectionPool(dsn, min_size=1, max_size=2, open=False,
                                       kwargs={"autocommit": True}) as pool:
            nodes = NodeCache(ttl_s=-1.0, pool=pool)
            async with pool.connection() as conn:
                first = await nodes.view(conn)  # the first read is inline
                assert first.customer_weight is not None
                assert first.customer_weight.tolist() == [4.0, 0.0, 0.0]
                await conn.execute("INSERT INTO sales_daily (store_id, gtin, day, units)"
                                   " VALUES ('s2', %s, date_trunc('day', now()), 6)", (SLOW,))
                nodes.sales_ttl_s = -1.0
                second = await nodes.view(conn)  # stale: re-read scheduled, old weights kept
                assert second.customer_weight is not None
                assert second.customer_weight.tolist() == [4.0, 0.0, 0.0]
                task = nodes._sales_task
                assert task is not None
                await task
                nodes.sales_ttl_s = 3600.0
                third = await nodes.view(conn)
                assert third.customer_weight is not None
                assert third.customer_weight.tolist() == [4.0, 6.0, 0.0]
            await nodes.close()

    asyncio.run(run())


def test_a_due_node_refresh_runs_in_the_background_and_bumps_the_version_on_a_new_layout(
    pg_migrated_dsn: str,
) -> None:
    """With a pool, a request finding the view due gets the current one at once (`fresh`) while
    the refresh runs as a task; the version, which cached columns and velocities check, moves
    only when the layout changes (a node added), not when today's picks do."""
    from psycopg_pool import AsyncConnectionPool

    dsn = make_chain(pg_migrated_dsn).dsn

    async def run() -> None:
        async with AsyncConnectionPool(dsn, min_size=1, max_size=2, open=False,
                                       kwargs={"autocommit": True}) as pool:
            nodes = NodeCache(ttl_s=3600.0)
            assert not nodes.fresh()  # nothing read yet, no pool: the caller reads inline
            nodes.pool = pool
            assert not nodes.fresh()  # nothing read yet: still inline, even with a pool
            async with pool.connection() as conn:
                first = await nodes.view(conn)
                await conn.execute(
                    "INSERT INTO orders (order_id, ship_lat, ship_lon, service_level, lines)"
                    " VALUES ('o-bg', 52.5, 13.4, 'standard', '[]')")
                await conn.execute(
                    "INSERT INTO allocations (allocation_id, order_id, status, policy, total_cost,"
                    " decision, expires_at) VALUES ('00000000-0000-0000-0000-0000000000b9', 'o-bg',"
                    " 'reserved', 'shelfsight', 0, '{}', now() + interval '1 h')")
                await conn.execute(
                    "INSERT INTO reservations (allocation_id, node_id, gtin, qty, expires_at)"
                    " VALUES ('00000000-0000-0000-0000-0000000000b9', 's1', %s, 2,"
                    " now() + interval '1 h')", (SLOW,))
            nodes.ttl_s = -1.0
            assert nodes.fresh() and nodes.current is first  # served as is, refresh scheduled
            task = nodes._refresh_task
            assert task is not None
            await task
            picked = nodes.current
            assert picked is not first and picked.version == first.version
            assert {n.id: n.picks_today for n in picked.nodes}["s1"] == 2
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute("INSERT INTO stores (store_id, name, kind, lat, lon, pick_capacity)"
                             " VALUES ('s3', 'Third', 'shop', 48.1, 11.6, 100)")
            assert nodes.fresh()
            task = nodes._refresh_task
            assert task is not None
            await task
            assert nodes.current.version == first.version + 1
            assert "s3" in nodes.current.index
            await nodes.close()

    asyncio.run(run())
