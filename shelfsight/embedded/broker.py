"""A throwaway MQTT broker on a free port: the `mosquitto` binary when it is on PATH (with the
queue limits lifted, as in config/mosquitto.conf), else amqtt in-process (MQTT 3.1.1 only, slow;
keeps persistent sessions only for clients that log in with a user name: DESIGN §11).
"""

from __future__ import annotations

import asyncio
import getpass
import logging
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Protocol

from shelfsight.embedded.ports import free_port, wait_port

log = logging.getLogger(__name__)


class BrokerUnavailableError(RuntimeError):
    pass


class Broker(Protocol):
    host: str
    port: int
    kind: str

    def start(self) -> None: ...
    def stop(self) -> None: ...
    def close(self) -> None: ...


def mosquitto_config(port: int, state_dir: Path, host: str = "127.0.0.1") -> str:
    """Lossless settings: persistence on, no per-client queue limit, an in-flight window."""
    lines = [
        f"listener {port} {host}",
        "allow_anonymous true",
        "persistence true",
        f"persistence_location {state_dir}/",
        "autosave_interval 1",
        "max_queued_messages 0",
        "max_queued_bytes 0",
        "max_inflight_messages 1000",  # = the gateway's max_inflight: see config/mosquitto.conf
        "set_tcp_nodelay true",
        f"log_dest file {state_dir}/mosquitto.log",
        "log_type error",
        "log_type warning",
        "log_type notice",
        "log_type information",  # "Opening ... listen socket on port N": proof the port is ours
    ]
    if os.geteuid() == 0:
        lines.append(f"user {getpass.getuser()}")
    return "\n".join(lines) + "\n"


class MosquittoBroker:
    kind = "mosquitto"

    def __init__(self, binary: str, base_dir: Path | None = None, port: int | None = None) -> None:
        self.binary = binary
        self.host = "127.0.0.1"
        self._fixed_port = port is not None
        self.port = port or free_port()
        self._owns = base_dir is None
        self.base_dir = Path(base_dir or tempfile.mkdtemp(prefix="shelfsight-mqtt-"))
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        # A free port can be taken by someone else before mosquitto binds it, and then a TCP probe
        # would find *their* server: only mosquitto's own log line proves the listener is ours.
        for _attempt in range(5):
            if self._start_once():
                log.info("mosquitto on %s:%s", self.host, self.port)
                return
            if self._fixed_port:
                break
            self.port = free_port()
        raise BrokerUnavailableError(f"mosquitto did not start on port {self.port}")

    def _start_once(self) -> bool:
        conf = self.base_dir / "mosquitto.conf"
        log_file = self.base_dir / "mosquitto.log"
        log_file.unlink(missing_ok=True)
        conf.write_text(mosquitto_config(self.port, self.base_dir, self.host))
        self._proc = subprocess.Popen(
            [self.binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        opened = f"listen socket on port {self.port}"
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                break  # could not bind (or bad config): try another port
            text = log_file.read_text(errors="replace") if log_file.exists() else ""
            if opened in text and wait_port(self.host, self.port, 5):
                return True
            time.sleep(0.02)
        self.stop()
        return False

    def stop(self) -> None:
        """Graceful stop: mosquitto saves its persistent sessions and queued messages."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None

    def close(self) -> None:
        self.stop()
        if self._owns:
            shutil.rmtree(self.base_dir, ignore_errors=True)


class AmqttBroker:
    """amqtt on its own event loop in a daemon thread."""

    kind = "amqtt"

    def __init__(self, port: int | None = None) -> None:
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._broker: Any = None

    def _config(self) -> dict[str, Any]:
        return {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True},
            },
        }

    def start(self) -> None:
        try:
            from amqtt.broker import Broker as _AmqttBroker
        except ImportError as exc:
            raise BrokerUnavailableError(
                "no mosquitto on PATH and amqtt is not installed (pip install 'shelfsight[embedded]')"
            ) from exc
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name="amqtt", daemon=True)
        self._thread.start()

        async def _start() -> Any:
            broker = _AmqttBroker(self._config(), loop=loop)
            await broker.start()
            return broker

        fut: Future[Any] = asyncio.run_coroutine_threadsafe(_start(), loop)
        # start() returns once its listener is bound; no TCP probe (amqtt logs a bare connect as
        # an error and leaks the probe's stream writer).
        self._broker = fut.result(30)
        log.info("amqtt on %s:%s", self.host, self.port)

    def stop(self) -> None:
        if self._loop is None:
            return
        if self._broker is not None:
            asyncio.run_coroutine_threadsafe(self._broker.shutdown(), self._loop).result(30)
            self._broker = None
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        self._loop.close()
        self._loop = None

    def close(self) -> None:
        self.stop()


def start_broker(prefer: str | None = None, port: int | None = None) -> Broker:
    """mosquitto if on PATH (or `prefer='mosquitto'`), else amqtt; started."""
    binary = shutil.which("mosquitto") or (
        "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None
    )
    broker: Broker
    if prefer != "amqtt" and binary:
        broker = MosquittoBroker(binary, port=port)
    elif prefer == "mosquitto":
        raise BrokerUnavailableError("mosquitto is not on PATH")
    else:
        broker = AmqttBroker(port=port)
    broker.start()
    return broker
