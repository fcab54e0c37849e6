"""`impinj_iot`: Impinj R700/R720 IoT device interface, over MQTT or the HTTP NDJSON stream.

MQTT (ReaderConfig.url unset): a PayloadDriver. Options: `topic_template` (default
`impinj/{reader}/events`; ReaderConfig.topic overrides), `status_topic_template` (default
`impinj/{reader}/status`: the reader's will/connect topic), `connect_message`, `will_message`,
`disconnect_message` (R700 defaults "connected", "connection lost"), `reader_from_topic`,
`dedup_capacity` (default 65536; 0 = off).

HTTP (ReaderConfig.url set, e.g. `http://reader/api/v1/data/stream`): `ImpinjHttpStreamDriver`
owns its connection like a serial driver: `run(deliver, stop)` reads NDJSON lines, skips the
CR-LF keep-alives, and reconnects with back-off. Options: `username`, `password` (basic auth),
`read_timeout_s` (default 75: the reader sends a keep-alive every 30 s), `verify_tls`.

Impinj events carry no counter: the reader's history buffer is replayed on every reconnect,
so reads are deduplicated on (reader, epc, antenna, time_ns) over a bounded recent set.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import logging
import socket
import ssl
import threading
import time
from collections import Counter
from urllib.parse import urlsplit

import numpy as np

from readers.config import ReaderConfig
from readers.driver import DecodeResult, Deliver, DriverSpec, InputError, ReaderHealth
from readers.drivers._payload import JsonDriverBase, decode_capture_with
from readers.formats.impinj import (
    DEFAULT_CONNECT_MESSAGE,
    DEFAULT_DISCONNECT_MESSAGE,
    DEFAULT_WILL_MESSAGE,
    apply_status,
    parse_impinj,
    parse_impinj_status,
)
from readers.seqtrack import RecentKeys

log = logging.getLogger(__name__)

NAME = "impinj_iot"


class ImpinjMqttDriver(JsonDriverBase):
    """PayloadDriver for an R700 publishing ReaderEvents (one per message) over MQTT."""

    def __init__(self, config: ReaderConfig) -> None:
        super().__init__(
            config, "impinj/{reader}/events", "status_topic_template", "impinj/{reader}/status"
        )
        opts = config.options
        self.connect_messages = (str(opts.get("connect_message", DEFAULT_CONNECT_MESSAGE)),)
        self.lost_messages = (
            str(opts.get("will_message", DEFAULT_WILL_MESSAGE)),
            str(opts.get("disconnect_message", DEFAULT_DISCONNECT_MESSAGE)),
        )
        self.dedup_capacity = int(opts.get("dedup_capacity", 65536))
        self._recent: dict[str, RecentKeys] = {}

    def decode(self, topic: str, payload: bytes, received_ns: int) -> DecodeResult:
        try:
            reader, is_status = self.reader_for(topic)
        except InputError as exc:
            return self.count(DecodeResult(errors=[exc]))
        connected = parse_impinj_status(payload, self.connect_messages, self.lost_messages)
        if connected is not None:
            health = self.health_of(reader)
            health.connected = connected
            health.extra["status_ns"] = str(received_ns)
            return self.count(DecodeResult(health=self.health_snapshot(reader)))
        parsed = parse_impinj(payload, reader, received_ns)
        result = DecodeResult(errors=parsed.errors, gaps=parsed.purged)
        batch = parsed.batch
        if len(batch) and self.dedup_capacity > 0:
            recent = self._recent.get(reader)
            if recent is None:
                self._recent[reader] = recent = RecentKeys(self.dedup_capacity)
            keep = np.fromiter(
                (
                    not recent.seen_before((e, a, t))
                    for e, a, t in zip(
                        batch.epc.tolist(), batch.antenna.tolist(), batch.time_ns.tolist(),
                        strict=True,
                    )
                ),
                dtype=np.bool_,
                count=len(batch),
            )
            result.duplicates = int(len(batch) - keep.sum())
            if result.duplicates:
                batch = batch.take(keep)
        if len(batch):
            result.batches.append(batch)
        if parsed.status or is_status:
            health = self.health_of(reader)
            for event in parsed.status:
                apply_status(health, event)
            result.health = self.health_snapshot(reader)
        return self.count(result)


class ImpinjHttpStreamDriver:
    """Reads `GET /api/v1/data/stream` (NDJSON); satisfies the SerialDriver protocol."""

    def __init__(self, config: ReaderConfig) -> None:
        if not config.url:
            raise ValueError(f"reader {config.id}: the HTTP stream needs `url`")
        self.url = config.url
        parts = urlsplit(config.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"reader {config.id}: bad stream url {config.url!r}")
        self._parts = parts
        opts = config.options
        self.read_timeout_s = float(opts.get("read_timeout_s", 75.0))
        self.verify_tls = bool(opts.get("verify_tls", True))
        self.max_backoff_s = float(opts.get("max_backoff_s", 30.0))
        user, password = opts.get("username"), opts.get("password")
        self._auth = (
            "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
            if user is not None
            else None
        )
        self.payloads = ImpinjMqttDriver(
            ReaderConfig(id=config.id, driver=NAME, options={
                k: v for k, v in opts.items() if k in ("dedup_capacity",)
            })
        )
        self.reader_id = config.id
        self._counts: Counter[str] = Counter()
        self._connected = False

    def _connect(self) -> http.client.HTTPConnection:
        p = self._parts
        conn: http.client.HTTPConnection
        if p.scheme == "https":
            ctx = ssl.create_default_context()
            if not self.verify_tls:
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            conn = http.client.HTTPSConnection(
                p.hostname or "", p.port, timeout=self.read_timeout_s, context=ctx
            )
        else:
            conn = http.client.HTTPConnection(p.hostname or "", p.port, timeout=self.read_timeout_s)
        headers = {"Accept": "application/x-ndjson, application/json"}
        if self._auth:
            headers["Authorization"] = self._auth
        path = p.path or "/api/v1/data/stream"
        conn.request("GET", path + (f"?{p.query}" if p.query else ""), headers=headers)
        return conn

    def run(self, deliver: Deliver, stop: threading.Event) -> None:
        backoff = 0.5
        while not stop.is_set():
            try:
                conn = self._connect()
                try:
                    if self._stream(conn, deliver, stop):
                        backoff = 0.5
                finally:
                    conn.close()
            except (OSError, http.client.HTTPException) as exc:
                log.warning("reader %s: stream %s: %s", self.reader_id, self.url, exc)
            self._connected = False
            if stop.is_set():
                break
            self._counts["reconnects"] += 1
            stop.wait(backoff)
            backoff = min(backoff * 2, self.max_backoff_s)

    def _stream(self, conn: http.client.HTTPConnection, deliver: Deliver, stop: threading.Event) -> bool:
        resp = conn.getresponse()
        if resp.status != 200:
            self._counts[f"http.{resp.status}"] += 1
            log.warning("reader %s: stream answered HTTP %d", self.reader_id, resp.status)
            return False
        self._connected = True
        done = threading.Event()
        sock = conn.sock

        def unblock() -> None:  # a blocked readline returns once the socket is shut down
            while not done.wait(0.2):
                if stop.is_set() and sock is not None:
                    with contextlib.suppress(OSError):  # already closed by the peer
                        sock.shutdown(socket.SHUT_RDWR)
                    return

        watcher = threading.Thread(target=unblock, name=f"impinj-stream-{self.reader_id}", daemon=True)
        watcher.start()
        got_data = False
        try:
            while not stop.is_set():
                line = resp.readline()
                if not line:
                    return got_data  # server closed the stream
                if not line.strip():
                    self._counts["keepalives"] += 1
                    continue
                got_data = True
                self._counts["lines"] += 1
                result = self.payloads.decode("", line, time.time_ns())
                for batch in result.batches:
                    deliver(batch)
            return got_data
        finally:
            done.set()
            watcher.join()

    def health(self) -> ReaderHealth:
        h = self.payloads.health()
        h.connected = self._connected
        return h

    def counters(self) -> dict[str, int]:
        """lines, keepalives, reconnects, http.<status>, plus the payload counters."""
        return {**self.payloads.counters(), **self._counts}


def factory(config: ReaderConfig) -> ImpinjMqttDriver | ImpinjHttpStreamDriver:
    """MQTT payload driver, or the HTTP stream driver when the config names a `url`."""
    return ImpinjHttpStreamDriver(config) if config.url else ImpinjMqttDriver(config)


decode_capture = decode_capture_with(ImpinjMqttDriver, NAME)

SPEC = DriverSpec(name=NAME, transport="mqtt", factory=factory, decode_capture=decode_capture)
