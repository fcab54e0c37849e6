"""A simulated shop with ground truth, for the presence-cleaning benchmark and tests.

Items (EPCs of a small catalogue of GTINs) sit in zones watched by fixed readers: floor,
backroom, fitting, exit, pos. Each cycle every item in the shop is read by its own antenna with
its per-cycle probability (0.6-0.9 by default, 1-3 reads when read), and items near a
neighbouring zone are also read, weaker, by that zone's antenna (stray reads). Shoppers pick
items from the floor, try some in the fitting rooms, put some back and buy the others (POS, then
the exit, then gone); staff restock the floor from the backroom, deliveries arrive in the
backroom, a few items are stolen (gone without passing the exit), and an optional handheld
census counts a zone. `step()` returns the cycle's ReadBatches (one per reader); `true_zone`
and `log` say where every item truly is and when it changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from readers.batch import NO_SEQ, ReadBatch
from shelfsight.settings import ZoneKind

NS = 1_000_000_000
GONE = -1

ZONES: dict[str, ZoneKind] = {
    "floor": ZoneKind.SALES,
    "backroom": ZoneKind.STORAGE,
    "fitting": ZoneKind.FITTING,
    "exit": ZoneKind.EXIT,
    "pos": ZoneKind.POS,
}
_NAMES = tuple(ZONES)
FLOOR, BACKROOM, FITTING, EXIT, POS = range(5)
READERS = ("floor-r", "back-r", "fit-r", "exit-r", "pos-r")
ANTENNAS = (4, 2, 1, 2, 1)
NEIGHBOURS: dict[int, tuple[int, ...]] = {
    FLOOR: (BACKROOM, FITTING, EXIT, POS),
    BACKROOM: (FLOOR,),
    FITTING: (FLOOR,),
    EXIT: (FLOOR, POS),
    POS: (FLOOR, EXIT),
}
HANDHELD = "handheld-1"
COMPANY = "4012345"


class ExitKind(StrEnum):
    SOLD = "sold"
    STOLEN = "stolen"


@dataclass(frozen=True, slots=True)
class ZoneChange:
    time_ns: int
    item: int
    from_zone: str | None
    to_zone: str | None


@dataclass(frozen=True, slots=True)
class ItemExit:
    time_ns: int
    item: int
    kind: ExitKind


@dataclass(frozen=True)
class ShopConfig:
    items: int = 3000
    gtins: int = 200
    cycle_s: float = 1.0
    start_ns: int = 1_700_000_000 * NS
    p_read: tuple[float, float] = (0.6, 0.9)
    max_reads_per_hit: int = 3
    stray_share: float = 0.2  # share of items near a neighbouring zone
    stray_p: tuple[float, float] = (0.02, 0.15)
    backroom_share: float = 0.3
    picks_per_min: float = 6.0
    fitting_share: float = 0.5  # picked items taken to the fitting rooms (else straight to pay)
    buy_after_fitting: float = 0.4
    fitting_dwell_s: tuple[float, float] = (60.0, 300.0)
    pos_dwell_s: tuple[float, float] = (10.0, 60.0)
    exit_dwell_s: tuple[float, float] = (1.0, 3.0)
    restock_every_s: float = 300.0
    restock_items: int = 30
    delivery_every_s: float = 600.0
    delivery_items: int = 40
    thefts_per_hour: float = 2.0
    census_every_s: float = 0.0  # 0: no handheld census
    census_zone: str = "backroom"
    census_completeness: float = 0.97


def gtin14(index: int) -> str:
    """The catalogue's GTIN-14 of product `index` (company prefix + item ref + check digit)."""
    body = f"0{COMPANY}{index:05d}"
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return body + str((10 - total % 10) % 10)


def make_epc(gtin_index: int, serial: int) -> bytes:
    """The simulated EPC: 0x30 0x74, product index (4 bytes), serial (6 bytes)."""
    return b"\x30\x74" + gtin_index.to_bytes(4, "big") + serial.to_bytes(6, "big")


def gtin_index_of_epc(epc: bytes) -> int:
    """The catalogue rule: the product index sits in bytes 2-5 of the simulated EPC."""
    return int.from_bytes(epc[2:6], "big")


def zone_map() -> dict[tuple[str, int], str]:
    return {
        (READERS[z], a): _NAMES[z] for z in range(len(READERS)) for a in range(1, ANTENNAS[z] + 1)
    }


def _batch(
    reader: str,
    time_ns: npt.NDArray[np.int64],
    antenna: npt.NDArray[np.int16],
    epc: npt.NDArray[np.object_],
    rssi: npt.NDArray[np.float32],
    census_zone: str | None = None,
) -> ReadBatch:
    return ReadBatch(
        reader=reader,
        time_ns=time_ns.astype(np.int64, copy=False),
        antenna=antenna.astype(np.int16, copy=False),
        epc=epc,
        rssi_dbm=rssi.astype(np.float32, copy=False),
        seq=np.full(time_ns.shape[0], NO_SEQ, np.int64),
        census_zone=census_zone,
    )


