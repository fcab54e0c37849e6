"""Catalogue imports validate each row, report bad ones by line, and upsert the good ones."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from gateway.catalogue import CatalogueFormatError, CatalogueKind, ProductRow, parse_rows
from shelfsight.cli import app

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def _cli(*args: str) -> tuple[int, str, str]:
    res = runner.invoke(app, list(args))
    return res.exit_code, res.stdout, res.stderr


def test_demo_catalogue_imports_cleanly(pg_migrated_dsn: str) -> None:
    code, out, _ = _cli("db", "import-stores", str(ROOT / "config/stores-demo.csv"),
                        "--dsn", pg_migrated_dsn, "--json")
    assert code == 0 and json.loads(out)["upserted"] == 4
    code, out, _ = _cli("db", "import-products", str(ROOT / "config/products-demo.csv"),
                        "--dsn", pg_migrated_dsn, "--json")
    assert code == 0 and json.loads(out) == {"kind": "products", "upserted": 20, "rejected": []}
    with psycopg.connect(pg_migrated_dsn) as conn:
        kinds = conn.execute("SELECT kind, count(*) FROM stores GROUP BY kind ORDER BY 1").fetchall()
        assert kinds == [("shop", 3), ("warehouse", 1)]
        assert conn.execute("SELECT count(*) FROM products").fetchone() == (20,)
        sizes = conn.execute("SELECT gtin FROM products WHERE style = 'TRAIL-SHOE' ORDER BY 1")
        assert [g for (g,) in sizes.fetchall()] == ["00614141001033", "00614141001040",
                                                     "00614141001057"]


def test_style_is_optional_and_checked() -> None:
    text = ["gtin,style,name,price,cost\n", "00614141001002,RUN-TEE,Tee,24.99,8.10\n",
            "00614141001019,,Tee L,24.99,8.10\n", "00614141001026,run tee,Shorts,1,1\n"]
    res = parse_rows(CatalogueKind.PRODUCTS, text)
    assert [r.style for r in res.rows if isinstance(r, ProductRow)] == ["RUN-TEE", None]
    assert [e.line for e in res.errors] == [4] and "style" in res.errors[0].reason


def test_bad_rows_are_reported_by_line_and_good_rows_upserted(
    pg_migrated_dsn: str, tmp_path: Path
) -> None:
    csv = tmp_path / "p.csv"
    csv.write_text(
        "gtin,sku,name,size,price,cost,markdown_date,markdown_price,salvage_value\n"
        "00614141001002,A,Tee,M,24.99,8.10,,,\n"
        "00614141001003,B,Bad check digit,M,24.99,8.10,,,\n"
        "\n"
        "614141001019,C,Tee L (GTIN-12),L,24.99,8.10,2026-07-01,14.99,3\n"
        "00614141001026,D,Negative,L,-1,8.10,,,\n"
        "00614141001002,E,Duplicate,M,1,1,,,\n"
        "00614141001033,F,Markdown above price,M,10,5,2026-07-01,12,\n"
    )
    code, out, err = _cli("db", "import-products", str(csv), "--dsn", pg_migrated_dsn, "--json")
    assert code == 1
    rejected = {r["line"]: r["reason"] for r in json.loads(out)["rejected"]}
    assert sorted(rejected) == [3, 6, 7, 8]
    assert "check digit" in rejected[3]
    assert "price" in rejected[6]
    assert "duplicate of line 2" in rejected[7]
    assert "markdown_price is above price" in rejected[8]
    assert f"{csv}:3: rejected" in err
    with psycopg.connect(pg_migrated_dsn) as conn:
        rows = conn.execute("SELECT gtin, price FROM products ORDER BY gtin").fetchall()
    assert rows == [("00614141001002", Decimal("24.99")), ("00614141001019", Decimal("24.99"))]

    # re-import with a new price: an upsert, not a duplicate
    csv.write_text("gtin,name,price,cost\n00614141001002,Tee,19.99,8.10\n")
    assert _cli("db", "import-products", str(csv), "--dsn", pg_migrated_dsn)[0] == 0
    with psycopg.connect(pg_migrated_dsn) as conn:
        price = conn.execute("SELECT price FROM products WHERE gtin = '00614141001002'").fetchone()
    assert price == (Decimal("19.99"),)


def test_warehouse_stock_needs_a_known_warehouse(pg_migrated_dsn: str, tmp_path: Path) -> None:
    _cli("db", "import-stores", str(ROOT / "config/stores-demo.csv"), "--dsn", pg_migrated_dsn)
    csv = tmp_path / "w.csv"
    csv.write_text(
        "warehouse_id,gtin,on_hand,updated_at\n"
        "wh-dartford,00614141001002,120,2026-03-01T08:00:00Z\n"
        "shop-soho,00614141001002,5,\n"
        "wh-dartford,00614141001019,7,2026-03-01T08:00:00\n"
        "wh-dartford,00614141001019,-3,\n"
    )
    code, out, _ = _cli("db", "import-warehouse-stock", str(csv), "--dsn", pg_migrated_dsn, "--json")
    assert code == 1
    report = json.loads(out)
    assert report["upserted"] == 1
    assert [r["line"] for r in report["rejected"]] == [3, 4, 5]
    assert "not a known warehouse" in report["rejected"][0]["reason"]
    assert "timezone" in report["rejected"][1]["reason"]


def test_header_errors_reject_the_whole_file(tmp_path: Path) -> None:
    with pytest.raises(CatalogueFormatError, match="unknown column"):
        parse_rows(CatalogueKind.PRODUCTS, ["gtin,name,price,cost,pric\n"])
    with pytest.raises(CatalogueFormatError, match="missing column"):
        parse_rows(CatalogueKind.STORES, ["store_id,name\n"])
    csv = tmp_path / "s.csv"
    csv.write_text("store_id,name\nx,y\n")
    code, _, err = _cli("db", "import-stores", str(csv), "--dsn", "host=127.0.0.1 port=1")
    assert code == 2 and "missing column" in err


def test_row_with_too_many_fields_is_rejected() -> None:
    result = parse_rows(CatalogueKind.STORES, [
        "store_id,name,kind,lat,lon\n", "a,A,shop,1,2,extra\n", "b,B,shop,1,2\n",
    ])
    assert [e.line for e in result.errors] == [2]
    assert len(result.rows) == 1


def test_gtin_is_normalised_to_14_digits() -> None:
    row = ProductRow.model_validate({"gtin": "614141001019", "name": "x", "price": "1", "cost": "1"})
    assert row.gtin == "00614141001019"
