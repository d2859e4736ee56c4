"""Prometheus metrics (process-local; scrape every API and worker process)."""

from __future__ import annotations

import time

from prometheus_client import Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HTTP_REQUESTS = Counter(
    "dialer_http_requests_total", "HTTP requests", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "dialer_http_request_duration_seconds",
    "HTTP request latency",
    ["route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
CALLS_CLAIMED = Counter("dialer_calls_claimed_total", "Jobs claimed for dialing")
CALLS_PLACED = Counter("dialer_calls_placed_total", "Calls accepted by the provider", ["provider"])
CALL_OUTCOMES = Counter("dialer_call_outcomes_total", "Final call outcomes", ["outcome"])
CALLS_IN_FLIGHT = Gauge("dialer_calls_in_flight", "Calls this worker is placing")
LEASES_RESCUED = Counter("dialer_leases_rescued_total", "Jobs recovered after an expired lease")
WEBHOOKS = Counter("dialer_webhooks_total", "Provider webhooks", ["provider", "result"])
CLAIM_LATENCY = Histogram("dialer_claim_duration_seconds", "Time to claim a round of jobs")


class HttpMetricsMiddleware:
    """Counts requests and times them up to the response start (a stream's headers).

    A plain ASGI middleware: the function-style ``@app.middleware("http")`` wraps every
    request in a task group and memory streams, which measurably lengthened the API's
    tail latency under load.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        seen = False

        def record(status: int) -> None:
            route = getattr(scope.get("route"), "path", "unmatched")
            HTTP_REQUESTS.labels(scope["method"], route, str(status)).inc()
            HTTP_LATENCY.labels(route).observe(time.perf_counter() - start)

        async def timed_send(message: Message) -> None:
            nonlocal seen
            if message["type"] == "http.response.start" and not seen:
                seen = True
                record(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, timed_send)
        except BaseException:
            if not seen:
                record(500)
            raise
