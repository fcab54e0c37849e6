"""GS1 check digits and GTIN-14 helpers."""

from __future__ import annotations

from readers.epc.errors import EpcError, EpcErrorReason

_DIGITS = frozenset("0123456789")


def is_digits(text: str) -> bool:
    return bool(text) and _DIGITS.issuperset(text)


def check_digit(digits: str) -> str:
    """GS1 mod-10 check digit of a digit string (weights 3, 1, 3, ... from the right)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        total += (ord(ch) - 48) * (3 if i % 2 == 0 else 1)
    return str((10 - total % 10) % 10)


def validate_gtin14(gtin14: str) -> str:
    """Return the GTIN-14 if it is 14 digits with a correct check digit, else raise."""
    if not isinstance(gtin14, str) or len(gtin14) != 14 or not is_digits(gtin14):
        raise EpcError(EpcErrorReason.BAD_GTIN, f"GTIN-14 must be 14 digits: {gtin14!r}")
    expected = check_digit(gtin14[:13])
    if gtin14[13] != expected:
        raise EpcError(
            EpcErrorReason.BAD_GTIN,
            f"GTIN-14 {gtin14} has check digit {gtin14[13]}, expected {expected}",
        )
    return gtin14


def gtin14_from_parts(company_prefix: str, indicator_item_ref: str) -> str:
    """Indicator digit + company prefix + item reference + check digit (TDS §7.3)."""
    body = indicator_item_ref[:1] + company_prefix + indicator_item_ref[1:]
    return body + check_digit(body)
