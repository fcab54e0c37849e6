"""The gateway connects to a broker over TLS with a user name and password (DESIGN §10).

A mosquitto of the test's own: one plain listener for the simulated reader, one TLS listener
requiring a password for the gateway. Certificates are made by `openssl` for this test only.
"""

from __future__ import annotations

import getpass
import os
import shutil
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from gateway_harness import ThreadDaemon, db_reads, wait_for, write_config
from paho.mqtt.enums import CallbackAPIVersion

from shelfsight.embedded.ports import free_port, wait_port
from simulators.devices.mqtt_sim import ZebraFxSimulator
from simulators.devices.scene import Scene

pytestmark = pytest.mark.skipif(
    not (shutil.which("openssl") and shutil.which("mosquitto") and shutil.which("mosquitto_passwd")),
    reason="needs openssl, mosquitto and mosquitto_passwd",
)


def _certs(d: Path) -> tuple[Path, Path, Path]:
    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
        "-days", "2", "-subj", "/CN=shelfsight-test-ca")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
        "-subj", "/CN=127.0.0.1")
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "server.crt", "-days", "2", "-extfile", "san.ext")
    return d / "ca.crt", d / "server.crt", d / "server.key"


@pytest.fixture
def tls_broker(tmp_path: Path) -> Iterator[tuple[int, int, Path]]:
    ca, cert, key = _certs(tmp_path)
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(tmp_path / "passwd"), "gateway", "s3cret"],
                   check=True, capture_output=True)
    plain, secure = free_port(), free_port()
    conf = tmp_path / "mosquitto.conf"
    lines = [
        "per_listener_settings true",
        f"listener {plain} 127.0.0.1", "allow_anonymous true",
        f"listener {secure} 127.0.0.1", "allow_anonymous false",
        f"password_file {tmp_path / 'passwd'}",
        f"cafile {ca}", f"certfile {cert}", f"keyfile {key}",
        "max_queued_messages 0", "max_inflight_messages 0",
    ]
    if os.geteuid() == 0:
        lines.append(f"user {getpass.getuser()}")
    conf.write_text("\n".join(lines) + "\n")
    proc = subprocess.Popen(["mosquitto", "-c", str(conf)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        assert wait_port("127.0.0.1", secure, 15) and wait_port("127.0.0.1", plain, 15)
        yield plain, secure, ca
    finally:
        proc.terminate()
        proc.wait(10)


def _connect_rc(port: int, ca: Path, user: str | None, password: str | None) -> int:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    client.tls_set(ca_certs=str(ca), cert_reqs=ssl.CERT_REQUIRED)
    if user is not None:
        client.username_pw_set(user, password)
    result: list[int] = []
    client.on_connect = lambda c, u, f, rc, p: result.append(int(rc.value))
    client.connect("127.0.0.1", port)
    client.loop_start()
    assert wait_for(lambda: bool(result), 10)
    client.disconnect()
    client.loop_stop()
    return result[0]


def test_broker_refuses_anonymous_and_wrong_password(tls_broker: tuple[int, int, Path]) -> None:
    _, secure, ca = tls_broker
    assert _connect_rc(secure, ca, None, None) != 0
    assert _connect_rc(secure, ca, "gateway", "wrong") != 0
    assert _connect_rc(secure, ca, "gateway", "s3cret") == 0


def test_gateway_over_tls_with_credentials_stores_every_read(
    tls_broker: tuple[int, int, Path], pg_migrated_dsn: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    plain, secure, ca = tls_broker
    cfg = write_config(tmp_path, pg_migrated_dsn, "127.0.0.1", secure, client_id="gw-tls")
    text = cfg.read_text().replace(
        'client_id = "gw-tls"',
        f'client_id = "gw-tls"\ntls = true\nca_file = "{ca}"\nusername = "gateway"',
    )
    cfg.write_text(text)
    monkeypatch.setenv("SHELFSIGHT__MQTT__PASSWORD", "s3cret")  # secrets come from the environment
    gw = ThreadDaemon(cfg).start()
    sim = ZebraFxSimulator("127.0.0.1", plain, "fx-1", Scene.random(40, (1, 2)), reads_per_message=25)
    sim.connect()
    try:
        for _ in range(4):
            sim.run_cycles(1)
        sim.quiesce()
        assert wait_for(lambda: db_reads(pg_migrated_dsn) >= sim.truth.reads_intact)
        assert db_reads(pg_migrated_dsn) == sim.truth.reads_intact > 0
    finally:
        sim.close()
        assert gw.stop() == 0
