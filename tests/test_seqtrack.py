"""SeqTracker: duplicates, gaps, fills, resets, bounded memory; RecentKeys."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from readers.seqtrack import RecentKeys, SeqTracker, Verdict

T0 = 10**18


def arr(xs: list[int]) -> np.ndarray:
    return np.array(xs, dtype=np.int64)


def test_in_order_stream_is_one_interval() -> None:
    tr = SeqTracker()
    for start in range(0, 10_000, 100):
        seqs = list(range(start, start + 100))
        v = tr.observe("r", arr(seqs), arr([T0 + s for s in seqs]))
        assert v.keep.all() and (v.duplicates, v.gaps) == (0, 0)
    assert tr.intervals("r") == 1
    assert tr.stats("r").accepted == 10_000


def test_gap_fill_duplicate_per_event() -> None:
    tr = SeqTracker()
    assert tr.observe_one("r", 10, T0) == (Verdict.NEW, 0)
    assert tr.observe_one("r", 15, T0 + 5) == (Verdict.NEW, 4)
    assert tr.observe_one("r", 12, T0 + 2) == (Verdict.FILL, 0)
    assert tr.observe_one("r", 12, T0 + 2) == (Verdict.DUPLICATE, 0)
    assert tr.observe_one("r", 11, T0 + 1) == (Verdict.FILL, 0)
    assert tr.observe_one("r", 13, T0 + 3) == (Verdict.FILL, 0)
    assert tr.observe_one("r", 14, T0 + 4) == (Verdict.FILL, 0)
    assert tr.intervals("r") == 1  # holes merged away
    st_ = tr.stats("r")
    assert (st_.gaps, st_.filled, st_.missing, st_.duplicates) == (4, 4, 0, 1)
    assert tr.observe_one("r", -1, T0) == (Verdict.NO_SEQ, 0)
    assert tr.observe_one("other", 12, T0) == (Verdict.NEW, 0)  # readers are independent


def test_duplicates_inside_one_batch() -> None:
    tr = SeqTracker()
    v = tr.observe("r", arr([1, 2, 2, 3, 1]), arr([T0] * 5))
    assert v.keep.tolist() == [True, True, False, True, False]
    assert v.duplicates == 2


def test_reset_needs_newer_time() -> None:
    tr = SeqTracker(reset_after_ns=2 * 10**9)
    tr.observe("r", arr([500, 501]), arr([T0, T0 + 1]))
    # an old event with an old time is a duplicate, not a reset
    assert tr.observe_one("r", 500, T0)[0] is Verdict.DUPLICATE
    # within the tolerance (clock jitter) still a duplicate
    assert tr.observe_one("r", 500, T0 + 10**9)[0] is Verdict.DUPLICATE
    # a low counter with a time well after the newest event: the reader rebooted
    assert tr.observe_one("r", 1, T0 + 60 * 10**9)[0] is Verdict.RESET
    assert tr.observe_one("r", 2, T0 + 61 * 10**9)[0] is Verdict.NEW
    assert tr.stats("r").resets == 1


def test_memory_is_bounded_and_old_counters_accepted() -> None:
    tr = SeqTracker(max_intervals=8)
    for i in range(100):
        tr.observe_one("r", i * 3, T0)  # a hole after every event
    assert tr.intervals("r") <= 8
    # below what is remembered: accepted (at least once), counted as unknown
    assert tr.observe_one("r", 1, T0)[0] is Verdict.UNKNOWN
    assert tr.stats("r").unknown == 1
    # fills near the top still work and still merge
    assert tr.observe_one("r", 295, T0)[0] is Verdict.FILL
    assert tr.observe_one("r", 295, T0)[0] is Verdict.DUPLICATE


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        SeqTracker(max_intervals=1)
    with pytest.raises(ValueError):
        RecentKeys(0)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.integers(0, 60), max_size=12), max_size=12))
def test_matches_a_set_model(batches: list[list[int]]) -> None:
    """With room for every hole and no resets (same time), verdicts equal a plain set."""
    tr = SeqTracker(max_intervals=1000)
    seen: set[int] = set()
    high = -1
    gaps = 0
    for batch in batches:
        v = tr.observe("r", arr(batch), arr([T0] * len(batch)))
        expect_keep = []
        for s in batch:
            expect_keep.append(s not in seen)
            if s not in seen and high >= 0 and s > high:
                gaps += s - high - 1
            if s not in seen and seen and s < min(seen):
                gaps += min(seen) - s - 1
            seen.add(s)
            high = max(high, s)
        assert v.keep.tolist() == expect_keep
    stats = tr.stats("r")
    assert stats.gaps == gaps
    assert stats.accepted == len(seen)
    assert stats.missing == (0 if high < 0 else (high - min(seen) + 1) - len(seen))


def test_recent_keys_bounded() -> None:
    rk = RecentKeys(capacity=3)
    assert [rk.seen_before(k) for k in "abca"] == [False, False, False, True]
    assert rk.seen_before("d") is False  # evicts "a"
    assert len(rk) == 3
    assert rk.seen_before("a") is False
