"""Rows/s of `Sink.write` for read summaries beside the binary COPY ceiling, same server, same run.

    .venv/bin/python -m bench.sink_throughput --rows 200000 [--dsn DSN]

Without a DSN it starts a throwaway PostgreSQL (shelfsight.embedded). Three figures:
`copy_ceiling` is a binary COPY of the same rows straight into an index-free table (the fastest
way in); `sink_insert` is `Sink.write` of fresh rows (COPY to staging + INSERT … SELECT … ON
CONFLICT DO NOTHING, one transaction per `batch_rows`); `sink_replay` writes the same rows again
(all duplicates: nothing inserted).
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from gateway.config import SinkConfig
from gateway.records import ReadSummaryRow
from gateway.sink import Sink
from gateway.sink_sql import READS


def _rows(n: int) -> list[ReadSummaryRow]:
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    return [
        ReadSummaryRow("shop-0001", f"r{i % 8}", 1 + i % 4, (0x3014_0000_0000 + i).to_bytes(12, "big"),
                       t0 + timedelta(seconds=i // 500), t0, t0, 1 + i % 9, -40.0 - i % 30)
        for i in range(n)
    ]


def _copy_ceiling(dsn: str, rows: list[ReadSummaryRow]) -> float:
    with psycopg.connect(dsn) as conn:
        conn.execute("CREATE TABLE copy_ceiling (LIKE tag_reads)")
        conn.commit()
        start = time.perf_counter()
        with conn.cursor() as cur, cur.copy(
            f"COPY copy_ceiling ({', '.join(READS.columns)}) FROM STDIN (FORMAT BINARY)"
        ) as copy:
            copy.set_types(["text", "text", "int2", "bytea", "timestamptz", "timestamptz",
                            "timestamptz", "int4", "float4"])
            for r in rows:
                copy.write_row(r.as_row())
        conn.commit()
        return time.perf_counter() - start


def _sink(dsn: str, rows: list[ReadSummaryRow], batch_rows: int) -> tuple[float, int]:
    inserted = 0
    with Sink(dsn, "shop-0001", SinkConfig(batch_rows=batch_rows)) as sink:
        start = time.perf_counter()
        for i in range(0, len(rows), batch_rows):
            inserted += sink.write(rows[i : i + batch_rows]).reads_inserted
        return time.perf_counter() - start, inserted


def run(rows: int = 200_000, dsn: str | None = None, batch_rows: int = 10_000) -> dict[str, Any]:
    from shelfsight.db import migrate

    server = None
    if dsn is None:
        from shelfsight.embedded.postgres import PostgresServer

        server = PostgresServer(durable=True)
        server.start()
        dsn = server.create_database("bench_sink")
    try:
        migrate(dsn, components=("gateway",))
        data = _rows(rows)
        ceiling_s = _copy_ceiling(dsn, data)
        insert_s, inserted = _sink(dsn, data, batch_rows)
        replay_s, replayed = _sink(dsn, data, batch_rows)
        with psycopg.connect(dsn) as conn:
            stored = conn.execute("SELECT count(*) FROM tag_reads").fetchone()
    finally:
        if server is not None:
            server.close()
    assert inserted == rows and replayed == 0 and stored == (rows,)
    return {
        "benchmark": "sink_throughput",
        "rows": rows,
        "batch_rows": batch_rows,
        "copy_ceiling_rows_per_s": round(rows / ceiling_s),
        "sink_insert_rows_per_s": round(rows / insert_s),
        "sink_replay_rows_per_s": round(rows / replay_s),
        "sink_vs_ceiling": round(ceiling_s / insert_s, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--batch-rows", type=int, default=10_000)
    parser.add_argument("--dsn", default=None)
    args = parser.parse_args()
    print(json.dumps(run(args.rows, args.dsn, args.batch_rows), indent=2))


if __name__ == "__main__":
    main()
