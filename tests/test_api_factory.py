"""The uvicorn factory of `shelfsight api serve` (allocator/api/factory.py)."""

from __future__ import annotations

import os
import subprocess
import sys


def test_a_served_worker_freezes_what_it_loaded_before_serving() -> None:
    """Start-up objects leave the collector's sight (gc.freeze): no 30 ms full collections."""
    code = (
        "import gc\nfrom allocator.api.factory import app_from_env\n"
        "before = gc.get_freeze_count()\napp_from_env()\nprint(before, gc.get_freeze_count())"
    )
    env = {**os.environ, "SHELFSIGHT__DATABASE__DSN": "postgresql://nobody@127.0.0.1:1/none",
           "SHELFSIGHT_API_CONFIG": ""}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=120, check=True)
    before, after = (int(x) for x in out.stdout.split())
    assert before == 0 and after > 10_000
