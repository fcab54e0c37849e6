"""Mercury, R2000 and TSL devices behind a pty, on their real wire formats.

Each answers its host's commands (Mercury: version, set-up, continuous start/stop, timed read,
tag buffer, clear; R2000: set work antenna, real-time inventory, version; TSL: `.iv`, `.vr`),
draws reads from a Scene, and passes every frame carrying reads through the FaultPlan, booking
the outcome in `device.truth`. They only use the public encoders of `readers.formats`.
"""

from __future__ import annotations

import struct

from readers.formats import mercury as mfmt
from readers.formats import r2000 as rfmt
from readers.formats import tsl as tfmt
from simulators.devices._pty import PtyDevice
from simulators.devices.scene import Fault, FaultPlan, Scene

MERCURY_VERSION = bytes.fromhex("07 10 23 00 01 00 00 03 20 14 10 07 01 07 02 09 00 00 00 10")
_MAX_BUFFER_DATA = 240  # bytes of tag records per `29` reply


class MercurySimulator(PtyDevice):
    """A Mercury module: continuous reading after `2F` start, or timed read + tag buffer."""

    def __init__(
        self,
        scene: Scene,
        faults: FaultPlan | None = None,
        baudrate: int = 115200,
        name: str = "mercury",
        time_scale: float = 1.0,
        status_rate: float = 0.0,
    ) -> None:
        super().__init__(scene, faults, baudrate, name, time_scale)
        self.status_rate = status_rate
        self._commands = mfmt.CommandDecoder()
        self.reset()

    def reset(self) -> None:
        self._continuous = False
        self._cycle_s = 1.0
        self._meta = 0x01FF
        self._search_flags = 0x001B
        self._next_cycle = 0.0
        self._started = 0.0
        self._buffer: list[mfmt.TagRecord] = []
        self._fetched = 0
        self._commands = mfmt.CommandDecoder()
        self._powered_on = False

    def tick(self, now: float) -> None:
        if not self._powered_on:
            self._powered_on = True
            self.send(mfmt.encode_response(mfmt.OP_VERSION, 0, MERCURY_VERSION))  # unsolicited
        if not self._continuous or now < self._next_cycle:
            return
        self._next_cycle = now + self._cycle_s * self.time_scale
        reads = [] if self.quiet else self.scene.cycle()
        for read in reads:
            rec = self._record(read.epc, read.antenna, read.rssi_dbm, read.frequency_khz, now)
            frame = mfmt.encode_stream_tag_frame([rec], self._meta, self._search_flags)
            if not self.emit_reads_frame(frame, [read.epc]):
                return  # unplugged: the module restarts and waits for its host
        if not reads:
            self.send(self.injector.garbage() + mfmt.encode_timed_read_response(0))
        if self.status_rate and self.injector.rng.random() < self.status_rate:
            status = self.injector.rng.choice([mfmt.STATUS_TEMPERATURE, mfmt.STATUS_RETURN_LOSS])
            self.send(mfmt.encode_response(mfmt.OP_READ_TAG_MULTIPLE, status))

    def _record(self, epc: bytes, antenna: int, rssi: int, freq: int, now: float) -> mfmt.TagRecord:
        ms = int((now - self._started) * 1000 / max(self.time_scale, 1e-9)) + self.faults.clock_skew_ms
        return mfmt.TagRecord(
            epc=epc,
            rssi_dbm=rssi,
            antenna_byte=(antenna << 4) | antenna,
            frequency_khz=freq,
            timestamp_ms=max(0, ms) & 0xFFFFFFFF,
            phase=self.injector.rng.randrange(0, 180),
        )

    def on_host_bytes(self, data: bytes, now: float) -> None:
        for cmd in self._commands.feed(data):
            self._command(cmd.opcode, cmd.data, now)

    def _command(self, op: int, data: bytes, now: float) -> None:
        ok = mfmt.STATUS_OK
        if op in (mfmt.OP_VERSION, mfmt.OP_BOOT_FIRMWARE):
            self.send(mfmt.encode_response(op, ok, MERCURY_VERSION))
        elif op == mfmt.OP_MULTI_PROTOCOL and len(data) >= 3 and data[2] == 0x01 and len(data) >= 16:
            _, self._search_flags, cycle_ms, self._meta = struct.unpack(">BHHH", data[9:16])
            self._cycle_s = max(cycle_ms, 1) / 1000.0
            self._continuous = True
            self._started = self._next_cycle = now
            self.send(mfmt.encode_response(op, ok, data[:3]))
        elif op == mfmt.OP_MULTI_PROTOCOL and len(data) >= 3 and data[2] == 0x02:
            self._continuous = False
            self.send(mfmt.encode_response(op, ok, data[:3]))
        elif op == mfmt.OP_READ_TAG_MULTIPLE and len(data) >= 7:
            _, _, timeout_ms, self._meta = struct.unpack(">BHHH", data[:7])
            self._started = now
            self.sleep(timeout_ms / 1000.0)
            if not self.quiet:
                self._fill_buffer(now)
            self.send(mfmt.encode_timed_read_response(len(self._buffer) - self._fetched))
        elif op == mfmt.OP_GET_TAG_BUFFER and len(data) >= 2:
            self._send_buffer(int.from_bytes(data[:2], "big"))
        elif op == mfmt.OP_CLEAR_TAG_BUFFER:
            self._buffer, self._fetched = [], 0
            self.send(mfmt.encode_response(op, ok))
        elif op in mfmt.KNOWN_OPCODES:
            self.send(mfmt.encode_response(op, ok))
        else:
            self.send(mfmt.encode_response(op, mfmt.STATUS_INVALID_OPCODE))

    def _fill_buffer(self, now: float) -> None:
        unfetched = {(r.epc, r.antenna): i for i, r in enumerate(self._buffer) if i >= self._fetched}
        for read in self.scene.cycle():
            rec = self._record(read.epc, read.antenna, read.rssi_dbm, read.frequency_khz, now)
            i = unfetched.get((read.epc, read.antenna))
            if i is None:
                unfetched[(read.epc, read.antenna)] = len(self._buffer)
                self._buffer.append(rec)
            else:
                old = self._buffer[i]
                self._buffer[i] = mfmt.TagRecord(
                    epc=old.epc,
                    rssi_dbm=max(old.rssi_dbm, rec.rssi_dbm),
                    antenna_byte=old.antenna_byte,
                    frequency_khz=old.frequency_khz,
                    timestamp_ms=old.timestamp_ms,
                    phase=old.phase,
                    read_count=min(255, old.read_count + 1),
                )

    def _send_buffer(self, meta: int) -> None:
        batch: list[mfmt.TagRecord] = []
        size = 0
        while self._fetched < len(self._buffer):
            rec = self._buffer[self._fetched]
            n = len(mfmt.encode_tag_record(rec, meta))
            if batch and size + n > _MAX_BUFFER_DATA:
                break
            batch.append(rec)
            size += n
            self._fetched += 1
        if not batch:
            self.send(mfmt.encode_response(mfmt.OP_GET_TAG_BUFFER, mfmt.STATUS_NO_TAGS))
            return
        frame = mfmt.encode_tag_buffer_response(batch, meta)
        # a record stands for the reads folded into it (readCount) when the host asked for it
        folded = bool(meta & mfmt.META_READ_COUNT)
        self.emit_reads_frame(frame, [r.epc for r in batch for _ in range(r.read_count if folded else 1)])


