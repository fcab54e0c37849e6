"""The policy interface and the glue every policy shares (prepare, click-and-collect, explain)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from allocator.config import CostConfig
from allocator.decision import Alternative, Decision, Solver
from allocator.model import Order, StockSnapshot
from allocator.policies.problem import IntArray, OrderProblem, Terms, collect_first, prepare

Taken = dict[tuple[int, int], int]
#: A policy's core: residual problem -> (units taken, solver used, runner-up allocations).
Core = Callable[[OrderProblem], tuple[Taken, Solver, list[Taken]]]


@runtime_checkable
class Policy(Protocol):
    """Chooses a node for every line of an order; never takes more than `available`."""

    @property
    def name(self) -> str: ...

    @property
    def uses_truth(self) -> bool:
        """True only for the evaluation bound: the caller must pass ground truth."""
        ...

    def decide(self, order: Order, snapshot: StockSnapshot, costs: CostConfig) -> Decision: ...


@runtime_checkable
class BatchPolicy(Policy, Protocol):
    """A policy that can decide a window of orders together (shared stock and capacity)."""

    def decide_batch(
        self, orders: Sequence[Order], snapshot: StockSnapshot, costs: CostConfig
    ) -> list[Decision]: ...


def merge(forced: Taken, taken: Taken, back: IntArray) -> Taken:
    out = dict(forced)
    for (k, ln), units in taken.items():
        key = (k, int(back[ln]))
        out[key] = out.get(key, 0) + units
    return out


def build_decision(
    name: str,
    pr: OrderProblem,
    snap: StockSnapshot,
    taken: Taken,
    solver: Solver,
    alternatives: Sequence[Taken] = (),
) -> Decision:
    assignments, unfilled = pr.to_assignments(taken, snap.node_ids)
    alts: list[Alternative] = []
    for alt in alternatives:
        a_assign, _ = pr.to_assignments(alt, snap.node_ids)
        alts.append(
            Alternative(
                nodes=tuple(dict.fromkeys(a.node_id for a in a_assign)),
                assignments=a_assign,
                breakdown=pr.breakdown(alt),
            )
        )
    return Decision(
        order_id=pr.order.id, policy=name, assignments=assignments, unfilled=unfilled,
        breakdown=pr.breakdown(taken), solver=solver, alternatives=tuple(alts),
    )


def run_core(
    name: str, core: Core, order: Order, snap: StockSnapshot, costs: CostConfig,
    terms: Terms | None = None,
) -> Decision:
    """Prepare the order (with the bid-price blend of `terms`), serve click-and-collect lines
    at their shop, then run `core`."""
    pr = prepare(order, snap, costs, terms)
    forced, residual, back = collect_first(pr)
    if residual.n_lines and residual.n_nodes:
        taken, solver, alts = core(residual)
    else:
        taken, solver, alts = {}, Solver.RULE if forced else Solver.NONE, []
    full = merge(forced, taken, back)
    keep = max(costs.alternatives, 0)
    return build_decision(
        name, pr, snap, full, solver, [merge(forced, a, back) for a in alts[:keep]]
    )


def zero_used(n: int) -> IntArray:
    return np.zeros(n, dtype=np.int64)
