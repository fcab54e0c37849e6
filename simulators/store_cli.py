"""`shelfsight simulate store --config FILE`: a shop's devices on their real wire formats.

Serial readers appear behind pseudo-terminals (their paths are printed, and written into a copy
of the config with `--write-config`, ready for `shelfsight gateway run`); MQTT readers publish to
the configured broker (an embedded one when `mqtt.port = 0`). The shop behind them is a
`ShopSim` with ground truth; on exit each device's ground-truth counts are printed as JSON.
"""

from __future__ import annotations

import csv
import io
import json
import re
import signal
import threading
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from rich.console import Console

from simulators.store_devices import ReaderPlan, ShopDevices, ShopTicker

SUPPORTED = ("zebra_iotc", "impinj_iot", "mercury", "r2000", "tsl_ascii")


@dataclass(frozen=True)
class _Shop:
    store_id: str
    number: int
    items: int
    readers: tuple[ReaderPlan, ...]


def demo_gtins() -> tuple[str, ...]:
    """The GTINs of the packaged demo catalogue."""
    text = (resources.files("shelfsight") / "samples" / "products-demo.csv").read_text()
    return tuple(row["gtin"] for row in csv.DictReader(io.StringIO(text)))


def _rewrite_ports(toml_text: str, ports: dict[str, str], mqtt_port: int) -> str:
    """The config with each simulated serial reader's port and the broker port filled in."""
    out: list[str] = []
    current: str | None = None
    in_mqtt = False
    for line in toml_text.splitlines():
        stripped = line.strip()
        if stripped.startswith("["):
            current, in_mqtt = None, stripped == "[mqtt]"
        m = re.match(r'\s*id\s*=\s*"([^"]+)"', line)
        if m:
            current = m.group(1)
        if current in ports and re.match(r"\s*port\s*=", line):
            line = f'port = "{ports[current]}"'
        elif in_mqtt and re.match(r"\s*port\s*=", line):
            line = f"port = {mqtt_port}"
        out.append(line)
    return "\n".join(out) + "\n"


def run_store(config: Path, minutes: float | None, seed: int, write_config: Path | None = None,
              items: int = 400) -> int:
    from shelfsight.embedded.broker import Broker, start_broker
    from shelfsight.settings import ConfigError, StoreSettings, load_settings

    console = Console(stderr=True, soft_wrap=True)  # paths stay whole, copy-pastable
    try:
        settings = load_settings(StoreSettings, config)
    except ConfigError as exc:
        for problem in exc.problems:
            console.print(problem, markup=False)
        return 1
    unsupported = [r.id for r in settings.readers if r.driver not in SUPPORTED]
    if unsupported:
        console.print(f"no simulator for readers {', '.join(unsupported)}; they are left out")
    readers = tuple(
        ReaderPlan(r.id, r.driver, dict(r.zones) or {1: "floor"})
        for r in settings.readers
        if r.driver in SUPPORTED
    )
    broker: Broker | None = None
    host, port = settings.mqtt.host, settings.mqtt.port
    if any(r.is_mqtt for r in readers) and port == 0:
        broker = start_broker()
        host, port = broker.host, broker.port
    shop = ShopDevices(_Shop(settings.store.id, seed, items, readers), demo_gtins(), host, port)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    ticker = ShopTicker([shop])
    try:
        ports = shop.start_serial()
        shop.start_mqtt()
        ticker.start()
        for r in readers:
            where = ports.get(r.reader_id) or f"mqtt://{host}:{port}"
            console.print(f"[bold]{r.reader_id}[/] ({r.driver}) on {where}")
        if write_config is not None:
            write_config.write_text(_rewrite_ports(config.read_text(), ports, port))
            console.print(f"gateway config with these ports: {write_config}")
        deadline = None if minutes is None else time.monotonic() + minutes * 60
        while not stop.is_set() and (deadline is None or time.monotonic() < deadline):
            stop.wait(0.5)
    finally:
        ticker.stop()
        truth = shop.ground_truth()
        shop.stop()
        if broker is not None:
            broker.close()
    print(json.dumps({"store": settings.store.id, "devices": truth}))
    return 0
