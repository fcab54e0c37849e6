"""JSON reader simulators against a real broker / a real HTTP stream, checked against ground truth:
the drivers deliver exactly the intact reads (counts and EPC multiset), replays deduplicated."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from readers.batch import ReadBatch
from readers.config import ReaderConfig
from readers.driver import DecodeResult, PayloadDriver, ReaderHealth
from readers.drivers.impinj import ImpinjHttpStreamDriver, ImpinjMqttDriver
from readers.drivers.zebra import ZebraIotcDriver
from simulators.devices.json_faults import JsonFaultInjector, JsonFaultPlan
from simulators.devices.mqtt_sim import ImpinjHttpStreamServer, ImpinjMqttSimulator, ZebraFxSimulator
from simulators.devices.scene import Scene

FAULTS = JsonFaultPlan(
    malformed_rate=0.08, bad_epc_rate=0.03, replay_every=5, replay_burst=2,
    outage_every=9, outage_messages=3, clock_skew_ms=1500, seed=3,
)


class Collector:
    """A subscriber that feeds every message to a driver's `decode`."""

    def __init__(self, host: str, port: int, driver: PayloadDriver, topics: tuple[str, ...]) -> None:
        self.driver = driver
        self.lock = threading.Lock()
        self.results: list[DecodeResult] = []
        self.messages = 0
        ready = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"collector-{id(self)}",
                                  protocol=mqtt.MQTTv311)

        def on_connect(c: mqtt.Client, u: Any, f: Any, rc: Any, p: Any) -> None:
            c.subscribe([(t, 1) for t in topics])

        def on_subscribe(c: mqtt.Client, u: Any, mid: int, rcs: Any, p: Any) -> None:
            ready.set()

        def on_message(c: mqtt.Client, u: Any, msg: mqtt.MQTTMessage) -> None:
            res = driver.decode(msg.topic, bytes(msg.payload), time.time_ns())
            with self.lock:
                self.messages += 1
                self.results.append(res)

        self.client.on_connect = on_connect
        self.client.on_subscribe = on_subscribe
        self.client.on_message = on_message
        self.client.connect(host, port)
        self.client.loop_start()
        assert ready.wait(10), "subscription not acknowledged"

    def batches(self) -> list[ReadBatch]:
        with self.lock:
            return [b for r in self.results for b in r.batches]

    def reads(self) -> int:
        return sum(len(b) for b in self.batches())

    def epcs(self) -> Counter[bytes]:
        return Counter(bytes(e) for b in self.batches() for e in b.epc)

    def total(self, attr: str) -> int:
        with self.lock:
            return sum(int(getattr(r, attr)) for r in self.results)

    def errors(self) -> Counter[str]:
        with self.lock:
            return Counter(e.reason.value for r in self.results for e in r.errors)

    def last_health(self) -> ReaderHealth | None:
        with self.lock:
            hs = [r.health for r in self.results if r.health is not None]
        return hs[-1] if hs else None

    def wait(self, done: Callable[[], bool], timeout: float = 20.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if done():
                time.sleep(0.2)  # anything extra would arrive now
                return True
            time.sleep(0.02)
        return False

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def collectors() -> Iterator[list[Collector]]:
    made: list[Collector] = []
    yield made
    for c in made:
        c.close()


def test_fault_injector_books_every_read() -> None:
    inj = JsonFaultInjector(JsonFaultPlan(malformed_rate=0.3, bad_epc_rate=0.2, replay_every=2,
                                          outage_every=4, outage_messages=2, seed=5))
    sent = 0
    for i in range(200):
        epcs = [bytes([i % 256, j]) for j in range(3)]
        chunks = [b'{"data":{"idHex":"%s"}}' % e.hex().encode() for e in epcs]
        chunks, intact = inj.spoil_events(chunks, epcs)
        sent += len(inj.message(b"[" + b",".join(chunks) + b"]", epcs, intact))
    sent += len(inj.flush())
    t = inj.truth
    assert t.reads_emitted == 600
    assert t.reads_intact == sum(t.intact_epcs.values())
    assert t.reads_corrupted == sum(t.corrupted_epcs.values())
    assert t.messages_malformed > 0 and t.events_bad_epc > 0 and t.messages_held > 0
    assert sent == t.messages_emitted + t.messages_replayed


def test_zebra_sim_to_driver_exact(mqtt_broker: Any, collectors: list[Collector]) -> None:
    scene = Scene.random(60, antennas=(1, 2, 3, 4), seed=4)
    sim = ZebraFxSimulator(mqtt_broker.host, mqtt_broker.port, "fx-a", scene, reads_per_message=40,
                           utc_offset_minutes=-360, faults=FAULTS)
    drv = ZebraIotcDriver(ReaderConfig(id="fx-a", driver="zebra_iotc"))
    col = Collector(mqtt_broker.host, mqtt_broker.port, drv, drv.topics)
    collectors.append(col)
    sim.connect()
    try:
        t0 = time.time_ns()
        sim.heartbeat()
        emitted = sim.run_cycles(12)
        sim.heartbeat(full=False)
        sim.quiesce()
        t1 = time.time_ns()
    finally:
        sim.close()
    truth = sim.truth
    assert emitted == truth.reads_emitted > 300
    assert truth.messages_malformed > 0 and truth.messages_replayed > 0 and truth.messages_held > 0
    expected_messages = sim.device.published
    assert col.wait(lambda: col.messages >= expected_messages)
    assert col.messages == expected_messages
    assert col.reads() == truth.reads_intact
    assert col.epcs() == truth.intact_epcs
    assert col.total("duplicates") > 0  # the replay bursts, dropped
    assert col.errors()["malformed_json"] == truth.messages_malformed
    assert col.errors()["bad_epc"] > 0  # spoiled EPCs (inside malformed messages: unseen)
    batches = col.batches()
    skew = truth.clock_skew_ns
    assert min(int(b.time_ns.min()) for b in batches) >= t0 + skew - 1_000_000  # ms clock
    assert max(int(b.time_ns.max()) for b in batches) <= t1 + skew + 10**9
    assert {b.reader for b in batches} == {"fx-a"}
    stats = drv.seq.stats("fx-a")
    assert truth.reads_corrupted - 40 <= stats.missing <= truth.reads_corrupted
    health = col.last_health()
    assert health is not None and health.last_heartbeat_ns is not None
    assert health.antennas_connected == {1: True, 2: True, 3: True, 4: True}


def test_zebra_reboot_and_single_object_messages(mqtt_broker: Any, collectors: list[Collector]) -> None:
    now = [10**18]
    scene = Scene.random(20, seed=9, read_probability=1.0)
    sim = ZebraFxSimulator(mqtt_broker.host, mqtt_broker.port, "fx-b", scene, reads_per_message=1,
                           clock=lambda: now[0])
    drv = ZebraIotcDriver(ReaderConfig(id="fx-b", driver="zebra_iotc"))
    col = Collector(mqtt_broker.host, mqtt_broker.port, drv, drv.topics)
    collectors.append(col)
    sim.connect()
    try:
        sim.run_cycles(2)
        now[0] += 120 * 10**9  # two minutes later the reader has rebooted
        sim.reboot()
        sim.run_cycles(2)
        sim.quiesce()
    finally:
        sim.close()
    assert col.wait(lambda: col.messages >= 80)
    assert col.reads() == 80 == sim.truth.reads_intact
    assert col.total("duplicates") == 0
    assert drv.seq.stats("fx-b").resets == 1


def test_impinj_mqtt_sim_status_and_reads(mqtt_broker: Any, collectors: list[Collector]) -> None:
    scene = Scene.random(30, antennas=(1, 2), seed=6)
    plan = JsonFaultPlan(malformed_rate=0.05, bad_epc_rate=0.05, replay_every=10, replay_burst=3, seed=8)
    sim = ImpinjMqttSimulator(mqtt_broker.host, mqtt_broker.port, "r700-a", scene, faults=plan)
    drv = ImpinjMqttDriver(ReaderConfig(id="r700-a", driver="impinj_iot"))
    col = Collector(mqtt_broker.host, mqtt_broker.port, drv, drv.topics)
    collectors.append(col)
    sim.connect()
    sim.run_cycles(5)
    sim.quiesce()
    assert col.wait(lambda: col.messages >= sim.device.published)
    truth = sim.truth
    assert col.reads() == truth.reads_intact > 50
    assert col.epcs() == truth.intact_epcs
    assert col.total("duplicates") > 0
    assert col.errors()["malformed_json"] == truth.messages_malformed
    assert drv.health().connected is True
    sim.crash()  # no DISCONNECT: the broker publishes the will "connection lost"
    assert col.wait(lambda: not drv.health().connected, timeout=15)
    sim2 = ImpinjMqttSimulator(mqtt_broker.host, mqtt_broker.port, "r700-a", scene)
    sim2.connect()
    assert col.wait(lambda: drv.health().connected)
    sim2.close()  # a clean stop says "disconnected"
    assert col.wait(lambda: not drv.health().connected)


def test_impinj_http_stream_history_keepalive_reconnect() -> None:
    scene = Scene.random(25, antennas=(1, 2, 3), seed=2)
    server = ImpinjHttpStreamServer("r700-h", scene, keepalive_s=0.1,
                                    faults=JsonFaultPlan(malformed_rate=0.05, seed=4))
    server.start()
    drv = ImpinjHttpStreamDriver(ReaderConfig(id="r700-h", driver="impinj_iot", url=server.url,
                                              options={"read_timeout_s": 5}))
    got: list[ReadBatch] = []
    stop = threading.Event()
    th = threading.Thread(target=drv.run, args=(got.append, stop))
    th.start()
    try:
        assert _until(lambda: server.clients() == 1)
        server.run_cycles(3)
        assert _until(lambda: sum(map(len, got)) == server.truth.reads_intact)
        assert _until(lambda: drv.counters().get("keepalives", 0) >= 2)
        first = server.truth.reads_intact
        server.drop_clients()  # the stream ends; the driver reconnects and gets the history again
        assert _until(lambda: server.connections == 2 and server.clients() == 1)
        server.run_cycles(2)
        assert _until(lambda: sum(map(len, got)) == server.truth.reads_intact)
        time.sleep(0.2)
    finally:
        stop.set()
        th.join(10)
        server.close()
    assert not th.is_alive()
    truth = server.truth
    assert sum(map(len, got)) == truth.reads_intact
    assert Counter(bytes(e) for b in got for e in b.epc) == truth.intact_epcs
    c = drv.counters()
    assert c["duplicates"] == first  # the history replayed on reconnect, dropped
    assert c["reconnects"] >= 1 and c.get("error.malformed_json", 0) >= truth.messages_malformed


def _until(cond: Callable[[], bool], timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.02)
    return False
