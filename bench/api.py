"""`shelfsight bench api`: allocate-and-reserve over HTTP beside a trivial endpoint, same run.

Starts its own PostgreSQL, migrates and seeds a chain (shops with RFID items, warehouses, one
contended GTIN), serves the API with `shelfsight api serve --workers 2` and a trivial FastAPI
endpoint (`async def`, same uvicorn settings, 2 workers), and drives each in turn at
`connections` keep-alive connections: `POST /v1/allocations` (reserve, with an Idempotency-Key)
on the API, `GET /trivial` on the other, `ROUNDS` rounds of `seconds / ROUNDS` each in a rotating
order, so that both see the same machine (its speed drifts by tens of per cent within a minute
here) and several connection splits. Latencies, counts and CPU are summed over the rounds;
`*_by_round` gives each round's ratio. The load generator is a minimal asyncio HTTP/1.1 client
in this process (much cheaper per request than httpx), on the same cores as the servers and
PostgreSQL. `oversold` is checked in the database afterwards: units reserved beyond units
present (shops) or on hand (warehouses), which must be 0; and `totals_drift`, the cells whose
running total of open units (`reservation_open`) differs from summing their reservations, also 0.

`floor_rps` is a third server driven the same way with the same allocation requests: the write
floor of `bench.api_floor`, a FastAPI route like the trivial one that decides nothing and checks
no stock, but reads the body and commits one row per request (group-committed, fsync on, in a
PostgreSQL of its own with the same settings) before answering: what any design that stores its
reservations in PostgreSQL before answering must add to the trivial endpoint. `floor_vs_trivial`
is therefore about the highest share of the trivial endpoint an allocation route can reach on
this machine (one that skips FastAPI's routing, as the API's fast path does, saves part of the
framework's share of the trivial endpoint's CPU).

CPU per request is read from /proc over the measured windows (after each warm-up): the API's
process tree (uvicorn master + workers), PostgreSQL's (postmaster + backends) and this process
(the load generator); `cpu_ms_per_request` divides each by the requests answered in the window.
`worker_connections` is how the keep-alive connections were split across the uvicorn workers
in each round (sampled mid-window), `worker_cpu_share` each worker's share of the API CPU.
`other_processes` is the CPU everything else on the machine used in the windows (the machine is
shared: figures taken while it is high are not comparable), beside the 1-minute load average
before and after.
`reserve_batches` is the group commit seen in the API's /metrics: PostgreSQL reservation calls
and the mean requests per call.
"""

from __future__ import annotations

import asyncio
import http.client
import logging
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import psycopg
from fastapi import FastAPI

from allocator.api.auth import new_key
from bench import api_floor, proc_stats
from readers.epc import check_digit
from shelfsight.db import migrate
from shelfsight.embedded.ports import free_port
from shelfsight.embedded.postgres import PostgresServer

log = logging.getLogger(__name__)

SHOPS, WAREHOUSES, GTINS, UNITS_PER_CELL = 30, 2, 40, 12
CONTENDED_UNITS = 40  # one GTIN with few units, so that reservations race for them
WARMUP_S = 1.0  # the first window of each server (its caches fill); later ones ROUND_WARMUP_S
ROUND_WARMUP_S = 1.0  # caches that expired while the other servers ran fill again
#: The three servers are driven in turns, each `seconds / ROUNDS` per round, in a rotating
#: order: the machine's speed drifts by tens of per cent within a minute (other tenants), and
#: ratios of windows minutes apart measured that drift as much as the servers.
ROUNDS = 5


def trivial_app() -> FastAPI:
    """The baseline: one `async def` route returning a tiny JSON object."""
    app = FastAPI()

    @app.get("/trivial")
    async def trivial() -> dict[str, bool]:
        return {"ok": True}

    return app


def _gtins() -> list[str]:
    return [b + check_digit(b) for b in (f"0950600{20000 + i:06d}" for i in range(GTINS + 1))]


