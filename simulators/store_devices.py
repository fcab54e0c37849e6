"""A shop's simulated devices, driven by a shop with ground truth (`simulate store`, the demo).

Each shop is a `simulators.shop.ShopSim` (shoppers pick, try on, buy and leave; staff restock;
deliveries arrive; a few items are stolen) stepped once a second in real time. Its items carry
real SGTIN-96 EPCs of the catalogue's GTINs. After every step each device's `Scene` is replaced
by the tags now in its zones (`ReaderPlan.zones`), and the devices emit them on their real wire
formats: Zebra FX / Impinj R700 over MQTT, Mercury / R2000 / TSL behind pseudo-terminals.
"""

from __future__ import annotations

import logging
import random
import threading
from dataclasses import dataclass, field
from typing import Protocol

from readers.epc import encode_sgtin
from simulators.devices.scene import Scene, TagInRange

log = logging.getLogger(__name__)

STEP_S = 1.0


@dataclass(frozen=True)
class ReaderPlan:
    """One simulated reader: its driver and which zone each antenna watches."""

    reader_id: str
    driver: str  # zebra_iotc, impinj_iot, mercury, r2000, tsl_ascii
    zones: dict[int, str]

    @property
    def is_mqtt(self) -> bool:
        return self.driver in ("zebra_iotc", "impinj_iot")


class ShopPlan(Protocol):
    """What the devices need to know of a shop."""

    @property
    def store_id(self) -> str: ...
    @property
    def number(self) -> int: ...  # 1-based: EPC serial range and seed
    @property
    def items(self) -> int: ...
    @property
    def readers(self) -> tuple[ReaderPlan, ...]: ...


class _Device(Protocol):
    scene: Scene


@dataclass
class _Running:
    reader: ReaderPlan
    device: _Device
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    port: str | None = None


