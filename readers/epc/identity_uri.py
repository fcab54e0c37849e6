"""Parse SGTIN pure identity URIs (`urn:epc:id:sgtin:GCP.ITEMREF.SERIAL`)."""

from __future__ import annotations

from readers.epc.errors import EpcError, EpcErrorReason
from readers.epc.gtin import gtin14_from_parts, is_digits
from readers.epc.uri import check_serial_text, unescape_uri_component

_PREFIX = "urn:epc:id:sgtin:"
_MUST_ESCAPE = frozenset('"&/<>?')


def parse_sgtin_uri(uri: str) -> tuple[str, str, int]:
    """Return (GTIN-14, serial, company prefix length) of an SGTIN pure identity URI.

    The serial is unescaped (exactly the seven Table A-1 escapes) and checked against Table A-1.
    Feed the result to `encode_sgtin(gtin14, serial, company_prefix_length=...)`.
    """
    if not isinstance(uri, str) or not uri.startswith(_PREFIX):
        raise EpcError(EpcErrorReason.BAD_INPUT, f"not an SGTIN pure identity URI: {uri!r}")
    parts = uri[len(_PREFIX) :].split(".", 2)
    if len(parts) != 3:
        raise EpcError(EpcErrorReason.BAD_INPUT, f"SGTIN URI needs GCP.ITEMREF.SERIAL: {uri!r}")
    gcp, item_ref, escaped = parts
    if not (is_digits(gcp) and is_digits(item_ref)) or len(gcp) + len(item_ref) != 13:
        raise EpcError(
            EpcErrorReason.BAD_INPUT, f"company prefix + item reference must be 13 digits: {uri!r}"
        )
    if not 6 <= len(gcp) <= 12:
        raise EpcError(EpcErrorReason.BAD_COMPANY_PREFIX, f"company prefix {gcp!r} not 6-12 digits")
    if any(ch in escaped for ch in _MUST_ESCAPE):
        raise EpcError(EpcErrorReason.SERIAL_CHARACTER, f"unescaped reserved character in {uri!r}")
    serial = check_serial_text(unescape_uri_component(escaped), 20)
    return gtin14_from_parts(gcp, item_ref), serial, len(gcp)
