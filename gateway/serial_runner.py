"""Serial drivers in threads of their own, supervised: a driver that dies is restarted with
capped exponential back-off, its health and counters are turned into metrics.

Each driver blocks in `deliver` when the pipeline applies back-pressure and simply stops
reading its port (the reader's own buffer, or the UART, holds the rest).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from gateway.metrics import GatewayMetrics
from readers.batch import ReadBatch
from readers.driver import SerialDriver

log = logging.getLogger(__name__)

_ERROR_PREFIX = "error_"


@dataclass
class DriverState:
    reader: str
    restarts: int = 0
    running: bool = False
    last_error: str | None = None
    last_counters: dict[str, int] = field(default_factory=dict)


class SupervisedSerial:
    """One serial driver's thread: `run` again (after back-off) whenever it returns or raises."""

    def __init__(
        self,
        reader: str,
        driver: SerialDriver,
        deliver: Callable[[ReadBatch], None],
        stop: threading.Event,
        metrics: GatewayMetrics,
        store_id: str,
        initial_backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
    ) -> None:
        self.reader = reader
        self.driver = driver
        self.deliver = deliver
        self.stop = stop
        self.metrics = metrics
        self.store_id = store_id
        self.initial_backoff_s = initial_backoff_s
        self.max_backoff_s = max_backoff_s
        self.state = DriverState(reader)
        self.thread = threading.Thread(target=self._run, name=f"serial-{reader}", daemon=True)

    def _run(self) -> None:
        delay = self.initial_backoff_s
        while not self.stop.is_set():
            started = time.monotonic()
            self.state.running = True
            try:
                self.driver.run(self.deliver, self.stop)
                if self.stop.is_set():
                    break
                self.state.last_error = "run() returned"
                log.warning("serial driver %s returned; restarting in %.1fs", self.reader, delay)
            except Exception as exc:  # supervised: logged, counted, restarted
                self.state.last_error = repr(exc)
                log.exception("serial driver %s failed; restarting in %.1fs", self.reader, delay)
            finally:
                self.state.running = False
            self.state.restarts += 1
            self.metrics.reader_restarts.labels(self.store_id, self.reader).inc()
            if time.monotonic() - started > 60:
                delay = self.initial_backoff_s  # it ran for a while: start back-off over
            self.stop.wait(delay)
            delay = min(delay * 2, self.max_backoff_s)

    def poll(self) -> None:
        """Counters and health into metrics (called by the daemon's supervisor loop)."""
        try:
            counters = self.driver.counters()
            health = self.driver.health()
        except Exception as exc:  # a driver's accessor bug must not stop supervision
            log.warning("serial driver %s: cannot read counters: %s", self.reader, exc)
            return
        prev = self.state.last_counters
        for key, value in counters.items():
            if key.startswith(_ERROR_PREFIX):
                delta = value - prev.get(key, 0)
                if delta > 0:
                    self.metrics.count_quarantined(self.reader, key[len(_ERROR_PREFIX):], delta)
        self.state.last_counters = dict(counters)
        up = self.state.running and health.connected and not health.errors
        self.metrics.reader_up.labels(self.store_id, self.reader).set(1 if up else 0)
        if health.last_heartbeat_ns is not None:
            age = max(0.0, (time.time_ns() - health.last_heartbeat_ns) / 1e9)
            self.metrics.reader_heartbeat_age.labels(self.store_id, self.reader).set(age)


class SerialRunner:
    """Every serial driver of the shop, started and stopped together."""

    def __init__(
        self,
        drivers: Mapping[str, SerialDriver],
        deliver_for: Callable[[str], Callable[[ReadBatch], None]],
        metrics: GatewayMetrics,
        store_id: str,
        initial_backoff_s: float = 0.5,
    ) -> None:
        self.stop_event = threading.Event()
        self.supervised = [
            SupervisedSerial(reader, driver, deliver_for(reader), self.stop_event, metrics, store_id,
                             initial_backoff_s)
            for reader, driver in drivers.items()
        ]

    def start(self) -> None:
        for s in self.supervised:
            s.thread.start()

    def poll(self) -> None:
        for s in self.supervised:
            s.poll()

    def states(self) -> dict[str, DriverState]:
        return {s.reader: s.state for s in self.supervised}

    def stop(self, timeout: float = 10.0) -> None:
        """Ask every driver to stop; each returns after delivering what it had read."""
        self.stop_event.set()
        deadline = time.monotonic() + timeout
        for s in self.supervised:
            if s.thread.is_alive():
                s.thread.join(max(0.1, deadline - time.monotonic()))
            if s.thread.is_alive():
                log.error("serial driver %s did not stop within %.1fs", s.reader, timeout)
