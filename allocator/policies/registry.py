"""The policies by name: `get_policy(name).decide(order, snapshot, costs)`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from allocator.config import CostConfig
from allocator.decision import Decision, Solver
from allocator.model import Order, StockSnapshot
from allocator.policies import baselines
from allocator.policies.base import Core, Policy, Taken, run_core
from allocator.policies.batch import decide_window
from allocator.policies.exact import solve_order
from allocator.policies.problem import FULL_BID, SHIPPING_ONLY, OrderProblem, Terms


class UnknownPolicyError(KeyError):
    """No policy of that name."""


@dataclass(frozen=True)
class RulePolicy:
    name: str
    core: Core
    uses_truth: bool = False

    def decide(self, order: Order, snapshot: StockSnapshot, costs: CostConfig) -> Decision:
        return run_core(self.name, self.core, order, snapshot, costs)


@dataclass(frozen=True)
class ExactPolicy:
    """Exact per-order optimum of the cost model restricted to `terms`.

    `uses_future`: the simulator fills the snapshot's known future walk-in demand of every
    shop (`foresight`: the value of perfect demand information to this very policy; evaluation
    only, neither deployable nor a bound)."""

    name: str
    terms: Terms
    uses_truth: bool = False
    uses_future: bool = False

    def decide(self, order: Order, snapshot: StockSnapshot, costs: CostConfig) -> Decision:
        def core(pr: OrderProblem) -> tuple[Taken, Solver, list[Taken]]:
            return solve_order(pr, self.terms, costs.alternatives)

        return run_core(self.name, core, order, snapshot, costs, self.terms)


@dataclass(frozen=True)
class WindowPolicy:
    """Micro-batch MILP over a window of orders sharing stock and capacity.

    `decide` alone (no window) is the exact per-order optimum. `clairvoyant-window` is this
    policy fed the true stock (no record errors) by the simulator: evaluation only. It is NOT
    an upper bound (it knows neither future walk-in nor future online demand); the season's
    upper bound is the LP of `simulators.chain_bound`.
    """

    name: str
    uses_truth: bool = False
    time_limit: float = 20.0
    terms: Terms = field(default=FULL_BID)

    def decide(self, order: Order, snapshot: StockSnapshot, costs: CostConfig) -> Decision:
        return ExactPolicy(self.name, self.terms).decide(order, snapshot, costs)

    def decide_batch(
        self, orders: Sequence[Order], snapshot: StockSnapshot, costs: CostConfig
    ) -> list[Decision]:
        return decide_window(self.name, self.terms, orders, snapshot, costs, self.time_limit)


_FACTORIES: dict[str, Callable[[], Policy]] = {
    "warehouse-first": lambda: RulePolicy("warehouse-first", baselines.warehouse_first),
    "closest": lambda: RulePolicy("closest", baselines.closest),
    "rules": lambda: RulePolicy("rules", baselines.hotwax_rules),
    "cheapest": lambda: ExactPolicy("cheapest", SHIPPING_ONLY),
    "shelfsight": lambda: ExactPolicy("shelfsight", FULL_BID),
    "batch": lambda: WindowPolicy("batch"),
    "clairvoyant-window": lambda: WindowPolicy("clairvoyant-window", uses_truth=True),
    "foresight": lambda: ExactPolicy("foresight", FULL_BID, uses_future=True),
}


def policy_names() -> tuple[str, ...]:
    return tuple(_FACTORIES)


def get_policy(name: str) -> Policy:
    """The policy registered under `name`; raise UnknownPolicyError."""
    try:
        return _FACTORIES[name]()
    except KeyError:
        raise UnknownPolicyError(name) from None
