"""Property tests: encode/decode round trips over each scheme's whole valid domain, and
decoding arbitrary input never raises anything but EpcError."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from readers.epc import (
    SERIAL_CHARACTERS,
    EpcError,
    EpcErrorReason,
    check_digit,
    decode_epc,
    encode_giai,
    encode_grai,
    encode_sgln,
    encode_sgtin,
    encode_sscc,
    escape_uri_component,
    gtin_serial_of,
    parse_sgtin_uri,
    unescape_uri_component,
)
from readers.epc.sgtin_plus import URN_CODE40, encode_sgtin_plus

filters = st.integers(0, 7)
prefix_lengths = st.integers(6, 12)
serial_text = st.text(alphabet=SERIAL_CHARACTERS, min_size=1, max_size=20)


def digits(n: int) -> st.SearchStrategy[str]:
    return st.text(alphabet="0123456789", min_size=n, max_size=n)


@st.composite
def gtin14s(draw: st.DrawFn) -> str:
    body = draw(digits(13))
    return body + check_digit(body)


@given(gtin=gtin14s(), serial=st.integers(0, 2**38 - 1), f=filters, cpl=prefix_lengths)
def test_sgtin96_round_trip(gtin: str, serial: int, f: int, cpl: int) -> None:
    epc = encode_sgtin(gtin, str(serial), filter=f, company_prefix_length=cpl)
    assert len(epc) == 12
    d = decode_epc(epc)
    assert (d.scheme, d.filter, d.gtin14, d.serial) == ("sgtin-96", f, gtin, str(serial))
    assert d.company_prefix == gtin[1 : 1 + cpl]
    assert d.partition == 12 - cpl
    item_ref = gtin[0] + gtin[1 + cpl : 13]
    assert d.uri == f"urn:epc:id:sgtin:{gtin[1 : 1 + cpl]}.{item_ref}.{serial}"
    assert d.tag_uri == f"urn:epc:tag:sgtin-96:{f}.{gtin[1 : 1 + cpl]}.{item_ref}.{serial}"
    assert d.identity == f"(01){gtin}(21){serial}"
    assert gtin_serial_of(epc) == (gtin, str(serial))
    assert decode_epc(epc.hex()) == d


@given(gtin=gtin14s(), serial=serial_text, f=filters, cpl=prefix_lengths)
def test_sgtin198_round_trip(gtin: str, serial: str, f: int, cpl: int) -> None:
    epc = encode_sgtin(gtin, serial, scheme="sgtin-198", filter=f, company_prefix_length=cpl)
    assert len(epc) == 26
    for form in (epc, epc[:25]):  # 13 words, or the 25 bytes that hold 198 bits
        d = decode_epc(form)
        assert (d.scheme, d.filter, d.gtin14, d.serial) == ("sgtin-198", f, gtin, serial)
        assert d.company_prefix == gtin[1 : 1 + cpl]
        item_ref = gtin[0] + gtin[1 + cpl : 13]
        assert d.uri == f"urn:epc:id:sgtin:{gtin[1 : 1 + cpl]}.{item_ref}.{escape_uri_component(serial)}"
        assert unescape_uri_component(d.uri.split(".", 2)[2]) == serial
        assert parse_sgtin_uri(d.uri) == (gtin, serial, cpl)
    assert gtin_serial_of(epc) == (gtin, serial)


def test_sgtin198_every_character() -> None:
    chars = SERIAL_CHARACTERS
    assert len(chars) == 82
    for i in range(0, len(chars), 20):
        chunk = chars[i : i + 20]
        epc = encode_sgtin("80614141123458", chunk, scheme="sgtin-198")
        assert decode_epc(epc).serial == chunk
        assert decode_epc(encode_sgtin("80614141123458", chunk, scheme="sgtin+")).serial == chunk


@given(gtin=gtin14s(), serial=serial_text, f=filters)
def test_sgtin_plus_round_trip(gtin: str, serial: str, f: int) -> None:
    epc = encode_sgtin(gtin, serial, scheme="sgtin+", filter=f)
    assert len(epc) % 2 == 0
    d = decode_epc(epc)
    assert (d.scheme, d.filter, d.gtin14, d.serial, d.aidc_toggle) == ("sgtin+", f, gtin, serial, 0)
    assert d.uri is None and d.company_prefix is None
    assert d.identity == f"(01){gtin}(21){serial}"
    assert gtin_serial_of(epc) == (gtin, serial)


def _sgtin_plus_indicator(epc: bytes) -> tuple[int, int]:
    v = int.from_bytes(epc, "big") >> (8 * len(epc) - 76)
    return (v >> 5) & 7, v & 31


def test_sgtin_plus_picks_each_encoding() -> None:
    gtin = "80614141123458"
    for serial, indicator in [
        ("1234567", 0),
        ("0", 0),
        ("0123", 1),  # leading zero: not sent as an integer
        ("ABC1", 1),
        ("abc1", 2),
        ("Ab-_9", 3),
        ("a/b", 4),
    ]:
        epc = encode_sgtin(gtin, serial, scheme="sgtin+")
        assert _sgtin_plus_indicator(epc) == (indicator, len(serial)), serial
        assert decode_epc(epc).serial == serial


# URN Code 40 values 1-39 (0 is the pad), written out here independently of the codec.
CODE40 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ-.:0123456789"


@given(gtin=gtin14s(), serial=st.text(alphabet=CODE40, min_size=1, max_size=20), f=filters)
def test_sgtin_plus_code40_round_trip(gtin: str, serial: str, f: int) -> None:
    epc = encode_sgtin_plus(gtin, serial, f, encoding=URN_CODE40)
    groups = -(-len(serial) // 3)
    assert len(epc) == 2 * -(-(76 + 16 * groups) // 16)  # 76 bits before the data, word-padded
    assert _sgtin_plus_indicator(epc) == (URN_CODE40, len(serial))
    value, nbits = int.from_bytes(epc, "big"), 8 * len(epc)
    for g in range(groups):
        chunk = [CODE40.index(ch) + 1 for ch in serial[3 * g : 3 * g + 3]]
        c1, c2, c3 = chunk + [0] * (3 - len(chunk))
        assert (value >> (nbits - 76 - 16 * (g + 1))) & 0xFFFF == c1 * 1600 + c2 * 40 + c3 + 1
    assert value & ((1 << (nbits - 76 - 16 * groups)) - 1) == 0  # word padding is zero
    d = decode_epc(epc)
    assert (d.scheme, d.filter, d.gtin14, d.serial, d.aidc_toggle) == ("sgtin+", f, gtin, serial, 0)
    assert d.identity == f"(01){gtin}(21){serial}"
    assert gtin_serial_of(epc) == (gtin, serial)


@given(
    gtin=gtin14s(),
    f=filters,
    length=st.integers(1, 20),
    words=st.lists(st.integers(0, 0xFFFF), min_size=7, max_size=7),
)
def test_sgtin_plus_code40_decode_then_encode_is_identity_on_bits(
    gtin: str, f: int, length: int, words: list[int]
) -> None:
    groups = -(-length // 3)
    value = (0xF7 << 60) | (f << 56) | int(gtin, 16)  # header | toggle 0 | filter | BCD GTIN
    value = (value << 8) | (URN_CODE40 << 5) | length
    for word in words[:groups]:
        value = (value << 16) | word
    nbits = 76 + 16 * groups
    total = -(-nbits // 16) * 16
    raw = (value << (total - nbits)).to_bytes(total // 8, "big")
    try:
        d = decode_epc(raw)
    except EpcError as exc:
        assert exc.reason in (EpcErrorReason.BAD_ENCODING, EpcErrorReason.SERIAL_CHARACTER)
        assert gtin_serial_of(raw) is None
        return
    assert d.gtin14 == gtin and d.serial is not None and len(d.serial) == length
    assert encode_sgtin_plus(gtin, d.serial, f, encoding=URN_CODE40) == raw


@given(raw=st.binary(min_size=12, max_size=12))
def test_sgtin96_decode_then_encode_is_identity_on_bits(raw: bytes) -> None:
    raw = b"\x30" + raw[1:]
    try:
        d = decode_epc(raw)
    except EpcError:
        assert gtin_serial_of(raw) is None
        return
    assert d.gtin14 is not None and d.serial is not None and d.company_prefix is not None
    again = encode_sgtin(d.gtin14, d.serial, filter=d.filter, company_prefix_length=len(d.company_prefix))
    assert again == raw
    assert gtin_serial_of(raw) == (d.gtin14, d.serial)


@given(raw=st.binary(min_size=25, max_size=25))
def test_sgtin198_decode_then_encode_is_identity_on_bits(raw: bytes) -> None:
    raw = b"\x36" + raw[1:-1] + bytes([raw[-1] & 0xC0])  # 198 bits, padding zero
    try:
        d = decode_epc(raw)
    except EpcError:
        return
    assert d.gtin14 is not None and d.serial is not None and d.company_prefix is not None
    again = encode_sgtin(
        d.gtin14,
        d.serial,
        scheme="sgtin-198",
        filter=d.filter,
        company_prefix_length=len(d.company_prefix),
    )
    assert again[:25] == raw


@given(body=digits(17), f=filters, cpl=prefix_lengths)
def test_sscc96_round_trip(body: str, f: int, cpl: int) -> None:
    sscc = body + check_digit(body)
    d = decode_epc(encode_sscc(sscc, filter=f, company_prefix_length=cpl))
    assert (d.scheme, d.filter, d.gs1_key) == ("sscc-96", f, sscc)
    assert d.uri == f"urn:epc:id:sscc:{sscc[1 : 1 + cpl]}.{sscc[0]}{sscc[1 + cpl : 17]}"
    assert d.serial is None and d.gtin14 is None


@given(body=digits(12), serial=st.integers(0, 2**38 - 1), f=filters, cpl=prefix_lengths)
def test_grai96_round_trip(body: str, serial: int, f: int, cpl: int) -> None:
    key13 = "0" + body
    grai = key13 + check_digit(key13) + str(serial)
    d = decode_epc(encode_grai(grai, filter=f, company_prefix_length=cpl))
    assert (d.scheme, d.filter, d.gs1_key, d.serial) == ("grai-96", f, grai, str(serial))
    assert d.company_prefix == body[:cpl] and d.asset_type == body[cpl:]
    assert d.uri == f"urn:epc:id:grai:{body[:cpl]}.{body[cpl:]}.{serial}"


@st.composite
def giais(draw: st.DrawFn) -> tuple[str, int]:
    cpl = draw(prefix_lengths)
    ref_bits = {12: 42, 11: 45, 10: 48, 9: 52, 8: 55, 7: 58, 6: 62}[cpl]
    asset = draw(st.integers(0, 2**ref_bits - 1))
    return draw(digits(cpl)) + str(asset), cpl


@given(giai_cpl=giais(), f=filters)
def test_giai96_round_trip(giai_cpl: tuple[str, int], f: int) -> None:
    giai, cpl = giai_cpl
    d = decode_epc(encode_giai(giai, filter=f, company_prefix_length=cpl))
    assert (d.scheme, d.filter, d.gs1_key) == ("giai-96", f, giai)
    assert d.uri == f"urn:epc:id:giai:{giai[:cpl]}.{giai[cpl:]}"


@given(body=digits(12), ext=st.integers(0, 2**41 - 1), f=filters, cpl=prefix_lengths)
def test_sgln96_round_trip(body: str, ext: int, f: int, cpl: int) -> None:
    gln = body + check_digit(body)
    d = decode_epc(encode_sgln(gln, str(ext), filter=f, company_prefix_length=cpl))
    assert (d.scheme, d.filter, d.gln, d.extension) == ("sgln-96", f, gln, str(ext))
    assert d.uri == f"urn:epc:id:sgln:{body[:cpl]}.{body[cpl:]}.{ext}"
    assert d.element_string == f"(414){gln}" + (f"(254){ext}" if ext else "")


@given(serial=st.text(alphabet=SERIAL_CHARACTERS, max_size=40))
def test_uri_escaping_round_trip(serial: str) -> None:
    escaped = escape_uri_component(serial)
    assert unescape_uri_component(escaped) == serial
    assert unescape_uri_component(escaped.replace("%2F", "%2f").replace("%3F", "%3f")) == serial
    assert not set(escaped) & set('"&/<>?')


_HEADERS = [0x00, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0xE2, 0xF7, 0xF9, 0xFF]


@settings(max_examples=500)
@given(head=st.sampled_from(_HEADERS), tail=st.binary(max_size=40))
def test_arbitrary_bytes_only_raise_epc_error(head: int, tail: bytes) -> None:
    raw = bytes([head]) + tail
    try:
        d = decode_epc(raw)
    except EpcError as exc:
        assert exc.reason.value and exc.detail
    else:
        assert d.hex == raw.hex().upper()
        assert d.to_json()["scheme"] == d.scheme
    result = gtin_serial_of(raw)
    assert result is None or (len(result[0]) == 14 and result[1])


@given(raw=st.binary(max_size=40))
def test_fully_random_bytes_only_raise_epc_error(raw: bytes) -> None:
    try:
        d = decode_epc(raw)
    except EpcError as exc:
        assert isinstance(exc.reason, EpcErrorReason)
    else:
        assert d.hex == raw.hex().upper()


@given(text=st.text(max_size=60))
def test_arbitrary_text_only_raises_epc_error(text: str) -> None:
    try:
        d = decode_epc(text)
    except EpcError as exc:
        assert isinstance(exc.reason, EpcErrorReason)
    else:
        assert d.hex == text.strip().upper()


def test_parse_sgtin_uri_rejects() -> None:
    good = "urn:epc:id:sgtin:0614141.812345.32a%2Fb"
    assert parse_sgtin_uri(good) == ("80614141123458", "32a/b", 7)
    for bad in [
        "urn:epc:id:sgtin:0614141.812345.32a/b",  # '/' must be escaped
        "urn:epc:id:sgtin:0614141.812345.%2G",  # not one of the seven escapes
        "urn:epc:id:sgtin:0614141.81234.1",  # 12 digits
        "urn:epc:id:sgtin:0614141.812345.",  # empty serial
        "urn:epc:id:sgtin:0614141.812345.a b",  # space
        "urn:epc:id:sscc:0614141.1234567890",
        "urn:epc:id:sgtin:0614141812345",
    ]:
        try:
            parse_sgtin_uri(bad)
        except EpcError as exc:
            assert isinstance(exc.reason, EpcErrorReason)
        else:
            raise AssertionError(f"accepted {bad!r}")
