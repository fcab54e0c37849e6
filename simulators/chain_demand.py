"""Random draws of a simulated chain, each a pure function of (seed, day): walk-in demand, online
orders and record errors, so every policy faces exactly the same customers."""

from __future__ import annotations

import numpy as np

from allocator.costs import haversine_km
from allocator.model import Order, OrderLine
from simulators.chain_world import FloatArray, IntArray, World

LINES_P = (0.55, 0.25, 0.1, 0.06, 0.04)  # 1..5 lines per order
MEAN_UNITS = 1.75  # mean units per online order (lines x qty)
COLLECT_SHARE = 0.15
NB_SHAPE = 2.0  # negative-binomial shape of walk-in demand


def walk_in(world: World, seed: int, day: int) -> IntArray:
    """(S, G) walk-in demand of `day` (gamma-Poisson = negative binomial)."""
    rng = np.random.default_rng([seed, 2, day])
    mean = world.rate * world.lift(day)[None, :]
    lam = rng.gamma(NB_SHAPE, 1.0 / NB_SHAPE, mean.shape) * mean
    out: IntArray = rng.poisson(lam).astype(np.int64)
    return out


def walk_in_first_half(demand: IntArray, seed: int, day: int) -> IntArray:
    """The part of the day's walk-in demand that comes before the midday online window."""
    rng = np.random.default_rng([seed, 4, day])
    out: IntArray = rng.binomial(demand, 0.5).astype(np.int64)
    return out


def online_orders(world: World, seed: int, day: int, online_share: float) -> list[Order]:
    """The online orders of `day`, in arrival order."""
    rng = np.random.default_rng([seed, 3, day])
    chain = (world.rate * world.lift(day)[None, :]).sum(axis=0)
    total = float(chain.sum())
    if total <= 0 or online_share <= 0:
        return []
    share = min(online_share, 0.95)
    n = int(rng.poisson(total * share / (1 - share) / MEAN_UNITS))
    p = chain / total
    shop_lat = world.lat[world.n_wh:]
    shop_lon = world.lon[world.n_wh:]
    orders: list[Order] = []
    for i in range(n):
        c = int(rng.choice(len(world.city_weight), p=world.city_weight))
        lat = float(world.city_lat[c] + rng.normal(0, 0.3))
        lon = float(world.city_lon[c] + rng.normal(0, 0.3))
        n_lines = int(rng.choice(len(LINES_P), p=LINES_P)) + 1
        picks = rng.choice(len(p), size=n_lines, p=p)
        lines = tuple(
            OrderLine(world.gtins[int(g)], 2 if rng.random() < 0.1 else 1) for g in picks
        )
        collect: str | None = None
        if rng.random() < COLLECT_SHARE:
            s = int(np.argmin(haversine_km(shop_lat, shop_lon, lat, lon)))
            collect = world.shop_ids[s]
        orders.append(Order(f"D{day:03d}-{i:05d}", lines, lat, lon, collect_shop=collect))
    return orders


def record_errors(true: IntArray, accuracy: float, seed: int) -> IntArray:
    """Recorded stock: each cell wrong with probability 1 - accuracy, mostly phantom units."""
    rng = np.random.default_rng([seed, 5])
    wrong = rng.random(true.shape) >= accuracy
    delta = rng.choice(np.array([-2, -1, 1, 2, 3]), size=true.shape,
                       p=[0.12, 0.23, 0.35, 0.2, 0.1])
    rec = np.where(wrong, np.maximum(true + delta, 0), true)
    # A wrong record that clipped back to the truth is still wrong: nudge it up.
    rec = np.where(wrong & (rec == true), true + 1, rec)
    out: IntArray = rec.astype(np.int64)
    return out


#: Forecast error of the pre-season plan (log-normal sigma, mean-one): a style-level error that
#: every shop and size shares (the whole style was over- or under-bought) and a shop x GTIN
#: error (local fit, size curve). Store x SKU forecast errors in fashion run at 50-100% MAPE;
#: these give ~60% of units sold at full price under warehouse-first (Coresight, ref §8).
STYLE_FORECAST_SIGMA = 0.35
CELL_FORECAST_SIGMA = 0.45


def plan_error(shape: tuple[int, int], style: IntArray, seed: int) -> FloatArray:
    """(S, G) planned / true walk-in rate: the forecast the season's allocation was made on."""
    rng = np.random.default_rng([seed, 7])
    n_styles = int(style.max()) + 1 if style.size else 0
    s_err = rng.lognormal(-STYLE_FORECAST_SIGMA**2 / 2, STYLE_FORECAST_SIGMA, n_styles)
    c_err = rng.lognormal(-CELL_FORECAST_SIGMA**2 / 2, CELL_FORECAST_SIGMA, shape)
    out: FloatArray = s_err[style][None, :] * c_err
    return out


def sales_history(rate: FloatArray, days: IntArray, seed: int) -> FloatArray:
    """(S, G) walk-in units sold over the `days` (G,) before day 0 (what RFID has seen)."""
    rng = np.random.default_rng([seed, 8])
    out: FloatArray = rng.poisson(rate * days[None, :]).astype(np.float64)
    return out
