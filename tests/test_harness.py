"""The harness's servers are real: a row round-trips, a QoS 1 message arrives, the proxy cuts."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import paho.mqtt.client as mqtt
import psycopg
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from shelfsight.embedded.broker import Broker
from shelfsight.testing.proxy import TcpProxy
from shelfsight.testing.servers import MqttHandle, PgHandle


def test_postgres_row_round_trip(pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("CREATE TABLE t (id int PRIMARY KEY, v text)")
        conn.execute("INSERT INTO t VALUES (1, 'shelf')")
        conn.commit()
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute("SELECT v FROM t WHERE id = 1").fetchone() == ("shelf",)


def test_postgres_is_not_the_machine_default(pg: PgHandle) -> None:
    if pg.external:
        pytest.skip("SHELFSIGHT_TEST_DSN given: the server is the caller's choice")
    assert pg.server is not None
    assert pg.server.port != 5432


def _qos1_round_trip(host: str, port: int, topic: str) -> list[bytes]:
    got: list[bytes] = []
    done = threading.Event()

    def on_message(_c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        got.append(bytes(msg.payload))
        done.set()

    sub = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    sub.on_message = on_message
    subscribed = threading.Event()
    sub.on_subscribe = lambda *a: subscribed.set()
    sub.connect(host, port)
    sub.subscribe(topic, qos=1)
    sub.loop_start()
    assert subscribed.wait(10)
    pub = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    pub.connect(host, port)
    pub.loop_start()
    info = pub.publish(topic, b"hello-qos1", qos=1)
    info.wait_for_publish(10)
    assert done.wait(10)
    for c in (pub, sub):
        c.disconnect()
        c.loop_stop()
    return got


def test_session_broker_delivers_qos1(mqtt_broker: MqttHandle) -> None:
    assert mqtt_broker.port != 1883
    assert _qos1_round_trip(mqtt_broker.host, mqtt_broker.port, "t/qos1") == [b"hello-qos1"]


def test_amqtt_fallback_delivers_qos1(own_broker: Callable[..., Broker]) -> None:
    broker = own_broker(prefer="amqtt")
    assert broker.kind == "amqtt"
    assert _qos1_round_trip(broker.host, broker.port, "t/amqtt") == [b"hello-qos1"]


def test_proxy_cut_breaks_and_restore_heals(
    pg: PgHandle, pg_dsn: str, tcp_proxy: Callable[[str, int], TcpProxy]
) -> None:
    info = psycopg.conninfo.conninfo_to_dict(pg_dsn)
    proxy = tcp_proxy(str(info.get("host", "127.0.0.1")), int(str(info.get("port", 5432))))
    via = psycopg.conninfo.make_conninfo(pg_dsn, host=proxy.host, port=proxy.port)
    conn = psycopg.connect(via, autocommit=True)
    assert conn.execute("SELECT 1").fetchone() == (1,)
    proxy.cut()
    with pytest.raises(psycopg.OperationalError):
        conn.execute("SELECT 1")
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(via, connect_timeout=2)
    proxy.restore()
    deadline = time.monotonic() + 10
    while True:
        try:
            with psycopg.connect(via, connect_timeout=2) as again:
                assert again.execute("SELECT 2").fetchone() == (2,)
            break
        except psycopg.OperationalError:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    conn.close()
