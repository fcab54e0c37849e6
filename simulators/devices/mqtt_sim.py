"""Zebra FX and Impinj R700 readers on their real JSON wire formats: MQTT and the HTTP stream.

* `ZebraFxSimulator` publishes IoT Connector tag data events to `zebra/{reader}/data` (QoS 1),
  batched as JSON arrays of up to `reads_per_message` events (the connector's batching; 1 =
  batching off: one object per message), with a per-reader `eventNum`, and heartbeats on
  `zebra/{reader}/events`.
* `ImpinjMqttSimulator` publishes one ReaderEvent per message (as the R700 does) to
  `impinj/{reader}/events`, "connected" on its status topic at connect, "disconnected" on a
  clean stop, and leaves "connection lost" as its MQTT will.
* `ImpinjHttpStreamServer` serves `GET /api/v1/data/stream`: NDJSON, CR-LF keep-alives when
  idle, the history buffer replayed to every new connection.

Payloads come only from the public encoders of `readers.formats`. Faults and ground truth:
`simulators.devices.json_faults`. Time: `clock()` (ns) + the plan's clock skew.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from readers.batch import Read
from readers.formats.impinj import encode_impinj_event
from readers.formats.zebra import encode_zebra_event_chunks, encode_zebra_heartbeat
from simulators.devices.json_faults import JsonFaultInjector, JsonFaultPlan, JsonGroundTruth
from simulators.devices.scene import Scene

log = logging.getLogger(__name__)

__all__ = ["ImpinjHttpStreamServer", "ImpinjMqttSimulator", "MqttDevice", "ZebraFxSimulator"]

Clock = Callable[[], int]


def _scene_reads(scene: Scene, reader: str, now_ns: int, step_ns: int) -> Iterator[Read]:
    """One inventory round over every antenna; reads spaced `step_ns` apart."""
    for i, r in enumerate(scene.cycle()):
        yield Read(now_ns + i * step_ns, reader, r.antenna, r.epc, float(r.rssi_dbm),
                   frequency_khz=r.frequency_khz)


class MqttDevice:
    """A paho-mqtt 2.x client (MQTT 3.1.1, QoS 1) that remembers what it has in flight."""

    def __init__(
        self,
        host: str,
        port: int,
        client_id: str,
        *,
        qos: int = 1,
        username: str | None = None,
        password: str | None = None,
        will: tuple[str, bytes] | None = None,
    ) -> None:
        self.host, self.port, self.qos = host, port, qos
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311,
            clean_session=True,
        )
        self.client.max_inflight_messages_set(100)
        if username is not None:
            self.client.username_pw_set(username, password)
        if will is not None:
            self.client.will_set(will[0], will[1], qos=1)
        self._connected = threading.Event()
        self.client.on_connect = self._on_connect
        self._inflight: deque[mqtt.MQTTMessageInfo] = deque()
        self.published = 0

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if not reason.is_failure:
            self._connected.set()

    def connect(self, timeout: float = 10.0) -> None:
        self.client.connect(self.host, self.port, keepalive=30)
        self.client.loop_start()
        if not self._connected.wait(timeout):
            self.client.loop_stop()
            raise TimeoutError(f"no CONNACK from {self.host}:{self.port}")

    def publish(self, topic: str, payload: bytes) -> None:
        self._inflight.append(self.client.publish(topic, payload, qos=self.qos))
        self.published += 1
        while self._inflight and self._inflight[0].is_published():
            self._inflight.popleft()

    def quiesce(self, timeout: float = 30.0) -> None:
        """Wait until every message published so far is acknowledged by the broker."""
        deadline = time.monotonic() + timeout
        while self._inflight:
            info = self._inflight[0]
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{len(self._inflight)} messages not acknowledged")
            info.wait_for_publish(left)
            if info.is_published():
                self._inflight.popleft()

    def close(self, last: tuple[str, bytes] | None = None) -> None:
        if last is not None:
            self.publish(*last)
            self.quiesce()
        self.client.disconnect()
        self.client.loop_stop()

    def crash(self) -> None:
        """Drop the TCP connection without DISCONNECT: the broker publishes the will."""
        sock = self.client.socket()
        self.client.loop_stop()
        if sock is not None:
            sock.close()


class _SceneReader:
    """What the reader simulators share: inventory rounds of their scene."""

    scene: Scene
    reader_id: str
    read_spacing_ns: int

    def now(self) -> int:
        raise NotImplementedError

    def publish_reads(self, reads: list[Read]) -> None:
        raise NotImplementedError

    def run_cycles(self, cycles: int) -> int:
        """`cycles` inventory rounds of the scene, published now; returns reads emitted."""
        total = 0
        for _ in range(cycles):
            reads = list(_scene_reads(self.scene, self.reader_id, self.now(), self.read_spacing_ns))
            self.publish_reads(reads)
            total += len(reads)
        return total


class _MqttSceneReader(_SceneReader):
    faults: JsonFaultInjector
    device: MqttDevice
    topic: str

    def quiesce(self, timeout: float = 30.0) -> None:
        """Publish what the fault plan still holds, then wait until the broker acked everything."""
        for wire in self.faults.flush():
            self.device.publish(self.topic, wire)
        self.device.quiesce(timeout)


class ZebraFxSimulator(_MqttSceneReader):
    """A Zebra FX reader with the IoT Connector publishing tag data over MQTT."""

    def __init__(
        self,
        host: str,
        port: int,
        reader_id: str,
        scene: Scene,
        *,
        topic_template: str = "zebra/{reader}/data",
        events_topic_template: str = "zebra/{reader}/events",
        reads_per_message: int = 100,
        mode: str = "CUSTOM",
        utc_offset_minutes: int = 0,
        faults: JsonFaultPlan | None = None,
        first_event_num: int = 1,
        read_spacing_ns: int = 1_000_000,
        clock: Clock = time.time_ns,
        qos: int = 1,
    ) -> None:
        if reads_per_message < 1:
            raise ValueError("reads_per_message must be >= 1")
        self.reader_id, self.scene = reader_id, scene
        self.topic = topic_template.replace("{reader}", reader_id)
        self.events_topic = events_topic_template.replace("{reader}", reader_id)
        self.reads_per_message, self.mode = reads_per_message, mode
        self.utc_offset_minutes = utc_offset_minutes
        self.faults = JsonFaultInjector(faults)
        self.truth: JsonGroundTruth = self.faults.truth
        self.event_num = first_event_num
        self.heartbeat_num = 1
        self.read_spacing_ns, self.clock = read_spacing_ns, clock
        self.device = MqttDevice(host, port, f"zebra-sim-{reader_id}", qos=qos)
        self._started_ns = clock()

    def connect(self) -> None:
        self.device.connect()

    def now(self) -> int:
        return self.clock() + self.faults.skew_ns

    def publish_reads(self, reads: list[Read]) -> None:
        """Number, batch, fault and publish reads (their times are device times)."""
        for start in range(0, len(reads), self.reads_per_message):
            chunk = reads[start : start + self.reads_per_message]
            numbered = []
            for r in chunk:
                numbered.append(Read(r.time_ns, r.reader, r.antenna, r.epc, r.rssi_dbm, self.event_num,
                                     r.phase, r.frequency_khz))
                self.event_num += 1
            events = encode_zebra_event_chunks(numbered, mode=self.mode,
                                               utc_offset_minutes=self.utc_offset_minutes)
            epcs = [r.epc for r in numbered]
            events, intact = self.faults.spoil_events(events, epcs)
            payload = events[0] if self.reads_per_message == 1 else b"[" + b",".join(events) + b"]"
            for wire in self.faults.message(payload, epcs, intact):
                self.device.publish(self.topic, wire)

    def heartbeat(self, full: bool = True) -> None:
        antennas = {a: True for a in self.scene.antennas}
        uptime = (self.clock() - self._started_ns) // 1_000_000_000
        payload = encode_zebra_heartbeat(
            self.now(), self.heartbeat_num, antennas, utc_offset_minutes=self.utc_offset_minutes,
            tag_reads=self.truth.reads_emitted, uptime_s=int(uptime), full=full,
        )
        self.heartbeat_num += 1
        self.truth.heartbeats += 1
        self.device.publish(self.events_topic, payload)

    def reboot(self) -> None:
        """The reader restarts: its event counter starts again at 1."""
        self.event_num = 1

    def run(self, stop: threading.Event, cycle_s: float = 1.0, heartbeat_s: float = 60.0) -> None:
        """Inventory rounds every `cycle_s` and heartbeats every `heartbeat_s` until `stop`."""
        next_hb = time.monotonic()
        while not stop.is_set():
            if time.monotonic() >= next_hb:
                self.heartbeat()
                next_hb += heartbeat_s
            self.run_cycles(1)
            stop.wait(cycle_s)

    def close(self) -> None:
        self.device.close()


class ImpinjMqttSimulator(_MqttSceneReader):
    """An Impinj R700 in IoT device interface mode publishing ReaderEvents over MQTT."""

    def __init__(
        self,
        host: str,
        port: int,
        reader_id: str,
        scene: Scene,
        *,
        event_topic_template: str = "impinj/{reader}/events",
        status_topic_template: str = "impinj/{reader}/status",
        connect_message: str = "connected",
        will_message: str = "connection lost",
        disconnect_message: str = "disconnected",
        epc_format: str = "base64",
        hostname: str | None = None,
        faults: JsonFaultPlan | None = None,
        read_spacing_ns: int = 1_000,
        clock: Clock = time.time_ns,
        qos: int = 1,
    ) -> None:
        self.reader_id, self.scene = reader_id, scene
        self.topic = event_topic_template.replace("{reader}", reader_id)
        self.status_topic = status_topic_template.replace("{reader}", reader_id)
        self.connect_message, self.disconnect_message = connect_message, disconnect_message
        self.epc_format, self.hostname = epc_format, hostname or f"impinj-{reader_id}"
        self.faults = JsonFaultInjector(faults)
        self.truth: JsonGroundTruth = self.faults.truth
        self.read_spacing_ns, self.clock = read_spacing_ns, clock
        self.device = MqttDevice(host, port, f"impinj-sim-{reader_id}", qos=qos,
                                 will=(self.status_topic, will_message.encode()))

    def connect(self) -> None:
        self.device.connect()
        self.device.publish(self.status_topic, self.connect_message.encode())

    def now(self) -> int:
        return self.clock() + self.faults.skew_ns

    def publish_reads(self, reads: list[Read]) -> None:
        for r in reads:
            event = encode_impinj_event(r, hostname=self.hostname, epc_format=self.epc_format)
            (event,), intact = self.faults.spoil_events([event], [r.epc])
            for wire in self.faults.message(event, [r.epc], intact):
                self.device.publish(self.topic, wire)

    def run(self, stop: threading.Event, cycle_s: float = 1.0) -> None:
        while not stop.is_set():
            self.run_cycles(1)
            stop.wait(cycle_s)

    def close(self) -> None:
        self.device.close(last=(self.status_topic, self.disconnect_message.encode()))

    def crash(self) -> None:
        self.device.crash()


class ImpinjHttpStreamServer(_SceneReader):
    """`GET /api/v1/data/stream` of an R700 on 127.0.0.1 (NDJSON, chunked, keep-alives)."""

    def __init__(
        self,
        reader_id: str,
        scene: Scene,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        keepalive_s: float = 30.0,
        history_size: int = 1000,
        hostname: str | None = None,
        epc_format: str = "hex",
        faults: JsonFaultPlan | None = None,
        read_spacing_ns: int = 1_000,
        clock: Clock = time.time_ns,
    ) -> None:
        self.reader_id, self.scene = reader_id, scene
        self.keepalive_s, self.epc_format = keepalive_s, epc_format
        self.hostname = hostname or f"impinj-{reader_id}"
        self.faults = JsonFaultInjector(faults)
        self.truth: JsonGroundTruth = self.faults.truth
        self.read_spacing_ns, self.clock = read_spacing_ns, clock
        self.history: deque[bytes] = deque(maxlen=history_size)
        self._clients: list[queue.Queue[bytes | None]] = []
        self._lock = threading.Lock()
        self.connections = 0
        self.keepalives_sent = 0
        self._server = ThreadingHTTPServer((host, port), self._handler())
        self._server.daemon_threads = True
        self.host, self.port = host, int(self._server.server_address[1])
        self.url = f"http://{host}:{self.port}/api/v1/data/stream"
        self._thread: threading.Thread | None = None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        sim = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # http.server API
                if self.path.split("?")[0] != "/api/v1/data/stream":
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/x-ndjson")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                sim.serve_client(self.wfile)

            def log_message(self, format: str, *args: Any) -> None:
                log.debug("stream: " + format, *args)

        return Handler

    def serve_client(self, wfile: Any) -> None:
        q: queue.Queue[bytes | None] = queue.Queue()
        with self._lock:
            backlog = list(self.history)  # the reader replays its history buffer
            self._clients.append(q)
            self.connections += 1
        self.truth.reads_replayed += len(backlog)
        try:
            for line in backlog:
                wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
            wfile.flush()
            while True:
                try:
                    item = q.get(timeout=self.keepalive_s)
                except queue.Empty:
                    item = b"\r\n"
                    self.keepalives_sent += 1
                if item is None:
                    wfile.write(b"0\r\n\r\n")
                    wfile.flush()
                    return
                wfile.write(b"%x\r\n%s\r\n" % (len(item), item))
                wfile.flush()
        except OSError:
            return
        finally:
            with self._lock:
                if q in self._clients:
                    self._clients.remove(q)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._server.serve_forever, name="impinj-stream",
                                        daemon=True)
        self._thread.start()

    def now(self) -> int:
        return self.clock() + self.faults.skew_ns

    def _broadcast(self, line: bytes) -> None:
        with self._lock:
            self.history.append(line)
            for q in self._clients:
                q.put(line)

    def publish_reads(self, reads: list[Read]) -> None:
        for r in reads:
            event = encode_impinj_event(r, hostname=self.hostname, event_type=False,
                                        epc_format=self.epc_format)
            (event,), intact = self.faults.spoil_events([event], [r.epc])
            for wire in self.faults.message(event, [r.epc], intact):
                self._broadcast(wire + b"\n")

    def drop_clients(self) -> None:
        """End every open stream (the client is expected to reconnect)."""
        with self._lock:
            for q in self._clients:
                q.put(None)

    def clients(self) -> int:
        with self._lock:
            return len(self._clients)

    def close(self) -> None:
        self.drop_clients()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)
