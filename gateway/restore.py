"""Seed the presence cleaner from `tag_state` at start, so a restarted gateway keeps its state.

Picked items (status `picked`, set by the allocator when a pick is confirmed) stay picked: the
cleaner holds them as gone (like sold, so they never go `missing`), and the pipeline writes no
state row for them unless they are read again (an `arrived` event: the item is back).
Event sequence numbers continue after the highest stored one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import psycopg

from gateway.presence import Cleaner, TagStateRow, TagStatus

log = logging.getLogger(__name__)

_STATUS = {
    "present": TagStatus.PRESENT,
    "missing": TagStatus.MISSING,
    "departed": TagStatus.DEPARTED,
    "sold": TagStatus.SOLD,
    "picked": TagStatus.SOLD,
}


@dataclass(frozen=True)
class RestoredState:
    rows: list[TagStateRow] = field(default_factory=list)
    picked: frozenset[bytes] = frozenset()
    last_seq: int = 0

    def apply(self, cleaner: Cleaner) -> None:
        if self.rows or self.last_seq:
            cleaner.restore(self.rows, self.last_seq)


def load_state(conn: psycopg.Connection[Any], store_id: str) -> RestoredState:
    """The store's items and its highest event sequence number."""
    rows: list[TagStateRow] = []
    picked: set[bytes] = set()
    cur = conn.execute(
        "SELECT epc, zone, status, last_seen, read_rate, confidence, last_census"
        " FROM tag_state WHERE store_id = %s",
        (store_id,),
    )
    for epc, zone, status, last_seen, rate, conf, last_census in cur:
        st = _STATUS.get(status)
        if st is None:
            log.warning("tag_state %s: unknown status %r skipped", bytes(epc).hex(), status)
            continue
        if status == "picked":
            picked.add(bytes(epc))
        seen_ns = int(last_seen.timestamp() * 1_000_000) * 1000
        rows.append(TagStateRow(
            epc=bytes(epc),
            zone=zone,
            status=st,
            last_seen_ns=seen_ns,
            read_rate=float(rate) if rate is not None else 0.5,
            confidence=float(conf) if conf is not None else 0.0,
            census_only=last_census is not None and last_census >= last_seen,
        ))
    row = conn.execute(
        "SELECT coalesce(max(seq), 0) FROM tag_events WHERE store_id = %s", (store_id,)
    ).fetchone()
    last_seq = int(row[0]) if row else 0
    log.info("restored %d item(s) (%d picked), event seq %d", len(rows), len(picked), last_seq)
    return RestoredState(rows, frozenset(picked), last_seq)
