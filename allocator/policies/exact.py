"""Exact per-order optimum: enumeration of parcel sets for small orders, HiGHS MILP otherwise.

Enumeration is exact over allocations that keep each line whole at one node: with the set S of
nodes that ship a parcel fixed, each line independently takes its cheapest node in S (or stays
unfilled), so cost(S) = Σ_{n∈S} F_n + Σ_l min(min_{n∈S} c[n,l], ρ_l q_l). Nodes are pruned with a
bound that cannot drop an optimal node (any solution using n costs at least F_n + LB + the
least extra cost of n over the best node of some line), set sizes stop once s·min F + LB passes
the incumbent. If a line can only be filled by splitting it, if the optimum breaks a capacity,
or the enumeration grows too large, the MILP decides.
"""

from __future__ import annotations

import logging
from itertools import combinations
from math import comb

import numpy as np

from allocator import highs_model
from allocator.decision import Solver
from allocator.policies.problem import FloatArray, OrderProblem, Terms

logger = logging.getLogger(__name__)

Taken = dict[tuple[int, int], int]

MAX_SUBSETS = 20_000
_EPS = 1e-9


def line_costs(pr: OrderProblem, terms: Terms) -> FloatArray:
    """(K, L) cost of serving each line whole from each candidate (inf where it cannot)."""
    take = np.broadcast_to(pr.qty[None, :], pr.avail.shape).astype(np.int64)
    c = pr.unit_cost(terms) * pr.qty[None, :]
    if terms.opportunity:
        c = c + pr.phi(take)
    out: FloatArray = np.where(pr.avail >= pr.qty[None, :], c, np.inf)
    return out


def enumerate_order(
    pr: OrderProblem, terms: Terms, n_alternatives: int = 0
) -> tuple[Taken, list[Taken]] | None:
    """Best whole-line allocation and runners-up; None when the MILP must decide."""
    qty = pr.qty
    whole = pr.avail >= qty[None, :]
    if ((~whole.any(axis=0)) & (pr.avail.sum(axis=0) > 0)).any():
        return None  # some line can only be filled by a split
    if pr.overtime_rate > 0 and (pr.cap_soft < qty.sum()).any():
        return None  # overtime is not separable by line
    c = line_costs(pr, terms)
    u = pr.rho * qty
    cc = np.minimum(c, u[None, :])
    m = cc.min(axis=0) if pr.n_nodes else u
    lb = float(m.sum())
    single = pr.parcel + cc.sum(axis=1)
    ub = min(float(u.sum()), float(single.min()))
    gain = (c - m[None, :]).min(axis=1)
    useful = (c < u[None, :]).any(axis=1)
    keep = useful & ((pr.parcel + lb + gain < ub - _EPS) | (single <= ub + _EPS))
    cand = np.flatnonzero(keep)
    f = pr.parcel[cand]
    sub = cc[cand]  # (K', L)
    scored: list[tuple[float, tuple[int, ...]]] = [(float(u.sum()), ())]
    best = scored[0][0]
    fmin = float(f.min()) if cand.size else 0.0
    for s in range(1, min(pr.n_lines, cand.size) + 1):
        if s * fmin + lb >= best - _EPS and len(scored) > n_alternatives:
            break
        if comb(cand.size, s) > MAX_SUBSETS:
            return None
        combos = np.array(list(combinations(range(cand.size), s)), dtype=np.int64)
        totals = f[combos].sum(axis=1) + np.minimum(sub[combos].min(axis=1), u[None, :]).sum(axis=1)
        order = np.argsort(totals, kind="stable")[: n_alternatives + 1]
        for i in order.tolist():
            scored.append((float(totals[i]), tuple(combos[i].tolist())))
        best = min(best, float(totals[order[0]]))
    scored.sort(key=lambda t: t[0])
    seen: set[tuple[tuple[tuple[int, int], int], ...]] = set()
    results: list[Taken] = []
    for _cost, subset in scored:
        taken = _assign(cand, subset, sub, u, qty)
        key = tuple(sorted(taken.items()))
        if key in seen:
            continue
        seen.add(key)
        results.append(taken)
        if len(results) > n_alternatives:
            break
    best_taken = results[0]
    per_node = np.zeros(pr.n_nodes, dtype=np.int64)
    for (k, _), units in best_taken.items():
        per_node[k] += units
    if (per_node > pr.cap_hard).any():
        return None
    return best_taken, results[1:]


def _assign(
    cand: np.ndarray, subset: tuple[int, ...], sub: FloatArray, u: FloatArray, qty: np.ndarray
) -> Taken:
    taken: Taken = {}
    if not subset:
        return taken
    idx = np.array(subset, dtype=np.int64)
    part = sub[idx]  # (s, L)
    arg = part.argmin(axis=0)
    for ln in range(sub.shape[1]):
        if part[arg[ln], ln] < u[ln] - _EPS:
            taken[(int(cand[idx[arg[ln]]]), ln)] = int(qty[ln])
    return taken


def solve_order(
    pr: OrderProblem, terms: Terms, n_alternatives: int = 0
) -> tuple[Taken, Solver, list[Taken]]:
    """Exact optimum of one order (the policy core of `cheapest` and `shelfsight`)."""
    found = enumerate_order(pr, terms, n_alternatives)
    if found is not None:
        return found[0], Solver.ENUMERATION, found[1]
    result = highs_model.solve([pr], terms, time_limit=1.0, mip_rel_gap=1e-6)
    return result.taken[0], Solver.MILP, []
