"""The allocation MILP (reference §6) over one or many orders, solved with HiGHS (`highspy`).

Variables: x[o,l,k] integer units of line l of order o from candidate k; y[o,k] binary parcel;
u[o,l] unfilled units; s[n,g,j] in [0,1] the j-th unit taken from node n of GTIN g (priced at
Δ of that unit, non-decreasing in j, so the LP takes the least valuable units first); v[n]
overtime units. Orders in one model share stock and pick capacity (the micro-batch).
"""

from __future__ import annotations

import ctypes
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import highspy
import numpy as np
from numpy.typing import NDArray
from scipy.sparse import coo_matrix

from allocator.policies.problem import OrderProblem, Terms

logger = logging.getLogger(__name__)

Taken = dict[tuple[int, int], int]


class MilpError(RuntimeError):
    """HiGHS did not return a usable solution."""


@dataclass(frozen=True)
class MilpResult:
    taken: list[Taken]  # per problem: (candidate k, line) -> units
    objective: float
    status: str
    columns: int
    rows: int


class _Builder:
    def __init__(self) -> None:
        self.cost: list[float] = []
        self.lo: list[float] = []
        self.hi: list[float] = []
        self.integer: list[bool] = []
        self.r: list[int] = []
        self.c: list[int] = []
        self.v: list[float] = []
        self.rlo: list[float] = []
        self.rhi: list[float] = []

    def var(self, cost: float, lo: float, hi: float, integer: bool) -> int:
        self.cost.append(cost)
        self.lo.append(lo)
        self.hi.append(hi)
        self.integer.append(integer)
        return len(self.cost) - 1

    def row(self, entries: Sequence[tuple[int, float]], lo: float, hi: float) -> None:
        i = len(self.rlo)
        for col, val in entries:
            self.r.append(i)
            self.c.append(col)
            self.v.append(val)
        self.rlo.append(lo)
        self.rhi.append(hi)


def solve(
    problems: Sequence[OrderProblem],
    terms: Terms,
    *,
    time_limit: float = 10.0,
    mip_rel_gap: float = 1e-6,
    used_capacity: Mapping[int, int] | None = None,
    used_stock: Mapping[tuple[int, int], int] | None = None,
) -> MilpResult:
    """Build and solve the model; raise MilpError if HiGHS finds no solution.

    `used_capacity` (node -> units) and `used_stock` ((node, GTIN column) -> units) are taken
    already by decisions outside the model (e.g. click-and-collect lines of the window).
    """
    used_capacity = used_capacity or {}
    used_stock = used_stock or {}
    b = _Builder()
    xs: list[list[tuple[int, int, int]]] = []  # per problem: (var, k, line)
    stock: dict[tuple[int, int], list[tuple[int, int, int, int]]] = {}  # (node, col) -> (var,p,k,l)
    cap: dict[int, tuple[list[int], int, int]] = {}  # node -> (vars, hard, soft)
    for p, pr in enumerate(problems):
        unit = pr.unit_cost(terms)
        ks, ls = np.nonzero(pr.avail > 0)
        ys: dict[int, int] = {}
        mine: list[tuple[int, int, int]] = []
        per_line: list[list[tuple[int, float]]] = [[] for _ in range(pr.n_lines)]
        for k, ln in zip(ks.tolist(), ls.tolist(), strict=True):
            ub = float(min(pr.qty[ln], pr.avail[k, ln]))
            xv = b.var(float(unit[k, ln]), 0.0, ub, True)
            if k not in ys:
                ys[k] = b.var(float(pr.parcel[k]), 0.0, 1.0, True)
            b.row([(xv, 1.0), (ys[k], -ub)], -np.inf, 0.0)
            per_line[ln].append((xv, 1.0))
            mine.append((xv, k, ln))
            node = int(pr.nodes[k])
            stock.setdefault((node, int(pr.cols[ln])), []).append((xv, p, k, ln))
            entry = cap.get(node)
            if entry is None:
                cap[node] = ([xv], int(pr.cap_hard[k]), int(pr.cap_soft[k]))
            else:
                entry[0].append(xv)
        for ln in range(pr.n_lines):
            uv = b.var(float(pr.rho[ln]), 0.0, float(pr.qty[ln]), False)
            b.row([*per_line[ln], (uv, 1.0)], float(pr.qty[ln]), float(pr.qty[ln]))
        xs.append(mine)
    for key, members in stock.items():
        _, p0, k0, l0 = members[0]
        pr0 = problems[p0]
        before = used_stock.get(key, 0)
        offered = max(int(pr0.avail[k0, l0]) - before, 0)
        entries = [(xv, 1.0) for xv, _, _, _ in members]
        if terms.opportunity:
            demand = sum(int(problems[p].qty[ln]) for _, p, _, ln in members)
            n = min(offered, demand)
            for val in pr0.segment_values(k0, l0, n, offset=before).tolist():
                entries.append((b.var(float(val), 0.0, 1.0, False), -1.0))
            b.row(entries, 0.0, 0.0)
        else:
            b.row(entries, -np.inf, float(offered))
    for node, (vars_, hard0, soft0) in cap.items():
        entries = [(xv, 1.0) for xv in vars_]
        hard = max(hard0 - used_capacity.get(node, 0), 0)
        soft = min(max(soft0 - used_capacity.get(node, 0), 0), hard)
        rate = problems[0].overtime_rate
        if hard > soft and rate > 0:
            entries.append((b.var(rate, 0.0, float(hard - soft), False), -1.0))
            b.row(entries, -np.inf, float(soft))
        else:
            b.row(entries, -np.inf, float(hard))
    if not b.cost:
        return MilpResult([{} for _ in problems], 0.0, "empty", 0, 0)
    objective, values, status = _run(b, time_limit, mip_rel_gap)
    taken: list[Taken] = []
    for mine in xs:
        t: Taken = {}
        for xv, k, ln in mine:
            units = round(values[xv])
            if units > 0:
                t[(k, ln)] = units
        taken.append(t)
    return MilpResult(taken, objective, status, len(b.cost), len(b.rlo))


