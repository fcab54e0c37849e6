"""The allocator's velocity read of sales_daily by GTIN has an index to use on plain PostgreSQL
(the unique key leads with store_id, which a read by GTIN cannot use)."""

from __future__ import annotations

import psycopg

from allocator.api import stock


def test_the_velocity_read_by_gtin_uses_the_gtin_index(pg_migrated_dsn: str) -> None:
    with psycopg.connect(pg_migrated_dsn) as conn:
        conn.execute("SET enable_seqscan = off")  # a tiny table: make the planner show its index
        plan = "\n".join(row[0] for row in conn.execute(
            "EXPLAIN " + stock._SALES_SQL.replace("%s", "{}").format("ARRAY['0950600013435']", 28)
        ))
    assert "sales_daily_gtin_day" in plan, plan
