"""Serial character set (TDS Annex A, Table A-1) and URI escaping."""

from __future__ import annotations

from urllib.parse import quote

from readers.epc.errors import EpcError, EpcErrorReason

#: The 82 characters allowed in GS1 serials (Table A-1; GS1 'CSET 82').
SERIAL_CHARACTERS = "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
SERIAL_CHARSET = frozenset(SERIAL_CHARACTERS)

#: The seven characters that must be percent-escaped in EPC URIs.
_ESCAPES = {'"': "%22", "%": "%25", "&": "%26", "/": "%2F", "<": "%3C", ">": "%3E", "?": "%3F"}
_UNESCAPES = {v: k for k, v in _ESCAPES.items()}
_ESCAPE_TABLE = str.maketrans(_ESCAPES)


def check_serial_text(serial: str, max_len: int) -> str:
    """Validate a string serial: 1..max_len Table A-1 characters."""
    if not isinstance(serial, str) or not serial:
        raise EpcError(EpcErrorReason.SERIAL_EMPTY, "serial is empty")
    if len(serial) > max_len:
        raise EpcError(EpcErrorReason.SERIAL_RANGE, f"serial has {len(serial)} characters, max {max_len}")
    bad = sorted(set(serial) - SERIAL_CHARSET)
    if bad:
        raise EpcError(EpcErrorReason.SERIAL_CHARACTER, f"characters outside Table A-1: {bad!r}")
    return serial


def escape_uri_component(value: str) -> str:
    """Escape a serial for a pure identity or tag URI (Table A-1: exactly seven characters)."""
    return value.translate(_ESCAPE_TABLE)


def unescape_uri_component(value: str) -> str:
    """Inverse of `escape_uri_component`: unescape exactly the seven triplets (either case)."""
    if "%" not in value:
        return value
    out: list[str] = []
    i = 0
    while i < len(value):
        triplet = value[i : i + 3].upper()
        if value[i] == "%" and triplet in _UNESCAPES:
            out.append(_UNESCAPES[triplet])
            i += 3
        elif value[i] == "%":
            raise EpcError(EpcErrorReason.SERIAL_CHARACTER, f"invalid escape {value[i : i + 3]!r} in URI")
        else:
            out.append(value[i])
            i += 1
    return "".join(out)


def digital_link_component(value: str) -> str:
    """Percent-encode a value for a GS1 Digital Link path segment (RFC 3986 unreserved kept)."""
    return quote(value, safe="")
