"""The durable outbox: records are on disk before the gateway acknowledges their input.

SQLite in WAL mode with `synchronous=FULL`: `put` returns only after its transaction is fsync'd,
so whatever `put` accepted survives kill -9 and power loss. One connection guarded by one lock
serialises every access (no "database is locked"); a condition variable wakes writers blocked by
back-pressure when `commit` frees space. Ids come from AUTOINCREMENT and are never reused, so a
late `commit` of old ids can never delete newer rows.

Bounded by `max_rows`. When full: `backpressure` (default) makes `put` wait until the sink frees
space (or its timeout passes: result FULL, nothing stored, the caller must not ack); `drop` stores
what fits and drops the rest, counted in `dropped` and logged, never silently.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from gateway.config import FullPolicy
from gateway.records import Record, RecordDecodeError, decode, encode_many

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    created REAL NOT NULL,
    body    BLOB NOT NULL
)
"""


class PutStatus(StrEnum):
    STORED = "stored"  # every record is durable
    PARTIAL = "partial"  # drop policy: some stored, the rest dropped (counted)
    DROPPED = "dropped"  # drop policy: outbox full, nothing stored (counted)
    FULL = "full"  # backpressure policy: timed out waiting for space, nothing stored


@dataclass(frozen=True)
class PutResult:
    status: PutStatus
    stored: int
    dropped: int

    @property
    def durable(self) -> bool:
        """True when the input may be acknowledged (every record stored, or dropped by policy)."""
        return self.status is not PutStatus.FULL


@dataclass(frozen=True)
class Batch:
    """Oldest records first; `ids[i]` is the outbox id of `records[i]`."""

    ids: tuple[int, ...]
    records: tuple[Record, ...]
    corrupt_ids: tuple[int, ...] = ()  # rows whose bytes did not decode (see Outbox.quarantined)

    def __len__(self) -> int:
        return len(self.records)

    @property
    def all_ids(self) -> tuple[int, ...]:
        return self.ids + self.corrupt_ids


@dataclass(frozen=True)
class OutboxCounters:
    put: int
    dropped: int
    committed: int
    corrupt: int


class OutboxError(RuntimeError):
    """The outbox file cannot be written (disk full, I/O error); nothing of the call was stored."""


