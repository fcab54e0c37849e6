"""API keys: `ssk_<key_id>_<secret>`, stored as sha256(secret) with scopes; checked on every route.

Scopes: `admin` (everything), `oms` (allocate, read and cancel allocations, read stock),
`store:<id>` (confirm picks at shop <id>, read that shop's stock, events and its allocations).
Verified keys are cached per process for `CACHE_TTL_S` seconds, so a revocation takes effect
within that time. The secret is never logged; only the key id is.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import time
from dataclasses import dataclass, field

from psycopg import AsyncConnection
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool

from allocator.api.problems import ProblemError, ProblemType

log = logging.getLogger(__name__)

PREFIX = "ssk"
CACHE_TTL_S = 10.0
_KEY_RE = re.compile(r"^ssk_([0-9a-f]{12})_([A-Za-z0-9_-]{20,128})$")
_SCOPE_RE = re.compile(r"^(admin|oms|store:[A-Za-z0-9._-]{1,64})$")


class ScopeError(ValueError):
    """A scope string that is not `admin`, `oms` or `store:<id>`."""


def check_scope(scope: str) -> str:
    if not _SCOPE_RE.match(scope):
        raise ScopeError(f"invalid scope {scope!r}: use admin, oms or store:<id>")
    return scope


def hash_secret(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


@dataclass(frozen=True)
class NewKey:
    key_id: str
    token: str  # shown once, never stored
    secret_hash: bytes


def new_key() -> NewKey:
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return NewKey(key_id, f"{PREFIX}_{key_id}_{secret}", hash_secret(secret))


async def create_key(conn: AsyncConnection[TupleRow], scopes: list[str], note: str = "") -> NewKey:
    """Insert a new key with `scopes` (validated) and return it; the caller shows `token` once."""
    checked = [check_scope(s) for s in scopes]
    if not checked:
        raise ScopeError("at least one scope is needed")
    key = new_key()
    await conn.execute(
        "INSERT INTO api_keys (key_id, secret_hash, scopes, note) VALUES (%s, %s, %s, %s)",
        (key.key_id, key.secret_hash, checked, note),
    )
    log.info("created API key %s with scopes %s", key.key_id, checked)
    return key


@dataclass(frozen=True)
class Principal:
    """The caller behind a verified key."""

    key_id: str
    scopes: frozenset[str]

    @property
    def is_admin(self) -> bool:
        return "admin" in self.scopes

    @property
    def shops(self) -> frozenset[str]:
        return frozenset(s.removeprefix("store:") for s in self.scopes if s.startswith("store:"))

    def allowed(self, *, oms: bool = False, shop: str | None = None) -> bool:
        if self.is_admin or (oms and "oms" in self.scopes):
            return True
        return shop is not None and shop in self.shops

    def require(self, *, oms: bool = False, shop: str | None = None) -> None:
        if not self.allowed(oms=oms, shop=shop):
            wanted = ["admin"] + (["oms"] if oms else []) + ([f"store:{shop}"] if shop else [])
            raise ProblemError(
                403, ProblemType.FORBIDDEN, f"this request needs one of the scopes {wanted}",
                extra={"required_scopes": wanted},
            )


@dataclass
class KeyStore:
    """Looks keys up in `api_keys`, caching verified rows for CACHE_TTL_S."""

    ttl_s: float = CACHE_TTL_S
    _cache: dict[str, tuple[bytes, frozenset[str], float]] = field(default_factory=dict)

    async def verify(self, pool: AsyncConnectionPool, token: str | None) -> Principal:
        if not token:
            raise _unauthorized("no API key: send 'Authorization: Bearer <key>' or 'X-API-Key'")
        m = _KEY_RE.match(token)
        if m is None:
            raise _unauthorized("malformed API key")
        key_id, secret = m.group(1), m.group(2)
        now = time.monotonic()
        cached = self._cache.get(key_id)
        if cached is None or now - cached[2] > self.ttl_s:
            async with pool.connection() as conn:
                cur = await conn.execute(
                    "SELECT secret_hash, scopes FROM api_keys"
                    " WHERE key_id = %s AND revoked_at IS NULL",
                    (key_id,),
                )
                row = await cur.fetchone()
            if row is None:
                self._cache.pop(key_id, None)
                log.info("refused unknown or revoked API key %s", key_id)
                raise _unauthorized("unknown or revoked API key")
            cached = (bytes(row[0]), frozenset(row[1]), now)
            self._cache[key_id] = cached
        if not hmac.compare_digest(cached[0], hash_secret(secret)):
            log.info("refused API key %s: secret does not match", key_id)
            raise _unauthorized("invalid API key")
        return Principal(key_id, cached[1])


def _unauthorized(detail: str) -> ProblemError:
    return ProblemError(
        401, ProblemType.UNAUTHORIZED, detail, headers={"WWW-Authenticate": 'Bearer realm="shelfsight"'}
    )


def token_from_headers(authorization: str | None, x_api_key: str | None) -> str | None:
    if x_api_key:
        return x_api_key.strip()
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer":
            return value.strip()
    return None
