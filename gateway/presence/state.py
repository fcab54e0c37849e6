"""The per-tag state table: numpy columns indexed by a dense tag id (EPC -> id map)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

from gateway.presence.events import StatusCode
from gateway.presence.zones import NO_ZONE

NEVER = np.iinfo(np.int64).min // 4  # "no time / no epoch yet", far below any real one


class TagTable:
    """Column arrays, one slot per tag ever seen; grown by doubling.

    status: StatusCode; zone: believed zone index; pending/pending_since_ns: a candidate zone
    and since when it has been the best; last_seen_ns / last_epoch: last read (any zone);
    last_zone: zone of the last read; depart_ns/depart_zone: last read in an exit/POS zone;
    hist: bit k = read in epoch (head - k); win: window in
    epochs; hits/trials: decayed read-rate estimator; rate_epoch: last epoch counted in it;
    zpow/zt: age-weighted RSSI power per zone and the time it refers to; census_only/census_ns;
    since_ns: when the current status began.
    """

    def __init__(self, n_zones: int, capacity: int = 1024) -> None:
        self.n_zones = n_zones
        self.epcs: list[bytes] = []
        self.index: dict[bytes, int] = {}
        self._cap = 0
        self.status = np.zeros(0, np.int8)
        self.zone = np.zeros(0, np.int16)
        self.pending = np.zeros(0, np.int16)
        self.pending_since_ns = np.zeros(0, np.int64)
        self.last_seen_ns = np.zeros(0, np.int64)
        self.last_epoch = np.zeros(0, np.int64)
        self.last_zone = np.zeros(0, np.int16)
        self.depart_ns = np.zeros(0, np.int64)
        self.depart_zone = np.zeros(0, np.int16)
        self.hist = np.zeros(0, np.uint64)
        self.win = np.zeros(0, np.int64)
        self.hits = np.zeros(0, np.float64)
        self.trials = np.zeros(0, np.float64)
        self.rate_epoch = np.zeros(0, np.int64)
        self.zpow = np.zeros((0, n_zones), np.float64)
        self.zt = np.zeros(0, np.int64)
        self.census_only = np.zeros(0, np.bool_)
        self.census_ns = np.zeros(0, np.int64)
        self.since_ns = np.zeros(0, np.int64)
        self._grow(capacity)

    def __len__(self) -> int:
        return len(self.epcs)

    def _grow(self, cap: int) -> None:
        old = self._cap

        def ext(a: npt.NDArray[np.generic], fill: float | int) -> npt.NDArray[np.generic]:
            shape = (cap, *a.shape[1:])
            b = np.full(shape, fill, dtype=a.dtype)
            b[:old] = a[:old]
            return b

        self.status = ext(self.status, StatusCode.UNKNOWN)  # type: ignore[assignment]
        self.zone = ext(self.zone, NO_ZONE)  # type: ignore[assignment]
        self.pending = ext(self.pending, NO_ZONE)  # type: ignore[assignment]
        self.pending_since_ns = ext(self.pending_since_ns, NEVER)  # type: ignore[assignment]
        self.last_seen_ns = ext(self.last_seen_ns, NEVER)  # type: ignore[assignment]
        self.last_epoch = ext(self.last_epoch, NEVER)  # type: ignore[assignment]
        self.last_zone = ext(self.last_zone, NO_ZONE)  # type: ignore[assignment]
        self.depart_ns = ext(self.depart_ns, NEVER)  # type: ignore[assignment]
        self.depart_zone = ext(self.depart_zone, NO_ZONE)  # type: ignore[assignment]
        self.hist = ext(self.hist, 0)  # type: ignore[assignment]
        self.win = ext(self.win, 1)  # type: ignore[assignment]
        self.hits = ext(self.hits, 0.0)  # type: ignore[assignment]
        self.trials = ext(self.trials, 0.0)  # type: ignore[assignment]
        self.rate_epoch = ext(self.rate_epoch, NEVER)  # type: ignore[assignment]
        self.zpow = ext(self.zpow, 0.0)  # type: ignore[assignment]
        self.zt = ext(self.zt, NEVER)  # type: ignore[assignment]
        self.census_only = ext(self.census_only, False)  # type: ignore[assignment]
        self.census_ns = ext(self.census_ns, NEVER)  # type: ignore[assignment]
        self.since_ns = ext(self.since_ns, NEVER)  # type: ignore[assignment]
        self._cap = cap

    def ids_for(self, epcs: Iterable[object]) -> npt.NDArray[np.int64]:
        """Tag ids of `epcs`, creating slots for new EPCs (bytes, or anything bytes() accepts)."""
        index = self.index
        new: list[bytes] = []
        out: list[int] = []
        for e in epcs:
            i = index.get(e)  # type: ignore[call-overload]
            if i is None:
                key = bytes(e)  # type: ignore[call-overload]
                i = index.get(key)
                if i is None:
                    i = len(self.epcs) + len(new)
                    index[key] = i
                    new.append(key)
            out.append(i)
        if new:
            self.epcs.extend(new)
            if len(self.epcs) > self._cap:
                cap = self._cap
                while cap < len(self.epcs):
                    cap *= 2
                self._grow(cap)
        return np.asarray(out, dtype=np.int64)

    def rate(self, ids: npt.NDArray[np.int64], a: float, b: float) -> npt.NDArray[np.float64]:
        """Read-rate estimate of `ids`: posterior mean under a Beta(a, b) prior."""
        out: npt.NDArray[np.float64] = (self.hits[ids] + a) / (self.trials[ids] + a + b)
        return out

    def lookup(self, epcs: Iterable[object]) -> npt.NDArray[np.int64]:
        """Tag ids of `epcs`, -1 for EPCs never seen (creates nothing)."""
        index = self.index
        return np.asarray([index.get(e, -1) for e in epcs], dtype=np.int64)  # type: ignore[call-overload]
