"""The static world of a simulated chain: places, shops, warehouses, products, calendars.

Everything is drawn from the seed alone (common random numbers: every policy sees the same
world, the same walk-in demand and the same online orders).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

# (name, lat, lon, population in thousands): US metro cores.
CITIES: tuple[tuple[str, float, float, int], ...] = (
    ("New York", 40.71, -74.01, 8336), ("Los Angeles", 34.05, -118.24, 3979),
    ("Chicago", 41.88, -87.63, 2694), ("Houston", 29.76, -95.37, 2320),
    ("Phoenix", 33.45, -112.07, 1680), ("Philadelphia", 39.95, -75.17, 1584),
    ("San Antonio", 29.42, -98.49, 1547), ("San Diego", 32.72, -117.16, 1424),
    ("Dallas", 32.78, -96.80, 1343), ("San Jose", 37.34, -121.89, 1022),
    ("Austin", 30.27, -97.74, 978), ("Jacksonville", 30.33, -81.66, 911),
    ("Columbus", 39.96, -83.00, 898), ("Charlotte", 35.23, -80.84, 885),
    ("San Francisco", 37.77, -122.42, 881), ("Indianapolis", 39.77, -86.16, 876),
    ("Seattle", 47.61, -122.33, 753), ("Denver", 39.74, -104.99, 727),
    ("Washington", 38.91, -77.04, 705), ("Boston", 42.36, -71.06, 692),
    ("Nashville", 36.16, -86.78, 670), ("Detroit", 42.33, -83.05, 670),
    ("Portland", 45.52, -122.68, 654), ("Las Vegas", 36.17, -115.14, 651),
    ("Memphis", 35.15, -90.05, 651), ("Louisville", 38.25, -85.76, 617),
    ("Baltimore", 39.29, -76.61, 593), ("Milwaukee", 43.04, -87.91, 590),
    ("Albuquerque", 35.08, -106.65, 560), ("Tucson", 32.22, -110.97, 548),
    ("Fresno", 36.74, -119.79, 531), ("Sacramento", 38.58, -121.49, 513),
    ("Kansas City", 39.10, -94.58, 495), ("Atlanta", 33.75, -84.39, 498),
    ("Miami", 25.76, -80.19, 467), ("Raleigh", 35.78, -78.64, 474),
    ("Omaha", 41.26, -95.93, 478), ("Minneapolis", 44.98, -93.27, 429),
    ("Tulsa", 36.15, -95.99, 401), ("Cleveland", 41.50, -81.69, 381),
    ("New Orleans", 29.95, -90.07, 390), ("Tampa", 27.95, -82.46, 399),
    ("Pittsburgh", 40.44, -79.99, 300), ("Cincinnati", 39.10, -84.51, 303),
    ("St. Louis", 38.63, -90.20, 300), ("Orlando", 28.54, -81.38, 287),
    ("Salt Lake City", 40.76, -111.89, 200), ("Richmond", 37.54, -77.44, 230),
    ("Buffalo", 42.89, -78.88, 255), ("Boise", 43.62, -116.20, 228),
)

# Fulfilment centres of the public benchmark family (Ma's code): OAK4, IND1, AVP3.
WAREHOUSES: tuple[tuple[str, float, float], ...] = (
    ("WH-IND1", 39.99, -86.35), ("WH-AVP3", 40.95, -75.97), ("WH-OAK4", 37.73, -121.43),
)

# Markdown steps at week 8 (−30%) and week 11 (−50%) of a 14-week life, as shares of each
# SKU's life so that whole life cycles fit the simulated horizon.
MARKDOWN_AT = (8 / 14, 11 / 14)
MARKDOWN_FACTORS = (1.0, 0.7, 0.5)
DEMAND_LIFT = (1.0, 1.6, 2.2)  # walk-in demand multiplier per price tier
SALVAGE_FACTOR = 0.25
SIZE_SHARES = (0.2, 0.3, 0.3, 0.2)
#: Warehouse re-buys: reviewed weekly, arriving after a two-week near-shore lead time, and only
#: while they arrive before the style's first markdown (nobody re-buys a style headed for the
#: sale). Like the markdown calendar, weeks are shares of a 14-week life.
REBUY_LEAD = 2 / 14
REBUY_REVIEW = 1 / 14
REBUY_SERVICE_Z = 1.28  # order-up-to level: mean + z.sd of demand over lead time + review


@dataclass(frozen=True, eq=False)
class World:
    shop_ids: tuple[str, ...]
    wh_ids: tuple[str, ...]
    lat: FloatArray  # (N,) warehouses first, then shops
    lon: FloatArray
    n_wh: int
    gtins: tuple[str, ...]
    full_price: FloatArray  # (G,)
    unit_cost: FloatArray
    salvage: FloatArray
    age0: IntArray  # (G,) age in days at day 0
    life: IntArray  # (G,) life-cycle length in days
    md1: IntArray  # (G,) age of the first markdown
    md2: IntArray  # (G,) age of the second markdown
    rate: FloatArray  # (S, G) base walk-in units/day at full price
    fast: NDArray[np.bool_]  # (G,) the fast movers (top 20% by chain rate)
    style: IntArray  # (G,) style of each GTIN (sizes of a style share forecast errors)
    city_lat: FloatArray
    city_lon: FloatArray
    city_weight: FloatArray

    @property
    def n_shops(self) -> int:
        return len(self.shop_ids)

    def tier(self, day: int) -> IntArray:
        """(G,) price tier 0 (full), 1, 2 on `day`; -1 once past end of life."""
        age = self.age0 + day
        t = (age >= self.md1).astype(np.int64) + (age >= self.md2)
        out: IntArray = np.where(age >= self.life, -1, t)
        return out

    def price(self, day: int) -> FloatArray:
        t = self.tier(day)
        out: FloatArray = self.full_price * np.asarray(MARKDOWN_FACTORS)[np.maximum(t, 0)]
        return out

    def lift(self, day: int) -> FloatArray:
        t = self.tier(day)
        out: FloatArray = np.where(t < 0, 0.0, np.asarray(DEMAND_LIFT)[np.maximum(t, 0)])
        return out

    def calendar(self, day: int) -> tuple[FloatArray, FloatArray, FloatArray]:
        """(G,) days to the next markdown (= days to end if none), its price, days to end."""
        age = self.age0 + day
        to_end = (self.life - age).astype(np.float64)
        nxt = np.where(age < self.md1, self.md1, np.where(age < self.md2, self.md2, self.life))
        to_md = np.minimum(nxt - age, to_end).astype(np.float64)
        t = np.maximum(self.tier(day), 0)
        md_price = self.full_price * np.asarray(MARKDOWN_FACTORS)[np.minimum(t + 1, 2)]
        return to_md, md_price, to_end


def build_world(seed: int, stores: int, skus: int, days: int, warehouses: int) -> World:
    rng = np.random.default_rng([seed, 1])
    pop = np.array([c[3] for c in CITIES], dtype=np.float64)
    weight = pop / pop.sum()
    clat = np.array([c[1] for c in CITIES])
    clon = np.array([c[2] for c in CITIES])
    city = rng.choice(len(CITIES), size=stores, p=weight)
    slat = clat[city] + rng.normal(0, 0.06, stores)
    slon = clon[city] + rng.normal(0, 0.06, stores)
    wh = WAREHOUSES[:warehouses]
    lat = np.concatenate([[w[1] for w in wh], slat])
    lon = np.concatenate([[w[2] for w in wh], slon])

    styles = -(-skus // len(SIZE_SHARES))
    style_rate = rng.lognormal(np.log(0.12), 1.0, styles)
    style_price = np.round(rng.uniform(20, 120, styles), 0)
    remaining = rng.integers(max(int(days * 0.75), 1), days + 1, styles)
    frac = rng.uniform(0.0, 0.35, styles)  # share of its life a style has lived at day 0
    life_s = np.round(remaining / (1 - frac)).astype(np.int64)
    age_s = life_s - remaining
    g_style = np.repeat(np.arange(styles), len(SIZE_SHARES))[:skus]
    g_size = np.tile(np.arange(len(SIZE_SHARES)), styles)[:skus]
    shop_size = rng.lognormal(0.0, 0.4, stores)
    taste = rng.lognormal(0.0, 0.5, (stores, styles))  # local assortment fit
    rate = (shop_size[:, None] * taste[:, g_style] * style_rate[g_style][None, :]
            * np.asarray(SIZE_SHARES)[g_size][None, :])
    chain = rate.sum(axis=0)
    fast = chain >= np.quantile(chain, 0.8)
    price = style_price[g_style]
    return World(
        shop_ids=tuple(f"S{i:03d}" for i in range(stores)),
        wh_ids=tuple(w[0] for w in wh),
        lat=lat, lon=lon, n_wh=len(wh),
        gtins=tuple(f"{9_500_000_000_000 + i:014d}" for i in range(skus)),
        full_price=price, unit_cost=np.round(price * 0.45, 2),
        salvage=np.round(price * SALVAGE_FACTOR, 2),
        age0=age_s[g_style].astype(np.int64), life=life_s[g_style].astype(np.int64),
        md1=np.round(life_s * MARKDOWN_AT[0]).astype(np.int64)[g_style],
        md2=np.round(life_s * MARKDOWN_AT[1]).astype(np.int64)[g_style],
        rate=rate, fast=fast, style=g_style.astype(np.int64), city_lat=clat, city_lon=clon,
        city_weight=weight,
    )


def full_price_days(world: World) -> IntArray:
    """(G,) days from day 0 until each GTIN's first markdown."""
    out: IntArray = np.maximum(world.md1 - world.age0, 0).astype(np.int64)
    return out


def rebuy_lead(world: World) -> IntArray:
    """(G,) days from a warehouse re-buy to its arrival."""
    out: IntArray = np.maximum(np.round(world.life * REBUY_LEAD), 1).astype(np.int64)
    return out


def rebuy_review(world: World) -> IntArray:
    """(G,) days between two re-buy reviews of a GTIN."""
    out: IntArray = np.maximum(np.round(world.life * REBUY_REVIEW), 1).astype(np.int64)
    return out


def rebuy_open(world: World, day: int) -> NDArray[np.bool_]:
    """(G,) whether a warehouse re-buy placed on `day` would arrive before the first markdown."""
    out: NDArray[np.bool_] = day + rebuy_lead(world) <= full_price_days(world)
    return out


def expected_remaining(world: World, rate: FloatArray) -> FloatArray:
    """Expected walk-in units over the rest of each GTIN's life from day 0 (per row of `rate`)."""
    total = np.zeros(rate.shape, dtype=np.float64)
    horizon = int((world.life - world.age0).max())
    for d in range(horizon):
        total += rate * world.lift(d)[None, :]
    return total
