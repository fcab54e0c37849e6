"""R2000 "0xA0" driver: per antenna, select it (`74`) then run a real-time inventory (`89`).

Options: `address` (int, default 0xFF broadcast; replies are accepted from any address unless an
address is given), `antennas` (1-based list, default [1]), `repeat` (inventory rounds per `89`,
default 1), `response_timeout_s` (2.0: a missing reply restarts the cycle).
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from readers.config import ReaderConfig
from readers.driver import DecodeResult, DriverSpec, SerialDriver
from readers.drivers._serial import SessionDriver, Write
from readers.formats import r2000 as fmt


class _Wait(StrEnum):
    IDLE = "idle"
    ANTENNA = "antenna"
    ROUND = "round"


class R2000Session:
    def __init__(self, reader_id: str, options: dict[str, object]) -> None:
        self.address = int(str(options.get("address", fmt.BROADCAST)), 0)
        raw_antennas = options.get("antennas", [1])
        if not isinstance(raw_antennas, list) or not raw_antennas:
            raise ValueError("r2000 antennas must be a non-empty list of 1..4")
        self.antennas = [int(a) for a in raw_antennas]
        if any(not 1 <= a <= 4 for a in self.antennas):
            raise ValueError("r2000 antennas must be 1..4")
        self.repeat = int(str(options.get("repeat", 1)))
        self.response_timeout_ns = int(float(str(options.get("response_timeout_s", 2.0))) * 1e9)
        self.decoder = fmt.R2000Decoder(
            reader_id, None if self.address == fmt.BROADCAST else self.address
        )
        self._wait = _Wait.IDLE
        self._since = 0
        self._next = 0
        self._timeouts = 0

    def on_open(self, write: Write, now_ns: int) -> None:
        self.decoder.take_responses()
        self._wait = _Wait.IDLE

    def feed(self, data: bytes, now_ns: int) -> DecodeResult:
        if not data and self.decoder.pending:
            return self.decoder.finish(now_ns)  # idle line: an incomplete frame stays incomplete
        return self.decoder.feed(data, now_ns)

    def poll(self, write: Write, now_ns: int) -> None:
        for resp in self.decoder.take_responses():
            if self._wait is _Wait.ANTENNA and resp.cmd == fmt.CMD_SET_WORK_ANTENNA:
                write(fmt.encode_realtime_inventory(self.address, self.repeat))
                self._enter(_Wait.ROUND, now_ns)
            elif self._wait is _Wait.ROUND and resp.cmd == fmt.CMD_REAL_TIME_INVENTORY:
                # end of round (or an inventory error): next antenna
                self._wait = _Wait.IDLE
        if self._wait is not _Wait.IDLE and now_ns - self._since > self.response_timeout_ns:
            self._timeouts += 1
            self._wait = _Wait.IDLE
        if self._wait is _Wait.IDLE:
            antenna = self.antennas[self._next % len(self.antennas)]
            self._next += 1
            write(fmt.encode_set_work_antenna(self.address, antenna))
            self._enter(_Wait.ANTENNA, now_ns)

    def _enter(self, state: _Wait, now_ns: int) -> None:
        self._wait = state
        self._since = now_ns

    def on_stop(self, write: Write) -> None:
        return None

    def on_close(self, now_ns: int) -> DecodeResult:
        return self.decoder.finish(now_ns)

    def counters(self) -> dict[str, int]:
        c = self.decoder.counters
        return {"frames": c.frames, "reads": c.reads, "rounds": c.rounds, "reply_timeouts": self._timeouts}


def factory(config: ReaderConfig) -> SerialDriver:
    return SessionDriver("r2000", config, R2000Session(config.id, config.options))


def decode_capture(data: bytes, reader_id: str) -> Iterable[DecodeResult]:
    return fmt.decode_capture(data, reader_id)


SPEC = DriverSpec(name="r2000", transport="serial", factory=factory, decode_capture=decode_capture)
