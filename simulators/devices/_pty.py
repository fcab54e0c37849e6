"""A simulated serial device behind a pseudo-terminal, paced to its baud rate.

The driver opens `device.port`, a symlink in a private temp dir that points to the current pty
slave. "Unplugging" closes the pty and opens a new one, re-pointing the symlink: the driver sees
its port vanish and must reopen the same path. A pty ignores the baud rate (megabytes/s), so
writes are paced to baudrate / 10 bytes per second.
"""

from __future__ import annotations

import fcntl
import logging
import os
import select
import struct
import tempfile
import termios
import threading
import time
import tty
from pathlib import Path

from simulators.devices.scene import Fault, FaultInjector, FaultPlan, GroundTruth, Scene

log = logging.getLogger(__name__)


class DeviceStopped(Exception):
    """Raised inside the device thread when stop() interrupts a paced write."""


class PtyDevice:
    """Base of the serial device simulators: pty, pacing, thread, unplugging, quiescing."""

    avoid_in_garbage = b""  # bytes the garbage generator must not produce (none by default)

    def __init__(
        self,
        scene: Scene,
        faults: FaultPlan | None = None,
        baudrate: int = 115200,
        name: str = "reader",
        time_scale: float = 1.0,
    ) -> None:
        self.scene = scene
        self.faults = faults or FaultPlan()
        self.baudrate = baudrate
        self.time_scale = time_scale
        self.truth = GroundTruth()
        self.injector = FaultInjector(self.faults, self.truth)
        self._dir = Path(tempfile.mkdtemp(prefix="shelfsight-pty-"))
        self.port = str(self._dir / name)
        self._master = -1
        self._slave = -1
        self._stop = threading.Event()
        self._quiet = threading.Event()
        self._busy = threading.Lock()
        self._thread: threading.Thread | None = None
        self._next_free = 0.0
        self._rate = baudrate / 10.0

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("device already started")
        self._plug()
        self._thread = threading.Thread(target=self._main, name=f"sim-{Path(self.port).name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None
        self._unplug()
        for p in self._dir.iterdir():
            p.unlink()
        self._dir.rmdir()

    def quiesce(self, timeout_s: float = 5.0) -> bool:
        """Emit no more reads (replies still flow) and wait until the host has read every byte."""
        self._quiet.set()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._busy:
                if self._unread() == 0:
                    return True
            time.sleep(0.01)
        return False

    def resume(self) -> None:
        self._quiet.clear()

    @property
    def quiet(self) -> bool:
        return self._quiet.is_set()

    # ------------------------------------------------------------ for subclasses

    def on_host_bytes(self, data: bytes, now: float) -> None:
        """Bytes the host wrote (commands)."""

    def tick(self, now: float) -> None:
        """Called every few ms: emit whatever is due."""

    def reset(self) -> None:
        """Power-on state (after a re-plug)."""

    def send(self, data: bytes) -> None:
        """Write to the host, paced to the baud rate; blocks while the host does not read."""
        if not data:
            return
        chunk = max(16, int(self._rate * 0.002))
        for i in range(0, len(data), chunk):
            part = data[i : i + chunk]
            now = time.monotonic()
            self._next_free = max(self._next_free, now) + len(part) / self._rate
            self._write_all(part)
            delay = self._next_free - time.monotonic()
            if delay > 0:
                time.sleep(delay)

    def sleep(self, seconds: float) -> None:
        """Device time (scaled), interruptible by stop()."""
        if self._stop.wait(seconds * self.time_scale):
            raise DeviceStopped

    def unplug_now(self, partial: bytes = b"") -> None:
        """The port vanishes: optionally after the first bytes of a frame (booked by caller)."""
        self.send(partial)
        deadline = time.monotonic() + 2.0
        while self._unread() and time.monotonic() < deadline:
            time.sleep(0.005)
        self.truth.undrained_at_drop += self._unread()
        self.truth.port_drops += 1
        self._unplug()
        if self._stop.wait(self.faults.unplugged_s):
            raise DeviceStopped
        self.reset()
        self._plug()

    def emit_reads_frame(self, frame: bytes, epcs: list[bytes], first: int = 3) -> bool:
        """Send a frame carrying reads through the fault plan; False if the port vanished."""
        inj = self.injector
        junk = inj.garbage(self.avoid_in_garbage)
        if inj.tag_frame_done():
            inj.book(epcs, Fault.TRUNCATE)
            self.unplug_now(junk + frame[: inj.rng.randrange(1, len(frame))])
            return False
        fault = inj.draw()
        inj.book(epcs, fault)
        self.send(junk + inj.corrupt(frame, fault, first))
        return True

    # ------------------------------------------------------------ internals

    def _main(self) -> None:
        try:
            while not self._stop.is_set():
                ready, _, _ = select.select([self._master], [], [], 0.005)
                now = time.monotonic()
                with self._busy:
                    if ready:
                        try:
                            data = os.read(self._master, 4096)
                        except OSError:  # no slave open right now (EIO): nothing to read
                            data = b""
                            time.sleep(0.005)
                        if data:
                            self.on_host_bytes(data, now)
                    self.tick(now)
        except DeviceStopped:
            return
        except OSError:
            log.exception("simulated device %s failed", self.port)

    def _write_all(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            if self._stop.is_set():
                raise DeviceStopped
            _, writable, _ = select.select([], [self._master], [], 0.05)
            if not writable:
                continue
            try:
                n = os.write(self._master, view)
            except BlockingIOError:
                continue
            view = view[n:]

    def _unread(self) -> int:
        if self._slave < 0:
            return 0
        buf = fcntl.ioctl(self._slave, termios.FIONREAD, b"\0\0\0\0")
        return int(struct.unpack("i", buf)[0])

    def _plug(self) -> None:
        master, slave = os.openpty()
        tty.setraw(slave)
        os.set_blocking(master, False)
        self._master, self._slave = master, slave
        tmp = self.port + ".new"
        if os.path.lexists(tmp):
            os.unlink(tmp)
        os.symlink(os.ttyname(slave), tmp)
        os.replace(tmp, self.port)

    def _unplug(self) -> None:
        for fd in (self._master, self._slave):
            if fd >= 0:
                os.close(fd)
        self._master = self._slave = -1
