"""ThingMagic / JADAK Mercury serial protocol (M6e, Nano, M7e, Micro): frames, CRC, tag records.

Frames (reference readers.md §4):
    host -> module : FF | LEN | OPCODE | DATA[LEN] | CRC_HI CRC_LO                  (LEN + 5 bytes)
    module -> host : FF | LEN | OPCODE | STATUS (2) | DATA[LEN] | CRC_HI CRC_LO     (LEN + 7 bytes)
The CRC covers every byte after FF. `MercuryDecoder` reads the module -> host stream: continuous
reading (unsolicited `22` frames) and tag-buffer polling (`29` responses). Encoders build both
directions byte-exact; the simulator and the driver use them.
"""

from __future__ import annotations

import binascii
import struct
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from readers.driver import DecodeResult, InputError, InputErrorReason, ReaderHealth
from readers.formats._stream import FrameScanner, ReadColumns, StreamDecoder

HEADER = 0xFF

# opcodes
OP_VERSION = 0x03
OP_BOOT_FIRMWARE = 0x04
OP_READ_TAG_MULTIPLE = 0x22
OP_GET_TAG_BUFFER = 0x29
OP_CLEAR_TAG_BUFFER = 0x2A
OP_MULTI_PROTOCOL = 0x2F
OP_SET_ANTENNA = 0x91
OP_SET_READ_POWER = 0x92
OP_SET_PROTOCOL = 0x93
OP_SET_REGION = 0x97
OP_SET_READER_OPTIONAL = 0x9A
KNOWN_OPCODES = frozenset(
    [
        *(0x03, 0x04, 0x06, 0x09, 0x0C, 0x10, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x28, 0x29, 0x2A, 0x2F),
        *range(0x61, 0x73),
        *range(0x91, 0x9C),
    ]
)

# status words
STATUS_OK = 0x0000
STATUS_WRONG_LENGTH = 0x0100
STATUS_INVALID_OPCODE = 0x0101
STATUS_NO_TAGS = 0x0400
STATUS_ANTENNA_NOT_CONNECTED = 0x0503
STATUS_TEMPERATURE = 0x0504
STATUS_RETURN_LOSS = 0x0505
STATUS_BUFFER_FULL = 0x0601
STATUS_TEXT = {
    0x0100: "wrong data length",
    0x0101: "invalid opcode",
    0x0105: "invalid value",
    0x0400: "no tags found",
    0x0503: "antenna not connected",
    0x0504: "temperature limit",
    0x0505: "high return loss",
    0x0601: "tag buffer full",
}

# metadata flags, in wire order, with their fixed sizes (DATA is variable: u16 bits + bytes)
META_READ_COUNT = 0x0001
META_RSSI = 0x0002
META_ANTENNA = 0x0004
META_FREQUENCY = 0x0008
META_TIMESTAMP = 0x0010
META_PHASE = 0x0020
META_PROTOCOL = 0x0040
META_DATA = 0x0080
META_GPIO = 0x0100
META_GEN2_Q = 0x0200
META_GEN2_LF = 0x0400
META_GEN2_TARGET = 0x0800
META_BRAND_ID = 0x1000
META_TAG_TYPE = 0x2000  # EBV-encoded (HF/LF modules): not supported
_FIELD_SIZES = (
    (META_READ_COUNT, 1),
    (META_RSSI, 1),
    (META_ANTENNA, 1),
    (META_FREQUENCY, 3),
    (META_TIMESTAMP, 4),
    (META_PHASE, 2),
    (META_PROTOCOL, 1),
    (META_DATA, -1),
    (META_GPIO, 1),
    (META_GEN2_Q, 1),
    (META_GEN2_LF, 1),
    (META_GEN2_TARGET, 1),
    (META_BRAND_ID, 2),
)
_SUPPORTED_META = 0x1FFF

SEARCH_ANTENNA_LIST = 0x0003
SEARCH_STREAMING = 0x0008
SEARCH_LARGE_POPULATION = 0x0010


# ---------------------------------------------------------------- CRC

_NIBBLE_TABLE = tuple(
    (
        (0x1021 if t & 1 else 0)
        ^ (0x2042 if t & 2 else 0)
        ^ (0x4084 if t & 4 else 0)
        ^ (0x8108 if t & 8 else 0)
    )
    for t in range(16)
)


def crc16(data: bytes) -> int:
    """Mercury frame CRC: poly 0x1021, preset 0xFFFF, message shifted in, no augmentation."""
    if len(data) >= 2:
        # equal to CRC-16/SPI-FUJITSU over all but the last two bytes, XOR those two bytes
        return binascii.crc_hqx(data[:-2], 0x1D0F) ^ ((data[-2] << 8) | data[-1])
    reg = 0xFFFF
    for byte in data:
        for nibble in (byte >> 4, byte & 0x0F):
            t = reg >> 12
            reg = ((reg << 4) | nibble) & 0xFFFF
            reg ^= _NIBBLE_TABLE[t]
    return reg


