"""Duplicate and gap tracking on device event counters, per reader, in bounded memory.

A Zebra reader numbers its tag events (`eventNum`). The tracker keeps, per reader, the set of
counters seen as sorted disjoint intervals: an in-order stream is one interval, each hole
(gap) adds one. So:

* `seq` above the highest seen -> new; the skipped counters are a gap (counted once);
* `seq` inside a hole -> new (a late or replayed event filling the gap: retention replays
  after an outage carry their old timestamps and are event-time data, not duplicates);
* `seq` inside a seen interval -> duplicate (QoS 1 redelivery, replay of delivered events);
* `seq` at or below the highest seen, but with an event time newer than the newest event by
  more than `reset_after_ns` -> the counter was reset (reboot): a new epoch starts. A genuine
  old event cannot be newer than the event that already had a higher counter.

Memory: at most `max_intervals` intervals per reader; beyond, the lowest are forgotten and a
counter below what is remembered is accepted (and counted as `unknown`): a rare duplicate is
preferred to a silent loss (the store's idempotency keys catch it later).

`RecentKeys` is the fallback for devices without counters: a bounded set of recent keys such
as (epc, antenna, time_ns).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Hashable
from dataclasses import dataclass, field
from enum import Enum

import numpy as np
import numpy.typing as npt

__all__ = ["RecentKeys", "SeqStats", "SeqTracker", "SeqVerdict", "Verdict"]


class Verdict(Enum):
    NEW = "new"
    FILL = "fill"  # filled a known gap (late / replayed event)
    DUPLICATE = "duplicate"
    RESET = "reset"  # counter reset: new epoch, event accepted
    UNKNOWN = "unknown"  # below the remembered range: accepted
    NO_SEQ = "no_seq"  # no counter: accepted


@dataclass
class SeqStats:
    """Running counts of one reader."""

    accepted: int = 0
    duplicates: int = 0
    gaps: int = 0  # counters skipped when the stream jumped ahead
    filled: int = 0  # of those, counters that arrived later
    resets: int = 0
    unknown: int = 0

    @property
    def missing(self) -> int:
        """Counters skipped and not (yet) seen."""
        return self.gaps - self.filled


@dataclass(frozen=True)
class SeqVerdict:
    """What `observe` decided for a batch: which rows to keep, and the counts."""

    keep: npt.NDArray[np.bool_]
    duplicates: int
    gaps: int
    filled: int
    resets: int


@dataclass
class _Epoch:
    starts: list[int]
    ends: list[int]  # inclusive; intervals sorted, disjoint, never adjacent
    high_time_ns: int
    floor: int = -1  # counters below are forgotten
    stats: SeqStats = field(default_factory=SeqStats)


class SeqTracker:
    """Per-reader (reader, seq) duplicate/gap tracker; not thread-safe (one per driver)."""

    def __init__(self, max_intervals: int = 1024, reset_after_ns: int = 2_000_000_000) -> None:
        if max_intervals < 2:
            raise ValueError("max_intervals must be >= 2")
        self.max_intervals = max_intervals
        self.reset_after_ns = reset_after_ns
        self._epochs: dict[str, _Epoch] = {}

    def stats(self, reader: str) -> SeqStats:
        epoch = self._epochs.get(reader)
        return SeqStats() if epoch is None else epoch.stats

    def intervals(self, reader: str) -> int:
        epoch = self._epochs.get(reader)
        return 0 if epoch is None else len(epoch.starts)

    def observe_one(self, reader: str, seq: int, time_ns: int) -> tuple[Verdict, int]:
        """Classify one event; returns the verdict and the number of counters it skipped."""
        if seq < 0:
            return Verdict.NO_SEQ, 0
        e = self._epochs.get(reader)
        if e is None:
            self._epochs[reader] = e = _Epoch([seq], [seq], time_ns)
            e.stats.accepted += 1
            return Verdict.NEW, 0
        starts, ends, st = e.starts, e.ends, e.stats
        high = ends[-1]
        if seq > high:
            gap = seq - high - 1
            if gap == 0:
                ends[-1] = seq
            else:
                starts.append(seq)
                ends.append(seq)
                st.gaps += gap
                if len(starts) > self.max_intervals:
                    del starts[0], ends[0]
                    e.floor = starts[0]
            e.high_time_ns = time_ns
            st.accepted += 1
            return Verdict.NEW, gap
        if time_ns > e.high_time_ns + self.reset_after_ns:
            e.starts, e.ends, e.high_time_ns, e.floor = [seq], [seq], time_ns, -1
            st.resets += 1
            st.accepted += 1
            return Verdict.RESET, 0
        if seq < e.floor:
            st.unknown += 1
            st.accepted += 1
            return Verdict.UNKNOWN, 0
        i = bisect_right(starts, seq) - 1
        if i < 0:  # below everything seen (an older message delivered late): a new low end
            gap = starts[0] - seq - 1
            if gap == 0:
                starts[0] = seq
            else:
                starts.insert(0, seq)
                ends.insert(0, seq)
                st.gaps += gap
                if len(starts) > self.max_intervals:
                    del starts[0], ends[0]
                    e.floor = starts[0]
            st.accepted += 1
            return Verdict.NEW, gap
        if seq <= ends[i]:
            st.duplicates += 1
            return Verdict.DUPLICATE, 0
        left = ends[i] == seq - 1
        right = i + 1 < len(starts) and starts[i + 1] == seq + 1
        if left and right:
            ends[i] = ends[i + 1]
            del starts[i + 1], ends[i + 1]
        elif left:
            ends[i] = seq
        elif right:
            starts[i + 1] = seq
        else:
            starts.insert(i + 1, seq)
            ends.insert(i + 1, seq)
            if len(starts) > self.max_intervals:
                del starts[0], ends[0]
                e.floor = starts[0]
        st.filled += 1
        st.accepted += 1
        return Verdict.FILL, 0

    def observe(
        self, reader: str, seq: npt.NDArray[np.int64], time_ns: npt.NDArray[np.int64]
    ) -> SeqVerdict:
        """Classify a batch in order; rows without a counter (seq < 0) are always kept."""
        n = int(seq.shape[0])
        e = self._epochs.get(reader)
        if n and e is not None and int(seq[0]) == e.ends[-1] + 1 and (
            n == 1 or bool(np.all(np.diff(seq) == 1))
        ):  # the common case: the stream continues in order
            e.ends[-1] = int(seq[-1])
            e.high_time_ns = int(time_ns[-1])
            e.stats.accepted += n
            return SeqVerdict(np.ones(n, dtype=np.bool_), 0, 0, 0, 0)
        keep = np.ones(n, dtype=np.bool_)
        dup = gaps = filled = resets = 0
        for i, (s, t) in enumerate(zip(seq.tolist(), time_ns.tolist(), strict=True)):
            verdict, gap = self.observe_one(reader, s, t)
            gaps += gap
            if verdict is Verdict.DUPLICATE:
                keep[i] = False
                dup += 1
            elif verdict is Verdict.FILL:
                filled += 1
            elif verdict is Verdict.RESET:
                resets += 1
        return SeqVerdict(keep, dup, gaps, filled, resets)


class RecentKeys:
    """A bounded set of recently seen keys (oldest evicted first)."""

    def __init__(self, capacity: int = 65536) -> None:
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self.capacity = capacity
        self._keys: dict[Hashable, None] = {}

    def __len__(self) -> int:
        return len(self._keys)

    def seen_before(self, key: Hashable) -> bool:
        """True if `key` is among the recent keys; otherwise remember it and return False."""
        if key in self._keys:
            return True
        self._keys[key] = None
        if len(self._keys) > self.capacity:
            del self._keys[next(iter(self._keys))]
        return False