@dataclass
class _Items:
    zone: npt.NDArray[np.int8]
    antenna: npt.NDArray[np.int16]
    p: npt.NDArray[np.float64]
    rssi: npt.NDArray[np.float64]
    stray_zone: npt.NDArray[np.int8]
    stray_p: npt.NDArray[np.float64]
    due_ns: npt.NDArray[np.int64]
    buy: npt.NDArray[np.bool_]
    gtin: npt.NDArray[np.int64]
    epc: npt.NDArray[np.object_]


@dataclass
class ShopSim:
    """Deterministic for a given (config, seed)."""

    config: ShopConfig = field(default_factory=ShopConfig)
    seed: int = 1

    def __post_init__(self) -> None:
        cfg = self.config
        self.rng = np.random.default_rng(self.seed)
        rng = self.rng
        self.cycle_ns = round(cfg.cycle_s * NS)
        self.now_ns = cfg.start_ns
        deliveries = 1 + int(4 * 3600 / cfg.delivery_every_s) if cfg.delivery_every_s > 0 else 0
        pool = cfg.items + deliveries * cfg.delivery_items
        weights = 1.0 / np.arange(1, cfg.gtins + 1) ** 0.8
        gtin = rng.choice(cfg.gtins, size=pool, p=weights / weights.sum()).astype(np.int64)
        epc = np.empty(pool, dtype=object)
        epc[:] = [make_epc(int(g), i + 1) for i, g in enumerate(gtin)]
        self.items = _Items(
            zone=np.full(pool, GONE, np.int8),
            antenna=np.ones(pool, np.int16),
            p=rng.uniform(*cfg.p_read, size=pool),
            rssi=rng.normal(-55.0, 4.0, size=pool),
            stray_zone=np.full(pool, GONE, np.int8),
            stray_p=np.zeros(pool),
            due_ns=np.full(pool, np.iinfo(np.int64).max, np.int64),
            buy=np.zeros(pool, bool),
            gtin=gtin,
            epc=epc,
        )
        self.gtins = [gtin14(g) for g in range(cfg.gtins)]
        self._next_new = 0
        self.log: list[ZoneChange] = []
        self.exits: list[ItemExit] = []
        initial = self._new_items(cfg.items)
        back = rng.random(initial.shape[0]) < cfg.backroom_share
        for zone, sel in ((BACKROOM, initial[back]), (FLOOR, initial[~back])):
            self._move(sel, zone)
        self._next_restock = self.now_ns + round(cfg.restock_every_s * NS)
        self._next_delivery = self.now_ns + round(cfg.delivery_every_s * NS)
        self._next_census = (
            self.now_ns + round(cfg.census_every_s * NS) if cfg.census_every_s > 0 else None
        )

    # -------------------------------------------------------------- ground truth

    @property
    def epcs(self) -> npt.NDArray[np.object_]:
        """EPCs of every item that ever entered the shop (item index order)."""
        return self.items.epc[: self._next_new]

    @property
    def true_zone(self) -> npt.NDArray[np.int8]:
        """Zone index (ZONES order) of every item that ever entered; -1: no longer in the shop."""
        return self.items.zone[: self._next_new]

    @property
    def gtin_index(self) -> npt.NDArray[np.int64]:
        return self.items.gtin[: self._next_new]

    @staticmethod
    def zone_names() -> tuple[str, ...]:
        return _NAMES

    # -------------------------------------------------------------- dynamics

    def _new_items(self, k: int) -> npt.NDArray[np.int64]:
        k = min(k, self.items.zone.shape[0] - self._next_new)
        out = np.arange(self._next_new, self._next_new + k, dtype=np.int64)
        self._next_new += k
        return out

    def _move(self, items: npt.NDArray[np.int64], zone: int) -> None:
        """Put `items` in `zone` (GONE: out of the shop) and record the change."""
        if items.shape[0] == 0:
            return
        it = self.items
        rng = self.rng
        t = self.now_ns
        for i in items.tolist():
            old = int(it.zone[i])
            self.log.append(
                ZoneChange(t, i, None if old < 0 else _NAMES[old], None if zone < 0 else _NAMES[zone])
            )
        it.zone[items] = zone
        if zone < 0:
            return
        k = items.shape[0]
        it.antenna[items] = rng.integers(1, ANTENNAS[zone] + 1, size=k)
        near_share = 0.5 if zone in (EXIT, POS) else self.config.stray_share
        near = rng.random(k) < near_share
        nb = np.asarray(NEIGHBOURS[zone], np.int8)
        it.stray_zone[items] = np.where(near, rng.choice(nb, size=k), GONE)
        it.stray_p[items] = rng.uniform(*self.config.stray_p, size=k)

    def _schedule(self, items: npt.NDArray[np.int64], dwell: tuple[float, float]) -> None:
        dwell_s = np.asarray(self.rng.uniform(dwell[0], dwell[1], size=items.shape[0]))
        self.items.due_ns[items] = self.now_ns + (dwell_s * NS).astype(np.int64)

    def _dynamics(self) -> None:
        cfg, it, rng, t = self.config, self.items, self.rng, self.now_ns
        never = np.iinfo(np.int64).max
        n = self._next_new
        due = np.flatnonzero(it.due_ns[:n] <= t)
        if due.shape[0]:
            it.due_ns[due] = never
            z = it.zone[due]
            # fitting -> pos (buy) or floor (put back)
            fit = due[z == FITTING]
            buy = rng.random(fit.shape[0]) < cfg.buy_after_fitting
            self._move(fit[~buy], FLOOR)
            self._move(fit[buy], POS)
            self._schedule(fit[buy], cfg.pos_dwell_s)
            pos = due[z == POS]
            self._move(pos, EXIT)
            self._schedule(pos, cfg.exit_dwell_s)
            ex = due[z == EXIT]
            self._move(ex, GONE)
            self.exits += [ItemExit(t, i, ExitKind.SOLD) for i in ex.tolist()]
        dt_min = self.cycle_ns / NS / 60.0
        floor = np.flatnonzero((it.zone[:n] == FLOOR) & (it.due_ns[:n] == never))
        picks = min(int(rng.poisson(cfg.picks_per_min * dt_min)), floor.shape[0])
        if picks:
            chosen = rng.choice(floor, size=picks, replace=False)
            to_fit = rng.random(picks) < cfg.fitting_share
            self._move(chosen[to_fit], FITTING)
            self._schedule(chosen[to_fit], cfg.fitting_dwell_s)
            self._move(chosen[~to_fit], POS)
            self._schedule(chosen[~to_fit], cfg.pos_dwell_s)
        thefts = int(rng.poisson(cfg.thefts_per_hour * dt_min / 60.0))
        floor = np.flatnonzero((it.zone[:n] == FLOOR) & (it.due_ns[:n] == never))
        if thefts and floor.shape[0]:
            gone = rng.choice(floor, size=min(thefts, floor.shape[0]), replace=False)
            self._move(gone, GONE)
            self.exits += [ItemExit(t, i, ExitKind.STOLEN) for i in gone.tolist()]
        if cfg.restock_every_s > 0 and t >= self._next_restock:
            self._next_restock += round(cfg.restock_every_s * NS)
            back = np.flatnonzero(it.zone[:n] == BACKROOM)
            k = min(cfg.restock_items, back.shape[0])
            self._move(rng.choice(back, size=k, replace=False), FLOOR)
        if cfg.delivery_every_s > 0 and t >= self._next_delivery:
            self._next_delivery += round(cfg.delivery_every_s * NS)
            self._move(self._new_items(cfg.delivery_items), BACKROOM)

    def _reads(self, t0: int) -> list[ReadBatch]:
        cfg, it, rng = self.config, self.items, self.rng
        n = self._next_new
        inside = np.flatnonzero(it.zone[:n] >= 0)
        hit = inside[rng.random(inside.shape[0]) < it.p[inside]]
        reps = rng.integers(1, cfg.max_reads_per_hit + 1, size=hit.shape[0])
        own = np.repeat(hit, reps)
        cand = inside[it.stray_zone[inside] >= 0]
        stray = cand[rng.random(cand.shape[0]) < it.stray_p[cand]]
        item = np.concatenate([own, stray])
        zone = np.concatenate([it.zone[own], it.stray_zone[stray]]).astype(np.int64)
        antenna = np.concatenate([it.antenna[own], np.ones(stray.shape[0], np.int16)])
        rssi = np.concatenate(
            [
                it.rssi[own] + rng.normal(0.0, 2.0, size=own.shape[0]),
                rng.normal(-72.0, 3.0, size=stray.shape[0]),
            ]
        ).astype(np.float32)
        time_ns = np.asarray(t0 + rng.integers(0, self.cycle_ns, size=item.shape[0]), np.int64)
        out: list[ReadBatch] = []
        order = np.lexsort((time_ns, zone))
        zone, item, antenna = zone[order], item[order], antenna[order]
        rssi, time_ns = rssi[order], time_ns[order]
        for z in range(len(READERS)):
            sel = zone == z
            if sel.any():
                out.append(_batch(READERS[z], time_ns[sel], antenna[sel], it.epc[item[sel]], rssi[sel]))
        if self._next_census is not None and t0 >= self._next_census:
            self._next_census += round(cfg.census_every_s * NS)
            zi = _NAMES.index(cfg.census_zone)
            there = np.flatnonzero(it.zone[:n] == zi)
            found = there[rng.random(there.shape[0]) < cfg.census_completeness]
            tc = np.full(found.shape[0], t0 + self.cycle_ns - 1, np.int64)
            rssi_h = np.asarray(rng.normal(-50.0, 3.0, size=found.shape[0]), np.float32)
            out.append(
                _batch(
                    HANDHELD, tc, np.zeros(found.shape[0], np.int16), it.epc[found], rssi_h,
                    census_zone=cfg.census_zone,
                )
            )
        return out

    def step(self) -> list[ReadBatch]:
        """Advance one cycle: move items, then read; the batches of the cycle just ended."""
        self._dynamics()
        t0 = self.now_ns
        batches = self._reads(t0)
        self.now_ns = t0 + self.cycle_ns
        return batches
