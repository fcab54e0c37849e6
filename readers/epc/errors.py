"""Typed EPC errors: every rejection carries a reason code and a human detail."""

from __future__ import annotations

from enum import StrEnum


class EpcErrorReason(StrEnum):
    """Why an EPC could not be decoded (or a value could not be encoded)."""

    # input shape
    BAD_INPUT = "bad_input"  # not bytes / not hex / empty
    # header (TDS Table 14-1)
    UNPROGRAMMED = "unprogrammed"  # header 00: unprogrammed tag, no GS1 identity
    TID_PREFIX = "tid_prefix"  # header E2: reserved, first byte of TID memory
    RESERVED_HEADER = "reserved_header"  # header reserved or unassigned in TDS 2.3
    UNSUPPORTED_SCHEME = "unsupported_scheme"  # a TDS scheme this codec does not decode
    # structure
    TOO_SHORT = "too_short"  # fewer bits than the scheme length
    BAD_PARTITION = "bad_partition"  # partition value 7
    COMPANY_PREFIX_RANGE = "company_prefix_range"  # C >= 10^L
    REFERENCE_RANGE = "reference_range"  # D >= 10^K (item ref, serial ref, asset type, ...)
    RESERVED_BITS = "reserved_bits"  # fixed bit string not matched (SSCC-96 reserved bits)
    SERIAL_EMPTY = "serial_empty"  # string serial with no character
    SERIAL_CHARACTER = "serial_character"  # character outside Table A-1
    SERIAL_AFTER_TERMINATOR = "serial_after_terminator"  # data after the zero terminator
    SERIAL_RANGE = "serial_range"  # serial too long / too large for the scheme
    BAD_DIGIT = "bad_digit"  # a 4-bit digit above 9 (TDS 2.0 schemes)
    CHECK_DIGIT = "check_digit"  # GS1 check digit mismatch
    BAD_ENCODING = "bad_encoding"  # reserved TDS 2.0 encoding indicator, or data it cannot hold
    # encoder arguments
    BAD_GTIN = "bad_gtin"
    BAD_FILTER = "bad_filter"
    BAD_COMPANY_PREFIX = "bad_company_prefix"
    BAD_ARGUMENT = "bad_argument"


class EpcError(ValueError):
    """An EPC that is not a valid GS1 EPC (or an encoder argument out of its domain).

    Callers keep the raw EPC as an opaque tag id and count the error by `reason`.
    """

    def __init__(self, reason: EpcErrorReason, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)
