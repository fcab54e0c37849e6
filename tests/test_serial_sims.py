"""Drivers against their simulators over real ptys: exactly the intact reads, across unplugging."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from readers.batch import ReadBatch
from readers.config import ReaderConfig
from readers.driver import SerialDriver
from readers.drivers import mercury, r2000, tsl
from readers.registry import default_registry
from simulators.devices import (
    FaultPlan,
    MercurySimulator,
    R2000Simulator,
    Scene,
    TslSimulator,
)
from simulators.devices._pty import PtyDevice

BAUD = 921_600
FAULTS = FaultPlan(
    garbage_rate=0.1, bad_crc_rate=0.05, truncate_rate=0.05, port_drop_every=60, max_port_drops=2,
    unplugged_s=0.1, seed=11,
)


def _wait(cond: Callable[[], bool], timeout_s: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.01)
    return cond()


class Sink:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.epcs: Counter[bytes] = Counter()
        self.batches: list[ReadBatch] = []

    def __call__(self, batch: ReadBatch) -> None:
        with self.lock:
            self.batches.append(batch)
            for r in batch.reads():  # a Mercury tag-buffer record may fold several reads
                self.epcs[r.epc] += r.read_count

    @property
    def reads(self) -> int:
        with self.lock:
            return sum(self.epcs.values())


@contextmanager
def running(device: PtyDevice, driver: SerialDriver) -> Iterator[Sink]:
    sink = Sink()
    stop = threading.Event()
    device.start()
    thread = threading.Thread(target=driver.run, args=(sink, stop), daemon=True)
    thread.start()
    try:
        yield sink
    finally:
        stop.set()
        thread.join(timeout=10)
        device.stop()
    assert not thread.is_alive()


def _run_until_settled(device: PtyDevice, sink: Sink, min_reads: int, drops: int) -> None:
    assert _wait(lambda: device.truth.reads_emitted >= min_reads and device.truth.port_drops >= drops)
    assert device.quiesce()
    # the device emits nothing new; the driver catches up with every intact read
    _wait(lambda: sink.reads >= device.truth.reads_intact, 10.0)


def _check(device: PtyDevice, driver: SerialDriver, sink: Sink, drops: int) -> dict[str, int]:
    truth = device.truth
    counters = driver.counters()
    assert truth.reads_corrupted > 0
    assert sink.reads == truth.reads_intact == truth.reads_emitted - truth.reads_corrupted
    assert sink.epcs == truth.intact_epcs
    assert counters["reads"] == truth.reads_intact
    assert truth.port_drops == drops and truth.undrained_at_drop == 0
    assert counters.get("port_lost", 0) == drops
    assert counters["opens"] == drops + 1
    assert counters["reopen_attempts"] >= drops
    errors = sum(v for k, v in counters.items() if k.startswith("error_"))
    assert errors > 0
    return counters


def _config(driver: str, port: str, **options: Any) -> ReaderConfig:
    return ReaderConfig(id=f"{driver}-1", driver=driver, port=port, baudrate=BAUD, options=options)


def test_registry_exposes_the_serial_drivers() -> None:
    try:
        registry = default_registry(plugins=False)
    except ImportError as exc:  # another driver of the registry is not written yet
        pytest.skip(str(exc))
    for name in ("mercury", "r2000", "tsl_ascii"):
        spec = registry.get(name)
        assert spec.transport == "serial" and spec.decode_capture is not None


def test_mercury_continuous_with_faults_and_unplugging() -> None:
    scene = Scene.random(25, antennas=(1, 2), seed=5)
    device = MercurySimulator(scene, FAULTS, baudrate=BAUD, time_scale=0.05, status_rate=0.5)
    driver = mercury.factory(_config("mercury", device.port, response_timeout_s=0.5))
    with running(device, driver) as sink:
        _run_until_settled(device, sink, 400, 2)
    _check(device, driver, sink, 2)
    assert all(b.frequency_khz is not None and b.phase is not None for b in sink.batches)
    assert {a for b in sink.batches for a in b.antenna.tolist()} == {1, 2}
    assert driver.health().errors  # 0504/0505 status frames reached health


def test_mercury_tag_buffer_polling_with_faults_and_unplugging() -> None:
    scene = Scene.random(30, antennas=(1, 2), seed=6)
    faults = FaultPlan(
        garbage_rate=0.1, bad_crc_rate=0.1, truncate_rate=0.1, port_drop_every=12, max_port_drops=1,
        unplugged_s=0.1, clock_skew_ms=40, seed=3,
    )
    device = MercurySimulator(scene, faults, baudrate=BAUD, time_scale=0.2)
    driver = mercury.factory(
        _config("mercury", device.port, mode="poll", read_timeout_ms=50, response_timeout_s=0.2)
    )
    start = time.time_ns()
    with running(device, driver) as sink:
        _run_until_settled(device, sink, 150, 1)
    _check(device, driver, sink, 1)
    times = [t for b in sink.batches for t in b.time_ns.tolist()]
    assert min(times) >= start and max(times) <= time.time_ns()  # host-anchored, clamped


def test_r2000_with_faults_and_unplugging() -> None:
    scene = Scene.random(20, antennas=(1, 2, 3), seed=7)
    device = R2000Simulator(scene, FAULTS, baudrate=BAUD, time_scale=0.2, round_ms=20)
    driver = r2000.factory(_config("r2000", device.port, antennas=[1, 2, 3], response_timeout_s=0.3))
    with running(device, driver) as sink:
        _run_until_settled(device, sink, 400, 2)
    counters = _check(device, driver, sink, 2)
    assert counters["rounds"] > 0
    assert {a for b in sink.batches for a in b.antenna.tolist()} == {1, 2, 3}
    assert all(b.frequency_khz is not None and (b.frequency_khz >= 902_000).all() for b in sink.batches)


def test_tsl_census_batches_with_faults_and_unplugging() -> None:
    scene = Scene.random(40, seed=8)
    faults = FaultPlan(
        garbage_rate=0.3, bad_crc_rate=0.1, truncate_rate=0.1, port_drop_every=8, max_port_drops=1,
        unplugged_s=0.1, seed=5,
    )
    device = TslSimulator(scene, faults, baudrate=BAUD, trigger_interval_s=0.05)
    driver = tsl.factory(_config("tsl_ascii", device.port, zone="backroom", poll_interval_s=0.05))
    with running(device, driver) as sink:
        _run_until_settled(device, sink, 600, 1)
    _check(device, driver, sink, 1)
    assert {b.census_zone for b in sink.batches} == {"backroom"}
    assert all(not b.rssi_dbm.size or (b.rssi_dbm < 0).all() for b in sink.batches)  # RI: on


def test_clean_line_delivers_every_read_and_counts_no_error() -> None:
    scene = Scene.random(10, seed=9)
    device = R2000Simulator(scene, None, baudrate=BAUD, time_scale=0.1)
    driver = r2000.factory(_config("r2000", device.port))
    with running(device, driver) as sink:
        _run_until_settled(device, sink, 100, 0)
    counters = driver.counters()
    assert sink.epcs == device.truth.intact_epcs and device.truth.reads_corrupted == 0
    assert not [k for k in counters if k.startswith("error_")]
    assert counters["opens"] == 1 and driver.health().connected is False