def seed(dsn: str, rng: random.Random) -> tuple[list[str], str]:
    """Stores, products, items present (binary COPY), warehouse stock; returns (gtins, contended)."""
    gtins = _gtins()
    contended = gtins[-1]
    with psycopg.connect(dsn) as conn:
        stores = [(f"s{i:03d}", "shop", 47.5 + rng.random() * 7, 6.5 + rng.random() * 8, 400)
                  for i in range(SHOPS)]
        stores += [(f"w{i}", "warehouse", 50.0 + i, 9.0 + i, 100000) for i in range(WAREHOUSES)]
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO stores (store_id, name, kind, lat, lon, pick_capacity)"
                " VALUES (%s, %s, %s, %s, %s, %s)",
                [(s, s, k, la, lo, c) for s, k, la, lo, c in stores],
            )
            cur.executemany(
                "INSERT INTO products (gtin, name, price, cost, markdown_date, markdown_price,"
                " salvage_value) VALUES (%s, %s, %s, %s, current_date + %s, %s, %s)",
                [(g, g, 40, 15, rng.randint(-10, 60), 24, 3) for g in gtins],
            )
        serial = 0
        with conn.cursor().copy(
            "COPY tag_state (epc, store_id, gtin, serial, zone, status, last_seen, read_rate,"
            " confidence, last_seq, updated_at) FROM STDIN"
        ) as copy:
            for store, kind, *_ in stores:
                if kind != "shop":
                    continue
                for g in gtins:
                    n = rng.randint(0, 2) if g == contended else rng.randint(0, 2 * UNITS_PER_CELL)
                    for _ in range(n):
                        serial += 1
                        copy.write_row((serial.to_bytes(12, "big"), store, g, str(serial),
                                        rng.choice(("floor", "backroom")), "present",
                                        "now", 0.8, round(rng.uniform(0.7, 1.0), 3), 1, "now"))
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO warehouse_stock (warehouse_id, gtin, on_hand) VALUES (%s, %s, %s)",
                [(w, g, 0 if g == contended else 2000) for w, *_ in stores[SHOPS:] for g in gtins],
            )
            cur.execute("SELECT setseed(%s)", (rng.uniform(-1.0, 1.0),))  # same seed, same sales
            cur.execute(
                "INSERT INTO sales_daily (store_id, gtin, day, units)"
                " SELECT s.store_id, g, date_trunc('day', now()) - make_interval(days => d),"
                "        (random() * 3)::int"
                "   FROM stores s, unnest(%s::text[]) g, generate_series(0, 13) d"
                "  WHERE s.kind = 'shop'",
                (gtins,),
            )
    return gtins[:-1], contended


def totals_drift(dsn: str) -> int:
    """Cells whose running total of open units (`reservation_open`) differs from summing their
    active reservations: must be 0."""
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "WITH s AS (SELECT gtin, node_id, sum(qty - picked) AS units FROM reservations"
            "            WHERE status = 'active' GROUP BY 1, 2)"
            " SELECT count(*) FROM reservation_open o FULL JOIN s USING (gtin, node_id)"
            "  WHERE coalesce(o.units, 0) <> coalesce(s.units, 0)"
        ).fetchone()
    return int(row[0]) if row else -1


def oversold(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "WITH r AS (SELECT node_id, gtin, sum(qty - picked) AS q FROM reservations"
            "            WHERE status = 'active' GROUP BY 1, 2),"
            " u AS (SELECT store_id AS node_id, gtin, count(*) AS n FROM tag_state"
            "        WHERE status = 'present' GROUP BY 1, 2"
            "       UNION ALL SELECT warehouse_id, gtin, on_hand FROM warehouse_stock)"
            " SELECT coalesce(sum(greatest(r.q - coalesce(u.n, 0), 0)), 0)::bigint"
            "   FROM r LEFT JOIN u USING (node_id, gtin)"
        ).fetchone()
    return int(row[0]) if row else -1


