"""Shared pieces of the binary frame decoders: a resynchronising frame scanner and read columns.

The scanner knows nothing of any protocol beyond a `FrameFormat`: one header byte, how long a
frame is once its first bytes are in, and whether a complete frame checks out (CRC/checksum and
structure). It keeps partial frames between `scan` calls, skips garbage up to the next header
byte, and on a failed check advances by ONE byte (a false header inside garbage must never
swallow the real frame that follows it). Every problem becomes one counted `InputError`:

* GARBAGE    one per contiguous run of skipped bytes (runs continue across `scan` calls);
* BAD_CRC    a complete candidate frame whose check fails;
* TRUNCATED  a candidate cut short: a valid frame starts inside its span, or the stream ended
             (`final=True`) before the frame was complete.

Bytes inside the span of a frame already reported as BAD_CRC/TRUNCATED are not counted again as
garbage. The outcome does not depend on how the stream is chunked (except that TRUNCATED at the
end needs `final=True`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from readers.batch import ReadBatch
from readers.driver import DecodeResult, InputError, InputErrorReason


class FrameFormat(Protocol):
    """What the scanner needs to know of a framed binary protocol."""

    @property
    def header(self) -> int: ...

    @property
    def length_bytes(self) -> int:
        """Bytes from the header needed before `frame_length` can answer."""
        ...

    def frame_length(self, buf: bytearray, pos: int) -> int:
        """Total frame length for the frame starting at `pos` (>= length_bytes available)."""
        ...

    def is_valid(self, frame: bytes) -> bool:
        """Checksum/CRC and minimal structure of one complete candidate frame."""
        ...

    @property
    def weak_check(self) -> bool:
        """True for 8-bit checksums: a valid frame that a valid frame straddles is rejected."""
        ...


@dataclass
class ScanResult:
    frames: list[bytes] = field(default_factory=list)
    errors: list[InputError] = field(default_factory=list)


class FrameScanner:
    """Turns a byte stream into valid frames and counted errors; keeps partial frames."""

    def __init__(self, fmt: FrameFormat) -> None:
        self._fmt = fmt
        self._buf = bytearray()
        self._base = 0  # stream offset of _buf[0]
        self._quarantine_end = 0  # stream offset up to which skipped bytes are already counted
        self._garbage_open = False  # the previous scan ended inside a counted garbage run
        self.bytes_skipped = 0

    @property
    def pending(self) -> int:
        """Bytes held back waiting for the rest of a frame."""
        return len(self._buf)

    def scan(self, data: bytes, final: bool = False) -> ScanResult:
        fmt = self._fmt
        header = fmt.header
        need_len = fmt.length_bytes
        buf = self._buf
        buf += data
        n = len(buf)
        out = ScanResult()
        frames = out.frames
        pos = 0
        while pos < n:
            if buf[pos] != header:
                nxt = buf.find(header, pos)
                end = n if nxt < 0 else nxt
                self._skip(pos, end, out)
                pos = end
                continue
            self._garbage_open = False
            if n - pos < need_len:
                if not final:
                    break
                self._cut_short(pos, n, out)
                pos += 1
                continue
            length = fmt.frame_length(buf, pos)
            if n - pos < length:
                if not final:
                    break
                self._cut_short(pos, pos + length, out)
                pos += 1
                continue
            frame = bytes(buf[pos : pos + length])
            if fmt.is_valid(frame):
                if not fmt.weak_check:
                    frames.append(frame)
                    pos += length
                    continue
                inner = self._straddling(pos, length, final)
                if inner is None:
                    frames.append(frame)
                    pos += length
                    continue
                if inner < 0:
                    break  # the straddling candidate is not complete yet: decide later
                # a frame cut short whose head and the next frame's bytes passed the weak check
                out.errors.append(InputError(InputErrorReason.TRUNCATED, "false frame over a real one"))
                self._quarantine_end = self._base + inner
                self.bytes_skipped += 1
                pos += 1
                continue
            if not self._reject(pos, length, out, final):
                break  # a frame starting inside this one is not complete yet: decide later
            pos += 1
        del buf[:pos]
        self._base += pos
        return out

    def _straddling(self, pos: int, length: int, final: bool) -> int | None:
        """Start of a valid frame beginning inside [pos, pos+length) and ending after it;
        -1 when such a candidate is still incomplete (and more bytes may come)."""
        buf = self._buf
        fmt = self._fmt
        n = len(buf)
        end = pos + length
        q = buf.find(fmt.header, pos + 1, end)
        while q >= 0:
            if n - q < fmt.length_bytes:
                if not final:
                    return -1
            else:
                ql = fmt.frame_length(buf, q)
                if q + ql > end:
                    if n - q < ql:
                        if not final:
                            return -1
                    elif fmt.is_valid(bytes(buf[q : q + ql])):
                        return q
            q = buf.find(fmt.header, q + 1, end)
        return None

    def _skip(self, start: int, end: int, out: ScanResult) -> None:
        self.bytes_skipped += end - start
        continuing = self._garbage_open and start == 0
        quarantined = self._base + end <= self._quarantine_end
        if not continuing and not quarantined:
            out.errors.append(InputError(InputErrorReason.GARBAGE, f"{end - start} byte(s) skipped"))
        self._garbage_open = end == len(self._buf) and (continuing or not quarantined)

    def _cut_short(self, pos: int, span_end: int, out: ScanResult) -> None:
        abs_pos = self._base + pos
        if abs_pos >= self._quarantine_end:
            out.errors.append(InputError(InputErrorReason.TRUNCATED, "stream ended inside a frame"))
            self._quarantine_end = self._base + span_end
        self.bytes_skipped += 1

    def _reject(self, pos: int, length: int, out: ScanResult, final: bool) -> bool:
        """Count a failed candidate as TRUNCATED or BAD_CRC; False: wait for more bytes."""
        buf = self._buf
        fmt = self._fmt
        n = len(buf)
        if self._base + pos < self._quarantine_end:
            self.bytes_skipped += 1
            return True  # a header byte inside a frame already reported
        end = pos + length
        q = buf.find(fmt.header, pos + 1, end)
        while q >= 0:
            if n - q < fmt.length_bytes:
                if not final:
                    return False
            else:
                ql = fmt.frame_length(buf, q)
                if n - q < ql:
                    if not final:
                        return False
                elif fmt.is_valid(bytes(buf[q : q + ql])):
                    out.errors.append(
                        InputError(InputErrorReason.TRUNCATED, f"frame cut after {q - pos} byte(s)")
                    )
                    self._quarantine_end = self._base + q
                    self.bytes_skipped += 1
                    return True
            q = buf.find(fmt.header, q + 1, end)
        out.errors.append(InputError(InputErrorReason.BAD_CRC, f"{length}-byte frame fails its check"))
        self._quarantine_end = self._base + end
        self.bytes_skipped += 1
        return True


class ReadColumns:
    """Column lists filled frame by frame, turned into one ReadBatch per feed."""

    __slots__ = ("antenna", "epc", "frequency_khz", "phase", "read_count", "rssi_dbm", "time_ns")

    def __init__(self) -> None:
        self.time_ns: list[int] = []
        self.antenna: list[int] = []
        self.epc: list[bytes] = []
        self.rssi_dbm: list[float] = []
        self.phase: list[float] = []
        self.frequency_khz: list[int] = []
        self.read_count: list[int] = []

    def __len__(self) -> int:
        return len(self.time_ns)

    def add(
        self,
        time_ns: int,
        antenna: int,
        epc: bytes,
        rssi_dbm: float,
        phase: float = float("nan"),
        frequency_khz: int = -1,
        read_count: int = 1,
    ) -> None:
        self.time_ns.append(time_ns)
        self.antenna.append(antenna)
        self.epc.append(epc)
        self.rssi_dbm.append(rssi_dbm)
        self.phase.append(phase)
        self.frequency_khz.append(frequency_khz)
        self.read_count.append(read_count)

    def to_batch(
        self,
        reader: str,
        census_zone: str | None = None,
        with_phase: bool = False,
        with_frequency: bool = False,
        with_read_count: bool = False,
    ) -> ReadBatch:
        """`with_read_count`: keep the column (else every read counts 1); callers have checked
        every count is >= 1."""
        return ReadBatch.from_columns(
            reader, self.time_ns, self.antenna, self.epc, self.rssi_dbm, None,
            self.phase if with_phase else None,
            self.frequency_khz if with_frequency else None,
            census_zone,
            self.read_count if with_read_count else None,
        )


R = TypeVar("R")


class StreamDecoder(Generic[R]):
    """The streaming half every framed decoder shares: feed, finish, pending bytes and the queue of
    replies that are not tag data. Subclasses provide `_decode(data, arrival_ns, final)`."""

    _scanner: FrameScanner
    responses: list[R]

    def _decode(self, data: bytes, arrival_ns: int | None, final: bool) -> DecodeResult:
        raise NotImplementedError

    def feed(self, data: bytes, arrival_ns: int | None = None) -> DecodeResult:
        return self._decode(data, arrival_ns, final=False)

    @property
    def pending(self) -> int:
        """Bytes held back waiting for the rest of a frame."""
        return self._scanner.pending

    def finish(self, arrival_ns: int | None = None) -> DecodeResult:
        """End of stream (port closed, capture end): a partial frame left is TRUNCATED."""
        return self._decode(b"", arrival_ns, final=True)

    def take_responses(self) -> list[R]:
        out, self.responses = self.responses, []
        return out
