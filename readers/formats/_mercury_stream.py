"""Mercury stream decoders: `MercuryDecoder` (module -> host: continuous-mode `22` frames,
tag-buffer `29` replies, other replies) and `CommandDecoder` (host -> module)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from readers.driver import DecodeResult, InputError, InputErrorReason, ReaderHealth
from readers.formats._mercury_frame import (
    KNOWN_OPCODES,
    OP_GET_TAG_BUFFER,
    OP_READ_TAG_MULTIPLE,
    OP_VERSION,
    SEARCH_STREAMING,
    STATUS_ANTENNA_NOT_CONNECTED,
    STATUS_NO_TAGS,
    STATUS_OK,
    STATUS_TEXT,
    _HostFrames,
    _ModuleFrames,
)
from readers.formats._mercury_records import (
    META_ANTENNA,
    META_FREQUENCY,
    META_PHASE,
    META_READ_COUNT,
    META_RSSI,
    META_TIMESTAMP,
    TagRecord,
    _fast_layout,
    parse_tag_records,
)
from readers.formats._stream import FrameScanner, ReadColumns, StreamDecoder


@dataclass(frozen=True, slots=True)
class ModuleResponse:
    """A module -> host frame other than tag data (command replies, status frames)."""

    opcode: int
    status: int
    data: bytes
    tag_count: int | None = None  # timed-read (22) replies: tags found in the buffer


@dataclass(frozen=True, slots=True)
class HostCommand:
    opcode: int
    data: bytes


# ---------------------------------------------------------------- stream decoders


@dataclass
class MercuryCounters:
    frames: int = 0
    reads: int = 0
    responses: int = 0
    keepalives: int = 0


@dataclass
class MercuryDecoder(StreamDecoder[ModuleResponse]):
    """Streaming decoder of what a Mercury module sends; keeps partial frames between feeds.

    Continuous-mode reads are stamped with the arrival time (as the vendor API does). Tag-buffer
    reads (`29`) are stamped `search_start_ns + timestamp_ms` when the driver told us when it sent
    the timed read (`set_search_start`), never later than their arrival; else arrival time.
    Replies other than tag data are queued in `responses` for the driver's polling logic.
    """

    reader_id: str
    counters: MercuryCounters = field(default_factory=MercuryCounters)
    responses: list[ModuleResponse] = field(default_factory=list)
    max_responses: int = 256
    _scanner: FrameScanner = field(default_factory=lambda: FrameScanner(_ModuleFrames()))
    _search_start_ns: int | None = None
    _health: ReaderHealth | None = None

    def set_search_start(self, ns: int | None) -> None:
        self._search_start_ns = ns

    def _decode(self, data: bytes, arrival_ns: int | None, final: bool) -> DecodeResult:
        now = time.time_ns() if arrival_ns is None else arrival_ns
        scan = self._scanner.scan(data, final)
        result = DecodeResult(errors=scan.errors)
        cols = ReadColumns()
        with_phase = with_freq = with_count = False
        for frame in scan.frames:
            self.counters.frames += 1
            opcode = frame[2]
            status = (frame[3] << 8) | frame[4]
            try:
                if (
                    opcode == OP_READ_TAG_MULTIPLE
                    and status == STATUS_OK
                    and len(frame) > 15
                    and ((frame[6] << 8) | frame[7]) & SEARCH_STREAMING
                ):
                    meta = self._stream_frame(frame, now, cols, result.errors)
                elif opcode == OP_GET_TAG_BUFFER and status == STATUS_OK:
                    meta = self._buffer_frame(frame, now, cols, result.errors)
                elif opcode in KNOWN_OPCODES:
                    self._response(frame, opcode, status, now, result)
                    continue
                else:
                    raise InputError(InputErrorReason.UNKNOWN_MESSAGE, f"opcode {opcode:02X}")
            except InputError as err:
                result.errors.append(err)
                continue
            with_phase |= bool(meta & META_PHASE)
            with_freq |= bool(meta & META_FREQUENCY)
            with_count |= bool(meta & META_READ_COUNT)
        if len(cols):
            # the column only when some record folded several reads (continuous mode reports 1)
            with_count = with_count and cols.read_count.count(1) != len(cols)
            batch = cols.to_batch(self.reader_id, None, with_phase, with_freq, with_count)
            self.counters.reads += batch.read_total
            result.batches.append(batch)
        if self._health is not None:
            result.health = self._health
            self._health = None
        return result

    def _stream_frame(
        self, frame: bytes, now: int, cols: ReadColumns, errors: list[InputError]
    ) -> int:
        off = 8 if frame[5] & 0x88 != 0x88 else 9
        meta = (frame[off] << 8) | frame[off + 1]
        count = frame[off + 2]
        if count == 1 and self._fast_one(frame, off + 3, meta, now, cols):
            return meta
        records, end = parse_tag_records(frame, off + 3, count, meta)
        if end != len(frame) - 2:
            raise InputError(InputErrorReason.BAD_FIELD, "bytes left after the tag records")
        for r in records:
            self._add(cols, r, now, meta, errors)
        return meta

    @staticmethod
    def _fast_one(frame: bytes, i: int, meta: int, now: int, cols: ReadColumns) -> bool:
        """One record with fixed-size metadata and no XPC (the common stream frame); else False."""
        lay = _fast_layout(meta)
        if lay is None:
            return False
        size, o_rssi, o_ant, o_freq, o_phase, o_data = lay
        e = i + size
        if o_data >= 0:  # DATA (u16 bits + bytes) sits after every field read here
            dbits = (frame[i + o_data] << 8) | frame[i + o_data + 1]
            e += 0 if dbits & 0x8000 else (dbits + 7) >> 3
        if e + 4 > len(frame) - 2 or frame[e + 2] & 0x02:
            return False
        bits = (frame[e] << 8) | frame[e + 1]
        end = e + 2 + (bits >> 3)
        if bits & 7 or bits < 32 or end != len(frame) - 2:
            return False
        count = frame[i] if meta & META_READ_COUNT else 1  # readCount comes first when present
        if count == 0:
            return False  # the general path counts the bad record
        if o_rssi >= 0:
            r = frame[i + o_rssi]
            rssi = float(r - 256 if r > 127 else r)
        else:
            rssi = float("nan")
        cols.add(
            now,
            ((frame[i + o_ant] >> 4) or (frame[i + o_ant] & 0x0F) or 1) if o_ant >= 0 else 1,
            frame[e + 4 : end - 2],
            rssi,
            float((frame[i + o_phase] << 8) | frame[i + o_phase + 1]) if o_phase >= 0 else float("nan"),
            int.from_bytes(frame[i + o_freq : i + o_freq + 3], "big") if o_freq >= 0 else -1,
            count,
        )
        return True

    def _buffer_frame(
        self, frame: bytes, now: int, cols: ReadColumns, errors: list[InputError]
    ) -> int:
        meta = (frame[5] << 8) | frame[6]
        count = frame[8]
        records, end = parse_tag_records(frame, 9, count, meta)
        if end != len(frame) - 2:
            raise InputError(InputErrorReason.BAD_FIELD, "bytes left after the tag records")
        base = self._search_start_ns
        for r in records:
            t = now
            if base is not None and meta & META_TIMESTAMP:
                t = min(now, base + r.timestamp_ms * 1_000_000)
            self._add(cols, r, t, meta, errors)
        self.responses.append(ModuleResponse(OP_GET_TAG_BUFFER, STATUS_OK, b"", count))
        return meta

    @staticmethod
    def _add(cols: ReadColumns, r: TagRecord, t: int, meta: int, errors: list[InputError]) -> None:
        """One record's read; a record whose readCount is 0 (it stands for no read) is a counted
        BAD_FIELD error instead, and the frame's other records still count."""
        count = r.read_count if meta & META_READ_COUNT else 1
        if count < 1:
            errors.append(InputError(InputErrorReason.BAD_FIELD, f"readCount {count}"))
            return
        cols.add(
            t,
            r.antenna if meta & META_ANTENNA else 1,
            r.epc,
            float(r.rssi_dbm) if meta & META_RSSI else float("nan"),
            float(r.phase) if meta & META_PHASE else float("nan"),
            r.frequency_khz if meta & META_FREQUENCY else -1,
            count,
        )

    def _response(
        self, frame: bytes, opcode: int, status: int, now: int, result: DecodeResult
    ) -> None:
        data = frame[5:-2]
        tag_count: int | None = None
        if opcode == OP_READ_TAG_MULTIPLE:
            if status == STATUS_NO_TAGS:
                self.counters.keepalives += 1
                tag_count = 0
                health = self._health_now()
                health.last_heartbeat_ns = now
            elif status == STATUS_OK and len(data) in (4, 5):
                tag_count = data[-1]
            elif status == STATUS_OK and len(data) in (7, 8):
                tag_count = int.from_bytes(data[-4:], "big")
        if status not in (STATUS_OK, STATUS_NO_TAGS):
            health = self._health_now()
            health.errors.append(f"{status:04X} {STATUS_TEXT.get(status, 'error')} (opcode {opcode:02X})")
            if status == STATUS_ANTENNA_NOT_CONNECTED:
                health.antennas_connected[0] = False
        if opcode == OP_VERSION and status == STATUS_OK:
            self._health_now().extra["version"] = data.hex().upper()
        self.counters.responses += 1
        if len(self.responses) < self.max_responses:
            self.responses.append(ModuleResponse(opcode, status, bytes(data), tag_count))

    def _health_now(self) -> ReaderHealth:
        if self._health is None:
            self._health = ReaderHealth(self.reader_id)
        return self._health


class CommandDecoder:
    """Host -> module frames (what a simulated module hears)."""

    def __init__(self) -> None:
        self._scanner = FrameScanner(_HostFrames())
        self.errors: list[InputError] = []

    def feed(self, data: bytes) -> list[HostCommand]:
        scan = self._scanner.scan(data)
        self.errors.extend(scan.errors)
        return [HostCommand(f[2], f[3:-2]) for f in scan.frames]


def decode_capture(data: bytes, reader_id: str, chunk: int = 4096) -> Iterable[DecodeResult]:
    """A raw module -> host byte capture, decoded as if it arrived now."""
    decoder = MercuryDecoder(reader_id)
    now = time.time_ns()
    for i in range(0, len(data), chunk):
        yield decoder.feed(data[i : i + chunk], now)
    yield decoder.finish(now)
