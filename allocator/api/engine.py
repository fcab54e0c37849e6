"""The seam between the API and the allocation policies.

`decide(order, snapshot, costs, policy)` returns an `allocator.decision.Decision`. It uses the
policy registry (`allocator.policies.get_policy`) when it is installed; until then, or for a
name the registry does not know, a small built-in rule (`cheapest single node per line`, with
the same cost terms: parcel, carriage, labour, expected pick failure) stands in. Only this
module knows which one ran.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from typing import Protocol

import numpy as np

from allocator.config import CostConfig
from allocator.costs import (
    carriage_per_item,
    failure_cost_per_item,
    haversine_km,
    parcel_cost,
    pick_cost_per_item,
)
from allocator.decision import Assignment, CostBreakdown, Decision, Solver, Unfilled
from allocator.model import Order, StockSnapshot

log = logging.getLogger(__name__)

DEFAULT_POLICY = "shelfsight"
FALLBACK_POLICY = "api-fallback"


class Policy(Protocol):
    def decide(self, order: Order, snapshot: StockSnapshot, cost_config: CostConfig) -> Decision: ...


_WARNED: list[bool] = []


class UnknownPolicyError(LookupError):
    """No policy of that name."""


def _registry() -> Callable[[str], Policy] | None:
    try:
        module = importlib.import_module("allocator.policies")
    except ImportError:
        return None
    getter = getattr(module, "get_policy", None)
    return getter if callable(getter) else None


def resolve(name: str) -> Policy:
    """The policy `name` from the registry, else the built-in fallback (logged once per call)."""
    getter = _registry()
    if getter is not None:
        try:
            return getter(name)
        except (KeyError, LookupError, ValueError) as exc:
            if name != DEFAULT_POLICY:
                raise UnknownPolicyError(name) from exc
    if name not in (DEFAULT_POLICY, FALLBACK_POLICY):
        raise UnknownPolicyError(name)
    if not _WARNED:
        _WARNED.append(True)
        log.warning("policy registry not available: using the API's fallback rule")
    return CheapestNodePolicy()


class CheapestNodePolicy:
    """Per line, the node with enough available units and the lowest parcel + item costs.

    A stand-in for the real policies: no opportunity cost Δ, no splits, no shared parcels.
    """

    name = FALLBACK_POLICY

    def decide(self, order: Order, snapshot: StockSnapshot, cost_config: CostConfig) -> Decision:
        dist = haversine_km(snapshot.lat, snapshot.lon, order.ship_lat, order.ship_lon)
        per_item = (
            carriage_per_item(snapshot.is_shop, dist, cost_config)
            + pick_cost_per_item(snapshot.is_shop, cost_config)
        )
        parcel = parcel_cost(snapshot.is_shop, cost_config)
        assignments: list[Assignment] = []
        unfilled: list[Unfilled] = []
        parcels = carriage = labour = failure = 0.0
        for i, line in enumerate(order.lines):
            g = snapshot.gtin_index(line.gtin)
            if g is None:
                unfilled.append(Unfilled(i, line.gtin, line.qty, "unknown GTIN"))
                continue
            fail = failure_cost_per_item(snapshot.confidence[:, g], cost_config)
            total = parcel + line.qty * (per_item + fail)
            ok = snapshot.available[:, g] >= line.qty
            if order.collect_shop is not None:
                ok &= np.array([n == order.collect_shop for n in snapshot.node_ids])
            if not ok.any():
                unfilled.append(Unfilled(i, line.gtin, line.qty, "no node has the units"))
                continue
            n = int(np.argmin(np.where(ok, total, np.inf)))
            assignments.append(Assignment(i, line.gtin, snapshot.node_ids[n], line.qty))
            parcels += float(parcel[n])
            carriage += line.qty * float(carriage_per_item(snapshot.is_shop[n], dist[n], cost_config))
            labour += line.qty * float(pick_cost_per_item(snapshot.is_shop[n], cost_config))
            failure += line.qty * float(fail[n])
        return Decision(
            order_id=order.id,
            policy=self.name,
            assignments=tuple(assignments),
            unfilled=tuple(unfilled),
            breakdown=CostBreakdown(
                parcels=parcels, carriage=carriage, labour=labour, pick_failure=failure
            ),
            solver=Solver.RULE,
        )


_RESOLVED: dict[str, Policy] = {}


def decide(
    order: Order, snapshot: StockSnapshot, costs: CostConfig, policy: str = DEFAULT_POLICY
) -> Decision:
    """Decide with `policy` (resolved once per process)."""
    found = _RESOLVED.get(policy)
    if found is None:
        found = _RESOLVED[policy] = resolve(policy)
    return found.decide(order, snapshot, costs)