class R2000Simulator(PtyDevice):
    """An R2000 module: `74` selects the antenna, `89` runs real-time inventory rounds."""

    def __init__(
        self,
        scene: Scene,
        faults: FaultPlan | None = None,
        baudrate: int = 115200,
        name: str = "r2000",
        time_scale: float = 1.0,
        address: int = 1,
        round_ms: float = 50.0,
    ) -> None:
        super().__init__(scene, faults, baudrate, name, time_scale)
        self.address = address
        self.round_ms = round_ms
        self.reset()

    def reset(self) -> None:
        self._antenna = 1
        self._commands = rfmt.CommandDecoder()
        self._generation = getattr(self, "_generation", 0) + 1

    def on_host_bytes(self, data: bytes, now: float) -> None:
        for address, cmd, payload in self._commands.feed(data):
            if address not in (self.address, rfmt.BROADCAST):
                continue
            self._command(cmd, payload)

    def _command(self, cmd: int, data: bytes) -> None:
        addr = self.address
        if cmd == rfmt.CMD_SET_WORK_ANTENNA and data:
            ok = data[0] <= 3
            if ok:
                self._antenna = data[0] + 1
            self.send(rfmt.encode_status(addr, cmd, rfmt.SUCCESS if ok else 0x41))
        elif cmd == rfmt.CMD_REAL_TIME_INVENTORY and data:
            generation = self._generation
            for _ in range(1 if data[0] == 0xFF else max(1, data[0])):
                self.sleep(self.round_ms / 1000.0)
                reads = [] if self.quiet else self.scene.cycle(self._antenna)
                for read in reads:
                    rec = rfmt.TagRecord(
                        read.epc, read.antenna, rfmt.frequency_index(read.frequency_khz), read.rssi_dbm
                    )
                    if not self.emit_reads_frame(rfmt.encode_tag_record(rec, addr), [read.epc]):
                        return
                if generation != self._generation:
                    return
                rate = int(len(reads) * 1000 / max(self.round_ms, 1.0))
                end = rfmt.EndOfRound(self._antenna, min(rate, 0xFFFF), len(reads))
                self.send(self.injector.garbage(self.avoid_in_garbage) + rfmt.encode_end_of_round(end, addr))
        elif cmd == rfmt.CMD_GET_VERSION:
            self.send(rfmt.encode_frame(addr, cmd, b"\x01\x09"))
        elif cmd in rfmt.KNOWN_COMMANDS:
            self.send(rfmt.encode_status(addr, cmd))


