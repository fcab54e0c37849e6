"""Mercury tag records: metadata flags and their wire layout, `TagRecord`, the record encoder,
the record parser and the fixed layouts of the one-record fast path."""

from __future__ import annotations

import binascii
import struct
from dataclasses import dataclass

from readers.driver import InputError, InputErrorReason

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


def gen2_crc(pc_and_epc: bytes) -> int:
    """Gen2 StoredCRC (CRC-16/GENIBUS) over PC + EPC."""
    return binascii.crc_hqx(pc_and_epc, 0xFFFF) ^ 0xFFFF


# ---------------------------------------------------------------- records


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
