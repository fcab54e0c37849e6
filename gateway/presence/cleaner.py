"""The presence cleaner: read batches in, presence events and per-tag state out (DESIGN §4).

Pure (no I/O, no clock): time comes from the reads (`ingest`) and from the caller (`tick`).

Time is cut into epochs of `epoch_s`. An epoch is evaluated once the watermark (the newest time
seen) passes its end plus `lateness_s`, so reads of other readers arriving a little late still
count. Each evaluation updates every present tag's window (SMURF or fixed, vectorised) and
declares `missing` (or `sold` when last seen in an exit/POS zone) the tags with no
read within their window. Missing tags become `departed` after `departed_after_s`. Reads drive
`arrived` and `moved` (zone = argmax of age-weighted RSSI power, confirmed after the hold-off).
A census batch (`census_zone`) sets the found items present in that zone with confidence 1 and
makes the items believed there but not found `missing`.

The read rate p of a tag is the per-epoch inclusion probability, estimated from the gaps
between read epochs while present (k read epochs over the epochs they span, exponentially
forgotten, Beta prior): calibrated by construction, as SMURF needs.
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
from gateway.presence.events import EventKind, StatusCode, TagEvent, TagStateRow, TagStatus
from gateway.presence.fixed import FixedPolicy, WindowPolicy
from gateway.presence.smurf import SmurfPolicy
from gateway.presence.state import NEVER, TagTable
from gateway.presence.zones import NO_ZONE, ZoneMap, ZoneOf, decay, rssi_power
from readers.batch import ReadBatch
from readers.driver import InputError, InputErrorReason
from shelfsight.settings import ZoneKind

log = logging.getLogger(__name__)

NS = 1_000_000_000
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


_RawEvent = tuple[int, int, EventKind, int, int]  # time, tag id, kind, zone, from_zone


class Cleaner:
    """Per-tag presence state machine over read batches.

    Parameters from CleaningConfig (keyword arguments override them): epoch_s (evaluation epoch = SMURF's read
    cycle), lateness_s (allowance for late batches before an epoch is evaluated), rate_prior and
    rate_prior_weight (Beta prior of the read rate), rate_memory (read epochs after which old
    evidence weighs 1/e), census_half_life_s (decay of a census-only item's confidence),
    rssi_ref_dbm (reference of the linear RSSI power), exit_grace_s (an item that goes unseen is
    sold if read in an exit/POS zone within this long before its last read).
    """

    def __init__(
        self,
        config: CleaningConfig,
        zone_of: ZoneOf,
        zone_kinds: Mapping[str, ZoneKind],
        *,
        epoch_s: float | None = None,
        lateness_s: float | None = None,
        rate_prior: float | None = None,
        rate_prior_weight: float | None = None,
        rate_memory: float | None = None,
        census_half_life_s: float | None = None,
        rssi_ref_dbm: float | None = None,
        exit_grace_s: float | None = None,
    ) -> None:
        # Keyword arguments override the config (benchmarks sweep them); None takes the config's.
        epoch_s = config.epoch_s if epoch_s is None else epoch_s
        lateness_s = config.lateness_s if lateness_s is None else lateness_s
        rate_prior = config.rate_prior if rate_prior is None else rate_prior
        rate_prior_weight = config.rate_prior_weight if rate_prior_weight is None else rate_prior_weight
        rate_memory = config.rate_memory if rate_memory is None else rate_memory
        census_half_life_s = config.census_half_life_s if census_half_life_s is None else census_half_life_s
        rssi_ref_dbm = config.rssi_ref_dbm if rssi_ref_dbm is None else rssi_ref_dbm
        exit_grace_s = config.exit_grace_s if exit_grace_s is None else exit_grace_s
        if epoch_s <= 0 or lateness_s < 0:
            raise ValueError("epoch_s must be > 0 and lateness_s >= 0")
        if not 0 < rate_prior < 1 or rate_prior_weight <= 0 or rate_memory <= 0:
            raise ValueError("bad read-rate prior")
        self.config = config
        self.zones = ZoneMap(zone_of, zone_kinds)
        self.tags = TagTable(len(self.zones))
        self.counters = CleanerCounters()
        self._E = round(epoch_s * NS)
        self._L = round(lateness_s * NS)
        self._holdoff = round(config.moved_holdoff_s * NS)
        self._departed_after = round(config.departed_after_s * NS)
        self._half_life = config.rssi_half_life_s * NS
        self._census_half_life = census_half_life_s * NS
        self._ref = rssi_ref_dbm
        self._exit_grace = round(exit_grace_s * NS)
        self._a = rate_prior * rate_prior_weight
        self._b = (1.0 - rate_prior) * rate_prior_weight
        self._forget = math.exp(-1.0 / rate_memory)
        self.policy: WindowPolicy
        if config.method == CleaningMethod.FIXED:
            self.policy = FixedPolicy(max(1, min(64, math.ceil(config.fixed_window_s / epoch_s))))
        else:
            lo = max(1, math.ceil(config.min_window_s / epoch_s))
            hi = max(lo, min(64, math.ceil(config.max_window_s / epoch_s)))
            self.policy = SmurfPolicy(config.delta, lo, hi)
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
        self.counters.reads_in += n
        raw: list[_RawEvent] = []
        t = batch.time_ns
        raw += self._advance(int(t.min()))
        z = self.zones.resolve(batch.reader, batch.antenna)
        ok = z != NO_ZONE
        if not ok.all():
            self.counters.unmapped_reads += int((~ok).sum())
            t, z = t[ok], z[ok]
            epc, rssi = batch.epc[ok], batch.rssi_dbm[ok]
        else:
            epc, rssi = batch.epc, batch.rssi_dbm
        if t.shape[0]:
            ids = self.tags.ids_for(epc)
            raw += self._apply_reads(ids, t, z, rssi)
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
        census_conf = decay(now - tg.census_ns[:n], self._census_half_life)
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
        tg = self.tags
        ids = tg.ids_for(r.epc for r in rows)
        trials = 20.0
        present: list[int] = []
        for i, r in zip(ids.tolist(), rows, strict=True):
            zone = NO_ZONE if r.zone is None else self.zones.index.get(r.zone, NO_ZONE)
            if r.zone is not None and zone == NO_ZONE:
                log.warning("restored tag %s: unknown zone %r dropped", r.epc.hex(), r.zone)
            code = StatusCode.of(r.status)
            tg.status[i] = code
            tg.zone[i] = zone
            tg.last_zone[i] = zone
            tg.pending[i] = NO_ZONE
            tg.last_seen_ns[i] = r.last_seen_ns
            tg.since_ns[i] = r.last_seen_ns
            # evidence worth `trials` epochs that reproduces the saved estimate
            rate = min(max(r.read_rate, 1e-3), 1.0)
            tg.trials[i] = trials
            tg.hits[i] = max(rate * (trials + self._a + self._b) - self._a, 0.0)
            tg.census_only[i] = r.census_only
            tg.census_ns[i] = r.last_seen_ns if r.census_only else NEVER
            if zone != NO_ZONE:
                tg.zpow[i, :] = 0.0
                tg.zpow[i, zone] = 1.0
                tg.zt[i] = r.last_seen_ns
            if code == StatusCode.PRESENT:
                present.append(i)
        if len(ids):
            tg.win[ids] = self.policy.initial(self._rate(ids))
            big = np.full(len(ids), getattr(self.policy, "max_w", 1), np.int64)
            tg.win[ids] = np.maximum(tg.win[ids], big)
            last = int(max(r.last_seen_ns for r in rows))
            if self._watermark is None or last > self._watermark:
                self._watermark = last
        self._restored = np.asarray(present, dtype=np.int64)
        self._seq = max(self._seq, int(last_seq))

    # ------------------------------------------------------------------ internals

    def _rate(self, ids: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        tg = self.tags
        rate: npt.NDArray[np.float64] = (tg.hits[ids] + self._a) / (tg.trials[ids] + self._a + self._b)
        return rate

    def _emit(self, raw: list[_RawEvent]) -> list[TagEvent]:
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

    def _apply_reads(
        self,
        ids: npt.NDArray[np.int64],
        t: npt.NDArray[np.int64],
        z: npt.NDArray[np.int16],
        rssi: npt.NDArray[np.float32],
    ) -> list[_RawEvent]:
        tg = self.tags
        E = np.int64(self._E)
        ep = t // E
        if self._head is None:
            self._start(int(ep.min()))
        self._shift_to(int(ep.max()))
        assert self._head is not None
        off = np.int64(self._head) - ep
        keep = off < 64
        np.bitwise_or.at(
            tg.hist, ids[keep], np.left_shift(np.uint64(1), off[keep].astype(np.uint64))
        )

        # one row per tag: first and last read (last: latest, strongest on ties)
        order = np.lexsort((np.nan_to_num(rssi, nan=-1e9), t, ids))
        s_ids = ids[order]
        brk = np.flatnonzero(np.diff(s_ids)) + 1
        firsts = np.concatenate(([0], brk))
        lasts = np.concatenate((brk - 1, [s_ids.shape[0] - 1]))
        uid = s_ids[firsts]
        t_first = t[order][firsts]
        t_last = t[order][lasts]
        z_last = z[order][lasts]

        newer = t_last > tg.last_seen_ns[uid]
        tg.last_zone[uid] = np.where(newer, z_last, tg.last_zone[uid])
        tg.last_seen_ns[uid] = np.maximum(tg.last_seen_ns[uid], t_last)
        tg.last_epoch[uid] = np.maximum(tg.last_epoch[uid], t_last // E)
        tg.census_only[uid] = False
        was_present = tg.status[uid] == _PRESENT

        dep = self.zones.departs[z]
        if dep.any():
            d_ids, d_t, d_z = ids[dep], t[dep], z[dep]
            o = np.lexsort((d_t, d_ids))
            d_ids, d_t, d_z = d_ids[o], d_t[o], d_z[o]
            last = np.append(d_ids[1:] != d_ids[:-1], True)
            d_ids, d_t, d_z = d_ids[last], d_t[last], d_z[last]
            newer_d = d_t > tg.depart_ns[d_ids]
            tg.depart_zone[d_ids] = np.where(newer_d, d_z, tg.depart_zone[d_ids])
            tg.depart_ns[d_ids] = np.maximum(tg.depart_ns[d_ids], d_t)
        self._update_rate(ids, ep, uid, was_present)
        self._update_zpow(ids, t, z, rssi, uid, t_last)

        raw: list[_RawEvent] = []
        best = np.argmax(tg.zpow[uid], axis=1).astype(np.int16)
        # arrivals
        arr = ~was_present
        if arr.any():
            a_ids = uid[arr]
            tg.status[a_ids] = _PRESENT
            tg.zone[a_ids] = best[arr]
            tg.pending[a_ids] = NO_ZONE
            tg.since_ns[a_ids] = t_first[arr]
            tg.win[a_ids] = self.policy.initial(self._rate(a_ids))
            for tid, tm, zz in zip(a_ids.tolist(), t_first[arr].tolist(), best[arr].tolist(), strict=True):
                raw.append((tm, tid, EventKind.ARRIVED, zz, NO_ZONE))
        # moves of present tags, after the hold-off
        p_ids = uid[was_present]
        if p_ids.shape[0]:
            b = best[was_present]
            tl = t_last[was_present]
            cur = tg.zone[p_ids]
            diff = b != cur
            fresh = diff & (tg.pending[p_ids] != b)
            tg.pending_since_ns[p_ids] = np.where(fresh, tl, tg.pending_since_ns[p_ids])
            tg.pending[p_ids] = np.where(diff, b, NO_ZONE)
            confirm = diff & (tl - tg.pending_since_ns[p_ids] >= self._holdoff)
            if confirm.any():
                m_ids = p_ids[confirm]
                for tid, tm, zz, fz in zip(
                    m_ids.tolist(), tl[confirm].tolist(), b[confirm].tolist(), cur[confirm].tolist(),
                    strict=True,
                ):
                    raw.append((tm, tid, EventKind.MOVED, zz, fz))
                tg.zone[m_ids] = b[confirm]
                tg.pending[m_ids] = NO_ZONE
        return raw

    def _update_rate(
        self,
        ids: npt.NDArray[np.int64],
        ep: npt.NDArray[np.int64],
        uid: npt.NDArray[np.int64],
        was_present: npt.NDArray[np.bool_],
    ) -> None:
        """Gap estimator: each new read epoch of a present tag is 1 hit over the epochs since
        its previous read epoch; gaps across an absence (status not present) are not counted."""
        tg = self.tags
        order = np.lexsort((ep, ids))
        si, se = ids[order], ep[order]
        uniq = np.ones(si.shape[0], dtype=bool)
        uniq[1:] = (si[1:] != si[:-1]) | (se[1:] != se[:-1])
        si, se = si[uniq], se[uniq]
        first = np.ones(si.shape[0], dtype=bool)
        first[1:] = si[1:] != si[:-1]
        prev = np.empty_like(se)
        prev[1:] = se[:-1]
        prev[first] = tg.rate_epoch[si[first]]
        present_now = np.zeros(len(tg), dtype=bool)
        present_now[uid[was_present]] = True
        count = present_now[si] & (prev > NEVER) & (se > prev)
        n = len(tg)
        k = np.bincount(si[count], minlength=n)[uid]
        g = np.bincount(si[count], weights=(se - prev)[count].astype(np.float64), minlength=n)[uid]
        f = np.power(self._forget, k)
        tg.hits[uid] = tg.hits[uid] * f + k
        tg.trials[uid] = tg.trials[uid] * f + g
        last_ep = np.full(n, NEVER, np.int64)
        np.maximum.at(last_ep, si, se)
        tg.rate_epoch[uid] = np.maximum(tg.rate_epoch[uid], last_ep[uid])

    def _update_zpow(
        self,
        ids: npt.NDArray[np.int64],
        t: npt.NDArray[np.int64],
        z: npt.NDArray[np.int16],
        rssi: npt.NDArray[np.float32],
        uid: npt.NDArray[np.int64],
        t_last: npt.NDArray[np.int64],
    ) -> None:
        tg = self.tags
        tref_u = np.maximum(tg.zt[uid], t_last)
        tg.zpow[uid] *= decay(tref_u - tg.zt[uid], self._half_life)[:, None]
        tg.zt[uid] = tref_u
        w = rssi_power(rssi, self._ref) * decay(tg.zt[ids] - t, self._half_life)
        np.add.at(tg.zpow, (ids, z.astype(np.int64)), w)

    def _advance(self, now_ns: int) -> list[_RawEvent]:
        if self._watermark is None or now_ns > self._watermark:
            self._watermark = now_ns
        wm = self._watermark
        if self._head is None:
            if self._restored is None:
                return []
            self._start(wm // self._E)
        assert self._ev is not None
        target = (wm - self._L) // self._E - 1
        raw: list[_RawEvent] = []
        x = self._ev + 1
        while x <= target:
            raw += self._evaluate(x)
            x += 1
        self._ev = max(self._ev, target)
        raw += self._departures(wm)
        return raw

    def _evaluate(self, x: int) -> list[_RawEvent]:
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
        w = self.policy.update(tg.win[pres], bits, self._rate(pres))
        tg.win[pres] = w
        gone = tg.last_epoch[pres] < x - w + 1
        if not gone.any():
            return []
        g = pres[gone]
        end = (x + 1) * self._E
        # sold: seen in an exit/POS zone within `exit_grace` of its last read (a stray read of
        # a neighbouring antenna may come last while the item passes the exit)
        sold = tg.depart_ns[g] >= tg.last_seen_ns[g] - self._exit_grace
        tg.status[g] = np.where(sold, np.int8(StatusCode.SOLD), _MISSING)
        tg.since_ns[g] = end
        tg.pending[g] = NO_ZONE
        raw: list[_RawEvent] = []
        for tid, s, lz, zz, ls in zip(
            g.tolist(), sold.tolist(), tg.depart_zone[g].tolist(), tg.zone[g].tolist(),
            tg.last_seen_ns[g].tolist(), strict=True,
        ):
            if s:
                raw.append((ls, tid, EventKind.SOLD, lz, zz if zz != lz else NO_ZONE))
            else:
                raw.append((end, tid, EventKind.MISSING, zz, NO_ZONE))
        return raw

    def _departures(self, now_ns: int) -> list[_RawEvent]:
        tg = self.tags
        n = len(tg)
        due = np.flatnonzero(
            (tg.status[:n] == _MISSING) & (now_ns - tg.since_ns[:n] >= self._departed_after)
        )
        if due.shape[0] == 0:
            return []
        when = tg.since_ns[due] + self._departed_after
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
        self.counters.reads_in += len(batch)
        raw: list[_RawEvent] = []
        tg = self.tags
        if len(batch):
            raw += self._advance(int(batch.time_ns.min()))
            t_c = int(batch.time_ns.max())
        else:
            t_c = self._watermark if self._watermark is not None else 0
        if len(batch):
            ids = tg.ids_for(batch.epc)
            uid = np.unique(ids)
            t_max = np.full(len(tg), NEVER, np.int64)
            np.maximum.at(t_max, ids, batch.time_ns)
            prev_zone = tg.zone[uid].copy()
            prev_present = tg.status[uid] == _PRESENT
            tg.status[uid] = _PRESENT
            tg.zone[uid] = zi
            tg.last_zone[uid] = zi
            tg.depart_ns[uid] = NEVER
            tg.pending[uid] = NO_ZONE
            tg.census_only[uid] = True
            tg.census_ns[uid] = t_c
            tg.last_seen_ns[uid] = np.maximum(tg.last_seen_ns[uid], t_max[uid])
            tg.since_ns[uid] = np.where(prev_present, tg.since_ns[uid], t_c)
            tg.zpow[uid] = 0.0
            tg.zpow[uid, zi] = 1.0
            tg.zt[uid] = t_c
            for tid, pz, pp in zip(uid.tolist(), prev_zone.tolist(), prev_present.tolist(), strict=True):
                raw.append((t_c, tid, EventKind.CENSUS, zi, pz if pp and pz != zi else NO_ZONE))
            found = np.zeros(len(tg), dtype=bool)
            found[uid] = True
        else:
            found = np.zeros(len(tg), dtype=bool)
        n = len(tg)
        absent = np.flatnonzero((tg.status[:n] == _PRESENT) & (tg.zone[:n] == zi) & ~found[:n])
        if absent.shape[0]:
            tg.status[absent] = _MISSING
            tg.since_ns[absent] = t_c
            tg.census_only[absent] = False
            raw += [(t_c, int(tid), EventKind.MISSING, zi, NO_ZONE) for tid in absent.tolist()]
        if len(batch):
            raw += self._advance(t_c)
        return self._emit(raw)


def status_name(code: int) -> TagStatus:
    return StatusCode(code).status


def describe(cleaner: Cleaner) -> dict[str, Any]:
    """Counts of tags per status (for logs and metrics)."""
    st = cleaner.tags.status[: len(cleaner.tags)]
    return {s.status.value: int((st == s).sum()) for s in StatusCode}
