"""Per-GTIN bid prices for live decisions: same values as the whole-chain LP, TTL, bounds."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any

import numpy as np
import pytest

from allocator import bidcache
from allocator.bidcache import BidPriceCache, take_gtins
from allocator.config import CostConfig
from allocator.model import Node, NodeKind, StockSnapshot
from allocator.policies.bidprice import BidPriceError, bid_prices

COSTS = CostConfig()


class Inline(Executor):
    """Runs each job at once, in the caller's thread: the refresh is done when attach returns."""

    def __init__(self) -> None:
        self.jobs = 0

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        self.jobs += 1
        fut: Future[Any] = Future()
        fut.set_result(fn(*args, **kwargs))
        return fut


class Later(Executor):
    """Keeps the jobs until `run_all`: a refresh still running in the background."""

    def __init__(self) -> None:
        self.jobs: list[tuple[Callable[..., Any], tuple[Any, ...]]] = []

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        self.jobs.append((fn, args))
        return Future()

    def run_all(self) -> None:
        jobs, self.jobs = self.jobs, []
        for fn, args in jobs:
            fn(*args)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def chain(n_shops: int = 5, gtins: int = 4, seed: int = 0, prefix: str = "S",
          *, own_profiles: bool = False, weighted: bool = False) -> StockSnapshot:
    """A small chain. By default shops' velocities share one profile across GTINs; with
    `own_profiles` each GTIN sells in its own shops; `weighted` sets `customer_weight` to the
    shops' velocities over all GTINs."""
    rng = np.random.default_rng(seed)
    nodes = [Node("W0", NodeKind.WAREHOUSE, 40.0, -86.0, 10_000)]
    nodes += [Node(f"{prefix}{i}", NodeKind.SHOP, 40.0 + 0.4 * i, -75.0 - 0.5 * i, 40)
              for i in range(n_shops)]
    n = len(nodes)
    price = np.linspace(30, 90, gtins)
    profile = rng.uniform(0.5, 2.0, (n, gtins) if own_profiles else (n, 1))
    profile[0] = 1.0  # the warehouse: its online velocity
    velocity = profile * rng.uniform(0.02, 0.4, gtins)[None, :]
    weight = np.where(np.arange(n) > 0, velocity.sum(axis=1), 0.0) if weighted else None
    return StockSnapshot.build(
        nodes, [f"G{j}" for j in range(gtins)], rng.integers(0, 8, (n, gtins)), price=price,
        cost=price * 0.45, days_to_markdown=np.full(gtins, 14.0), markdown_price=price * 0.7,
        days_to_end=np.full(gtins, 40.0), salvage=price * 0.25, velocity=velocity,
        markdown_lift=1.6, rebuy_cost=np.where(np.arange(gtins) % 2 == 0, price * 0.45, np.nan),
        customer_weight=weight,
    )


def _gtin_by_gtin(snap: StockSnapshot) -> StockSnapshot:
    cache = BidPriceCache(COSTS, executor=Inline())
    for j in range(snap.n_gtins):  # one GTIN at a time, as requests would bring them
        assert cache.refresh(take_gtins(snap, [j])) == 1
    return cache.attach(snap)


def test_take_gtins_keeps_the_columns_asked_for() -> None:
    snap = chain()
    sub = take_gtins(snap, [2, 0])
    assert sub.gtins == ("G2", "G0")
    assert sub.gtin_index("G0") == 1 and sub.gtin_index("G1") is None
    np.testing.assert_array_equal(sub.available, snap.available[:, [2, 0]])
    np.testing.assert_array_equal(sub.price, snap.price[[2, 0]])
    assert sub.node_ids == snap.node_ids


@pytest.mark.parametrize(("own_profiles", "weighted"), [(False, False), (True, True)])
def test_gtin_by_gtin_equals_the_whole_chain_lp(own_profiles: bool, weighted: bool) -> None:
    """Exact when the carriage weights do not depend on the GTINs seen: shops sharing one
    velocity profile, or any velocities with the chain's customer weights given."""
    snap = chain(own_profiles=own_profiles, weighted=weighted)
    whole = bid_prices(snap, COSTS)
    assert (whole.value > snap.salvage[None, :] + 1.0).any()  # some units are worth more
    got = _gtin_by_gtin(snap)
    assert got.bid_value is not None and got.bid_online is not None
    np.testing.assert_allclose(got.bid_value, whole.value, atol=1e-6)
    np.testing.assert_allclose(got.bid_online, whole.online, atol=1e-6)


