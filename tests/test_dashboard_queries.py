"""Reads per second on the dashboard: the last complete bucket, or, while a reader has only just
started (nothing in that bucket yet), the filling bucket's reads over the time it has filled."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import psycopg

from allocator.dashboard import queries


def _insert(conn: psycopg.Connection[Any], reader: str, seconds_ago: float, reads: int) -> None:
    conn.execute(
        "INSERT INTO tag_reads (store_id, reader_id, antenna, epc, cycle_start, first_seen,"
        " last_seen, read_count) SELECT 's1', %s, 1, %s, t, t, t, %s"
        " FROM (SELECT now() - make_interval(secs => %s) AS t) x",
        (reader, reader.encode() + str(seconds_ago).encode(), reads, seconds_ago),
    )


def _rates(dsn: str) -> dict[str, Any]:
    async def run() -> list[dict[str, Any]]:
        async with await psycopg.AsyncConnection.connect(dsn) as conn:
            return await queries.readers(conn, {})

    return {r["reader_id"]: r for r in asyncio.run(run())}


def _epoch(conn: psycopg.Connection[Any]) -> float:
    row = conn.execute("SELECT extract(epoch FROM clock_timestamp())::float8").fetchone()
    assert row is not None
    return float(row[0])


def test_a_reader_that_has_just_started_shows_its_filling_bucket(pg_migrated_dsn: str) -> None:
    b = queries.BUCKET_S
    with psycopg.connect(pg_migrated_dsn, autocommit=True) as conn:
        # Start early in a bucket, so that the rows and the query fall in the same one.
        time.sleep((b - _epoch(conn) % b + 0.05) % b)
        start = _epoch(conn)
        into = start % b  # seconds the newest bucket has been filling
        _insert(conn, "new", 0.0, 50)  # only in the filling bucket
        _insert(conn, "steady", 0.0, 999)  # in the filling bucket too, but ...
        _insert(conn, "steady", into + b / 2, 40)  # ... the last complete bucket has reads
        _insert(conn, "old", into + 3 * b / 2, 10)  # two buckets back only: stopped since
        got = _rates(pg_migrated_dsn)
        end = _epoch(conn)
    assert int(start // b) == int(end // b), "the test took a whole bucket"
    assert got["steady"]["reads_per_s"] == round(40 / b, 2)
    # The filling bucket's reads over the time it had filled when the query ran (at least 1 s).
    low, high = 50 / max(end % b, 1.0), 50 / max(into, 1.0)
    assert low - 0.01 <= got["new"]["reads_per_s"] <= high + 0.01
    assert got["new"]["series"][-1] == 0.0  # the series keeps complete buckets only
    assert got["old"]["reads_per_s"] == 0.0
