"""The empirical-Bayes velocity estimator: a hand case, exposure, pooling across sizes."""

from __future__ import annotations

import numpy as np
import pytest

from allocator.velocity import MAX_SHAPE, estimate


def test_one_cell_by_hand() -> None:
    # 2 sales in 10 exposed days, prior 0.1/day (1 expected sale). Chain correction
    # (2 + 1) / (1 + 1) = 1.5, node factor (2 + 1) / (1.5 + 1) = 1.2: θ0 = 0.1 x 1.5 x 1.2 = 0.18.
    # μ = 1.8, (2 - 1.8)² - 1.8 < 0: no over-dispersion, shape = MAX_SHAPE = 50.
    # Posterior (50 + 2) / (50 / 0.18 + 10) = 0.180695.
    est = estimate(np.array([[2.0]]), np.array([[10.0]]), np.array([[0.1]]))
    assert est.prior_shape == MAX_SHAPE
    assert est.rate[0, 0] == pytest.approx(52 / (50 / 0.18 + 10), rel=1e-9)
    assert est.shape[0, 0] == pytest.approx(52.0)


def test_days_without_stock_do_not_count_as_days_without_demand() -> None:
    # Two shops sold 5 units each; shop 0 had stock 5 days of the window, shop 1 all 28.
    sales = np.array([[5.0], [5.0], [3.0], [3.0]])
    expo = np.array([[5.0], [28.0], [28.0], [28.0]])
    est = estimate(sales, expo, np.full((4, 1), 0.1))
    assert est.rate[0, 0] > 2 * est.rate[1, 0]
    # A cell never in stock gets the pooled prior, not zero.
    est0 = estimate(np.array([[0.0], [4.0]]), np.array([[0.0], [28.0]]), np.full((2, 1), 0.1))
    assert est0.rate[0, 0] > 0.05


def test_pooling_the_sizes_of_a_style_beats_each_size_alone() -> None:
    # True rate = shop x style factor x a chain-wide size curve; 28 days of Poisson sales.
    rng = np.random.default_rng(4)
    shops, styles, curve = 40, 30, np.array([0.2, 0.3, 0.3, 0.2])
    theta = rng.lognormal(np.log(0.3), 0.6, (shops, styles))
    groups = np.repeat(np.arange(styles), curve.size)
    true = theta[:, groups] * np.tile(curve, styles)[None, :]
    prior = true * rng.lognormal(-0.1, 0.45, true.shape)  # a noisy plan
    expo = np.full(true.shape, 28.0)
    sales = rng.poisson(true * expo).astype(np.float64)
    pooled = estimate(sales, expo, prior, groups)
    alone = estimate(sales, expo, prior)
    raw = sales / expo
    err = {name: float(np.abs(x - true).mean())
           for name, x in (("pooled", pooled.rate), ("alone", alone.rate), ("raw", raw))}
    assert err["pooled"] < err["alone"] < err["raw"], err
    assert (pooled.shape >= pooled.prior_shape).all()
