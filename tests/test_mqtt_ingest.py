"""MQTT ingest against a real broker: manual acks after the outbox commit, counts vs ground truth."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from gateway.config import MqttConfig
from gateway.metrics import GatewayMetrics
from gateway.mqtt_ingest import MqttIngest, Protocol, subscription
from gateway.outbox import Outbox
from gateway.pipeline import Pipeline
from gateway.records import ReadSummaryRow
from readers.config import ReaderConfig
from readers.drivers.zebra import ZebraIotcDriver
from shelfsight.embedded.broker import Broker, BrokerUnavailableError
from shelfsight.testing.servers import MqttHandle
from simulators.devices.json_faults import JsonFaultPlan
from simulators.devices.mqtt_sim import ZebraFxSimulator
from simulators.devices.scene import Scene


def wait_for(cond: Callable[[], bool], timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return cond()


def stored_reads(outbox: Outbox) -> int:
    return sum(r.read_count for r in outbox.peek(10**7).records if isinstance(r, ReadSummaryRow))


def make_ingest(
    tmp_path: Path, host: str, port: int, client_id: str, readers: list[str], **mqtt: object
) -> tuple[MqttIngest, Pipeline, Outbox]:
    outbox = Outbox(tmp_path / f"{client_id}.sqlite", 10**6)
    metrics = GatewayMetrics("shop-1")
    pipeline = Pipeline("shop-1", outbox, None, metrics, cycle_s=1.0, idle_s=0.5)
    drivers = [ZebraIotcDriver(ReaderConfig(id=r, driver="zebra_iotc")) for r in readers]
    cfg = MqttConfig(host=host, port=port, client_id=client_id, **mqtt)
    ingest = MqttIngest(cfg, drivers, pipeline, metrics, "shop-1")
    pipeline.start()
    ingest.start()
    assert ingest.wait_connected(10)
    time.sleep(0.3)  # SUBACK
    return ingest, pipeline, outbox


def test_every_intact_read_lands_once_and_every_message_is_acked(
    mqtt_broker: MqttHandle, tmp_path: Path
) -> None:
    ingest, pipeline, outbox = make_ingest(
        tmp_path, mqtt_broker.host, mqtt_broker.port, "gw-faults", ["fx-1"], max_inflight=20
    )
    plan = JsonFaultPlan(malformed_rate=0.05, bad_epc_rate=0.01, replay_every=7, replay_burst=2)
    sim = ZebraFxSimulator(mqtt_broker.host, mqtt_broker.port, "fx-1", Scene.random(60, (1, 2)),
                           reads_per_message=25, faults=plan)
    sim.connect()
    try:
        for _ in range(30):
            sim.run_cycles(1)
            sim.heartbeat()
        sim.quiesce()
        truth = sim.truth
        assert truth.messages_malformed > 0 and truth.reads_replayed > 0
        assert wait_for(lambda: stored_reads(outbox) >= truth.reads_intact)
        assert wait_for(lambda: ingest.inflight == 0 and pipeline.pending_acks == 0)
        assert stored_reads(outbox) == truth.reads_intact
        m = pipeline.metrics
        dups = m.value("shelfsight_duplicate_reads_total", reader="fx-1")
        # a replayed event whose EPC was spoiled is an error, not a duplicate
        assert truth.reads_replayed - truth.events_bad_epc <= dups <= truth.reads_replayed
        assert m.value("shelfsight_quarantined_inputs_total", reader="fx-1",
                       reason="malformed_json") >= truth.messages_malformed
    finally:
        sim.close()
        ingest.stop()
        pipeline.stop()
        outbox.close()


def test_unacked_messages_come_back_to_the_next_session(
    mqtt_broker: MqttHandle, tmp_path: Path
) -> None:
    """A gateway that stops before a cycle closes leaves it to the broker: nothing lost, no dup."""
    ingest, pipeline, outbox = make_ingest(
        tmp_path, mqtt_broker.host, mqtt_broker.port, "gw-session", ["fx-2"]
    )
    sim = ZebraFxSimulator(mqtt_broker.host, mqtt_broker.port, "fx-2", Scene.random(40, (1,)),
                           reads_per_message=20)
    sim.connect()
    try:
        sim.run_cycles(3)
        sim.quiesce()
        assert wait_for(lambda: pipeline.counters.reads == sim.truth.reads_emitted, 10)
        ingest.pause()
        pipeline.stop(drain=True)  # open MQTT cycles are not flushed, their messages not acked
        ingest.stop()
        first = stored_reads(outbox)
        outbox.close()
        sim.run_cycles(2)  # published while the gateway is away: queued in its session
        sim.quiesce()
        ingest2, pipeline2, outbox2 = make_ingest(
            tmp_path, mqtt_broker.host, mqtt_broker.port, "gw-session", ["fx-2"]
        )
        try:
            assert wait_for(lambda: stored_reads(outbox2) >= sim.truth.reads_emitted)
            assert wait_for(lambda: ingest2.inflight == 0 and pipeline2.pending_acks == 0)
            assert stored_reads(outbox2) == sim.truth.reads_emitted
            assert first == 0 or first < sim.truth.reads_emitted
        finally:
            ingest2.stop()
            pipeline2.stop()
            outbox2.close()
    finally:
        sim.close()


def test_shared_subscription_topic() -> None:
    assert subscription("zebra/+/data", "ingest") == "$share/ingest/zebra/+/data"
    assert subscription("zebra/+/data", None) == "zebra/+/data"


@pytest.mark.parametrize("kind", ["amqtt", "mosquitto"])
def test_protocol_auto_speaks_5_to_mosquitto_and_falls_back_to_311_on_amqtt(
    kind: str, own_broker: Callable[..., Broker], tmp_path: Path
) -> None:
    try:
        broker = own_broker(prefer=kind)
    except BrokerUnavailableError as exc:
        pytest.skip(str(exc))
    outbox = Outbox(tmp_path / f"{kind}.sqlite", 10**6)
    metrics = GatewayMetrics("shop-1")
    pipeline = Pipeline("shop-1", outbox, None, metrics, cycle_s=1.0, idle_s=0.3)
    driver = ZebraIotcDriver(ReaderConfig(id="fx-9", driver="zebra_iotc"))
    cfg = MqttConfig(host=broker.host, port=broker.port, client_id=f"gw-auto-{kind}",
                     username="gateway")  # amqtt keeps sessions only for named users
    ingest = MqttIngest(cfg, [driver], pipeline, metrics, "shop-1", protocol=Protocol.AUTO)
    pipeline.start()
    ingest.start()
    sim = ZebraFxSimulator(broker.host, broker.port, "fx-9", Scene.random(10, (1,)),
                           reads_per_message=10)
    try:
        assert ingest.wait_connected(20), ingest.last_error
        time.sleep(0.5)
        assert ingest.protocol is (Protocol.V311 if kind == "amqtt" else Protocol.AUTO)
        sim.connect()
        sim.run_cycles(2)
        sim.quiesce()
        assert wait_for(lambda: stored_reads(outbox) == sim.truth.reads_emitted)
        assert wait_for(lambda: ingest.inflight == 0)
    finally:
        sim.close()
        ingest.stop()
        pipeline.stop()
        outbox.close()
