"""Shared helpers of the JSON reader formats: timestamps, EPC text, columns, capture splitting.

Pure functions, no I/O. Timestamps are int nanoseconds since the Unix epoch, UTC.
"""

from __future__ import annotations

import base64
import binascii
import calendar
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

import msgspec
import numpy as np
import numpy.typing as npt

from readers.batch import ReadBatch
from readers.driver import InputError, InputErrorReason

NS_PER_S = 1_000_000_000
_MIN_YEAR = 1969  # a local time just before the epoch
_MAX_YEAR = 2261  # int64 nanoseconds end in April 2262

_BASE_RE = re.compile(r"(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d):(\d\d)\Z")
_CACHE_MAX = 8192
_base_cache: dict[str, int] = {}  # "YYYY-MM-DDTHH:MM:SS" -> epoch seconds, read as UTC
_zone_cache: dict[str, int] = {}  # seconds + offset of the common layouts -> ns of that second


def _base_seconds(base: str) -> int:
    sec = _base_cache.get(base)
    if sec is not None:
        return sec
    m = _BASE_RE.match(base)
    if m is None:
        raise InputError(InputErrorReason.BAD_FIELD, f"timestamp {base!r}")
    y, mo, d, h, mi, s = (int(g) for g in m.groups())
    if not _MIN_YEAR <= y <= _MAX_YEAR:
        raise InputError(InputErrorReason.BAD_FIELD, f"timestamp year {y}")
    try:
        dt = datetime(y, mo, d, h, mi, s)
    except ValueError:
        raise InputError(InputErrorReason.BAD_FIELD, f"timestamp {base!r}") from None
    sec = calendar.timegm(dt.timetuple())
    if len(_base_cache) >= _CACHE_MAX:
        _base_cache.clear()
    _base_cache[base] = sec
    return sec


def _offset_seconds(tz: str) -> int:
    """`Z`, `±hhmm`, `±hh:mm`, `±hh` or empty (read as UTC) -> seconds east of UTC."""
    if tz in ("", "Z", "z"):
        return 0
    sign = tz[0]
    digits = tz[1:].replace(":", "", 1) if len(tz) == 6 and tz[3] == ":" else tz[1:]
    if sign not in "+-" or len(digits) not in (2, 4) or not (digits.isascii() and digits.isdigit()):
        raise InputError(InputErrorReason.BAD_FIELD, f"timestamp offset {tz!r}")
    hours, minutes = int(digits[:2]), int(digits[2:] or 0)
    if hours > 23 or minutes > 59:
        raise InputError(InputErrorReason.BAD_FIELD, f"timestamp offset {tz!r}")
    off = hours * 3600 + minutes * 60
    return -off if sign == "-" else off


def parse_iso_ns(text: str) -> int:
    """ISO 8601 / RFC 3339 timestamp -> int64 ns UTC, keeping up to 9 fraction digits.

    Accepts what the readers send: `2023-02-24T10:14:42.851+0000` (Zebra, offset without a
    colon, possibly local), `2021-07-09T23:35:59.278427551Z` (Impinj, nanoseconds), `...Z`
    without a fraction, and `±hh:mm`. A timestamp without an offset is read as UTC. Anything
    else raises InputError(BAD_FIELD).
    """
    n = len(text)
    # Fast paths: the two layouts devices send, keyed on (seconds, offset) in one cache.
    if (n == 28 and text[19] == "." and text[23] in "+-") or (n == 30 and text[29] == "Z"):
        key = text[:19] + text[23:] if n == 28 else text[:19]
        frac = text[20:23] if n == 28 else text[20:29]
        base_ns = _zone_cache.get(key)
        if base_ns is not None and text[19] == "." and frac.isascii() and frac.isdigit():
            return base_ns + int(frac) * (1_000_000 if n == 28 else 1)
    return _parse_iso_slow(text)


