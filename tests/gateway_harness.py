"""Helpers of the gateway daemon tests: a shop config, the daemon in a thread or a process."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psycopg

from gateway.daemon import Daemon, DaemonOptions
from shelfsight.settings import StoreSettings, load_settings


def gateway_command() -> list[str]:
    """`shelfsight gateway run` of this interpreter's environment."""
    script = Path(sys.executable).with_name("shelfsight")
    if script.exists():
        return [str(script), "gateway", "run"]
    return [sys.executable, "-c", "from shelfsight.cli import main; main()", "gateway", "run"]


def write_config(
    tmp_path: Path,
    dsn: str,
    mqtt_host: str,
    mqtt_port: int,
    *,
    readers: str = "",
    client_id: str = "gw-test",
    shared_group: str | None = None,
    outbox_rows: int = 1_000_000,
    policy: str = "backpressure",
    name: str = "store.toml",
) -> Path:
    shared = f'shared_group = "{shared_group}"\n' if shared_group else ""
    text = f"""
[store]
id = "shop-1"
name = "Test shop"

[[readers]]
id = "fx-1"
driver = "zebra_iotc"
topic = "zebra/fx-1/data"
zones = {{ 1 = "floor", 2 = "backroom" }}
{readers}
[mqtt]
host = "{mqtt_host}"
port = {mqtt_port}
client_id = "{client_id}"
keepalive_s = 5
{shared}
[database]
dsn = "{dsn}"

[gateway]
cycle_s = 1.0
flush_interval_s = 0.1

[outbox]
path = "{tmp_path / (client_id + '.outbox.sqlite')}"
max_rows = {outbox_rows}
full_policy = "{policy}"

[sink]
batch_rows = 5000
retry_initial_s = 0.1
retry_max_s = 1.0

[metrics]
port = 0
"""
    path = tmp_path / name
    path.write_text(text)
    return path


class ThreadDaemon:
    """The daemon in a thread of this process (signals not installed)."""

    def __init__(self, config: Path, **options: object) -> None:
        self.settings = load_settings(StoreSettings, config)
        self.daemon = Daemon(self.settings, DaemonOptions(install_signals=False, **options))  # type: ignore[arg-type]
        self.code: int | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        self.code = self.daemon.run()

    def start(self) -> ThreadDaemon:
        self.thread.start()
        assert self.daemon.started.wait(30)
        if self.daemon.mqtt is not None:
            assert self.daemon.mqtt.wait_connected(10)
            time.sleep(0.3)
        return self

    def stop(self) -> int | None:
        self.daemon.request_stop()
        self.thread.join(60)
        return self.code


def spawn_daemon(config: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "SHELFSIGHT_LOG_LEVEL": "INFO"}
    with log.open("ab") as fh:
        return subprocess.Popen(
            [*gateway_command(), "--config", str(config)],
            stdout=fh, stderr=subprocess.STDOUT, env=env,
        )


def wait_for(cond: Callable[[], bool], timeout: float = 25.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if cond():
                return True
        except psycopg.Error:
            pass
        time.sleep(0.1)
    return cond()


def db_reads(dsn: str, reader: str | None = None) -> int:
    with psycopg.connect(dsn, connect_timeout=3) as conn:
        if reader is None:
            row = conn.execute("SELECT coalesce(sum(read_count), 0) FROM tag_reads").fetchone()
        else:
            row = conn.execute(
                "SELECT coalesce(sum(read_count), 0) FROM tag_reads WHERE reader_id = %s", (reader,)
            ).fetchone()
    assert row is not None
    return int(row[0])


def db_present(dsn: str) -> set[bytes]:
    with psycopg.connect(dsn, connect_timeout=3) as conn:
        rows = conn.execute("SELECT epc FROM tag_state WHERE status = 'present'").fetchall()
    return {bytes(r[0]) for r in rows}
