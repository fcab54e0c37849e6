"""The per-worker snapshot memo: the same snapshot as building it whole, rebuilt whenever any
input other than the stock cells is another object or the day changes."""

from __future__ import annotations

import dataclasses
from datetime import date

import numpy as np
import pytest

from allocator.api.snapmemo import SnapshotMemo
from allocator.api.stock import NodeView, ProductInfo, snapshot_of
from allocator.config import CostConfig
from allocator.model import Node, NodeKind, SnapshotError, StockSnapshot

DAY = date(2026, 12, 6)
NODES = (Node("s1", NodeKind.SHOP, 52.5, 13.4, 100, 3), Node("w1", NodeKind.WAREHOUSE, 51.0, 10.0, 900))
VIEW = NodeView(NODES, {n.id: n.kind for n in NODES}, {"s1": 0, "w1": 1}, 1, ("s1", "w1"),
                np.array([5.0, 0.0]))
PRODUCTS = {
    "a": ProductInfo("a", 30.0, 12.0, date(2027, 1, 10), 21.0, 6.0),
    "b": ProductInfo("b", 50.0, 20.0, None, 35.0, 10.0, "st"),
}
VELOCITY = (np.array([[0.2, 0.1], [0.05, 0.05]]), np.array([[3.0, 4.0], [50.0, 50.0]]))


def _same(x: StockSnapshot, y: StockSnapshot) -> None:
    for f in dataclasses.fields(StockSnapshot):
        a, b = getattr(x, f.name), getattr(y, f.name)
        if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
            np.testing.assert_array_equal(a, b, err_msg=f.name)
        else:
            assert a == b, f.name


def _direct(avail: np.ndarray, conf: np.ndarray, costs: CostConfig, day: date = DAY) -> StockSnapshot:
    return snapshot_of(NODES, PRODUCTS, ["a", "b"], avail, conf, None, costs, day,
                       velocity=VELOCITY, customer_weight=VIEW.customer_weight)


def test_only_the_stock_is_swapped_while_every_other_input_is_the_same_object() -> None:
    memo, costs = SnapshotMemo(), CostConfig()
    cells = [(np.array([[3, 0], [7, 2]]), np.array([[0.9, 1.0], [1.0, 1.0]])),
             (np.array([[1, 4], [0, 9]]), np.array([[0.5, 0.8], [1.0, 0.7]]))]
    for avail, conf in cells:
        got = memo.snapshot(VIEW, PRODUCTS, ["a", "b"], avail, conf, costs, VELOCITY, DAY)
        _same(got, _direct(avail, conf, costs))
    assert memo.hits == 1
    # A shared array of the memo's snapshot cannot be written to by a caller.
    with pytest.raises(ValueError):
        got.price[0] = 0.0


@pytest.mark.parametrize("change", ["view", "product", "velocity", "costs", "day"])
def test_any_other_input_being_another_object_builds_again(change: str) -> None:
    memo, costs = SnapshotMemo(), CostConfig()
    avail, conf = np.array([[3, 0], [7, 2]]), np.ones((2, 2))
    memo.snapshot(VIEW, PRODUCTS, ["a", "b"], avail, conf, costs, VELOCITY, DAY)
    view, products, velocity, day = VIEW, dict(PRODUCTS), VELOCITY, DAY
    if change == "view":
        view = dataclasses.replace(VIEW, nodes=(dataclasses.replace(NODES[0], picks_today=99), NODES[1]))
    elif change == "product":
        products["a"] = dataclasses.replace(PRODUCTS["a"], price=40.0)
    elif change == "velocity":
        velocity = (VELOCITY[0] * 2, VELOCITY[1])
    elif change == "costs":
        costs = CostConfig(parcel_cost_store=9.0)
    else:
        day = date(2026, 12, 7)
    got = memo.snapshot(view, products, ["a", "b"], avail, conf, costs, velocity, day)
    assert memo.hits == 0
    want = snapshot_of(view.nodes, products, ["a", "b"], avail, conf, None, costs, day,
                       velocity=velocity, customer_weight=view.customer_weight)
    _same(got, want)


def test_swapped_stock_is_checked_as_a_build_checks_it() -> None:
    memo, costs = SnapshotMemo(), CostConfig()
    memo.snapshot(VIEW, PRODUCTS, ["a", "b"], np.ones((2, 2), dtype=np.int64), np.ones((2, 2)),
                  costs, VELOCITY, DAY)
    bad = [(np.array([[1, -1], [0, 0]]), np.ones((2, 2)), "negative"),
           (np.ones((2, 2), dtype=np.int64), np.full((2, 2), 1.5), "outside"),
           (np.ones((3, 2), dtype=np.int64), np.ones((3, 2)), "shape")]
    for avail, conf, words in bad:
        with pytest.raises(SnapshotError, match=words):
            memo.snapshot(VIEW, PRODUCTS, ["a", "b"], avail, conf, costs, VELOCITY, DAY)
