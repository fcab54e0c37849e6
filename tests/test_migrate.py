"""`shelfsight db migrate` applies every migration once; a second run changes nothing."""

from __future__ import annotations

import json

import psycopg
from typer.testing import CliRunner

from shelfsight.cli import app
from shelfsight.db import discover, pending

runner = CliRunner()


def _schema_fingerprint(dsn: str) -> list[tuple[object, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns"
            " WHERE table_schema = 'public' ORDER BY 1, 2"
        ).fetchall()


def test_migrate_twice_changes_nothing(pg_dsn: str) -> None:
    first = runner.invoke(app, ["db", "migrate", "--dsn", pg_dsn, "--json"])
    assert first.exit_code == 0, first.output
    applied = json.loads(first.output.strip().splitlines()[-1])["applied"]
    assert len(applied) == len(discover())
    before = _schema_fingerprint(pg_dsn)
    second = runner.invoke(app, ["db", "migrate", "--dsn", pg_dsn, "--json"])
    assert second.exit_code == 0, second.output
    assert json.loads(second.output.strip().splitlines()[-1])["applied"] == []
    assert _schema_fingerprint(pg_dsn) == before
    with psycopg.connect(pg_dsn) as conn:
        assert pending(conn) == []
        count = conn.execute("SELECT count(*) FROM shelfsight_migrations").fetchone()
        assert count == (len(discover()),)


def test_pending_lists_unapplied(pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn) as conn:
        assert len(pending(conn)) == len(discover())
