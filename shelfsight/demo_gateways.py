"""One gateway subprocess per demo shop, as in production: `shelfsight gateway run --config`.

Each shop's config is written to `<state>/shops/<id>.toml`, its output to
`<state>/logs/gateway-<id>.log`. Stopping sends SIGTERM (the daemon drains its outbox and exits
0) and kills a process that has not exited after `STOP_TIMEOUT_S`.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

from shelfsight.demo_chain import ChainPlan, store_toml
from shelfsight.embedded.ports import wait_port

log = logging.getLogger(__name__)

STOP_TIMEOUT_S = 20.0


def gateway_command(config: Path) -> list[str]:
    """`shelfsight gateway run --config FILE` through this interpreter."""
    return [sys.executable, "-m", "shelfsight", "gateway", "run", "--config", str(config)]


class GatewayProcesses:
    def __init__(
        self, plan: ChainPlan, dsn: str, mqtt_host: str, mqtt_port: int, ports: dict[str, str],
        state: Path,
    ) -> None:
        self.plan = plan
        self.state = state
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._logs: dict[str, IO[bytes]] = {}
        self._reported: set[str] = set()
        for shop in plan.shops:
            shop.config_path.parent.mkdir(parents=True, exist_ok=True)
            (state / "gateways" / shop.store_id).mkdir(parents=True, exist_ok=True)
            shop.config_path.write_text(store_toml(shop, dsn, mqtt_host, mqtt_port, ports, state))

    def log_of(self, shop_id: str) -> Path:
        return self.state / "logs" / f"gateway-{shop_id}.log"

    def start(self) -> None:
        env = {**os.environ, "SHELFSIGHT_LOG_LEVEL": os.environ.get("SHELFSIGHT_LOG_LEVEL", "INFO")}
        for shop in self.plan.shops:
            path = self.log_of(shop.store_id)
            path.parent.mkdir(parents=True, exist_ok=True)
            fh = path.open("ab")
            self._logs[shop.store_id] = fh
            self._procs[shop.store_id] = subprocess.Popen(
                gateway_command(shop.config_path), stdout=fh, stderr=subprocess.STDOUT, env=env,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )
            log.info("gateway %s: pid %d", shop.store_id, self._procs[shop.store_id].pid)

    def wait_ready(self, timeout_s: float) -> None:
        """Until every gateway's /metrics answers (it serves it first thing)."""
        deadline = time.monotonic() + timeout_s
        for shop in self.plan.shops:
            left = max(deadline - time.monotonic(), 0.1)
            if not wait_port("127.0.0.1", shop.metrics_port, left):
                rc = self._procs[shop.store_id].poll()
                raise RuntimeError(
                    f"gateway {shop.store_id} did not start"
                    + (f" (exit {rc})" if rc is not None else "") + f"; see {self.log_of(shop.store_id)}"
                )

    def describe(self, shop_id: str) -> str:
        proc = self._procs.get(shop_id)
        return "not started" if proc is None else f"pid {proc.pid}"

    def exited(self) -> dict[str, int]:
        """Gateways that exited since the last call (shop -> exit code)."""
        out = {}
        for shop_id, proc in self._procs.items():
            rc = proc.poll()
            if rc is not None and shop_id not in self._reported:
                self._reported.add(shop_id)
                out[shop_id] = rc
        return out

    def stop(self) -> None:
        for proc in self._procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        failed = []
        for shop_id, proc in self._procs.items():
            try:
                rc = proc.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                proc.kill()
                rc = proc.wait()
                failed.append(f"{shop_id} killed after {STOP_TIMEOUT_S:.0f} s")
                continue
            if rc != 0 and shop_id not in self._reported:
                failed.append(f"{shop_id} exit {rc}")
        for fh in self._logs.values():
            fh.close()
        self._procs.clear()
        if failed:
            raise RuntimeError("gateways: " + ", ".join(failed))
