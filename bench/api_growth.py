"""`shelfsight bench api-growth`: does a reservation cost more as open reservations pile up?

Starts its own PostgreSQL (durable), seeds `bench api`'s chain, serves the API with 2 workers and
drives allocate-and-reserve at `connections` connections in `windows` consecutive windows of
`seconds` each (after a short warm-up each), never releasing a reservation. Per window: rps, p99,
CPU per request of the API and of PostgreSQL, and the open reservations (rows, units) at its end.
The first window, on a fresh chain, is the baseline of the run: `growth` gives the last window's
PostgreSQL and API CPU per request over the first's (1.0: no growth).
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import tempfile
from pathlib import Path
from typing import Any

import psycopg

from allocator.api.auth import new_key
from bench import api
from shelfsight.db import migrate
from shelfsight.embedded.ports import free_port
from shelfsight.embedded.postgres import PostgresServer

WINDOW_WARMUP_S = 0.5


def _open_reservations(dsn: str) -> tuple[int, int]:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT count(*), coalesce(sum(qty - picked), 0) FROM reservations"
            " WHERE status = 'active'"
        ).fetchone()
    return (int(row[0]), int(row[1])) if row else (0, 0)


def run(windows: int = 8, seconds: float = 2.0, connections: int = 32) -> dict[str, Any]:
    """Measure; returns the JSON object `shelfsight bench api-growth` prints."""
    rng = random.Random(7)
    cli = str(Path(sys.executable).parent / "shelfsight")
    out: list[dict[str, Any]] = []
    with (
        tempfile.TemporaryDirectory(prefix="shelfsight-bench-growth-") as tmp,
        PostgresServer(durable=True) as pg,
    ):
        dsn = pg.create_database("bench")
        migrate(dsn)
        gtins, contended = api.seed(dsn, rng)
        key = new_key()
        with psycopg.connect(dsn) as conn:
            conn.execute(
                "INSERT INTO api_keys (key_id, secret_hash, scopes) VALUES (%s, %s, %s)",
                (key.key_id, key.secret_hash, ["oms"]),
            )
        port = free_port()
        pool_max = max(4, connections // 2 + 2)
        config = Path(tmp) / "api.toml"
        config.write_text(
            f'[server]\nhost = "127.0.0.1"\nport = {port}\nworkers = 2\n'
            f"[database]\npool_min = {min(4, pool_max)}\npool_max = {pool_max}\n"
        )
        env = {**os.environ, "SHELFSIGHT__DATABASE__DSN": dsn}
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        server = api._serve([cli, "api", "serve", "--config", str(config), "--workers", "2"], env,
                            port, "/readyz")
        try:
            make = api._allocation_requests(key.token, gtins, contended, rng)
            pg_root = api._postmaster_pid(pg)
            for w in range(windows):
                probe = api._Probe(server.pid, pg_root, port)
                st = asyncio.run(api._drive(port, make, seconds, connections, probe,
                                            WINDOW_WARMUP_S))
                cpu = probe.report(len(st.latencies), seconds).get("cpu_ms_per_request", {})
                rows, units = _open_reservations(dsn)
                out.append({
                    "window": w, **api._summary(st, seconds),
                    "statuses": {str(k): v for k, v in sorted(st.statuses.items())},
                    "api_cpu_ms": cpu.get("server"), "postgres_cpu_ms": cpu.get("postgres"),
                    "open_reservations": rows, "open_units": units,
                })
        finally:
            api._stop(server)
        drift = api.totals_drift(dsn)
    first, last = out[0], out[-1]

    def ratio(key: str) -> float | None:
        a, b = first.get(key), last.get(key)
        return round(b / a, 3) if a and b is not None else None

    return {
        "windows": out,
        "growth": {"postgres_cpu_ms": ratio("postgres_cpu_ms"), "api_cpu_ms": ratio("api_cpu_ms"),
                   "rps": ratio("rps")},
        "totals_drift": drift,
        "setup": {"windows": windows, "seconds": seconds, "connections": connections,
                  "warmup_s": WINDOW_WARMUP_S, "workers": 2},
    }
