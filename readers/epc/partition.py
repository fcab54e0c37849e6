"""Partition tables (TDS §14.2 coding method 'partition table'; Tables 14-2 ff.)."""

from __future__ import annotations

from dataclasses import dataclass

from readers.epc.errors import EpcError, EpcErrorReason


@dataclass(frozen=True, slots=True)
class PartitionRow:
    """One row: company prefix bits/digits (M/L) and second-field bits/digits (N/K)."""

    gcp_bits: int
    gcp_digits: int
    ref_bits: int
    ref_digits: int


def _table(rows: list[tuple[int, int, int, int]]) -> tuple[PartitionRow, ...]:
    return tuple(PartitionRow(*r) for r in rows)


# SGTIN (Table 14-2): GCP + indicator/item reference, 44 bits, 13 digits.
SGTIN = _table(
    [
        (40, 12, 4, 1),
        (37, 11, 7, 2),
        (34, 10, 10, 3),
        (30, 9, 14, 4),
        (27, 8, 17, 5),
        (24, 7, 20, 6),
        (20, 6, 24, 7),
    ]
)
# SSCC (Table 14-7): GCP + extension/serial reference, 58 bits, 17 digits.
SSCC = _table(
    [
        (40, 12, 18, 5),
        (37, 11, 21, 6),
        (34, 10, 24, 7),
        (30, 9, 28, 8),
        (27, 8, 31, 9),
        (24, 7, 34, 10),
        (20, 6, 38, 11),
    ]
)
# SGLN (Table 14-10): GCP + location reference, 41 bits, 12 digits.
SGLN = _table(
    [
        (40, 12, 1, 0),
        (37, 11, 4, 1),
        (34, 10, 7, 2),
        (30, 9, 11, 3),
        (27, 8, 14, 4),
        (24, 7, 17, 5),
        (20, 6, 21, 6),
    ]
)
# GRAI (Table 14-19): GCP + asset type, 44 bits, 12 digits.
GRAI = _table(
    [
        (40, 12, 4, 0),
        (37, 11, 7, 1),
        (34, 10, 10, 2),
        (30, 9, 14, 3),
        (27, 8, 17, 4),
        (24, 7, 20, 5),
        (20, 6, 24, 6),
    ]
)
# GIAI-96 (Table 14-23): GCP + individual asset reference (unpadded), 82 bits.
GIAI96 = _table(
    [
        (40, 12, 42, 13),
        (37, 11, 45, 14),
        (34, 10, 48, 15),
        (30, 9, 52, 16),
        (27, 8, 55, 17),
        (24, 7, 58, 18),
        (20, 6, 62, 19),
    ]
)


def row_for_partition(table: tuple[PartitionRow, ...], partition: int) -> PartitionRow:
    if not 0 <= partition < len(table):
        raise EpcError(
            EpcErrorReason.BAD_PARTITION,
            f"partition value {partition} (only 0-{len(table) - 1} exist)",
        )
    return table[partition]


def partition_for_gcp_digits(table: tuple[PartitionRow, ...], gcp_digits: int) -> int:
    for p, row in enumerate(table):
        if row.gcp_digits == gcp_digits:
            return p
    raise EpcError(
        EpcErrorReason.BAD_COMPANY_PREFIX,
        f"company prefix length {gcp_digits} not in 6..12",
    )


def check_company_prefix(value: int, row: PartitionRow, partition: int) -> str:
    """Validate C < 10^L and return it zero-padded to L digits."""
    if value >= 10**row.gcp_digits:
        raise EpcError(
            EpcErrorReason.COMPANY_PREFIX_RANGE,
            f"company prefix {value} >= 10^{row.gcp_digits} for partition {partition}",
        )
    return str(value).zfill(row.gcp_digits)


def check_reference(value: int, row: PartitionRow, partition: int, what: str) -> str:
    """Validate D < 10^K (D = 0 when K = 0) and return it zero-padded to K digits."""
    if value >= 10**row.ref_digits:
        raise EpcError(
            EpcErrorReason.REFERENCE_RANGE,
            f"{what} {value} >= 10^{row.ref_digits} for partition {partition}",
        )
    return str(value).zfill(row.ref_digits) if row.ref_digits else ""
