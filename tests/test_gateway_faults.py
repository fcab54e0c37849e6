"""Fault proofs (DESIGN §6): every emitted read is stored exactly once, counted against the
simulators' ground truth — PostgreSQL stopped and restarted, the broker restarted, the gateway
killed with SIGKILL, a serial port unplugged, the outbox full (both policies), two gateways on
one shared subscription."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from gateway_harness import (
    ThreadDaemon,
    db_present,
    db_reads,
    spawn_daemon,
    wait_for,
    write_config,
)

from shelfsight.embedded.broker import Broker, BrokerUnavailableError
from shelfsight.testing.servers import MqttHandle, PgHandle
from simulators.devices import FaultPlan, MercurySimulator
from simulators.devices.mqtt_sim import ZebraFxSimulator
from simulators.devices.scene import Scene


def zebra(host: str, port: int, tags: int = 40, reader: str = "fx-1") -> ZebraFxSimulator:
    sim = ZebraFxSimulator(host, port, reader, Scene.random(tags, (1, 2), read_probability=0.9),
                           reads_per_message=40)
    sim.connect()
    return sim


def test_postgres_stopped_mid_stream(
    pg: PgHandle, pg_migrated_dsn: str, mqtt_broker: MqttHandle, tmp_path: Path
) -> None:
    if pg.server is None:
        pytest.skip("external PostgreSQL (SHELFSIGHT_TEST_DSN) cannot be stopped by tests")
    cfg = write_config(tmp_path, pg_migrated_dsn, mqtt_broker.host, mqtt_broker.port,
                       client_id="gw-pgdown")
    gw = ThreadDaemon(cfg).start()
    sim = zebra(mqtt_broker.host, mqtt_broker.port)
    try:
        sim.run_cycles(3)
        sim.quiesce()
        assert wait_for(lambda: db_reads(pg_migrated_dsn) > 0)
        pg.server.kill()  # immediate shutdown: a crash, no checkpoint
        try:
            for _ in range(4):
                sim.run_cycles(1)
                time.sleep(0.2)
            sim.quiesce()
            assert gw.daemon.outbox is not None
            assert wait_for(lambda: gw.daemon.outbox is not None and gw.daemon.outbox.depth() > 0, 10)
        finally:
            pg.server.start()
        sim.run_cycles(2)
        sim.quiesce()
        assert wait_for(lambda: db_reads(pg_migrated_dsn) >= sim.truth.reads_emitted, 30)
        assert db_reads(pg_migrated_dsn) == sim.truth.reads_emitted
        assert db_present(pg_migrated_dsn) == {t.epc for t in sim.scene.tags}
    finally:
        sim.close()
        assert gw.stop() == 0


def test_broker_restarted(
    own_broker: Callable[..., Broker], pg_migrated_dsn: str, tmp_path: Path
) -> None:
    try:
        broker = own_broker(prefer="mosquitto")
    except BrokerUnavailableError as exc:
        pytest.skip(f"needs mosquitto (restartable on the same port, persistent): {exc}")
    cfg = write_config(tmp_path, pg_migrated_dsn, broker.host, broker.port, client_id="gw-brk")
    gw = ThreadDaemon(cfg).start()
    sim = zebra(broker.host, broker.port)
    try:
        sim.run_cycles(3)
        sim.quiesce()
        broker.stop()  # graceful: mosquitto saves the gateway's session and its queue
        time.sleep(0.5)
        broker.start()
        mqtt = gw.daemon.mqtt
        assert mqtt is not None and wait_for(lambda: mqtt.connected and sim.device.client.is_connected(), 20)
        sim.run_cycles(3)
        sim.quiesce()
        assert wait_for(lambda: db_reads(pg_migrated_dsn) >= sim.truth.reads_emitted, 30)
        time.sleep(1.0)
        assert db_reads(pg_migrated_dsn) == sim.truth.reads_emitted
        assert db_present(pg_migrated_dsn) == {t.epc for t in sim.scene.tags}
    finally:
        sim.close()
        assert gw.stop() == 0


def test_gateway_killed_with_sigkill_and_restarted(
    pg_migrated_dsn: str, mqtt_broker: MqttHandle, tmp_path: Path
) -> None:
    if mqtt_broker.kind == "amqtt":
        pytest.skip("amqtt keeps no session for anonymous clients (DESIGN §11)")
    cfg = write_config(tmp_path, pg_migrated_dsn, mqtt_broker.host, mqtt_broker.port,
                       client_id="gw-kill")
    log = tmp_path / "gw.log"
    proc = spawn_daemon(cfg, log)
    sim = zebra(mqtt_broker.host, mqtt_broker.port)
    stop = threading.Event()
    try:
        assert wait_for(lambda: "running" in log.read_text(), 30)
        time.sleep(0.5)
        feeder = threading.Thread(target=sim.run, args=(stop, 0.1, 3600.0), daemon=True)
        feeder.start()
        assert wait_for(lambda: db_reads(pg_migrated_dsn) > 0)
        time.sleep(0.7)
        proc.send_signal(signal.SIGKILL)  # mid-stream: cycles open, acks pending, records in flight
        proc.wait(10)
        time.sleep(0.5)
        proc = spawn_daemon(cfg, log)
        time.sleep(2.0)
        stop.set()
        feeder.join(10)
        sim.quiesce()
        assert wait_for(lambda: db_reads(pg_migrated_dsn) >= sim.truth.reads_emitted, 40)
        time.sleep(1.5)
        assert db_reads(pg_migrated_dsn) == sim.truth.reads_emitted, log.read_text()[-2000:]
        assert db_present(pg_migrated_dsn) == {t.epc for t in sim.scene.tags}
    finally:
        stop.set()
        sim.close()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(40) == 0


def test_serial_port_unplugged_and_reopened(
    pg_migrated_dsn: str, mqtt_broker: MqttHandle, tmp_path: Path
) -> None:
    scene = Scene.random(20, (1, 2), seed=5, read_probability=0.9)
    dev = MercurySimulator(scene, FaultPlan(port_drop_every=15, max_port_drops=2, unplugged_s=0.3))
    dev.start()
    readers = f"""