def _parse_iso_slow(text: str) -> int:
    if len(text) < 19:
        raise InputError(InputErrorReason.BAD_FIELD, f"timestamp {text!r}")
    sec = _base_seconds(text[:19])
    tail = text[19:]
    frac = ""
    if tail.startswith("."):
        end = 1
        while end < len(tail) and "0" <= tail[end] <= "9":
            end += 1
        frac, tail = tail[1:end], tail[end:]
        if not frac:
            raise InputError(InputErrorReason.BAD_FIELD, f"timestamp {text!r}")
    base_ns = (sec - _offset_seconds(tail)) * NS_PER_S
    if len(frac) == 3 and tail and tail[0] in "+-" and len(tail) == 5:
        _remember(text[:19] + tail, base_ns)
    elif len(frac) == 9 and tail == "Z":
        _remember(text[:19], base_ns)
    return base_ns + (int(frac[:9].ljust(9, "0")) if frac else 0)


def parse_iso_many(texts: Sequence[str | None], default_ns: int) -> npt.NDArray[np.int64]:
    """`parse_iso_ns` of every text (None: `default_ns`) as an int64 array.

    Each distinct text is parsed once; many distinct texts in the device layout
    (`YYYY-MM-DDTHH:MM:SS.fff±hhmm`, one minute and offset per payload) are read column-wise.
    Raises InputError as `parse_iso_ns` would (for some bad text, not necessarily the first).
    """
    n = len(texts)
    uniq = dict.fromkeys(texts)
    if len(uniq) == 1:
        (only,) = uniq
        return np.full(n, default_ns if only is None else parse_iso_ns(only), dtype=np.int64)
    if len(uniq) > 8:
        out = _parse_ms_offset_column(texts)
        if out is not None:
            return out
    values = {t: default_ns if t is None else parse_iso_ns(t) for t in uniq}
    return np.fromiter(map(values.__getitem__, texts), dtype=np.int64, count=n)


_ZERO, _DOT, _PLUS, _MINUS = ord("0"), ord("."), ord("+"), ord("-")
# Columns that must equal the first text's (minute, '.', offset): 0xFF; seconds and ms digits: 0.
_SAME = np.full(28, 0xFF, dtype=np.uint8)
_SAME[[17, 18, 20, 21, 22]] = 0


def _parse_ms_offset_column(texts: Sequence[str | None]) -> npt.NDArray[np.int64] | None:
    """28-character `...HH:MM:SS.fff±hhmm` texts sharing minute and offset -> ns, column-wise;
    None when they do not (the caller parses them one distinct text at a time)."""
    try:
        raw = "".join(texts).encode("ascii")  # type: ignore[arg-type]  # TypeError on None
    except (TypeError, UnicodeEncodeError):
        return None
    m = len(texts)
    if len(raw) != 28 * m or min(map(len, texts)) != 28:  # type: ignore[arg-type]
        return None
    a = np.frombuffer(raw, dtype=np.uint8).reshape(m, 28)
    head = a[0]
    if head[19] != _DOT or head[23] not in (_PLUS, _MINUS) or bool(((a ^ head) & _SAME).any()):
        return None
    d = a[:, 17:23].astype(np.int64) - _ZERO  # S S . f f f
    d[:, 2] = 0
    if not (bool(((d >= 0) & (d <= 9)).all()) and bool((d[:, 0] <= 5).all())):
        return None
    first = texts[0]
    assert first is not None
    minute_ns = parse_iso_ns(f"{first[:17]}00.000{first[23:]}")  # validates date and offset
    out: npt.NDArray[np.int64] = minute_ns + (
        (d[:, 0] * 10 + d[:, 1]) * NS_PER_S + (d[:, 3] * 100 + d[:, 4] * 10 + d[:, 5]) * 1_000_000
    )
    return out


def clear_timestamp_cache() -> None:
    """Forget cached seconds (benchmarks use it to measure cold parsing)."""
    _zone_cache.clear()
    _base_cache.clear()


def _remember(key: str, base_ns: int) -> None:
    if len(_zone_cache) >= _CACHE_MAX:
        _zone_cache.clear()
    _zone_cache[key] = base_ns


def format_iso(time_ns: int, digits: int = 3, offset_minutes: int = 0, zulu: bool = False) -> str:
    """int ns UTC -> `YYYY-MM-DDTHH:MM:SS[.f{digits}]` + `Z` (zulu) or `±hhmm` local offset.

    Fraction digits beyond `digits` are truncated (a device clock does the same).
    """
    local_ns = time_ns + offset_minutes * 60 * NS_PER_S
    sec, sub = divmod(local_ns, NS_PER_S)
    st = time.gmtime(sec)
    out = (
        f"{st.tm_year:04d}-{st.tm_mon:02d}-{st.tm_mday:02d}"
        f"T{st.tm_hour:02d}:{st.tm_min:02d}:{st.tm_sec:02d}"
    )
    if digits > 0:
        out += "." + f"{sub:09d}"[:digits]
    if zulu and offset_minutes == 0:
        return out + "Z"
    sign = "-" if offset_minutes < 0 else "+"
    h, m = divmod(abs(offset_minutes), 60)
    return f"{out}{sign}{h:02d}{m:02d}"