# -- load generator ---------------------------------------------------------------------------
class _Stats:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.by_status: dict[int, list[float]] = {}
        self.statuses: Counter[int] = Counter()
        self.transport_errors = 0

    def add(self, other: _Stats) -> None:
        self.latencies += other.latencies
        for status, took in other.by_status.items():
            self.by_status.setdefault(status, []).extend(took)
        self.statuses += other.statuses
        self.transport_errors += other.transport_errors


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    if length:
        await reader.readexactly(length)
    return status


#: Connections open this far apart. Opened all at once, they sit in the listen backlog together
#: and the first uvicorn worker to wake accepts them all (splits of 32/0 and 31/1 were seen, for
#: the API and the trivial endpoint alike: either ran on one core). Staggered, each is a fresh
#: race between the workers, as with clients that connect at different times.
CONNECT_STAGGER_S = 0.005


async def _connection(
    port: int, make: Callable[[], bytes], until: float, warm: float, st: _Stats, delay: float = 0.0
) -> None:
    await asyncio.sleep(delay)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while (now := time.perf_counter()) < until:
            writer.write(make())
            try:
                status = await _read_response(reader)
            except (asyncio.IncompleteReadError, ConnectionError):
                st.transport_errors += 1
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                continue
            if now >= warm:
                took = time.perf_counter() - now
                st.latencies.append(took)
                st.by_status.setdefault(status, []).append(took)
                st.statuses[status] += 1
    finally:
        writer.close()


