"""`shelfsight demo`: the servers and processes of a small demo chain, on embedded defaults."""

from __future__ import annotations

import logging
import signal
import threading
import time
from pathlib import Path

from rich.console import Console

log = logging.getLogger(__name__)


def run_demo(config: str | None, minutes: float | None, state_dir: str) -> int:
    """Start PostgreSQL and a broker, migrate, and run until Ctrl-C or `minutes` have passed."""
    from shelfsight.db import migrate
    from shelfsight.embedded.broker import start_broker
    from shelfsight.embedded.postgres import PostgresServer

    console = Console(stderr=True)
    state = Path(state_dir).resolve()
    state.mkdir(parents=True, exist_ok=True)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    pg = PostgresServer(base_dir=state / "postgres")
    pg.start()
    broker = start_broker()
    try:
        dsn = pg.dsn()
        result = migrate(dsn)
        console.print(f"[bold]PostgreSQL[/]  {dsn}  ({len(result.applied)} migrations applied)")
        console.print(f"[bold]MQTT broker[/] {broker.kind} on {broker.host}:{broker.port}")
        console.print(f"state in {state} (delete it at will); Ctrl-C stops everything")
        deadline = None if minutes is None else time.monotonic() + minutes * 60
        while not stop.is_set() and (deadline is None or time.monotonic() < deadline):
            stop.wait(0.5)
    finally:
        broker.close()
        pg.stop()
        console.print("demo stopped cleanly")
    return 0
