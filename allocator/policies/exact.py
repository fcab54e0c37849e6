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
from dataclasses import replace
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
) -> tuple[Taken, list[Taken]] | OrderProblem | None:
    """Best whole-line allocation and runners-up; else the (pruned) problem for the MILP."""
    qty = pr.qty
    whole = pr.avail >= qty[None, :]
    if ((~whole.any(axis=0)) & (pr.avail.sum(axis=0) > 0)).any():
        return None  # some line can only be filled by a split
    if ((qty >= 2) & ((pr.avail > 0).sum(axis=0) >= 2)).any():
        return None  # a split of a multi-unit line might be cheaper: the MILP weighs it
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
    if cand.size > 8:
        cand = _undominated(cand, pr.parcel, cc)
    f = pr.parcel[cand]
    sub = cc[cand]  # (K', L)
    scored: list[tuple[float, tuple[int, ...]]] = [(float(u.sum()), ())]
    best = scored[0][0]
    fmin = float(f.min()) if cand.size else 0.0
    for s in range(1, min(pr.n_lines, cand.size) + 1):
        if s * fmin + lb >= best - _EPS and len(scored) > n_alternatives:
            break
        if comb(cand.size, s) > MAX_SUBSETS:
            return _restrict(pr, cand)
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


def _undominated(cand: np.ndarray, parcel: FloatArray, cc: FloatArray) -> np.ndarray:
    """Drop candidates another one beats or ties on the parcel and on every line (exact)."""
    f = parcel[cand]
    sub = cc[cand]
    le = (f[:, None] <= f[None, :]) & (sub[:, None, :] <= sub[None, :, :]).all(axis=2)
    strict = (f[:, None] < f[None, :]) | (sub[:, None, :] < sub[None, :, :]).any(axis=2)
    order = np.arange(cand.size)
    dom = le & (strict | (order[:, None] < order[None, :]))
    np.fill_diagonal(dom, False)
    out: np.ndarray = cand[~dom.any(axis=0)]
    return out


def _restrict(pr: OrderProblem, cand: np.ndarray) -> OrderProblem:
    """The problem over the candidates that survived exact pruning (for the MILP)."""
    return replace(
        pr, nodes=pr.nodes[cand], avail=pr.avail[cand], dist=pr.dist[cand],
        is_shop=pr.is_shop[cand], parcel=pr.parcel[cand], carriage=pr.carriage[cand],
        labour=pr.labour[cand], failure=pr.failure[cand], cap_hard=pr.cap_hard[cand],
        cap_soft=pr.cap_soft[cand], picks_today=pr.picks_today[cand],
        capacity=pr.capacity[cand], units=pr.units[cand], demand_full=pr.demand_full[cand],
        delta_cap=pr.delta_cap[cand], shape=None if pr.shape is None else pr.shape[cand],
        demand_markdown=pr.demand_markdown[cand],
        collect=int(np.flatnonzero(cand == pr.collect)[0]) if pr.collect in cand else -1,
    )


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
    if isinstance(found, tuple):
        return found[0], Solver.ENUMERATION, found[1]
    if found is None:
        result = highs_model.solve([pr], terms, time_limit=1.0, mip_rel_gap=1e-6)
        return result.taken[0], Solver.MILP, []
    # Pruned candidates: solve over them, then map candidate positions back.
    result = highs_model.solve([found], terms, time_limit=1.0, mip_rel_gap=1e-6)
    index = {int(n): k for k, n in enumerate(pr.nodes.tolist())}
    taken = {(index[int(found.nodes[k])], ln): u for (k, ln), u in result.taken[0].items()}
    return taken, Solver.MILP, []
