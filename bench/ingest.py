"""Ingest benchmark: simulated Zebra FX readers → mosquitto → `gateway run` → PostgreSQL.

Everything is started here: an embedded PostgreSQL, a broker (mosquitto with its queue limits
lifted; amqtt if mosquitto is absent, much slower), the gateway as a subprocess (its peak RSS is
read from /proc), and a publisher process pacing batched IoT Connector JSON (`reads_per_message`
events per message, payloads built from the public encoder's output) at `rate` reads/s.

Reported beside it, in the same run and on the same servers:
* `naive_reads_per_s`: a straightforward bridge (paho auto-ack + `json.loads` + one INSERT per
  read, autocommit) fed by the same publisher (same readers, message size and rate), over
  `naive_seconds`; at its rate the gateway's whole volume would take many minutes, so the reads
  it stored in that window are reported as `naive_reads_measured`;
* `copy_ceiling_rows_per_s`: binary COPY of `reads_sent` raw rows (the same volume) straight
  into the same database.
The server runs as production does (`fsync`, `full_page_writes`, `synchronous_commit` on; the
test server's defaults are off): the settings in force are read back and reported as `db`.
The gateway's CPU is counted from the first publish to the last stored read:
`gateway_cpu_s_per_million_reads`.
Proof of completeness: sum(tag_reads.read_count) == reads sent (lost = duplicated = 0).
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion

from readers.batch import Read
from readers.formats.zebra import encode_zebra_event_chunks
from shelfsight.db import migrate
from shelfsight.embedded.broker import start_broker
from shelfsight.embedded.postgres import PostgresServer

_DB_SETTINGS = ("fsync", "full_page_writes", "synchronous_commit", "wal_sync_method")


def _db_settings(dsn: str) -> dict[str, str]:
    with psycopg.connect(dsn) as conn:
        return {
            name: str(conn.execute(f"SHOW {name}").fetchone()[0])  # type: ignore[index]
            for name in _DB_SETTINGS
        }


def gateway_command() -> list[str]:
    """`shelfsight gateway run` of this interpreter's environment."""
    script = Path(sys.executable).with_name("shelfsight")
    if script.exists():
        return [str(script), "gateway", "run"]
    return [sys.executable, "-c", "from shelfsight.cli import main; main()", "gateway", "run"]
_SEQ = 987654321987
_TS = "2000-01-01T00:00:00.000+0000"


def _templates(epcs: list[bytes], antenna: int) -> list[tuple[bytes, bytes, bytes]]:
    """Per tag: the encoder's bytes split around eventNum and timestamp (filled per read)."""
    out = []
    for epc in epcs:
        read = Read(946684800 * 10**9, "x", antenna, epc, -52.0, _SEQ)
        chunk = encode_zebra_event_chunks([read])[0]
        a, rest = chunk.split(str(_SEQ).encode(), 1)
        b, c = rest.split(_TS.encode(), 1)
        out.append((a, b, c))
    return out


def _iso(ns: int) -> bytes:
    s, rem = divmod(ns, 10**9)
    return (time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(s)) + f".{rem // 10**6:03d}+0000").encode()


def _publish(host: str, port: int, readers: int, tags: int, per_msg: int, rate: float,
             seconds: float, topic_prefix: str, result: Any) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{topic_prefix}",
                         protocol=mqtt.MQTTv311)
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect(host, port)
    client.loop_start()
    tmpl = {}
    for r in range(readers):
        epcs = [bytes.fromhex("3034") + os.urandom(10) for _ in range(tags)]
        tmpl[r] = _templates(epcs, 1 + r % 4)
    seq = dict.fromkeys(range(readers), 1)
    sent = 0
    infos = []
    start = time.monotonic()
    k = 0
    while time.monotonic() - start < seconds:
        due = start + sent / rate
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        r = k % readers
        k += 1
        ts = _iso(time.time_ns())
        t = tmpl[r]
        base = seq[r]
        parts = []
        for i in range(per_msg):
            a, b, c = t[(base + i) % len(t)]
            parts.append(a + str(base + i).encode() + b + ts + c)
        seq[r] = base + per_msg
        infos.append(client.publish(f"{topic_prefix}/fx-{r}/data", b"[" + b",".join(parts) + b"]", qos=1))
        sent += per_msg
    for info in infos:
        info.wait_for_publish(60)
    client.disconnect()
    client.loop_stop()
    result.put((sent, time.monotonic() - start))


