"""Rule-based baselines: warehouse-first, closest node with fewest splits, HotWax-like rules.

Each respects stock, hard pick capacity and click-and-collect (through `run_core`); none
looks at the opportunity cost or the record confidence.
"""

from __future__ import annotations

import numpy as np

from allocator.decision import Solver
from allocator.policies.problem import IntArray, OrderProblem

Taken = dict[tuple[int, int], int]


def _greedy(pr: OrderProblem, atp: IntArray, ranking: IntArray, taken: Taken, cap: IntArray) -> None:
    """Fill each line's remaining units from nodes in `ranking` order (splitting if needed)."""
    got = np.zeros(pr.n_lines, dtype=np.int64)
    for (_, ln), units in taken.items():
        got[ln] += units
    for ln in range(pr.n_lines):
        need = int(pr.qty[ln] - got[ln])
        for k in ranking.tolist():
            if need <= 0:
                break
            units = min(need, int(atp[k, ln]), int(cap[k]))
            if units > 0:
                taken[(k, ln)] = taken.get((k, ln), 0) + units
                atp[k, ln] -= units
                cap[k] -= units
                need -= units


def _single_node(pr: OrderProblem, atp: IntArray, ranking: IntArray) -> int | None:
    """First node in `ranking` that can ship the whole order in one parcel."""
    whole = (atp >= pr.qty[None, :]).all(axis=1) & (pr.cap_hard >= pr.qty.sum())
    for k in ranking.tolist():
        if whole[k]:
            return int(k)
    return None


def warehouse_first(pr: OrderProblem) -> tuple[Taken, Solver, list[Taken]]:
    """Warehouses (nearest first), then shops by distance; no consolidation logic."""
    ranking = np.lexsort((pr.dist, pr.is_shop)).astype(np.int64)
    taken: Taken = {}
    _greedy(pr, pr.avail.copy(), ranking, taken, pr.cap_hard.copy())
    return taken, Solver.RULE, []


def closest(pr: OrderProblem) -> tuple[Taken, Solver, list[Taken]]:
    """Shopify-like: fewest parcels first, then the closest node; greedy set cover."""
    atp = pr.avail.copy()
    cap = pr.cap_hard.copy()
    taken: Taken = {}
    open_lines = set(range(pr.n_lines))
    while open_lines:
        lines = np.array(sorted(open_lines), dtype=np.int64)
        can = (atp[:, lines] >= pr.qty[lines][None, :]) & (cap[:, None] >= pr.qty[lines][None, :])
        cover = can.sum(axis=1)
        if cover.max(initial=0) == 0:
            break
        k = int(np.lexsort((pr.dist, -cover))[0])
        for j, ln in enumerate(lines.tolist()):
            q = int(pr.qty[ln])
            if can[k, j] and cap[k] >= q:
                taken[(k, ln)] = q
                atp[k, ln] -= q
                cap[k] -= q
                open_lines.discard(ln)
    _greedy(pr, atp, np.argsort(pr.dist, kind="stable").astype(np.int64), taken, cap)
    return taken, Solver.RULE, []


def hotwax_rules(
    pr: OrderProblem, safety_stock: int = 2, radius_km: float = 800.0
) -> tuple[Taken, Solver, list[Taken]]:
    """HotWax-like: warehouses, then shops within `radius_km` with ATP = stock − safety stock,
    sorted by inventory balance (most ATP first); one parcel if any node can, else split."""
    atp = pr.avail.copy()
    shop = pr.is_shop
    atp[shop] = np.maximum(atp[shop] - safety_stock, 0)
    far = shop & (pr.dist > radius_km)
    if pr.collect >= 0:
        far[pr.collect] = False
    atp[far] = 0
    balance = atp.sum(axis=1)
    ranking = np.lexsort((pr.dist, -balance, shop)).astype(np.int64)
    k = _single_node(pr, atp, ranking)
    taken: Taken = {}
    if k is not None:
        for ln in range(pr.n_lines):
            taken[(k, ln)] = int(pr.qty[ln])
        return taken, Solver.RULE, []
    _greedy(pr, atp, ranking, taken, pr.cap_hard.copy())
    return taken, Solver.RULE, []
