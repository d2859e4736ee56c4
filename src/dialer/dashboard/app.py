"""Operator dashboard (server-rendered, Jinja2 + htmx), mounted at /dashboard."""

from __future__ import annotations

from fastapi import FastAPI


def mount_dashboard(app: FastAPI) -> None:
    return None
