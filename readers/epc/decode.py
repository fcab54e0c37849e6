"""Header dispatch (TDS §14.4), the public encoders' front door and the hot-path fast decode."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

from readers.epc import partition as pt
from readers.epc import sgtin, sgtin_plus
from readers.epc._bits import BitReader, parse_input
from readers.epc.errors import EpcError, EpcErrorReason
from readers.epc.giai import decode_giai96
from readers.epc.grai import decode_grai96
from readers.epc.gtin import gtin14_from_parts
from readers.epc.model import DecodedEpc, Scheme
from readers.epc.sgln import decode_sgln96
from readers.epc.sscc import decode_sscc96

_Decoder = Callable[[BitReader, str], DecodedEpc]

#: header -> (scheme, bit length, decoder); None bit length = variable (TDS 2.0 '+').
_DECODERS: dict[int, tuple[Scheme, int | None, _Decoder]] = {
    0x30: (Scheme.SGTIN_96, 96, sgtin.decode_sgtin96),
    0x36: (Scheme.SGTIN_198, 198, sgtin.decode_sgtin198),
    0x31: (Scheme.SSCC_96, 96, decode_sscc96),
    0x32: (Scheme.SGLN_96, 96, decode_sgln96),
    0x33: (Scheme.GRAI_96, 96, decode_grai96),
    0x34: (Scheme.GIAI_96, 96, decode_giai96),
    0xF7: (Scheme.SGTIN_PLUS, None, sgtin_plus.decode_sgtin_plus),
}

#: Headers with a TDS 2.3 coding table that this codec recognises but does not decode.
KNOWN_UNSUPPORTED: dict[int, str] = {
    0x2C: "gdti-96",
    0x2D: "gsrn-96",
    0x2E: "gsrnp-96",
    0x2F: "usdod-96",
    0x35: "gid-96",
    0x37: "grai-170",
    0x38: "giai-202",
    0x39: "sgln-195",
    0x3B: "adi-var",
    0x3C: "cpi-96",
    0x3D: "cpi-var",
    0x3E: "gdti-174",
    0x3F: "sgcn-96",
    0x40: "itip-110",
    0x41: "itip-212",
    0xF1: "grai+",
    0xF2: "sgln+",
    0xF9: "sscc+",
    0xFA: "giai+",
    0xFB: "dsgtin+",
    0xFC: "dsgtin++",
    0xFD: "sgtin++",
    0xEF: "sscc++",
    0xEB: "grai++",
    0xEE: "giai++",
    0xE9: "sgln++",
}
for _h in range(0xF0, 0xFC):
    KNOWN_UNSUPPORTED.setdefault(_h, "TDS 2.0 '+' scheme")
for _h in range(0xE6, 0xF0):
    KNOWN_UNSUPPORTED.setdefault(_h, "TDS 2.3 '++' scheme")
del _h


def decode_epc(epc: bytes | str) -> DecodedEpc:
    """Decode an EPC (bytes, or hex text) per GS1 TDS 2.3; raise `EpcError` if it is not valid.

    Trailing bits beyond the scheme length (reader word padding) are ignored.
    """
    value, nbits, hex_ = parse_input(epc)
    if nbits < 8:
        raise EpcError(EpcErrorReason.TOO_SHORT, f"only {nbits} bits, no 8-bit header")
    header = value >> (nbits - 8)
    entry = _DECODERS.get(header)
    if entry is None:
        raise _header_error(header)
    scheme, length, decoder = entry
    if length is not None:
        if nbits < length:
            raise EpcError(EpcErrorReason.TOO_SHORT, f"only {nbits} bits; {scheme.value} needs {length}")
        value >>= nbits - length  # truncate trailing bits to the scheme length (§14.4 step 3)
        nbits = length
    return decoder(BitReader(value, nbits, 8), hex_)


def _header_error(header: int) -> EpcError:
    if header == 0x00:
        return EpcError(EpcErrorReason.UNPROGRAMMED, "header 00: unprogrammed tag")
    if header == 0xE2:
        return EpcError(EpcErrorReason.TID_PREFIX, "header E2 is reserved (TID prefix): not a GS1 EPC")
    name = KNOWN_UNSUPPORTED.get(header)
    if name is not None:
        return EpcError(EpcErrorReason.UNSUPPORTED_SCHEME, f"header {header:02X} ({name}) is not decoded")
    return EpcError(EpcErrorReason.RESERVED_HEADER, f"header {header:02X} has no coding table")


def encode_sgtin(
    gtin14: str,
    serial: str,
    *,
    scheme: str = "sgtin-96",
    filter: int = 1,
    company_prefix_length: int = 7,
) -> bytes:
    """Encode (GTIN-14, serial) as SGTIN-96, SGTIN-198 or SGTIN+; raise `EpcError` if it can't.

    SGTIN-96 needs a decimal serial without leading zeros below 2^38; SGTIN-198 takes 1-20
    Table A-1 characters. SGTIN-198 and SGTIN+ are zero-padded to a 16-bit word boundary
    (SGTIN-198: 26 bytes). `company_prefix_length` (6-12) is ignored for SGTIN+.
    """
    try:
        kind = Scheme(scheme)
    except ValueError:
        kind = None
    if kind is Scheme.SGTIN_PLUS:
        return sgtin_plus.encode_sgtin_plus(gtin14, serial, filter)
    if kind is Scheme.SGTIN_96 or kind is Scheme.SGTIN_198:
        return sgtin.encode_sgtin_partitioned(gtin14, serial, kind, filter, company_prefix_length)
    raise EpcError(
        EpcErrorReason.UNSUPPORTED_SCHEME,
        f"scheme must be sgtin-96, sgtin-198 or sgtin+: {scheme!r}",
    )


_TEN_POW = tuple(10**k for k in range(13))
_SGTIN_ROWS = tuple((r.gcp_bits, r.gcp_digits, r.ref_bits, r.ref_digits) for r in pt.SGTIN)


@lru_cache(maxsize=1 << 16)
def gtin_serial_of(epc: bytes) -> tuple[str, str] | None:
    """(GTIN-14, serial) of a valid SGTIN EPC, else None. Cached; cheap for SGTIN-96.

    Other SGTIN schemes (198, +) go through `decode_epc`. Callers that need the reason of a
    rejection call `decode_epc`.
    """
    if len(epc) >= 12 and epc[0] == 0x30:
        v = int.from_bytes(epc[:12], "big")
        p = (v >> 82) & 7
        if p == 7:
            return None
        m, l_digits, n, k = _SGTIN_ROWS[p]
        gcp = (v >> (82 - m)) & ((1 << m) - 1)
        item = (v >> 38) & ((1 << n) - 1)
        if gcp >= _TEN_POW[l_digits] or item >= _TEN_POW[k]:
            return None
        return (
            gtin14_from_parts(str(gcp).zfill(l_digits), str(item).zfill(k)),
            str(v & 0x3FFFFFFFFF),
        )
    if epc[:1] in (b"\x36", b"\xf7"):
        try:
            decoded = decode_epc(epc)
        except EpcError:
            return None
        assert decoded.gtin14 is not None and decoded.serial is not None
        return decoded.gtin14, decoded.serial
    return None
