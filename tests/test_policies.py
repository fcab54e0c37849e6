"""Policy invariants (stock, capacity, click-and-collect), exactness and the Δ preference."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from allocator import highs_model
from allocator.config import CostConfig
from allocator.decision import Decision
from allocator.model import Node, NodeKind, Order, OrderLine, StockSnapshot
from allocator.policies import BatchPolicy, UnknownPolicyError, get_policy, policy_names
from allocator.policies.bidprice import bid_prices
from allocator.policies.exact import enumerate_order
from allocator.policies.problem import (
    FULL,
    FULL_BID,
    SHIPPING_ONLY,
    BidBlend,
    OrderProblem,
    Terms,
    prepare,
)

COSTS = CostConfig()


def snapshot(avail: np.ndarray, velocity: np.ndarray | None = None, picks: int = 0,
             capacity: int = 40, n_wh: int = 1) -> StockSnapshot:
    n, g = avail.shape
    nodes = [Node(f"W{i}", NodeKind.WAREHOUSE, 40.0 + i, -80.0, 10_000) for i in range(n_wh)]
    nodes += [Node(f"S{i}", NodeKind.SHOP, 40.0 + 0.3 * i, -75.0 + 0.2 * i, capacity, picks)
              for i in range(n - n_wh)]
    price = np.linspace(30, 90, g)
    return StockSnapshot.build(
        nodes, [f"G{j}" for j in range(g)], avail, price=price, cost=price * 0.45,
        days_to_markdown=np.full(g, 14.0), markdown_price=price * 0.7,
        days_to_end=np.full(g, 40.0), salvage=price * 0.25, confidence=np.full((n, g), 0.9),
        velocity=np.full((n, g), 0.1) if velocity is None else velocity,
    )


def check_invariants(d: Decision, order: Order, snap: StockSnapshot, costs: CostConfig) -> None:
    taken: dict[tuple[str, str], int] = {}
    per_node: dict[str, int] = {}
    for a in d.assignments:
        taken[(a.node_id, a.gtin)] = taken.get((a.node_id, a.gtin), 0) + a.qty
        per_node[a.node_id] = per_node.get(a.node_id, 0) + a.qty
    for (node, gtin), units in taken.items():
        n, g = snap.node_index(node), snap.gtin_index(gtin)
        assert n is not None and g is not None
        offered = int(snap.available[n, g])
        if snap.is_shop[n]:
            offered = max(offered - costs.protection_units, 0)
        assert units <= offered, (node, gtin, units, offered)
    for node, units in per_node.items():
        n = snap.node_index(node)
        assert n is not None
        assert snap.picks_today[n] + units <= snap.pick_capacity[n]
    want: dict[str, int] = {}
    for line in order.lines:
        want[line.gtin] = want.get(line.gtin, 0) + line.qty
    got: dict[str, int] = {}
    for a in d.assignments:
        got[a.gtin] = got.get(a.gtin, 0) + a.qty
    for u in d.unfilled:
        got[u.gtin] = got.get(u.gtin, 0) + u.qty
    assert got == want


@st.composite
def cases(draw: st.DrawFn) -> tuple[StockSnapshot, Order, CostConfig]:
    n = draw(st.integers(2, 6))
    g = draw(st.integers(1, 5))
    avail = np.array(draw(st.lists(st.integers(0, 4), min_size=n * g, max_size=n * g)))
    avail = avail.reshape(n, g)
    picks = draw(st.integers(0, 4))
    snap = snapshot(avail, picks=picks, capacity=draw(st.integers(picks, picks + 4)))
    k = draw(st.integers(1, 4))
    lines = tuple(
        OrderLine(f"G{draw(st.integers(0, g - 1))}", draw(st.integers(1, 3))) for _ in range(k)
    )
    collect = draw(st.one_of(st.none(), st.sampled_from([f"S{i}" for i in range(n - 1)])))
    costs = CostConfig(protection_units=draw(st.integers(0, 1)))
    order = Order("o", lines, 40.5, -75.5, collect_shop=collect)
    return snap, order, costs


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_every_policy_respects_stock_capacity_and_quantities(
    case: tuple[StockSnapshot, Order, CostConfig],
) -> None:
    snap, order, costs = case
    for name in policy_names():
        d = get_policy(name).decide(order, snap, costs)
        check_invariants(d, order, snap, costs)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_click_and_collect_shop_serves_what_it_can(
    case: tuple[StockSnapshot, Order, CostConfig],
) -> None:
    snap, order, costs = case
    if order.collect_shop is None:
        return
    c = snap.node_index(order.collect_shop)
    assert c is not None
    want: dict[str, int] = {}
    for line in order.lines:
        want[line.gtin] = want.get(line.gtin, 0) + line.qty
    offered = {gt: int(snap.available[c, snap.gtin_index(gt) or 0]) - costs.protection_units
               for gt in want}
    room = int(snap.pick_capacity[c] - snap.picks_today[c])
    if all(offered[gt] >= q for gt, q in want.items()) and sum(want.values()) <= room:
        for name in policy_names():
            d = get_policy(name).decide(order, snap, costs)
            assert {a.node_id for a in d.assignments} == {order.collect_shop}, name


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_enumeration_matches_the_milp_optimum(
    case: tuple[StockSnapshot, Order, CostConfig],
) -> None:
    snap, order, costs = case
    # Distinct GTINs, one unit each: the MILP cannot gain by splitting a line.
    gtins = dict.fromkeys(x.gtin for x in order.lines)
    order = Order("o", tuple(OrderLine(g, 1) for g in gtins), 40.5, -75.5)
    d = get_policy("shelfsight").decide(order, snap, costs)
    pr = prepare(order, snap, costs)
    if not pr.n_nodes or not pr.n_lines:
        return
    milp = highs_model.solve([pr], FULL)
    assert d.breakdown.total == pytest.approx(pr.breakdown(milp.taken[0]).total, abs=1e-6)


@st.composite
def split_cases(draw: st.DrawFn) -> tuple[StockSnapshot, Order, CostConfig]:
    """Small instances where multi-unit lines may be cheapest split across nodes (above 9
    candidates the dominance pruning runs too)."""
    n = draw(st.integers(2, 14))
    g = draw(st.integers(1, 4))
    avail = np.array(draw(st.lists(st.integers(0, 5), min_size=n * g, max_size=n * g)))
    vel = np.array(draw(st.lists(st.floats(0.0, 1.5), min_size=n * g, max_size=n * g)))
    snap = snapshot(avail.reshape(n, g), velocity=vel.reshape(n, g), capacity=100)
    k = draw(st.integers(1, 4))
    lines = tuple(
        OrderLine(f"G{draw(st.integers(0, g - 1))}", draw(st.integers(1, 4))) for _ in range(k)
    )
    costs = CostConfig(protection_units=draw(st.integers(0, 1)),
                       parcel_cost_store=draw(st.sampled_from([0.5, 4.0, 9.0])))
    return snap, Order("o", lines, 40.5, -75.5), costs


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(split_cases(), st.sampled_from([FULL, SHIPPING_ONLY, FULL_BID]))
def test_split_aware_enumeration_matches_the_milp_optimum(
    case: tuple[StockSnapshot, Order, CostConfig], terms: Terms,
) -> None:
    snap, order, costs = case
    if terms is FULL_BID:
        snap = with_bids(snap, costs)
    pr = prepare(order, snap, costs, terms)
    if not pr.n_nodes:
        return
    found = enumerate_order(pr, terms, n_alternatives=3)
    assert isinstance(found, tuple)  # capacity never binds here: no MILP fallback
    best, alternatives = found
    milp = highs_model.solve([pr], terms, mip_rel_gap=1e-9)
    objective = pr.breakdown if terms.opportunity else None
    got = _objective(pr, best, terms)
    assert got == pytest.approx(_objective(pr, milp.taken[0], terms), abs=1e-6)
    for alt in alternatives:
        assert _objective(pr, alt, terms) >= got - 1e-6
    assert objective is None or objective(best).total == pytest.approx(got, abs=1e-6)


def _objective(pr: OrderProblem, taken: dict[tuple[int, int], int], terms: Terms) -> float:
    """The cost a policy with `terms` minimises (the breakdown less the terms it ignores)."""
    b = pr.breakdown(taken)
    total = b.total
    if not terms.failure:
        total -= b.pick_failure
    if not terms.opportunity:
        total -= b.opportunity
    return total


def test_batch_never_oversells_a_contended_unit() -> None:
    avail = np.array([[0], [1], [0]])
    snap = snapshot(avail, velocity=np.zeros((3, 1)))
    orders = [Order(f"o{i}", (OrderLine("G0", 1),), 40.5, -75.5) for i in range(3)]
    pol = get_policy("batch")
    assert isinstance(pol, BatchPolicy)
    out = pol.decide_batch(orders, snap, COSTS)
    assert sum(a.qty for d in out for a in d.assignments) == 1
    assert sum(u.qty for d in out for u in d.unfilled) == 2


def test_slow_overstock_is_taken_before_a_thin_fast_seller() -> None:
    # Two shops equally far from the customer; S0 holds 1 unit that sells fast, S1 holds 12
    # units that barely sell. The shipping-only policy cannot tell them apart.
    avail = np.array([[0], [1], [12]])
    vel = np.array([[0.0], [1.0], [0.02]])
    snap = snapshot(avail, velocity=vel)
    snap.lat[1:] = 41.0
    snap.lon[1:] = -75.0
    order = Order("o", (OrderLine("G0", 1),), 41.0, -75.0)
    d = get_policy("shelfsight").decide(order, snap, COSTS)
    assert [a.node_id for a in d.assignments] == ["S1"]
    snap.available[2, 0] = 0  # without the overstock, the thin unit costs far more to take
    d0 = get_policy("shelfsight").decide(order, snap, COSTS)
    assert [a.node_id for a in d0.assignments] in (["S0"], [])
    assert d0.breakdown.total > d.breakdown.total + 5


def test_one_parcel_preferred_when_splits_cost_more() -> None:
    avail = np.array([[0, 0], [1, 1], [1, 0], [0, 1]])
    snap = snapshot(avail)
    order = Order("o", (OrderLine("G0", 1), OrderLine("G1", 1)), 40.5, -75.5)
    for name in ("cheapest", "closest", "shelfsight"):
        d = get_policy(name).decide(order, snap, COSTS)
        assert d.parcels == 1, name


@pytest.mark.parametrize("name", ["cheapest", "shelfsight"])
def test_alternatives_are_the_runner_up_nodes_not_just_leaving_it_unfilled(name: str) -> None:
    """One unit, stocked at the warehouse and three shops: the decision beat the other three
    nodes, each shipping the unit alone, ranked by what they would have cost (the search for
    the optimum prunes them; the alternatives must not be pruned with them)."""
    avail = np.array([[5], [2], [2], [2]])
    snap = snapshot(avail)
    order = Order("o", (OrderLine("G0", 1),), 40.3, -75.3)
    d = get_policy(name).decide(order, snap, COSTS)
    assert len(d.alternatives) == COSTS.alternatives == 3
    chosen = {a.node_id for a in d.assignments}
    nodes = [alt.nodes for alt in d.alternatives]
    assert all(len(n) == 1 for n in nodes) and {n[0] for n in nodes} == {"W0", "S0", "S1", "S2"} - chosen
    totals = [alt.breakdown.total for alt in d.alternatives]
    assert totals == sorted(totals) and totals[0] >= d.breakdown.total - 1e-9
    for alt in d.alternatives:
        assert [(a.node_id, a.qty) for a in alt.assignments] == [(alt.nodes[0], 1)]


def test_a_milp_decision_has_runner_ups_too() -> None:
    """Overtime makes the per-order problem a MILP: its alternatives are single-node options."""
    avail = np.array([[5], [2], [2]])
    snap = snapshot(avail, picks=39)
    costs = COSTS.model_copy(update={"overtime_cost": 1.0})
    order = Order("o", (OrderLine("G0", 2),), 40.3, -75.3)
    d = get_policy("shelfsight").decide(order, snap, costs)
    assert d.solver.value == "milp"
    assert d.alternatives and all(len(a.nodes) == 1 for a in d.alternatives)
    assert all(a.breakdown.total >= d.breakdown.total - 1e-6 for a in d.alternatives)


def test_decision_json_and_unknown_policy() -> None:
    snap = snapshot(np.array([[2, 0], [1, 1]]))
    order = Order("o", (OrderLine("G0", 1), OrderLine("nope", 2)), 40.5, -75.5)
    d = get_policy("shelfsight").decide(order, snap, COSTS)
    js = d.to_json()
    assert js["unfilled"] == [{"line": 1, "gtin": "nope", "qty": 2, "reason": "unknown_gtin"}]
    assert set(js["cost"]) >= {"parcels", "carriage", "labour", "pick_failure", "opportunity",
                               "total"}
    with pytest.raises(UnknownPolicyError):
        get_policy("nope")


def test_a_warehouse_unit_that_can_be_rebought_is_worth_at_most_its_rebuy_cost() -> None:
    avail = np.array([[5], [5]])
    base = snapshot(avail, velocity=np.array([[3.0], [3.0]]))
    order = Order("o", (OrderLine("G0", 1),), 40.5, -75.5)
    pr = prepare(order, base, COSTS)
    # Price 30 (one GTIN), ρ = 35: the warehouse's top unit sells for sure, Δ ≈ 30.
    assert pr.phi(np.ones((2, 1), dtype=np.int64))[0, 0] == pytest.approx(30.0, abs=0.1)
    rebuy = StockSnapshot.build(
        [Node("W0", NodeKind.WAREHOUSE, 40.0, -80.0, 10_000),
         Node("S0", NodeKind.SHOP, 40.0, -75.0, 40)],
        ["G0"], avail, price=[30.0], cost=[13.5], days_to_markdown=[14.0],
        markdown_price=[21.0], days_to_end=[40.0], salvage=[7.5],
        velocity=np.array([[3.0], [3.0]]), rebuy_cost=[13.5],
    )
    phi = prepare(order, rebuy, COSTS).phi(np.ones((2, 1), dtype=np.int64))
    assert phi[0, 0] == pytest.approx(13.5)  # re-buy cost caps the warehouse unit
    assert phi[1, 0] == pytest.approx(30.0, abs=0.1)  # shops are not re-bought


def with_bids(snap: StockSnapshot, costs: CostConfig) -> StockSnapshot:
    bids = bid_prices(snap, costs)
    return replace(snap, bid_value=bids.value, bid_online=bids.online)


def one_gtin(avail: list[int], velocity: list[float], rebuy: float | None = None) -> StockSnapshot:
    """W0 then shops, one GTIN at price 30 (markdown 21 after 14 of 40 days, salvage 7.5)."""
    snap = snapshot(np.array(avail)[:, None], velocity=np.array(velocity)[:, None])
    if rebuy is not None:
        snap = replace(snap, rebuy_cost=np.array([rebuy]))
    return snap


def test_bid_price_of_a_thin_shop_is_its_full_price() -> None:
    # S0: 2 units, walk-in 1/day (14 at full price expected): the LP sells both at 60.
    snap = one_gtin([0, 2], [0.0, 1.0])
    bids = bid_prices(snap, COSTS)
    assert bids.value[1, 0] == pytest.approx(snap.price[0])


def test_bid_price_of_a_surplus_with_no_demand_anywhere_is_salvage() -> None:
    snap = one_gtin([5, 20], [0.0, 0.01])
    bids = bid_prices(snap, COSTS)
    assert bids.value[1, 0] == pytest.approx(snap.salvage[0])
    assert bids.value[0, 0] == pytest.approx(snap.salvage[0])
    assert bids.online[1, 0] == pytest.approx(snap.salvage[0])


def test_shop_surplus_is_worth_the_online_margin_when_the_warehouse_runs_short() -> None:
    # Online demand 0.5/day (7 at full price, 7 x 1.5 in the sale) against 3 warehouse units:
    # the shop's surplus (walk-in ~0.4 units) will be shipped online, so it is worth more
    # than salvage, and the warehouse's scarce units are worth their online margin.
    snap = one_gtin([3, 20], [0.5, 0.01])
    bids = bid_prices(snap, COSTS)
    salvage = snap.salvage[0]
    assert bids.value[1, 0] > salvage + 1.0
    assert bids.online[1, 0] > salvage + 1.0
    assert bids.value[0, 0] >= bids.value[1, 0]  # cheaper to ship from, same demand
    assert bids.value[0, 0] < snap.price[0]


def test_bid_price_of_a_rebuyable_warehouse_unit_is_at_most_its_rebuy_cost() -> None:
    snap = one_gtin([1, 0], [5.0, 0.0], rebuy=20.0)
    bids = bid_prices(snap, COSTS)
    assert bids.value[0, 0] == pytest.approx(20.0)
    assert bid_prices(one_gtin([1, 0], [5.0, 0.0]), COSTS).value[0, 0] > 20.0


def test_bid_prices_move_the_decision_and_price_the_breakdown() -> None:
    # W0 and S0 equally placed; S0's unit barely sells walk-in, W0's 2 units sell fast online:
    # the stochastic Δ alone takes S0. Bid prices saying the shop unit will be shipped online
    # later at a good margin (25) while the warehouse's is worth salvage (other nodes will
    # serve its online demand) move the order to W0, priced at the warehouse's bid.
    snap = one_gtin([2, 1], [3.0, 0.001])
    snap.lat[:] = 40.0
    snap.lon[:] = -80.0
    order = Order("o", (OrderLine("G0", 1),), 40.0, -80.0)
    plain = get_policy("shelfsight").decide(order, snap, COSTS)
    assert [a.node_id for a in plain.assignments] == ["S0"]
    salvage = float(snap.salvage[0])
    bids = replace(snap, bid_value=np.array([[salvage], [25.0]]),
                   bid_online=np.array([[salvage], [25.0]]))
    bid = get_policy("shelfsight").decide(order, bids, COSTS)
    assert [a.node_id for a in bid.assignments] == ["W0"]
    assert bid.breakdown.opportunity == pytest.approx(salvage)
    pr = prepare(order, bids, COSTS, FULL_BID)
    shop = int(np.flatnonzero(pr.is_shop)[0])
    assert pr.delta_flat[1 - shop, 0] and not pr.delta_flat[shop, 0]
    # The shop's Δ is floored at its online value, the warehouse's is the bid alone.
    assert pr.segment_values(shop, 0, 1)[0] == pytest.approx(25.0)
    assert pr.segment_values(1 - shop, 0, 1)[0] == pytest.approx(salvage)
    # The `online` blend floors shops at their online value instead of the full bid value.
    online_only = replace(bids, bid_online=np.array([[salvage], [salvage]]))
    pr_online = prepare(order, online_only, COSTS, Terms(bid=BidBlend.ONLINE))
    assert pr_online.segment_values(shop, 0, 1)[0] < 25.0 - 1.0
    assert prepare(order, online_only, COSTS, FULL_BID).segment_values(shop, 0, 1)[0] == \
        pytest.approx(25.0)
    # Without bid prices in the snapshot (what the API passes today) nothing changes.
    assert (prepare(order, snap, COSTS, FULL_BID).delta_floor == 0).all()
