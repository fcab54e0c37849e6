"""Read summaries per reporting cycle per (reader, antenna, EPC) (DESIGN §2, §5 `tag_reads`).

A summary row says: in the cycle starting at `cycle_start_ns`, reader R's antenna A read EPC E
`count` times, first at `first_ns`, last at `last_ns`, with peak RSSI `peak_rssi`. `count` sums
the devices' read counts (a Zebra report with `reads` 5 is five reads, readers.md §1), not the
reports. A cycle of 0 s passes every report through as its own row. The sum of `count` always
equals the reads in (`ReadBatch.read_total`).

`summarise` is pure and vectorised (lexsort + reduceat over (cycle, antenna, epc-id));
`SummaryAccumulator` buffers batches and emits cycles once they are complete.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from readers.batch import ReadBatch

log = logging.getLogger(__name__)

NS = 1_000_000_000


@dataclass(frozen=True, slots=True)
class SummaryRow:
    """One row of `tag_reads`; key (store, reader, cycle_start_ns, antenna, epc)."""

    cycle_start_ns: int
    reader: str
    antenna: int
    epc: bytes
    first_ns: int
    last_ns: int
    count: int
    peak_rssi: float


@dataclass(frozen=True, slots=True, eq=False)
class Summaries:
    """Summary rows column by column (peak_rssi is NaN when no read of the row had an RSSI)."""

    cycle_start_ns: npt.NDArray[np.int64]
    reader: npt.NDArray[np.object_]
    antenna: npt.NDArray[np.int16]
    epc: npt.NDArray[np.object_]
    first_ns: npt.NDArray[np.int64]
    last_ns: npt.NDArray[np.int64]
    count: npt.NDArray[np.int64]
    peak_rssi: npt.NDArray[np.float32]

    def __len__(self) -> int:
        return int(self.count.shape[0])

    @property
    def total_reads(self) -> int:
        """Reads summarised by these rows (the sum of `count`)."""
        return int(self.count.sum())

    @classmethod
    def empty(cls) -> Summaries:
        return cls(
            cycle_start_ns=np.empty(0, np.int64),
            reader=np.empty(0, object),
            antenna=np.empty(0, np.int16),
            epc=np.empty(0, object),
            first_ns=np.empty(0, np.int64),
            last_ns=np.empty(0, np.int64),
            count=np.empty(0, np.int64),
            peak_rssi=np.empty(0, np.float32),
        )

    def rows(self) -> Iterator[SummaryRow]:
        for i in range(len(self)):
            yield SummaryRow(
                cycle_start_ns=int(self.cycle_start_ns[i]),
                reader=str(self.reader[i]),
                antenna=int(self.antenna[i]),
                epc=bytes(self.epc[i]),
                first_ns=int(self.first_ns[i]),
                last_ns=int(self.last_ns[i]),
                count=int(self.count[i]),
                peak_rssi=float(self.peak_rssi[i]),
            )


def concat_summaries(parts: Sequence[Summaries]) -> Summaries:
    """Join summaries (of any readers) into one columnar set."""
    parts = [p for p in parts if len(p)]
    if not parts:
        return Summaries.empty()
    if len(parts) == 1:
        return parts[0]
    return Summaries(
        cycle_start_ns=np.concatenate([p.cycle_start_ns for p in parts]),
        reader=np.concatenate([p.reader for p in parts]),
        antenna=np.concatenate([p.antenna for p in parts]),
        epc=np.concatenate([p.epc for p in parts]),
        first_ns=np.concatenate([p.first_ns for p in parts]),
        last_ns=np.concatenate([p.last_ns for p in parts]),
        count=np.concatenate([p.count for p in parts]),
        peak_rssi=np.concatenate([p.peak_rssi for p in parts]),
    )


def _cycle_ns(cycle_s: float) -> int:
    if not cycle_s >= 0 or not np.isfinite(cycle_s):
        raise ValueError(f"cycle_s must be >= 0 and finite, got {cycle_s!r}")
    return round(cycle_s * NS)


def _epc_ids(epc: npt.NDArray[np.object_]) -> npt.NDArray[np.int64]:
    """Dense ids of the EPCs of one batch (first occurrence order)."""
    ids: dict[Any, int] = {}
    setdefault = ids.setdefault
    return np.fromiter((setdefault(e, len(ids)) for e in epc), dtype=np.int64, count=len(epc))


def _summarise_columns(
    reader: str,
    cycle: npt.NDArray[np.int64],
    cycle_ns: int,
    time_ns: npt.NDArray[np.int64],
    antenna: npt.NDArray[np.int16],
    epc: npt.NDArray[np.object_],
    rssi: npt.NDArray[np.float32],
    read_count: npt.NDArray[np.int32] | None = None,
) -> Summaries:
    """`read_count`: the reads each report stands for (None: one each)."""
    n = int(time_ns.shape[0])
    if n == 0:
        return Summaries.empty()
    if cycle_ns == 0:
        return Summaries(
            cycle_start_ns=time_ns.copy(),
            reader=np.full(n, reader, dtype=object),
            antenna=antenna.astype(np.int16, copy=True),
            epc=epc.copy(),
            first_ns=time_ns.copy(),
            last_ns=time_ns.copy(),
            count=np.ones(n, np.int64) if read_count is None else read_count.astype(np.int64),
            peak_rssi=rssi.astype(np.float32, copy=True),
        )
    eid = _epc_ids(epc)
    order = np.lexsort((eid, antenna, cycle))
    c, a, e = cycle[order], antenna[order], eid[order]
    new = np.empty(n, dtype=bool)
    new[0] = True
    new[1:] = (c[1:] != c[:-1]) | (a[1:] != a[:-1]) | (e[1:] != e[:-1])
    starts = np.flatnonzero(new)
    t = time_ns[order]
    r = rssi[order].astype(np.float32)
    if read_count is None:
        counts = np.diff(np.append(starts, n)).astype(np.int64)
    else:
        counts = np.add.reduceat(read_count[order].astype(np.int64), starts)
    return Summaries(
        cycle_start_ns=c[starts] * np.int64(cycle_ns),
        reader=np.full(starts.shape[0], reader, dtype=object),
        antenna=a[starts].astype(np.int16),
        epc=epc[order][starts],
        first_ns=np.minimum.reduceat(t, starts),
        last_ns=np.maximum.reduceat(t, starts),
        count=counts,
        # fmax ignores NaN unless every value of the group is NaN.
        peak_rssi=np.fmax.reduceat(r, starts).astype(np.float32),
    )


def summarise(batch: ReadBatch, cycle_s: float) -> Summaries:
    """Summaries of one batch per cycle of `cycle_s` seconds (0: every read is its own row)."""
    cycle_ns = _cycle_ns(cycle_s)
    cycle = (
        batch.time_ns // np.int64(cycle_ns) if cycle_ns else np.zeros(len(batch), np.int64)
    )
    return _summarise_columns(
        batch.reader, cycle, cycle_ns, batch.time_ns, batch.antenna, batch.epc, batch.rssi_dbm,
        batch.read_count,
    )


@dataclass
class _Pending:
    cycle: list[npt.NDArray[np.int64]]
    time_ns: list[npt.NDArray[np.int64]]
    antenna: list[npt.NDArray[np.int16]]
    epc: list[npt.NDArray[np.object_]]
    rssi: list[npt.NDArray[np.float32]]
    count: list[npt.NDArray[np.int32] | None]  # read_count per batch (None: one read a report)
    low: int  # the lowest cycle pending: a flush below it has nothing to do for this reader


def _counts(parts: list[npt.NDArray[np.int32] | None], sizes: list[int]) -> npt.NDArray[np.int32] | None:
    """The pending batches' read counts joined (None when no batch carried any)."""
    if all(c is None for c in parts):
        return None
    return np.concatenate(
        [np.ones(k, np.int32) if c is None else c for c, k in zip(parts, sizes, strict=True)]
    )


