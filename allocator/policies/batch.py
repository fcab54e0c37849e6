"""Micro-batch: one MILP over a window of orders that share stock and pick capacity."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from allocator import highs_model
from allocator.config import CostConfig
from allocator.decision import Decision, Solver
from allocator.model import Order, StockSnapshot
from allocator.policies.base import build_decision, merge
from allocator.policies.problem import OrderProblem, Terms, prepare, subset

logger = logging.getLogger(__name__)

Taken = dict[tuple[int, int], int]


def decide_window(
    name: str,
    terms: Terms,
    orders: Sequence[Order],
    snap: StockSnapshot,
    costs: CostConfig,
    time_limit: float,
) -> list[Decision]:
    """Click-and-collect lines first (in arrival order), then one MILP for the rest."""
    problems = [prepare(o, snap, costs, terms) for o in orders]
    used_cap: dict[int, int] = {}
    used_stock: dict[tuple[int, int], int] = {}
    forced_all: list[Taken] = []
    residuals: list[OrderProblem] = []
    backs: list[np.ndarray] = []
    for pr in problems:
        forced: Taken = {}
        c = pr.collect
        if c >= 0:
            node = int(pr.nodes[c])
            for ln in range(pr.n_lines):
                q = int(pr.qty[ln])
                key = (node, int(pr.cols[ln]))
                stock_left = int(pr.avail[c, ln]) - used_stock.get(key, 0)
                cap_left = int(pr.cap_hard[c]) - used_cap.get(node, 0)
                if stock_left >= q and cap_left >= q:
                    forced[(c, ln)] = q
                    used_stock[key] = used_stock.get(key, 0) + q
                    used_cap[node] = used_cap.get(node, 0) + q
        rest = np.array(
            [ln for ln in range(pr.n_lines) if (c, ln) not in forced], dtype=np.int64
        )
        residuals.append(subset(pr, rest, np.zeros(pr.n_nodes, dtype=np.int64)))
        backs.append(rest)
        forced_all.append(forced)
    live = [i for i, r in enumerate(residuals) if r.n_lines and r.n_nodes]
    taken_all: list[Taken] = [{} for _ in problems]
    if live:
        result = highs_model.solve(
            [residuals[i] for i in live], terms, time_limit=time_limit, mip_rel_gap=1e-4,
            used_capacity=used_cap, used_stock=used_stock,
        )
        logger.debug("window of %d orders: %s", len(orders), result.status)
        for i, taken in zip(live, result.taken, strict=True):
            taken_all[i] = taken
    return [
        build_decision(name, pr, snap, merge(forced, taken, back), Solver.MILP)
        for pr, forced, taken, back in zip(problems, forced_all, taken_all, backs, strict=True)
    ]