def _machine_busy_s() -> float:
    """CPU seconds the whole machine spent busy (every process, ours or not) since boot."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0.0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    guest = sum(fields[8:10]) if len(fields) > 9 else 0  # already counted in user and nice
    return (sum(fields) - idle - guest) / float(os.sysconf("SC_CLK_TCK"))


class _Usage:
    """CPU seconds of the server tree (per process), PostgreSQL, this process and the whole
    machine, at one time."""

    def __init__(self, server_root: int, pg_root: int | None) -> None:
        self.server = proc_stats.tree_cpu_s(server_root)
        self.pg = sum(proc_stats.tree_cpu_s(pg_root).values()) if pg_root is not None else 0.0
        t = os.times()
        self.loadgen = t.user + t.system
        self.machine = _machine_busy_s()


class _Probe:
    """CPU used over the measured windows of one server (summed over the rounds), and the
    connection split of each window (sampled mid-window)."""

    def __init__(self, server_root: int, pg_root: int | None, port: int) -> None:
        self.server_root, self.pg_root, self.port = server_root, pg_root, port
        self.server: dict[int, float] = {}
        self.pg = self.loadgen = self.machine = 0.0
        self.splits: list[dict[int, int]] = []

    async def watch(self, warm: float, until: float) -> None:
        await asyncio.sleep(max(0.0, warm - time.perf_counter()))
        a = _Usage(self.server_root, self.pg_root)
        await asyncio.sleep(max(0.0, (warm + until) / 2 - time.perf_counter()))
        self.splits.append(proc_stats.connections_by_pid(
            self.port, proc_stats.descendants(self.server_root)
        ))
        await asyncio.sleep(max(0.0, until - time.perf_counter()))
        b = _Usage(self.server_root, self.pg_root)
        for pid, cpu in b.server.items():
            self.server[pid] = self.server.get(pid, 0.0) + cpu - a.server.get(pid, 0.0)
        self.pg += b.pg - a.pg
        self.loadgen += b.loadgen - a.loadgen
        self.machine += b.machine - a.machine

    def report(self, requests: int, seconds: float) -> dict[str, Any]:
        if not self.splits:
            return {}
        per_pid = self.server
        server = sum(per_pid.values())
        held = {pid for split in self.splits for pid, n in split.items() if n}
        workers = sorted(
            pid for pid in per_pid if pid != self.server_root and (pid in held or per_pid[pid] > 0.05)
        )
        pg, loadgen = self.pg, self.loadgen
        # Everything else the machine ran meanwhile (another engineer's jobs, the kernel): the
        # share of the cores this run did not get.
        others = max(self.machine - server - pg - loadgen, 0.0)
        n = max(requests, 1)
        return {
            "cpu_pct": {"server": round(100 * server / seconds, 1),
                        "postgres": round(100 * pg / seconds, 1),
                        "load_generator": round(100 * loadgen / seconds, 1),
                        "other_processes": round(100 * others / seconds, 1)},
            "cpu_ms_per_request": {
                "server": round(1000 * server / n, 3),
                "postgres": round(1000 * pg / n, 3),
                "load_generator": round(1000 * loadgen / n, 3),
                "total": round(1000 * (server + pg + loadgen) / n, 3),
            },
            "worker_connections": [[split.get(pid, 0) for pid in workers] for split in self.splits],
            "worker_cpu_share": [round(per_pid[pid] / server, 3) if server else 0.0
                                 for pid in workers],
        }


async def _drive(
    port: int, make: Callable[[], bytes], seconds: float, connections: int,
    probe: _Probe | None = None, warmup: float = WARMUP_S,
) -> _Stats:
    st = _Stats()
    warm = time.perf_counter() + warmup
    until = warm + seconds
    watch = [probe.watch(warm, until)] if probe is not None else []
    await asyncio.gather(
        *[_connection(port, make, until, warm, st, i * CONNECT_STAGGER_S) for i in range(connections)],
        *watch,
    )
    return st


def _summary(st: _Stats, seconds: float) -> dict[str, float]:
    lat = np.asarray(st.latencies) * 1000.0 if st.latencies else np.zeros(1)
    return {
        "rps": round(len(st.latencies) / seconds, 1),
        "p50_ms": round(float(np.percentile(lat, 50)), 2),
        "p99_ms": round(float(np.percentile(lat, 99)), 2),
    }


# -- servers ----------------------------------------------------------------------------------
def _serve(
    args: list[str], env: dict[str, str], port: int, probe: str, workers: int = 2
) -> subprocess.Popen[bytes]:
    """Start a server and return once every one of its `workers` answers `probe`: the first
    worker up would otherwise accept every load connection (all 32 seen on one worker)."""
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    deadline = time.monotonic() + 90
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {proc.stderr.read().decode() if proc.stderr else ''}")
        if _workers_answering(proc.pid, port, probe, workers) >= workers:
            return proc
        if time.monotonic() > deadline:
            _stop(proc)
            raise RuntimeError(f"server on port {port} not ready")
        time.sleep(0.2)


def _workers_answering(root: int, port: int, probe: str, workers: int) -> int:
    """How many processes of the server hold a connection that `probe` answered 200 on (from
    4 x `workers` keep-alive connections opened together, kept open while they are counted)."""
    conns = [http.client.HTTPConnection("127.0.0.1", port, timeout=2) for _ in range(4 * workers)]
    try:
        for conn in conns:
            conn.request("GET", probe)
        for conn in conns:
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                return 0
        held = proc_stats.connections_by_pid(port, proc_stats.descendants(root))
        return sum(1 for n in held.values() if n > 0)
    except OSError:
        return 0
    finally:
        for conn in conns:
            conn.close()


def _stop(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)
    except ProcessLookupError:
        pass
    if proc.stderr:
        proc.stderr.close()


def _postmaster_pid(pg: PostgresServer) -> int | None:
    try:
        return int((pg.data_dir / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        log.warning("no postmaster.pid: PostgreSQL CPU not measured")
        return None


def _batch_sizes(port: int) -> dict[str, float]:
    """Group commit as the API's /metrics saw it (whole run, warm-up included): PostgreSQL
    calls and the mean allocate-and-reserve requests per call."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        text = r.read().decode()
    found: dict[str, float] = {}
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name in ("shelfsight_reserve_batch_size_sum", "shelfsight_reserve_batch_size_count"):
            found[name.rsplit("_", 1)[1]] = float(value)
    calls = found.get("count", 0.0)
    return {"calls": calls, "mean_size": round(found.get("sum", 0.0) / calls, 2) if calls else 0.0}


