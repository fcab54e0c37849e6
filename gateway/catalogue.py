"""Catalogue imports: products, stores and warehouse stock from CSV, validated row by row.

Each CSV row is parsed into a typed model; a bad row is reported with its line number and reason
and left out, the good rows are upserted in one transaction (all or nothing for the good rows).
Headers must name the model's columns exactly (a misspelt column is an error, not ignored).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

import psycopg
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from readers.epc.gtin import check_digit


def _blank_to_none(value: object) -> object:
    return None if isinstance(value, str) and value.strip() == "" else value


def _gtin14(value: str) -> str:
    """GTIN-8/12/13/14 with a valid GS1 check digit, left-padded to 14 digits."""
    text = value.strip()
    if not text.isdigit() or len(text) not in (8, 12, 13, 14):
        raise ValueError("GTIN must be 8, 12, 13 or 14 digits")
    text = text.zfill(14)
    if check_digit(text[:13]) != text[13]:
        raise ValueError(f"GTIN {text} has a wrong check digit (expected {check_digit(text[:13])})")
    return text


Gtin = Annotated[str, AfterValidator(_gtin14)]
Ident = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
Money = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2)]
OptMoney = Annotated[Money | None, BeforeValidator(_blank_to_none)]
OptText = Annotated[str | None, BeforeValidator(_blank_to_none)]


class ProductRow(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    gtin: Gtin
    sku: OptText = None
    style: Annotated[Ident | None, BeforeValidator(_blank_to_none)] = None  # sizes share it
    name: Annotated[str, Field(min_length=1)]
    size: OptText = None
    price: Money
    cost: Money
    markdown_date: Annotated[date | None, BeforeValidator(_blank_to_none)] = None
    markdown_price: OptMoney = None
    salvage_value: OptMoney = None

    @model_validator(mode="after")
    def _prices_consistent(self) -> ProductRow:
        if self.markdown_price is not None and self.markdown_price > self.price:
            raise ValueError("markdown_price is above price")
        if (self.markdown_price is None) != (self.markdown_date is None):
            raise ValueError("markdown_date and markdown_price go together")
        return self


class StoreRow(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    store_id: Ident
    name: Annotated[str, Field(min_length=1)]
    kind: Literal["shop", "warehouse"]
    lat: Annotated[float, Field(ge=-90, le=90)]
    lon: Annotated[float, Field(ge=-180, le=180)]
    pick_capacity: Annotated[int, Field(ge=0), BeforeValidator(_blank_to_none)] = 0

    @model_validator(mode="before")
    @classmethod
    def _default_capacity(cls, data: Any) -> Any:
        if isinstance(data, dict) and _blank_to_none(data.get("pick_capacity")) is None:
            data = {k: v for k, v in data.items() if k != "pick_capacity"}
        return data


class WarehouseStockRow(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    warehouse_id: Ident
    gtin: Gtin
    on_hand: Annotated[int, Field(ge=0)]
    updated_at: Annotated[datetime | None, BeforeValidator(_blank_to_none)] = None

    @model_validator(mode="after")
    def _aware(self) -> WarehouseStockRow:
        if self.updated_at is not None and self.updated_at.utcoffset() is None:
            raise ValueError("updated_at needs a timezone (e.g. 2026-03-01T10:00:00Z)")
        return self


class CatalogueKind(StrEnum):
    PRODUCTS = "products"
    STORES = "stores"
    WAREHOUSE_STOCK = "warehouse_stock"


@dataclass(frozen=True)
class _Spec:
    model: type[BaseModel]
    key: tuple[str, ...]
    sql: str


_SPECS: dict[CatalogueKind, _Spec] = {
    CatalogueKind.PRODUCTS: _Spec(
        ProductRow, ("gtin",),
        "INSERT INTO products (gtin, sku, style, name, size, price, cost, markdown_date,"
        " markdown_price, salvage_value) VALUES (%(gtin)s, %(sku)s, %(style)s, %(name)s, %(size)s,"
        " %(price)s, %(cost)s, %(markdown_date)s, %(markdown_price)s, %(salvage_value)s)"
        " ON CONFLICT (gtin) DO UPDATE SET sku = excluded.sku, style = excluded.style,"
        " name = excluded.name,"
        " size = excluded.size, price = excluded.price, cost = excluded.cost,"
        " markdown_date = excluded.markdown_date, markdown_price = excluded.markdown_price,"
        " salvage_value = excluded.salvage_value",
    ),
    CatalogueKind.STORES: _Spec(
        StoreRow, ("store_id",),
        "INSERT INTO stores (store_id, name, kind, lat, lon, pick_capacity)"
        " VALUES (%(store_id)s, %(name)s, %(kind)s, %(lat)s, %(lon)s, %(pick_capacity)s)"
        " ON CONFLICT (store_id) DO UPDATE SET name = excluded.name, kind = excluded.kind,"
        " lat = excluded.lat, lon = excluded.lon, pick_capacity = excluded.pick_capacity",
    ),
    CatalogueKind.WAREHOUSE_STOCK: _Spec(
        WarehouseStockRow, ("warehouse_id", "gtin"),
        "INSERT INTO warehouse_stock (warehouse_id, gtin, on_hand, updated_at)"
        " VALUES (%(warehouse_id)s, %(gtin)s, %(on_hand)s, coalesce(%(updated_at)s, now()))"
        " ON CONFLICT (warehouse_id, gtin) DO UPDATE SET on_hand = excluded.on_hand,"
        " updated_at = excluded.updated_at",
    ),
}


class CatalogueFormatError(ValueError):
    """The file as a whole cannot be read (unreadable, or its header is wrong)."""


@dataclass(frozen=True)
class RowError:
    line: int
    reason: str


@dataclass(frozen=True)
class ParseResult:
    rows: tuple[BaseModel, ...]
    errors: tuple[RowError, ...]
    lines: tuple[int, ...] = ()  # the line of each row


@dataclass(frozen=True)
class ImportReport:
    kind: CatalogueKind
    upserted: int
    errors: tuple[RowError, ...]

    @property
    def ok(self) -> bool:
        return not self.errors


def _reason(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"])
        parts.append(f"{where}: {err['msg']}" if where else str(err["msg"]))
    return "; ".join(parts)


def parse_rows(
    kind: CatalogueKind, text: Iterable[str], on_row: Callable[[], None] | None = None
) -> ParseResult:
    """Validate CSV text row by row; line numbers are the file's (the header is line 1)."""
    spec = _SPECS[kind]
    reader = csv.DictReader(text)
    header = [h.strip() for h in (reader.fieldnames or [])]
    fields = set(spec.model.model_fields)
    required = {n for n, f in spec.model.model_fields.items() if f.is_required()}
    if missing := sorted(required - set(header)):
        raise CatalogueFormatError(f"line 1: missing column(s) {', '.join(missing)}")
    if unknown := sorted(set(header) - fields):
        raise CatalogueFormatError(f"line 1: unknown column(s) {', '.join(unknown)}")
    reader.fieldnames = header
    rows: list[BaseModel] = []
    lines: list[int] = []
    errors: list[RowError] = []
    seen: dict[tuple[object, ...], int] = {}
    start = reader.line_num + 1
    for raw in reader:
        line, start = start, reader.line_num + 1
        if on_row is not None:
            on_row()
        if None in raw:
            extra = raw[None]
            errors.append(RowError(line, f"{len(header) + len(extra)} fields, header has {len(header)}"))
            continue
        if not any((v or "").strip() for v in raw.values()):
            continue  # a blank line
        try:
            row = spec.model.model_validate({k: v for k, v in raw.items() if v is not None})
        except ValidationError as exc:
            errors.append(RowError(line, _reason(exc)))
            continue
        key = tuple(getattr(row, k) for k in spec.key)
        if key in seen:
            errors.append(RowError(line, f"duplicate of line {seen[key]} ({', '.join(map(str, key))})"))
            continue
        seen[key] = line
        rows.append(row)
        lines.append(line)
    return ParseResult(tuple(rows), tuple(errors), tuple(lines))


