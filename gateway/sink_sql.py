"""SQL of the sink: staging tables, the idempotent INSERT … SELECT per target, the sales rollup.

Staging columns are wider than the targets (int4/int8/float8) so that an out-of-range value
fails in the INSERT with SQLSTATE 22003 (a bad row, dead-lettered), not in the COPY stream.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg


@dataclass(frozen=True)
class TableSpec:
    target: str
    stage: str
    columns: tuple[str, ...]
    stage_types: tuple[str, ...]
    insert: str

    @property
    def create_stage(self) -> str:
        cols = ", ".join(f"{c} {t}" for c, t in zip(self.columns, self.stage_types, strict=True))
        return f"CREATE TEMP TABLE IF NOT EXISTS {self.stage} ({cols}) ON COMMIT DELETE ROWS"

    @property
    def copy(self) -> str:
        return f"COPY {self.stage} ({', '.join(self.columns)}) FROM STDIN (FORMAT BINARY)"


_READ_COLS = ("store_id", "reader_id", "antenna", "epc", "cycle_start", "first_seen", "last_seen",
              "read_count", "peak_rssi", "ingester")
READS = TableSpec(
    target="tag_reads",
    stage="stage_tag_reads",
    columns=_READ_COLS,
    stage_types=("text", "text", "int4", "bytea", "timestamptz", "timestamptz", "timestamptz",
                 "int8", "float8", "text"),
    insert=f"INSERT INTO tag_reads ({', '.join(_READ_COLS)})"
    f" SELECT {', '.join(_READ_COLS)} FROM stage_tag_reads ON CONFLICT DO NOTHING",
)

_EVENT_COLS = ("store_id", "epc", "seq", "time", "kind", "zone", "from_zone", "gtin", "serial")
EVENTS = TableSpec(
    target="tag_events",
    stage="stage_tag_events",
    columns=_EVENT_COLS,
    stage_types=("text", "bytea", "int8", "timestamptz", "text", "text", "text", "text", "text"),
    insert=f"INSERT INTO tag_events ({', '.join(_EVENT_COLS)})"
    f" SELECT {', '.join(_EVENT_COLS)} FROM stage_tag_events ON CONFLICT DO NOTHING",
)

_STATE_COLS = ("epc", "store_id", "gtin", "serial", "zone", "status", "last_seen", "read_rate",
               "confidence", "last_census", "last_seq", "updated_at")
_STATE_SET = ", ".join(f"{c} = excluded.{c}" for c in _STATE_COLS if c != "epc")
# Newest state per item within the batch, then applied only when newer than the stored one: a
# higher sequence from the same store, or a later update from another store (the item moved).
STATES = TableSpec(
    target="tag_state",
    stage="stage_tag_state",
    columns=_STATE_COLS,
    stage_types=("bytea", "text", "text", "text", "text", "text", "timestamptz", "float8",
                 "float8", "timestamptz", "int8", "timestamptz"),
    insert=f"INSERT INTO tag_state AS t ({', '.join(_STATE_COLS)})"
    f" SELECT DISTINCT ON (epc) {', '.join(_STATE_COLS)} FROM stage_tag_state"
    " ORDER BY epc, last_seq DESC, updated_at DESC"
    f" ON CONFLICT (epc) DO UPDATE SET {_STATE_SET}"
    " WHERE (excluded.store_id = t.store_id AND excluded.last_seq > t.last_seq)"
    " OR (excluded.store_id <> t.store_id AND excluded.updated_at > t.updated_at)",
)

DEAD_LETTER = (
    "INSERT INTO dead_letters (target, sqlstate, reason, payload, dedup_key)"
    " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (dedup_key) DO NOTHING"
)

_REFRESH = """
INSERT INTO sales_daily (store_id, gtin, day, units)
SELECT store_id, gtin, date_trunc('day', time, 'UTC') AS day, count(*)::bigint
FROM tag_events
WHERE kind = 'sold'
  AND time >= date_trunc('day', %(since)s::timestamptz, 'UTC')
  AND (%(store)s::text IS NULL OR store_id = %(store)s::text)
GROUP BY store_id, gtin, date_trunc('day', time, 'UTC')
ON CONFLICT (store_id, gtin, day) DO UPDATE SET units = excluded.units
WHERE sales_daily.units IS DISTINCT FROM excluded.units
"""


def sales_daily_is_table(conn: psycopg.Connection[Any]) -> bool:
    """True on plain PostgreSQL (a table the gateway refreshes); False for a continuous aggregate."""
    row = conn.execute(
        "SELECT relkind::text FROM pg_class WHERE oid = to_regclass('sales_daily')"
    ).fetchone()
    return row is not None and row[0] == "r"


def refresh_sales_daily(
    conn: psycopg.Connection[Any], since: datetime, store_id: str | None = None
) -> int:
    """Recompute `sales_daily` from sold events for every UTC day from `since`'s day on.

    Idempotent (a full recount of those days, upserted). On TimescaleDB `sales_daily` is a
    real-time continuous aggregate maintained by its policy: nothing to do, returns 0.
    Runs in the caller's transaction; returns the number of rows inserted or changed.
    """
    if not sales_daily_is_table(conn):
        return 0
    cur = conn.execute(_REFRESH, {"since": since, "store": store_id})
    return max(cur.rowcount, 0)