# -- the run ----------------------------------------------------------------------------------
def _allocation_requests(
    token: str, gtins: list[str], contended: str, rng: random.Random
) -> Callable[[], bytes]:
    counter = iter(range(10**12))
    run_id = f"{os.getpid()}-{int(time.time())}"

    def make() -> bytes:
        n = next(counter)
        picks = rng.sample(gtins, rng.choice((1, 1, 2)))
        if rng.random() < 0.2:
            picks = [contended]
        body = msgspec.json.encode({
            "order_id": f"b-{run_id}-{n}",
            "lines": [{"gtin": g, "qty": rng.choice((1, 1, 1, 2))} for g in picks],
            "ship_lat": 47.5 + rng.random() * 7,
            "ship_lon": 6.5 + rng.random() * 8,
        })
        head = (
            "POST /v1/allocations HTTP/1.1\r\nHost: bench\r\n"
            f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
            f"Idempotency-Key: {run_id}-{n}\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        return head.encode() + body

    return make


def run(seconds: float = 10.0, connections: int = 32) -> dict[str, Any]:
    """Measure; returns the JSON object `shelfsight bench api` prints."""
    rng = random.Random(7)
    cli = str(Path(sys.executable).parent / "shelfsight")
    with (
        tempfile.TemporaryDirectory(prefix="shelfsight-bench-api-") as tmp,
        PostgresServer(durable=True) as pg,  # production durability: fsync on
        # The write floor's own server (same settings): its WAL, dirty pages and vacuum would
        # otherwise land on the API's PostgreSQL during the API's next round.
        PostgresServer(durable=True) as floor_pg,
    ):
        dsn = pg.create_database("bench")
        migrate(dsn)
        gtins, contended = seed(dsn, rng)
        key = new_key()
        with psycopg.connect(dsn) as conn:
            conn.execute(
                "INSERT INTO api_keys (key_id, secret_hash, scopes) VALUES (%s, %s, %s)",
                (key.key_id, key.secret_hash, ["oms"]),
            )
        floor_dsn = floor_pg.create_database("floor")
        with psycopg.connect(floor_dsn) as conn:
            conn.execute(api_floor.DDL)
        api_port, trivial_port, floor_port = free_port(), free_port(), free_port()
        config = Path(tmp) / "api.toml"
        pool_max = max(4, connections // 2 + 2)
        config.write_text(
            f'[server]\nhost = "127.0.0.1"\nport = {api_port}\nworkers = 2\n'
            f"[database]\npool_min = {min(4, pool_max)}\npool_max = {pool_max}\n"
        )
        env = {**os.environ, "SHELFSIGHT__DATABASE__DSN": dsn}
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        uvicorn = [sys.executable, "-m", "uvicorn", "--factory", "--workers", "2", "--host",
                   "127.0.0.1", "--log-level", "warning", "--no-access-log", "--port"]
        servers: list[subprocess.Popen[bytes]] = []
        load_before = os.getloadavg()
        try:
            servers.append(_serve([cli, "api", "serve", "--config", str(config), "--workers", "2"],
                                  env, api_port, "/readyz"))
            servers.append(_serve([*uvicorn, str(trivial_port), "bench.api:trivial_app"], env,
                                  trivial_port, "/trivial"))
            servers.append(_serve([*uvicorn, str(floor_port), "bench.api_floor:floor_app"],
                                  {**env, "SHELFSIGHT__DATABASE__DSN": floor_dsn}, floor_port,
                                  "/ready"))
            pg_root = _postmaster_pid(pg)
            make = _allocation_requests(key.token, gtins, contended, rng)
            request = b"GET /trivial HTTP/1.1\r\nHost: bench\r\n\r\n"
            probe = _Probe(servers[0].pid, pg_root, api_port)
            tprobe = _Probe(servers[1].pid, None, trivial_port)
            fprobe = _Probe(servers[2].pid, _postmaster_pid(floor_pg), floor_port)
            st, tst, fst = _Stats(), _Stats(), _Stats()
            targets: list[tuple[int, Callable[[], bytes], _Probe, _Stats]] = [
                (api_port, make, probe, st), (trivial_port, lambda: request, tprobe, tst),
                (floor_port, make, fprobe, fst),
            ]
            by_round: list[tuple[float, float, float]] = []
            for r in range(ROUNDS):
                counts = []
                for port, mk, pr, stats in targets[r % 3:] + targets[: r % 3]:
                    got = asyncio.run(_drive(port, mk, seconds / ROUNDS, connections, pr,
                                             WARMUP_S if r == 0 else ROUND_WARMUP_S))
                    stats.add(got)
                    counts.append((port, len(got.latencies)))
                n = dict(counts)
                by_round.append((n[api_port], n[trivial_port], n[floor_port]))
            batches = _batch_sizes(api_port)
        finally:
            for server in servers:
                _stop(server)
        load_after = os.getloadavg()
        sold_over = oversold(dsn)
        drift = totals_drift(dsn)
        with psycopg.connect(dsn) as conn:
            row = conn.execute(
                "SELECT count(*), coalesce(sum(qty), 0) FROM reservations WHERE status = 'active'"
            ).fetchone()
    ok = {201, 409}
    api_summary = _summary(st, seconds)
    trivial_summary = _summary(tst, seconds)
    floor_summary = _summary(fst, seconds)
    return {
        "seconds": seconds,
        "connections": connections,
        "cpus": os.cpu_count(),
        **api_summary,
        "errors": st.transport_errors + sum(n for s, n in st.statuses.items() if s not in ok),
        "statuses": {str(k): v for k, v in sorted(st.statuses.items())},
        "p50_p99_ms_by_status": {
            str(k): [round(float(np.percentile(np.asarray(v) * 1000.0, q)), 2) for q in (50, 99)]
            for k, v in sorted(st.by_status.items())
        },
        "reserved_rows": int(row[0]) if row else 0,
        "reserved_units": int(row[1]) if row else 0,
        "oversold": sold_over,
        "totals_drift": drift,
        "trivial_rps": trivial_summary["rps"],
        "trivial_p50_ms": trivial_summary["p50_ms"],
        "trivial_p99_ms": trivial_summary["p99_ms"],
        "trivial_errors": tst.transport_errors + sum(n for s, n in tst.statuses.items() if s != 200),
        "rps_vs_trivial": round(api_summary["rps"] / trivial_summary["rps"], 3)
        if trivial_summary["rps"] else None,
        "floor_rps": floor_summary["rps"],
        "floor_p99_ms": floor_summary["p99_ms"],
        "floor_vs_trivial": round(floor_summary["rps"] / trivial_summary["rps"], 3)
        if trivial_summary["rps"] else None,
        "rps_vs_trivial_by_round": [round(a / t, 3) if t else None for a, t, _ in by_round],
        "floor_vs_trivial_by_round": [round(f / t, 3) if t else None for _, t, f in by_round],
        "floor_errors": fst.transport_errors + sum(n for s, n in fst.statuses.items() if s != 201),
        "floor_usage": fprobe.report(len(fst.latencies), seconds),
        "reserve_batches": batches,
        "load_avg_1m": {"before": round(load_before[0], 2), "after": round(load_after[0], 2)},
        "usage": probe.report(len(st.latencies), seconds),
        "trivial_usage": tprobe.report(len(tst.latencies), seconds),
        "setup": {"shops": SHOPS, "warehouses": WAREHOUSES, "gtins": GTINS + 1,
                  "contended_share": 0.2, "workers": 2, "pool_max_per_worker": pool_max,
                  "load_generator": "asyncio HTTP/1.1 keep-alive, same host"},
    }