def gen2_crc(pc_and_epc: bytes) -> int:
    """Gen2 StoredCRC (CRC-16/GENIBUS) over PC + EPC."""
    return binascii.crc_hqx(pc_and_epc, 0xFFFF) ^ 0xFFFF


# ---------------------------------------------------------------- values


@dataclass(frozen=True, slots=True)
class TagRecord:
    """One tag record with its metadata; fields absent from the metadata flags keep defaults."""

    epc: bytes
    pc: int = -1  # -1: derive from the EPC length (no XPC)
    read_count: int = 1
    rssi_dbm: int = 0
    antenna_byte: int = 0x11  # high nibble TX port, low nibble RX port
    frequency_khz: int = 0
    timestamp_ms: int = 0
    phase: int = 0
    protocol: int = 5
    data: bytes = b""
    data_bits: int = -1  # -1: 8 * len(data)
    gpio: int = 0
    q: int = 0
    lf: int = 0
    target: int = 0
    brand_id: bytes = b"\x00\x00"
    xpc: tuple[int, ...] = ()
    tag_crc: int = -1  # -1: compute the Gen2 CRC

    @property
    def antenna(self) -> int:
        return (self.antenna_byte >> 4) or (self.antenna_byte & 0x0F) or 1


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


# ---------------------------------------------------------------- encoders


def encode_command(opcode: int, data: bytes = b"") -> bytes:
    """Host -> module frame."""
    body = bytes((len(data), opcode)) + data
    return b"\xff" + body + crc16(body).to_bytes(2, "big")


def encode_response(opcode: int, status: int = STATUS_OK, data: bytes = b"") -> bytes:
    """Module -> host frame."""
    body = bytes((len(data), opcode)) + status.to_bytes(2, "big") + data
    return b"\xff" + body + crc16(body).to_bytes(2, "big")


