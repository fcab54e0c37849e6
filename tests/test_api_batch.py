"""Group commit: `shelfsight_allocate_batch` and `ReserveBatcher` (allocator/api/batcher.py).

Each request of a batch keeps its own outcome (reserved, replay, order_open, short), a refused
request leaves nothing written, cells are never over-reserved within or across batches, and a
batch whose call fails is retried request by request.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from api_fixtures import FAST, SLOW, THIN, make_chain
from psycopg_pool import AsyncConnectionPool

from allocator.api import batcher as batch_mod
from allocator.api.batcher import Answer, CellAvailability, Pending, ReserveBatcher, call_batch
from allocator.api.idempotency import Guard
from allocator.api.problems import ProblemError, ProblemType
from allocator.api.reservations import AttemptOutcome, KeyRow
from allocator.decision import Assignment, CostBreakdown, Decision
from allocator.model import Order, OrderLine


def pending(order_id: str, *cells: tuple[str, str, int], key: str | None = None) -> Pending:
    """An order reserving `cells` (node, GTIN, qty), one line per cell; `key`: Idempotency-Key."""
    lines = tuple(OrderLine(g, q) for _, g, q in cells)
    decision = Decision(
        order_id=order_id, policy="test",
        assignments=tuple(Assignment(i, g, n, q) for i, (n, g, q) in enumerate(cells)),
        unfilled=(), breakdown=CostBreakdown(parcels=4.0),
    )
    now = datetime.now(UTC)
    row = None if key is None else KeyRow("kid", key, "POST", "/v1/allocations", b"h" * 32, 201,
                                          "application/json")
    return Pending(uuid.uuid4(), Order(order_id, lines, 52.5, 13.4), decision, b'{"policy": "test"}',
                   now, now + timedelta(minutes=15), row, f'{{"order": "{order_id}"}}'.encode())


def rows(dsn: str, sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(sql).fetchall()


async def _batch(dsn: str, items: list[Pending]) -> batch_mod.BatchResult:
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        return await call_batch(conn, 0, items)


def test_each_request_keeps_its_own_outcome(pg_migrated_dsn: str) -> None:
    dsn = make_chain(pg_migrated_dsn).dsn
    items = [
        pending("b-1", ("s1", SLOW, 4), key="k1"),             # reserved
        pending("b-1", ("s1", SLOW, 4), key="k1"),             # same key: replay
        pending("b-2", ("s1", SLOW, 3), key="k2"),             # 2 left in s1 after b-1: short
        pending("b-1", ("s2", SLOW, 1), key="k3"),             # b-1 is open: order_open
        pending("b-3", ("s1", SLOW, 2), ("s2", FAST, 5)),      # the rest of s1, all of s2 FAST
        pending("b-4", ("s2", FAST, 1), ("s2", SLOW, 1), key="k4"),  # FAST gone: short, one row
    ]
    result = asyncio.run(_batch(dsn, items))
    assert result.outcome[1:] == ["reserved", "replay", "short", "order_open", "reserved", "short"]
    assert result.attempt(1, "b-1").outcome is AttemptOutcome.RESERVED
    assert result.attempt(2, "b-1").outcome is AttemptOutcome.REPLAY
    assert [(s.node_id, s.gtin, s.wanted, s.available) for s in result.short[3]] == [("s1", SLOW, 3, 2)]
    assert [(s.node_id, s.gtin, s.wanted, s.available) for s in result.short[6]] == [("s2", FAST, 1, 0)]
    with pytest.raises(ProblemError) as info:
        result.attempt(4, "b-1")
    assert info.value.type is ProblemType.ORDER_ALREADY_ALLOCATED
    assert info.value.extra["allocation_id"] == str(items[0].allocation_id)
    # Nothing of a refused request is left: keys, orders, allocations, reservations, lines.
    assert rows(dsn, "SELECT idem_key, body FROM idempotency_keys ORDER BY 1") == [
        ("k1", b'{"order": "b-1"}')
    ]
    assert rows(dsn, "SELECT order_id FROM orders ORDER BY 1") == [("b-1",), ("b-3",)]
    assert rows(dsn, "SELECT order_id, status FROM allocations ORDER BY 1") == [
        ("b-1", "reserved"), ("b-3", "reserved")
    ]
    assert rows(dsn, "SELECT node_id, gtin, qty FROM reservations ORDER BY qty, node_id") == [
        ("s1", SLOW, 2), ("s1", SLOW, 4), ("s2", FAST, 5)
    ]
    assert rows(dsn, "SELECT count(*) FROM allocation_lines") == [(3,)]
    # The cells' availability after the batch, for the stock cache: s1 SLOW 6 - 4 - 2, s2 SLOW 3.
    cells = {(c.node_id, c.gtin): c.available for c in result.cells}
    assert cells == {("s1", SLOW): 0, ("s2", FAST): 0, ("s2", SLOW): 3}


def test_a_refused_new_order_leaves_no_order_row_and_an_old_one_is_unchanged(pg_migrated_dsn: str) -> None:
    dsn = make_chain(pg_migrated_dsn).dsn
    first = asyncio.run(_batch(dsn, [pending("o-1", ("s1", THIN, 1))]))
    assert first.outcome[1:] == ["reserved"]
    with psycopg.connect(dsn) as conn:
        conn.execute("UPDATE allocations SET status = 'cancelled'")
        conn.execute("UPDATE reservations SET status = 'cancelled'")
    later = pending("o-1", ("s1", THIN, 99))
    result = asyncio.run(_batch(dsn, [later, pending("o-2", ("s2", THIN, 99))]))
    assert result.outcome[1:] == ["short", "short"]
    assert rows(dsn, "SELECT order_id, ship_lat FROM orders") == [("o-1", 52.5)]


def test_batches_never_oversell(pg_migrated_dsn: str) -> None:
    """THIN: 5 units in s1. 40 one-unit requests in 8 concurrent batchers (own connections)."""
    dsn = make_chain(pg_migrated_dsn).dsn

    async def run() -> list[AttemptOutcome]:
        async with AsyncConnectionPool(dsn, min_size=2, max_size=8, open=False,
                                       kwargs={"autocommit": True}) as pool:
            batchers = [ReserveBatcher(pool, 0, max_batch=3) for _ in range(8)]
            attempts = await asyncio.gather(*[
                batchers[i % 8].reserve(pending(f"t-{i}", ("s1", THIN, 1), key=f"t-{i}"))
                for i in range(40)
            ])
        return [a.outcome for a in attempts]

    outcomes = asyncio.run(run())
    assert outcomes.count(AttemptOutcome.RESERVED) == 5
    assert outcomes.count(AttemptOutcome.SHORT) == 35
    assert rows(dsn, f"SELECT sum(qty), count(*) FROM reservations WHERE gtin = '{THIN}'") == [(5, 5)]
    assert rows(dsn, "SELECT count(*) FROM idempotency_keys") == [(5,)]


def test_waiting_requests_go_in_one_call_and_cells_reach_the_cache(pg_migrated_dsn: str) -> None:
    dsn = make_chain(pg_migrated_dsn).dsn
    sizes: list[int] = []
    seen: list[CellAvailability] = []

    async def run() -> list[AttemptOutcome]:
        async with AsyncConnectionPool(dsn, min_size=1, max_size=2, open=False,
                                       kwargs={"autocommit": True}) as pool:
            b = ReserveBatcher(pool, 0, max_batch=4, on_cells=seen.extend, on_batch=sizes.append)
            attempts = await asyncio.gather(*[
                b.reserve(pending(f"w-{i}", ("s2", FAST, 1))) for i in range(6)
            ])
        return [a.outcome for a in attempts]

    assert asyncio.run(run()) == [AttemptOutcome.RESERVED] * 5 + [AttemptOutcome.SHORT]
    assert sizes == [4, 2]
    assert [(c.node_id, c.gtin, c.available) for c in seen] == [("s2", FAST, 1), ("s2", FAST, 0)]


def test_a_failed_call_is_retried_request_by_request(
    pg_migrated_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    dsn = make_chain(pg_migrated_dsn).dsn

    async def broken(*_: object) -> batch_mod.BatchResult:
        raise psycopg.errors.DeadlockDetected("deadlock detected")

    monkeypatch.setattr(batch_mod, "call_batch", broken)

    async def run() -> list[AttemptOutcome | str]:
        async with AsyncConnectionPool(dsn, min_size=1, max_size=2, open=False,
                                       kwargs={"autocommit": True}) as pool:
            b = ReserveBatcher(pool, 0)
            out = await asyncio.gather(
                b.reserve(pending("f-1", ("s1", FAST, 2), key="f1")),
                b.reserve(pending("f-2", ("s1", FAST, 1), key="f2")),
                b.reserve(pending("f-1", ("s2", FAST, 1), key="f3")),
                return_exceptions=True,
            )
        return [x.outcome if not isinstance(x, BaseException) else type(x).__name__ for x in out]

    assert asyncio.run(run()) == [AttemptOutcome.RESERVED, AttemptOutcome.SHORT, "ProblemError"]
    assert rows(dsn, "SELECT idem_key FROM idempotency_keys") == [("f1",)]


def answer(key: str, body: bytes = b'{"status": 409}') -> Answer:
    guard = Guard("kid", key, "POST", "/v1/allocations", b"h" * 32)
    return Answer(guard, 409, "application/problem+json", body)


def test_refusals_are_recorded_in_the_same_call(pg_migrated_dsn: str) -> None:
    dsn = make_chain(pg_migrated_dsn).dsn

    async def run() -> batch_mod.BatchResult:
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
            return await call_batch(
                conn, 0, [pending("r-1", ("s1", SLOW, 1), key="k1")],
                [answer("k1"), answer("k9", b"first"), answer("k9", b"second")],
            )

    result = asyncio.run(run())
    # The reservation goes first: its key row stands, the refusal under that key replays it.
    assert result.outcome[1:] == ["reserved", "replay", "recorded", "replay"]
    assert result.attempt(3, "").outcome is AttemptOutcome.RECORDED
    assert rows(dsn, "SELECT idem_key, status, body FROM idempotency_keys ORDER BY 1") == [
        ("k1", 201, b'{"order": "r-1"}'), ("k9", 409, b"first")
    ]


def test_the_batcher_records_refusals_and_retries_them_alone_when_a_call_fails(
    pg_migrated_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    dsn = make_chain(pg_migrated_dsn).dsn
    sizes: list[int] = []

    async def run() -> list[AttemptOutcome]:
        async with AsyncConnectionPool(dsn, min_size=1, max_size=2, open=False,
                                       kwargs={"autocommit": True}) as pool:
            b = ReserveBatcher(pool, 0, on_batch=sizes.append)
            first = await asyncio.gather(b.record(answer("a1")), b.reserve(pending("a-2", ("s2", SLOW, 1))))

            async def broken(*_: object) -> batch_mod.BatchResult:
                raise psycopg.errors.DeadlockDetected("deadlock detected")

            monkeypatch.setattr(batch_mod, "call_batch", broken)
            second = await asyncio.gather(b.record(answer("a1")), b.record(answer("a3")))
        return [a.outcome for a in (*first, *second)]

    assert asyncio.run(run()) == [AttemptOutcome.RECORDED, AttemptOutcome.RESERVED,
                                  AttemptOutcome.REPLAY, AttemptOutcome.RECORDED]
    assert sizes == [1]  # reservations per call: the answers are not counted
    assert rows(dsn, "SELECT idem_key FROM idempotency_keys ORDER BY 1") == [("a1",), ("a3",)]


@pytest.mark.parametrize("protect", [0, 1])
def test_the_batch_counts_availability_as_shelfsight_available_and_the_cell_read(
    pg_migrated_dsn: str, protect: int
) -> None:
    """Three places count a cell's availability: `shelfsight_available` (single reservations),
    `shelfsight_allocate_batch` (under its locks) and `load_cell_arrays` (the decision's read).
    They must agree cell by cell on reservations active, partly picked, expired and cancelled,
    with shop protection, for shops and the warehouse."""
    from allocator.api.stock import load_cell_arrays

    dsn = make_chain(pg_migrated_dsn).dsn
    held = asyncio.run(_batch(dsn, [
        pending("h-1", ("s1", SLOW, 2)), pending("h-2", ("s2", FAST, 1)),
        pending("h-3", ("w1", FAST, 4)), pending("h-4", ("s1", FAST, 1)),
    ]))
    assert held.outcome[1:] == ["reserved"] * 4
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("UPDATE reservations SET picked = 1 WHERE node_id = 's1' AND gtin = %s", (SLOW,))
        conn.execute("UPDATE reservations SET expires_at = now() - interval '1 s'"
                     " WHERE node_id = 's2'")
        conn.execute("UPDATE reservations SET status = 'cancelled' WHERE node_id = 's1' AND gtin = %s",
                     (FAST,))
        nodes = [r[0] for r in conn.execute("SELECT store_id FROM stores ORDER BY 1").fetchall()]
        kinds: dict[str, str] = dict(conn.execute("SELECT store_id, kind FROM stores").fetchall())
        gtins = [SLOW, FAST, THIN]
        single: dict[tuple[str, str], int] = {}
        for n in nodes:
            for g in gtins:
                row = conn.execute("SELECT shelfsight_available(%s, %s, %s)", (n, g, protect)).fetchone()
                assert row is not None
                single[(n, g)] = row[0]

    async def read() -> Any:
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
            return await load_cell_arrays(conn, gtins, {n: i for i, n in enumerate(nodes)})

    arrays = asyncio.run(read())
    cell_read = {
        (n, g): max(int(arrays.units[i, j] - arrays.reserved[i, j])
                    - (protect if kinds[n] == "shop" else 0), 0)
        for i, n in enumerate(nodes) for j, g in enumerate(gtins)
    }
    # One request per cell asking for more than any cell holds: each comes back short with the
    # batch's own count (and nothing is reserved).
    asks = [pending(f"q-{n}-{g}", (n, g, 10_000)) for n in nodes for g in gtins]

    async def ask() -> batch_mod.BatchResult:
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
            return await call_batch(conn, protect, asks)

    result = asyncio.run(ask())
    batch = {(s.node_id, s.gtin): max(s.available, 0) for i in range(1, len(asks) + 1)
             for s in result.short[i]}
    assert single == batch == cell_read
    # Not trivially equal: the reservations and protection changed the counts.
    assert single[("s1", SLOW)] == 6 - 1 - protect  # 2 reserved, 1 of them picked
    assert single[("s2", FAST)] == 5 - protect  # its reservation expired
    assert single[("s1", FAST)] == 2 - protect  # cancelled
    assert single[("w1", FAST)] == 50 - 4  # no protection at warehouses
