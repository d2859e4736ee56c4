"""The procrastinate side of ``bench/dispatch_bench.py``: one no-op task."""

from __future__ import annotations

import os

import procrastinate

app = procrastinate.App(
    connector=procrastinate.PsycopgConnector(conninfo=os.environ.get("PROC_DSN", ""))
)


@app.task(name="noop")
async def noop() -> None:
    return None
