"""Exact per-order optimum: enumeration of parcel sets for small orders, HiGHS MILP otherwise.

Split-aware enumeration. The j-th unit of line l taken from candidate k costs
c[k,l,j] = carriage + labour (+ expected pick failure) + Δ of that unit; Δ of the j-th unit
taken rises with j (Φ is convex per node), so for a fixed set S of nodes shipping a parcel,
line l's cheapest fill is its q_l smallest marginal costs over the nodes of S, each unit left
unfilled instead when ρ_l is cheaper. Hence cost(S) = Σ_{n∈S} F_n + Σ_l (sum of the q_l
smallest of {c[n,l,j] : n ∈ S} ∪ {ρ_l × q_l}), and the optimum is the minimum over S (a set
whose node ends up unused is dominated by its subset, which is enumerated too). Nodes are
pruned with a bound that cannot drop an optimal node: a solution using n costs at least
F_n + LB + gain_n, LB = Σ_l (best fill of l over all nodes), gain_n = the least, over the lines
n could serve, of (n's first unit − the q_l-th cheapest unit overall)+; a node is dropped
when another has a parcel no dearer and, on every line, a q_l-th unit no dearer than its
first. Set sizes stop once
s·min F + LB passes the incumbent. If the optimum breaks a pick capacity, overtime is priced,
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


def marginal_costs(pr: OrderProblem, terms: Terms) -> FloatArray:
    """(K, L, Q) cost of the j-th unit (j < Q = the largest line qty) of line l taken from
    candidate k: non-decreasing in j, inf beyond what k offers or the line asks."""
    qmax = int(pr.qty.max()) if pr.n_lines else 1
    j = np.arange(qmax, dtype=np.float64)
    out: FloatArray = pr.unit_cost(terms)[:, :, None] + np.zeros((1, 1, qmax))
    if terms.opportunity:
        out = out + pr.delta_table()
    offered = np.minimum(pr.avail, pr.qty[None, :])[:, :, None]
    res: FloatArray = np.where(j[None, None, :] < offered, out, np.inf)
    return res


def line_costs(pr: OrderProblem, terms: Terms) -> FloatArray:
    """(K, L) cost of serving each line whole from each candidate (inf where it cannot)."""
    marg = marginal_costs(pr, terms)
    j = np.arange(marg.shape[2])
    out: FloatArray = np.where(j[None, None, :] < pr.qty[None, :, None], marg, 0.0).sum(axis=2)
    return out


def fill_costs(vals: FloatArray, qty: np.ndarray, rho: FloatArray) -> FloatArray:
    """(..., L) cheapest fill of each line from `vals` (..., L, M) marginal unit costs: the sum
    of its q_l smallest values, each capped at ρ_l (that unit left unfilled)."""
    qmax = int(qty.max())
    if qmax == 1:
        small = vals.min(axis=-1, keepdims=True)
    else:
        small = np.sort(vals, axis=-1)[..., :qmax]
        if small.shape[-1] < qmax:
            pad = np.full((*small.shape[:-1], qmax - small.shape[-1]), np.inf)
            small = np.concatenate([small, pad], axis=-1)
    capped = np.minimum(small, rho[:, None])
    j = np.arange(qmax)
    out: FloatArray = np.where(j < qty[:, None], capped, 0.0).sum(axis=-1)
    return out


def enumerate_order(
    pr: OrderProblem, terms: Terms, n_alternatives: int = 0
) -> tuple[Taken, list[Taken]] | OrderProblem | None:
    """Best allocation (lines may split) and runners-up; else the (pruned) problem for the
    MILP, or None when the MILP must decide over every candidate."""
    qty = pr.qty
    if pr.overtime_rate > 0 and (pr.cap_soft < qty.sum()).any():
        return None  # overtime is not separable by line
    marg = marginal_costs(pr, terms)  # (K, L, Q)
    kk, nl, qm = marg.shape
    u = pr.rho * qty
    if kk == 0:
        return {}, []
    # Per line over every candidate: best fill m_l and its q_l-th cheapest unit t_l.
    flat = np.sort(marg.transpose(1, 0, 2).reshape(nl, kk * qm), axis=1)[:, :qm]
    flat = np.minimum(flat, pr.rho[:, None])  # kk * qm >= qm: no padding needed
    m = fill_costs(flat, qty, pr.rho)
    t = flat[np.arange(nl), qty - 1]
    lb = float(m.sum())
    single = single_node_costs(pr, marg)
    ub = min(float(u.sum()), float(single.min()))
    first = marg[:, :, 0]
    serves = first < pr.rho[None, :] - _EPS
    gain = np.where(serves, np.maximum(first - t[None, :], 0.0), np.inf).min(axis=1)
    useful = serves.any(axis=1)
    keep = useful & ((pr.parcel + lb + gain < ub - _EPS) | (single <= ub + _EPS))
    cand = np.flatnonzero(keep)
    if cand.size > 8:
        last = np.take_along_axis(marg, (qty - 1)[None, :, None], axis=2)[:, :, 0]
        cap = pr.rho[None, :]
        cand = _undominated(cand, pr.parcel, np.minimum(first, cap), np.minimum(last, cap))
    f = pr.parcel[cand]
    sub = marg[cand]  # (K', L, Q)
    scored: list[tuple[float, tuple[int, ...]]] = [(float(u.sum()), ())]
    best = scored[0][0]
    fmin = float(f.min()) if cand.size else 0.0
    for s in range(1, min(int(qty.sum()), cand.size) + 1):
        if s * fmin + lb >= best - _EPS and len(scored) > n_alternatives:
            break
        if comb(cand.size, s) > MAX_SUBSETS:
            return _restrict(pr, cand)
        combos = np.array(list(combinations(range(cand.size), s)), dtype=np.int64)
        vals = sub[combos]  # (C, s, L, Q)
        vals = vals.transpose(0, 2, 1, 3).reshape(len(combos), nl, s * qm)
        totals = f[combos].sum(axis=1) + fill_costs(vals, qty, pr.rho).sum(axis=1)
        order = np.argsort(totals, kind="stable")[: n_alternatives + 1]
        for i in order.tolist():
            scored.append((float(totals[i]), tuple(combos[i].tolist())))
        best = min(best, float(totals[order[0]]))
    scored.sort(key=lambda x: x[0])
    seen: set[tuple[tuple[tuple[int, int], int], ...]] = set()
    results: list[tuple[float, Taken]] = []
    for cost, subset in scored:
        taken = _assign(cand, subset, sub, pr.rho, qty)
        key = tuple(sorted(taken.items()))
        if key in seen:
            continue
        seen.add(key)
        results.append((cost, taken))
        if len(results) > n_alternatives:
            break
    best_taken = results[0][1]
    if n_alternatives:
        # The pruning above keeps only the nodes that can be in the optimum, so the runners-up
        # it leaves are often just "leave it unfilled". Every node shipping the order alone is
        # an alternative too: rank them all, so the answer says what the choice beat.
        alts = results[1:] + [
            (c, t) for c, t in single_node_options(pr, marg, single, n_alternatives + 1)
            if tuple(sorted(t.items())) not in seen
        ]
        alts.sort(key=lambda x: x[0])  # stable: ties keep the enumeration's order
        results = results[:1] + alts[:n_alternatives]
    per_node = np.zeros(pr.n_nodes, dtype=np.int64)
    for (k, _), units in best_taken.items():
        per_node[k] += units
    if (per_node > pr.cap_hard).any():
        return None
    return best_taken, [t for _, t in results[1:]]


def single_node_costs(pr: OrderProblem, marg: FloatArray) -> FloatArray:
    """(K,) cost of serving the whole order from each node alone: its parcel and the
    cheapest fill of every line (units it cannot give left unfilled at ρ)."""
    out: FloatArray = pr.parcel + fill_costs(marg, pr.qty, pr.rho).sum(axis=1)
    return out


def single_node_options(
    pr: OrderProblem, marg: FloatArray, single: FloatArray, n: int
) -> list[tuple[float, Taken]]:
    """The `n` cheapest ways of serving the order from one node alone (lines it cannot fill
    left unfilled), as (cost, taken): `single` (K,) is each node's cost, `marg` the marginal
    unit costs. Nodes that would serve nothing are not options."""
    # Units of each line a node would ship alone: its marginal costs rise with each unit, so
    # those below ρ (what leaving the unit unfilled costs) are a prefix, at most the line's qty.
    units = (marg < pr.rho[None, :, None] - _EPS).sum(axis=2)  # (K, L)
    ranked = np.flatnonzero(units.any(axis=1))
    ranked = ranked[np.argsort(single[ranked], kind="stable")][:n]
    out: list[tuple[float, Taken]] = []
    for k in ranked.tolist():
        row = units[k].tolist()
        out.append((float(single[k]), {(k, ln): u for ln, u in enumerate(row) if u > 0}))
    return out


def _undominated(
    cand: np.ndarray, parcel: FloatArray, first: FloatArray, last: FloatArray
) -> np.ndarray:
    """Drop candidates B another candidate A dominates (exact): F_A <= F_B and, on every line,
    A's q_l-th unit costs no more than B's first (`last`, `first`: (K, L), capped at ρ). Any
    allocation using B then costs no less once B's units move to A, whatever A already gave."""
    # Most candidates fall to one of a few strong ones (the cheapest last units): drop those
    # first in O(K), then compare the survivors pairwise.
    strong = cand[np.argsort((last[cand] + parcel[cand, None]).sum(axis=1), kind="stable")[:4]]
    ls, lo_all = last[strong], first[cand]
    beat = ((parcel[strong][:, None] <= parcel[cand][None, :])
            & (ls[:, None, :] <= lo_all[None, :, :]).all(axis=2))
    strict = ((parcel[strong][:, None] < parcel[cand][None, :])
              | (ls[:, None, :] < lo_all[None, :, :]).any(axis=2) | (strong[:, None] < cand[None, :]))
    cand = cand[~(beat & strict & (strong[:, None] != cand[None, :])).any(axis=0)]
    f = parcel[cand]
    lo = first[cand]
    hi = last[cand]
    le = (f[:, None] <= f[None, :]) & (hi[:, None, :] <= lo[None, :, :]).all(axis=2)
    strict = (f[:, None] < f[None, :]) | (hi[:, None, :] < lo[None, :, :]).any(axis=2)
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
        delta_cap=pr.delta_cap[cand], delta_floor=pr.delta_floor[cand],
        delta_flat=pr.delta_flat[cand], shape=None if pr.shape is None else pr.shape[cand],
        demand_markdown=pr.demand_markdown[cand],
        collect=int(np.flatnonzero(cand == pr.collect)[0]) if pr.collect in cand else -1,
    )


