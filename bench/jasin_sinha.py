"""The Jasin–Sinha multi-item fulfilment instance family (warm-up network), costs / DLP bound.

As coded in Ma's public code (reference/allocation.md §5): $8.759 per package + ($0.423 +
$0.000541 x miles) per item; an unfilled item goes to a virtual node costing twice the package
and twice the per-item rate at the network's largest distance; 10 US cities weighted by
population, 5 FCs, 20 items, 5 random order types per size 1-5 plus the empty order; each FC
carries each item with probability 0.75; stock = expected demand routed to the closest
carrying FC + 0.5 sigma.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linprog
from scipy.sparse import coo_matrix

from allocator.costs import haversine_km

FloatArray = NDArray[np.float64]

PACKAGE = 8.759
PER_ITEM = 0.423
PER_MILE = 0.000541
CITIES = (
    (40.71, -74.01, 8336), (34.05, -118.24, 3979), (41.88, -87.63, 2694), (29.76, -95.37, 2320),
    (33.45, -112.07, 1680), (39.95, -75.17, 1584), (29.42, -98.49, 1547), (32.72, -117.16, 1424),
    (32.78, -96.80, 1343), (37.34, -121.89, 1022),
)
FCS = ((37.73, -121.43), (39.99, -86.35), (40.95, -75.97), (33.97, -81.12), (32.97, -97.31))
N_ITEMS = 20


@dataclass(frozen=True, eq=False)
class Instance:
    city_p: FloatArray  # (C,)
    types: tuple[tuple[int, ...], ...]  # item sets, first is the empty order
    type_p: FloatArray  # (Ty,)
    cost: FloatArray  # (C, K+1, ) per-item cost from FC k (last = virtual) to city c
    stock: NDArray[np.int64]  # (K, I)
    fixed: FloatArray  # (K+1,) per package (last = virtual)
    horizon: int


def make_instance(seed: int, horizon: int) -> Instance:
    rng = np.random.default_rng([seed, 11])
    pop = np.array([c[2] for c in CITIES], dtype=np.float64)
    city_p = pop / pop.sum()
    miles = haversine_km(
        np.array([f[0] for f in FCS])[None, :], np.array([f[1] for f in FCS])[None, :],
        np.array([c[0] for c in CITIES])[:, None], np.array([c[1] for c in CITIES])[:, None],
    ) / 1.609344
    virtual_item = 2 * (PER_ITEM + PER_MILE * float(miles.max()))
    cost = np.hstack([PER_ITEM + PER_MILE * miles, np.full((len(CITIES), 1), virtual_item)])
    types: list[tuple[int, ...]] = [()]
    for size in range(1, 6):
        for _ in range(5):
            types.append(tuple(sorted(rng.choice(N_ITEMS, size=size, replace=False).tolist())))
    type_p = rng.uniform(0, 1, len(types))
    type_p /= type_p.sum()
    carries = rng.random((len(FCS), N_ITEMS)) < 0.75
    for i in range(N_ITEMS):
        if not carries[:, i].any():
            carries[rng.integers(len(FCS)), i] = True
    item_p = np.zeros(N_ITEMS)
    for t, p in zip(types, type_p, strict=True):
        for i in t:
            item_p[i] += p
    mean = np.zeros((len(FCS), N_ITEMS))
    for c in range(len(CITIES)):
        for i in range(N_ITEMS):
            ks = np.flatnonzero(carries[:, i])
            k = ks[np.argmin(miles[c, ks])]
            mean[k, i] += horizon * city_p[c] * item_p[i]
    stock = np.where(carries, np.floor(mean + 0.5 * np.sqrt(mean)), 0).astype(np.int64)
    fixed = np.append(np.full(len(FCS), PACKAGE), 2 * PACKAGE)
    return Instance(city_p, tuple(types), type_p, cost, stock, fixed, horizon)


def arrivals(inst: Instance, seed: int) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    rng = np.random.default_rng([seed, 12])
    return (rng.choice(len(inst.city_p), size=inst.horizon, p=inst.city_p),
            rng.choice(len(inst.types), size=inst.horizon, p=inst.type_p))


def _best(inst: Instance, c: int, items: tuple[int, ...], stock: NDArray[np.int64],
          bid: FloatArray | None) -> tuple[float, list[int]]:
    """Exact cheapest node per item (virtual = K) over all package sets; bid prices added."""
    k_virtual = len(FCS)
    idx = np.array(items)
    per = np.where(stock[:, idx] > 0, inst.cost[c, :k_virtual, None], np.inf)  # (K, n)
    if bid is not None:
        per = per + bid[:, idx]
    per = np.vstack([per, np.full((1, len(items)), inst.cost[c, k_virtual])])
    best_cost: float = np.inf
    best_set: tuple[int, ...] = (k_virtual,)
    for s in range(1, min(len(items), k_virtual + 1) + 1):
        for subset in combinations(range(k_virtual + 1), s):
            total = inst.fixed[list(subset)].sum() + per[list(subset)].min(axis=0).sum()
            if total < best_cost:
                best_cost, best_set = float(total), subset
    sub = list(best_set)
    choice = [sub[int(j)] for j in per[sub].argmin(axis=0)]
    return best_cost, choice


def _true_cost(inst: Instance, c: int, choice: list[int]) -> float:
    nodes = set(choice)
    return float(inst.fixed[list(nodes)].sum() + inst.cost[c, choice].sum())


def _dlp(inst: Instance, counts: FloatArray, stock: NDArray[np.int64]) -> tuple[float, FloatArray]:
    """LP bound for (C, Ty) expected/realised counts; returns cost and stock duals (K, I)."""
    k_all = len(FCS) + 1
    cols_cost: list[float] = []
    r: list[int] = []
    cc: list[int] = []
    v: list[float] = []
    b_eq: list[float] = []
    b_ub: list[float] = []
    ub_rows: list[tuple[int, int, float]] = []  # (row, col, val) for inequality rows
    stock_row = {(k, i): n for n, (k, i) in enumerate(np.ndindex(len(FCS), N_ITEMS))}
    n_stock = len(stock_row)
    b_ub.extend(float(stock[k, i]) for k, i in np.ndindex(len(FCS), N_ITEMS))
    for c in range(len(CITIES)):
        for t, items in enumerate(inst.types):
            n = float(counts[c, t])
            if n <= 0 or not items:
                continue
            ys = []
            for k in range(k_all):
                ys.append(len(cols_cost))
                cols_cost.append(n * inst.fixed[k])
            for i in items:
                row = len(b_eq)
                b_eq.append(1.0)
                for k in range(k_all):
                    if k < len(FCS) and stock[k, i] <= 0:
                        continue
                    x = len(cols_cost)
                    cols_cost.append(n * inst.cost[c, k])
                    r.append(row)
                    cc.append(x)
                    v.append(1.0)
                    link = len(b_ub)
                    ub_rows.append((link, x, 1.0))
                    ub_rows.append((link, ys[k], -1.0))
                    b_ub.append(0.0)
                    if k < len(FCS):
                        ub_rows.append((stock_row[(k, i)], x, n))
    nv = len(cols_cost)
    a_eq = coo_matrix((v, (r, cc)), shape=(len(b_eq), nv)).tocsr()
    ur, uc, uv = zip(*ub_rows, strict=True)
    a_ub = coo_matrix((uv, (ur, uc)), shape=(len(b_ub), nv)).tocsr()
    res = linprog(np.array(cols_cost), A_ub=a_ub, b_ub=np.array(b_ub), A_eq=a_eq,
                  b_eq=np.array(b_eq), bounds=(0, 1), method="highs")
    duals = -np.asarray(res.ineqlin.marginals[:n_stock]).reshape(len(FCS), N_ITEMS)
    return float(res.fun), duals


def simulate(inst: Instance, seed: int, policy: str, resolve_every: int = 500) -> dict[str, float]:
    cities, types = arrivals(inst, seed)
    stock = inst.stock.copy()
    total, packages, unfilled = 0.0, 0, 0
    bid: FloatArray | None = None
    cap = float(inst.cost[0, -1] + inst.fixed[-1])
    for t in range(inst.horizon):
        items = inst.types[types[t]]
        if policy == "bid-price" and t % resolve_every == 0:
            remaining = np.outer(inst.city_p, inst.type_p) * (inst.horizon - t)
            _, duals = _dlp(inst, remaining, stock)
            bid = np.minimum(duals, cap)
        if not items:
            continue
        c = int(cities[t])
        if policy == "closest":
            choice = []
            for i in items:
                ks = np.flatnonzero(stock[:, i] > 0)
                choice.append(int(ks[np.argmin(inst.cost[c, ks])]) if ks.size else len(FCS))
        else:
            _, choice = _best(inst, c, items, stock, bid if policy == "bid-price" else None)
        for i, k in zip(items, choice, strict=True):
            if k < len(FCS):
                stock[k, i] -= 1
            else:
                unfilled += 1
        total += _true_cost(inst, c, choice)
        packages += len(set(choice))
    return {"cost": total, "packages": packages, "unfilled": unfilled}


def run(instances: int = 2, sequences: int = 2, horizon: int = 2000) -> dict[str, Any]:
    """Cost / DLP per policy (mean, sd), packages, unfilled units, and the gap closed."""
    policies = ("closest", "cheapest", "bid-price")
    ratios: dict[str, list[float]] = {p: [] for p in (*policies, "hindsight-lp")}
    extra: dict[str, list[tuple[int, int]]] = {p: [] for p in policies}
    for s in range(instances):
        inst = make_instance(s + 1, horizon)
        dlp, _ = _dlp(inst, np.outer(inst.city_p, inst.type_p) * horizon, inst.stock)
        for q in range(sequences):
            seq = 100 * (s + 1) + q
            cities, types = arrivals(inst, seq)
            counts = np.zeros((len(CITIES), len(inst.types)))
            np.add.at(counts, (cities, types), 1.0)
            hind, _ = _dlp(inst, counts, inst.stock)
            ratios["hindsight-lp"].append(hind / dlp)
            for p in policies:
                out = simulate(inst, seq, p)
                ratios[p].append(out["cost"] / dlp)
                extra[p].append((int(out["packages"]), int(out["unfilled"])))
    mean = {p: float(np.mean(v)) for p, v in ratios.items()}
    gap = mean["closest"] - mean["hindsight-lp"]
    result: dict[str, Any] = {
        "instances": instances, "sequences": sequences, "orders_per_sequence": horizon,
        "policies": {},
    }
    for p, v in ratios.items():
        entry: dict[str, Any] = {"cost_over_dlp": round(mean[p], 4),
                                 "sd": round(float(np.std(v, ddof=1)) if len(v) > 1 else 0.0, 4)}
        if p in extra:
            entry["packages_per_1k_orders"] = round(
                1000 * float(np.mean([e[0] for e in extra[p]])) / horizon, 1)
            entry["unfilled_units"] = float(np.mean([e[1] for e in extra[p]]))
            entry["gap_closed"] = round((mean["closest"] - mean[p]) / gap, 3) if gap > 0 else None
        result["policies"][p] = entry
    return result
