"""The outbox keeps every acknowledged record exactly once: across kill -9, when full, in order."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.config import FullPolicy
from gateway.outbox import Outbox, PutStatus
from gateway.records import ReadSummaryRow, Record, TagEventRow, TagStateRow, decode, encode

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


def ev(seq: int) -> TagEventRow:
    return TagEventRow("s1", b"\x30\x14" + seq.to_bytes(4, "big"), seq, T0, "arrived", "floor")


def test_put_peek_commit_fifo(tmp_path: Path) -> None:
    with Outbox(tmp_path / "o.sqlite", max_rows=100) as box:
        assert box.put([ev(i) for i in range(10)]).status is PutStatus.STORED
        assert box.depth() == 10
        first = box.peek(4)
        assert [r.seq for r in first.records if isinstance(r, TagEventRow)] == [0, 1, 2, 3]
        assert box.peek(4).ids == first.ids  # peek does not consume
        assert box.commit(first.ids) == 4
        assert box.commit(first.ids) == 0  # a second commit of the same ids deletes nothing
        rest = box.peek(100)
        assert [r.seq for r in rest.records if isinstance(r, TagEventRow)] == list(range(4, 10))
        assert box.counters().put == 10 and box.counters().committed == 4
        assert box.oldest_age_s() >= 0.0


def test_reopen_keeps_rows_and_never_reuses_ids(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite"
    with Outbox(path, max_rows=100) as box:
        box.put([ev(1), ev(2)])
        batch = box.peek(10)
        box.commit(batch.ids)
        box.put([ev(3)])
    with Outbox(path, max_rows=100) as box:
        assert box.depth() == 1
        again = box.peek(10)
        assert min(again.ids) > max(batch.ids)


def test_drop_policy_stores_what_fits_and_counts_the_rest(tmp_path: Path) -> None:
    with Outbox(tmp_path / "o.sqlite", max_rows=5, full_policy=FullPolicy.DROP) as box:
        first = box.put([ev(i) for i in range(3)])
        second = box.put([ev(i) for i in range(3, 7)])
        third = box.put([ev(9)])
        assert (first.status, second.status, third.status) == (
            PutStatus.STORED, PutStatus.PARTIAL, PutStatus.DROPPED,
        )
        assert (second.stored, second.dropped) == (2, 2)
        assert box.depth() == 5
        assert box.counters().dropped == 3
        assert third.durable  # dropped by explicit policy: the input may be acked


def test_backpressure_times_out_then_unblocks_when_space_frees(tmp_path: Path) -> None:
    with Outbox(tmp_path / "o.sqlite", max_rows=3) as box:
        box.put([ev(0), ev(1), ev(2)])
        timed_out = box.put([ev(3)], timeout=0.05)
        assert timed_out.status is PutStatus.FULL and not timed_out.durable
        assert box.depth() == 3 and box.counters().dropped == 0

        result: list[PutStatus] = []
        waiter = threading.Thread(target=lambda: result.append(box.put([ev(3)]).status))
        waiter.start()
        waiter.join(0.1)
        assert waiter.is_alive()  # blocked: no space
        box.commit(box.peek(1).ids)
        waiter.join(10)
        assert result == [PutStatus.STORED]
        seqs = [r.seq for r in box.peek(10).records if isinstance(r, TagEventRow)]
        assert seqs == [1, 2, 3]


def test_oversize_put_enters_an_empty_outbox(tmp_path: Path) -> None:
    with Outbox(tmp_path / "o.sqlite", max_rows=2) as box:
        assert box.put([ev(i) for i in range(5)], timeout=0.01).stored == 5


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    with Outbox(tmp_path / "o.sqlite", max_rows=100_000) as box:
        def write(base: int) -> None:
            for k in range(50):
                box.put([ev(base + k * 4 + j) for j in range(4)])

        threads = [threading.Thread(target=write, args=(t * 1000,)) for t in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        seqs = [r.seq for r in box.peek(10_000).records if isinstance(r, TagEventRow)]
        assert len(seqs) == len(set(seqs)) == 800


datetimes = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
texts = st.text(max_size=12)
records = st.one_of(
    st.builds(ReadSummaryRow, texts, texts, st.integers(0, 32767), st.binary(max_size=62),
              datetimes, datetimes, datetimes, st.integers(1, 2**31 - 1),
              st.none() | st.floats(-120, 0, width=32)),
    st.builds(TagEventRow, texts, st.binary(max_size=62), st.integers(0, 2**63 - 1), datetimes,
              st.sampled_from(["arrived", "sold"]), st.none() | texts, st.none() | texts),
    st.builds(TagStateRow, st.binary(max_size=62), texts, st.sampled_from(["present", "sold"]),
              datetimes, st.integers(0, 2**63 - 1), datetimes),
)


@given(st.lists(records, max_size=20))
@settings(max_examples=60, deadline=None)
def test_codec_round_trips(items: list[Record]) -> None:
    for item in items:
        assert decode(encode(item)) == item


_CHILD = """
import sys
from datetime import UTC, datetime
from gateway.outbox import Outbox
from gateway.records import TagEventRow
box = Outbox(sys.argv[1], max_rows=10_000_000)
t0 = datetime(2026, 3, 1, tzinfo=UTC)
seq = 0
while True:
    batch = [TagEventRow("s1", seq.to_bytes(8, "big"), seq + j, t0, "arrived") for j in range(50)]
    seq += 50
    res = box.put(batch)
    assert res.stored == 50
    sys.stdout.write(f"{seq}\\n")
    sys.stdout.flush()
"""


def test_every_acknowledged_record_survives_kill_9(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite"
    proc = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(path)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
    )
    assert proc.stdout is not None
    acked = 0
    for line in proc.stdout:
        acked = int(line)
        if acked >= 2000:
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    proc.stdout.close()
    with Outbox(path, max_rows=10_000_000) as box:
        seqs = [r.seq for r in box.peek(10_000_000).records if isinstance(r, TagEventRow)]
    assert len(seqs) == len(set(seqs)), "a record is stored twice"
    assert set(range(acked)) <= set(seqs), "an acknowledged record is missing"
    # whole batches only: each put is one transaction
    assert len(seqs) % 50 == 0
    assert seqs == sorted(seqs)


def test_unwritable_outbox_raises_typed_error(tmp_path: Path) -> None:
    from gateway.outbox import OutboxError

    box = Outbox(tmp_path / "o.sqlite", max_rows=10)
    box._conn.execute("PRAGMA query_only=1")  # stands in for a read-only / full disk
    with pytest.raises(OutboxError):
        box.put([ev(1)])
    assert box.depth() == 0
    box.close()
