"""Mercury framing: protocol constants (opcodes, status words, search flags), frame CRC, the two
frame encoders and the `FrameFormat`s of both directions.

    host -> module : FF | LEN | OPCODE | DATA[LEN] | CRC_HI CRC_LO                  (LEN + 5 bytes)
    module -> host : FF | LEN | OPCODE | STATUS (2) | DATA[LEN] | CRC_HI CRC_LO     (LEN + 7 bytes)
The CRC covers every byte after FF.
"""

from __future__ import annotations

import binascii

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
    return crc16_by_nibbles(data)


def crc16_by_nibbles(data: bytes) -> int:
    """`crc16` as the reference defines it, a nibble at a time (short inputs; the naive
    parser of bench/parsers_serial.py)."""
    reg = 0xFFFF
    for byte in data:
        for nibble in (byte >> 4, byte & 0x0F):
            t = reg >> 12
            reg = ((reg << 4) | nibble) & 0xFFFF
            reg ^= _NIBBLE_TABLE[t]
    return reg


# ---------------------------------------------------------------- frame encoders


def encode_command(opcode: int, data: bytes = b"") -> bytes:
    """Host -> module frame."""
    body = bytes((len(data), opcode)) + data
    return b"\xff" + body + crc16(body).to_bytes(2, "big")


def encode_response(opcode: int, status: int = STATUS_OK, data: bytes = b"") -> bytes:
    """Module -> host frame."""
    body = bytes((len(data), opcode)) + status.to_bytes(2, "big") + data
    return b"\xff" + body + crc16(body).to_bytes(2, "big")


# ---------------------------------------------------------------- frame formats


class _ModuleFrames:
    """FrameFormat of module -> host frames."""

    header = HEADER
    length_bytes = 2
    weak_check = False

    def frame_length(self, buf: bytearray, pos: int) -> int:
        return buf[pos + 1] + 7

    def is_valid(self, frame: bytes) -> bool:
        # crc16(frame[1:-2]) with its fast form written out: every read frame passes here, and
        # this saves a copy of the frame and a call.
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
