"""The presence cleaner: read batches in, presence events and per-tag state out (DESIGN §4).

Pure (no I/O, no clock): time comes from the reads (`ingest`) and from the caller (`tick`).

Time is cut into epochs of `epoch_s`. An epoch is evaluated once the watermark (the newest time
seen) passes its end plus `lateness_s`, so reads of other readers arriving a little late still
count. Each evaluation updates every present tag's window (SMURF or fixed, vectorised) and
declares `missing` (or `sold` when last seen at a till or exit: `reads.py`) the tags with no
read within their window. With `transition_at_tills_only`, the window SMURF's transition test
shortens applies only to items at an exit/POS zone (where departures happen and their latency
matters); elsewhere an item must go unread for its full completeness window w* before it is
missing, so the test's false alarms on present items no longer cost presence accuracy.
Missing tags become `departed` after `departed_after_s`. Reads drive
`arrived` and `moved` (zone = argmax of age-weighted RSSI power, confirmed after the hold-off).
A census batch (`census_zone`) sets the found items present in that zone with confidence 1 and
makes the items believed there but not found `missing`.

The read rate p of a tag is the per-epoch inclusion probability, estimated from the gaps
between read epochs while present (k read epochs over the epochs they span, exponentially
forgotten, Beta prior): calibrated by construction, as SMURF needs. A report that folds several
reads (`ReadBatch.read_count`) is still one read epoch: the rate stays a per-epoch probability,
so folded counts weigh only in the read counters, not in the rate.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from gateway.config import CleaningConfig, CleaningMethod
from gateway.presence.census import apply_census
from gateway.presence.events import EventKind, RawEvent, StatusCode, TagEvent, TagStateRow, TagStatus
from gateway.presence.fixed import FixedPolicy, WindowPolicy
from gateway.presence.params import NS, CleanerParams
from gateway.presence.reads import apply_reads
from gateway.presence.restore import restore_rows
from gateway.presence.smurf import SmurfPolicy
from gateway.presence.state import NEVER, TagTable
from gateway.presence.zones import NO_ZONE, ZoneMap, ZoneOf, decay
from readers.batch import ReadBatch
from readers.driver import InputError, InputErrorReason
from shelfsight.settings import ZoneKind

log = logging.getLogger(__name__)

_PRESENT = np.int8(StatusCode.PRESENT)
_MISSING = np.int8(StatusCode.MISSING)


@dataclass(frozen=True, slots=True, eq=False)
class TagColumns:
    """Columnar snapshot of the state (one entry per tag ever seen, tag id order)."""

    epc: list[bytes]
    status: npt.NDArray[np.int8]  # StatusCode values
    zone: npt.NDArray[np.int16]  # index into zone_names, -1 none
    zone_names: tuple[str, ...]
    last_seen_ns: npt.NDArray[np.int64]
    read_rate: npt.NDArray[np.float64]
    confidence: npt.NDArray[np.float64]
    census_only: npt.NDArray[np.bool_]
    window_epochs: npt.NDArray[np.int64]


@dataclass
class CleanerCounters:
    reads_in: int = 0
    unmapped_reads: int = 0  # reads of antennas without a known zone (ignored)
    census_batches: int = 0
    bad_census: int = 0



class Cleaner:
    """Per-tag presence state machine over read batches.

    Every threshold comes from CleaningConfig (see `CleanerParams`); to sweep one, pass a copy of
    the config (`config.model_copy(update={...})`).
    """

    def __init__(
        self,
        config: CleaningConfig,
        zone_of: ZoneOf,
        zone_kinds: Mapping[str, ZoneKind],
    ) -> None:
        p = CleanerParams.from_config(config)
        self.config = config
        self.params = p
        self.zones = ZoneMap(zone_of, zone_kinds)
        self.tags = TagTable(len(self.zones))
        self.counters = CleanerCounters()
        self._E = p.epoch_ns
        epochs = p.epoch_ns / NS
        self.policy: WindowPolicy
        if config.method == CleaningMethod.FIXED:
            self.policy = FixedPolicy(max(1, min(64, math.ceil(config.fixed_window_s / epochs))))
            self._max_w = self.policy.w
        else:
            lo = max(1, math.ceil(config.min_window_s / epochs))
            hi = max(lo, min(64, math.ceil(config.max_window_s / epochs)))
            self.policy = SmurfPolicy(config.delta, lo, hi)
            self._max_w = hi
        self._head: int | None = None  # epoch of hist bit 0
        self._ev: int | None = None  # last evaluated epoch
        self._watermark: int | None = None
        self._seq = 0
        self._restored: npt.NDArray[np.int64] | None = None

    # ------------------------------------------------------------------ public API

    @property
    def last_seq(self) -> int:
        """Sequence number of the last event emitted (0: none yet)."""
        return self._seq

    @property
    def watermark_ns(self) -> int | None:
        return self._watermark

    def ingest(self, batch: ReadBatch) -> list[TagEvent]:
        """Apply a batch of reads; the events it (and the time it carries) causes."""
        if batch.census_zone is not None:
            return self._census(batch)
        n = len(batch)
        if n == 0:
            return []
        self.counters.reads_in += batch.read_total
        raw: list[RawEvent] = []
        t = batch.time_ns
        raw += self._advance(int(t.min()))
        z = self.zones.resolve(batch.reader, batch.antenna)
        ok = z != NO_ZONE
        if not ok.all():
            rc = batch.read_count
            self.counters.unmapped_reads += int((~ok).sum()) if rc is None else int(rc[~ok].sum())
            t, z = t[ok], z[ok]
            epc, rssi = batch.epc[ok], batch.rssi_dbm[ok]
        else:
            epc, rssi = batch.epc, batch.rssi_dbm
        if t.shape[0]:
            ids = self.tags.ids_for(epc)
            ep = t // self._E
            if self._head is None:
                self._start(int(ep.min()))
            self._shift_to(int(ep.max()))
            assert self._head is not None
            raw += apply_reads(self.tags, self.zones, self.policy, self.params, self._head, ids, t, z, rssi)
        raw += self._advance(int(batch.time_ns.max()))
        return self._emit(raw)

    def tick(self, now_ns: int) -> list[TagEvent]:
        """Advance time to `now_ns`: evaluate closed epochs (missing, sold) and departures."""
        return self._emit(self._advance(now_ns))

    def lookup(self, epcs: Iterable[bytes]) -> npt.NDArray[np.int64]:
        """Tag ids (indexes into `columns()`) of EPCs, -1 for never seen."""
        return self.tags.lookup(epcs)

    def columns(self) -> TagColumns:
        """The per-tag state, columnar (cheap; the arrays are copies)."""
        tg = self.tags
        n = len(tg)
        rate = self._rate(np.arange(n))
        status = tg.status[:n].copy()
        now = self._watermark if self._watermark is not None else 0
        k = np.maximum(now // self._E - tg.last_epoch[:n] - 1, 0).astype(np.float64)
        conf = np.power(1.0 - rate, k)
        census_conf = decay(now - tg.census_ns[:n], self.params.census_half_life_ns)
        conf = np.where(tg.census_only[:n], census_conf, conf)
        conf = np.where(status == _PRESENT, conf, 0.0)
        return TagColumns(
            epc=list(tg.epcs),
            status=status,
            zone=tg.zone[:n].copy(),
            zone_names=self.zones.names,
            last_seen_ns=tg.last_seen_ns[:n].copy(),
            read_rate=rate,
            confidence=conf,
            census_only=tg.census_only[:n].copy(),
            window_epochs=tg.win[:n].copy(),
        )

    def snapshot(self) -> list[TagStateRow]:
        """One `tag_state` row per tag ever seen."""
        c = self.columns()
        names = c.zone_names
        return [
            TagStateRow(
                epc=c.epc[i],
                zone=None if c.zone[i] < 0 else names[c.zone[i]],
                status=StatusCode(int(c.status[i])).status,
                last_seen_ns=int(c.last_seen_ns[i]),
                read_rate=float(c.read_rate[i]),
                confidence=float(c.confidence[i]),
                census_only=bool(c.census_only[i]),
            )
            for i in range(len(c.epc))
        ]

    def restore(self, rows: Iterable[TagStateRow], last_seq: int) -> None:
        """Load state saved by `snapshot()` after a restart; events continue after `last_seq`.

        Restored present items get one full window, from the first time seen after the restore,
        to be read again before they can go missing.
        """
        rows = list(rows)
        self._restored = restore_rows(self.tags, self.zones, self.policy, self.params, rows, self._max_w)
        if rows:
            last = int(max(r.last_seen_ns for r in rows))
            if self._watermark is None or last > self._watermark:
                self._watermark = last
        self._seq = max(self._seq, int(last_seq))

    # ------------------------------------------------------------------ internals

    def _rate(self, ids: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        return self.tags.rate(ids, self.params.a, self.params.b)

    def _emit(self, raw: list[RawEvent]) -> list[TagEvent]:
        if not raw:
            return []
        raw.sort(key=lambda e: (e[0], e[1]))
        names = self.zones.names
        epcs = self.tags.epcs
        out: list[TagEvent] = []
        for time_ns, tid, kind, zone, from_zone in raw:
            self._seq += 1
            out.append(
                TagEvent(
                    time_ns=time_ns,
                    epc=epcs[tid],
                    kind=kind,
                    zone=None if zone < 0 else names[zone],
                    from_zone=None if from_zone < 0 else names[from_zone],
                    seq=self._seq,
                )
            )
        return out

    def _start(self, epoch: int) -> None:
        """First time ever (or after a restore): anchor the epochs."""
        self._head = epoch
        self._ev = epoch - 1
        if self._restored is not None and self._restored.shape[0]:
            self.tags.last_epoch[self._restored] = epoch
            self.tags.rate_epoch[self._restored] = NEVER
        self._restored = None

    def _shift_to(self, epoch: int) -> None:
        assert self._head is not None
        d = epoch - self._head
        if d <= 0:
            return
        n = len(self.tags)
        h = self.tags.hist
        if d >= 64:
            h[:n] = 0
        else:
            h[:n] <<= np.uint64(d)
        self._head = epoch

    def _advance(self, now_ns: int) -> list[RawEvent]:
        if self._watermark is None or now_ns > self._watermark:
            self._watermark = now_ns
        wm = self._watermark
        if self._head is None:
            if self._restored is None:
                return []
            self._start(wm // self._E)
        assert self._ev is not None
        target = (wm - self.params.lateness_ns) // self._E - 1
        raw: list[RawEvent] = []
        x = self._ev + 1
        while x <= target:
            raw += self._evaluate(x)
            x += 1
        self._ev = max(self._ev, target)
        raw += self._departures(wm)
        return raw

    def _evaluate(self, x: int) -> list[RawEvent]:
        """Close epoch x: windows, then missing/sold for tags with no read in their window."""
        tg = self.tags
        n = len(tg)
        assert self._head is not None
        if x > self._head:
            self._shift_to(x)
        pres = np.flatnonzero((tg.status[:n] == _PRESENT) & ~tg.census_only[:n])
        if pres.shape[0] == 0:
            return []
        off = self._head - x
        bits = tg.hist[pres] >> np.uint64(off) if off < 64 else np.zeros(pres.shape[0], np.uint64)
        rate = self._rate(pres)
        w = self.policy.update(tg.win[pres], bits, rate)
        tg.win[pres] = w
        if self.config.transition_at_tills_only:
            # only an item at a till or exit may leave on a window the transition test shortened
            at_till = self.zones.departs[tg.zone[pres]] | self.zones.departs[tg.pending[pres]]
            w = np.where(at_till, w, np.maximum(w, self.policy.completeness(rate)))
        gone = tg.last_epoch[pres] < x - w + 1
        if not gone.any():
            return []
        g = pres[gone]
        end = (x + 1) * self._E
        # sold: seen in an exit/POS zone within `exit_grace` of its last read (a stray read of
        # a neighbouring antenna may come last while the item passes the exit)
        sold = tg.depart_ns[g] >= tg.last_seen_ns[g] - self.params.exit_grace_ns
        tg.status[g] = np.where(sold, np.int8(StatusCode.SOLD), _MISSING)
        tg.since_ns[g] = end
        tg.pending[g] = NO_ZONE
        raw: list[RawEvent] = []
        for tid, s, lz, zz, ls in zip(
            g.tolist(), sold.tolist(), tg.depart_zone[g].tolist(), tg.zone[g].tolist(),
            tg.last_seen_ns[g].tolist(), strict=True,
        ):
            if s:
                raw.append((ls, tid, EventKind.SOLD, lz, zz if zz != lz else NO_ZONE))
            else:
                raw.append((end, tid, EventKind.MISSING, zz, NO_ZONE))
        return raw

    def _departures(self, now_ns: int) -> list[RawEvent]:
        tg = self.tags
        n = len(tg)
        after = self.params.departed_after_ns
        due = np.flatnonzero((tg.status[:n] == _MISSING) & (now_ns - tg.since_ns[:n] >= after))
        if due.shape[0] == 0:
            return []
        when = tg.since_ns[due] + after
        tg.status[due] = np.int8(StatusCode.DEPARTED)
        tg.since_ns[due] = when
        return [
            (tm, tid, EventKind.DEPARTED, zz, NO_ZONE)
            for tid, tm, zz in zip(due.tolist(), when.tolist(), tg.zone[due].tolist(), strict=True)
        ]

    def _census(self, batch: ReadBatch) -> list[TagEvent]:
        zi = self.zones.index.get(batch.census_zone or "", NO_ZONE)
        if zi == NO_ZONE:
            self.counters.bad_census += 1
            raise InputError(
                InputErrorReason.BAD_FIELD, f"census of unknown zone {batch.census_zone!r}"
            )
        self.counters.census_batches += 1
        self.counters.reads_in += batch.read_total
        raw: list[RawEvent] = []
        if len(batch):
            raw += self._advance(int(batch.time_ns.min()))
            t_c = int(batch.time_ns.max())
        else:
            t_c = self._watermark if self._watermark is not None else 0
        raw += apply_census(self.tags, zi, batch.epc, batch.time_ns, t_c)
        if len(batch):
            raw += self._advance(t_c)
        return self._emit(raw)


def status_name(code: int) -> TagStatus:
    return StatusCode(code).status


def describe(cleaner: Cleaner) -> dict[str, Any]:
    """Counts of tags per status (for logs and metrics)."""
    st = cleaner.tags.status[: len(cleaner.tags)]
    return {s.status.value: int((st == s).sum()) for s in StatusCode}
