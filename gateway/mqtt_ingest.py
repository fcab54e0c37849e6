"""The gateway's one MQTT client: QoS 1, persistent session, manual ack after the outbox commit.

As Telegraf's mqtt_consumer: auto-ack is off (`manual_ack_set(True)`); a message is acknowledged
only when the pipeline says every record derived from it is durable; at most `max_inflight`
messages are unacknowledged (beyond, the client stops reading its socket, so the broker queues
for us: the broker config must not drop for slow subscribers, DESIGN §11); subscriptions are
renewed in `on_connect`; unparseable messages are acknowledged once their quarantine entry is
durable and counted by reason, so they cannot wedge the stream.

Threads: one network thread runs the paho loop by hand (read only while under the in-flight cap;
keep-alive and writes always), decodes payloads with the readers' drivers and hands `Work` to the
pipeline without blocking; the pipeline thread asks for acks through a queue that the network
thread drains (paho is not written to from two threads).

Redelivery after a reconnect: the broker resends unacknowledged messages with the same packet id
and DUP set. A resent message whose id is still in flight here (or was acknowledged while the
connection was down) is not processed twice; its ack is sent once the original is durable.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from gateway.config import MqttConfig
from gateway.metrics import GatewayMetrics
from gateway.pipeline import Pipeline, Work
from readers.driver import DecodeResult, InputError, InputErrorReason, PayloadDriver

log = logging.getLogger(__name__)


class Protocol(StrEnum):
    V311 = "3.1.1"
    V5 = "5"
    AUTO = "auto"  # MQTT 5, falling back to 3.1.1 when the broker refuses it (amqtt)


@dataclass
class _InFlight:
    digest: int
    acked: bool = False  # ack requested while disconnected: send on redelivery


@dataclass
class IngestCounters:
    messages: int = 0
    redelivered_skipped: int = 0
    acks_sent: int = 0
    connects: int = 0
    decode_failures: int = 0


def subscription(topic: str, shared_group: str | None) -> str:
    return f"$share/{shared_group}/{topic}" if shared_group else topic


class MqttIngest:
    """Subscribes every payload driver's topics and feeds the pipeline."""

    def __init__(
        self,
        config: MqttConfig,
        drivers: Sequence[PayloadDriver],
        pipeline: Pipeline,
        metrics: GatewayMetrics,
        store_id: str,
        *,
        protocol: Protocol | str = Protocol.V311,
        reconnect_max_s: float = 5.0,
        connack_timeout_s: float = 5.0,
    ) -> None:
        self.config = config
        self.pipeline = pipeline
        self.metrics = metrics
        self.store_id = store_id
        self.protocol = Protocol(protocol)
        self.reconnect_max_s = reconnect_max_s
        self.connack_timeout_s = connack_timeout_s
        self._connect_started = 0.0
        self.client_id = config.client_id or f"shelfsight-gateway-{store_id}"
        self._routes: list[tuple[str, PayloadDriver]] = []
        for driver in drivers:
            for topic in getattr(driver, "topics", (driver.topic,)):
                self._routes.append((topic, driver))
        self.counters = IngestCounters()
        self._inflight: dict[int, _InFlight] = {}
        self._recent: OrderedDict[int, int] = OrderedDict()  # acked mid -> digest
        self._to_ack: deque[int] = deque()
        self._backlog: deque[Work] = deque()
        self._connected = threading.Event()
        self._stop = threading.Event()
        self._paused = threading.Event()
        self._thread: threading.Thread | None = None
        self._client = self._make_client(self.protocol)
        self.last_error: str | None = None

    # -- client ------------------------------------------------------------------------------
    def _make_client(self, protocol: Protocol) -> mqtt.Client:
        v5 = protocol is not Protocol.V311
        client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            clean_session=None if v5 else False,
            protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
            reconnect_on_failure=False,
        )
        client.manual_ack_set(True)
        cfg = self.config
        if cfg.username:
            client.username_pw_set(
                cfg.username, cfg.password.get_secret_value() if cfg.password else None
            )
        if cfg.tls:
            client.tls_set(ca_certs=str(cfg.ca_file) if cfg.ca_file else None)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        return client

    def _connect(self) -> None:
        cfg = self.config
        if self.protocol is Protocol.V311:
            self._client.connect(cfg.host, cfg.port, keepalive=cfg.keepalive_s)
            return
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = 0xFFFFFFFF  # keep the session (and its queue) for good
        props.ReceiveMaximum = min(self.config.max_inflight, 65535)
        self._client.connect(
            cfg.host, cfg.port, keepalive=cfg.keepalive_s, clean_start=False, properties=props
        )

    # -- callbacks (network thread) ---------------------------------------------------------
    def _on_connect(
        self, client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any
    ) -> None:
        if reason.is_failure:
            self.last_error = f"connect refused: {reason}"
            log.warning("MQTT broker refused the connection: %s", reason)
            return
        self.counters.connects += 1
        subs = [(subscription(t, self.config.shared_group), 1) for t, _ in self._routes]
        if subs:
            client.subscribe(subs)
        self._connected.set()
        self.metrics.mqtt_connected.labels(self.store_id).set(1)
        log.info("MQTT connected to %s:%d as %s; %d subscription(s)", self.config.host,
                 self.config.port, self.client_id, len(subs))

    def _on_disconnect(
        self, _client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any
    ) -> None:
        self._connected.clear()
        self.metrics.mqtt_connected.labels(self.store_id).set(0)
        if not self._stop.is_set():
            log.warning("MQTT disconnected: %s", reason)

    def _on_message(self, _client: mqtt.Client, _userdata: Any, msg: mqtt.MQTTMessage) -> None:
        mid, payload = msg.mid, bytes(msg.payload)
        if msg.qos == 0:
            mid = -1
        digest = hash(payload)
        if mid >= 0 and msg.dup:
            known = self._inflight.get(mid)
            if known is not None and known.digest == digest:
                # The original is still in the pipeline (or was acked while disconnected).
                self.counters.redelivered_skipped += 1
                if known.acked:
                    self._send_ack(mid)
                return
            if self._recent.get(mid) == digest:
                self.counters.redelivered_skipped += 1
                self._client.ack(mid, 1)
                return
        self.counters.messages += 1
        driver = self._route(msg.topic)
        if driver is None:
            result = DecodeResult(errors=[InputError(
                InputErrorReason.UNKNOWN_MESSAGE, f"no reader for topic {msg.topic[:120]!r}")])
            reader = "?"
        else:
            reader = getattr(driver, "reader_id", "") or driver.topic
            try:
                result = driver.decode(msg.topic, payload, time.time_ns())
            except Exception as exc:  # a driver bug must not wedge the stream: quarantined
                self.counters.decode_failures += 1
                log.exception("driver for %s failed on a message", msg.topic)
                result = DecodeResult(errors=[InputError(InputErrorReason.GARBAGE, repr(exc))])
        if result.health is not None:
            self._health(result)
        if mid >= 0:
            self._inflight[mid] = _InFlight(digest)
        ack = None if mid < 0 else self._ack_callback(mid)
        self._backlog.append(Work(
            reader=reader, batches=tuple(result.batches), errors=tuple(result.errors),
            duplicates=result.duplicates, gaps=result.gaps, ack=ack, redeliverable=True,
            payload=payload if result.errors else None,
        ))

    def _health(self, result: DecodeResult) -> None:
        h = result.health
        assert h is not None
        up = h.connected and not h.errors
        self.metrics.reader_up.labels(self.store_id, h.reader).set(1 if up else 0)
        if h.last_heartbeat_ns is not None:
            age = max(0.0, (time.time_ns() - h.last_heartbeat_ns) / 1e9)
            self.metrics.reader_heartbeat_age.labels(self.store_id, h.reader).set(age)

    def _route(self, topic: str) -> PayloadDriver | None:
        for sub, driver in self._routes:
            if mqtt.topic_matches_sub(sub, topic):
                return driver
        return None

    def _ack_callback(self, mid: int) -> Any:
        def ack() -> None:  # runs in the pipeline thread: hand over to the network thread
            self._to_ack.append(mid)

        return ack

    def _send_ack(self, mid: int) -> None:
        entry = self._inflight.get(mid)
        if not self._connected.is_set():
            if entry is not None:
                entry.acked = True  # the broker resends it: acked then
            return
        rc = self._client.ack(mid, 1)
        if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            if entry is not None:
                entry.acked = True
            return
        self.counters.acks_sent += 1
        if entry is not None:
            del self._inflight[mid]
            self._recent[mid] = entry.digest
            if len(self._recent) > 65536:
                self._recent.popitem(last=False)

    # -- the network thread -----------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="mqtt-ingest", daemon=True)
        self._thread.start()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    @property
    def inflight(self) -> int:
        return len(self._inflight)

    def pause(self) -> None:
        """Stop reading new messages (acks still go out): the first step of a drain."""
        self._paused.set()

    def stop(self, ack_timeout_s: float = 5.0) -> None:
        """Send the acks the pipeline released, then disconnect."""
        self._paused.set()
        deadline = time.monotonic() + ack_timeout_s
        while self._to_ack and self._connected.is_set() and time.monotonic() < deadline:
            time.sleep(0.01)
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def _run(self) -> None:
        delay = 0.1
        while not self._stop.is_set():
            if self._client.socket() is None:
                try:
                    self._connect_started = time.monotonic()
                    self._connect()
                except (OSError, ValueError) as exc:
                    self.last_error = str(exc)
                    log.info("MQTT connect to %s:%d failed (%s); retry in %.1fs",
                             self.config.host, self.config.port, exc, delay)
                    self._stop.wait(delay)
                    delay = min(delay * 2, self.reconnect_max_s)
                    continue
            rc = self._step()
            if (
                not self._connected.is_set()
                and time.monotonic() - self._connect_started > self.connack_timeout_s
            ):
                self.last_error = "no CONNACK"
                log.warning("MQTT: no CONNACK from %s:%d within %.1fs", self.config.host,
                            self.config.port, self.connack_timeout_s)
                rc = MQTTErrorCode.MQTT_ERR_CONN_LOST
            if rc == MQTTErrorCode.MQTT_ERR_SUCCESS:
                if self._connected.is_set():
                    delay = 0.1
                continue
            self._connected.clear()
            self.metrics.mqtt_connected.labels(self.store_id).set(0)
            if self._client.socket() is not None:
                self._drop_socket()
            if self.protocol is Protocol.AUTO and self.counters.connects == 0:
                log.info("MQTT 5 refused; falling back to MQTT 3.1.1")
                self.protocol = Protocol.V311
                self._client = self._make_client(Protocol.V311)
            self._stop.wait(delay)
            delay = min(delay * 2, self.reconnect_max_s)
        self._shutdown()

    def _drop_socket(self) -> None:
        try:
            self._client.disconnect()
        except (OSError, ValueError) as exc:
            log.debug("dropping the MQTT socket: %s", exc)
        sock = self._client.socket()
        if sock is not None:
            try:
                sock.close()
            except OSError as exc:
                log.debug("closing the MQTT socket: %s", exc)

    def _step(self) -> MQTTErrorCode:
        while self._to_ack:
            self._send_ack(self._to_ack.popleft())
        while self._backlog:
            if not self.pipeline.submit(self._backlog[0], timeout=0):
                break
            self._backlog.popleft()
        self.metrics.mqtt_inflight.labels(self.store_id).set(len(self._inflight))
        can_read = (
            not self._paused.is_set()
            and not self._backlog
            and len(self._inflight) < self.config.max_inflight
        )
        if can_read:
            return self._client.loop(timeout=0.01)
        rc = self._client.loop_write()
        if rc == MQTTErrorCode.MQTT_ERR_SUCCESS:
            rc = self._client.loop_misc()
        time.sleep(0.005)
        return rc

    def _shutdown(self) -> None:
        while self._to_ack and self._connected.is_set():
            self._send_ack(self._to_ack.popleft())
        if self._client.socket() is not None:
            self._client.loop_write()
            self._client.disconnect()
            self._client.loop_write()
        self._connected.clear()
        self.metrics.mqtt_connected.labels(self.store_id).set(0)
        log.info("MQTT ingest stopped: %s", self.counters)
