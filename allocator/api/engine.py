"""The seam between the API and the allocation policies: `decide(order, snapshot, costs,
policy)` with the policy of that name from `allocator.policies` (resolved once per process)."""

from __future__ import annotations

from allocator.config import CostConfig
from allocator.decision import Decision
from allocator.model import Order, StockSnapshot
from allocator.policies import Policy, get_policy

DEFAULT_POLICY = "shelfsight"

_RESOLVED: dict[str, Policy] = {}


def decide(
    order: Order, snapshot: StockSnapshot, costs: CostConfig, policy: str = DEFAULT_POLICY
) -> Decision:
    """Decide with `policy`; an unknown name raises `allocator.policies.UnknownPolicyError`."""
    found = _RESOLVED.get(policy)
    if found is None:
        found = _RESOLVED[policy] = get_policy(policy)
    return found.decide(order, snapshot, costs)
