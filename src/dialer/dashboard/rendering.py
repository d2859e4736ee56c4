"""Templates and the per-request context every page gets (language, labels, operator)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import Response

from dialer.account.auth import Principal
from dialer.dashboard.i18n import LANG_COOKIE, pick_lang, translator

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))

ACCOUNT_COOKIE = "dialer_account"


def request_lang(request: Request) -> str:
    return pick_lang(request.query_params.get("lang"), request.cookies.get(LANG_COOKIE))


def current_account_id(request: Request, principal: Principal) -> str | None:
    """The account the pages show: an account key's own; the admin's chosen one."""
    if not principal.is_admin:
        return principal.account_id
    chosen = request.query_params.get("account_id") or request.cookies.get(ACCOUNT_COOKIE)
    return chosen or None


def _fmt_dt(value: datetime | str | None, tz: str | None = None) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if tz:
        value = value.astimezone(ZoneInfo(tz))
    return value.strftime("%Y-%m-%d %H:%M")


def _fmt_num(value: float | int | None, digits: int = 0) -> str:
    if value is None:
        return "—"
    # Spanish-style grouping is what operators read on their invoices; keep it simple.
    return f"{value:,.{digits}f}"


templates.env.filters["dt"] = _fmt_dt
templates.env.filters["num"] = _fmt_num


def render(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    principal: Principal | None = None,
) -> Response:
    """Render a template with the shared context (labels ``t``, ``lang``, operator)."""
    lang = request_lang(request)
    principal = principal or getattr(request.state, "principal", None)
    ctx: dict[str, Any] = {
        "t": translator(lang),
        "lang": lang,
        "user": principal,
        "account_id": current_account_id(request, principal) if principal else None,
        "path": request.url.path,
    }
    ctx.update(context or {})
    return templates.TemplateResponse(request, name, ctx, status_code=status_code)
