"""Reads/s of the Mercury serial parser on one core, beside a naive byte-by-byte baseline.

The stream is pre-encoded continuous-mode `22` frames (metadata 0x01FF, one 96-bit EPC each) so
that only parsing is measured. The baseline is what a first attempt looks like: a byte-at-a-time
state machine, the CRC computed nibble by nibble as the reference defines it, and one `Read`
object per tag.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from readers.batch import Read
from readers.formats import mercury


def encoded_stream(frames: int = 20_000, seed: int = 1) -> bytes:
    rng = random.Random(seed)
    out = bytearray()
    for _ in range(frames):
        rec = mercury.TagRecord(
            epc=bytes.fromhex("3034") + rng.randbytes(10),
            rssi_dbm=rng.randint(-80, -40),
            antenna_byte=rng.choice([0x11, 0x22]),
            frequency_khz=902_750 + 500 * rng.randrange(50),
            timestamp_ms=rng.randrange(1000),
        )
        out += mercury.encode_stream_tag_frame([rec], 0x01FF)
    return bytes(out)




def naive_parse(data: bytes, reader: str, now_ns: int) -> list[Read]:
    """Byte by byte: wait for FF, collect LEN + 7 bytes, check the CRC, build a Read."""
    reads: list[Read] = []
    frame = bytearray()
    need = 0
    for byte in data:
        if not frame:
            if byte == 0xFF:
                frame.append(byte)
            continue
        frame.append(byte)
        if len(frame) == 2:
            need = byte + 7
        if len(frame) < 3 or len(frame) < need:
            continue
        body = bytes(frame[1:-2])
        crc = (frame[-2] << 8) | frame[-1]
        if mercury.crc16_by_nibbles(body) == crc and frame[2] == 0x22 and need > 15:
            meta = (frame[8] << 8) | frame[9]
            records, _ = mercury.parse_tag_records(bytes(frame), 11, frame[10], meta)
            for rec in records:
                reads.append(
                    Read(now_ns, reader, rec.antenna, rec.epc, float(rec.rssi_dbm), -1,
                         float(rec.phase), rec.frequency_khz)
                )
        frame.clear()
    return reads


def _rate(fn: Callable[[], int], seconds: float) -> tuple[float, int]:
    reads = 0
    start = time.perf_counter()
    elapsed = 0.0
    while elapsed < seconds or reads == 0:
        reads += fn()
        elapsed = time.perf_counter() - start
    return reads / elapsed, reads


def bench_mercury(seconds: float = 3.0, frames: int = 20_000, chunk: int = 4096) -> dict[str, Any]:
    """Reads/s of `MercuryDecoder` (chunked feeds) and of the naive baseline, same stream."""
    data = encoded_stream(frames)
    now = time.time_ns()

    def ours() -> int:
        decoder = mercury.MercuryDecoder("bench")
        n = 0
        for i in range(0, len(data), chunk):
            for batch in decoder.feed(data[i : i + chunk], now).batches:
                n += len(batch)
        return n

    def naive() -> int:
        return len(naive_parse(data, "bench", now))

    assert ours() == frames == naive()
    half = max(seconds / 2, 0.1)
    ours_rate, ours_reads = _rate(ours, half)
    naive_rate, naive_reads = _rate(naive, half)
    return {
        "parser": "mercury",
        "stream": {"frames": frames, "bytes": len(data), "metadata_flags": "01FF", "chunk": chunk},
        "reads_per_s": round(ours_rate),
        "baseline_naive_reads_per_s": round(naive_rate),
        "speedup": round(ours_rate / naive_rate, 2),
        "reads_measured": {"ours": ours_reads, "baseline": naive_reads},
        "note": "one core; baseline = byte-by-byte state machine, nibble CRC, one Read per tag",
    }


def run(seconds: float = 3.0) -> dict[str, Any]:
    return bench_mercury(seconds)
