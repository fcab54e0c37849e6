"""GS1 EPC codec (Tag Data Standard 2.3): decode EPCs to identities and encode them back.

Public API (stable):
* `decode_epc(epc) -> DecodedEpc` (raises `EpcError` with an `EpcErrorReason`)
* `gtin_serial_of(epc: bytes) -> (gtin14, serial) | None` (hot path, cached)
* `encode_sgtin`, `encode_sscc`, `encode_grai`, `encode_giai`, `encode_sgln` -> bytes
* URI helpers: `parse_sgtin_uri`, `escape_uri_component`, `unescape_uri_component`
"""

from __future__ import annotations

from readers.epc.decode import decode_epc, encode_sgtin, gtin_serial_of
from readers.epc.errors import EpcError, EpcErrorReason
from readers.epc.giai import encode_giai
from readers.epc.grai import encode_grai
from readers.epc.gtin import check_digit, validate_gtin14
from readers.epc.identity_uri import parse_sgtin_uri
from readers.epc.model import DecodedEpc, Scheme
from readers.epc.sgln import encode_sgln
from readers.epc.sscc import encode_sscc
from readers.epc.uri import SERIAL_CHARACTERS, escape_uri_component, unescape_uri_component

__all__ = [
    "SERIAL_CHARACTERS",
    "DecodedEpc",
    "EpcError",
    "EpcErrorReason",
    "Scheme",
    "check_digit",
    "decode_epc",
    "encode_giai",
    "encode_grai",
    "encode_sgln",
    "encode_sgtin",
    "encode_sscc",
    "escape_uri_component",
    "gtin_serial_of",
    "parse_sgtin_uri",
    "unescape_uri_component",
    "validate_gtin14",
]
