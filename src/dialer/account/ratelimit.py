"""Per-API-key rate limiting for the polling endpoints (``limits``, sliding window
counter: the current and previous fixed windows, weighted — two counters per key
instead of one timestamp per hit. The moving window's in-memory storage re-scanned every
key's hit list, through a worker thread, on each request: ~10 % of the API's CPU under
polling load).

Storage is in-process memory by default; with ``DIALER_REDIS_URL`` every API instance
shares one Redis, so a client cannot multiply its allowance by hitting several
instances behind a load balancer.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter

from dialer.account.auth import Principal, current_principal
from dialer.config import Settings
from dialer.errors import TooManyRequests


class RateLimited(TooManyRequests):
    """Rate limit exceeded; retry after the number of seconds in Retry-After."""


def storage_for(settings: Settings) -> Storage:
    """Memory storage, or Redis (shared across API instances) when REDIS_URL is set."""
    if settings.REDIS_URL:
        url = settings.REDIS_URL
        # limits' asyncio storages are selected by an ``async+`` scheme.
        if not url.startswith("async+"):
            url = "async+" + url
        return RedisStorage(url, implementation="redispy")
    return MemoryStorage()


@dataclass
class Limiter:
    """One named limit applied per identity (API key)."""

    name: str
    item: RateLimitItem
    strategy: SlidingWindowCounterRateLimiter

    async def check(self, identity: str) -> None:
        """Count one hit for ``identity``; raise RateLimited (429) when over the limit."""
        if await self.strategy.hit(self.item, self.name, identity):
            return
        stats = await self.strategy.get_window_stats(self.item, self.name, identity)
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        raise RateLimited(
            f"rate limit of {self.item} exceeded for this API key; retry in {retry_after} s",
            headers={"Retry-After": str(retry_after)},
            limit=str(self.item),
            retry_after=retry_after,
        )


def _limiter(request: Request, name: str, limit: str) -> Limiter:
    # Built lazily and kept on the app: one storage per process (or one Redis client).
    state = request.app.state
    limiters: dict[str, Limiter] | None = getattr(state, "rate_limiters", None)
    if limiters is None:
        limiters = {}
        state.rate_limiters = limiters
    limiter = limiters.get(name)
    if limiter is None:
        storage = getattr(state, "rate_limit_storage", None)
        if storage is None:
            storage = storage_for(state.settings)
            state.rate_limit_storage = storage
        limiter = Limiter(name, parse(limit), SlidingWindowCounterRateLimiter(storage))
        limiters[name] = limiter
    return limiter


def identity(principal: Principal) -> str:
    """The rate-limit bucket: one per API key (the admin key is one bucket)."""
    return "admin" if principal.is_admin else f"key:{principal.key_id}"


async def rate_limit_status(
    request: Request, principal: Annotated[Principal, Depends(current_principal)]
) -> None:
    """Dependency for ``GET /batches/{id}/status``: DIALER_STATUS_RATE_LIMIT per API key."""
    settings: Settings = request.app.state.settings
    limiter = _limiter(request, "batch-status", settings.STATUS_RATE_LIMIT)
    await limiter.check(identity(principal))


RateLimitStatus = Annotated[None, Depends(rate_limit_status)]


def _per_key(name: str, setting: str) -> Any:
    async def check(
        request: Request, principal: Annotated[Principal, Depends(current_principal)]
    ) -> None:
        limit: str = getattr(request.app.state.settings, setting)
        await _limiter(request, name, limit).check(identity(principal))

    check.__doc__ = f"Dependency: DIALER_{setting} per API key."
    return Depends(check)


# Route dependencies (``dependencies=[...]``): uploads and previews are the expensive
# requests (a child process, a render), streams hold a connection each.
UploadRateLimit = _per_key("upload", "UPLOAD_RATE_LIMIT")
PreviewRateLimit = _per_key("preview", "PREVIEW_RATE_LIMIT")
StreamRateLimit = _per_key("stream", "STREAM_RATE_LIMIT")


async def check_login_failures(request: Request) -> None:
    """Raise RateLimited while the client's address is over DIALER_LOGIN_FAILURE_RATE_LIMIT
    failed logins (counted by ``count_login_failure``)."""
    limiter = _limiter(
        request, "login-failures", request.app.state.settings.LOGIN_FAILURE_RATE_LIMIT
    )
    who = request.client.host if request.client else "unknown"
    if not await limiter.strategy.test(limiter.item, limiter.name, who):
        await limiter.check(who)  # over the limit: raises with Retry-After


async def count_login_failure(request: Request) -> None:
    """Count one failed login for the client's address."""
    limiter = _limiter(
        request, "login-failures", request.app.state.settings.LOGIN_FAILURE_RATE_LIMIT
    )
    who = request.client.host if request.client else "unknown"
    await limiter.strategy.hit(limiter.item, limiter.name, who)
