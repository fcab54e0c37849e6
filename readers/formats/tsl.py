"""TSL ASCII 2.x (1128 / 1166 / 2128 handhelds over Bluetooth SPP or USB CDC).

Lines end with CR LF (reference readers.md §6):
    command   = "." 2ALPHA *( SP "-" param [ SP value ] ) [ SP free-text ] CRLF
    response  = "CS:" SP echoed-command CRLF *( tag-block / info-line ) ( "OK:" / "ER:" code ) CRLF CRLF
    tag-block = "EP:" SP epc-hex CRLF
                *( ("PC:" / "RI:" / "TD:" / "CR:" / "IX:" / "DA:" / "TM:") SP value CRLF )

An inventory (`.iv` without `-n`) that ends with `OK:` is a census of the area the handheld
covers: one ReadBatch with `census_zone` set. `ER:005` (no transponder) on an inventory is an
empty census. Antenna is always 1; RSSI from `RI:`; time is the arrival time of the `EP:` line.
Stray 0x00/0xFF bytes (Bluetooth) are dropped and counted as GARBAGE.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from readers.driver import DecodeResult, InputError, InputErrorReason, ReaderHealth
from readers.formats._stream import ReadColumns

ERR_NO_TRANSPONDER = 5
ERROR_TEXT = {
    1: "syntax",
    2: "parameter unsupported",
    3: "action not enabled",
    4: "hardware",
    5: "no transponder",
    6: "no barcode",
    7: "invalid configuration",
    8: "antenna/radio",
    9: "battery low",
    10: "scanner not ready",
    11: "interface",
    12: "autorun",
    13: "write failure",
    14: "switch in use",
    15: "aborted",
    16: "lock failure",
    17: "bluetooth",
    18: "licence key",
    255: "system",
}
_STRAY = re.compile(rb"[\x00\xff]+")
_INFO = re.compile(rb"^([A-Z][A-Z0-9]):\s?(.*)$")
_HEX = re.compile(rb"^(?:[0-9A-Fa-f]{2})+$")
TAG_FIELDS = frozenset([b"PC", b"RI", b"TD", b"CR", b"IX", b"DA", b"TM"])


@dataclass(frozen=True, slots=True)
class TslTag:
    epc: bytes
    rssi_dbm: int | None = None
    pc: int | None = None


@dataclass(frozen=True, slots=True)
class TslResponse:
    """A completed response block or an unsolicited info line."""

    command: str  # the echoed command ("" for unsolicited lines)
    ok: bool
    error_code: int | None = None
    info: tuple[tuple[str, str], ...] = ()


# ---------------------------------------------------------------- encoders


def encode_command(command: str, *params: str) -> bytes:
    """`.iv`, `-r on`, `-n` -> b'.iv -r on -n\\r\\n'."""
    if not re.fullmatch(r"\.[A-Za-z]{2}", command):
        raise ValueError(f"not a TSL command: {command!r}")
    text = " ".join((command, *params))
    if "\r" in text or "\n" in text:
        raise ValueError("a command is one line")
    return text.encode("ascii") + b"\r\n"


def encode_response(
    command: str,
    tags: Sequence[TslTag] = (),
    error_code: int | None = None,
    info: Sequence[tuple[str, str]] = (),
) -> bytes:
    """A response block: CS line, tag blocks, info lines, OK: or ER:nnn, then an empty line."""
    lines = [f"CS: {command}"]
    for tag in tags:
        lines.append(f"EP: {tag.epc.hex().upper()}")
        if tag.pc is not None:
            lines.append(f"PC: {tag.pc:04X}")
        if tag.rssi_dbm is not None:
            lines.append(f"RI: {tag.rssi_dbm}")
    lines.extend(f"{k}: {v}" for k, v in info)
    lines.append("OK:" if error_code is None else f"ER:{error_code:03d}")
    lines.append("")
    return "".join(line + "\r\n" for line in lines).encode("ascii")


def is_inventory(command: str) -> bool:
    """`.iv` that acts (not `-n`, parameters only)."""
    tokens = command.split()
    return bool(tokens) and tokens[0].lower() == ".iv" and "-n" not in tokens


# ---------------------------------------------------------------- decoder


@dataclass
class TslCounters:
    lines: int = 0
    reads: int = 0
    inventories: int = 0
    responses: int = 0


@dataclass
class _Block:
    command: str
    cols: ReadColumns = field(default_factory=ReadColumns)
    tag_open: bool = False  # the last EP: line was valid; RI:/PC: apply to it
    info: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class TslDecoder:
    """Streaming decoder of what a TSL handheld sends; one census batch per inventory."""

    reader_id: str
    zone: str = "floor"
    max_line: int = 1024
    counters: TslCounters = field(default_factory=TslCounters)
    responses: list[TslResponse] = field(default_factory=list)
    max_responses: int = 256
    _buf: bytearray = field(default_factory=bytearray)
    _block: _Block | None = None
    _stray_open: bool = False

    def feed(self, data: bytes, arrival_ns: int | None = None) -> DecodeResult:
        now = time.time_ns() if arrival_ns is None else arrival_ns
        result = DecodeResult()
        if b"\x00" in data or b"\xff" in data:
            data = self._drop_stray(data, result)
        else:
            self._stray_open = False
        buf = self._buf
        buf += data
        start = 0
        while True:
            end = buf.find(b"\n", start)
            if end < 0:
                break
            line = bytes(buf[start:end]).rstrip(b"\r")
            start = end + 1
            self._line(line, now, result)
        del buf[:start]
        if len(buf) > self.max_line:
            result.errors.append(InputError(InputErrorReason.GARBAGE, f"{len(buf)} bytes without CR LF"))
            buf.clear()
        return result

    def finish(self, arrival_ns: int | None = None) -> DecodeResult:
        result = DecodeResult()
        if self._block is not None:
            result.errors.append(InputError(InputErrorReason.TRUNCATED, "stream ended inside a response"))
            self._block = None
        elif self._buf:
            result.errors.append(InputError(InputErrorReason.TRUNCATED, "stream ended inside a line"))
        self._buf.clear()
        return result

    def take_responses(self) -> list[TslResponse]:
        out, self.responses = self.responses, []
        return out

    def _drop_stray(self, data: bytes, result: DecodeResult) -> bytes:
        for m in _STRAY.finditer(data):
            if not (m.start() == 0 and self._stray_open):
                result.errors.append(
                    InputError(InputErrorReason.GARBAGE, f"{m.end() - m.start()} stray byte(s)")
                )
        self._stray_open = data[-1:] in (b"\x00", b"\xff")
        return _STRAY.sub(b"", data)

    def _line(self, line: bytes, now: int, result: DecodeResult) -> None:
        if not line:
            return
        self.counters.lines += 1
        cs = line.find(b"CS: .", 1)
        if cs > 0:  # a line cut short (link dropped) ran into the next response
            line = line[cs:]
        block = self._block
        m = _INFO.match(line)
        if m is None:
            result.errors.append(InputError(InputErrorReason.GARBAGE, repr(line[:40])))
            return
        key, value = m.group(1), m.group(2).strip()
        if key == b"CS":
            if block is not None:
                result.errors.append(
                    InputError(InputErrorReason.TRUNCATED, f"response to {block.command!r} cut short")
                )
            self._block = _Block(value.decode("ascii", "replace"))
            return
        if block is None:
            self._unsolicited(key, value, now, result)
            return
        if key == b"EP":
            block.tag_open = False
            if not _HEX.match(value):
                result.errors.append(InputError(InputErrorReason.BAD_EPC, repr(value[:64])))
                return
            block.cols.add(now, 1, bytes.fromhex(value.decode("ascii")), float("nan"))
            block.tag_open = True
        elif key in TAG_FIELDS:
            if key == b"RI" and block.tag_open:
                try:
                    block.cols.rssi_dbm[-1] = float(int(value))
                except ValueError:
                    result.errors.append(InputError(InputErrorReason.BAD_FIELD, f"RI: {value!r}"))
        elif key == b"OK":
            self._close(block, None, result)
        elif key == b"ER":
            try:
                code = int(value)
            except ValueError:
                code = 255
                result.errors.append(InputError(InputErrorReason.BAD_FIELD, f"ER: {value!r}"))
            self._close(block, code, result)
        else:
            block.info.append((key.decode("ascii"), value.decode("ascii", "replace")))

    def _close(self, block: _Block, error_code: int | None, result: DecodeResult) -> None:
        self._block = None
        self.counters.responses += 1
        if is_inventory(block.command) and error_code in (None, ERR_NO_TRANSPONDER):
            self.counters.inventories += 1
            self.counters.reads += len(block.cols)
            result.batches.append(block.cols.to_batch(self.reader_id, census_zone=self.zone))
        elif error_code is not None:
            health = result.health or ReaderHealth(self.reader_id)
            health.errors.append(
                f"ER:{error_code:03d} {ERROR_TEXT.get(error_code, 'error')} ({block.command})"
            )
            result.health = health
        if len(self.responses) < self.max_responses:
            self.responses.append(
                TslResponse(block.command, error_code is None, error_code, tuple(block.info))
            )

    def _unsolicited(self, key: bytes, value: bytes, now: int, result: DecodeResult) -> None:
        k, v = key.decode("ascii"), value.decode("ascii", "replace")
        if key in (b"EP", b"OK", b"ER") or key in TAG_FIELDS:
            result.errors.append(InputError(InputErrorReason.UNKNOWN_MESSAGE, f"{k}: outside a response"))
            return
        health = result.health or ReaderHealth(self.reader_id)
        health.extra[k] = v
        health.last_heartbeat_ns = now
        result.health = health
        if len(self.responses) < self.max_responses:
            self.responses.append(TslResponse("", True, None, ((k, v),)))


def decode_capture(
    data: bytes, reader_id: str, zone: str = "floor", chunk: int = 4096
) -> Iterable[DecodeResult]:
    decoder = TslDecoder(reader_id, zone)
    now = time.time_ns()
    for i in range(0, len(data), chunk):
        yield decoder.feed(data[i : i + chunk], now)
    yield decoder.finish(now)
