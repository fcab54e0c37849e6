"""Re-expose the shop gateways' Prometheus metrics through the API's `/metrics`.

`GatewayMetricsRelay(targets)` scrapes each gateway's `/metrics` every `interval_s` in a thread
of its own and keeps the last good scrape per target; as a prometheus_client collector it yields
those families (merged by name across gateways, so the exposition stays valid), so one scrape of
the API sees the whole demo. A target that does not answer keeps its last samples for
`stale_after_s`, then drops out, and is counted in `shelfsight_relay_scrape_errors_total`.
`reader_view()` gives the dashboard each reader's ingested total, `up` and heartbeat age.
In production Prometheus scrapes every gateway itself; the relay is for the demo and for
single-box installs.
"""

from __future__ import annotations

import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from prometheus_client.metrics_core import CounterMetricFamily, Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Scrape:
    at: float
    families: tuple[Metric, ...]


def merge_families(scrapes: Iterable[Sequence[Metric]]) -> list[Metric]:
    """One family per metric name, with the samples of every scrape (pure)."""
    merged: dict[str, Metric] = {}
    for families in scrapes:
        for fam in families:
            into = merged.get(fam.name)
            if into is None:
                into = Metric(fam.name, fam.documentation, fam.type, fam.unit)
                merged[fam.name] = into
            if into.type == fam.type:
                into.samples.extend(fam.samples)
    return list(merged.values())


class GatewayMetricsRelay(Collector):
    def __init__(
        self, targets: Sequence[str], interval_s: float = 1.0, timeout_s: float = 1.0,
        stale_after_s: float = 30.0,
    ) -> None:
        self.targets = list(targets)
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self.stale_after_s = stale_after_s
        self._last: dict[str, _Scrape] = {}
        self._errors: dict[str, int] = {t: 0 for t in self.targets}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- scraping ---------------------------------------------------------------------------
    def scrape_once(self) -> None:
        for target in self.targets:
            try:
                with urllib.request.urlopen(target, timeout=self.timeout_s) as resp:
                    text = resp.read().decode("utf-8", "replace")
                families = tuple(text_string_to_metric_families(text))
            except (OSError, urllib.error.URLError, ValueError) as exc:
                with self._lock:
                    self._errors[target] = self._errors.get(target, 0) + 1
                log.debug("relay: %s did not answer: %s", target, exc)
                continue
            with self._lock:
                self._last[target] = _Scrape(time.monotonic(), families)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.scrape_once()
            self._stop.wait(self.interval_s)

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="metrics-relay", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    # -- reading ----------------------------------------------------------------------------
    def _fresh(self) -> list[tuple[Metric, ...]]:
        cut = time.monotonic() - self.stale_after_s
        with self._lock:
            return [s.families for s in self._last.values() if s.at >= cut]

    def describe(self) -> Iterable[Metric]:
        return []  # registering must not scrape

    def collect(self) -> Iterator[Metric]:
        yield from merge_families(self._fresh())
        errors = CounterMetricFamily(
            "shelfsight_relay_scrape_errors", "Gateway scrapes that failed, per target.",
            labels=["target"],
        )
        with self._lock:
            for target, n in sorted(self._errors.items()):
                errors.add_metric([target], n)
        yield errors

    def reader_view(self) -> dict[tuple[str, str], dict[str, float]]:
        """(shop, reader) -> reads_total, up, heartbeat_age_s from the latest scrapes."""
        names = {
            "shelfsight_reads_ingested_total": "reads_total",
            "shelfsight_reader_up": "up",
            "shelfsight_reader_heartbeat_age_seconds": "heartbeat_age_s",
        }
        out: dict[tuple[str, str], dict[str, float]] = {}
        for families in self._fresh():
            for fam in families:
                for sample in fam.samples:
                    key = names.get(sample.name)
                    shop, reader = sample.labels.get("shop"), sample.labels.get("reader")
                    if key is None or shop is None or reader is None:
                        continue
                    out.setdefault((shop, reader), {})[key] = float(sample.value)
        return out
