"""Handheld census batches: a complete count of one zone (DESIGN §4).

Items found are present in the counted zone with confidence 1 (census-only: exempt from the
read-window timeouts until a fixed reader sees them); items believed in that zone but not
found become missing.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from gateway.presence.events import EventKind, RawEvent, StatusCode
from gateway.presence.state import NEVER, TagTable
from gateway.presence.zones import NO_ZONE

_PRESENT = np.int8(StatusCode.PRESENT)
_MISSING = np.int8(StatusCode.MISSING)


def apply_census(
    tg: TagTable, zone: int, epc: npt.NDArray[np.object_], time_ns: npt.NDArray[np.int64], t_c: int
) -> list[RawEvent]:
    """Apply a census of zone index `zone` taken at `t_c` that found `epc` (read at `time_ns`)."""
    raw: list[RawEvent] = []
    if epc.shape[0]:
        ids = tg.ids_for(epc)
        uid = np.unique(ids)
        t_max = np.full(len(tg), NEVER, np.int64)
        np.maximum.at(t_max, ids, time_ns)
        prev_zone = tg.zone[uid].copy()
        prev_present = tg.status[uid] == _PRESENT
        tg.status[uid] = _PRESENT
        tg.zone[uid] = zone
        tg.last_zone[uid] = zone
        tg.depart_ns[uid] = NEVER
        tg.pending[uid] = NO_ZONE
        tg.census_only[uid] = True
        tg.census_ns[uid] = t_c
        tg.last_seen_ns[uid] = np.maximum(tg.last_seen_ns[uid], t_max[uid])
        tg.since_ns[uid] = np.where(prev_present, tg.since_ns[uid], t_c)
        tg.zpow[uid] = 0.0
        tg.zpow[uid, zone] = 1.0
        tg.zt[uid] = t_c
        for tid, pz, pp in zip(uid.tolist(), prev_zone.tolist(), prev_present.tolist(), strict=True):
            raw.append((t_c, tid, EventKind.CENSUS, zone, pz if pp and pz != zone else NO_ZONE))
    n = len(tg)
    found = np.zeros(n, dtype=bool)
    if epc.shape[0]:
        found[uid] = True
    absent = np.flatnonzero((tg.status[:n] == _PRESENT) & (tg.zone[:n] == zone) & ~found)
    if absent.shape[0]:
        tg.status[absent] = _MISSING
        tg.since_ns[absent] = t_c
        tg.census_only[absent] = False
        raw += [(t_c, int(tid), EventKind.MISSING, zone, NO_ZONE) for tid in absent.tolist()]
    return raw
