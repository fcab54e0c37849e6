"""No overselling under load: `shelfsight api serve --workers 2`, 200 concurrent reservations.

The chain holds exactly 10 units of THIN (5 in each shop, none in the warehouse). 200 orders of
one unit race for them through two uvicorn worker processes: exactly 10 are reserved, every other
answer is a clean 409 `not-available` problem, and the database agrees.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from api_fixtures import THIN, auth, seed_chain

from shelfsight.embedded.ports import free_port

CLI = str(Path(sys.executable).parent / "shelfsight")
REQUESTS = 200


def _create_key(dsn: str, scope: str) -> str:
    out = subprocess.run(
        [CLI, "api", "create-key", "--scope", scope, "--dsn", dsn],
        capture_output=True, text=True, timeout=60, check=True,
    )
    token = out.stdout.strip()
    assert token.startswith("ssk_") and len(token.splitlines()) == 1
    return token


@pytest.fixture
def served(pg_migrated_dsn: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """The API on a free port, 2 workers, config from a temp TOML + the DSN from the env."""
    seed_chain(pg_migrated_dsn, thin_units=10)
    port = free_port()
    config = tmp_path / "api.toml"
    config.write_text(
        f'[server]\nhost = "127.0.0.1"\nport = {port}\nworkers = 2\n'
        "[database]\npool_min = 1\npool_max = 6\n"
    )
    env = {**os.environ, "SHELFSIGHT__DATABASE__DSN": pg_migrated_dsn}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    proc = subprocess.Popen(
        [CLI, "api", "serve", "--config", str(config), "--workers", "2"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else "exited"
            try:
                if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "API did not become ready"
            time.sleep(0.2)
        yield base, pg_migrated_dsn
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
        if proc.stdout:
            proc.stdout.close()


async def _storm(base: str, token: str) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=REQUESTS, max_keepalive_connections=REQUESTS)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as http:
        async def one(i: int) -> httpx.Response:
            body = {
                "order_id": f"storm-{i}",
                "lines": [{"gtin": THIN, "qty": 1}],
                "ship_lat": 52.5 if i % 2 else 53.5,
                "ship_lon": 13.4 if i % 2 else 10.0,
            }
            return await http.post("/v1/allocations", json=body,
                                   headers={**auth(token), "Idempotency-Key": f"storm-{i}"})

        return await asyncio.gather(*[one(i) for i in range(REQUESTS)])


def test_two_workers_never_oversell(served: tuple[str, str]) -> None:
    base, dsn = served
    token = _create_key(dsn, "oms")
    answers = asyncio.run(_storm(base, token))
    codes = [r.status_code for r in answers]
    assert codes.count(201) == 10, sorted(set(codes))
    for r in answers:
        if r.status_code != 201:
            assert r.status_code == 409, r.text
            assert r.headers["content-type"] == "application/problem+json"
            assert r.json()["type"].endswith("/not-available")
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT r.node_id, sum(r.qty), (SELECT count(*) FROM tag_state t WHERE t.store_id = r.node_id"
            "  AND t.gtin = r.gtin AND t.status = 'present')"
            " FROM reservations r WHERE r.gtin = %s AND r.status = 'active' GROUP BY r.node_id, r.gtin",
            (THIN,),
        ).fetchall()
        allocations = conn.execute("SELECT count(*) FROM allocations").fetchone()
    assert sum(int(q) for _, q, _ in rows) == 10
    assert all(int(q) <= int(present) for _, q, present in rows)
    assert allocations == (10,)
    # /metrics sums every worker's samples (multiprocess mode), whichever worker answers.
    text = httpx.get(base + "/metrics", timeout=10).text
    assert 'shelfsight_allocations_total{outcome="reserved"} 10.0' in text
    assert 'shelfsight_allocations_total{outcome="not_available"} 190.0' in text
