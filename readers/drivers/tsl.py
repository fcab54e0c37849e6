"""TSL ASCII 2 handheld driver: each inventory response is a census batch of one zone.

Options: `zone` (default: the antenna-1 zone of the config, else "floor"); `setup` (default
true: send `.iv -r on -n` on open so that tag blocks carry RSSI); `poll_interval_s` (default
none: inventories come from the trigger; else the driver sends `.iv` this often);
`response_timeout_s` (5.0).
"""

from __future__ import annotations

from collections.abc import Iterable

from readers.config import ReaderConfig
from readers.driver import DecodeResult, DriverSpec, SerialDriver
from readers.drivers._serial import SessionDriver, Write
from readers.formats import tsl as fmt

SETUP_COMMAND = fmt.encode_command(".iv", "-r on", "-n")
INVENTORY_COMMAND = fmt.encode_command(".iv")


def zone_of(config: ReaderConfig) -> str:
    return str(config.options.get("zone") or config.zones.get(1) or "floor")


class TslSession:
    def __init__(self, reader_id: str, zone: str, options: dict[str, object]) -> None:
        self.setup = bool(options.get("setup", True))
        interval = options.get("poll_interval_s")
        self.poll_interval_ns = None if interval is None else int(float(str(interval)) * 1e9)
        self.response_timeout_ns = int(float(str(options.get("response_timeout_s", 5.0))) * 1e9)
        self.decoder = fmt.TslDecoder(reader_id, zone)
        self._pending_since: int | None = None
        self._last_done = 0
        self._timeouts = 0

    def on_open(self, write: Write, now_ns: int) -> None:
        self.decoder.take_responses()
        self._pending_since = None
        self._last_done = now_ns
        if self.setup:
            write(SETUP_COMMAND)

    def feed(self, data: bytes, now_ns: int) -> DecodeResult:
        return self.decoder.feed(data, now_ns)

    def poll(self, write: Write, now_ns: int) -> None:
        responses = self.decoder.take_responses()
        if self.poll_interval_ns is None:
            return
        if self._pending_since is not None:
            if any(fmt.is_inventory(r.command) for r in responses):
                self._pending_since = None
                self._last_done = now_ns
            elif now_ns - self._pending_since > self.response_timeout_ns:
                self._timeouts += 1
                self._pending_since = None
        if self._pending_since is None and now_ns - self._last_done >= self.poll_interval_ns:
            write(INVENTORY_COMMAND)
            self._pending_since = now_ns

    def on_stop(self, write: Write) -> None:
        return None

    def on_close(self, now_ns: int) -> DecodeResult:
        return self.decoder.finish(now_ns)

    def counters(self) -> dict[str, int]:
        c = self.decoder.counters
        return {
            "lines": c.lines,
            "reads": c.reads,
            "inventories": c.inventories,
            "reply_timeouts": self._timeouts,
        }


def factory(config: ReaderConfig) -> SerialDriver:
    return SessionDriver("tsl", config, TslSession(config.id, zone_of(config), config.options))


def decode_capture(data: bytes, reader_id: str) -> Iterable[DecodeResult]:
    return fmt.decode_capture(data, reader_id)


SPEC = DriverSpec(name="tsl_ascii", transport="serial", factory=factory, decode_capture=decode_capture)
