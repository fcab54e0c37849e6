"""Simulated reader devices on their real wire formats (serial ones behind a pty)."""

from __future__ import annotations

from simulators.devices.scene import Fault, FaultPlan, GroundTruth, Scene, SimRead, TagInRange
from simulators.devices.serial_sim import MercurySimulator, R2000Simulator, TslSimulator

__all__ = [
    "Fault",
    "FaultPlan",
    "GroundTruth",
    "MercurySimulator",
    "R2000Simulator",
    "Scene",
    "SimRead",
    "TagInRange",
    "TslSimulator",
]
