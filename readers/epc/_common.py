"""Shared encoder argument checks for the partitioned schemes."""

from __future__ import annotations

from readers.epc import partition as pt
from readers.epc.errors import EpcError, EpcErrorReason
from readers.epc.gtin import check_digit, is_digits


def check_key(value: str, length: int, what: str, *, has_check_digit: bool = True) -> str:
    """A GS1 key of `length` digits, with a correct trailing check digit when it has one."""
    if not isinstance(value, str) or len(value) != length or not is_digits(value):
        raise EpcError(EpcErrorReason.BAD_ARGUMENT, f"{what} must be {length} digits: {value!r}")
    if has_check_digit:
        expected = check_digit(value[:-1])
        if value[-1] != expected:
            raise EpcError(
                EpcErrorReason.CHECK_DIGIT,
                f"{what} {value} has check digit {value[-1]}, expected {expected}",
            )
    return value


def partition_of(table: tuple[pt.PartitionRow, ...], company_prefix_length: int) -> int:
    if isinstance(company_prefix_length, bool) or not isinstance(company_prefix_length, int):
        raise EpcError(EpcErrorReason.BAD_COMPANY_PREFIX, "company prefix length must be int")
    return pt.partition_for_gcp_digits(table, company_prefix_length)
