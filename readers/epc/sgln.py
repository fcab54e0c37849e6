"""SGLN-96 (TDS §14.6.3, Table 14-10): locations for EPCIS readPoint / bizLocation."""

from __future__ import annotations

from readers.epc import partition as pt
from readers.epc._bits import BitReader, BitWriter
from readers.epc._common import check_key, partition_of
from readers.epc.gtin import check_digit
from readers.epc.model import DL_ROOT, DecodedEpc, Scheme
from readers.epc.sgtin import check_filter, integer_serial

HEADER = 0x32
BITS = 96
EXTENSION_BITS = 41
EXTENSION_MAX = (1 << EXTENSION_BITS) - 1


def decode_sgln96(reader: BitReader, hex_: str) -> DecodedEpc:
    filter_ = reader.read(3)
    partition = reader.read(3)
    row = pt.row_for_partition(pt.SGLN, partition)
    gcp = pt.check_company_prefix(reader.read(row.gcp_bits), row, partition)
    loc = pt.check_reference(reader.read(row.ref_bits), row, partition, "location reference")
    ext = str(reader.read(EXTENSION_BITS))
    body = gcp + loc
    gln = body + check_digit(body)
    has_ext = ext != "0"  # extension 0 means "no extension"
    return DecodedEpc(
        hex=hex_,
        scheme=Scheme.SGLN_96.value,
        filter=filter_,
        element_string=f"(414){gln}" + (f"(254){ext}" if has_ext else ""),
        digital_link=f"{DL_ROOT}/414/{gln}" + (f"/254/{ext}" if has_ext else ""),
        gs1_key=gln,
        uri=f"urn:epc:id:sgln:{gcp}.{loc}.{ext}",
        tag_uri=f"urn:epc:tag:sgln-96:{filter_}.{gcp}.{loc}.{ext}",
        company_prefix=gcp,
        partition=partition,
        gln=gln,
        extension=ext,
    )


def encode_sgln(gln: str, extension: str = "0", *, filter: int = 0, company_prefix_length: int = 7) -> bytes:
    """SGLN-96 from a 13-digit GLN and a numeric extension ('0' = none, no leading zeros)."""
    check_key(gln, 13, "GLN")
    ext = integer_serial(extension, EXTENSION_MAX, "GLN extension")
    check_filter(filter)
    partition = partition_of(pt.SGLN, company_prefix_length)
    row = pt.SGLN[partition]
    w = BitWriter()
    w.write(HEADER, 8)
    w.write(filter, 3)
    w.write(partition, 3)
    w.write(int(gln[: row.gcp_digits]), row.gcp_bits)
    w.write(int(gln[row.gcp_digits : 12] or "0"), row.ref_bits)
    w.write(ext, EXTENSION_BITS)
    return w.to_bytes()
