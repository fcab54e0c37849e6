"""Prometheus metrics of the API: allocation latency and outcomes, pick outcomes, batch sizes.

With several uvicorn workers, `shelfsight api serve` points `PROMETHEUS_MULTIPROC_DIR` at a fresh
directory before the workers start; each worker then writes its samples there and `/metrics`
(any worker) aggregates them all (prometheus_client multiprocess mode: counters and histograms
are summed). Without it each app has its own registry (tests build many apps in one process).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32)
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.1, 0.25, 0.5, 1.0)


@dataclass(frozen=True)
class ApiMetrics:
    registry: CollectorRegistry | None  # None: multiprocess mode, collected from the files
    allocation_seconds: Histogram
    allocations: Counter
    picks: Counter
    reserve_batch: Histogram
    bid_lookups: Counter
    bid_solves: Counter

    def render(self) -> bytes:
        if self.registry is not None:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)


def build_metrics() -> ApiMetrics:
    multiprocess = bool(os.environ.get(MULTIPROC_ENV))
    registry = None if multiprocess else CollectorRegistry()
    return ApiMetrics(
        registry=registry,
        allocation_seconds=Histogram(
            "shelfsight_allocation_seconds",
            "Time to decide (and reserve) one allocation request.",
            ["dry_run"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        ),
        allocations=Counter(
            "shelfsight_allocations",
            "Allocation requests by outcome (reserved, dry_run, replayed, not_available, invalid).",
            ["outcome"],
            registry=registry,
        ),
        picks=Counter(
            "shelfsight_picks", "Pick confirmations by outcome (confirmed, refused).", ["outcome"],
            registry=registry,
        ),
        reserve_batch=Histogram(
            "shelfsight_reserve_batch_size",
            "Allocate-and-reserve requests per group-committed PostgreSQL call.",
            buckets=BATCH_BUCKETS,
            registry=registry,
        ),
        bid_lookups=Counter(
            "shelfsight_bid_price_lookups",
            "Decisions by whether fresh bid prices covered every GTIN (hit) or Δ alone ran (miss).",
            ["outcome"],
            registry=registry,
        ),
        bid_solves=Counter(
            "shelfsight_bid_price_gtins",
            "GTINs whose bid prices were re-solved in the background, by outcome (solved, failed).",
            ["outcome"],
            registry=registry,
        ),
    )
