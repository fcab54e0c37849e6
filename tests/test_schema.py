"""The gateway schema migrates on plain PostgreSQL, is idempotent, and enforces its keys and checks."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest

from shelfsight.db import discover, migrate

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


def test_migrations_are_paired_and_ordered() -> None:
    gateway = [m for m in discover(("gateway",))]
    assert [m.version for m in gateway] == sorted(m.version for m in gateway)
    names = {m.name: m for m in gateway}
    assert names["core"].timescale is None
    # sales_daily: a table on plain PostgreSQL, a continuous aggregate on TimescaleDB, same migration.
    ts = names["timeseries"]
    assert ts.timescale is not None
    assert "CREATE TABLE sales_daily" in ts.plain
    assert "timescaledb.continuous" in ts.timescale


def test_migrate_twice_applies_nothing_the_second_time(pg_dsn: str) -> None:
    first = migrate(pg_dsn, components=("gateway",))
    assert "gateway/0001_core" in first.applied
    assert migrate(pg_dsn, components=("gateway",)).applied == []


def _columns(conn: psycopg.Connection[tuple[object, ...]], table: str) -> list[str]:
    rows = conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = %s"
        " ORDER BY ordinal_position",
        (table,),
    ).fetchall()
    return [str(r[0]) for r in rows]


def test_agreed_tables_and_columns_exist(pg_migrated_dsn: str) -> None:
    with psycopg.connect(pg_migrated_dsn) as conn:
        assert _columns(conn, "tag_reads") == [
            "store_id", "reader_id", "antenna", "epc", "cycle_start", "first_seen", "last_seen",
            "read_count", "peak_rssi", "ingester",
        ]
        assert _columns(conn, "tag_events") == [
            "store_id", "epc", "seq", "time", "kind", "zone", "from_zone", "gtin", "serial",
        ]
        assert _columns(conn, "sales_daily") == ["store_id", "gtin", "day", "units"]
        assert _columns(conn, "stock_by_zone") == [
            "store_id", "gtin", "zone", "units", "newest_seen", "oldest_seen", "mean_confidence",
        ]
        brin = conn.execute(
            "SELECT count(*) FROM pg_indexes WHERE indexdef LIKE '%USING brin%'"
            " AND tablename IN ('tag_reads', 'tag_events')"
        ).fetchone()
        timescale = conn.execute("SELECT bool_and(timescale) FROM shelfsight_migrations").fetchone()
        # Plain PostgreSQL gets BRIN indexes on time; TimescaleDB partitions by time instead.
        assert brin == ((0,) if timescale == (True,) else (2,))


def test_event_kind_check_and_idempotency_key(pg_migrated_dsn: str) -> None:
    with psycopg.connect(pg_migrated_dsn) as conn:
        row = ("s1", b"\x30\x14", 1, T0, "arrived", "floor", None, None, None)
        insert = "INSERT INTO tag_events VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s) ON CONFLICT DO NOTHING"
        assert conn.execute(insert, row).rowcount == 1
        assert conn.execute(insert, row).rowcount == 0
        conn.commit()
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute(insert, ("s1", b"\x30", 2, T0, "teleported", None, None, None, None))


def test_stock_by_zone_counts_present_items(pg_migrated_dsn: str) -> None:
    with psycopg.connect(pg_migrated_dsn) as conn:
        for i, (zone, status, conf) in enumerate(
            [("floor", "present", 0.9), ("floor", "present", 0.7), ("floor", "sold", 1.0),
             ("backroom", "present", 0.5)]
        ):
            conn.execute(
                "INSERT INTO tag_state (epc, store_id, gtin, zone, status, last_seen, confidence,"
                " last_seq, updated_at) VALUES (%s, 's1', '00000000000017', %s, %s, %s, %s, %s, %s)",
                (bytes([i]), zone, status, T0.replace(minute=i), conf, i, T0),
            )
        rows = conn.execute(
            "SELECT zone, units, newest_seen, oldest_seen, round(mean_confidence::numeric, 2)"
            " FROM stock_by_zone ORDER BY zone"
        ).fetchall()
    assert [(r[0], r[1]) for r in rows] == [("backroom", 1), ("floor", 2)]
    floor = rows[1]
    assert floor[2] == T0.replace(minute=1) and floor[3] == T0
    assert float(floor[4]) == pytest.approx(0.8)