def test_without_customer_weights_each_gtin_weighs_carriage_by_its_own_shops() -> None:
    """Why the API passes the chain's customer weights: without them a GTIN solved alone puts
    the customers where that GTIN sells, and the online values differ from the whole LP's."""
    snap = chain(own_profiles=True)
    whole = bid_prices(snap, COSTS)
    got = _gtin_by_gtin(snap)
    assert got.bid_online is not None
    assert np.abs(got.bid_online - whole.online).max() > 0.01


def test_first_request_goes_without_and_schedules_the_refresh() -> None:
    ex = Inline()
    cache = BidPriceCache(COSTS, executor=ex)
    snap = chain()
    first = cache.attach(snap)
    assert first.bid_value is None  # never waits for an LP
    assert ex.jobs == 1 and cache.solved == snap.n_gtins
    second = cache.attach(snap)
    assert second.bid_value is not None
    assert ex.jobs == 1  # fresh: nothing scheduled again


def test_a_partly_known_order_goes_without_and_refreshes_only_the_missing_gtin() -> None:
    ex = Inline()
    cache = BidPriceCache(COSTS, executor=ex)
    snap = chain()
    cache.refresh(take_gtins(snap, [0, 1]))
    assert cache.attach(take_gtins(snap, [0, 2])).bid_value is None
    assert cache.solved == 3  # G0, G1, then only G2
    assert cache.attach(take_gtins(snap, [0, 2])).bid_value is not None


def test_stale_entries_serve_while_revalidating_then_expire() -> None:
    clock = Clock()
    later = Later()
    cache = BidPriceCache(COSTS, ttl_s=100, max_age_s=250, clock=clock, executor=later)
    snap = chain()
    cache.refresh(snap)
    assert cache.attach(snap).bid_value is not None and not later.jobs  # fresh
    clock.now += 150  # stale: still served, and re-solved in the background
    assert cache.attach(snap).bid_value is not None
    assert cache.attach(snap).bid_value is not None
    assert len(later.jobs) == 1  # pending: not scheduled twice
    clock.now += 150  # 300 s old: too old to use
    assert cache.attach(snap).bid_value is None
    later.run_all()
    assert cache.attach(snap).bid_value is not None


def test_another_node_set_is_a_miss() -> None:
    ex = Inline()
    cache = BidPriceCache(COSTS, executor=ex)
    cache.refresh(chain())
    other = chain(prefix="T")  # same GTINs, other shops
    assert cache.attach(other).bid_value is None
    assert cache.attach(other).bid_value is not None  # re-solved for the new node set


def test_entries_are_bounded_least_recently_used_first_out() -> None:
    cache = BidPriceCache(COSTS, max_gtins=2, executor=Inline())
    snap = chain(gtins=3)
    cache.refresh(take_gtins(snap, [0]))
    cache.refresh(take_gtins(snap, [1]))
    cache.attach(take_gtins(snap, [0]))  # G0 used: G1 is now the oldest
    cache.refresh(take_gtins(snap, [2]))
    assert len(cache) == 2
    assert cache.attach(take_gtins(snap, [0])).bid_value is not None
    assert cache._entries.keys() >= {"G0", "G2"}


def test_an_lp_that_fails_is_counted_and_decisions_go_on_without(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(snap: StockSnapshot, costs: CostConfig) -> Any:
        raise BidPriceError("bid-price LP: infeasible")

    monkeypatch.setattr(bidcache, "bid_prices", broken)
    cache = BidPriceCache(COSTS, executor=Inline())
    snap = chain()
    assert cache.attach(snap).bid_value is None
    assert cache.failed == 1 and len(cache) == 0


def test_background_thread_refreshes_and_close_waits_for_it() -> None:
    cache = BidPriceCache(COSTS)
    snap = chain()
    assert cache.attach(snap).bid_value is None
    cache.close()  # waits for the running LP
    assert cache.solved == snap.n_gtins
    assert cache.attach(snap).bid_value is not None
    cache.close()
    cache.attach(chain(prefix="T"))  # closed: nothing is scheduled any more
    assert cache.solved == snap.n_gtins


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError):
        BidPriceCache(COSTS, ttl_s=0)
