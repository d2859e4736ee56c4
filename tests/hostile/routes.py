"""Every (method, path) the application serves, walked from ``app.routes``.

FastAPI wraps included routers and the dashboard is a mounted sub-app, so the walk
follows included routers and mounts; static file mounts are reported as one
``MOUNT`` entry each.
"""

from __future__ import annotations

from typing import Any

import fastapi.routing
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles


def _included_children(route: Any) -> list[Any]:
    # Newer FastAPI keeps included routers as branches with effective (prefixed) routes.
    out = []
    for candidate in route.effective_candidates():
        if isinstance(candidate, type(route)):
            out.extend(_included_children(candidate))
        else:
            out.append(candidate.starlette_route or candidate.original_route)
    return out


def _walk(routes: list[Any], prefix: str) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    included = getattr(fastapi.routing, "_IncludedRouter", None)
    for route in routes:
        if included is not None and isinstance(route, included):
            found |= _walk(_included_children(route), prefix)
        elif isinstance(route, Mount):
            if isinstance(route.app, StaticFiles):
                found.add(("MOUNT", prefix + route.path))
            else:
                found |= _walk(list(getattr(route.app, "routes", [])), prefix + route.path)
        else:
            for method in getattr(route, "methods", None) or ():
                if method != "HEAD":
                    found.add((method, prefix + route.path))
    return found


def all_routes(app: Any) -> set[tuple[str, str]]:
    """``{(method, path)}`` for every route, dashboard and static mounts included."""
    return _walk(list(app.routes), "")