class Outbox:
    """A bounded, durable FIFO of records on disk (thread-safe; one process at a time)."""

    def __init__(
        self,
        path: str | Path,
        max_rows: int,
        full_policy: FullPolicy | str = FullPolicy.BACKPRESSURE,
    ) -> None:
        if max_rows <= 0:
            raise ValueError("max_rows must be positive")
        self.path = Path(path)
        self.max_rows = max_rows
        self.full_policy = FullPolicy(full_policy)
        self._lock = threading.Lock()
        self._space = threading.Condition(self._lock)
        self._conn = sqlite3.connect(
            str(self.path), isolation_level=None, check_same_thread=False, timeout=30.0
        )
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute(_SCHEMA)
        self._depth = int(self._conn.execute("SELECT count(*) FROM outbox").fetchone()[0])
        self.put_count = 0
        self.dropped = 0
        self.committed = 0
        self.corrupt = 0
        self._closed = False

    # -- gauges and counters -----------------------------------------------------------------
    def counters(self) -> OutboxCounters:
        """Cumulative counts of this process (`put` is stored records; `put()` is the method)."""
        with self._lock:
            return OutboxCounters(self.put_count, self.dropped, self.committed, self.corrupt)

    def depth(self) -> int:
        with self._lock:
            return self._depth

    def oldest_age_s(self, now: float | None = None) -> float:
        """Seconds since the oldest buffered record was put (0 when empty)."""
        with self._lock:
            row = self._conn.execute("SELECT created FROM outbox ORDER BY id LIMIT 1").fetchone()
        if row is None:
            return 0.0
        return max(0.0, (time.time() if now is None else now) - float(row[0]))

    # -- writing -----------------------------------------------------------------------------
    def put(self, records: Sequence[Record], timeout: float | None = None) -> PutResult:
        """Store `records` durably (fsync'd) before returning; see the module doc for when full."""
        n = len(records)
        if n == 0:
            return PutResult(PutStatus.STORED, 0, 0)
        bodies = encode_many(records)
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._space:
            if self.full_policy is FullPolicy.BACKPRESSURE:
                # An oversize call is let in when the outbox is empty, so it cannot wait forever.
                while self._depth + n > self.max_rows and self._depth > 0:
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        return PutResult(PutStatus.FULL, 0, 0)
                    self._space.wait(remaining)
                keep = n
            else:
                keep = max(0, min(n, self.max_rows - self._depth))
            if keep:
                self._insert(bodies[:keep])
            self.put_count += keep
            dropped = n - keep
            self.dropped += dropped
        if dropped:
            log.warning("outbox full (%d rows): dropped %d record(s) by policy", self.max_rows, dropped)
            status = PutStatus.PARTIAL if keep else PutStatus.DROPPED
            return PutResult(status, keep, dropped)
        return PutResult(PutStatus.STORED, keep, 0)

    def _insert(self, bodies: Sequence[bytes]) -> None:
        now = time.time()
        try:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.executemany(
                    "INSERT INTO outbox (created, body) VALUES (?, ?)", ((now, b) for b in bodies)
                )
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise OutboxError(f"outbox write failed: {exc}") from exc
        self._depth += len(bodies)

    # -- reading -----------------------------------------------------------------------------
    def peek(self, max_rows: int) -> Batch:
        """Up to `max_rows` oldest records, left in place until `commit`."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, body FROM outbox ORDER BY id LIMIT ?", (max_rows,)
            ).fetchall()
        ids: list[int] = []
        records: list[Record] = []
        corrupt: list[int] = []
        for row_id, body in rows:
            try:
                records.append(decode(bytes(body)))
                ids.append(int(row_id))
            except RecordDecodeError as exc:
                log.error("outbox row %d does not decode (%s); quarantined", row_id, exc)
                corrupt.append(int(row_id))
        return Batch(tuple(ids), tuple(records), tuple(corrupt))

    def commit(self, batch_ids: Sequence[int]) -> int:
        """Delete rows once the database has committed them; returns how many were deleted."""
        if not batch_ids:
            return 0
        with self._space:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    deleted = 0
                    for i in range(0, len(batch_ids), 500):
                        chunk = list(batch_ids[i : i + 500])
                        marks = ",".join("?" * len(chunk))
                        cur = self._conn.execute(f"DELETE FROM outbox WHERE id IN ({marks})", chunk)
                        deleted += cur.rowcount
                    self._conn.execute("COMMIT")
                except BaseException:
                    self._conn.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise OutboxError(f"outbox commit failed: {exc}") from exc
            self._depth -= deleted
            self.committed += deleted
            self._space.notify_all()
        return deleted

    def quarantine(self, ids: Sequence[int]) -> None:
        """Move undecodable rows aside (kept in `outbox_corrupt`, counted) so they cannot wedge."""
        if not ids:
            return
        with self._space:
            self._conn.execute("BEGIN IMMEDIATE")
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS outbox_corrupt (id INTEGER PRIMARY KEY, created REAL,"
                " body BLOB)"
            )
            marks = ",".join("?" * len(ids))
            self._conn.execute(
                f"INSERT OR IGNORE INTO outbox_corrupt SELECT id, created, body FROM outbox"
                f" WHERE id IN ({marks})",
                list(ids),
            )
            cur = self._conn.execute(f"DELETE FROM outbox WHERE id IN ({marks})", list(ids))
            self._conn.execute("COMMIT")
            self._depth -= cur.rowcount
            self.corrupt += cur.rowcount
            self._space.notify_all()

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._conn.close()

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
