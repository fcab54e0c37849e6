"""The edge daemon's lifecycle: start, supervise, drain on SIGTERM, exit 0.

Start: metrics endpoint → outbox (and quarantine log) → sink; whatever the outbox still holds
from the last run is written first (bounded wait) so that `tag_state` is current, then the cleaner
is seeded from it (`gateway.restore`) → pipeline thread → serial drivers (supervised threads) →
MQTT client → the sink's drain thread.

Stop (SIGTERM, SIGINT or `request_stop`): stop reading (MQTT paused, serial drivers stopped after
delivering what they read) → the pipeline drains its queue into the outbox and releases the acks
of what is durable → acks sent, MQTT disconnected → the sink writes what it can of the outbox in
`shutdown_flush_s` → exit 0. What is not yet in the database stays in the outbox for the next run;
what is not yet in the outbox is still unacknowledged at the broker.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import psycopg

from gateway.metrics import GatewayMetrics
from gateway.mqtt_ingest import MqttIngest, Protocol
from gateway.outbox import Outbox
from gateway.pipeline import Pipeline
from gateway.presence import Cleaner, zone_map_from_readers
from gateway.quarantine import QuarantineLog
from gateway.restore import RestoredState, load_state
from gateway.serial_runner import SerialRunner
from gateway.sink import Sink, drain
from readers.driver import DriverRegistry, PayloadDriver, SerialDriver
from shelfsight.settings import StoreSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DaemonOptions:
    mqtt_protocol: Protocol = Protocol.V311
    restore_wait_s: float = 30.0  # how long to wait for the database at start
    shutdown_flush_s: float = 10.0  # how long the sink may write at stop
    supervise_interval_s: float = 1.0
    dsn: str | None = None  # overrides settings.database.dsn (tests, benchmarks)
    install_signals: bool = True


class Daemon:
    """One shop's gateway process."""

    def __init__(
        self,
        settings: StoreSettings,
        options: DaemonOptions | None = None,
        registry: DriverRegistry | None = None,
    ) -> None:
        self.settings = settings
        self.options = options or DaemonOptions()
        self.registry = registry
        self.store_id = settings.store.id
        self.metrics = GatewayMetrics(self.store_id)
        self._stop = threading.Event()
        self.pipeline: Pipeline | None = None
        self.outbox: Outbox | None = None
        self.mqtt: MqttIngest | None = None
        self.serial: SerialRunner | None = None
        self.started = threading.Event()

    # -- control ------------------------------------------------------------------------------
    def request_stop(self, *_args: Any) -> None:
        self._stop.set()

    def _dsn(self) -> str:
        if self.options.dsn:
            return self.options.dsn
        dsn = self.settings.database.dsn
        if dsn is None:
            raise SystemExit("database.dsn is required for `gateway run` (or SHELFSIGHT__DATABASE__DSN)")
        return dsn.get_secret_value()

    def _install_signals(self) -> None:
        if not self.options.install_signals or threading.current_thread() is not threading.main_thread():
            return

        def handler(signum: int, _frame: FrameType | None) -> None:
            log.info("signal %d: draining", signum)
            self._stop.set()

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)

    # -- start ----------------------------------------------------------------------------
    def _drivers(self) -> tuple[list[PayloadDriver], dict[str, SerialDriver]]:
        if self.registry is None:
            from readers.registry import default_registry

            self.registry = default_registry()
        payload: list[PayloadDriver] = []
        serial: dict[str, SerialDriver] = {}
        for reader in self.settings.readers:
            spec = self.registry.get(reader.driver)
            driver = spec.factory(reader)
            if spec.transport == "serial" and isinstance(driver, SerialDriver):
                serial[reader.id] = driver
            elif spec.transport == "mqtt" and isinstance(driver, PayloadDriver):
                payload.append(driver)
            else:
                log.warning("reader %s: transport %s not run by the gateway; skipped",
                            reader.id, spec.transport)
        return payload, serial

    def _bounded(self, seconds: float, fn: Callable[[threading.Event], object]) -> None:
        """Run fn(stop) with a stop event set after `seconds` or at shutdown."""
        stop = threading.Event()
        deadline = time.monotonic() + seconds

        def watch() -> None:
            while not stop.is_set() and not self._stop.is_set() and time.monotonic() < deadline:
                stop.wait(0.1)
            stop.set()

        watcher = threading.Thread(target=watch, name="bounded", daemon=True)
        watcher.start()
        try:
            fn(stop)
        finally:
            stop.set()

    def _restore(self, outbox: Outbox, sink: Sink, dsn: str) -> RestoredState:
        self._bounded(self.options.restore_wait_s,
                      lambda stop: drain(outbox, sink, stop, until_empty=True))
        deadline = time.monotonic() + self.options.restore_wait_s
        while not self._stop.is_set():
            try:
                with psycopg.connect(dsn, connect_timeout=5) as conn:
                    self._register_store(conn)
                    return load_state(conn, self.store_id)
            except psycopg.Error as exc:
                if time.monotonic() > deadline:
                    log.error("database unreachable at start (%s): starting with empty state", exc)
                    return RestoredState()
                log.warning("database unreachable at start (%s); retrying", exc)
                self._stop.wait(1.0)
        return RestoredState()

    def _register_store(self, conn: psycopg.Connection[Any]) -> None:
        s = self.settings
        import json

        with conn.transaction():
            conn.execute(
                "INSERT INTO stores (store_id, name, kind, lat, lon) VALUES (%s, %s, 'shop', %s, %s)"
                " ON CONFLICT (store_id) DO NOTHING",
                (s.store.id, s.store.name or s.store.id, s.store.lat, s.store.lon),
            )
            for r in s.readers:
                conn.execute(
                    "INSERT INTO readers (store_id, reader_id, driver, zones) VALUES (%s, %s, %s, %s)"
                    " ON CONFLICT (store_id, reader_id) DO UPDATE SET driver = excluded.driver,"
                    " zones = excluded.zones",
                    (s.store.id, r.id, r.driver, json.dumps({str(k): v for k, v in r.zones.items()})),
                )

    # -- run ------------------------------------------------------------------------------
    def run(self) -> int:
        """Run until stopped; returns the process exit code."""
        self._install_signals()
        s = self.settings
        self.metrics.serve(s.metrics.host, s.metrics.port)
        dsn = self._dsn()
        outbox = self.outbox = Outbox(s.outbox.path, s.outbox.max_rows, s.outbox.full_policy)
        quarantine = QuarantineLog(Path(str(s.outbox.path) + ".quarantine"))
        sink = Sink(dsn, self.store_id, s.sink)
        restored = self._restore(outbox, sink, dsn)
        cycle_s = s.gateway.cycle_s
        # SMURF's epoch is the reporting cycle when there is one.
        cleaning = s.cleaning.model_copy(update={"epoch_s": cycle_s}) if cycle_s > 0 else s.cleaning
        cleaner = Cleaner(cleaning, zone_map_from_readers(s.readers), s.zones)
        restored.apply(cleaner)
        pipeline = self.pipeline = Pipeline(
            self.store_id, outbox, cleaner, self.metrics, cycle_s=cycle_s,
            flush_interval_s=s.gateway.flush_interval_s, quarantine=quarantine,
            picked=restored.picked, ingester=self._ingester(),
        )
        payload, serial_drivers = self._drivers()
        pipeline.start()
        serial = self.serial = SerialRunner(serial_drivers, pipeline.deliver_for, self.metrics,
                                            self.store_id)
        serial.start()
        if payload:
            self.mqtt = MqttIngest(s.mqtt, payload, pipeline, self.metrics, self.store_id,
                                   protocol=self.options.mqtt_protocol)
            self.mqtt.start()
        sink_stop = threading.Event()
        sink_thread = self._start_sink(outbox, sink, sink_stop)
        self.started.set()
        log.info("gateway %s running: %d MQTT reader(s), %d serial reader(s)",
                 self.store_id, len(payload), len(serial_drivers))
        code = 0
        while not self._stop.wait(self.options.supervise_interval_s):
            self._observe(outbox, serial)
            if not pipeline.alive:
                log.error("pipeline thread died (%s): exiting", pipeline.error)
                code = 1
                break
            if not sink_thread.is_alive():
                log.error("sink thread died; restarting it")
                sink_thread = self._start_sink(outbox, sink, sink_stop)
        self._shutdown(outbox, sink, sink_stop, sink_thread, quarantine)
        return code

    def _ingester(self) -> str:
        """The summary-key discriminator: the MQTT client id when sharing a subscription."""
        mqtt = self.settings.mqtt
        if not mqtt.shared_group:
            return ""
        return mqtt.client_id or f"shelfsight-gateway-{self.store_id}"

    def _start_sink(self, outbox: Outbox, sink: Sink, stop: threading.Event) -> threading.Thread:
        t = threading.Thread(target=drain, args=(outbox, sink, stop), name="sink", daemon=True)
        t.start()
        return t

    def _observe(self, outbox: Outbox, serial: SerialRunner) -> None:
        shop = self.store_id
        age = outbox.oldest_age_s()
        self.metrics.outbox_depth.labels(shop).set(outbox.depth())
        self.metrics.outbox_oldest_age.labels(shop).set(age)
        self.metrics.sink_lag.labels(shop).set(age)
        if self.mqtt is not None:
            self.metrics.mqtt_inflight.labels(shop).set(self.mqtt.inflight)
        serial.poll()

    def _shutdown(
        self,
        outbox: Outbox,
        sink: Sink,
        sink_stop: threading.Event,
        sink_thread: threading.Thread,
        quarantine: QuarantineLog,
    ) -> None:
        started = time.monotonic()
        if self.mqtt is not None:
            self.mqtt.pause()
        if self.serial is not None:
            self.serial.stop()
        if self.pipeline is not None:
            self.pipeline.stop(drain=True)
        if self.mqtt is not None:
            self.mqtt.stop()
        sink_stop.set()
        sink_thread.join(30)
        budget = max(0.0, self.options.shutdown_flush_s - (time.monotonic() - started))
        stop = threading.Event()
        timer = threading.Timer(budget, stop.set)
        timer.daemon = True
        timer.start()
        try:
            drain(outbox, sink, stop, until_empty=True)
        finally:
            timer.cancel()
        left = outbox.depth()
        if left:
            log.warning("stopping with %d record(s) in the outbox (written at the next start)", left)
        sink.close()
        outbox.close()
        quarantine.close()
        log.info("gateway %s stopped in %.1fs", self.store_id, time.monotonic() - started)
