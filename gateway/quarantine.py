"""A durable log of quarantined input (unparseable messages, bad frames), beside the outbox.

An unparseable MQTT message is acknowledged (so it cannot wedge the stream) only after this log
has it on disk: a count by reason and the first bytes of the payload for forensics. Bounded:
beyond `max_rows` the oldest entries are deleted (the per-reason totals are kept).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from readers.driver import InputError

log = logging.getLogger(__name__)

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS quarantine (id INTEGER PRIMARY KEY AUTOINCREMENT, created REAL,"
    " reader TEXT, reason TEXT, detail TEXT, payload BLOB)",
    "CREATE TABLE IF NOT EXISTS quarantine_totals (reader TEXT, reason TEXT, n INTEGER,"
    " PRIMARY KEY (reader, reason))",
)


class QuarantineLog:
    """SQLite (WAL, synchronous=FULL): `record` returns once the entry is durable."""

    def __init__(self, path: str | Path, max_rows: int = 100_000, payload_bytes: int = 4096) -> None:
        self.path = Path(path)
        self.max_rows = max_rows
        self.payload_bytes = payload_bytes
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        for stmt in _SCHEMA:
            self._conn.execute(stmt)

    def record(self, reader: str, errors: Sequence[InputError], payload: bytes | None) -> None:
        if not errors:
            return
        body = None if payload is None else payload[: self.payload_bytes]
        now = time.time()
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.executemany(
                    "INSERT INTO quarantine (created, reader, reason, detail, payload)"
                    " VALUES (?, ?, ?, ?, ?)",
                    [(now, reader, e.reason.value, e.detail[:500], body) for e in errors],
                )
                self._conn.executemany(
                    "INSERT INTO quarantine_totals (reader, reason, n) VALUES (?, ?, 1)"
                    " ON CONFLICT (reader, reason) DO UPDATE SET n = n + 1",
                    [(reader, e.reason.value) for e in errors],
                )
                self._conn.execute(
                    "DELETE FROM quarantine WHERE id <= (SELECT max(id) FROM quarantine) - ?",
                    (self.max_rows,),
                )
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    def totals(self) -> dict[tuple[str, str], int]:
        with self._lock:
            rows = self._conn.execute("SELECT reader, reason, n FROM quarantine_totals").fetchall()
        return {(str(r), str(k)): int(n) for r, k, n in rows}

    def close(self) -> None:
        with self._lock:
            self._conn.close()
