"""The app factory: `create_app(settings, pool=None)`; nothing connects before the lifespan.

Given no pool, the lifespan opens a psycopg `AsyncConnectionPool` on `settings.database.dsn`
(and closes it at shutdown); given one, the caller owns it. A background task relabels lapsed
reservations and deletes old idempotency keys every `sweep_interval_s`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI
from psycopg_pool import AsyncConnectionPool

from allocator.api import idempotency, problems, reservations
from allocator.api.batcher import ReserveBatcher
from allocator.api.deps import ApiState
from allocator.api.fastpath import FastAllocate
from allocator.api.metrics import build_metrics
from allocator.api.routes_allocations import router as allocations_router
from allocator.api.routes_ops import router as ops_router
from allocator.api.routes_stock import router as stock_router
from allocator.bidcache import BidPriceCache
from allocator.dashboard import mount_dashboard
from shelfsight.settings import ApiSettings

log = logging.getLogger(__name__)

API_VERSION = "1.0.0"


class ApiConfigError(ValueError):
    """The settings cannot run an API (no database)."""


async def sweep_once(pool: AsyncConnectionPool) -> tuple[int, int]:
    async with pool.connection() as conn:
        expired = await reservations.expire(conn)
        dropped = await idempotency.sweep(conn)
    if expired or dropped:
        log.info("sweep: %d reservations expired, %d idempotency keys dropped", expired, dropped)
    return expired, dropped


async def _sweeper(pool: AsyncConnectionPool, interval_s: float) -> None:
    while True:
        await asyncio.sleep(interval_s)
        try:
            await sweep_once(pool)
        except Exception as exc:  # logged; the next round tries again
            log.warning("sweep failed: %s", exc)


def create_app(
    settings: ApiSettings, *, pool: AsyncConnectionPool | None = None, sweep_interval_s: float | None = None
) -> FastAPI:
    """The API app. Without `pool`, `settings.database.dsn` is required."""
    dsn = settings.database.dsn
    if pool is None and dsn is None:
        raise ApiConfigError("database.dsn is required to serve the API")
    interval = sweep_interval_s or float(min(60, max(1, settings.reservations.ttl_s // 4)))
    state = ApiState(settings=settings, metrics=build_metrics(), pool=pool)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned: AsyncConnectionPool | None = None
        if state.pool is None:
            assert dsn is not None
            owned = AsyncConnectionPool(
                dsn.get_secret_value(),
                min_size=settings.database.pool_min,
                max_size=settings.database.pool_max,
                open=False,
                name="shelfsight-api",
                # Autocommit: the allocation path is one statement per transaction (no BEGIN /
                # COMMIT round trips); multi-statement writes open `conn.transaction()`.
                kwargs={"autocommit": True},
            )
            await owned.open(wait=False)
            state.pool = owned
        state.caches.nodes.pool = state.pool
        state.batcher = ReserveBatcher(
            state.pool, settings.costs.protection_units,
            on_batch=state.metrics.reserve_batch.observe, on_cells=state.caches.cells.apply,
        )
        bids = settings.bid_prices
        if bids.enabled:
            state.caches.bids = BidPriceCache(
                settings.costs, ttl_s=bids.ttl_s, max_age_s=bids.max_age_s,
                max_gtins=bids.max_gtins,
                on_lookup=lambda hit: state.metrics.bid_lookups.labels(
                    "hit" if hit else "miss").inc(),
                on_solve=lambda outcome, n: state.metrics.bid_solves.labels(outcome).inc(n),
            )
        task = asyncio.create_task(_sweeper(state.pool, interval), name="shelfsight-sweeper")
        try:
            yield
        finally:
            await state.batcher.close()
            state.batcher = None
            await state.caches.nodes.close()
            state.caches.nodes.pool = None
            if state.caches.bids is not None:
                await asyncio.to_thread(state.caches.bids.close)  # waits for a running LP
                state.caches.bids = None
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            if owned is not None:
                await owned.close()
                state.pool = None

    app = FastAPI(
        title="shelfsight allocation API",
        version=API_VERSION,
        lifespan=lifespan,
        description="Allocate online orders to shops and warehouses from RFID stock.",
    )
    app.state.shelfsight = state
    problems.install(app)
    app.add_middleware(FastAllocate, state=state)
    app.include_router(allocations_router)
    app.include_router(stock_router)
    app.include_router(ops_router)
    mount_dashboard(app)
    return app
