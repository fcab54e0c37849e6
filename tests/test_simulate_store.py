"""`shelfsight simulate store` runs a shop's devices and hands back ports a gateway can use."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from shelfsight.settings import StoreSettings, load_settings
from shelfsight.testing.servers import MqttHandle

ROOT = Path(__file__).resolve().parents[1]


def test_simulate_store_writes_a_gateway_config(tmp_path: Path, mqtt_broker: MqttHandle) -> None:
    text = (ROOT / "config" / "store-demo.toml").read_text().replace(
        "port = 1883", f"port = {mqtt_broker.port}"
    )
    config = tmp_path / "store.toml"
    config.write_text(text)
    out = tmp_path / "gateway.toml"
    proc = subprocess.run(
        [sys.executable, "-m", "shelfsight", "simulate", "store", "--config", str(config),
         "--minutes", "0.05", "--write-config", str(out)],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["store"] == "shop-001"
    assert summary["devices"]["fx9600-floor"]["reads_emitted"] > 0
    settings = load_settings(StoreSettings, out)
    serial = {r.id: r.port for r in settings.readers if r.driver == "mercury"}
    assert serial["m6e-backroom"] is not None
    assert serial["m6e-backroom"].startswith("/") and "shelfsight-pty-" in serial["m6e-backroom"]
    assert settings.mqtt.port == mqtt_broker.port
