"""R2000 / E710 "0xA0" serial protocol: frames, checksum, real-time inventory records.

Frame (reference readers.md §5): `A0 | Len | Address | Cmd | Data | Check`, total Len + 2 bytes,
Len counts Address..Check, Check = (-sum of all preceding bytes) mod 256. Both directions share
the format. Tag record of `89`/`8B`/`8A`: `FreqAnt | PC (2) | EPC (2 * (PC >> 11)) | RSSI`;
antenna = (FreqAnt & 3) + 1, frequency index = FreqAnt >> 2, RSSI dBm = raw - 129.
End of round: `Ant | ReadRate u16 | TotalRead u32`; error: `ErrorCode`.

The checksum is only 8 bits, so a false header in garbage passes it 1 time in 256: a frame is
accepted only if it is also structurally plausible (known command, Len consistent with the
command and the PC, and the expected address when one is configured).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from readers.driver import DecodeResult, InputError, ReaderHealth
from readers.formats._stream import FrameScanner, ReadColumns, StreamDecoder

HEADER = 0xA0
BROADCAST = 0xFF

CMD_RESET = 0x70
CMD_GET_VERSION = 0x72
CMD_SET_WORK_ANTENNA = 0x74
CMD_GET_WORK_ANTENNA = 0x75
CMD_INVENTORY = 0x80
CMD_REAL_TIME_INVENTORY = 0x89
CMD_FAST_SWITCH_INVENTORY = 0x8A
CMD_SESSION_INVENTORY = 0x8B
KNOWN_COMMANDS = frozenset(list(range(0x70, 0x7A)) + list(range(0x80, 0x8C)) + list(range(0x90, 0x94)))
TAG_COMMANDS = frozenset([CMD_REAL_TIME_INVENTORY, CMD_FAST_SWITCH_INVENTORY, CMD_SESSION_INVENTORY])
SUCCESS = 0x10
RSSI_OFFSET = 129


def checksum(data: bytes) -> int:
    """(-sum(data)) mod 256: appended, it makes the frame sum to 0 mod 256."""
    return (-sum(data)) & 0xFF


def frequency_khz(index: int) -> int:
    """pyImpinj table: 0-6 -> 865.0-868.0 MHz, 7-59 -> 902.0-928.0 MHz, 0.5 MHz steps; else -1."""
    if 0 <= index <= 6:
        return 865_000 + 500 * index
    if 7 <= index <= 59:
        return 902_000 + 500 * (index - 7)
    return -1


def frequency_index(khz: int) -> int:
    if 865_000 <= khz <= 868_000:
        return (khz - 865_000) // 500
    if 902_000 <= khz <= 928_000:
        return 7 + (khz - 902_000) // 500
    raise ValueError(f"no frequency index for {khz} kHz")


@dataclass(frozen=True, slots=True)
class TagRecord:
    epc: bytes
    antenna: int = 1  # 1-based; 1..4
    freq_index: int = 0
    rssi_dbm: int = -70
    pc: int = -1  # -1: derive from the EPC length

    @property
    def frequency_khz(self) -> int:
        return frequency_khz(self.freq_index)


@dataclass(frozen=True, slots=True)
class EndOfRound:
    antenna: int  # 1-based
    read_rate: int
    total_read: int


@dataclass(frozen=True, slots=True)
class Response:
    """A frame other than a tag record: replies, end of round, inventory errors."""

    address: int
    cmd: int
    data: bytes
    end_of_round: EndOfRound | None = None


# ---------------------------------------------------------------- encoders


def encode_frame(address: int, cmd: int, data: bytes = b"") -> bytes:
    body = bytes((HEADER, len(data) + 3, address, cmd)) + data
    return body + bytes((checksum(body),))


def encode_tag_record(rec: TagRecord, address: int = 1, cmd: int = CMD_REAL_TIME_INVENTORY) -> bytes:
    if len(rec.epc) % 2 or len(rec.epc) > 62:
        raise ValueError("EPC must be whole 16-bit words, at most 31")
    if not 1 <= rec.antenna <= 4:
        raise ValueError("antenna must be 1..4")
    pc = ((len(rec.epc) // 2) << 11) if rec.pc < 0 else rec.pc
    freq_ant = ((rec.freq_index & 0x3F) << 2) | (rec.antenna - 1)
    raw_rssi = rec.rssi_dbm + RSSI_OFFSET
    if not 0 <= raw_rssi <= 255:
        raise ValueError(f"RSSI {rec.rssi_dbm} dBm out of range")
    data = bytes((freq_ant,)) + pc.to_bytes(2, "big") + rec.epc + bytes((raw_rssi,))
    return encode_frame(address, cmd, data)


def encode_end_of_round(end: EndOfRound, address: int = 1) -> bytes:
    data = bytes((end.antenna - 1,)) + end.read_rate.to_bytes(2, "big") + end.total_read.to_bytes(4, "big")
    return encode_frame(address, CMD_REAL_TIME_INVENTORY, data)


def encode_realtime_inventory(address: int = 1, repeat: int = 1) -> bytes:
    return encode_frame(address, CMD_REAL_TIME_INVENTORY, bytes((repeat,)))


def encode_set_work_antenna(address: int, antenna: int) -> bytes:
    """`74`: select the 1-based antenna (sent 0-based)."""
    return encode_frame(address, CMD_SET_WORK_ANTENNA, bytes((antenna - 1,)))


def encode_status(address: int, cmd: int, status: int = SUCCESS) -> bytes:
    """A plain one-status-byte reply (`10` = success), also the inventory error frame."""
    return encode_frame(address, cmd, bytes((status,)))


# ---------------------------------------------------------------- decoding


class _Frames:
    header = HEADER
    length_bytes = 2
    weak_check = True

    def __init__(self, address: int | None, from_module: bool = True) -> None:
        self._address = address
        self._from_module = from_module

    def frame_length(self, buf: bytearray, pos: int) -> int:
        return buf[pos + 1] + 2

    def is_valid(self, frame: bytes) -> bool:
        n = len(frame)
        if n < 5 or sum(frame) & 0xFF:
            return False
        cmd = frame[3]
        if cmd not in KNOWN_COMMANDS:
            return False
        if self._address is not None and frame[2] not in (self._address, BROADCAST):
            return False
        if self._from_module and cmd in TAG_COMMANDS and n > 6:
            if n == 12 or (cmd == CMD_FAST_SWITCH_INVENTORY and n == 14):
                return True  # end of round
            return n >= 9 and n == 2 * (frame[5] >> 3) + 9
        return True


class CommandDecoder:
    """Host -> module frames (what a simulated module hears): (address, cmd, data)."""

    def __init__(self) -> None:
        self._scanner = FrameScanner(_Frames(None, from_module=False))
        self.errors: list[InputError] = []

    def feed(self, data: bytes) -> list[tuple[int, int, bytes]]:
        scan = self._scanner.scan(data)
        self.errors.extend(scan.errors)
        return [(f[2], f[3], f[4:-1]) for f in scan.frames]


@dataclass
class R2000Counters:
    frames: int = 0
    reads: int = 0
    rounds: int = 0
    responses: int = 0


@dataclass
class R2000Decoder(StreamDecoder[Response]):
    """Streaming decoder of module -> host frames; reads are stamped with their arrival time."""

    reader_id: str
    address: int | None = None
    counters: R2000Counters = field(default_factory=R2000Counters)
    responses: list[Response] = field(default_factory=list)
    max_responses: int = 256
    _scanner: FrameScanner = field(init=False)

    def __post_init__(self) -> None:
        self._scanner = FrameScanner(_Frames(self.address))

    def _decode(self, data: bytes, arrival_ns: int | None, final: bool) -> DecodeResult:
        now = time.time_ns() if arrival_ns is None else arrival_ns
        scan = self._scanner.scan(data, final)
        result = DecodeResult(errors=scan.errors)
        cols = ReadColumns()
        health: ReaderHealth | None = None
        for frame in scan.frames:
            self.counters.frames += 1
            cmd = frame[3]
            n = len(frame)
            if cmd in TAG_COMMANDS and n >= 9 and n == 2 * (frame[5] >> 3) + 9:
                freq_ant = frame[4]
                cols.add(
                    now,
                    (freq_ant & 3) + 1,
                    frame[7:-2],
                    float(frame[-2] - RSSI_OFFSET),
                    frequency_khz=frequency_khz(freq_ant >> 2),
                )
                continue
            end: EndOfRound | None = None
            if cmd in TAG_COMMANDS and n in (12, 14):
                end = EndOfRound(
                    frame[4] + 1, int.from_bytes(frame[5:7], "big"), int.from_bytes(frame[7:11], "big")
                )
                self.counters.rounds += 1
            elif cmd in TAG_COMMANDS and n == 6 and frame[4] != SUCCESS:
                if health is None:
                    health = ReaderHealth(self.reader_id)
                health.errors.append(f"inventory error {frame[4]:02X}")
            self.counters.responses += 1
            if len(self.responses) < self.max_responses:
                self.responses.append(Response(frame[2], cmd, bytes(frame[4:-1]), end))
        if len(cols):
            self.counters.reads += len(cols)
            result.batches.append(cols.to_batch(self.reader_id, with_frequency=True))
        result.health = health
        return result


def decode_capture(data: bytes, reader_id: str, chunk: int = 4096) -> Iterable[DecodeResult]:
    decoder = R2000Decoder(reader_id)
    now = time.time_ns()
    for i in range(0, len(data), chunk):
        yield decoder.feed(data[i : i + chunk], now)
    yield decoder.finish(now)
