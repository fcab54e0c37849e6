"""The daemon end to end: simulated Zebra → broker → gateway → PostgreSQL; SIGTERM drain."""

from __future__ import annotations

import signal
from pathlib import Path

from gateway_harness import (
    ThreadDaemon,
    db_present,
    db_reads,
    spawn_daemon,
    wait_for,
    write_config,
)

from shelfsight.testing.servers import MqttHandle
from simulators.devices.json_faults import JsonFaultPlan
from simulators.devices.mqtt_sim import ZebraFxSimulator
from simulators.devices.scene import Scene


def test_reads_and_state_reach_the_database(
    pg_migrated_dsn: str, mqtt_broker: MqttHandle, tmp_path: Path
) -> None:
    cfg = write_config(tmp_path, pg_migrated_dsn, mqtt_broker.host, mqtt_broker.port,
                       client_id="gw-e2e")
    gw = ThreadDaemon(cfg).start()
    scene = Scene.random(50, (1, 2), read_probability=0.9)
    sim = ZebraFxSimulator(mqtt_broker.host, mqtt_broker.port, "fx-1", scene, reads_per_message=40,
                           faults=JsonFaultPlan(malformed_rate=0.03, replay_every=5))
    sim.connect()
    try:
        for _ in range(8):
            sim.run_cycles(1)
        sim.quiesce()
        assert wait_for(lambda: db_reads(pg_migrated_dsn) >= sim.truth.reads_intact)
        assert db_reads(pg_migrated_dsn) == sim.truth.reads_intact
        present = db_present(pg_migrated_dsn)
        assert present == {t.epc for t in scene.tags}
    finally:
        sim.close()
        assert gw.stop() == 0
    assert db_reads(pg_migrated_dsn) == sim.truth.reads_intact


def test_sigterm_drains_and_exits_zero(
    pg_migrated_dsn: str, mqtt_broker: MqttHandle, tmp_path: Path
) -> None:
    cfg = write_config(tmp_path, pg_migrated_dsn, mqtt_broker.host, mqtt_broker.port,
                       client_id="gw-term")
    proc = spawn_daemon(cfg, tmp_path / "gw.log")
    sim = ZebraFxSimulator(mqtt_broker.host, mqtt_broker.port, "fx-1", Scene.random(30, (1,)),
                           reads_per_message=30)
    sim.connect()
    try:
        assert wait_for(lambda: "running" in (tmp_path / "gw.log").read_text(), 30)
        import time

        time.sleep(0.5)
        for _ in range(5):
            sim.run_cycles(1)
        sim.quiesce()
        assert wait_for(lambda: db_reads(pg_migrated_dsn) > 0)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(40) == 0, (tmp_path / "gw.log").read_text()[-3000:]
        first = db_reads(pg_migrated_dsn)
        # what the stopped gateway left unacknowledged is delivered to the next run
        proc = spawn_daemon(cfg, tmp_path / "gw.log")
        assert wait_for(lambda: db_reads(pg_migrated_dsn) >= sim.truth.reads_emitted, 40)
        assert db_reads(pg_migrated_dsn) == sim.truth.reads_emitted
        assert first <= sim.truth.reads_emitted
    finally:
        sim.close()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(40)


def test_restart_keeps_state_picked_stays_picked_and_metrics_are_served(
    pg_migrated_dsn: str, mqtt_broker: MqttHandle, tmp_path: Path
) -> None:
    import httpx
    import psycopg

    from shelfsight.embedded.ports import free_port

    picked = bytes.fromhex("30340000000000000000AB01")
    with psycopg.connect(pg_migrated_dsn, autocommit=True) as conn:
        conn.execute("INSERT INTO stores (store_id, name, kind) VALUES ('shop-1', 'x', 'shop')")
        conn.execute(
            "INSERT INTO tag_state (epc, store_id, zone, status, last_seen, last_seq, updated_at)"
            " VALUES (%s, 'shop-1', 'floor', 'picked', now(), 5, now())", (picked,))
        conn.execute(
            "INSERT INTO tag_events (store_id, epc, seq, time, kind) VALUES"
            " ('shop-1', %s, 41, now(), 'arrived')", (picked,))
    port = free_port()
    cfg = write_config(tmp_path, pg_migrated_dsn, mqtt_broker.host, mqtt_broker.port,
                       client_id="gw-restore")
    cfg.write_text(cfg.read_text().replace("[metrics]\nport = 0", f"[metrics]\nport = {port}"))
    gw = ThreadDaemon(cfg).start()
    sim = ZebraFxSimulator(mqtt_broker.host, mqtt_broker.port, "fx-1", Scene.random(10, (1,)),
                           reads_per_message=10)
    sim.connect()
    try:
        sim.run_cycles(3)
        sim.quiesce()
        assert wait_for(lambda: db_reads(pg_migrated_dsn) >= sim.truth.reads_emitted)
        assert wait_for(lambda: len(db_present(pg_migrated_dsn)) == 10)
        body = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        assert 'shelfsight_reads_ingested_total{reader="fx-1",shop="shop-1"}' in body
        assert "shelfsight_outbox_depth" in body and "shelfsight_mqtt_connected" in body
    finally:
        sim.close()
        assert gw.stop() == 0
    with psycopg.connect(pg_migrated_dsn) as conn:
        row = conn.execute("SELECT status FROM tag_state WHERE epc = %s", (picked,)).fetchone()
        seqs = conn.execute("SELECT min(seq) FROM tag_events WHERE epc <> %s", (picked,)).fetchone()
    assert row is not None and row[0] == "picked"
    assert seqs is not None and seqs[0] > 41  # event numbers continue after the stored ones
