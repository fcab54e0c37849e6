"""An allocation decision: where each line goes, what it costs term by term, what it beat."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Solver(StrEnum):
    RULE = "rule"
    ENUMERATION = "enumeration"
    MILP = "milp"
    NONE = "none"


@dataclass(frozen=True)
class CostBreakdown:
    """Expected cost of a decision per term (currency units)."""

    parcels: float = 0.0
    carriage: float = 0.0
    labour: float = 0.0
    pick_failure: float = 0.0
    opportunity: float = 0.0
    overtime: float = 0.0
    unfilled: float = 0.0

    @property
    def total(self) -> float:
        return (
            self.parcels + self.carriage + self.labour + self.pick_failure
            + self.opportunity + self.overtime + self.unfilled
        )

    def to_json(self) -> dict[str, float]:
        return {
            "parcels": round(self.parcels, 4),
            "carriage": round(self.carriage, 4),
            "labour": round(self.labour, 4),
            "pick_failure": round(self.pick_failure, 4),
            "opportunity": round(self.opportunity, 4),
            "overtime": round(self.overtime, 4),
            "unfilled": round(self.unfilled, 4),
            "total": round(self.total, 4),
        }


@dataclass(frozen=True)
class Assignment:
    """`qty` units of order line `line` (GTIN `gtin`) picked at node `node_id`."""

    line: int
    gtin: str
    node_id: str
    qty: int


@dataclass(frozen=True)
class Unfilled:
    line: int
    gtin: str
    qty: int
    reason: str


@dataclass(frozen=True)
class Alternative:
    """A runner-up: lines by node, and its expected cost."""

    nodes: tuple[str, ...]
    assignments: tuple[Assignment, ...]
    breakdown: CostBreakdown

    def to_json(self) -> dict[str, Any]:
        return {
            "nodes": list(self.nodes),
            "assignments": [a.__dict__ for a in self.assignments],
            "cost": self.breakdown.to_json(),
        }


@dataclass(frozen=True)
class Decision:
    order_id: str
    policy: str
    assignments: tuple[Assignment, ...]
    unfilled: tuple[Unfilled, ...]
    breakdown: CostBreakdown
    solver: Solver = Solver.RULE
    alternatives: tuple[Alternative, ...] = field(default_factory=tuple)

    @property
    def nodes(self) -> tuple[str, ...]:
        """Distinct nodes used, in first-use order (one parcel each)."""
        return tuple(dict.fromkeys(a.node_id for a in self.assignments))

    @property
    def parcels(self) -> int:
        return len(self.nodes)

    def to_json(self) -> dict[str, Any]:
        return {
            "order_id": self.order_id,
            "policy": self.policy,
            "solver": self.solver.value,
            "parcels": self.parcels,
            "assignments": [a.__dict__ for a in self.assignments],
            "unfilled": [u.__dict__ for u in self.unfilled],
            "cost": self.breakdown.to_json(),
            "alternatives": [a.to_json() for a in self.alternatives],
        }
