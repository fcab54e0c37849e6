"""Applying fixed-reader reads to the tag table: read history, read rate, zone evidence,
`arrived` and `moved` events (vectorised over one batch)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from gateway.presence.events import EventKind, RawEvent, StatusCode
from gateway.presence.fixed import WindowPolicy
from gateway.presence.params import CleanerParams
from gateway.presence.state import NEVER, TagTable
from gateway.presence.zones import NO_ZONE, ZoneMap, decay, rssi_power

_PRESENT = np.int8(StatusCode.PRESENT)


def apply_reads(
    tg: TagTable,
    zones: ZoneMap,
    policy: WindowPolicy,
    p: CleanerParams,
    head: int,
    ids: npt.NDArray[np.int64],
    t: npt.NDArray[np.int64],
    z: npt.NDArray[np.int16],
    rssi: npt.NDArray[np.float32],
) -> list[RawEvent]:
    """Apply reads (tag ids, times, zone indexes, RSSI); `head` = the epoch of history bit 0,
    already at or after the newest read's epoch."""
    E = np.int64(p.epoch_ns)
    ep = t // E
    off = np.int64(head) - ep
    keep = off < 64
    np.bitwise_or.at(tg.hist, ids[keep], np.left_shift(np.uint64(1), off[keep].astype(np.uint64)))

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

    update_rate(tg, p, ids, ep, uid, was_present)
    update_zpow(tg, p, ids, t, z, rssi, uid, t_last)
    _note_departure_reads(tg, zones, ids, t, z)

    raw: list[RawEvent] = []
    best = np.argmax(tg.zpow[uid], axis=1).astype(np.int16)
    # arrivals
    arr = ~was_present
    if arr.any():
        a_ids = uid[arr]
        tg.status[a_ids] = _PRESENT
        tg.zone[a_ids] = best[arr]
        tg.pending[a_ids] = NO_ZONE
        tg.since_ns[a_ids] = t_first[arr]
        tg.win[a_ids] = policy.initial(tg.rate(a_ids, p.a, p.b))
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
        confirm = diff & (tl - tg.pending_since_ns[p_ids] >= p.holdoff_ns)
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


def _note_departure_reads(
    tg: TagTable,
    zones: ZoneMap,
    ids: npt.NDArray[np.int64],
    t: npt.NDArray[np.int64],
    z: npt.NDArray[np.int16],
) -> None:
    """Record the last exit/POS read of each tag that is *at* a till or exit: its best zone by
    age-weighted RSSI (after this batch) or its believed zone is an exit/POS zone.

    A stray read of the exit antenna on an item still on a nearby floor fixture does not count:
    its best zone stays the floor. (Counting it made such an item `sold` when it then went
    unread for its window, a false departure; see tests/test_presence.py.)
    """
    dep = zones.departs[z]
    if not dep.any():
        return
    d_ids, d_t, d_z = ids[dep], t[dep], z[dep]
    best = np.argmax(tg.zpow[d_ids], axis=1)
    at_till = zones.departs[best] | zones.departs[tg.zone[d_ids]]
    if not at_till.any():
        return
    d_ids, d_t, d_z = d_ids[at_till], d_t[at_till], d_z[at_till]
    o = np.lexsort((d_t, d_ids))
    d_ids, d_t, d_z = d_ids[o], d_t[o], d_z[o]
    last = np.append(d_ids[1:] != d_ids[:-1], True)
    d_ids, d_t, d_z = d_ids[last], d_t[last], d_z[last]
    newer_d = d_t > tg.depart_ns[d_ids]
    tg.depart_zone[d_ids] = np.where(newer_d, d_z, tg.depart_zone[d_ids])
    tg.depart_ns[d_ids] = np.maximum(tg.depart_ns[d_ids], d_t)


def update_rate(
    tg: TagTable,
    p: CleanerParams,
    ids: npt.NDArray[np.int64],
    ep: npt.NDArray[np.int64],
    uid: npt.NDArray[np.int64],
    was_present: npt.NDArray[np.bool_],
) -> None:
    """Gap estimator: each new read epoch of a present tag is 1 hit over the epochs since
    its previous read epoch; gaps across an absence (status not present) are not counted."""
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
    f = np.power(p.forget, k)
    tg.hits[uid] = tg.hits[uid] * f + k
    tg.trials[uid] = tg.trials[uid] * f + g
    last_ep = np.full(n, NEVER, np.int64)
    np.maximum.at(last_ep, si, se)
    tg.rate_epoch[uid] = np.maximum(tg.rate_epoch[uid], last_ep[uid])


def update_zpow(
    tg: TagTable,
    p: CleanerParams,
    ids: npt.NDArray[np.int64],
    t: npt.NDArray[np.int64],
    z: npt.NDArray[np.int16],
    rssi: npt.NDArray[np.float32],
    uid: npt.NDArray[np.int64],
    t_last: npt.NDArray[np.int64],
) -> None:
    """Age-weighted RSSI power per zone: decay to the newest read, add the batch's reads."""
    tref_u = np.maximum(tg.zt[uid], t_last)
    tg.zpow[uid] *= decay(tref_u - tg.zt[uid], p.rssi_half_life_ns)[:, None]
    tg.zt[uid] = tref_u
    w = rssi_power(rssi, p.rssi_ref_dbm) * decay(tg.zt[ids] - t, p.rssi_half_life_ns)
    np.add.at(tg.zpow, (ids, z.astype(np.int64)), w)
