"""The simulated chain: determinism by seed, ground-truth accounting, the policy ranking."""

from __future__ import annotations

import json

import numpy as np
import pytest

from allocator.config import CostConfig
from allocator.policies import get_policy, policy_names
from simulators.chain import ChainSimulation
from simulators.chain_bound import FLOOR_MARGIN_WEIGHT, season_bound
from simulators.chain_cli import run_chain, simulate
from simulators.chain_demand import record_errors, walk_in, walk_in_first_half
from simulators.config import ChainConfig

SMALL = ChainConfig(stores=10, skus=24, days=21)
TIMING = {"decision_ms_p50", "decision_ms_p99"}


def _strip(result: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in result.items() if k not in TIMING}


def test_same_seed_same_result_other_seed_other_result() -> None:
    a = simulate("shelfsight", 5, SMALL, CostConfig())
    b = simulate("shelfsight", 5, SMALL, CostConfig())
    c = simulate("shelfsight", 6, SMALL, CostConfig())
    assert _strip(a) == _strip(b)
    assert _strip(a) != _strip(c)


def test_record_accuracy_is_what_was_asked() -> None:
    true = np.random.default_rng(0).integers(0, 6, (200, 200))
    rec = record_errors(true, 0.65, seed=3)
    assert np.mean(rec == true) == pytest.approx(0.65, abs=0.01)
    assert (record_errors(true, 1.0, seed=3) == true).all()


def test_perfect_records_never_fail_a_pick_and_bad_records_do() -> None:
    perfect = simulate("cheapest", 2, SMALL.model_copy(update={"rfid_accuracy": 1.0}),
                       CostConfig())
    barcode = simulate("cheapest", 2, SMALL.model_copy(update={"rfid_accuracy": 0.65}),
                       CostConfig())
    assert perfect["pick_failures"] == 0
    assert barcode["pick_failures"] > 0


def test_units_are_conserved_against_ground_truth() -> None:
    sim = ChainSimulation(SMALL, CostConfig(), 4, get_policy("shelfsight"))
    sim.run()
    led = sim.ledger
    # Units in = the initial allocation + the warehouse's re-buys.
    start = led.bought_units
    assert start == sim.initial_units + led.rebuy_units
    # Every unit ends sold online, sold in a shop, or salvaged (all SKUs end within the run).
    sold_walkin = led.full_price_units + led.markdown_units - led.online_units
    assert int(sim.true.sum()) == 0
    assert sold_walkin >= 0
    assert led.full_price_units + led.markdown_units == start


def test_capacity_is_never_exceeded() -> None:
    cfg = SMALL.model_copy(update={"pick_capacity": 2, "online_share": 0.5})
    for policy in ("warehouse-first", "closest", "rules", "cheapest", "shelfsight", "batch"):
        assert simulate(policy, 1, cfg, CostConfig())["capacity_violations"] == 0, policy


def test_warehouse_rebuys_follow_what_it_ships() -> None:
    # The warehouse re-buys on its own measured velocity: a policy that never ships from it
    # (shop stock first) makes it buy less than warehouse-first does, on the same seed.
    cfg = ChainConfig(stores=20, skus=40, days=28)
    wf = simulate("warehouse-first", 1, cfg, CostConfig())
    cl = simulate("closest", 1, cfg, CostConfig())
    assert wf["rebuy_units"] > cl["rebuy_units"]
    assert wf["bought_units"] > cl["bought_units"]


