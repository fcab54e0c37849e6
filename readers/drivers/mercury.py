"""ThingMagic Mercury driver: continuous reading (default) or timed-read + tag-buffer polling.

Options (`ReaderConfig.options`): `mode` "continuous" | "poll"; `metadata_flags` (int, default
0x01FF continuous, 0x0057 poll); `cycle_ms` (continuous, 1000); `read_timeout_ms` (poll, 500);
`response_timeout_s` (2.0): a poll reply that does not come in time restarts the cycle, and a
continuous stream silent that long is restarted.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from readers.config import ReaderConfig
from readers.driver import DecodeResult, DriverSpec, SerialDriver
from readers.drivers._serial import SessionDriver, Write
from readers.formats import mercury as fmt


class _Wait(StrEnum):
    IDLE = "idle"
    COUNT = "count"
    BUFFER = "buffer"
    CLEAR = "clear"


class MercurySession:
    def __init__(self, reader_id: str, options: dict[str, object]) -> None:
        self.mode = str(options.get("mode", "continuous"))
        if self.mode not in ("continuous", "poll"):
            raise ValueError(f"mercury mode must be continuous or poll, not {self.mode!r}")
        default_meta = 0x01FF if self.mode == "continuous" else 0x0057
        self.metadata_flags = int(str(options.get("metadata_flags", default_meta)), 0)
        self.cycle_ms = int(str(options.get("cycle_ms", 1000)))
        self.read_timeout_ms = int(str(options.get("read_timeout_ms", 500)))
        self.response_timeout_ns = int(float(str(options.get("response_timeout_s", 2.0))) * 1e9)
        self.decoder = fmt.MercuryDecoder(reader_id)
        self._wait = _Wait.IDLE
        self._since = 0
        self._remaining = 0
        self._last_rx = 0
        self._timeouts = 0
        self._restarts = 0

    def on_open(self, write: Write, now_ns: int) -> None:
        self.decoder.take_responses()
        self._wait = _Wait.IDLE
        self._last_rx = now_ns
        if self.mode == "continuous":
            self._start_continuous(write)

    def _start_continuous(self, write: Write) -> None:
        write(fmt.encode_disable_read_filter())
        write(fmt.encode_start_continuous(self.metadata_flags, self.cycle_ms))

    def feed(self, data: bytes, now_ns: int) -> DecodeResult:
        if data:
            self._last_rx = now_ns
            return self.decoder.feed(data, now_ns)
        # a read timed out: the line is idle, so a frame still incomplete never will be
        return self.decoder.finish(now_ns) if self.decoder.pending else self.decoder.feed(b"", now_ns)

    def poll(self, write: Write, now_ns: int) -> None:
        responses = self.decoder.take_responses()
        if self.mode == "continuous":
            if now_ns - self._last_rx > self.response_timeout_ns:
                self._restarts += 1
                self._last_rx = now_ns
                self._start_continuous(write)
            return
        for resp in responses:
            self._on_response(resp, write, now_ns)
        if self._wait is not _Wait.IDLE and now_ns - self._since > self.response_timeout_ns + (
            self.read_timeout_ms * 1_000_000
        ):
            self._timeouts += 1
            self._wait = _Wait.IDLE
        if self._wait is _Wait.IDLE:
            self.decoder.set_search_start(now_ns)
            write(fmt.encode_timed_read(self.read_timeout_ms, self.metadata_flags))
            self._enter(_Wait.COUNT, now_ns)

    def _on_response(self, resp: fmt.ModuleResponse, write: Write, now_ns: int) -> None:
        if self._wait is _Wait.COUNT and resp.opcode == fmt.OP_READ_TAG_MULTIPLE:
            if resp.tag_count:
                self._remaining = resp.tag_count
                write(fmt.encode_get_tag_buffer(self.metadata_flags))
                self._enter(_Wait.BUFFER, now_ns)
            else:
                self._wait = _Wait.IDLE
        elif self._wait is _Wait.BUFFER and resp.opcode == fmt.OP_GET_TAG_BUFFER:
            self._remaining -= resp.tag_count or 0
            if resp.status != fmt.STATUS_OK or not resp.tag_count or self._remaining <= 0:
                write(fmt.encode_clear_tag_buffer())
                self._enter(_Wait.CLEAR, now_ns)
            else:
                write(fmt.encode_get_tag_buffer(self.metadata_flags))
                self._since = now_ns
        elif self._wait is _Wait.CLEAR and resp.opcode == fmt.OP_CLEAR_TAG_BUFFER:
            self._wait = _Wait.IDLE

    def _enter(self, state: _Wait, now_ns: int) -> None:
        self._wait = state
        self._since = now_ns

    def on_stop(self, write: Write) -> None:
        if self.mode == "continuous":
            write(fmt.encode_stop_continuous())

    def on_close(self, now_ns: int) -> DecodeResult:
        return self.decoder.finish(now_ns)

    def counters(self) -> dict[str, int]:
        c = self.decoder.counters
        return {
            "frames": c.frames,
            "reads": c.reads,
            "keepalives": c.keepalives,
            "reply_timeouts": self._timeouts,
            "stream_restarts": self._restarts,
        }


def factory(config: ReaderConfig) -> SerialDriver:
    return SessionDriver("mercury", config, MercurySession(config.id, config.options))


def decode_capture(data: bytes, reader_id: str) -> Iterable[DecodeResult]:
    return fmt.decode_capture(data, reader_id)


SPEC = DriverSpec(name="mercury", transport="serial", factory=factory, decode_capture=decode_capture)
