"""Property-based conformance: schemathesis drives every operation of the OpenAPI document.

With a valid admin key against a seeded chain, for every generated request: no 5xx, the status
code is documented, and the body matches the documented schema and content type. Valid and
invalid (negative) inputs, `EXAMPLES` of each per operation.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
import uvicorn
from api_fixtures import Chain, api_settings, auth, make_chain
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import checks
from schemathesis.core.result import Ok
from schemathesis.generation import GenerationMode

from allocator.api.app import create_app
from shelfsight.embedded.ports import free_port

EXAMPLES = 15
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]


@pytest.fixture
def served(pg_migrated_dsn: str) -> Iterator[tuple[str, Chain]]:
    """The app under uvicorn in a thread (one process; the real HTTP stack)."""
    chain = make_chain(pg_migrated_dsn)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(api_settings(chain.dsn)), host="127.0.0.1", port=port,
                       log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", chain
    finally:
        server.should_exit = True
        thread.join(15)


def test_every_operation_conforms(served: tuple[str, Chain]) -> None:
    base, chain = served
    doc = httpx.get(base + "/openapi.json", timeout=10).json()
    schema = schemathesis.openapi.from_dict(doc)
    headers = auth(chain.keys["admin"])
    seen = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        operation = result.ok()
        seen.append(f"{operation.method.upper()} {operation.path}")
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(max_examples=EXAMPLES, deadline=None, database=None,
                      suppress_health_check=list(HealthCheck))
            @given(case=operation.as_strategy(mode))
            def check(case: schemathesis.Case[Any]) -> None:
                response = case.call(base_url=base, headers=headers, timeout=30)
                case.validate_response(response, checks=CHECKS)

            try:
                check()
            except Unsatisfiable:
                # No invalid input exists for an operation without parameters (e.g. /healthz).
                assert mode is GenerationMode.NEGATIVE
    assert len(seen) == 16, seen  # every operation of the OpenAPI document, dashboard included
