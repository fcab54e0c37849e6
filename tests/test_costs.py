"""Each cost term against a hand-computed case."""

from __future__ import annotations

import math

import numpy as np
import pytest

from allocator import costs as cm
from allocator.config import CostConfig


@pytest.fixture
def costs() -> CostConfig:
    return CostConfig()


def test_haversine_one_degree_of_equator() -> None:
    # 2·π·R / 360 with R = 6371.0088 km.
    assert cm.haversine_km(0.0, 0.0, 0.0, 1.0) == pytest.approx(111.19508, abs=1e-4)
    assert cm.haversine_km(45.0, 7.0, 45.0, 7.0) == pytest.approx(0.0)
    # Broadcasting: two nodes to one point.
    d = cm.haversine_km(np.array([0.0, 0.0]), np.array([0.0, 2.0]), 0.0, 1.0)
    assert d == pytest.approx([111.19508, 111.19508], abs=1e-4)


def test_parcel_carriage_and_labour_by_node_type(costs: CostConfig) -> None:
    shop = np.array([True, False])
    assert cm.parcel_cost(shop, costs).tolist() == [4.0, 3.0]
    # 100 km: 0.002 x 100 from a shop, 0.0015 x 100 from a warehouse.
    assert cm.carriage_per_item(shop, [100.0, 100.0], costs) == pytest.approx([0.2, 0.15])
    assert cm.pick_cost_per_item(shop, costs).tolist() == [2.5, 1.0]


def test_failure_cost_is_miss_probability_times_failed_pick(costs: CostConfig) -> None:
    # 65% confidence: 0.35 x 12 = 4.2; 95%: 0.05 x 12 = 0.6.
    assert cm.failure_cost_per_item([0.65, 0.95, 1.0], costs) == pytest.approx([4.2, 0.6, 0.0])


def test_capacity_and_overtime() -> None:
    hard = CostConfig()
    soft = CostConfig(overtime_cost=2.0)
    assert cm.hard_capacity([40], hard).tolist() == [40]
    assert cm.hard_capacity([40], soft).tolist() == [60]  # +50% headroom
    # 38 picked, 5 more, capacity 40: 3 units of overtime at 2.0.
    assert cm.overtime_cost(38, 5, 40, soft) == pytest.approx(6.0)
    # Already beyond capacity: every added unit is overtime.
    assert cm.overtime_cost(45, 1, 40, soft) == pytest.approx(2.0)
    assert cm.overtime_cost(38, 5, 40, hard) == pytest.approx(0.0)


def test_poisson_survival() -> None:
    assert cm.poisson_sf(1, 2.0) == pytest.approx(1 - math.exp(-2))
    assert cm.poisson_sf(2, 2.0) == pytest.approx(1 - 3 * math.exp(-2))
    assert cm.poisson_sf(0, 2.0) == pytest.approx(1.0)
    assert cm.poisson_sf(1, 0.0) == pytest.approx(0.0)


def test_unit_value_known_demand_steps_through_price_stages() -> None:
    # 2 full-price sales and 2 markdown sales to come: units 1-2 full, 3-4 markdown, 5 salvage.
    got = cm.unit_value([1, 2, 3, 4, 5], 2, 2, 50.0, 35.0, 12.0, known=True)
    assert got.tolist() == [50.0, 50.0, 35.0, 35.0, 12.0]


def test_unit_value_poisson_hand_case() -> None:
    # q = 1, full-price demand ~ Poisson(2), all demand ~ Poisson(3).
    s1, s2 = 1 - math.exp(-2), 1 - math.exp(-3)
    want = 50 * s1 + 35 * (s2 - s1) + 12 * (1 - s2)
    assert cm.unit_value(1, 2.0, 1.0, 50.0, 35.0, 12.0) == pytest.approx(want)
    # A deep overstock (q far beyond demand) is worth its salvage value.
    assert cm.unit_value(60, 2.0, 1.0, 50.0, 35.0, 12.0) == pytest.approx(12.0)


def test_opportunity_cost_takes_the_top_units() -> None:
    # 3 units held, 1 full-price and 1 markdown sale to come; taking 2 loses unit 3 (salvage)
    # and unit 2 (markdown): 12 + 35.
    phi = cm.opportunity_cost(3, 2, 1, 1, 50.0, 35.0, 12.0, known=True)
    assert phi == pytest.approx(47.0)
    # Capped at the lost-sale value per unit.
    capped = cm.opportunity_cost(1, 1, 5, 0, 50.0, 35.0, 12.0, cap=30.0, known=True)
    assert capped == pytest.approx(30.0)
    # Cannot take units that are not there.
    assert cm.opportunity_cost(1, 3, 0, 0, 50.0, 35.0, 12.0, known=True) == pytest.approx(12.0)


def test_opportunity_cost_is_convex_in_units_taken() -> None:
    takes = np.arange(0, 8)
    phi = cm.opportunity_cost(np.full(8, 7), takes, 3.0, 2.0, 50.0, 35.0, 12.0)
    steps = np.diff(phi)
    assert (np.diff(steps) >= -1e-9).all()


def test_demand_windows() -> None:
    full, sale = cm.demand_windows(0.5, 10.0, 30.0, 1.5)
    assert (float(full), float(sale)) == pytest.approx((5.0, 15.0))
    # No markdown left (days to markdown >= days to end): everything at the current price.
    full, sale = cm.demand_windows(0.5, 30.0, 30.0, 1.5)
    assert (float(full), float(sale)) == pytest.approx((15.0, 0.0))


def test_lost_sale_penalty() -> None:
    assert cm.lost_sale_penalty([40.0], goodwill=5.0).tolist() == [45.0]


def test_gamma_poisson_survival_hand_case_and_poisson_limit() -> None:
    # Shape 1 = geometric with p = r / (r + m) = 1/3 (mean 2): P(D >= q) = (1 - p)^q.
    assert cm.gamma_poisson_sf([1, 2, 3], 2.0, 1.0) == pytest.approx([2 / 3, 4 / 9, 8 / 27])
    # A very large shape is Poisson.
    assert cm.gamma_poisson_sf(2, 2.0, 1e7) == pytest.approx(cm.poisson_sf(2, 2.0), abs=1e-5)
    # Rate uncertainty fattens the tail: the deep overstock unit sells more often.
    assert cm.gamma_poisson_sf(8, 2.0, 4.0) > cm.poisson_sf(8, 2.0)
