"""Batched Zebra JSON decoding into ReadBatch vs a naive json.loads + object-per-read baseline.

`bench_zebra(seconds)` builds realistic batched IoT Connector payloads (arrays of CUSTOM-mode
events with antenna, RSSI, channel, phase, reads), then, on the same payloads in the same run,
decodes them repeatedly (a) with `readers.drivers.zebra` (msgspec typed decode, numpy
columns, duplicate tracking) and (b) with `json.loads` building one Python object per read.
Reports reads/s of each on one core.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from readers.batch import Read
from readers.config import ReaderConfig
from readers.drivers.zebra import ZebraIotcDriver
from readers.formats._json import clear_timestamp_cache
from readers.formats.zebra import encode_zebra_events


@dataclass(frozen=True, slots=True)
class _NaiveRead:
    time_ns: int
    reader: str
    antenna: int
    epc: bytes
    rssi_dbm: float
    seq: int
    phase: float | None
    frequency_khz: int | None


def _payloads(messages: int, per_message: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    epcs = [rng.randbytes(12) for _ in range(2000)]
    t = 1_774_682_413_028_000_000
    seq = 1
    out = []
    for _ in range(messages):
        reads = []
        for _ in range(per_message):
            t += rng.randrange(0, 3) * 1_000_000
            reads.append(Read(
                t, "fx1", rng.randrange(1, 5), rng.choice(epcs), float(rng.randrange(-80, -30)),
                seq=seq, phase=rng.uniform(-180, 180), frequency_khz=rng.choice([865700, 866300]),
            ))
            seq += 1
        out.append(encode_zebra_events(reads, array=True))
    return out


def _naive(payload: bytes, reader: str) -> list[_NaiveRead]:
    doc: Any = json.loads(payload)
    events = doc if isinstance(doc, list) else [doc]
    out = []
    for ev in events:
        d = ev["data"]
        ts = datetime.strptime(ev["timestamp"], "%Y-%m-%dT%H:%M:%S.%f%z")
        ch = d.get("channel")
        out.append(_NaiveRead(
            int(ts.timestamp()) * 1_000_000_000 + ts.microsecond * 1000, reader,
            d.get("antenna", 0), bytes.fromhex(d["idHex"]), float(d.get("peakRssi", "nan")),
            d.get("eventNum", -1), d.get("phase"), None if ch is None else round(ch * 1000),
        ))
    return out


def _time(fn: Any, payloads: list[bytes], seconds: float) -> tuple[int, float]:
    reads = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for p in payloads:
            reads += fn(p)
        now = time.perf_counter()
        if now >= deadline:
            return reads, now - start


def bench_zebra(seconds: float = 5.0, per_message: int = 200, seed: int = 1) -> dict[str, Any]:
    """reads/s of batched Zebra decoding into ReadBatch beside the naive baseline (one core).

    Each pass over the payloads uses a fresh driver and cold timestamp caches, so every read
    is new to the duplicate tracker (deduplication on, as the gateway runs it).
    """
    payloads = _payloads(messages=50, per_message=per_message, seed=seed)
    total = sum(per_message for _ in payloads)
    state: dict[str, ZebraIotcDriver] = {}

    def fast(p: bytes) -> int:
        if p is payloads[0]:  # each pass: every read new, timestamp caches cold
            clear_timestamp_cache()
            state["d"] = ZebraIotcDriver(ReaderConfig(id="fx1", driver="zebra_iotc"))
        res = state["d"].decode("zebra/fx1/data", p, 0)
        assert not res.errors and not res.duplicates
        return sum(len(b) for b in res.batches)

    def naive(p: bytes) -> int:
        return len(_naive(p, "fx1"))

    half = max(seconds / 2, 0.05)
    fast_reads, fast_s = _time(fast, payloads, half)
    naive_reads, naive_s = _time(naive, payloads, half)
    fast_rate = fast_reads / fast_s
    naive_rate = naive_reads / naive_s
    return {
        "bench": "parsers_json.zebra",
        "payloads": len(payloads),
        "reads_per_payload": per_message,
        "bytes_per_read": round(sum(map(len, payloads)) / total, 1),
        "shelfsight_reads_per_s": round(fast_rate),
        "naive_reads_per_s": round(naive_rate),
        "speedup": round(fast_rate / naive_rate, 2),
        "us_per_read": round(1e6 / fast_rate, 3),
        "target_reads_per_s": 500_000,
        "seconds": round(fast_s + naive_s, 2),
    }
