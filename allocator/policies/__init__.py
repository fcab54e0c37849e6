"""Allocation policies: one interface, a registry by name.

`get_policy(name).decide(order, snapshot, costs) -> Decision`; window policies (`batch`,
`clairvoyant-window`) also have `decide_batch(orders, snapshot, costs) -> list[Decision]`.
"""

from __future__ import annotations

from allocator.policies.base import BatchPolicy, Policy
from allocator.policies.registry import UnknownPolicyError, get_policy, policy_names

__all__ = ["BatchPolicy", "Policy", "UnknownPolicyError", "get_policy", "policy_names"]