[[readers]]
id = "m6e"
driver = "mercury"
port = "{dev.port}"
zones = {{ 1 = "backroom", 2 = "floor" }}
"""
    cfg = write_config(tmp_path, pg_migrated_dsn, mqtt_broker.host, mqtt_broker.port,
                       client_id="gw-serial", readers=readers)
    gw = ThreadDaemon(cfg).start()
    try:
        assert wait_for(lambda: dev.truth.port_drops >= 2, 25)
        time.sleep(1.0)
        assert dev.quiesce(10)
        truth = dev.truth
        ok = wait_for(lambda: db_reads(pg_migrated_dsn, "m6e") >= truth.reads_intact, 20)
        assert gw.daemon.pipeline is not None
        assert ok, (db_reads(pg_migrated_dsn, "m6e"), truth, gw.daemon.pipeline.counters)
        time.sleep(1.0)
        assert db_reads(pg_migrated_dsn, "m6e") == truth.reads_intact
        assert gw.daemon.serial is not None
        state = gw.daemon.serial.states()["m6e"]
        assert state.last_counters.get("opens", 0) >= 3
    finally:
        assert gw.stop() == 0
        dev.stop()


@pytest.mark.parametrize("policy", ["backpressure", "drop"])
def test_outbox_full(
    policy: str, pg: PgHandle, pg_migrated_dsn: str, mqtt_broker: MqttHandle, tmp_path: Path
) -> None:
    if pg.server is None:
        pytest.skip("external PostgreSQL (SHELFSIGHT_TEST_DSN) cannot be stopped by tests")
    cfg = write_config(tmp_path, pg_migrated_dsn, mqtt_broker.host, mqtt_broker.port,
                       client_id=f"gw-full-{policy}", outbox_rows=120, policy=policy)
    gw = ThreadDaemon(cfg).start()
    sim = zebra(mqtt_broker.host, mqtt_broker.port, tags=30)
    pg.server.kill()  # immediate shutdown: a crash, no checkpoint
    try:
        for _ in range(16):
            sim.run_cycles(1)
            time.sleep(0.25)
        sim.quiesce()
        outbox = gw.daemon.outbox
        assert outbox is not None
        assert wait_for(lambda: outbox.depth() >= 100, 30)  # generous: a loaded CI machine
        assert outbox.depth() <= 120
    finally:
        pg.server.start()
    try:
        m = gw.daemon.metrics

        def dropped() -> int:
            return int(m.value("shelfsight_outbox_dropped_reads_total"))

        assert wait_for(
            lambda: db_reads(pg_migrated_dsn) + dropped() >= sim.truth.reads_emitted, 40)
        time.sleep(1.0)
        assert db_reads(pg_migrated_dsn) + dropped() == sim.truth.reads_emitted
        if policy == "backpressure":
            assert dropped() == 0
        else:
            assert dropped() > 0
    finally:
        sim.close()
        assert gw.stop() == 0


def test_two_gateways_share_one_subscription(
    pg_migrated_dsn: str, mqtt_broker: MqttHandle, tmp_path: Path
) -> None:
    if mqtt_broker.kind != "mosquitto":
        pytest.skip(f"shared subscriptions are tested on mosquitto, not {mqtt_broker.kind}")
    gws = [
        ThreadDaemon(write_config(tmp_path, pg_migrated_dsn, mqtt_broker.host, mqtt_broker.port,
                                  client_id=f"gw-share-{i}", shared_group="ingest",
                                  name=f"share{i}.toml")).start()
        for i in range(2)
    ]
    sims = [zebra(mqtt_broker.host, mqtt_broker.port, reader="fx-1")]
    try:
        for _ in range(10):
            sims[0].run_cycles(1)
        sims[0].quiesce()
        total = sims[0].truth.reads_emitted
        assert wait_for(lambda: db_reads(pg_migrated_dsn) >= total, 30)
        time.sleep(1.0)
        assert db_reads(pg_migrated_dsn) == total
        got = [gw.daemon.pipeline.counters.reads for gw in gws if gw.daemon.pipeline]
        assert sum(got) == total and all(g > 0 for g in got)  # both took a share
    finally:
        for s in sims:
            s.close()
        for gw in gws:
            assert gw.stop() == 0