def _assign(
    cand: np.ndarray, subset: tuple[int, ...], sub: FloatArray, rho: FloatArray,
    qty: np.ndarray,
) -> Taken:
    """Greedy fill of every line from the nodes of `subset`: cheapest marginal units first,
    while they cost less than leaving the unit unfilled."""
    taken: Taken = {}
    if not subset:
        return taken
    idx = np.array(subset, dtype=np.int64)
    qm = sub.shape[2]
    for ln in range(sub.shape[1]):
        vals = sub[idx, ln, :].ravel()  # (s * Q,) node-major
        order = np.argsort(vals, kind="stable")[: int(qty[ln])]
        for pos in order.tolist():
            if vals[pos] >= rho[ln] - _EPS:
                break
            key = (int(cand[idx[pos // qm]]), ln)
            taken[key] = taken.get(key, 0) + 1
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
        taken = result.taken[0]
    else:  # pruned candidates: solve over them, then map candidate positions back
        result = highs_model.solve([found], terms, time_limit=1.0, mip_rel_gap=1e-6)
        index = {int(n): k for k, n in enumerate(pr.nodes.tolist())}
        taken = {(index[int(found.nodes[k])], ln): u for (k, ln), u in result.taken[0].items()}
    return taken, Solver.MILP, _single_node_alternatives(pr, terms, taken, n_alternatives)


def _single_node_alternatives(
    pr: OrderProblem, terms: Terms, chosen: Taken, n: int
) -> list[Taken]:
    """Runners-up of a MILP decision: the cheapest single-node ways of serving the order."""
    if n <= 0 or pr.n_nodes == 0 or pr.n_lines == 0:
        return []
    marg = marginal_costs(pr, terms)
    single = single_node_costs(pr, marg)
    key = tuple(sorted(chosen.items()))
    return [t for _, t in single_node_options(pr, marg, single, n + 1)
            if tuple(sorted(t.items())) != key][:n]
