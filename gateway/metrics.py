"""Prometheus metrics of the edge daemon, in a registry of their own (nothing global at import).

`GatewayMetrics(shop)` builds every metric in a fresh `CollectorRegistry`; `serve(host, port)`
exposes it on `/metrics` with `prometheus_client.start_http_server(registry=...)`.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

log = logging.getLogger(__name__)


@dataclass
class _RateWindow:
    """Reads/s per reader over the last few seconds (fed by the pipeline thread)."""

    window_s: float = 5.0
    samples: dict[str, list[tuple[float, int]]] = field(default_factory=dict)

    def add(self, reader: str, n: int, now: float) -> float:
        s = self.samples.setdefault(reader, [])
        s.append((now, n))
        cut = now - self.window_s
        while s and s[0][0] < cut:
            s.pop(0)
        span = max(now - s[0][0], 1.0) if s else 1.0
        return sum(c for _, c in s) / span


class GatewayMetrics:
    """Every metric of one gateway process, labelled with the shop id."""

    def __init__(self, shop: str) -> None:
        self.shop = shop
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.reads_ingested = Counter(
            "shelfsight_reads_ingested",
            "Reads accepted from readers (a report folding n reads counts n).",
            ["shop", "reader"],
            registry=r,
        )
        self.reads_per_s = Gauge(
            "shelfsight_reads_per_second", "Raw reads per second (5 s window).", ["shop", "reader"],
            registry=r,
        )
        self.events = Counter(
            "shelfsight_tag_events", "Presence events emitted.", ["shop", "kind"], registry=r
        )
        self.summary_rows = Counter(
            "shelfsight_read_summary_rows", "Read-summary rows put in the outbox.", ["shop"],
            registry=r,
        )
        self.outbox_depth = Gauge(
            "shelfsight_outbox_depth", "Records waiting in the outbox.", ["shop"], registry=r
        )
        self.outbox_oldest_age = Gauge(
            "shelfsight_outbox_oldest_age_seconds", "Age of the oldest outbox record.", ["shop"],
            registry=r,
        )
        self.outbox_dropped = Counter(
            "shelfsight_outbox_dropped_records", "Records dropped by the drop policy.", ["shop"],
            registry=r,
        )
        self.reads_dropped = Counter(
            "shelfsight_outbox_dropped_reads",
            "Raw reads inside read summaries dropped by the drop policy.", ["shop"], registry=r,
        )
        self.sink_lag = Gauge(
            "shelfsight_sink_lag_seconds",
            "Seconds since the oldest record not yet in the database was put.", ["shop"],
            registry=r,
        )
        self.duplicates = Counter(
            "shelfsight_duplicate_reads", "Reads dropped as duplicates (device counter).",
            ["shop", "reader"], registry=r,
        )
        self.gaps = Counter(
            "shelfsight_read_gaps", "Device event counters skipped.", ["shop", "reader"], registry=r
        )
        self.quarantined = Counter(
            "shelfsight_quarantined_inputs", "Inputs quarantined, by reason.",
            ["shop", "reader", "reason"], registry=r,
        )
        self.bad_epcs = Counter(
            "shelfsight_bad_epc_reads", "Reads of EPCs that are not SGTINs, by reason (kept raw).",
            ["shop", "reason"], registry=r,
        )
        self.reader_up = Gauge(
            "shelfsight_reader_up", "1 when the reader is connected and healthy.", ["shop", "reader"],
            registry=r,
        )
        self.reader_restarts = Counter(
            "shelfsight_reader_restarts", "Driver restarts by the supervisor.", ["shop", "reader"],
            registry=r,
        )
        self.reader_heartbeat_age = Gauge(
            "shelfsight_reader_heartbeat_age_seconds", "Seconds since the reader's last heartbeat.",
            ["shop", "reader"], registry=r,
        )
        self.mqtt_connected = Gauge(
            "shelfsight_mqtt_connected", "1 while connected to the broker.", ["shop"], registry=r
        )
        self.mqtt_inflight = Gauge(
            "shelfsight_mqtt_inflight", "MQTT messages received and not yet acknowledged.", ["shop"],
            registry=r,
        )
        self.pipeline_queue = Gauge(
            "shelfsight_pipeline_queue", "Work items waiting for the pipeline thread.", ["shop"],
            registry=r,
        )
        self._rates = _RateWindow()
        self._lock = threading.Lock()

    # -- helpers used by the pipeline -------------------------------------------------------
    def count_reads(self, reader: str, n: int) -> None:
        self.reads_ingested.labels(self.shop, reader).inc(n)
        with self._lock:
            rate = self._rates.add(reader, n, time.monotonic())
        self.reads_per_s.labels(self.shop, reader).set(rate)

    def count_quarantined(self, reader: str, reason: str, n: int = 1) -> None:
        self.quarantined.labels(self.shop, reader, reason).inc(n)

    def value(self, name: str, **labels: str) -> float:
        """A sample's current value (tests and the daemon's summary log); 0 when absent."""
        v = self.registry.get_sample_value(name, {"shop": self.shop, **labels})
        return 0.0 if v is None else float(v)

    def serve(self, host: str, port: int) -> object | None:
        """Start the /metrics endpoint (port 0: disabled); returns the server or None."""
        if port == 0:
            return None
        server, _thread = start_http_server(port, addr=host, registry=self.registry)
        log.info("metrics on http://%s:%d/metrics", host, port)
        return server
