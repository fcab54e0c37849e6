"""`/v1/allocations`: allocate (dry run or reserve), read, cancel, confirm picks."""

from __future__ import annotations

import time
import uuid
from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import Response
from psycopg_pool import AsyncConnectionPool

from allocator.api import idempotency, picks, reservations, service
from allocator.api.auth import Principal
from allocator.api.batcher import Answer, ReserveBatcher
from allocator.api.deps import ApiState, Caller, Pool, State, pool_of, state_of
from allocator.api.problems import MEDIA_TYPE, ProblemError, ProblemType
from allocator.api.reservations import AttemptOutcome
from allocator.api.responses import problems
from allocator.api.schemas import AllocationOut, OrderIn, PickIn, PickOut

router = APIRouter(prefix="/v1/allocations", tags=["allocations"])

IdemKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=idempotency.MAX_KEY_LENGTH,
        description="Retry-safe key: a retry with the same key and body gets the first answer.",
    ),
]


def _canonical(body: Any, *extra: str) -> bytes:
    return "\0".join((body.model_dump_json(), *extra)).encode()


@router.post(
    "",
    response_model=AllocationOut,
    status_code=201,
    responses={200: {"model": AllocationOut, "description": "Dry run: the decision, nothing stored."},
               **problems(400, 409)},
    summary="Allocate an order: a node per line with its cost breakdown; reserve unless dry run.",
)
async def allocate(
    request: Request,
    body: OrderIn,
    caller: Caller,
    dry_run: Annotated[bool, Query(description="Decide only; reserve nothing.")] = False,
    idempotency_key: IdemKey = None,
) -> Response:
    return await allocate_order(
        state_of(request), caller, body, dry_run, idempotency_key, request.url.path
    )


async def allocate_order(
    state: ApiState,
    caller: Principal,
    body: OrderIn,
    dry_run: bool,
    idempotency_key: str | None,
    path: str,
) -> Response:
    """The allocation route once FastAPI (or `fastpath`) has parsed and authenticated it."""
    caller.require(oms=True)
    pool = pool_of(state)
    metrics = state.metrics
    settings = state.settings
    guard = idempotency.Guard.of(
        caller.key_id, idempotency_key, "POST", path, _canonical(body, f"dry_run={dry_run}")
    )
    start = time.perf_counter()
    try:
        result = await service.allocate(
            pool, body, dry_run=dry_run, costs=settings.costs,
            reservation=settings.reservations, caches=state.caches, guard=guard,
            batcher=state.batcher,
        )
    except ProblemError as problem:
        metrics.allocations.labels("not_available" if problem.status == 409 else "invalid").inc()
        if guard is None:
            raise
        if state.batcher is None or problem.type is ProblemType.IDEMPOTENCY_KEY_REUSED:
            async with idempotency.connection(pool) as conn:
                return await idempotency.record_problem(conn, guard, problem, path)
        return await _record_refusal(state.batcher, pool, guard, problem, path)
    finally:
        metrics.allocation_seconds.labels("true" if dry_run else "false").observe(
            time.perf_counter() - start
        )
    metrics.allocations.labels(result.outcome).inc()
    if result.replay is not None:
        return result.replay
    return Response(result.content, status_code=200 if dry_run else 201, media_type=idempotency.JSON)


async def _record_refusal(
    batcher: ReserveBatcher, pool: AsyncConnectionPool, guard: idempotency.Guard,
    problem: ProblemError, path: str,
) -> Response:
    """`idempotency.record_problem` group-committed: the refusal goes in the next batch."""
    content = problem.render(path)
    done = await batcher.record(Answer(guard, problem.status, MEDIA_TYPE, content))
    if done.outcome is AttemptOutcome.REPLAY:  # a concurrent first request answered first
        async with idempotency.connection(pool) as conn:
            return await guard.replay(conn)
    return Response(content, status_code=problem.status, media_type=MEDIA_TYPE)


async def _authorize_allocation(conn: Any, caller: Any, allocation_id: uuid.UUID) -> None:
    if caller.allowed(oms=True):
        return
    shops = await reservations.allocation_shops(conn, allocation_id)
    if not any(caller.allowed(shop=s) for s in shops):
        caller.require(oms=True)


@router.get(
    "/{allocation_id}",
    response_model=AllocationOut,
    responses=problems(404),
    summary="An allocation with its reservations (oms, admin, or a shop it picks from).",
)
async def get_allocation(allocation_id: uuid.UUID, pool: Pool, caller: Caller) -> Response:
    async with pool.connection() as conn:
        await _authorize_allocation(conn, caller, allocation_id)
        body = await reservations.load_allocation(conn, allocation_id)
    if body is None:
        raise ProblemError(404, ProblemType.NOT_FOUND, f"no allocation {allocation_id}")
    return Response(msgspec.json.encode(body), media_type=idempotency.JSON)


@router.post(
    "/{allocation_id}/cancel",
    response_model=AllocationOut,
    responses=problems(404, 409),
    summary="Cancel an allocation and release its reservations (no-op when already closed).",
)
async def cancel_allocation(
    request: Request, allocation_id: uuid.UUID, pool: Pool, caller: Caller,
    idempotency_key: IdemKey = None,
) -> Response:
    caller.require(oms=True)

    async def work(conn: Any) -> tuple[int, dict[str, Any]]:
        return 200, await reservations.cancel(conn, allocation_id)

    return await idempotency.run(
        pool, api_key_id=caller.key_id, idem_key=idempotency_key, method="POST",
        path=request.url.path, canonical_body=b"", work=work, instance=request.url.path,
    )


@router.post(
    "/{allocation_id}/picks",
    response_model=PickOut,
    responses=problems(400, 404, 409),
    summary="Confirm a pick with the EPCs picked; each is checked (shop, GTIN, not yet picked).",
)
async def confirm_pick(
    request: Request, allocation_id: uuid.UUID, body: PickIn, state: State, pool: Pool,
    caller: Caller, idempotency_key: IdemKey = None,
) -> Response:
    caller.require(shop=body.node_id)
    counter = state.metrics.picks

    async def work(conn: Any) -> tuple[int, dict[str, Any]]:
        try:
            out = await picks.confirm(conn, allocation_id, body.node_id, list(body.epcs))
        except ProblemError:
            counter.labels("refused").inc()
            raise
        counter.labels("confirmed").inc()
        return 200, out

    return await idempotency.run(
        pool, api_key_id=caller.key_id, idem_key=idempotency_key, method="POST",
        path=request.url.path, canonical_body=_canonical(body), work=work,
        instance=request.url.path,
    )
