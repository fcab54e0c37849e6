"""Liveness, readiness (database reachable, migrations current) and Prometheus metrics."""

from __future__ import annotations

import asyncio
import logging

import msgspec
import psycopg
from fastapi import APIRouter
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel

from allocator.api.deps import State
from allocator.api.metrics import CONTENT_TYPE
from shelfsight.db import pending

log = logging.getLogger(__name__)

router = APIRouter(tags=["operations"])

READY_TIMEOUT_S = 3


class ReadyOut(BaseModel):
    status: str
    reasons: list[str]


def _pending_sync(conninfo: str) -> list[str]:
    with psycopg.connect(conninfo, connect_timeout=READY_TIMEOUT_S) as conn:
        return pending(conn)


@router.get("/healthz", summary="The process is up.")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Ready: the database answers and every migration is applied (else 503).",
    response_model=ReadyOut,
    responses={503: {"model": ReadyOut, "description": "Not ready; `reasons` says why."}},
)
async def readyz(state: State) -> Response:
    reasons: list[str] = []
    if state.pool is None:
        reasons.append("database pool not open")
    else:
        try:
            missing = await asyncio.wait_for(
                asyncio.to_thread(_pending_sync, str(state.pool.conninfo)), READY_TIMEOUT_S + 1
            )
        except (psycopg.Error, TimeoutError, OSError) as exc:
            log.warning("readiness: database unreachable: %s", exc)
            reasons.append(f"database unreachable: {type(exc).__name__}")
        else:
            if missing:
                reasons.append(f"migrations pending: {', '.join(missing)}")
    body = {"status": "not ready" if reasons else "ready", "reasons": reasons}
    return Response(msgspec.json.encode(body), status_code=503 if reasons else 200,
                    media_type="application/json")


@router.get(
    "/metrics", response_class=PlainTextResponse, summary="Prometheus metrics (text exposition format)."
)
async def metrics(state: State) -> Response:
    return Response(state.metrics.render(), media_type=CONTENT_TYPE)