def _config(tmp: Path, dsn: str, host: str, port: int, readers: int) -> Path:
    rd = "".join(
        f'[[readers]]\nid = "fx-{r}"\ndriver = "zebra_iotc"\ntopic = "zebra/fx-{r}/data"\n'
        f'zones = {{ 1 = "floor", 2 = "floor", 3 = "backroom", 4 = "exit" }}\n\n'
        for r in range(readers)
    )
    text = (
        f'[store]\nid = "bench-shop"\n\n{rd}'
        f'[mqtt]\nhost = "{host}"\nport = {port}\nclient_id = "bench-gateway"\nmax_inflight = 1000\n\n'
        f'[database]\ndsn = "{dsn}"\n\n[gateway]\ncycle_s = 1.0\nflush_interval_s = 0.2\n\n'
        f'[outbox]\npath = "{tmp / "outbox.sqlite"}"\n\n[sink]\nbatch_rows = 20000\n\n'
        f'[metrics]\nport = 0\n'
    )
    path = tmp / "bench.toml"
    path.write_text(text)
    return path


def _sum_reads(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT coalesce(sum(read_count), 0) FROM tag_reads").fetchone()
    return int(row[0]) if row else 0


def _rss_peak_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        return 0
    return 0


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a live process."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _naive(dsn: str, host: str, port: int, seconds: float, readers: int, per_msg: int,
           rate: float, volume: int) -> tuple[float, int, float]:
    """paho (auto-ack) + json.loads + one autocommit INSERT per read, fed by the same publisher
    as the gateway (`volume` reads at most, so its backlog stays bounded in memory).
    Returns (reads inserted per second, reads inserted, seconds measured)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS naive_reads (reader text, antenna int, epc bytea,"
                     " time timestamptz, rssi real, seq bigint)")
    inserted = 0
    pending: list[tuple[str, bytes]] = []
    lock = threading.Lock()

    def on_message(_c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        with lock:
            pending.append((msg.topic, bytes(msg.payload)))

    sub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-naive",
                      protocol=mqtt.MQTTv311)
    sub.on_message = on_message
    sub.connect(host, port)
    sub.subscribe("naive/+/data", qos=1)
    sub.loop_start()
    time.sleep(0.5)
    q: Any = mp.Queue()
    pub = mp.Process(target=_publish, args=(host, port, readers, 2000, per_msg, rate,
                                            volume / rate, "naive", q))
    pub.start()
    start = time.monotonic()
    with psycopg.connect(dsn, autocommit=True) as conn:
        while time.monotonic() - start < seconds:
            with lock:
                batch, pending[:] = list(pending), []
            if not batch:
                time.sleep(0.01)
                continue
            for topic, payload in batch:
                reader = topic.split("/")[1]
                for ev in json.loads(payload):
                    d = ev["data"]
                    conn.execute(
                        "INSERT INTO naive_reads VALUES (%s, %s, %s, %s, %s, %s)",
                        (reader, d.get("antenna"), bytes.fromhex(d["idHex"]), ev["timestamp"],
                         d.get("peakRssi"), d.get("eventNum")),
                    )
                    inserted += 1
                    if time.monotonic() - start >= seconds:
                        break
                if time.monotonic() - start >= seconds:
                    break
    elapsed = time.monotonic() - start
    sub.loop_stop()
    sub.disconnect()
    pub.join(120)
    return inserted / elapsed, inserted, elapsed


def _copy_ceiling(dsn: str, rows: int) -> float:
    """Binary COPY of `rows` raw rows (one transaction) into a table like tag_reads."""
    now = datetime.now(UTC)
    pool = [("bench-shop", "fx-0", 1, os.urandom(12), now, now, now, 1, -50.0, "")
            for _ in range(min(rows, 100_000))]
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE copy_ceiling (LIKE tag_reads)")
        start = time.perf_counter()
        with conn.transaction(), conn.cursor() as cur, cur.copy(
            "COPY copy_ceiling FROM STDIN (FORMAT BINARY)"
        ) as copy:
            copy.set_types(["text", "text", "int2", "bytea", "timestamptz", "timestamptz",
                            "timestamptz", "int4", "float4", "text"])
            for i in range(rows):
                copy.write_row(pool[i % len(pool)])
        return rows / (time.perf_counter() - start)


def run(seconds: float = 20.0, readers: int = 4, tags_per_reader: int = 2000,
        reads_per_message: int = 500, rate: float = 200_000.0, durable_db: bool = True,
        naive_seconds: float | None = None, naive_volume: int = 100_000,
        ) -> dict[str, Any]:
    """`durable_db`: fsync, full-page writes and synchronous commit on, as in production
    (off only to compare with the test server's defaults). `naive_seconds` defaults to
    min(seconds, 10)."""
    tmp = Path(tempfile.mkdtemp(prefix="shelfsight-bench-ingest-"))
    os.chmod(tmp, 0o755)
    pg = PostgresServer(durable=durable_db)
    pg.start()
    broker = start_broker(prefer=None)
    proc: subprocess.Popen[bytes] | None = None
    try:
        db = _db_settings(pg.dsn())
        if durable_db and not (db["fsync"] == db["full_page_writes"] == "on"):
            raise RuntimeError(f"durable settings not in force: {db}")
        dsn = pg.create_database("bench")
        migrate(dsn)
        cfg = _config(tmp, dsn, broker.host, broker.port, readers)
        log = tmp / "gateway.log"
        with log.open("wb") as fh:
            proc = subprocess.Popen([*gateway_command(), "--config", str(cfg),
                                     "--log-level", "WARNING"], stdout=fh, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with psycopg.connect(dsn) as conn:
                if conn.execute("SELECT 1 FROM stores WHERE store_id = 'bench-shop'").fetchone():
                    break
            time.sleep(0.2)
        time.sleep(1.5)  # subscribed
        q: Any = mp.Queue()
        pub = mp.Process(target=_publish, args=(broker.host, broker.port, readers, tags_per_reader,
                                                reads_per_message, rate, seconds, "zebra", q))
        cpu_start = _cpu_s(proc.pid)
        start = time.monotonic()
        pub.start()
        sent, publish_s = q.get(timeout=seconds * 10 + 120)
        pub.join(30)
        stored = 0
        end = time.monotonic()
        wait_until = end + max(60.0, seconds * 3)
        while time.monotonic() < wait_until:
            stored = _sum_reads(dsn)
            end = time.monotonic()
            if stored >= sent:
                break
            time.sleep(0.25)
        rss_kb = _rss_peak_kb(proc.pid)
        cpu_s = _cpu_s(proc.pid) - cpu_start
        time.sleep(2.0)
        stored = _sum_reads(dsn)  # anything written twice would show up now
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(60)
        proc = None
        with psycopg.connect(dsn) as conn:
            row = conn.execute("SELECT count(*) FROM tag_reads").fetchone()
        summary_rows = int(row[0]) if row else 0
        naive_s = min(seconds, 10.0) if naive_seconds is None else naive_seconds
        naive, naive_reads, naive_elapsed = _naive(
            dsn, broker.host, broker.port, naive_s, readers, reads_per_message, rate,
            naive_volume)
        ceiling = _copy_ceiling(dsn, sent)
        rate_e2e = stored / (end - start) if end > start else 0.0
        return {
            "benchmark": "ingest",
            "broker": broker.kind,
            "durable_db": durable_db,
            "db": db,
            "readers": readers,
            "reads_per_message": reads_per_message,
            "target_rate": rate,
            "seconds": seconds,
            "reads_sent": sent,
            "publish_s": round(publish_s, 2),
            "reads_stored": stored,
            "lost": max(0, sent - stored),
            "duplicated": max(0, stored - sent),
            "tag_reads_rows": summary_rows,
            "end_to_end_s": round(end - start, 2),
            "reads_per_s": round(rate_e2e),
            "naive_reads_per_s": round(naive),
            "naive_reads_measured": naive_reads,
            "naive_seconds": round(naive_elapsed, 2),
            "speedup_vs_naive": round(rate_e2e / naive, 1) if naive else None,
            "copy_ceiling_rows_per_s": round(ceiling),
            "copy_ceiling_rows": sent,
            "gateway_peak_rss_mb": round(rss_kb / 1024, 1),
            "gateway_cpu_s": round(cpu_s, 2),
            "gateway_cpu_s_per_million_reads": round(cpu_s / stored * 1e6, 2) if stored else None,
            "reads_per_gateway_cpu_s": round(stored / cpu_s) if cpu_s else None,
            "gateway_exit_code": code,
        }
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        broker.close()
        pg.close()
        shutil.rmtree(tmp, ignore_errors=True)
