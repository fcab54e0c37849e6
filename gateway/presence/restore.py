"""Loading the cleaner's per-tag state from saved `tag_state` rows (after a gateway restart)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from gateway.presence.events import StatusCode, TagStateRow
from gateway.presence.fixed import WindowPolicy
from gateway.presence.params import CleanerParams
from gateway.presence.state import NEVER, TagTable
from gateway.presence.zones import NO_ZONE, ZoneMap

log = logging.getLogger(__name__)

RESTORED_TRIALS = 20.0  # epochs of evidence a restored read rate is worth


def restore_rows(
    tg: TagTable,
    zones: ZoneMap,
    policy: WindowPolicy,
    p: CleanerParams,
    rows: Sequence[TagStateRow],
    max_window: int,
) -> npt.NDArray[np.int64]:
    """Write `rows` into `tg`; the ids of the present tags (they get `max_window` epochs, from
    the first time seen after the restore, to be read again before they can go missing)."""
    ids = tg.ids_for(r.epc for r in rows)
    present: list[int] = []
    for i, r in zip(ids.tolist(), rows, strict=True):
        zone = NO_ZONE if r.zone is None else zones.index.get(r.zone, NO_ZONE)
        if r.zone is not None and zone == NO_ZONE:
            log.warning("restored tag %s: unknown zone %r dropped", r.epc.hex(), r.zone)
        code = StatusCode.of(r.status)
        tg.status[i] = code
        tg.zone[i] = zone
        tg.last_zone[i] = zone
        tg.pending[i] = NO_ZONE
        tg.last_seen_ns[i] = r.last_seen_ns
        tg.since_ns[i] = r.last_seen_ns
        # evidence worth RESTORED_TRIALS epochs that reproduces the saved estimate
        rate = min(max(r.read_rate, 1e-3), 1.0)
        tg.trials[i] = RESTORED_TRIALS
        tg.hits[i] = max(rate * (RESTORED_TRIALS + p.a + p.b) - p.a, 0.0)
        tg.census_only[i] = r.census_only
        tg.census_ns[i] = r.last_seen_ns if r.census_only else NEVER
        if zone != NO_ZONE:
            tg.zpow[i, :] = 0.0
            tg.zpow[i, zone] = 1.0
            tg.zt[i] = r.last_seen_ns
        if code == StatusCode.PRESENT:
            present.append(i)
    if len(ids):
        w = policy.initial(tg.rate(ids, p.a, p.b))
        tg.win[ids] = np.maximum(w, max_window)
    return np.asarray(present, dtype=np.int64)
