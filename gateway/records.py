"""Row values that travel edge → outbox → database, with their idempotency keys and codec.

Each record is an immutable msgspec Struct (the frozen value type msgspec encodes fastest),
encoded to compact MessagePack arrays for the outbox (about 60-90 bytes a read summary). The
deterministic key of each record (DESIGN §3) is the unique key of its target table, so a replay
after a crash or an outage inserts nothing twice:

- ReadSummaryRow → tag_reads  key (store_id, reader_id, antenna, epc, cycle_start)
- TagEventRow    → tag_events key (store_id, epc, seq, time)
- TagStateRow    → tag_state  key epc, applied only when newer (last_seq, or updated_at across stores)

Text fields stay `str` (not enums) on the wire so that a bad value reaches the database's CHECK and
is dead-lettered with its reason rather than lost in decoding; producers use the enums below.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

import msgspec


class EventKind(StrEnum):
    ARRIVED = "arrived"
    MOVED = "moved"
    DEPARTED = "departed"
    SOLD = "sold"
    MISSING = "missing"
    CENSUS = "census"
    PICKED = "picked"


class TagStatus(StrEnum):
    PRESENT = "present"
    MISSING = "missing"
    DEPARTED = "departed"
    SOLD = "sold"
    PICKED = "picked"


class ReadSummaryRow(msgspec.Struct, frozen=True, array_like=True, tag="r"):
    """One reporting cycle of one reader × antenna × EPC (a `tag_reads` row)."""

    store_id: str
    reader_id: str
    antenna: int
    epc: bytes
    cycle_start: datetime
    first_seen: datetime
    last_seen: datetime
    read_count: int
    peak_rssi: float | None = None
    ingester: str = ""  # the gateway that summarised it (shared subscriptions): part of the key

    TABLE = "tag_reads"

    def key(self) -> tuple[str, str, int, bytes, datetime, str]:
        return (self.store_id, self.reader_id, self.antenna, self.epc, self.cycle_start, self.ingester)

    def as_row(self) -> tuple[Any, ...]:
        return (
            self.store_id, self.reader_id, self.antenna, self.epc, self.cycle_start,
            self.first_seen, self.last_seen, self.read_count, self.peak_rssi, self.ingester,
        )


class TagEventRow(msgspec.Struct, frozen=True, array_like=True, tag="e"):
    """An item event (a `tag_events` row); `seq` is the edge's per-store event sequence."""

    store_id: str
    epc: bytes
    seq: int
    time: datetime
    kind: str
    zone: str | None = None
    from_zone: str | None = None
    gtin: str | None = None
    serial: str | None = None

    TABLE = "tag_events"

    def key(self) -> tuple[str, bytes, int, datetime]:
        return (self.store_id, self.epc, self.seq, self.time)

    def as_row(self) -> tuple[Any, ...]:
        return (
            self.store_id, self.epc, self.seq, self.time, self.kind, self.zone, self.from_zone,
            self.gtin, self.serial,
        )


class TagStateRow(msgspec.Struct, frozen=True, array_like=True, tag="s"):
    """The latest state of one item (a `tag_state` row, upserted only when newer)."""

    epc: bytes
    store_id: str
    status: str
    last_seen: datetime
    last_seq: int
    updated_at: datetime
    gtin: str | None = None
    serial: str | None = None
    zone: str | None = None
    read_rate: float | None = None
    confidence: float | None = None
    last_census: datetime | None = None

    TABLE = "tag_state"

    def key(self) -> tuple[bytes, int]:
        return (self.epc, self.last_seq)

    def as_row(self) -> tuple[Any, ...]:
        return (
            self.epc, self.store_id, self.gtin, self.serial, self.zone, self.status,
            self.last_seen, self.read_rate, self.confidence, self.last_census, self.last_seq,
            self.updated_at,
        )


Record = ReadSummaryRow | TagEventRow | TagStateRow
RECORD_TYPES: tuple[type[ReadSummaryRow], type[TagEventRow], type[TagStateRow]] = (
    ReadSummaryRow, TagEventRow, TagStateRow,
)

_encoder = msgspec.msgpack.Encoder()
_decoder: msgspec.msgpack.Decoder[Record] = msgspec.msgpack.Decoder(Record)


class RecordDecodeError(ValueError):
    """Outbox bytes that are not a record (corruption or an incompatible version)."""


def encode(record: Record) -> bytes:
    """Compact MessagePack of one record (datetimes must be timezone-aware)."""
    return _encoder.encode(record)


def decode(data: bytes) -> Record:
    try:
        return _decoder.decode(data)
    except msgspec.DecodeError as exc:
        raise RecordDecodeError(str(exc)) from exc


def encode_many(records: Iterable[Record]) -> list[bytes]:
    return [_encoder.encode(r) for r in records]


def to_json(record: Record) -> dict[str, Any]:
    """A JSON-able dict of a record (bytes as uppercase hex) for dead letters and logs."""
    out: dict[str, Any] = {"type": record.TABLE}
    for name in record.__struct_fields__:
        value = getattr(record, name)
        if isinstance(value, bytes):
            value = value.hex().upper()
        elif isinstance(value, datetime):
            value = value.isoformat()
        out[name] = value
    return out


def split(records: Sequence[Record]) -> tuple[list[ReadSummaryRow], list[TagEventRow], list[TagStateRow]]:
    """Records by target table, each list in its original order."""
    reads: list[ReadSummaryRow] = []
    events: list[TagEventRow] = []
    states: list[TagStateRow] = []
    for r in records:
        if isinstance(r, ReadSummaryRow):
            reads.append(r)
        elif isinstance(r, TagEventRow):
            events.append(r)
        else:
            states.append(r)
    return reads, events, states
