"""The decoded value type."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Scheme(StrEnum):
    """TDS scheme names, lower case as in EPC tag URIs."""

    SGTIN_96 = "sgtin-96"
    SGTIN_198 = "sgtin-198"
    SGTIN_PLUS = "sgtin+"
    SSCC_96 = "sscc-96"
    SGLN_96 = "sgln-96"
    GRAI_96 = "grai-96"
    GIAI_96 = "giai-96"


SGTIN_SCHEMES = frozenset({Scheme.SGTIN_96, Scheme.SGTIN_198, Scheme.SGTIN_PLUS})

DL_ROOT = "https://id.gs1.org"


@dataclass(frozen=True, slots=True)
class DecodedEpc:
    """A decoded GS1 EPC.

    `filter` is control information, not identity: two tags that differ only in their
    filter value carry the same EPC. Key stock on `identity` (the GS1 element string, e.g.
    `(01)80614141123458(21)6789`), never on `hex`.

    Field meanings per scheme:
    * SGTIN (-96, -198, +): gtin14, serial (GS1 AI 21 text); gs1_key = gtin14.
    * SSCC-96: gs1_key = the 18-digit SSCC; serial None.
    * GRAI-96: asset_type, serial (integer text); gs1_key = the (8003) value.
    * GIAI-96: serial = individual asset reference; gs1_key = the (8004) value.
    * SGLN-96: gln, extension ("0" = none); gs1_key = gln.
    * sgtin+ has no partition: company_prefix, partition, uri and tag_uri are None.
    """

    hex: str  # the EPC as received (uppercase hex, reader padding included)
    scheme: str  # a `Scheme` value
    filter: int
    element_string: str
    digital_link: str
    gs1_key: str
    uri: str | None = None  # pure identity URI, urn:epc:id:...
    tag_uri: str | None = None  # urn:epc:tag:... (includes the filter)
    company_prefix: str | None = None
    partition: int | None = None
    gtin14: str | None = None
    serial: str | None = None
    asset_type: str | None = None
    gln: str | None = None
    extension: str | None = None
    aidc_toggle: int | None = None  # TDS 2.0 '+AIDC data' toggle (sgtin+ only)

    @property
    def identity(self) -> str:
        """Filter-free identity key: the GS1 element string (unique per EPC pure identity)."""
        return self.element_string

    @property
    def is_sgtin(self) -> bool:
        return self.scheme in SGTIN_SCHEMES

    def to_json(self) -> dict[str, str | int]:
        """The `shelfsight epc decode` line: hex, scheme, filter, gtin14, serial, uri.

        Keys without a value are left out; `serial` is given for SGTIN schemes only.
        """
        out: dict[str, str | int] = {"hex": self.hex, "scheme": self.scheme, "filter": self.filter}
        if self.gtin14 is not None:
            out["gtin14"] = self.gtin14
        if self.serial is not None and self.is_sgtin:
            out["serial"] = self.serial
        if self.uri is not None:
            out["uri"] = self.uri
        return out
