"""ReadBatch's optional read_count column: absent means one read per report, kept through
every way a batch is built, selected, joined and turned back into reads."""

from __future__ import annotations

import numpy as np
import pytest

from readers.batch import Read, ReadBatch, concat

E1, E2 = b"\x30" * 12, b"\x31" * 12


def test_absent_column_counts_one_read_per_report() -> None:
    b = ReadBatch.from_columns("r", [1, 2], [1, 1], [E1, E2], [-50.0, -51.0])
    assert b.read_count is None and b.read_total == 2
    assert [r.read_count for r in b.reads()] == [1, 1]
    assert ReadBatch.from_reads("r", list(b.reads())).read_count is None  # all 1: stays absent


def test_column_survives_take_reads_and_from_reads() -> None:
    b = ReadBatch.from_columns("r", [1, 2, 3], [1, 2, 1], [E1, E2, E1], [-50.0] * 3,
                               read_count=[3, 1, 4])
    assert b.read_count is not None and b.read_count.dtype == np.int32
    assert b.read_total == 8
    assert b.take(np.array([True, False, True])).read_count.tolist() == [3, 4]  # type: ignore[union-attr]
    assert b.take(np.array([1])).read_total == 1
    reads = list(b.reads())
    assert [r.read_count for r in reads] == [3, 1, 4]
    assert ReadBatch.from_reads("r", reads).read_count.tolist() == [3, 1, 4]  # type: ignore[union-attr]
    assert reads[0].to_json()["read_count"] == 3
    assert Read(0, "r", 1, E1, -50.0).to_json()["read_count"] == 1


def test_concat_fills_one_for_batches_without_the_column() -> None:
    plain = ReadBatch.from_columns("r", [1], [1], [E1], [-50.0])
    counted = ReadBatch.from_columns("r", [2, 3], [1, 1], [E2, E2], [-50.0] * 2, read_count=[2, 7])
    joined = concat([plain, counted, plain])
    assert joined.read_count is not None and joined.read_count.tolist() == [1, 2, 7, 1]
    assert joined.read_total == 11
    assert concat([plain, plain]).read_count is None


@pytest.mark.parametrize("bad", [[0], [-1], [2**31]])
def test_from_columns_refuses_counts_out_of_range(bad: list[int]) -> None:
    with pytest.raises(ValueError, match="read_count"):
        ReadBatch.from_columns("r", [1], [1], [E1], [-50.0], read_count=bad)
