"""Mercury command and reply encoders, byte-exact in both directions (driver and simulator)."""

from __future__ import annotations

import struct
from collections.abc import Sequence

from readers.formats._mercury_frame import (
    OP_CLEAR_TAG_BUFFER,
    OP_GET_TAG_BUFFER,
    OP_MULTI_PROTOCOL,
    OP_READ_TAG_MULTIPLE,
    OP_SET_READER_OPTIONAL,
    STATUS_NO_TAGS,
    STATUS_OK,
    encode_command,
    encode_response,
)
from readers.formats._mercury_records import TagRecord, encode_tag_record


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