def epc_from_hex(text: str) -> bytes:
    """EPC hex (either case, no separators, even length, non-empty) -> bytes, else BAD_EPC."""
    if not text or len(text) % 2 or not text.isascii() or not text.isalnum():
        raise InputError(InputErrorReason.BAD_EPC, f"epc {text[:40]!r}")
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise InputError(InputErrorReason.BAD_EPC, f"epc {text[:40]!r}") from None


_URLSAFE = str.maketrans("-_", "+/")


def epc_from_base64(text: str) -> bytes:
    """Base64 EPC, standard or URL-safe alphabet, padding optional -> bytes, else BAD_EPC."""
    if not text or not text.isascii():
        raise InputError(InputErrorReason.BAD_EPC, f"epc {text[:40]!r}")
    try:  # fast path: standard alphabet, padded, as the reader sends it
        raw = binascii.a2b_base64(text, strict_mode=True)
        if raw:
            return raw
    except (binascii.Error, ValueError):
        pass  # URL-safe alphabet or no padding: the lenient path below decides
    padded = text.translate(_URLSAFE)
    padded += "=" * (-len(padded) % 4)
    try:
        raw = base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        raise InputError(InputErrorReason.BAD_EPC, f"epc {text[:40]!r}") from None
    if not raw:
        raise InputError(InputErrorReason.BAD_EPC, "empty epc")
    return raw


@dataclass
class Columns:
    """Growing columns of one payload, turned into a ReadBatch at the end."""

    time_ns: list[int] = field(default_factory=list)
    antenna: list[int] = field(default_factory=list)
    epc: list[bytes] = field(default_factory=list)
    rssi: list[float] = field(default_factory=list)
    seq: list[int] = field(default_factory=list)
    phase: list[float] = field(default_factory=list)
    freq: list[int] = field(default_factory=list)
    count: list[int] = field(default_factory=list)  # read_count; filled only by formats reporting it
    has_phase: bool = False
    has_freq: bool = False
    has_count: bool = False  # some report folded a count other than 1 (`count` then full length)

    def __len__(self) -> int:
        return len(self.time_ns)

    def batch(self, reader: str) -> ReadBatch:
        return ReadBatch.from_columns(
            reader, self.time_ns, self.antenna, self.epc, self.rssi, self.seq,
            self.phase if self.has_phase else None, self.freq if self.has_freq else None,
            read_count=self.count if self.has_count else None,
        )


def split_capture(data: bytes) -> Iterator[bytes]:
    """A capture -> its payloads: one JSON document (object or array) as a whole, else one
    payload per non-blank line (JSON lines, NDJSON; CR-LF keep-alive lines are skipped)."""
    stripped = data.strip()
    if not stripped:
        return
    try:
        msgspec.json.decode(stripped)
    except msgspec.DecodeError:
        for line in stripped.splitlines():
            line = line.strip()
            if line:
                yield line
        return
    yield stripped


E = TypeVar("E")
_items = msgspec.json.Decoder(msgspec.Raw | list[msgspec.Raw])


def decode_one_by_one(
    payload: bytes, one: msgspec.json.Decoder[E], errors: list[InputError]
) -> list[E]:
    """A single object or an array, each element decoded on its own: a bad element is counted
    (BAD_FIELD) and the rest still decode."""
    try:
        raw = _items.decode(payload)
    except msgspec.DecodeError as exc:  # top level is neither an object nor an array
        errors.append(InputError(InputErrorReason.BAD_FIELD, str(exc)[:200]))
        return []
    out: list[E] = []
    for item in raw if isinstance(raw, list) else [raw]:
        try:
            out.append(one.decode(item))
        except msgspec.DecodeError as exc:
            errors.append(InputError(InputErrorReason.BAD_FIELD, str(exc)[:200]))
    return out
