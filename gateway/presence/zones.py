"""Zones: (reader, antenna) -> zone name, and the age-weighted RSSI choice of a tag's zone."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import TypeAlias

import numpy as np
import numpy.typing as npt

from readers.config import ReaderConfig
from shelfsight.settings import ZoneKind

log = logging.getLogger(__name__)

ZoneOf: TypeAlias = Callable[[str, int], "str | None"] | Mapping[tuple[str, int], str]

NO_ZONE = -1
DEPARTURE_KINDS = frozenset({ZoneKind.EXIT, ZoneKind.POS})


def zone_map_from_readers(readers: Iterable[ReaderConfig]) -> dict[tuple[str, int], str]:
    """The (reader id, antenna) -> zone mapping of the shop's reader configuration."""
    return {(r.id, antenna): zone for r in readers for antenna, zone in r.zones.items()}


class ZoneMap:
    """Resolves antennas to zone indexes (order of `zone_kinds`), caching per (reader, antenna).

    An antenna without a zone, or mapped to a zone not in `zone_kinds`, resolves to NO_ZONE.
    """

    def __init__(self, zone_of: ZoneOf, zone_kinds: Mapping[str, ZoneKind]) -> None:
        if not zone_kinds:
            raise ValueError("zone_kinds is empty")
        self.names: tuple[str, ...] = tuple(zone_kinds)
        self.index: dict[str, int] = {name: i for i, name in enumerate(self.names)}
        self.kinds: tuple[ZoneKind, ...] = tuple(ZoneKind(zone_kinds[n]) for n in self.names)
        self.departs: npt.NDArray[np.bool_] = np.array(
            [k in DEPARTURE_KINDS for k in self.kinds] + [False], dtype=bool
        )  # last entry: NO_ZONE (-1) indexes it
        self._zone_of = zone_of
        self._cache: dict[tuple[str, int], int] = {}

    def __len__(self) -> int:
        return len(self.names)

    def name(self, index: int) -> str | None:
        return None if index < 0 else self.names[index]

    def lookup(self, reader: str, antenna: int) -> int:
        key = (reader, antenna)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        zone_of = self._zone_of
        zone = zone_of.get(key) if isinstance(zone_of, Mapping) else zone_of(reader, antenna)
        idx = self.index.get(zone, NO_ZONE) if zone is not None else NO_ZONE
        if idx == NO_ZONE:
            log.warning("reader %s antenna %d has no known zone (%r): reads ignored", reader, antenna, zone)
        self._cache[key] = idx
        return idx

    def resolve(self, reader: str, antenna: npt.NDArray[np.int16]) -> npt.NDArray[np.int16]:
        out = np.full(antenna.shape[0], NO_ZONE, dtype=np.int16)
        for a in np.unique(antenna):
            out[antenna == a] = self.lookup(reader, int(a))
        return out


def rssi_power(rssi_dbm: npt.NDArray[np.float32], ref_dbm: float) -> npt.NDArray[np.float64]:
    """Linear power relative to `ref_dbm` (a read without RSSI counts as the reference)."""
    p = np.power(10.0, (rssi_dbm.astype(np.float64) - ref_dbm) / 10.0)
    return np.where(np.isnan(p), 1.0, p)


def decay(age_ns: npt.NDArray[np.int64], half_life_ns: float) -> npt.NDArray[np.float64]:
    """2^(-age / half-life), 1 for non-positive ages."""
    return np.exp2(-np.maximum(age_ns, 0).astype(np.float64) / half_life_ns)
