"""Session servers for tests and benchmarks: PostgreSQL and MQTT, throwaway unless pointed elsewhere.

`SHELFSIGHT_TEST_DSN` (a libpq DSN of a server where we may CREATE DATABASE, e.g. one with
TimescaleDB) and `SHELFSIGHT_TEST_MQTT` (`host:port`) replace the throwaway servers.
"""

from __future__ import annotations

import itertools
import os
import uuid
from dataclasses import dataclass, field

import psycopg
from psycopg import conninfo, sql

from shelfsight.embedded.broker import Broker, start_broker
from shelfsight.embedded.postgres import PostgresServer


@dataclass
class PgHandle:
    """A PostgreSQL server the tests may create databases on."""

    admin_dsn: str
    server: PostgresServer | None = None  # None: external (cannot be stopped by tests)
    _templates: dict[str, str] = field(default_factory=dict)
    _counter: itertools.count[int] = field(default_factory=itertools.count)
    _timescale: bool | None = None
    _created: list[str] = field(default_factory=list)

    @property
    def external(self) -> bool:
        return self.server is None

    def dsn_for(self, dbname: str) -> str:
        return conninfo.make_conninfo(self.admin_dsn, dbname=dbname)

    def create_database(self, prefix: str = "t", template: str | None = None) -> str:
        name = f"{prefix}_{os.getpid()}_{next(self._counter)}_{uuid.uuid4().hex[:6]}"
        query = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template is not None:
            query = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template)
            )
        with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
            conn.execute(query)
        self._created.append(name)
        return self.dsn_for(name)

    def migrated_database(self, prefix: str = "m") -> str:
        """A fresh database with every migration applied (cloned from a migrated template)."""
        from shelfsight.db import migrate

        if self.timescale_available():
            # No template cloning with TimescaleDB: its scheduler keeps a background worker
            # connected to every database with the extension, and CREATE DATABASE ... TEMPLATE
            # fails while anyone is connected to the template.
            dsn = self.create_database(prefix)
            migrate(dsn)
            return dsn
        if "migrated" not in self._templates:
            dsn = self.create_database("tmpl")
            migrate(dsn)
            self._templates["migrated"] = conninfo.conninfo_to_dict(dsn)["dbname"]  # type: ignore[assignment]
        return self.create_database(prefix, template=self._templates["migrated"])

    def timescale_available(self) -> bool:
        if self._timescale is None:
            with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
                row = conn.execute(
                    "SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'"
                ).fetchone()
            self._timescale = row is not None
        return self._timescale

    def close(self) -> None:
        if self.server is not None:
            self.server.close()  # a throwaway server goes whole
            return
        # Someone else's server: leave it as we found it.
        with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
            for name in reversed(self._created):
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )


def session_postgres() -> PgHandle:
    external = os.environ.get("SHELFSIGHT_TEST_DSN")
    if external:
        return PgHandle(admin_dsn=external)
    server = PostgresServer()
    server.start()
    return PgHandle(admin_dsn=server.dsn(), server=server)


@dataclass
class MqttHandle:
    host: str
    port: int
    kind: str
    broker: Broker | None = None

    def close(self) -> None:
        if self.broker is not None:
            self.broker.close()


def session_mqtt() -> MqttHandle:
    external = os.environ.get("SHELFSIGHT_TEST_MQTT")
    if external:
        host, _, port = external.rpartition(":")
        return MqttHandle(host or "127.0.0.1", int(port), "external")
    broker = start_broker()
    return MqttHandle(broker.host, broker.port, broker.kind, broker)
