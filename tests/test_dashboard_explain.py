"""The dashboard's explanation of a decision: distance, capacity left, savings vs the runner-up."""

from __future__ import annotations

import pytest

from allocator.dashboard.explain import NodeInfo, Term, deciding_term, explain, haversine_km

NODES = {
    "shop-a": NodeInfo("shop-a", "Shop A", "shop", 51.5133, -0.1389, 60, 45),
    "wh": NodeInfo("wh", "DC", "warehouse", 51.4468, 0.2157, 5000, 10),
}


def _cost(**terms: float) -> dict[str, float]:
    out = {t.value: 0.0 for t in Term} | terms
    out["total"] = sum(out.values())
    return out


def test_shop_chosen_for_low_delta_is_explained_against_the_warehouse() -> None:
    decision = {
        "assignments": [{"line": 0, "gtin": "00614141001002", "node_id": "shop-a", "qty": 2}],
        "cost": _cost(parcels=4.0, labour=5.0, opportunity=3.0),
        "alternatives": [
            {"nodes": ["wh"], "assignments": [], "cost": _cost(parcels=3.0, labour=2.0, opportunity=20.0)},
            {"nodes": ["shop-a", "wh"], "assignments": [], "cost": _cost(parcels=7.0, opportunity=40.0)},
        ],
    }
    why = explain(decision, 51.52, -0.10, NODES)
    (chosen,) = why["chosen"]
    assert chosen["node_id"] == "shop-a" and chosen["units"] == 2
    assert chosen["capacity_left"] == 15 and chosen["capacity"] == 60
    assert chosen["distance_km"] == pytest.approx(haversine_km(51.5133, -0.1389, 51.52, -0.10), abs=0.05)
    assert why["runner_up"]["nodes"] == ["wh"]  # the cheaper of the two alternatives
    assert why["runner_up"]["delta_saved"] == pytest.approx(17.0)
    assert why["runner_up"]["cost_saved"] == pytest.approx(13.0)
    assert "lower Δ" in why["reason"] and "shop-a over wh" in why["reason"]


def test_no_alternative_and_unknown_node() -> None:
    decision = {"assignments": [{"node_id": "gone", "gtin": "x", "qty": 1, "line": 0}],
                "cost": {"total": 5.0}}
    why = explain(decision, None, None, NODES)
    assert why["runner_up"] is None
    assert why["chosen"][0]["distance_km"] is None and why["chosen"][0]["capacity_left"] is None
    assert "only node" in why["reason"]
    assert explain({}, 0.0, 0.0, NODES)["reason"] == "nothing allocated"


def test_deciding_term_is_the_largest_saving() -> None:
    assert deciding_term(_cost(carriage=1.0, parcels=4.0), _cost(carriage=5.0, parcels=4.5)) is Term.CARRIAGE
    assert deciding_term(_cost(parcels=4.0), _cost(parcels=4.0)) is None
