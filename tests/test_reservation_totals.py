"""`reservation_open` (allocator migration 0005): the running total of each cell's open units,
kept by triggers through every way reservations change (truncation too), equals summing the
rows themselves."""

from __future__ import annotations

from typing import Any

import psycopg
from api_fixtures import FAST, SLOW, make_chain

AID = "00000000-0000-0000-0000-0000000000{:02d}"


def _allocation(conn: psycopg.Connection[Any], n: int, cells: list[tuple[str, str, int]],
                expires: str = "1 hour") -> None:
    conn.execute("INSERT INTO orders (order_id, ship_lat, ship_lon, service_level, lines)"
                 " VALUES (%s, 52.5, 13.4, 'standard', '[]')", (f"o{n}",))
    conn.execute("INSERT INTO allocations (allocation_id, order_id, status, policy, total_cost,"
                 " decision, expires_at) VALUES (%s, %s, 'reserved', 'shelfsight', 0, '{}',"
                 " now() + %s::interval)", (AID.format(n), f"o{n}", expires))
    with conn.cursor() as cur:  # one statement for all cells, as the batch inserts them
        cur.execute(
            "INSERT INTO reservations (allocation_id, node_id, gtin, qty, expires_at)"
            " SELECT %s, n, g, q, now() + %s::interval FROM unnest(%s::text[], %s::text[],"
            " %s::int[]) AS t (n, g, q)",
            (AID.format(n), expires, [c[0] for c in cells], [c[1] for c in cells],
             [c[2] for c in cells]),
        )


def _totals(conn: psycopg.Connection[Any]) -> tuple[dict[tuple[str, str], int], dict[tuple[str, str], int]]:
    kept = {(str(n), str(g)): int(u) for g, n, u in
            conn.execute("SELECT gtin, node_id, units FROM reservation_open WHERE units <> 0")}
    summed = {(str(n), str(g)): int(u) for n, g, u in conn.execute(
        "SELECT node_id, gtin, sum(qty - picked) FROM reservations WHERE status = 'active'"
        " GROUP BY 1, 2 HAVING sum(qty - picked) <> 0")}
    return kept, summed


def test_the_running_totals_follow_every_change_of_the_reservations(pg_migrated_dsn: str) -> None:
    dsn = make_chain(pg_migrated_dsn).dsn
    with psycopg.connect(dsn, autocommit=True) as conn:
        _allocation(conn, 1, [("s1", SLOW, 3), ("w1", SLOW, 2), ("s2", FAST, 1)])
        _allocation(conn, 2, [("s1", SLOW, 1), ("w1", FAST, 4)])
        _allocation(conn, 3, [("w1", SLOW, 5)], expires="-1 second")  # lapsed, not yet swept
        kept, summed = _totals(conn)
        assert kept == summed == {("s1", SLOW): 4, ("w1", SLOW): 7, ("s2", FAST): 1, ("w1", FAST): 4}
        # Availability stops counting the lapsed rows at once, before the sweep relabels them.
        row = conn.execute("SELECT shelfsight_open_units('w1', %s)", (SLOW,)).fetchone()
        assert row == (2,)
        # A pick, a cancel, the expiry sweep, a fulfilment and a delete (allocation cascade).
        conn.execute("UPDATE reservations SET picked = 2 WHERE allocation_id = %s AND node_id = 's1'",
                     (AID.format(1),))
        assert _totals(conn)[0][("s1", SLOW)] == 2
        conn.execute("UPDATE reservations SET status = 'cancelled' WHERE allocation_id = %s",
                     (AID.format(2),))
        assert conn.execute("SELECT shelfsight_expire_reservations()").fetchone() == (1,)
        kept, summed = _totals(conn)
        assert kept == summed == {("s1", SLOW): 1, ("w1", SLOW): 2, ("s2", FAST): 1}
        conn.execute("UPDATE reservations SET picked = qty, status = 'fulfilled'"
                     " WHERE allocation_id = %s AND node_id = 'w1'", (AID.format(1),))
        conn.execute("UPDATE reservations SET updated_at = now()")  # changes no units
        with conn.transaction():
            conn.execute("DELETE FROM allocations WHERE allocation_id = %s", (AID.format(1),))
        kept, summed = _totals(conn)
        assert kept == summed == {}
        # A rolled-back change leaves the totals as they were.
        _allocation(conn, 4, [("s2", SLOW, 2)])
        with psycopg.connect(dsn) as other:
            other.execute("UPDATE reservations SET status = 'cancelled'")
            other.rollback()
        assert _totals(conn) == ({("s2", SLOW): 2}, {("s2", SLOW): 2})
        conn.execute("TRUNCATE allocations CASCADE")  # an operator's reset: nothing stays counted
        assert _totals(conn) == ({}, {})
