"""The serial I/O shell shared by the serial drivers: open, read loop, reopen with back-off.

A driver = this shell + a `SerialSession` (protocol logic around a pure decoder: what to send on
open, what to poll, what to do with bytes). The shell never sets DTR/RTS (a pty raises errno 25)
and opens the port before the device is asked to talk (pyserial flushes input on open).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import serial

from readers.config import ReaderConfig
from readers.driver import DecodeResult, Deliver, ReaderHealth

log = logging.getLogger(__name__)

Write = Callable[[bytes], None]


class SerialSession(Protocol):
    """Protocol logic of one reader on an open port."""

    def on_open(self, write: Write, now_ns: int) -> None:
        """The port was (re)opened: reset state, send set-up commands."""

    def feed(self, data: bytes, now_ns: int) -> DecodeResult:
        """Bytes from the port (possibly none, on a read timeout)."""
        ...

    def poll(self, write: Write, now_ns: int) -> None:
        """Called after every read: send the next command, handle reply timeouts."""

    def on_stop(self, write: Write) -> None:
        """Stop requested while the port is open: tell the device to stop."""

    def on_close(self, now_ns: int) -> DecodeResult:
        """The port is gone or closing: flush the decoder (a partial frame is TRUNCATED)."""
        ...

    def counters(self) -> dict[str, int]: ...


@dataclass(frozen=True)
class Backoff:
    initial_s: float = 0.05
    max_s: float = 5.0
    factor: float = 2.0


class SerialShell:
    """Runs a SerialSession on a pyserial port until `stop`; reopens a vanished port."""

    def __init__(
        self,
        reader_id: str,
        port: str,
        baudrate: int,
        session: SerialSession,
        backoff: Backoff | None = None,
        read_timeout_s: float = 0.05,
        drain_s: float = 0.5,
    ) -> None:
        self.reader_id = reader_id
        self.port = port
        self.baudrate = baudrate
        self.session = session
        self.backoff = backoff or Backoff()
        self.read_timeout_s = read_timeout_s
        self.drain_s = drain_s
        self._errors: Counter[str] = Counter()
        self._counts: Counter[str] = Counter()
        self._health = ReaderHealth(reader_id, connected=False)
        self._lock = threading.Lock()

    # ------------------------------------------------------------ public

    def run(self, deliver: Deliver, stop: threading.Event) -> None:
        delay = self.backoff.initial_s
        ever_opened = False
        while not stop.is_set():
            if ever_opened:
                self._count("reopen_attempts")
            try:
                port = self._open()
            except (serial.SerialException, OSError, ValueError) as exc:
                self._count("open_failures")
                log.warning("%s: cannot open %s (%s); retry in %.2fs", self.reader_id, self.port, exc, delay)
                stop.wait(delay)
                delay = min(delay * self.backoff.factor, self.backoff.max_s)
                continue
            ever_opened = True
            delay = self.backoff.initial_s
            self._count("opens")
            self._set_connected(True)
            try:
                self._loop(port, deliver, stop)
            except (serial.SerialException, OSError) as exc:
                self._count("port_lost")
                log.warning("%s: port %s lost (%s)", self.reader_id, self.port, exc)
            finally:
                self._set_connected(False)
                try:
                    port.close()
                except (serial.SerialException, OSError) as exc:
                    log.debug("%s: close failed: %s", self.reader_id, exc)
                self._handle(self.session.on_close(time.time_ns()), deliver)

    def counters(self) -> dict[str, int]:
        with self._lock:
            out = dict(self._counts)
            out.update({f"error_{k}": v for k, v in self._errors.items()})
        out.update(self.session.counters())
        return out

    def health(self) -> ReaderHealth:
        with self._lock:
            h = self._health
            return ReaderHealth(
                h.reader, h.connected, dict(h.antennas_connected), list(h.errors), h.last_heartbeat_ns,
                dict(h.extra),
            )

    # ------------------------------------------------------------ internals

    def _open(self) -> serial.Serial:
        port = serial.Serial()
        port.port = self.port
        port.baudrate = self.baudrate
        port.timeout = self.read_timeout_s
        port.write_timeout = 2.0
        port.open()  # pyserial ignores ENOTTY when it sets DTR/RTS itself; we never touch them
        return port

    def _loop(self, port: serial.Serial, deliver: Deliver, stop: threading.Event) -> None:
        def write(data: bytes) -> None:
            port.write(data)

        self.session.on_open(write, time.time_ns())
        while not stop.is_set():
            waiting = port.in_waiting
            data = port.read(waiting if waiting > 0 else 1)
            now = time.time_ns()
            if data:
                self._count("bytes", len(data))
            self._handle(self.session.feed(data, now), deliver)
            self.session.poll(write, now)
        self.session.on_stop(write)
        port.flush()
        # what the device still sends (Mercury flushes pending reads after a stop) until idle
        deadline = time.monotonic() + self.drain_s
        while time.monotonic() < deadline:
            data = port.read(max(port.in_waiting, 1))
            if not data:
                break
            self._count("bytes", len(data))
            self._handle(self.session.feed(data, time.time_ns()), deliver)

    def _handle(self, result: DecodeResult, deliver: Deliver) -> None:
        if result.errors or result.health is not None:
            with self._lock:
                for err in result.errors:
                    self._errors[err.reason.value] += 1
                if result.health is not None:
                    self._merge_health(result.health)
        for err in result.errors:
            log.debug("%s: %s", self.reader_id, err)
        for batch in result.batches:
            self._count("batches")
            deliver(batch)  # may block: back-pressure stops us reading the port

    def _merge_health(self, h: ReaderHealth) -> None:
        mine = self._health
        mine.antennas_connected.update(h.antennas_connected)
        mine.errors = (mine.errors + h.errors)[-20:]
        if h.last_heartbeat_ns is not None:
            mine.last_heartbeat_ns = h.last_heartbeat_ns
        mine.extra.update(h.extra)

    def _set_connected(self, connected: bool) -> None:
        with self._lock:
            self._health.connected = connected

    def _count(self, key: str, n: int = 1) -> None:
        with self._lock:
            self._counts[key] += n


class SessionDriver:
    """A serial driver: one device protocol session inside the shared serial shell."""

    def __init__(self, driver: str, config: ReaderConfig, session: SerialSession) -> None:
        if not config.port:
            raise ValueError(f"reader {config.id!r}: the {driver} driver needs a port")
        self.session = session
        self.shell = SerialShell(config.id, config.port, config.baudrate, session)

    def run(self, deliver: Deliver, stop: threading.Event) -> None:
        self.shell.run(deliver, stop)

    def health(self) -> ReaderHealth:
        return self.shell.health()

    def counters(self) -> dict[str, int]:
        return self.shell.counters()
