"""The allocation benchmark's statistics, the Jasin–Sinha bound and the latency probe."""

from __future__ import annotations

import math

import pytest

from bench import jasin_sinha
from bench.allocation import SAME_REBUYS, latency, mean_ci, run


def test_mean_ci_hand_case() -> None:
    # Values 1, 2, 3: mean 2, sd 1, t(0.975, 2) = 4.3027 -> half-width 4.3027 / sqrt(3).
    got = mean_ci([1.0, 2.0, 3.0])
    assert got["mean"] == 2.0
    assert got["ci95"] == pytest.approx(4.302653 / math.sqrt(3), abs=1e-3)
    assert mean_ci([5.0]) == {"mean": 5.0, "ci95": 0.0}


def test_online_policies_never_beat_the_hindsight_lp() -> None:
    out = jasin_sinha.run(instances=1, sequences=1, horizon=300)
    pol = out["policies"]
    floor = pol["hindsight-lp"]["cost_over_dlp"]
    for name in ("closest", "cheapest", "bid-price"):
        assert pol[name]["cost_over_dlp"] >= floor - 1e-9, name


def test_latency_probe_reports_percentiles() -> None:
    out = latency(stores=20, gtins=500, orders=40)
    assert out["orders"] == 30
    assert 0 < out["p50_ms"] <= out["p99_ms"] <= out["max_ms"]
    assert sum(out["solvers"].values()) == 40


def test_bench_run_shape_on_a_tiny_chain() -> None:
    out = run(seeds=2, stores=6, skus=12, days=10, latency_gtins=300, latency_orders=30,
              js_horizon=200)
    assert set(out["policies"]) >= {"warehouse-first", "cheapest", "shelfsight",
                                    "clairvoyant-window", "hindsight"}
    assert out["gap_closed"]["hindsight"]["ratio_of_means"] in (1.0, None)
    assert out["markdown_floor"]["reduction_vs_warehouse_first"] >= 0.0
    assert out["gap_closed"]["cheapest"]["ratio_of_means"] in (0.0, None)
    assert out["policies"]["cheapest"]["vs_cheapest"]["total_margin"] == {"mean": 0.0, "ci95": 0.0}
    wf = out["policies"]["warehouse-first"]["vs_warehouse_first"]
    assert wf["markdown_value"] == {"mean": 0.0, "ci95": 0.0}
    assert "margin_95_minus_65" in out["rfid_value"]
    assert out["targets"]["zero_capacity_violations"] is True
    # The bound given a policy's own re-buys: above that policy's run (it is one of its plans),
    # below hindsight (which may also re-buy freely).
    free = [r["total_margin"] for r in out["raw"]["hindsight"]]
    for name in SAME_REBUYS:
        same = out["gap_closed_same_rebuys"][name]["bound_per_seed"]
        ran = [r["total_margin"] for r in out["raw"][name]]
        assert all(m <= b + 0.01 and b <= f + 0.01 for m, b, f in zip(ran, same, free, strict=True))
    assert out["gap_closed_same_rebuys"]["cheapest"]["ratio_of_means"] in (0.0, None)
