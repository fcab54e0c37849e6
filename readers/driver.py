"""The driver contract and the typed registry of drivers.

Two transports, two small protocols:

* a **serial driver** owns its port: `run(deliver, stop)` blocks in its own thread, reading
  frames, and hands each ReadBatch to `deliver`; `deliver` blocks when the gateway applies
  back-pressure, so the driver simply stops reading the port;
* an **MQTT payload driver** owns no connection: the gateway's one MQTT client subscribes to
  each reader's topic and calls `decode(topic, payload, received_ns)` for every message, then
  acknowledges the message only after the outbox commit.

Parsing itself lives in pure functions over bytes/str (see `readers.formats`); drivers are thin
shells. Third-party drivers register through the `shelfsight.drivers` entry-point group: the
entry point names a factory `(ReaderConfig) -> SerialDriver | PayloadDriver`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from importlib import metadata
from typing import Protocol, runtime_checkable

from readers.batch import ReadBatch
from readers.config import ReaderConfig


class InputErrorReason(StrEnum):
    """Why some input was quarantined (counted, never fatal)."""

    BAD_CRC = "bad_crc"
    GARBAGE = "garbage"
    TRUNCATED = "truncated"
    MALFORMED_JSON = "malformed_json"
    BAD_FIELD = "bad_field"
    UNKNOWN_MESSAGE = "unknown_message"
    BAD_EPC = "bad_epc"
    DUPLICATE = "duplicate"


class InputError(Exception):
    """Typed error of every parser: a reason code and a human detail."""

    def __init__(self, reason: InputErrorReason, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)


@dataclass
class ReaderHealth:
    """What a reader last said about itself (heartbeats, status messages)."""

    reader: str
    connected: bool = True
    antennas_connected: dict[int, bool] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    last_heartbeat_ns: int | None = None
    extra: dict[str, str] = field(default_factory=dict)


@dataclass
class DecodeResult:
    """What one payload or capture yielded: reads, health, and counted problems."""

    batches: list[ReadBatch] = field(default_factory=list)
    health: ReaderHealth | None = None
    errors: list[InputError] = field(default_factory=list)
    duplicates: int = 0
    gaps: int = 0  # missing device sequence numbers seen


Deliver = Callable[[ReadBatch], None]


@runtime_checkable
class SerialDriver(Protocol):
    """A driver that owns a serial port."""

    def run(self, deliver: Deliver, stop: threading.Event) -> None:
        """Read until `stop` is set; reopen the port with back-off when it vanishes."""

    def health(self) -> ReaderHealth: ...

    def counters(self) -> dict[str, int]:
        """Quarantined input by reason, frames, reads, reopen count."""
        ...


@runtime_checkable
class PayloadDriver(Protocol):
    """A driver fed by the gateway's MQTT (or HTTP) client."""

    topic: str

    def decode(self, topic: str, payload: bytes, received_ns: int) -> DecodeResult: ...


Driver = SerialDriver | PayloadDriver
DriverFactory = Callable[[ReaderConfig], Driver]
CaptureDecoder = Callable[[bytes, str], Iterable[DecodeResult]]


@dataclass(frozen=True)
class DriverSpec:
    """A registered driver: how to build it and how to decode an offline capture."""

    name: str
    transport: str  # "serial", "mqtt" or "http"
    factory: DriverFactory
    decode_capture: CaptureDecoder | None = None


class UnknownDriverError(LookupError):
    pass


class DriverRegistry:
    """name -> DriverSpec; built-ins register explicitly, plugins through entry points."""

    def __init__(self) -> None:
        self._specs: dict[str, DriverSpec] = {}

    def add(self, spec: DriverSpec) -> None:
        if spec.name in self._specs:
            raise ValueError(f"driver {spec.name!r} registered twice")
        self._specs[spec.name] = spec

    def get(self, name: str) -> DriverSpec:
        try:
            return self._specs[name]
        except KeyError:
            raise UnknownDriverError(
                f"unknown driver {name!r}; known: {', '.join(sorted(self._specs))}"
            ) from None

    def names(self) -> list[str]:
        return sorted(self._specs)

    def load_entry_points(self, group: str = "shelfsight.drivers") -> None:
        for ep in metadata.entry_points(group=group):
            obj = ep.load()
            spec = obj if isinstance(obj, DriverSpec) else DriverSpec(ep.name, "plugin", obj)
            self.add(spec)
