"""Read summaries: invariants (hypothesis) and the accumulator's completeness rule."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.summaries import Summaries, SummaryAccumulator, concat_summaries, summarise
from readers.batch import ReadBatch

S = 1_000_000_000
EPCS = [bytes([0x30, i]) + bytes(10) for i in range(5)]

reads_st = st.lists(
    st.tuples(
        st.integers(0, 10 * S),
        st.integers(1, 3),
        st.sampled_from(EPCS),
        st.one_of(st.floats(-90.0, -20.0, width=32), st.just(math.nan)),
    ),
    max_size=60,
)
cycle_st = st.sampled_from([0.0, 0.25, 1.0, 3.0])


def batch(reads: list[tuple[int, int, bytes, float]], reader: str = "r") -> ReadBatch:
    return ReadBatch.from_columns(
        reader, [r[0] for r in reads], [r[1] for r in reads], [r[2] for r in reads], [r[3] for r in reads]
    )


def check(s: Summaries, reads: list[tuple[int, int, bytes, float]], cycle_s: float) -> None:
    assert s.total_reads == len(reads) == int(s.count.sum())
    assert np.all(s.first_ns <= s.last_ns)
    cyc = round(cycle_s * S)
    if cyc:
        assert np.all(s.cycle_start_ns % cyc == 0)
        keys = list(zip(s.cycle_start_ns.tolist(), s.antenna.tolist(), s.epc.tolist(), strict=True))
        assert len(set(keys)) == len(keys)
    for row in s.rows():
        mine = [
            r for r in reads
            if r[1] == row.antenna and r[2] == row.epc
            and (cyc == 0 or r[0] // cyc * cyc == row.cycle_start_ns)
            and (cyc != 0 or r[0] == row.first_ns)
        ]
        if cyc:
            assert row.count == len(mine)
            assert row.first_ns == min(r[0] for r in mine)
            assert row.last_ns == max(r[0] for r in mine)
            assert row.cycle_start_ns <= row.first_ns < row.cycle_start_ns + cyc
        rssi = [r[3] for r in mine if not math.isnan(r[3])]
        if cyc and rssi:
            assert row.peak_rssi == np.float32(max(rssi))
        elif cyc:
            assert math.isnan(row.peak_rssi)


@settings(max_examples=150, deadline=None)
@given(reads_st, cycle_st)
def test_summaries_invariants(reads: list[tuple[int, int, bytes, float]], cycle_s: float) -> None:
    s = summarise(batch(reads), cycle_s)
    check(s, reads, cycle_s)
    if cycle_s == 0:
        assert len(s) == len(reads) and np.all(s.count == 1)


@settings(max_examples=100, deadline=None)
@given(reads_st, cycle_st, st.lists(st.integers(0, 12 * S), max_size=6), st.integers(1, 4))
def test_accumulator_never_loses_or_duplicates(
    reads: list[tuple[int, int, bytes, float]], cycle_s: float, flushes: list[int], parts: int
) -> None:
    acc = SummaryAccumulator(cycle_s, lateness_s=0.5)
    out: list[Summaries] = []
    chunks = [reads[i::parts] for i in range(parts)]  # interleaved: later batches hold late reads
    for i, chunk in enumerate(chunks):
        acc.add(batch(chunk, reader="ab"[i % 2]))
        if i < len(flushes):
            out.append(acc.flush(sorted(flushes)[i]))
        assert acc.reads_in == acc.reads_out + acc.pending_reads
    out.append(acc.flush(0, force=True))
    allrows = concat_summaries(out)
    assert allrows.total_reads == len(reads) == acc.reads_out
    assert acc.pending_reads == 0
    if cycle_s:
        keys = list(
            zip(allrows.cycle_start_ns.tolist(), allrows.reader.tolist(), allrows.antenna.tolist(),
                allrows.epc.tolist(), strict=True)
        )
        assert len(set(keys)) == len(keys), "a late read re-used an emitted key"


def test_cycle_complete_only_after_end_plus_lateness() -> None:
    acc = SummaryAccumulator(1.0, lateness_s=0.5)
    acc.add(batch([
        (S + 100, 1, EPCS[0], -50.0), (S + 900, 1, EPCS[0], -40.0), (2 * S + 1, 1, EPCS[1], -60.0)
    ]))
    assert len(acc.flush(2 * S + S // 4)) == 0
    s = acc.flush(2 * S + S // 2)
    assert [(r.cycle_start_ns, r.epc, r.count, r.peak_rssi) for r in s.rows()] == [(S, EPCS[0], 2, -40.0)]
    # a late read of the emitted cycle goes into the open cycle, with its true time
    acc.add(batch([(S + 500, 2, EPCS[0], -45.0)]))
    assert acc.late_reads == 1
    s = acc.flush(4 * S)
    rows = sorted(s.rows(), key=lambda r: r.antenna)
    got = [(r.cycle_start_ns, r.antenna, r.first_ns) for r in rows]
    assert got == [(2 * S, 1, 2 * S + 1), (2 * S, 2, S + 500)]
    assert acc.reads_in == acc.reads_out == 4


def test_cycle_zero_passes_every_read_through() -> None:
    reads = [(5, 1, EPCS[0], -50.0), (5, 1, EPCS[0], -51.0), (7, 2, EPCS[1], math.nan)]
    acc = SummaryAccumulator(0.0)
    acc.add(batch(reads))
    s = acc.flush(0)
    assert len(s) == 3 and s.total_reads == 3
    assert s.first_ns.tolist() == [5, 5, 7] and s.peak_rssi[0] == np.float32(-50.0)


# -- device read counts (readers.md §1 read_count) ------------------------------------------


def counted(reads: list[tuple[int, int, bytes, float]], counts: list[int] | None,
            reader: str = "r") -> ReadBatch:
    return ReadBatch.from_columns(
        reader, [r[0] for r in reads], [r[1] for r in reads], [r[2] for r in reads],
        [r[3] for r in reads], read_count=counts,
    )


def test_reports_of_one_tag_in_a_cycle_sum_their_read_counts() -> None:
    reads = [(S + 100, 1, EPCS[0], -50.0), (S + 700, 1, EPCS[0], -45.0), (S + 800, 1, EPCS[1], -60.0)]
    b = counted(reads, [3, 4, 1])
    s = summarise(b, 1.0)
    assert sorted((r.epc, r.count) for r in s.rows()) == [(EPCS[0], 7), (EPCS[1], 1)]
    assert s.total_reads == 8 == b.read_total
    assert sorted(summarise(b, 0.0).count.tolist()) == [1, 3, 4]  # cycle 0: one row per report
    acc = SummaryAccumulator(1.0, lateness_s=0.5)
    acc.add(counted(reads[:1], [3]))
    acc.add(counted(reads[1:], None))  # a batch without the column: one read a report
    acc.add(counted([(S + 900, 1, EPCS[0], -40.0)], [4]))
    assert acc.reads_in == 9
    s = acc.flush(3 * S)
    assert sorted((r.epc, r.count, r.peak_rssi) for r in s.rows()) == [
        (EPCS[0], 8, -40.0), (EPCS[1], 1, -60.0)
    ]
    assert acc.reads_out == 9 and acc.pending_reads == 0


@settings(max_examples=100, deadline=None)
@given(reads_st, cycle_st, st.lists(st.integers(0, 12 * S), max_size=6), st.integers(1, 4),
       st.data())
def test_accumulator_conserves_folded_read_counts(
    reads: list[tuple[int, int, bytes, float]], cycle_s: float, flushes: list[int], parts: int,
    data: st.DataObject,
) -> None:
    counts = data.draw(st.lists(st.integers(1, 1000), min_size=len(reads), max_size=len(reads)))
    acc = SummaryAccumulator(cycle_s, lateness_s=0.5)
    out: list[Summaries] = []
    expected = 0
    for i in range(parts):
        chunk, weights = reads[i::parts], counts[i::parts]
        plain = data.draw(st.booleans())  # some batches carry no read_count column
        expected += len(chunk) if plain else sum(weights)
        acc.add(counted(chunk, None if plain else weights, reader="ab"[i % 2]))
        if i < len(flushes):
            out.append(acc.flush(sorted(flushes)[i]))
        assert acc.reads_in == acc.reads_out + acc.pending_reads
    out.append(acc.flush(0, force=True))
    assert concat_summaries(out).total_reads == acc.reads_in == acc.reads_out == expected
