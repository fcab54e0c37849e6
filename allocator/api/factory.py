"""The uvicorn app factory: settings are loaded here, in each worker, never at import.

`shelfsight api serve` sets `SHELFSIGHT_API_CONFIG` (a TOML path, may be empty) and starts
uvicorn with `allocator.api.factory:app_from_env` and `factory=True`.
"""

from __future__ import annotations

import logging
import os

from fastapi import FastAPI

from allocator.api.app import create_app
from shelfsight.settings import ApiSettings, load_settings

CONFIG_ENV = "SHELFSIGHT_API_CONFIG"


def app_from_env() -> FastAPI:
    path = os.environ.get(CONFIG_ENV) or None
    settings = load_settings(ApiSettings, path)
    logging.getLogger(__name__).info("API worker %d starting (config %s)", os.getpid(), path)
    return create_app(settings)