@pytest.mark.parametrize("policy", ["closest", "hindsight"])
def test_cli_prints_the_required_fields(policy: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = run_chain(policy, 3, 8, 16, 14, None, None, True)
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    for key in ("policy", "seed", "orders", "total_margin", "fulfilment_cost_per_order",
                "parcels_per_order", "markdown_units", "markdown_value",
                "shop_lost_sales_fast_movers", "capacity_violations", "pick_failures",
                "decision_ms_p50", "decision_ms_p99"):
        assert key in out
    assert out["policy"] == policy and out["orders"] > 0


def test_cli_refuses_an_unknown_policy(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_chain("nope", 3, 8, 16, 14, None, None, True) == 2
    assert "hindsight" in capsys.readouterr().err


def test_no_policy_beats_the_season_bound() -> None:
    # The season LP knows every demand and the true stock: every policy's realised season is a
    # feasible plan of it, so none may exceed its margin, nor go below its markdown floor
    # (up to the floor's margin tie-break weight).
    cfg = ChainConfig(stores=6, skus=16, days=14)
    for seed in (1, 2):
        bound = season_bound(cfg, CostConfig(), seed)
        floor = season_bound(cfg, CostConfig(), seed, objective="markdown")
        assert floor["markdown_value"] <= bound["markdown_value"] + 1e-6
        for name in policy_names():
            run = simulate(name, seed, cfg, CostConfig())
            assert run["orders"] == bound["orders"]
            assert run["total_margin"] <= bound["total_margin"] + 1e-6, (seed, name)
            slack = FLOOR_MARGIN_WEIGHT * abs(floor["total_margin"] - run["total_margin"])
            assert floor["markdown_value"] <= run["markdown_value"] + slack + 1e-6, (seed, name)


def test_the_bound_given_a_policys_rebuys_caps_them_and_still_bounds_that_policy() -> None:
    cfg = ChainConfig(stores=8, skus=24, days=28)  # long enough for re-buys
    sim = ChainSimulation(cfg, CostConfig(), 1, get_policy("warehouse-first"))
    run = sim.run()
    assert sim.rebought.sum() == run["rebuy_units"] > 0
    free = season_bound(cfg, CostConfig(), 1)
    same = season_bound(cfg, CostConfig(), 1, rebuy_cap=sim.rebought)
    none = season_bound(cfg, CostConfig(), 1, rebuy_cap=np.zeros_like(sim.rebought))
    assert none["rebuy_units"] == 0 and same["rebuy_units"] <= run["rebuy_units"] + 1e-6
    assert run["total_margin"] <= same["total_margin"] + 1e-6
    assert none["total_margin"] <= same["total_margin"] <= free["total_margin"] + 1e-6
    assert free["rebuy_units"] > same["rebuy_units"]  # perfect re-buying buys more here


def test_shelfsight_sees_bid_prices_from_the_morning_snapshot_and_baselines_do_not() -> None:
    costs = CostConfig()
    sim = ChainSimulation(SMALL, costs, 3, get_policy("shelfsight"))
    base = ChainSimulation(SMALL, costs, 3, get_policy("cheapest"))
    assert sim.wants_bid and not base.wants_bid
    sim.run()
    base.run()
    assert base.bid is None and base.snapshot(0, False).bid_value is None
    assert sim.bid is not None
    snap = sim.snapshot(0, False)
    assert snap.bid_value is not None and snap.bid_online is not None
    # Every unit is worth at least its salvage value and at most its full price.
    assert (snap.bid_value >= snap.salvage[None, :] - 1e-6).all()
    assert (snap.bid_online >= snap.salvage[None, :] - 1e-6).all()
    assert (snap.bid_value <= sim.world.full_price[None, :] + 1e-6).all()


def test_foresight_is_told_the_realised_walk_in_demand_and_nobody_else_is() -> None:
    cfg = ChainConfig(stores=4, skus=8, days=10)
    sim = ChainSimulation(cfg, CostConfig(), 3, get_policy("foresight"))
    w = sim.world
    snap = sim.snapshot(0, afternoon=False)
    assert snap.future_full is not None and snap.future_markdown is not None
    to_md, _, to_end = w.calendar(0)
    days = np.array([walk_in(w, 3, t) for t in range(sim.horizon)])  # (T, S, G)
    g = 0
    full = days[: int(to_md[g]), :, g].sum(axis=0)
    sale = days[int(to_md[g]): int(to_end[g]), :, g].sum(axis=0)
    np.testing.assert_array_equal(snap.future_full[w.n_wh:, g], full)
    np.testing.assert_array_equal(snap.future_markdown[w.n_wh:, g], sale)
    # In the afternoon the morning's customers are gone.
    sim.first_half = walk_in_first_half(days[0], 3, 0)
    after = sim.snapshot(0, afternoon=True)
    assert after.future_full is not None
    np.testing.assert_array_equal(after.future_full[w.n_wh:, g], full - sim.first_half[:, g])
    plain = ChainSimulation(cfg, CostConfig(), 3, get_policy("shelfsight")).snapshot(0, False)
    assert plain.future_full is None and plain.future_markdown is None