class TslSimulator(PtyDevice):
    """A TSL handheld: answers `.iv` (and trigger pulls) with ASCII 2 inventory responses."""

    def __init__(
        self,
        scene: Scene,
        faults: FaultPlan | None = None,
        baudrate: int = 115200,
        name: str = "tsl",
        time_scale: float = 1.0,
        trigger_interval_s: float | None = None,
    ) -> None:
        super().__init__(scene, faults, baudrate, name, time_scale)
        self.trigger_interval_s = trigger_interval_s
        self.reset()

    def reset(self) -> None:
        self._line = bytearray()
        self._rssi = False
        self._host_seen = False
        self._next_trigger = 0.0

    def on_host_bytes(self, data: bytes, now: float) -> None:
        self._line += data
        while (i := self._line.find(b"\n")) >= 0:
            line = bytes(self._line[:i]).rstrip(b"\r").decode("ascii", "replace").strip()
            del self._line[: i + 1]
            if line:
                self._host_seen = True
                self._command(line)

    def tick(self, now: float) -> None:
        if self.trigger_interval_s is None or not self._host_seen or now < self._next_trigger:
            return
        self._next_trigger = now + self.trigger_interval_s * self.time_scale
        self._inventory(".iv")

    def _command(self, line: str) -> None:
        tokens = line.split()
        name = tokens[0].lower()
        if name == ".iv":
            if "-r" in tokens[:-1]:
                self._rssi = tokens[tokens.index("-r") + 1].lower() == "on"
            if "-n" in tokens:
                self.send(tfmt.encode_response(line))
            else:
                self._inventory(line)
        elif name == ".vr":
            info = [("MF", "Technology Solutions UK Ltd"), ("VR", "2.3.0")]
            self.send(tfmt.encode_response(line, info=info))
        elif name == ".ab":
            self.send(tfmt.encode_response(line))
        else:
            self.send(tfmt.encode_response(line, error_code=1))

    def _inventory(self, command: str) -> None:
        reads = [] if self.quiet else self.scene.cycle()
        inj = self.injector
        if not reads:
            self.send(tfmt.encode_response(command, error_code=tfmt.ERR_NO_TRANSPONDER))
            return
        tags = [tfmt.TslTag(r.epc, r.rssi_dbm if self._rssi else None) for r in reads]
        block = tfmt.encode_response(command, tags)
        epcs = [r.epc for r in reads]
        if inj.tag_frame_done():
            inj.book(epcs, Fault.TRUNCATE)
            self.unplug_now(block[: inj.rng.randrange(1, block.index(b"OK:"))])
            return
        fault = inj.draw()
        if fault is Fault.BAD_CRC:  # no CRC in ASCII: a mangled EPC line costs that one read
            victim = inj.rng.randrange(len(tags))
            text = f"EP: {tags[victim].epc.hex().upper()}\r\n".encode()
            block = block.replace(text, text[:4] + b"Z" + text[5:], 1)
            inj.book(epcs[:victim] + epcs[victim + 1 :], Fault.NONE)
            inj.book([epcs[victim]], Fault.BAD_CRC)
        elif fault is Fault.TRUNCATE:
            block = block[: inj.rng.randrange(1, block.index(b"OK:"))]
            inj.book(epcs, Fault.TRUNCATE)
        else:
            inj.book(epcs, Fault.NONE)
        noise = inj.garbage()
        if noise:  # Bluetooth line noise: stray 0x00/0xFF bytes inside the block
            buf = bytearray(block)
            for _ in range(len(noise)):
                buf.insert(inj.rng.randrange(len(buf) + 1), inj.rng.choice(b"\x00\xff"))
            block = bytes(buf)
        self.send(block)