def encode_tag_record(rec: TagRecord, metadata_flags: int) -> bytes:
    out = bytearray()
    m = metadata_flags
    if m & META_READ_COUNT:
        out.append(rec.read_count & 0xFF)
    if m & META_RSSI:
        out += struct.pack(">b", rec.rssi_dbm)
    if m & META_ANTENNA:
        out.append(rec.antenna_byte)
    if m & META_FREQUENCY:
        out += rec.frequency_khz.to_bytes(3, "big")
    if m & META_TIMESTAMP:
        out += struct.pack(">I", rec.timestamp_ms)
    if m & META_PHASE:
        out += struct.pack(">H", rec.phase)
    if m & META_PROTOCOL:
        out.append(rec.protocol)
    if m & META_DATA:
        bits = 8 * len(rec.data) if rec.data_bits < 0 else rec.data_bits
        out += struct.pack(">H", bits) + rec.data
    if m & META_GPIO:
        out.append(rec.gpio)
    if m & META_GEN2_Q:
        out.append(rec.q)
    if m & META_GEN2_LF:
        out.append(rec.lf)
    if m & META_GEN2_TARGET:
        out.append(rec.target)
    if m & META_BRAND_ID:
        out += rec.brand_id
    pc = ((len(rec.epc) // 2) << 11) if rec.pc < 0 else rec.pc
    pc_epc = pc.to_bytes(2, "big") + b"".join(w.to_bytes(2, "big") for w in rec.xpc) + rec.epc
    tag_crc = gen2_crc(pc.to_bytes(2, "big") + rec.epc) if rec.tag_crc < 0 else rec.tag_crc
    out += struct.pack(">H", 8 * (len(pc_epc) + 2)) + pc_epc + tag_crc.to_bytes(2, "big")
    return bytes(out)


def encode_stream_tag_frame(
    records: Sequence[TagRecord],
    metadata_flags: int = 0x01FF,
    search_flags: int = 0x001B,
    option: int = 0x10,
) -> bytes:
    """Unsolicited continuous-mode `22` frame: option | search flags | metadata | count | records."""
    data = struct.pack(">BHHB", option, search_flags, metadata_flags, len(records))
    data += b"".join(encode_tag_record(r, metadata_flags) for r in records)
    return encode_response(OP_READ_TAG_MULTIPLE, STATUS_OK, data)


def encode_tag_buffer_response(
    records: Sequence[TagRecord], metadata_flags: int = 0x0057, read_options: int = 0
) -> bytes:
    """`29` reply: metadata flags | read options | count | records."""
    data = struct.pack(">HBB", metadata_flags, read_options, len(records))
    data += b"".join(encode_tag_record(r, metadata_flags) for r in records)
    return encode_response(OP_GET_TAG_BUFFER, STATUS_OK, data)


def encode_timed_read_response(tag_count: int, search_flags: int = 0x0010, option: int = 0x10) -> bytes:
    """`22` reply to a timed read: tags now in the buffer (u8 form, or u32 above 255)."""
    if tag_count == 0:
        return encode_response(OP_READ_TAG_MULTIPLE, STATUS_NO_TAGS)
    if tag_count <= 0xFF:
        data = struct.pack(">BHB", option, search_flags, tag_count)
    else:
        data = struct.pack(">BHI", option, search_flags, tag_count)
    return encode_response(OP_READ_TAG_MULTIPLE, STATUS_OK, data)


def encode_timed_read(timeout_ms: int, metadata_flags: int = 0x0057, search_flags: int = 0x0010) -> bytes:
    return encode_command(
        OP_READ_TAG_MULTIPLE, struct.pack(">BHHH", 0x10, search_flags, timeout_ms, metadata_flags)
    )


def encode_get_tag_buffer(metadata_flags: int = 0x0057, read_options: int = 0) -> bytes:
    return encode_command(OP_GET_TAG_BUFFER, struct.pack(">HB", metadata_flags, read_options))


def encode_clear_tag_buffer() -> bytes:
    return encode_command(OP_CLEAR_TAG_BUFFER)


def encode_disable_read_filter() -> bytes:
    return encode_command(OP_SET_READER_OPTIONAL, b"\x01\x0c\x00")


def encode_start_continuous(
    metadata_flags: int = 0x01FF, cycle_ms: int = 1000, search_flags: int = 0x001B
) -> bytes:
    embedded = struct.pack(">BBHHH", OP_READ_TAG_MULTIPLE, 0x10, search_flags, cycle_ms, metadata_flags)
    data = b"\x00\x00\x01" + bytes([OP_READ_TAG_MULTIPLE]) + b"\x00\x00\x05"
    data += bytes([len(embedded) - 1]) + embedded  # the length excludes the embedded opcode
    return encode_command(OP_MULTI_PROTOCOL, data)


def encode_stop_continuous() -> bytes:
    return encode_command(OP_MULTI_PROTOCOL, b"\x00\x00\x02")


# ---------------------------------------------------------------- record parsing


def _layout(metadata_flags: int) -> tuple[tuple[int, int], ...]:
    if metadata_flags & ~_SUPPORTED_META:
        raise InputError(InputErrorReason.BAD_FIELD, f"unsupported metadata flags {metadata_flags:04X}")
    return tuple((f, s) for f, s in _FIELD_SIZES if metadata_flags & f)


_LAYOUTS: dict[int, tuple[tuple[int, int], ...]] = {}


def parse_tag_records(
    data: bytes, offset: int, count: int, metadata_flags: int
) -> tuple[list[TagRecord], int]:
    """`count` records from `data[offset:]`; returns them and the offset after the last one."""
    layout = _LAYOUTS.get(metadata_flags)
    if layout is None:
        layout = _LAYOUTS.setdefault(metadata_flags, _layout(metadata_flags))
    out: list[TagRecord] = []
    i = offset
    n = len(data)
    try:
        for _ in range(count):
            values: dict[str, object] = {}
            for flag, size in layout:
                if flag == META_DATA:
                    bits = (data[i] << 8) | data[i + 1]
                    nbytes = 0 if bits & 0x8000 else (bits + 7) >> 3
                    values["data"] = data[i + 2 : i + 2 + nbytes]
                    values["data_bits"] = bits
                    i += 2 + nbytes
                    continue
                raw = data[i : i + size]
                if len(raw) < size:
                    raise IndexError
                i += size
                if flag == META_READ_COUNT:
                    values["read_count"] = raw[0]
                elif flag == META_RSSI:
                    values["rssi_dbm"] = raw[0] - 256 if raw[0] > 127 else raw[0]
                elif flag == META_ANTENNA:
                    values["antenna_byte"] = raw[0]
                elif flag == META_FREQUENCY:
                    values["frequency_khz"] = int.from_bytes(raw, "big")
                elif flag == META_TIMESTAMP:
                    values["timestamp_ms"] = int.from_bytes(raw, "big")
                elif flag == META_PHASE:
                    values["phase"] = int.from_bytes(raw, "big")
                elif flag == META_PROTOCOL:
                    values["protocol"] = raw[0]
                elif flag == META_GPIO:
                    values["gpio"] = raw[0]
                elif flag == META_GEN2_Q:
                    values["q"] = raw[0]
                elif flag == META_GEN2_LF:
                    values["lf"] = raw[0]
                elif flag == META_GEN2_TARGET:
                    values["target"] = raw[0]
                else:
                    values["brand_id"] = bytes(raw)
            epc_bits = (data[i] << 8) | data[i + 1]
            i += 2
            end = i + (epc_bits >> 3)
            if epc_bits & 7 or epc_bits < 32 or end > n:
                raise InputError(InputErrorReason.BAD_FIELD, f"EPC length {epc_bits} bits")
            pc = (data[i] << 8) | data[i + 1]
            j = i + 2
            xpc: tuple[int, ...] = ()
            if pc & 0x0200:
                w1 = (data[j] << 8) | data[j + 1]
                j += 2
                xpc = (w1,)
                if w1 & 0x8000:
                    xpc = (w1, (data[j] << 8) | data[j + 1])
                    j += 2
            if j > end - 2:
                raise InputError(InputErrorReason.BAD_FIELD, "EPC length shorter than PC + XPC")
            epc = bytes(data[j : end - 2])
            tag_crc = (data[end - 2] << 8) | data[end - 1]
            out.append(TagRecord(epc=epc, pc=pc, xpc=xpc, tag_crc=tag_crc, **values))  # type: ignore[arg-type]
            i = end
    except IndexError:
        raise InputError(InputErrorReason.BAD_FIELD, "tag record runs past its frame") from None
    return out, i


_FastLayout = tuple[int, int, int, int, int, int]
_FAST: dict[int, _FastLayout | None] = {}


def _fast_layout(meta: int) -> _FastLayout | None:
    """(fixed metadata size, offsets of RSSI, antenna, frequency, phase, DATA or -1)."""
    if meta in _FAST:
        return _FAST[meta]
    lay: _FastLayout | None = None
    if not meta & ~_SUPPORTED_META:
        offsets = {}
        pos = 0
        for flag, size in _FIELD_SIZES:
            if meta & flag:
                offsets[flag] = pos
                pos += 2 if size < 0 else size
        lay = (
            pos,
            offsets.get(META_RSSI, -1),
            offsets.get(META_ANTENNA, -1),
            offsets.get(META_FREQUENCY, -1),
            offsets.get(META_PHASE, -1),
            offsets.get(META_DATA, -1),
        )
    _FAST[meta] = lay
    return lay


# ---------------------------------------------------------------- stream decoders


class _ModuleFrames:
    """FrameFormat of module -> host frames."""

    header = HEADER
    length_bytes = 2
    weak_check = False

    def frame_length(self, buf: bytearray, pos: int) -> int:
        return buf[pos + 1] + 7

    def is_valid(self, frame: bytes) -> bool:
        return binascii.crc_hqx(frame[1:-4], 0x1D0F) ^ ((frame[-4] << 8) | frame[-3]) == (
            (frame[-2] << 8) | frame[-1]
        )


class _HostFrames:
    """FrameFormat of host -> module frames."""

    header = HEADER
    length_bytes = 2
    weak_check = False

    def frame_length(self, buf: bytearray, pos: int) -> int:
        return buf[pos + 1] + 5

    def is_valid(self, frame: bytes) -> bool:
        return crc16(frame[1:-2]) == ((frame[-2] << 8) | frame[-1])


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
        with_phase = with_freq = False
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
                    meta = self._stream_frame(frame, now, cols)
                elif opcode == OP_GET_TAG_BUFFER and status == STATUS_OK:
                    meta = self._buffer_frame(frame, now, cols)
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
        if len(cols):
            self.counters.reads += len(cols)
            result.batches.append(cols.to_batch(self.reader_id, None, with_phase, with_freq))
        if self._health is not None:
            result.health = self._health
            self._health = None
        return result

    def _stream_frame(self, frame: bytes, now: int, cols: ReadColumns) -> int:
        off = 8 if frame[5] & 0x88 != 0x88 else 9
        meta = (frame[off] << 8) | frame[off + 1]
        count = frame[off + 2]
        if count == 1 and self._fast_one(frame, off + 3, meta, now, cols):
            return meta
        records, end = parse_tag_records(frame, off + 3, count, meta)
        if end != len(frame) - 2:
            raise InputError(InputErrorReason.BAD_FIELD, "bytes left after the tag records")
        for r in records:
            self._add(cols, r, now, meta)
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
        )
        return True

    def _buffer_frame(self, frame: bytes, now: int, cols: ReadColumns) -> int:
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
            self._add(cols, r, t, meta)
        self.responses.append(ModuleResponse(OP_GET_TAG_BUFFER, STATUS_OK, b"", count))
        return meta

    @staticmethod
    def _add(cols: ReadColumns, r: TagRecord, t: int, meta: int) -> None:
        cols.add(
            t,
            r.antenna if meta & META_ANTENNA else 1,
            r.epc,
            float(r.rssi_dbm) if meta & META_RSSI else float("nan"),
            float(r.phase) if meta & META_PHASE else float("nan"),
            r.frequency_khz if meta & META_FREQUENCY else -1,
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
