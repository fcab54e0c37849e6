"""The normalised read (DESIGN §3), carried in columnar batches on hot paths."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

NO_SEQ = -1  # the device keeps no event counter
MAX_READ_COUNT = 2**31 - 1  # read_count is an int32 column


@dataclass(frozen=True, slots=True)
class Read:
    """One read, for the edges (JSON output, tests). Hot paths use ReadBatch."""

    time_ns: int
    reader: str
    antenna: int
    epc: bytes
    rssi_dbm: float
    seq: int = NO_SEQ
    phase: float | None = None
    frequency_khz: int | None = None
    read_count: int = 1  # reads the device folded into this report (Zebra reads, Mercury readCount)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "time": self.time_ns / 1e9,
            "reader": self.reader,
            "antenna": self.antenna,
            "epc": self.epc.hex().upper(),
            "rssi_dbm": None if np.isnan(self.rssi_dbm) else round(self.rssi_dbm, 2),
            "seq": None if self.seq == NO_SEQ else self.seq,
            "read_count": self.read_count,
        }
        if self.phase is not None:
            out["phase"] = self.phase
        if self.frequency_khz is not None:
            out["frequency_khz"] = self.frequency_khz
        return out


@dataclass(frozen=True, slots=True, eq=False)
class ReadBatch:
    """Reads of one reader, column by column.

    time_ns: int64 UTC nanoseconds (device clock when it has one, else arrival);
    antenna: int16; epc: object array of bytes; rssi_dbm: float32 (NaN when unknown);
    seq: int64 device event counter or NO_SEQ; phase: float32 degrees or None;
    frequency_khz: int32 or None; read_count: int32 >= 1, the reads the device folded into each
    report, or None when every report stands for one read. `census_zone` marks a handheld cycle
    count: the batch is a complete census of that zone (items of the zone not in it were not found).
    """

    reader: str
    time_ns: npt.NDArray[np.int64]
    antenna: npt.NDArray[np.int16]
    epc: npt.NDArray[np.object_]
    rssi_dbm: npt.NDArray[np.float32]
    seq: npt.NDArray[np.int64]
    phase: npt.NDArray[np.float32] | None = None
    frequency_khz: npt.NDArray[np.int32] | None = None
    census_zone: str | None = None
    read_count: npt.NDArray[np.int32] | None = None

    def __len__(self) -> int:
        return int(self.time_ns.shape[0])

    @property
    def read_total(self) -> int:
        """The device reads these reports stand for (the sum of `read_count`, else their number)."""
        if self.read_count is None:
            return int(self.time_ns.shape[0])
        return int(self.read_count.sum(dtype=np.int64))

    @classmethod
    def from_columns(
        cls,
        reader: str,
        time_ns: Sequence[int] | npt.NDArray[Any],
        antenna: Sequence[int] | npt.NDArray[Any],
        epc: Sequence[bytes],
        rssi_dbm: Sequence[float] | npt.NDArray[Any],
        seq: Sequence[int] | npt.NDArray[Any] | None = None,
        phase: Sequence[float] | npt.NDArray[Any] | None = None,
        frequency_khz: Sequence[int] | npt.NDArray[Any] | None = None,
        census_zone: str | None = None,
        read_count: Sequence[int] | npt.NDArray[Any] | None = None,
    ) -> ReadBatch:
        """Raises ValueError for a read_count below 1 or above MAX_READ_COUNT (parsers turn
        such device values into counted InputErrors before they get here)."""
        n = len(time_ns)
        epcs = np.empty(n, dtype=object)
        epcs[:] = list(epc)
        counts = None
        if read_count is not None:
            wide = np.asarray(read_count, dtype=np.int64)
            if wide.shape[0] and not bool(((wide >= 1) & (wide <= MAX_READ_COUNT)).all()):
                raise ValueError("read_count must be between 1 and 2**31 - 1")
            counts = wide.astype(np.int32)
        return cls(
            reader=reader,
            time_ns=np.asarray(time_ns, dtype=np.int64),
            antenna=np.asarray(antenna, dtype=np.int16),
            epc=epcs,
            rssi_dbm=np.asarray(rssi_dbm, dtype=np.float32),
            seq=np.full(n, NO_SEQ, dtype=np.int64) if seq is None else np.asarray(seq, np.int64),
            phase=None if phase is None else np.asarray(phase, dtype=np.float32),
            frequency_khz=None
            if frequency_khz is None
            else np.asarray(frequency_khz, dtype=np.int32),
            census_zone=census_zone,
            read_count=counts,
        )

    @classmethod
    def from_reads(cls, reader: str, reads: Sequence[Read], census_zone: str | None = None) -> ReadBatch:
        has_phase = any(r.phase is not None for r in reads)
        has_freq = any(r.frequency_khz is not None for r in reads)
        has_count = any(r.read_count != 1 for r in reads)
        return cls.from_columns(
            reader,
            [r.time_ns for r in reads],
            [r.antenna for r in reads],
            [r.epc for r in reads],
            [r.rssi_dbm for r in reads],
            [r.seq for r in reads],
            [np.nan if r.phase is None else r.phase for r in reads] if has_phase else None,
            [-1 if r.frequency_khz is None else r.frequency_khz for r in reads] if has_freq else None,
            census_zone,
            [r.read_count for r in reads] if has_count else None,
        )

    @classmethod
    def empty(cls, reader: str, census_zone: str | None = None) -> ReadBatch:
        return cls.from_columns(reader, [], [], [], [], census_zone=census_zone)

    def take(self, mask_or_index: npt.NDArray[Any]) -> ReadBatch:
        """The reads selected by a boolean mask or an index array, same reader."""
        return ReadBatch(
            reader=self.reader,
            time_ns=self.time_ns[mask_or_index],
            antenna=self.antenna[mask_or_index],
            epc=self.epc[mask_or_index],
            rssi_dbm=self.rssi_dbm[mask_or_index],
            seq=self.seq[mask_or_index],
            phase=None if self.phase is None else self.phase[mask_or_index],
            frequency_khz=None if self.frequency_khz is None else self.frequency_khz[mask_or_index],
            census_zone=self.census_zone,
            read_count=None if self.read_count is None else self.read_count[mask_or_index],
        )

    def reads(self) -> Iterator[Read]:
        for i in range(len(self)):
            freq = None if self.frequency_khz is None else int(self.frequency_khz[i])
            ph = None if self.phase is None else float(self.phase[i])
            count = 1 if self.read_count is None else int(self.read_count[i])
            yield Read(
                time_ns=int(self.time_ns[i]),
                reader=self.reader,
                antenna=int(self.antenna[i]),
                epc=bytes(self.epc[i]),
                rssi_dbm=float(self.rssi_dbm[i]),
                seq=int(self.seq[i]),
                phase=None if ph is None or np.isnan(ph) else ph,
                frequency_khz=None if freq is None or freq < 0 else freq,
                read_count=count,
            )


def concat(batches: Sequence[ReadBatch]) -> ReadBatch:
    """Join batches of the same reader (census batches are never joined)."""
    if not batches:
        raise ValueError("concat of no batches")
    reader = batches[0].reader
    if any(b.reader != reader or b.census_zone is not None for b in batches):
        raise ValueError("concat joins plain batches of one reader only")
    if len(batches) == 1:
        return batches[0]

    def opt(col: str, dtype: type, fill: float) -> npt.NDArray[Any] | None:
        cols = [getattr(b, col) for b in batches]
        if all(c is None for c in cols):
            return None
        return np.concatenate(
            [c if c is not None else np.full(len(b), fill, dtype) for c, b in zip(cols, batches, strict=True)]
        )

    return ReadBatch(
        reader=reader,
        time_ns=np.concatenate([b.time_ns for b in batches]),
        antenna=np.concatenate([b.antenna for b in batches]),
        epc=np.concatenate([b.epc for b in batches]),
        rssi_dbm=np.concatenate([b.rssi_dbm for b in batches]),
        seq=np.concatenate([b.seq for b in batches]),
        phase=opt("phase", np.float32, np.nan),
        frequency_khz=opt("frequency_khz", np.int32, -1),
        read_count=opt("read_count", np.int32, 1),
    )