class SummaryAccumulator:
    """Accumulates batches and emits complete cycles on `flush(now_ns)`.

    A cycle [s, s + cycle) is complete once `now_ns >= s + cycle + lateness`. A read that
    arrives after its cycle was emitted is carried into the oldest cycle not yet emitted (its
    first/last times stay the true read times) and counted in `late_reads`, so keys stay unique
    and no read is lost: `reads_in == reads_out + pending_reads` at all times.
    With `cycle_s == 0` every read passes through as its own row at the next flush.
    """

    def __init__(self, cycle_s: float, lateness_s: float = 0.5) -> None:
        self.cycle_ns = _cycle_ns(cycle_s)
        if not lateness_s >= 0:
            raise ValueError(f"lateness_s must be >= 0, got {lateness_s!r}")
        self.lateness_ns = round(lateness_s * NS)
        self._pending: dict[str, _Pending] = {}
        self._open_from: int | None = None  # first cycle index not yet emitted
        self.reads_in = 0
        self.reads_out = 0
        self.late_reads = 0

    @property
    def pending_reads(self) -> int:
        return self.reads_in - self.reads_out

    def add(self, batch: ReadBatch) -> None:
        n = len(batch)
        if n == 0:
            return
        if self.cycle_ns:
            cycle = batch.time_ns // np.int64(self.cycle_ns)
            if self._open_from is not None:
                late = cycle < self._open_from
                nlate = int(late.sum())
                if nlate:
                    self.late_reads += nlate
                    log.debug("%d late reads of %s carried into the open cycle", nlate, batch.reader)
                    cycle = np.where(late, np.int64(self._open_from), cycle)
        else:
            cycle = np.zeros(n, np.int64)
        low = int(cycle.min())
        p = self._pending.get(batch.reader)
        if p is None:
            p = self._pending[batch.reader] = _Pending([], [], [], [], [], [], low)
        p.low = min(p.low, low)
        p.cycle.append(cycle)
        p.time_ns.append(batch.time_ns)
        p.antenna.append(batch.antenna)
        p.epc.append(batch.epc)
        p.rssi.append(batch.rssi_dbm)
        p.count.append(batch.read_count)
        self.reads_in += batch.read_total

    def flush(self, now_ns: int, force: bool = False) -> Summaries:
        """Summaries of every complete cycle (all pending cycles when `force`)."""
        limit = 0
        if self.cycle_ns:
            # cycles with index < limit are complete
            limit = (now_ns - self.lateness_ns) // self.cycle_ns
            if self._open_from is None or limit > self._open_from:
                self._open_from = limit
        if force and self.cycle_ns and self._pending:
            top = max(int(c.max()) for p in self._pending.values() for c in p.cycle) + 1
            if self._open_from is None or top > self._open_from:
                self._open_from = top
        out: list[Summaries] = []
        for reader in list(self._pending):
            p = self._pending[reader]
            if not force and self.cycle_ns and p.low >= limit:
                continue  # every pending cycle still open: no copy of what is pending
            cycle = np.concatenate(p.cycle)
            time_ns = np.concatenate(p.time_ns)
            antenna = np.concatenate(p.antenna)
            epc = np.concatenate(p.epc)
            rssi = np.concatenate(p.rssi)
            count = _counts(p.count, [t.shape[0] for t in p.time_ns])
            if force or not self.cycle_ns:
                done = np.ones(cycle.shape[0], dtype=bool)
            else:
                done = cycle < np.int64(limit)
            if not done.any():
                self._pending[reader] = _Pending(
                    [cycle], [time_ns], [antenna], [epc], [rssi], [count], int(cycle.min())
                )
                continue
            s = _summarise_columns(
                reader, cycle[done], self.cycle_ns, time_ns[done], antenna[done], epc[done], rssi[done],
                None if count is None else count[done],
            )
            out.append(s)
            self.reads_out += s.total_reads
            keep = ~done
            if keep.any():
                rest = cycle[keep]
                self._pending[reader] = _Pending(
                    [rest], [time_ns[keep]], [antenna[keep]], [epc[keep]], [rssi[keep]],
                    [None if count is None else count[keep]], int(rest.min()),
                )
            else:
                del self._pending[reader]
        return concat_summaries(out)