_BANNER_DONE: list[bool] = [False]


def _new_highs() -> highspy.Highs:
    """A silent HiGHS; the first one of the process prints a banner on stdout, which would
    corrupt `--json` output, so that one is built with fd 1 pointed at /dev/null."""
    if _BANNER_DONE[0]:
        h = highspy.Highs()  # type: ignore[no-untyped-call]
    else:
        sys.stdout.flush()
        saved = os.dup(1)
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, 1)
            h = highspy.Highs()  # type: ignore[no-untyped-call]
            h.setOptionValue("output_flag", False)
            ctypes.CDLL(None).fflush(None)
        finally:
            os.dup2(saved, 1)
            os.close(saved)
            os.close(null)
        _BANNER_DONE[0] = True
    h.setOptionValue("output_flag", False)
    return h


def _run(b: _Builder, time_limit: float, gap: float) -> tuple[float, NDArray[np.float64], str]:
    n, m = len(b.cost), len(b.rlo)
    a = coo_matrix((b.v, (b.r, b.c)), shape=(m, n)).tocsc()
    lp = highspy.HighsLp()
    lp.num_col_ = n
    lp.num_row_ = m
    lp.col_cost_ = np.asarray(b.cost, dtype=np.float64)
    lp.col_lower_ = np.asarray(b.lo, dtype=np.float64)
    lp.col_upper_ = np.asarray(b.hi, dtype=np.float64)
    lp.row_lower_ = np.asarray(b.rlo, dtype=np.float64)
    lp.row_upper_ = np.asarray(b.rhi, dtype=np.float64)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = a.indptr.astype(np.int32)
    lp.a_matrix_.index_ = a.indices.astype(np.int32)
    lp.a_matrix_.value_ = a.data.astype(np.float64)
    lp.integrality_ = [
        highspy.HighsVarType.kInteger if i else highspy.HighsVarType.kContinuous
        for i in b.integer
    ]
    h = _new_highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", float(time_limit))
    h.setOptionValue("mip_rel_gap", float(gap))
    h.setOptionValue("threads", 1)
    h.passModel(lp)
    h.run()
    status = h.modelStatusToString(h.getModelStatus())
    sol = h.getSolution()
    if not sol.value_valid:
        raise MilpError(f"HiGHS: {status}")
    values = np.asarray(sol.col_value, dtype=np.float64)
    obj = float(h.getInfo().objective_function_value)
    logger.debug("milp %d cols %d rows: %s obj=%.4f", n, m, status, obj)
    return obj, values, status
