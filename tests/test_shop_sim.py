"""The simulated shop: deterministic, reads only what is there, ground truth consistent."""

from __future__ import annotations

import numpy as np

from gateway.presence.zones import ZoneMap
from simulators.shop import (
    EXIT,
    FLOOR,
    ZONES,
    ExitKind,
    ShopConfig,
    ShopSim,
    gtin14,
    gtin_index_of_epc,
    zone_map,
)


def small(**kw: object) -> ShopSim:
    cfg = ShopConfig(items=200, gtins=20, picks_per_min=30.0, restock_every_s=30.0,
                     delivery_every_s=40.0, delivery_items=5, thefts_per_hour=60.0, **kw)  # type: ignore[arg-type]
    return ShopSim(cfg, seed=5)


def test_same_seed_same_reads_and_truth() -> None:
    a, b = small(), small()
    for _ in range(30):
        ba, bb = a.step(), b.step()
        assert [x.reader for x in ba] == [x.reader for x in bb]
        for x, y in zip(ba, bb, strict=True):
            assert np.array_equal(x.time_ns, y.time_ns) and list(x.epc) == list(y.epc)
    assert np.array_equal(a.true_zone, b.true_zone)


def test_reads_come_from_items_in_the_shop_within_the_cycle() -> None:
    sim = small()
    zm = ZoneMap(zone_map(), ZONES)
    serial_to_item = {bytes(e): i for i, e in enumerate(sim.items.epc)}
    own = stray = 0
    for _ in range(120):
        t0 = sim.now_ns
        batches = sim.step()
        truth = sim.true_zone
        for b in batches:
            assert np.all((b.time_ns >= t0) & (b.time_ns < sim.now_ns))
            zones = zm.resolve(b.reader, b.antenna)
            for e, z in zip(b.epc, zones, strict=True):
                i = serial_to_item[e]
                assert truth[i] >= 0, "read of an item not in the shop"
                if z == truth[i]:
                    own += 1
                else:
                    stray += 1
    assert own > 0 and 0 < stray < own / 10


def test_log_replays_to_the_true_zones_and_sales_pass_the_exit() -> None:
    sim = small()
    for _ in range(600):
        sim.step()
    names = list(ZONES)
    replay = np.full(sim.true_zone.shape[0], -1)
    last_from: dict[int, str | None] = {}
    for ch in sim.log:
        replay[ch.item] = -1 if ch.to_zone is None else names.index(ch.to_zone)
        if ch.to_zone is None:
            last_from[ch.item] = ch.from_zone
    assert np.array_equal(replay, sim.true_zone)
    sold = [x for x in sim.exits if x.kind is ExitKind.SOLD]
    stolen = [x for x in sim.exits if x.kind is ExitKind.STOLEN]
    assert sold and stolen
    assert all(last_from[x.item] == names[EXIT] for x in sold)
    assert all(last_from[x.item] == names[FLOOR] for x in stolen)
    assert sim.epcs.shape[0] > 200  # deliveries arrived


def test_read_rate_is_in_the_configured_band() -> None:
    sim = ShopSim(ShopConfig(items=100, picks_per_min=0.0, thefts_per_hour=0.0, restock_every_s=0.0,
                             delivery_every_s=0.0, stray_share=0.0), seed=2)
    seen = np.zeros(100)
    cycles = 400
    for _ in range(cycles):
        hit = set()
        for b in sim.step():
            hit.update(b.epc.tolist())
        for e in hit:
            seen[int.from_bytes(e[6:], "big") - 1] += 1
    rate = seen / cycles
    assert rate.min() > 0.55 and rate.max() < 0.95
    assert np.allclose(rate, sim.items.p[:100], atol=0.1)


def test_gtin_rule_and_check_digit() -> None:
    sim = small()
    assert all(gtin_index_of_epc(bytes(e)) == g for e, g in zip(sim.epcs, sim.gtin_index, strict=True))
    for g in (0, 7, 19, 12345):
        code = gtin14(g)
        assert len(code) == 14 and code.isdigit()
        digits = [int(d) for d in code]
        weighted = sum(d * (3 if i % 2 == 0 else 1) for i, d in enumerate(digits[:13]))
        assert (weighted + digits[13]) % 10 == 0
    assert gtin14(0)[:-1] == "0401234500000"
