"""Database plumbing: connection pools and versioned migrations.

Migrations are SQL files `NNNN_name.sql` in each component's `migrations/` folder
(`gateway` owns the time-series schema, `allocator` its own tables). When the TimescaleDB
extension is available, a twin `NNNN_name.timescale.sql` is applied *instead of* the plain
file, so that the TimescaleDB-specific SQL stays small and isolated. Each migration runs in
its own transaction under an advisory lock and is recorded in `shelfsight_migrations`.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

log = logging.getLogger(__name__)

COMPONENTS: tuple[str, ...] = ("gateway", "allocator")
_MIGRATION_RE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_LOCK_KEY = 0x5E1F5167  # advisory lock id for migrations


@dataclass(frozen=True)
class Migration:
    component: str
    version: int
    name: str
    plain: str
    timescale: str | None

    def sql(self, with_timescale: bool) -> str:
        return self.timescale if with_timescale and self.timescale is not None else self.plain

    def checksum(self, with_timescale: bool) -> str:
        return hashlib.sha256(self.sql(with_timescale).encode()).hexdigest()[:16]


def discover(components: tuple[str, ...] = COMPONENTS) -> list[Migration]:
    """Every migration shipped in the packages, in application order."""
    found: list[Migration] = []
    for component in components:
        folder: Traversable = resources.files(component) / "migrations"
        if not folder.is_dir():
            continue
        names = {entry.name for entry in folder.iterdir()}
        for name in sorted(names):
            m = _MIGRATION_RE.match(name)
            if not m:
                continue
            twin = name.removesuffix(".sql") + ".timescale.sql"
            found.append(
                Migration(
                    component=component,
                    version=int(m.group(1)),
                    name=m.group(2),
                    plain=(folder / name).read_text(),
                    timescale=(folder / twin).read_text() if twin in names else None,
                )
            )
    return found


def timescale_available(conn: psycopg.Connection[Any]) -> bool:
    """True when the TimescaleDB extension is installed or can be created here."""
    row = conn.execute(
        "SELECT installed_version IS NOT NULL, true FROM pg_available_extensions"
        " WHERE name = 'timescaledb'"
    ).fetchone()
    if row is None:
        return False
    if row[0]:
        return True
    try:
        with conn.transaction():
            conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    except psycopg.Error as exc:
        log.warning("timescaledb is available but cannot be created: %s", exc)
        return False
    return True


@dataclass(frozen=True)
class MigrationResult:
    applied: list[str]
    timescale: bool


def migrate(dsn: str, components: tuple[str, ...] = COMPONENTS) -> MigrationResult:
    """Apply pending migrations; a second run applies nothing."""
    migrations = discover(components)
    applied: list[str] = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            ts = timescale_available(conn)
            conn.execute(
                "CREATE TABLE IF NOT EXISTS shelfsight_migrations ("
                " component text NOT NULL, version int NOT NULL, name text NOT NULL,"
                " checksum text NOT NULL, timescale boolean NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now(),"
                " PRIMARY KEY (component, version))"
            )
            done = {
                (str(c), int(v))
                for c, v in conn.execute(
                    "SELECT component, version FROM shelfsight_migrations"
                ).fetchall()
            }
            for mig in migrations:
                if (mig.component, mig.version) in done:
                    continue
                with conn.transaction():
                    conn.execute(mig.sql(ts).encode())
                    conn.execute(
                        "INSERT INTO shelfsight_migrations"
                        " (component, version, name, checksum, timescale)"
                        " VALUES (%s, %s, %s, %s, %s)",
                        (mig.component, mig.version, mig.name, mig.checksum(ts), ts),
                    )
                label = f"{mig.component}/{mig.version:04d}_{mig.name}"
                log.info("applied migration %s (timescale=%s)", label, ts)
                applied.append(label)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
    return MigrationResult(applied=applied, timescale=ts)


def pending(conn: psycopg.Connection[Any], components: tuple[str, ...] = COMPONENTS) -> list[str]:
    """Migrations shipped but not applied (readiness checks use this)."""
    try:
        rows = conn.execute("SELECT component, version FROM shelfsight_migrations").fetchall()
    except psycopg.errors.UndefinedTable:
        conn.rollback()
        rows = []
    done = {(str(c), int(v)) for c, v in rows}
    return [
        f"{m.component}/{m.version:04d}_{m.name}"
        for m in discover(components)
        if (m.component, m.version) not in done
    ]


def make_pool(dsn: str, min_size: int = 1, max_size: int = 8, name: str = "shelfsight") -> ConnectionPool:
    """A connection pool; opened by the caller (`pool.open(wait=True)`) so nothing connects early."""
    return ConnectionPool(dsn, min_size=min_size, max_size=max_size, open=False, name=name)
