"""The live dashboard: a static page (plain HTML, JS and SVG; no build step, no CDN) at `/`
and the read-only JSON routes it polls under `/v1/dashboard/`.

`mount_dashboard(app)` adds both to an app built by `allocator.api.create_app`;
`attach_relay(app, relay)` makes `/metrics` and the reader panel include the shop gateways'
own metrics (the demo does this; see `allocator.dashboard.relay`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, Response

from allocator.dashboard.relay import GatewayMetricsRelay

STATIC_DIR = Path(__file__).parent
ASSETS = {"app.js": "text/javascript", "style.css": "text/css"}


def mount_dashboard(app: FastAPI) -> None:
    """Serve the page at `/` (and its two assets) and the `/v1/dashboard/*` routes."""
    from allocator.dashboard.routes import router

    app.include_router(router)

    async def page() -> Response:
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html",
                            headers={"Cache-Control": "no-cache"})

    app.add_api_route("/", page, methods=["GET"], include_in_schema=False)
    for name, media in ASSETS.items():
        app.add_api_route(f"/dashboard/{name}", _asset(name, media), methods=["GET"],
                          include_in_schema=False)


def _asset(name: str, media: str) -> Callable[[], Awaitable[Response]]:
    async def asset() -> Response:
        return FileResponse(STATIC_DIR / name, media_type=media, headers={"Cache-Control": "no-cache"})

    return asset


def attach_relay(app: FastAPI, relay: GatewayMetricsRelay) -> None:
    """Expose the gateways' metrics on the app's `/metrics` and the reader panel.

    Works when the app has a registry of its own (one worker, no PROMETHEUS_MULTIPROC_DIR).
    """
    app.state.dashboard_relay = relay
    registry = app.state.shelfsight.metrics.registry
    if registry is None:
        raise RuntimeError("the API runs in multiprocess metrics mode; scrape the gateways directly")
    registry.register(relay)


__all__ = ["GatewayMetricsRelay", "attach_relay", "mount_dashboard"]
