"""Why an allocation went where it went, in the terms a merchant reads (pure, no I/O).

From a stored decision (`Decision.to_json()`: assignments, cost, alternatives), the order's
ship-to point and the nodes (coordinates, daily pick capacity, picks reserved today), build:
per chosen node the units, the distance to the customer and the pick capacity left; the
runner-up plan and what the choice saved against it (total cost and Δ, the inventory
opportunity cost); and a one-line reason naming the cost term that made the difference.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

EARTH_RADIUS_KM = 6371.0088
TERMS = ("parcels", "carriage", "labour", "pick_failure", "opportunity", "overtime", "unfilled")


class Term(StrEnum):
    """Cost terms of a decision, with the words the dashboard uses for a saving on each."""

    PARCELS = "parcels"
    CARRIAGE = "carriage"
    LABOUR = "labour"
    PICK_FAILURE = "pick_failure"
    OPPORTUNITY = "opportunity"
    OVERTIME = "overtime"
    UNFILLED = "unfilled"


SAVING_WORDS: dict[Term, str] = {
    Term.PARCELS: "fewer parcels",
    Term.CARRIAGE: "shorter carriage",
    Term.LABOUR: "cheaper picking",
    Term.PICK_FAILURE: "fresher RFID records (lower pick-failure risk)",
    Term.OPPORTUNITY: "lower Δ: stock that would otherwise wait for markdown",
    Term.OVERTIME: "no overtime",
    Term.UNFILLED: "fills every line",
}


@dataclass(frozen=True)
class NodeInfo:
    node_id: str
    name: str
    kind: str
    lat: float | None
    lon: float | None
    pick_capacity: int
    picks_today: int


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def _costs(raw: Any) -> dict[str, float]:
    src = raw if isinstance(raw, Mapping) else {}
    out = {t: float(src.get(t, 0.0) or 0.0) for t in TERMS}
    out["total"] = float(src.get("total", sum(out.values())) or 0.0)
    return out


def _assignments(raw: Any) -> list[dict[str, Any]]:
    if not isinstance(raw, Sequence):
        return []
    return [a for a in raw if isinstance(a, Mapping) and "node_id" in a]  # type: ignore[misc]


def _nodes_of(assignments: Sequence[Mapping[str, Any]]) -> list[str]:
    return list(dict.fromkeys(str(a["node_id"]) for a in assignments))


def deciding_term(chosen: Mapping[str, float], other: Mapping[str, float]) -> Term | None:
    """The term with the largest saving of `chosen` over `other` (None when none is positive)."""
    best, gain = None, 1e-9
    for term in Term:
        saving = other.get(term.value, 0.0) - chosen.get(term.value, 0.0)
        if saving > gain:
            best, gain = term, saving
    return best


def explain(
    decision: Mapping[str, Any],
    ship_lat: float | None,
    ship_lon: float | None,
    nodes: Mapping[str, NodeInfo],
) -> dict[str, Any]:
    """A JSON-ready explanation of one decision (see the module docstring)."""
    assignments = _assignments(decision.get("assignments", decision.get("lines")))
    cost = _costs(decision.get("cost"))
    chosen = []
    for node_id in _nodes_of(assignments):
        info = nodes.get(node_id)
        units = sum(int(a.get("qty", 0)) for a in assignments if a["node_id"] == node_id)
        distance = None
        if info is not None and None not in (info.lat, info.lon, ship_lat, ship_lon):
            distance = round(haversine_km(info.lat, info.lon, ship_lat, ship_lon), 1)  # type: ignore[arg-type]
        chosen.append({
            "node_id": node_id,
            "name": info.name if info else node_id,
            "kind": info.kind if info else "unknown",
            "units": units,
            "distance_km": distance,
            "capacity": info.pick_capacity if info else None,
            "capacity_left": max(info.pick_capacity - info.picks_today, 0) if info else None,
        })
    alternatives = [a for a in decision.get("alternatives") or [] if isinstance(a, Mapping)]
    runner_up = None
    if alternatives:
        alt = min(alternatives, key=lambda a: _costs(a.get("cost"))["total"])
        alt_cost = _costs(alt.get("cost"))
        alt_nodes = [str(n) for n in alt.get("nodes") or _nodes_of(_assignments(alt.get("assignments")))]
        runner_up = {
            "nodes": alt_nodes,
            "cost": alt_cost,
            "cost_saved": round(alt_cost["total"] - cost["total"], 2),
            "delta_saved": round(alt_cost["opportunity"] - cost["opportunity"], 2),
        }
    return {
        "chosen": chosen,
        "cost": cost,
        "delta": round(cost["opportunity"], 2),
        "runner_up": runner_up,
        "reason": reason(chosen, cost, runner_up),
    }


def reason(
    chosen: Sequence[Mapping[str, Any]], cost: Mapping[str, float], runner_up: Mapping[str, Any] | None
) -> str:
    """One sentence: where it went, and which term beat the runner-up."""
    if not chosen:
        return "nothing allocated"
    where = " + ".join(str(c["node_id"]) for c in chosen)
    if runner_up is None:
        return f"{where}: the only node that could serve the order"
    other = ", ".join(runner_up["nodes"]) or "the runner-up"
    term = deciding_term(cost, runner_up["cost"])
    saved = runner_up["cost_saved"]
    if term is None:
        return f"{where}: ties with {other} (cost {cost['total']:.2f})"
    return f"{where} over {other}: {SAVING_WORDS[term]}; saves {saved:.2f} in total"
