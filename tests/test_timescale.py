"""On TimescaleDB: hypertables, compression/retention policies and the sales_daily continuous
aggregate exist and work. Policies are run with `CALL run_job(id)` (DESIGN §11: the background
scheduler of TimescaleDB 2.28 on PostgreSQL 15 records its jobs as failed), never waited for.

Runs only when SHELFSIGHT_TEST_DSN points at a server with the extension.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from gateway.records import ReadSummaryRow, TagEventRow
from gateway.sink import Sink, refresh_sales_daily
from shelfsight.testing.servers import PgHandle

pytestmark = pytest.mark.timescale

GTIN = "00614141001002"


@pytest.fixture
def ts_dsn(pg: PgHandle) -> str:
    dsn = pg.migrated_database("ts")
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT bool_and(timescale) FROM shelfsight_migrations").fetchone()
    assert row == (True,), "migrations did not use the TimescaleDB twins"
    return dsn


def _job(conn: psycopg.Connection[tuple[object, ...]], proc: str, relation: str) -> int:
    row = conn.execute(
        "SELECT j.job_id FROM timescaledb_information.jobs j"
        " LEFT JOIN timescaledb_information.continuous_aggregates c"
        "   ON c.materialization_hypertable_name = j.hypertable_name"
        " WHERE j.proc_name = %s AND (j.hypertable_name = %s OR c.view_name = %s)",
        (proc, relation, relation),
    ).fetchone()
    assert row is not None, f"no {proc} job for {relation}"
    return int(str(row[0]))


def test_hypertables_policies_and_continuous_aggregate_exist(ts_dsn: str) -> None:
    with psycopg.connect(ts_dsn) as conn:
        hts: dict[str, bool] = dict(conn.execute(
            "SELECT hypertable_name, compression_enabled FROM timescaledb_information.hypertables"
            " WHERE hypertable_schema = 'public'"
        ).fetchall())
        assert hts == {"tag_reads": True, "tag_events": True}
        caggs = conn.execute(
            "SELECT view_name, materialized_only FROM timescaledb_information.continuous_aggregates"
        ).fetchall()
        assert caggs == [("sales_daily", False)]
        for table in ("tag_reads", "tag_events"):
            _job(conn, "policy_compression", table)
            _job(conn, "policy_retention", table)
        _job(conn, "policy_refresh_continuous_aggregate", "sales_daily")
        cols = conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'sales_daily'"
            " ORDER BY ordinal_position"
        ).fetchall()
        assert [c[0] for c in cols] == ["store_id", "gtin", "day", "units"]
        # The allocator reads it by GTIN: the aggregate's own (gtin, day) index serves that
        # (gateway migration 0004 adds it on plain PostgreSQL only).
        defs = [d for (d,) in conn.execute(
            "SELECT i.indexdef FROM timescaledb_information.continuous_aggregates c"
            "  JOIN pg_indexes i ON i.schemaname = c.materialization_hypertable_schema"
            "   AND i.tablename = c.materialization_hypertable_name"
            " WHERE c.view_name = 'sales_daily'"
        )]
        assert any("(gtin, day" in d for d in defs), defs


def _reads(at: datetime, n: int, tag: int) -> list[ReadSummaryRow]:
    return [
        ReadSummaryRow("s1", "r1", 1, bytes([tag]) + i.to_bytes(11, "big"), at, at, at, 2, -50.0)
        for i in range(n)
    ]


def test_compression_then_retention_by_run_job(ts_dsn: str) -> None:
    now = datetime.now(UTC)
    recent, old, ancient = _reads(now, 10, 1), _reads(now - timedelta(days=10), 10, 2), _reads(
        now - timedelta(days=120), 10, 3
    )
    with Sink(ts_dsn, "s1") as sink:
        assert sink.write([*recent, *old, *ancient]).reads_inserted == 30
    with psycopg.connect(ts_dsn, autocommit=True) as conn:
        conn.execute("CALL run_job(%s)", (_job(conn, "policy_compression", "tag_reads"),))
        compressed = conn.execute(
            "SELECT count(*) FROM timescaledb_information.chunks"
            " WHERE hypertable_name = 'tag_reads' AND is_compressed"
        ).fetchone()
        assert compressed == (2,)  # the 10- and 120-day-old chunks, not today's
    # a replay into a compressed chunk (a gateway back after a week offline) stays exactly-once
    with Sink(ts_dsn, "s1") as sink:
        assert sink.write(old).reads_inserted == 0
    with psycopg.connect(ts_dsn, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM tag_reads").fetchone() == (30,)
        conn.execute("CALL run_job(%s)", (_job(conn, "policy_retention", "tag_reads"),))
        assert conn.execute("SELECT count(*) FROM tag_reads").fetchone() == (20,)


def test_sales_daily_continuous_aggregate_refresh_by_run_job(ts_dsn: str) -> None:
    day = (datetime.now(UTC) - timedelta(days=3)).replace(hour=12, minute=0, second=0,
                                                          microsecond=0)
    sold = [
        TagEventRow("s1", i.to_bytes(12, "big"), i, day + timedelta(minutes=i), "sold", "exit",
                    "floor", GTIN, str(i))
        for i in range(5)
    ]
    with Sink(ts_dsn, "s1") as sink:
        assert sink.write(sold).events_inserted == 5
    query = "SELECT store_id, gtin, day, units FROM sales_daily"  # the same query as plain PG
    expected = [("s1", GTIN, day.replace(hour=0), 5)]
    with psycopg.connect(ts_dsn, autocommit=True) as conn:
        assert conn.execute(query).fetchall() == expected  # real-time aggregation
        assert refresh_sales_daily(conn, day, "s1") == 0  # the policy's job, not the gateway's
        conn.execute("ALTER MATERIALIZED VIEW sales_daily SET (timescaledb.materialized_only = true)")
        assert conn.execute(query).fetchall() == []  # nothing materialized yet
        conn.execute(
            "CALL run_job(%s)", (_job(conn, "policy_refresh_continuous_aggregate", "sales_daily"),)
        )
        assert conn.execute(query).fetchall() == expected