class ShopDevices:
    """One shop: its ShopSim and the devices that read it."""

    def __init__(self, shop: ShopPlan, gtins: tuple[str, ...], mqtt_host: str, mqtt_port: int) -> None:
        from simulators.shop import ShopConfig, ShopSim

        self.shop = shop
        self.gtins = gtins
        self.mqtt = (mqtt_host, mqtt_port)
        cfg = ShopConfig(
            items=shop.items, gtins=len(gtins), cycle_s=STEP_S, picks_per_min=4.0,
            restock_every_s=90.0, restock_items=10, delivery_every_s=150.0, delivery_items=12,
            thefts_per_hour=4.0, census_every_s=0.0,
        )
        self.sim = ShopSim(cfg, seed=shop.number)
        self._epcs: list[bytes] = []
        rng = random.Random(shop.number)
        self._p = [rng.uniform(0.65, 0.95) for _ in range(4096)]
        self._rssi = [rng.uniform(-68.0, -45.0) for _ in range(4096)]
        self._devices: list[_Running] = []

    # -- items -----------------------------------------------------------------------------
    def _epc(self, item: int) -> bytes:
        while len(self._epcs) <= item:
            i = len(self._epcs)
            gtin = self.gtins[int(self.sim.gtin_index[i]) % len(self.gtins)]
            serial = str(self.shop.number * 10_000_000 + i + 1)
            self._epcs.append(encode_sgtin(gtin, serial))
        return self._epcs[item]

    def scenes(self) -> dict[str, list[TagInRange]]:
        """Reader id -> tags in range now, from the shop's ground truth."""
        names = self.sim.zone_names()
        zone_of = self.sim.true_zone
        wanted: dict[str, list[tuple[str, int]]] = {}
        for r in self.shop.readers:
            for antenna, zone in r.zones.items():
                wanted.setdefault(zone, []).append((r.reader_id, antenna))
        out: dict[str, list[TagInRange]] = {r.reader_id: [] for r in self.shop.readers}
        for item, z in enumerate(zone_of.tolist()):
            if z < 0:
                continue
            places = wanted.get(names[z], [])
            if not places:
                continue
            reader, antenna = places[item % len(places)]
            k = item % len(self._p)
            out[reader].append(TagInRange(self._epc(item), antenna, self._p[k], self._rssi[k]))
        return out

    def step(self) -> None:
        self.sim.step()
        for reader_id, tags in self.scenes().items():
            for running in self._devices:
                if running.reader.reader_id == reader_id:
                    running.device.scene.tags = tags  # one reference swap: safe for the device thread

    # -- devices ---------------------------------------------------------------------------
    def start_serial(self) -> dict[str, str]:
        """Start the pty devices; returns reader id -> port (open them after this)."""
        from simulators.devices.serial_sim import MercurySimulator, R2000Simulator, TslSimulator

        scenes = self.scenes()
        ports: dict[str, str] = {}
        for r in self.shop.readers:
            if r.is_mqtt:
                continue
            scene = Scene(scenes[r.reader_id], seed=self.shop.number)
            if r.driver == "mercury":
                dev: MercurySimulator | R2000Simulator | TslSimulator = MercurySimulator(
                    scene, name=r.reader_id)
            elif r.driver == "r2000":
                dev = R2000Simulator(scene, name=r.reader_id)
            else:
                dev = TslSimulator(scene, name=r.reader_id)
            dev.start()
            self._devices.append(_Running(r, dev, port=dev.port))
            ports[r.reader_id] = dev.port
        return ports

    def start_mqtt(self) -> None:
        from simulators.devices.mqtt_sim import ImpinjMqttSimulator, ZebraFxSimulator

        scenes = self.scenes()
        host, port = self.mqtt
        for r in self.shop.readers:
            if not r.is_mqtt:
                continue
            scene = Scene(scenes[r.reader_id], seed=self.shop.number)
            running: _Running
            if r.driver == "zebra_iotc":
                zebra = ZebraFxSimulator(host, port, r.reader_id, scene, reads_per_message=200,
                                         mode="INVENTORY")
                zebra.connect()
                running = _Running(r, zebra)
                running.thread = threading.Thread(
                    target=zebra.run, args=(running.stop, STEP_S, 30.0), name=f"sim-{r.reader_id}",
                    daemon=True)
            else:
                impinj = ImpinjMqttSimulator(host, port, r.reader_id, scene, epc_format="hex")
                impinj.connect()
                running = _Running(r, impinj)
                running.thread = threading.Thread(
                    target=impinj.run, args=(running.stop, STEP_S), name=f"sim-{r.reader_id}",
                    daemon=True)
            running.thread.start()
            self._devices.append(running)

    def ground_truth(self) -> dict[str, dict[str, int]]:
        """Reader id -> what its device really emitted (reads emitted, corrupted, intact)."""
        out: dict[str, dict[str, int]] = {}
        for running in self._devices:
            truth = getattr(running.device, "truth", None)
            if truth is None:
                continue
            out[running.reader.reader_id] = {
                "reads_emitted": int(truth.reads_emitted),
                "reads_corrupted": int(truth.reads_corrupted),
                "reads_intact": int(truth.reads_intact),
            }
        return out

    def stop(self) -> None:
        for running in self._devices:
            running.stop.set()
        for running in self._devices:
            if running.thread is not None:
                running.thread.join(5)
            dev = running.device
            try:
                if running.port is not None:
                    dev.stop()  # type: ignore[attr-defined]
                else:
                    dev.close()  # type: ignore[attr-defined]
            except (OSError, RuntimeError, TimeoutError) as exc:
                log.warning("device %s did not stop cleanly: %s", running.reader.reader_id, exc)
        self._devices.clear()


class ShopTicker:
    """Steps every shop once per STEP_S in a thread of its own."""

    def __init__(self, shops: list[ShopDevices]) -> None:
        self.shops = shops
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-shops", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(STEP_S):
            for shop in self.shops:
                try:
                    shop.step()
                except (ValueError, IndexError) as exc:
                    log.error("shop %s: step failed: %s", shop.shop.store_id, exc)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
