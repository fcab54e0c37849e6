"""Reads of "today" (the API's node refresh: units reserved today per node; the dashboard's
allocations today) narrow to today's blocks through the BRIN indexes on created_at, and the
expiry sweep to the allocations still reserved, however many old reservations and allocations
the tables hold."""

from __future__ import annotations

import psycopg
from api_fixtures import SLOW, make_chain

_PICKS_TODAY = (
    "SELECT node_id, sum(qty)::bigint FROM reservations"
    " WHERE created_at >= date_trunc('day', now()) AND status IN ('active', 'fulfilled')"
    " GROUP BY node_id"
)
#: The allocations half of shelfsight_expire_reservations().
_SWEEP = (
    "UPDATE allocations a SET status = 'expired', updated_at = now()"
    " WHERE a.status = 'reserved' AND a.expires_at <= now()"
    "   AND NOT EXISTS (SELECT 1 FROM reservations r"
    "                    WHERE r.allocation_id = a.allocation_id AND r.status = 'active')"
)
_ALLOCATIONS_TODAY = (
    "SELECT status, count(*) FROM allocations WHERE created_at >= date_trunc('day', now())"
    " GROUP BY status"
)


def test_today_reads_use_the_created_at_indexes(pg_migrated_dsn: str) -> None:
    dsn = make_chain(pg_migrated_dsn).dsn
    with psycopg.connect(dsn) as conn:
        # A year of history (in created_at order, as rows arrive), then today's few.
        conn.execute("INSERT INTO orders (order_id, ship_lat, ship_lon, service_level, lines)"
                     " VALUES ('old', 52.5, 13.4, 'standard', '[]')")
        conn.execute(
            "INSERT INTO allocations (allocation_id, order_id, status, policy, total_cost,"
            " decision, created_at, expires_at)"
            " SELECT md5(i::text)::uuid, 'old', 'fulfilled', 'shelfsight', 0, '{}', t, t"
            "   FROM generate_series(1, 40000) i,"
            "        LATERAL (SELECT now() - interval '365 days' + i * interval '12 minutes') x (t)"
            "  WHERE t < date_trunc('day', now())")
        conn.execute(
            "INSERT INTO reservations (allocation_id, node_id, gtin, qty, picked, status,"
            " created_at, expires_at)"
            " SELECT allocation_id, 'n' || (hashtext(allocation_id::text) & 255), %s, 1, 1,"
            "        'fulfilled', created_at, expires_at"
            "   FROM allocations ORDER BY created_at", (SLOW,))  # 256 nodes, as a chain has
        conn.execute("ANALYZE reservations")
        conn.execute("ANALYZE allocations")
        plans = ["\n".join(r[0] for r in conn.execute("EXPLAIN " + q))
                 for q in (_PICKS_TODAY, _ALLOCATIONS_TODAY, _SWEEP)]
    assert "reservations_created_brin" in plans[0], plans[0]
    assert "allocations_created_brin" in plans[1], plans[1]
    assert "allocations_reserved_expiry" in plans[2], plans[2]
