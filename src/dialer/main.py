"""The FastAPI application: routers, error handlers, dashboard mount and lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from dialer import logging as dlog
from dialer.account import endpoints as account_endpoints
from dialer.account.auth import admin_key
from dialer.batch import endpoints as batch_endpoints
from dialer.collection import endpoints as collection_endpoints
from dialer.compliance import endpoints as compliance_endpoints
from dialer.config import Settings, get_settings
from dialer.dashboard.app import mount_dashboard
from dialer.db.checkpoint import run_checkpoints
from dialer.db.session import Database
from dialer.errors import API_ERROR_RESPONSES, install_handlers
from dialer.events import endpoints as events_endpoints
from dialer.hooks import endpoints as hooks_endpoints
from dialer.http_edge import early_auth, limit_for
from dialer.ingestion import endpoints as ingestion_endpoints
from dialer.kit.edge import BodyLimitMiddleware
from dialer.kit.heap import settle_heap
from dialer.kit.nul import RejectNulMiddleware
from dialer.legacy import endpoints as legacy_endpoints
from dialer.legacy.errors import install as install_legacy_errors
from dialer.metrics import HttpMetricsMiddleware
from dialer.reporting import endpoints as reporting_endpoints
from dialer.script import endpoints as script_endpoints
from dialer.telephony import config_endpoints as telephony_config_endpoints
from dialer.telephony import endpoints as telephony_endpoints
from dialer.telephony.registry import Providers
from dialer.worker.runner import Worker

# Each domain exposes ``router``; the list is fixed so the API surface is explicit.
ROUTERS = (
    account_endpoints.router,
    batch_endpoints.router,
    reporting_endpoints.router,
    ingestion_endpoints.router,
    compliance_endpoints.router,
    script_endpoints.router,
    telephony_endpoints.router,
    telephony_config_endpoints.router,
    events_endpoints.router,
    hooks_endpoints.router,
    collection_endpoints.router,
    legacy_endpoints.router,
)

CORS_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")

log = dlog.get_logger("dialer.api")


def create_app(
    settings: Settings | None = None,
    *,
    database: Database | None = None,
    embedded_worker: bool = False,
) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        dlog.configure(settings.LOG_LEVEL, settings.LOG_JSON)
        db = database or Database(settings.DATABASE_URL)
        app.state.db = db
        app.state.providers = providers = Providers(settings, db)
        key, generated = admin_key(settings)
        app.state.admin_key = key
        if generated:
            # Printed once, on the run that created it; never logged again.
            msg = f"Admin API key (saved to {settings.DATA_DIR}/admin_api_key): {key}"
            sys.stdout.write("\n  " + msg + "\n\n")
            sys.stdout.flush()
        tasks: list[asyncio.Task[Any]] = []
        stop = asyncio.Event()
        app.state.stop = stop
        tasks.append(asyncio.create_task(run_checkpoints(db, stop), name="wal-checkpoints"))
        shutting_down = False

        def worker_ended(task: asyncio.Task[None]) -> None:
            # The worker only returns once the lifespan below set ``stop``; ending before
            # that (a bug, or a side task that died and stopped it) leaves an API that
            # accepts batches nobody dials. The process stops, non-zero, to be restarted.
            if shutting_down:
                return
            exc = None if task.cancelled() else task.exception()
            reason = repr(exc) if exc is not None else "returned"
            app.state.failure = f"embedded worker died: {reason}"
            log.error("api.embedded_worker_died", error=reason, action="stopping the process")
            app.state.on_failure()

        if embedded_worker:
            worker = Worker(db, settings, providers=providers)
            app.state.worker = worker
            worker_task = asyncio.create_task(worker.run(stop), name="embedded-worker")
            worker_task.add_done_callback(worker_ended)
            tasks.append(worker_task)
        settle_heap()
        log.info("api.started", database=db.dialect, embedded_worker=embedded_worker)
        try:
            yield
        finally:
            shutting_down = True
            stop.set()
            for t in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await asyncio.wait_for(t, timeout=15)
            if database is None:
                await db.dispose()

    app = FastAPI(
        title="dialer",
        version="0.1.0",
        description="Outbound voice-AI call campaigns: accounts, batches, jobs, calls, billing.",
        lifespan=lifespan,
        # Off in production unless DIALER_EXPOSE_DOCS: the schema maps every route.
        docs_url="/docs" if settings.docs_exposed else None,
        redoc_url="/redoc" if settings.docs_exposed else None,
        openapi_url="/openapi.json" if settings.docs_exposed else None,
    )
    app.state.settings = settings
    # Set when a task the API cannot run without died; ``run_server`` then stops the
    # server (on_failure) and the process exits 1.
    app.state.failure = None
    app.state.on_failure = lambda: None
    install_handlers(app)
    install_legacy_errors(app)
    app.add_middleware(RejectNulMiddleware)
    # Size limits and authentication before any body is read (see http_edge.py).
    app.add_middleware(BodyLimitMiddleware, limit_for=limit_for(settings), early_auth=early_auth())
    if settings.CORS_ORIGINS:
        # Outside the NUL guard and auth: a browser's preflight carries no key and must be
        # answered here, before any route (which would say 405 or 401).
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.CORS_ORIGINS),
            allow_methods=list(CORS_METHODS),
            allow_headers=["Authorization", "Content-Type", "X-API-Key"],
            max_age=600,
        )
    app.add_middleware(HttpMetricsMiddleware)  # outermost: times the whole stack

    @app.get("/health", tags=["ops"])
    async def health(request: Request) -> Any:
        db: Database = request.app.state.db
        async with db.read() as session:
            await session.execute(text("SELECT 1"))
        failure = request.app.state.failure
        if failure is not None:  # answered until the server has stopped
            body = {"status": "failing", "database": db.dialect, "error": failure}
            return JSONResponse(body, status_code=503)
        return {"status": "ok", "database": db.dialect}

    if settings.metrics_exposed:  # off in production unless DIALER_EXPOSE_METRICS

        @app.get("/metrics", tags=["ops"], include_in_schema=False)
        async def metrics() -> Response:
            return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    for router in ROUTERS:
        app.include_router(router, responses=API_ERROR_RESPONSES)
    mount_dashboard(app)
    return app


def run_server(application: FastAPI, *, host: str, port: int) -> str | None:
    """Serve ``application`` until SIGTERM/SIGINT (None), or until a task it cannot run
    without died: then the server stops gracefully and the failure is returned, for the
    command to exit non-zero (a supervisor restarts it, as it restarts ``dialer worker``)."""
    server = uvicorn.Server(uvicorn.Config(application, host=host, port=port, log_level="warning"))

    def stop_serving() -> None:
        server.should_exit = True

    application.state.on_failure = stop_serving
    server.run()
    failure: str | None = application.state.failure
    return failure
