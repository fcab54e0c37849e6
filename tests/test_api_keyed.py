"""`shelfsight_allocate_keyed` (migration 0002): key row, reservation and answer, all or nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from api_fixtures import SLOW, THIN, Chain


def _call(conn: psycopg.Connection[Any], order_id: str, node: str, gtin: str, qty: int,
          idem: str | None) -> list[tuple[Any, ...]]:
    now = datetime.now(UTC)
    return conn.execute(
        "SELECT outcome, node_id, gtin, wanted, available, info FROM shelfsight_allocate_keyed("
        "%s, %s, %s, 0, %s, 52.5, 13.4, 'standard', NULL, '[]'::jsonb, 'test', 1.0, '{}'::jsonb,"
        " %s, %s, %s, %s, 'k1', %s, 'POST', '/v1/allocations', %s, 201, 'application/json', %s)",
        (uuid.uuid4(), now, now + timedelta(minutes=5), order_id, [0], [node], [gtin], [qty],
         idem, b"h" * 32, b'{"answer": 1}'),
    ).fetchall()


def _counts(conn: psycopg.Connection[Any]) -> tuple[int, ...]:
    row = conn.execute(
        "SELECT (SELECT count(*) FROM idempotency_keys), (SELECT count(*) FROM orders),"
        " (SELECT count(*) FROM allocations), (SELECT coalesce(sum(qty), 0) FROM reservations)"
    ).fetchone()
    assert row is not None
    return tuple(int(x) for x in row)


def test_short_writes_nothing_then_reserved_then_replay(chain: Chain) -> None:
    with psycopg.connect(chain.dsn, autocommit=True) as conn:
        short = _call(conn, "o-1", "s1", THIN, 99, "idem-1")
        assert [r[0] for r in short] == ["short"] and short[0][1:4] == ("s1", THIN, 99)
        assert _counts(conn) == (0, 0, 0, 0)  # key row and order upsert rolled back too
        assert _call(conn, "o-1", "s1", SLOW, 2, "idem-1")[0][0] == "reserved"
        assert _counts(conn) == (1, 1, 1, 2)
        stored = conn.execute("SELECT status, body FROM idempotency_keys").fetchone()
        assert stored is not None and stored[0] == 201 and bytes(stored[1]) == b'{"answer": 1}'
        # The same key again: nothing more written, the caller replays the stored answer.
        assert _call(conn, "o-2", "s1", SLOW, 1, "idem-1")[0][0] == "replay"
        assert _counts(conn) == (1, 1, 1, 2)


def test_open_order_is_refused_and_rolled_back(chain: Chain) -> None:
    with psycopg.connect(chain.dsn, autocommit=True) as conn:
        assert _call(conn, "o-1", "s1", SLOW, 1, None)[0][0] == "reserved"
        again = _call(conn, "o-1", "s1", SLOW, 1, "idem-2")
        assert again[0][0] == "order_open" and again[0][5] is not None
        assert _counts(conn) == (0, 1, 1, 1)  # no key row for the refused attempt