def _check_references(
    conn: psycopg.Connection[Any], kind: CatalogueKind, parsed: ParseResult
) -> ParseResult:
    """Warehouse stock must name a store of kind 'warehouse' (known before the import)."""
    if kind is not CatalogueKind.WAREHOUSE_STOCK:
        return parsed
    warehouses = {
        str(r[0]) for r in conn.execute("SELECT store_id FROM stores WHERE kind = 'warehouse'")
    }
    good: list[BaseModel] = []
    good_lines: list[int] = []
    errors = list(parsed.errors)
    for row, line in zip(parsed.rows, parsed.lines, strict=True):
        assert isinstance(row, WarehouseStockRow)
        if row.warehouse_id in warehouses:
            good.append(row)
            good_lines.append(line)
        else:
            errors.append(RowError(line, f"warehouse_id {row.warehouse_id!r} is not a known warehouse"))
    errors.sort(key=lambda e: e.line)
    return ParseResult(tuple(good), tuple(errors), tuple(good_lines))


def upsert(conn: psycopg.Connection[Any], kind: CatalogueKind, rows: Sequence[BaseModel]) -> int:
    """Upsert validated rows in the caller's transaction."""
    if not rows:
        return 0
    with conn.cursor() as cur:
        cur.executemany(_SPECS[kind].sql, [r.model_dump() for r in rows])
    return len(rows)


def import_file(
    dsn: str,
    kind: CatalogueKind,
    path: Path,
    on_row: Callable[[], None] | None = None,
) -> ImportReport:
    """Validate `path` and upsert its good rows in one transaction; bad rows are reported."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            parsed = parse_rows(kind, fh, on_row)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise CatalogueFormatError(f"{path}: {exc}") from exc
    with psycopg.connect(dsn) as conn, conn.transaction():
        parsed = _check_references(conn, kind, parsed)
        count = upsert(conn, kind, parsed.rows)
    return ImportReport(kind, count, parsed.errors)
