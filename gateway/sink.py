"""The lossless sink: outbox batches into PostgreSQL/TimescaleDB with an exactly-once effect.

Per batch, one transaction: binary COPY of each kind of record into a temporary staging table,
then `INSERT … SELECT … ON CONFLICT DO NOTHING` on the deterministic keys (tag_state: upsert only
when newer), then the sales rollup on plain PostgreSQL. Only after the commit does `drain` delete
the batch from the outbox, so a crash or outage at any point means a replay, which inserts nothing
twice.

Errors by SQLSTATE (`gateway.sqlstate`): retryable and config errors raise `SinkUnavailableError`
(the batch stays in the outbox; `drain` retries with capped exponential back-off); a permanent
error rolls back to a savepoint and bisects the records until the bad ones are isolated, which
are written to `dead_letters` with their SQLSTATE and reason while the good rows commit. A batch of
n rows with k bad ones costs O(k log n) extra statements and always terminates.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import psycopg
from psycopg_pool import ConnectionPool

from gateway.config import SinkConfig
from gateway.outbox import Batch
from gateway.records import Record, TagEventRow, encode, split, to_json
from gateway.sink_sql import DEAD_LETTER, EVENTS, READS, STATES, TableSpec, refresh_sales_daily
from gateway.sqlstate import ErrorClass, classify

__all__ = [
    "DrainResult",
    "Sink",
    "SinkResult",
    "SinkUnavailableError",
    "drain",
    "refresh_sales_daily",
]

log = logging.getLogger(__name__)

_INT64 = (-(2**63), 2**63 - 1)


class SinkUnavailableError(RuntimeError):
    """The batch was not written and may be retried as a whole (nothing of it was committed)."""

    def __init__(self, error_class: ErrorClass, sqlstate: str | None, message: str) -> None:
        super().__init__(f"{error_class} ({sqlstate or 'no sqlstate'}): {message}")
        self.error_class = error_class
        self.sqlstate = sqlstate


@dataclass(frozen=True)
class SinkResult:
    received: int
    reads_inserted: int
    events_inserted: int
    states_applied: int
    dead_lettered: int
    sales_rows_refreshed: int = 0

    @property
    def duplicates(self) -> int:
        """Reads and events already stored (replays); stale states are not counted here."""
        return self.received - self.reads_inserted - self.events_inserted - self.dead_lettered


@dataclass
class _Tally:
    inserted: dict[str, int] = field(default_factory=lambda: {"tag_reads": 0, "tag_events": 0,
                                                              "tag_state": 0})
    dead: int = 0


def invalid_reason(record: Record) -> str | None:
    """A client-side reason a record cannot be sent at all (it would break the COPY stream)."""
    for name in record.__struct_fields__:
        value = getattr(record, name)
        if isinstance(value, datetime) and value.utcoffset() is None:
            return f"{name}: naive datetime (timezone required)"
        if isinstance(value, int) and not _INT64[0] <= value <= _INT64[1]:
            return f"{name}: integer out of int8 range"
        if isinstance(value, str) and "\x00" in value:
            return f"{name}: NUL character in text"
    return None


class Sink:
    """Writes outbox batches for one store; `target` is a DSN or a (caller-opened) pool."""

    def __init__(
        self,
        target: str | ConnectionPool,
        store_id: str,
        config: SinkConfig | None = None,
        *,
        connect_timeout_s: int = 5,
    ) -> None:
        self.store_id = store_id
        self.config = config or SinkConfig()
        self._dsn = target if isinstance(target, str) else None
        self._pool = target if isinstance(target, ConnectionPool) else None
        self._connect_timeout_s = connect_timeout_s
        self._conn: psycopg.Connection[Any] | None = None
        self._dirty: set[str] = set()
        self.dead_lettered_total = 0

    # -- connections -------------------------------------------------------------------------
    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        if self._pool is not None:
            with self._pool.connection() as conn:
                yield conn
            return
        assert self._dsn is not None
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._drop_connection()
            self._conn = psycopg.connect(
                self._dsn,
                autocommit=True,
                connect_timeout=self._connect_timeout_s,
                keepalives=1,
                keepalives_idle=10,
                keepalives_interval=5,
                keepalives_count=3,
                tcp_user_timeout=30_000,
                application_name=f"shelfsight-sink-{self.store_id}"[:63],
            )
        yield self._conn

    def _drop_connection(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except psycopg.Error as exc:  # closing a broken socket may complain; it is gone anyway
                log.debug("closing a broken connection: %s", exc)
            self._conn = None

    def close(self) -> None:
        self._drop_connection()

    def __enter__(self) -> Sink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing -----------------------------------------------------------------------------
    def write(self, batch: Batch | Sequence[Record]) -> SinkResult:
        """Write one batch in one transaction; raises SinkUnavailableError when it may be retried."""
        records = list(batch.records if isinstance(batch, Batch) else batch)
        reads, events, states = split(records)
        try:
            with self._connection() as conn:
                return self._write(conn, records, reads, events, states)
        except psycopg.Error as exc:
            kind = classify(exc)
            if self._conn is not None and (self._conn.broken or kind is ErrorClass.RETRYABLE):
                self._drop_connection()
            if kind is ErrorClass.PERMANENT:
                # A permanent error outside any row's savepoint (should not happen): no row is
                # blamed, the whole batch is retried later rather than dead-lettered.
                kind = ErrorClass.CONFIG
            log_fn = log.error if kind is ErrorClass.CONFIG else log.warning
            log_fn("sink %s: batch of %d not written: %s", self.store_id, len(records), exc)
            raise SinkUnavailableError(kind, exc.sqlstate, str(exc)) from exc

    def _write(
        self,
        conn: psycopg.Connection[Any],
        records: list[Record],
        reads: list[Any],
        events: list[TagEventRow],
        states: list[Any],
    ) -> SinkResult:
        tally = _Tally()
        self._dirty.clear()
        refreshed = 0
        with conn.transaction():
            for spec, rows in ((READS, reads), (EVENTS, events), (STATES, states)):
                good = []
                for rec in rows:
                    reason = invalid_reason(rec)
                    if reason is None:
                        good.append(rec)
                    else:
                        self._dead_letter(conn, spec, rec, None, reason, tally)
                if good:
                    conn.execute(spec.create_stage)
                    self._apply(conn, spec, good, tally)
            sold = [e.time for e in events if e.kind == "sold" and invalid_reason(e) is None]
            if sold and tally.inserted["tag_events"]:
                refreshed = refresh_sales_daily(conn, min(sold), self.store_id)
        self.dead_lettered_total += tally.dead
        return SinkResult(
            received=len(records),
            reads_inserted=tally.inserted["tag_reads"],
            events_inserted=tally.inserted["tag_events"],
            states_applied=tally.inserted["tag_state"],
            dead_lettered=tally.dead,
            sales_rows_refreshed=refreshed,
        )

    def _apply(
        self, conn: psycopg.Connection[Any], spec: TableSpec, rows: list[Any], tally: _Tally
    ) -> None:
        try:
            with conn.transaction():  # a savepoint
                if spec.stage in self._dirty:
                    conn.execute(f"TRUNCATE {spec.stage}")
                with conn.cursor() as cur:
                    with cur.copy(spec.copy) as copy:
                        copy.set_types(list(spec.stage_types))
                        for rec in rows:
                            copy.write_row(rec.as_row())
                    cur.execute(spec.insert)
                    inserted = max(cur.rowcount, 0)
                self._dirty.add(spec.stage)
        except psycopg.Error as exc:
            if conn.broken or classify(exc) is not ErrorClass.PERMANENT:
                raise
            if len(rows) == 1:
                self._dead_letter(conn, spec, rows[0], exc.sqlstate, str(exc).strip(), tally)
                return
            mid = len(rows) // 2
            self._apply(conn, spec, rows[:mid], tally)
            self._apply(conn, spec, rows[mid:], tally)
            return
        tally.inserted[spec.target] += inserted

    def _dead_letter(
        self,
        conn: psycopg.Connection[Any],
        spec: TableSpec,
        record: Record,
        sqlstate: str | None,
        reason: str,
        tally: _Tally,
    ) -> None:
        key = hashlib.sha256(spec.target.encode() + b"\x00" + encode(record)).hexdigest()[:32]
        payload = json.dumps(to_json(record))
        conn.execute(DEAD_LETTER, (spec.target, sqlstate, reason[:2000], payload, key))
        tally.dead += 1
        log.warning("dead letter for %s (sqlstate %s): %s", spec.target, sqlstate, reason)


class OutboxLike(Protocol):
    def peek(self, max_rows: int) -> Batch: ...

    def commit(self, batch_ids: Sequence[int]) -> int: ...

    def quarantine(self, ids: Sequence[int]) -> None: ...

    def depth(self) -> int: ...


@dataclass
class DrainResult:
    batches: int = 0
    rows: int = 0
    inserted: int = 0
    dead_lettered: int = 0
    retries: int = 0
    last_error: str | None = None


def backoff_delay(attempt: int, config: SinkConfig, rng: random.Random | None = None) -> float:
    """Capped exponential back-off with ±20% jitter (so 1000 gateways do not retry in step)."""
    base = min(config.retry_max_s, config.retry_initial_s * (2 ** min(attempt, 30)))
    return float(base * (0.8 + 0.4 * (rng or random).random()))


def drain(
    outbox: OutboxLike,
    sink: Sink,
    stop_event: threading.Event,
    *,
    until_empty: bool = False,
    idle_wait_s: float = 0.2,
) -> DrainResult:
    """peek → write → commit the outbox, until `stop_event` (or the outbox is empty, if asked).

    Rows leave the outbox only after the database committed them; retryable failures wait with
    back-off (interruptible by `stop_event`) and try the same batch again.
    """
    result = DrainResult()
    attempt = 0
    while not stop_event.is_set():
        batch = outbox.peek(sink.config.batch_rows)
        if batch.corrupt_ids:
            outbox.quarantine(batch.corrupt_ids)
        if not batch.records:
            if until_empty and outbox.depth() == 0:
                break
            stop_event.wait(idle_wait_s)
            continue
        started = time.monotonic()
        try:
            written = sink.write(batch)
        except SinkUnavailableError as exc:
            result.retries += 1
            result.last_error = str(exc)
            delay = backoff_delay(attempt, sink.config)
            attempt += 1
            log.info("sink retry %d in %.2fs (%s)", attempt, delay, exc.error_class)
            stop_event.wait(delay)
            continue
        attempt = 0
        outbox.commit(batch.ids)
        result.batches += 1
        result.rows += written.received
        result.inserted += written.reads_inserted + written.events_inserted
        result.dead_lettered += written.dead_lettered
        log.debug("sink wrote %d rows in %.3fs", written.received, time.monotonic() - started)
    return result
