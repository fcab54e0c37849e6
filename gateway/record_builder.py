"""Outbox records from the pipeline's outputs: read summaries, presence events, item states.

Pure (no I/O; the clock is given). EPCs are decoded to (GTIN, serial) once and cached; EPCs that
are not SGTINs are kept raw (no GTIN) and their reads counted by reason.

`tag_state.last_seq` is a state *version* that only grows, also across restarts (the larger of
the previous version + 1, the wall clock in microseconds and the cleaner's event sequence): the
sink applies a state row only when its version is newer. Picked items (restored from
`tag_state`) get no state row until they are read again (an `arrived` event).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from gateway.presence import Cleaner, TagEvent, TagStatus
from gateway.records import ReadSummaryRow, TagEventRow, TagStateRow
from gateway.summaries import Summaries
from readers.epc import EpcError, decode_epc, gtin_serial_of

NS = 1_000_000_000
_NOT_SGTIN = "not_sgtin"
_STATUS_NAMES = {0: "unknown", 1: "present", 2: "missing", 3: "departed", 4: "sold"}


def to_datetime(ns: int) -> datetime:
    return datetime.fromtimestamp(ns / NS, tz=UTC)


@dataclass(frozen=True)
class _Identity:
    gtin: str | None
    serial: str | None
    reason: str | None  # why it has no GTIN (None: a valid SGTIN)


class EpcIdentities:
    """EPC → (GTIN, serial) with a reason for the rest; cached, bounded."""

    def __init__(self, capacity: int = 1_000_000) -> None:
        self.capacity = capacity
        self._cache: dict[bytes, _Identity] = {}
        self._bad: dict[bytes, str] = {}  # the cached EPCs that have a reason
        self._bad_set: set[bytes] = set()  # its keys, for C-level set intersections

    def of(self, epc: bytes) -> _Identity:
        ident = self._cache.get(epc)
        if ident is None:
            if len(self._cache) >= self.capacity:
                self._cache.clear()
                self._bad.clear()
                self._bad_set.clear()
            pair = gtin_serial_of(epc)
            if pair is not None:
                ident = _Identity(pair[0], pair[1], None)
            else:
                try:
                    decode_epc(epc)
                    reason = _NOT_SGTIN  # a valid EPC of another scheme (SSCC, GRAI, ...)
                except EpcError as exc:
                    reason = exc.reason.value
                ident = _Identity(None, None, reason)
                self._bad[epc] = reason
                self._bad_set.add(epc)
            self._cache[epc] = ident
        return ident

    def bad_reads(self, epcs: list[bytes], read_counts: list[int] | None = None) -> Counter[str]:
        """Reads per rejection reason among `epcs` (EPCs are kept raw, never dropped); with
        `read_counts`, each report counts the reads the device folded into it."""
        out: Counter[str] = Counter()
        distinct = set(epcs)
        # Set operations on the cache's keys: Python-level work only for EPCs never seen before.
        known = self._bad
        bad = {e: known[e] for e in distinct & self._bad_set} if known else {}
        for e in distinct.difference(self._cache):
            reason = self.of(e).reason
            if reason is not None:
                bad[e] = reason
        if bad:
            counts: Counter[bytes] = Counter()
            if read_counts is None:
                counts.update(epcs)
            else:
                for e, k in zip(epcs, read_counts, strict=True):
                    counts[e] += k
            for epc, reason in bad.items():
                out[reason] += counts[epc]
        return out


class RecordBuilder:
    """Turns summaries, events and the cleaner's state into outbox records for one store."""

    def __init__(
        self,
        store_id: str,
        clock: Callable[[], int],
        *,
        ingester: str = "",
        state_refresh_s: float = 10.0,
        picked: Iterable[bytes] = (),
    ) -> None:
        self.store_id = store_id
        self.clock = clock
        # Several gateways on one shared subscription summarise the same reader's cycles: the
        # ingester (their MQTT client id) is part of the summary key, so their rows never collide.
        self.ingester = ingester
        self.state_refresh_ns = round(state_refresh_s * NS)
        self.ids = EpcIdentities()
        self.picked = set(picked)
        self._emitted: dict[bytes, tuple[str, str | None, int]] = {}
        self._version = 0
        self._last_refresh_ns = clock()

    def summaries(self, s: Summaries) -> list[ReadSummaryRow]:
        if not len(s):
            return []
        store, ingester = self.store_id, self.ingester
        rssi = s.peak_rssi.astype(np.float64)
        starts, firsts, lasts = s.cycle_start_ns.tolist(), s.first_ns.tolist(), s.last_ns.tolist()
        # Rows share few distinct times (one cycle start, the payloads' timestamps): convert once.
        when = {ns: to_datetime(ns) for ns in {*starts, *firsts, *lasts}}
        return [
            ReadSummaryRow(store, rd, a, e, when[cs], when[f], when[la], cnt,
                           None if pk != pk else pk, ingester)
            for cs, rd, a, e, f, la, cnt, pk in zip(
                starts, s.reader.tolist(), s.antenna.tolist(), s.epc.tolist(), firsts, lasts,
                s.count.tolist(), rssi.tolist(), strict=True,
            )
        ]

    def events(self, events: Sequence[TagEvent]) -> tuple[list[TagEventRow], set[bytes]]:
        """Event rows, and the EPCs whose state changed."""
        out: list[TagEventRow] = []
        changed: set[bytes] = set()
        for ev in events:
            ident = self.ids.of(ev.epc)
            out.append(TagEventRow(
                self.store_id, ev.epc, ev.seq, to_datetime(ev.time_ns), ev.kind.value, ev.zone,
                ev.from_zone, ident.gtin, ident.serial,
            ))
            changed.add(ev.epc)
            if ev.kind.value == "arrived":
                self.picked.discard(ev.epc)  # a picked item read again is back in stock
        return out, changed

    def states(self, cleaner: Cleaner, changed: set[bytes], force: bool) -> list[TagStateRow]:
        """State rows of items with events, and (every state_refresh_s) of any changed item."""
        wall = self.clock()
        refresh = force or wall - self._last_refresh_ns >= self.state_refresh_ns
        if not changed and not refresh:
            return []
        if refresh:
            self._last_refresh_ns = wall
        cols = cleaner.columns()
        self._version = max(self._version + 1, wall // 1000, cleaner.last_seq)
        version, updated, names = self._version, to_datetime(wall), cols.zone_names
        rows: Iterable[int]
        if refresh:
            rows = range(len(cols.epc))
        else:  # only the items with events: found through the cleaner's index, not a scan
            ids = cleaner.lookup(changed)
            rows = np.sort(ids[ids >= 0]).tolist()
        status_col, zone_col, seen_col = cols.status, cols.zone, cols.last_seen_ns
        out: list[TagStateRow] = []
        for i in rows:
            epc = cols.epc[i]
            status = TagStatus(_STATUS_NAMES[int(status_col[i])])
            if status is TagStatus.UNKNOWN or epc in self.picked:
                continue
            zi = int(zone_col[i])
            zone = None if zi < 0 else names[zi]
            seen = int(seen_col[i])
            key = (status.value, zone, seen)
            if epc not in changed and (not refresh or self._emitted.get(epc) == key):
                continue
            self._emitted[epc] = key
            ident = self.ids.of(epc)
            confidence = float(cols.confidence[i])
            out.append(TagStateRow(
                epc=epc, store_id=self.store_id, status=status.value, last_seen=to_datetime(seen),
                last_seq=version, updated_at=updated, gtin=ident.gtin, serial=ident.serial,
                zone=zone, read_rate=float(max(cols.read_rate[i], 0.0)),
                confidence=min(max(confidence, 0.0), 1.0),
            ))
        return out
