"""Where the reference samples and vectors live in the repository (copied from shared/reference)."""

from __future__ import annotations

from pathlib import Path

REFERENCE = Path(__file__).resolve().parent / "data" / "reference"
SAMPLES = REFERENCE / "samples"
EPC_VECTORS = REFERENCE / "epc_vectors.json"
