"""The replaced system's operations, each one a composition of dialer's services.

No rule lives here: validation, tenancy, billing, state changes and counters are the
services' own. This module only picks the services to call, maps the original's inputs
to dialer's (upper-case statuses, ``initial_minutes`` on any plan, ``is_active`` PATCH)
and lays the results out with ``shapes``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from dialer.account import service as account_service
from dialer.account.auth import Principal
from dialer.account.schemas import AccountCreate, AccountUpdate, TopupRequest
from dialer.batch import service as batch_service
from dialer.batch.schemas import BatchCreate, BatchRead, BatchUpdate
from dialer.batch.settings import CallSettings
from dialer.billing.pricing import call_cost, to_display
from dialer.billing.service import pricing_of
from dialer.errors import InvalidInput, invalid_input
from dialer.ingestion import service as ingestion_service
from dialer.ingestion.schemas import AppendOptions, ImportOptions
from dialer.job.schemas import JobRead
from dialer.job.states import JobStatus
from dialer.kit import clock
from dialer.legacy import shapes
from dialer.models import AccountStatus, BatchStatus, EntryKind, Job, PlanType
from dialer.reporting import service as reporting_service

# The original estimated every call at three minutes (JobModel.estimated_cost).
ESTIMATED_CALL_S = 180
# Upper-case batch filters its clients send -> dialer batch status.
BATCH_STATUS = {
    "PENDING": BatchStatus.ACTIVE,  # created, not finished: dialer batches start active
    "RUNNING": BatchStatus.ACTIVE,
    "ACTIVE": BatchStatus.ACTIVE,
    "PAUSED": BatchStatus.PAUSED,
    "COMPLETED": BatchStatus.COMPLETED,
    "CANCELLED": BatchStatus.CANCELLED,
}
TRANSACTION_KINDS = {
    "topup_credits": EntryKind.TOPUP,
    "topup_minutes": EntryKind.TOPUP,
    "call_usage": EntryKind.CHARGE,
    "refund": EntryKind.REFUND,
    "reservation": EntryKind.RESERVATION,
    "release": EntryKind.RELEASE,
    "adjustment": EntryKind.ADJUSTMENT,
}


M = TypeVar("M", bound=BaseModel)


def validated(model: type[M], data: Any, where: str | None = None) -> M:
    """``model`` from the original's input; a 422 naming the field instead of a 500."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise invalid_input(exc, where) from None


def now_iso() -> str:
    return clock.now().astimezone(UTC).isoformat()


class _Prices:
    """Per-request memo of each account's plan and the cost of an estimated call."""

    def __init__(self, session: AsyncSession, principal: Principal) -> None:
        self.session = session
        self.principal = principal
        self._seen: dict[str, tuple[str, float]] = {}

    async def of(self, account_id: str) -> tuple[str, float]:
        if account_id not in self._seen:
            account = await account_service.get_account(self.session, self.principal, account_id)
            plan = PlanType(account.plan_type)
            units = call_cost(plan, pricing_of(account), duration_s=ESTIMATED_CALL_S, answered=True)
            self._seen[account_id] = (str(plan), to_display(plan, units[1]))
        return self._seen[account_id]


# -- accounts ---------------------------------------------------------------------------


async def account(session: AsyncSession, principal: Principal, account_id: str) -> dict[str, Any]:
    s = await account_service.get_summary(session, principal, account_id)
    today = await reporting_service.overview(session, principal, account_id)
    return shapes.account(s.account, s.balance, s.ledger, today.calls_today)


async def create_account(
    session: AsyncSession, principal: Principal, body: dict[str, Any]
) -> dict[str, Any]:
    """The original request; ``initial_minutes`` / ``initial_credits`` that do not match
    the plan were stored and never used there, so only the plan's own one is applied."""
    plan = body.get("plan_type") or "credit_based"
    data = dict(body)
    data["plan_type"] = plan
    if plan != "minutes_based":
        data.pop("initial_minutes", None)
    if plan != "credit_based":
        data.pop("initial_credits", None)
    for key in ("initial_minutes", "initial_credits"):
        if not data.get(key):
            data.pop(key, None)  # the original treated 0 as "none"
    if data.get("max_concurrent_calls") is None:
        data["max_concurrent_calls"] = 5
    for key in ("features", "settings"):
        if data.get(key) is None:
            data.pop(key, None)
    limit = data.pop("daily_call_limit", None)
    if limit is not None:  # dialer keeps it in the account's settings
        data["settings"] = {**(data.get("settings") or {}), "daily_call_limit": limit}
    created, api_key = await account_service.create_account(session, validated(AccountCreate, data))
    return {
        "success": True,
        "account": await account(session, principal, created.id),
        "api_key": api_key,
    }


async def list_accounts(
    session: AsyncSession,
    principal: Principal,
    *,
    status: str | None,
    plan_type: str | None,
    limit: int,
    skip: int,
) -> list[dict[str, Any]]:
    items, _ = await account_service.list_accounts(
        session, principal, status=status, country=None, plan_type=plan_type,
        limit=limit, skip=skip,
    )  # fmt: skip
    return [await account(session, principal, a.id) for a in items]


async def balance(session: AsyncSession, principal: Principal, account_id: str) -> dict[str, Any]:
    s = await account_service.get_summary(session, principal, account_id)
    return shapes.balance(s.balance, s.ledger, active=s.account.status == "active")


async def topup(
    session: AsyncSession,
    principal: Principal,
    account_id: str,
    minutes: float | None,
    credits: float | None,
) -> dict[str, Any]:
    plan = (await account_service.get_account(session, principal, account_id)).plan_type
    # The original added whichever it was given; dialer keeps one unit per plan.
    if plan == PlanType.CREDIT_BASED and credits is not None:
        req = validated(TopupRequest, {"credits": credits})
    elif plan != PlanType.CREDIT_BASED and minutes is not None:
        req = validated(TopupRequest, {"minutes": minutes})
    else:
        req = validated(
            TopupRequest, {"minutes": minutes} if minutes is not None else {"credits": credits}
        )
    await account_service.topup_account(session, principal, account_id, req)
    return {"success": True, "message": "Account topped up successfully"}


async def stats(session: AsyncSession, principal: Principal, account_id: str) -> dict[str, Any]:
    s = await account_service.get_summary(session, principal, account_id)
    today = await reporting_service.overview(session, principal, account_id)
    return shapes.account_stats(s.account, s.balance, s.ledger, today.calls_today)


async def update_account(
    session: AsyncSession, principal: Principal, account_id: str, body: dict[str, Any]
) -> dict[str, Any]:
    """``PATCH`` as the original's clients send it: fields, and ``status`` to suspend or
    reactivate (what replaced its suspend/activate endpoints)."""
    fields = {k: v for k, v in body.items() if k != "status"}
    if fields:
        await account_service.update_account(
            session, principal, account_id, validated(AccountUpdate, fields)
        )
    if "status" in body:
        try:
            target = AccountStatus(body["status"])
        except ValueError:
            raise InvalidInput("status must be 'active' or 'suspended'", field="status") from None
        await account_service.set_status(session, principal, account_id, target)
    return {
        "success": True,
        "message": "Account updated successfully",
        "account": await account(session, principal, account_id),
    }


async def last_call_settings(
    session: AsyncSession, principal: Principal, account_id: str
) -> dict[str, Any]:
    found = await account_service.last_call_settings(session, principal, account_id)
    if found.batch_id is None:
        return {
            "success": False,
            "message": "No previous call_settings found for this account",
            "call_settings": None,
        }
    b = await batch_service.get_batch(session, principal, found.batch_id)
    return {
        "success": True,
        "call_settings": found.call_settings,
        "from_batch": found.batch_id,
        "created_at": shapes.iso(b.created_at),
    }


async def account_summary(
    session: AsyncSession, principal: Principal, account_id: str
) -> dict[str, Any]:
    s = await account_service.get_summary(session, principal, account_id)
    return {
        "account": shapes.account(s.account, s.balance, s.ledger),
        "balance": shapes.balance(s.balance, s.ledger, active=s.account.status == "active"),
        "stats": {
            "total_batches": s.stats.total_batches,
            "active_batches": s.stats.active_batches,
            "completed_batches": s.stats.total_batches - s.stats.active_batches,
        },
        "financial_summary": {
            "total_spent": s.ledger.charged,
            "total_recharges": s.ledger.topped_up,
            "total_usage": s.stats.billed_minutes,
            "transaction_count": s.ledger.entries,
        },
    }


async def transactions(
    session: AsyncSession,
    principal: Principal,
    account_id: str,
    *,
    transaction_type: str | None,
    limit: int,
    skip: int,
) -> list[dict[str, Any]]:
    kind = None
    if transaction_type is not None:
        if transaction_type not in TRANSACTION_KINDS:
            raise InvalidInput(
                f"Invalid transaction_type: {transaction_type}", field="transaction_type"
            )
        kind = TRANSACTION_KINDS[transaction_type]
    page = await account_service.list_transactions(
        session, principal, account_id, kind=kind, limit=limit, skip=skip
    )
    plan = (await account_service.get_account(session, principal, account_id)).plan_type
    return [shapes.transaction(e, str(plan)) for e in page.items]


# -- batches ----------------------------------------------------------------------------


async def _batch(session: AsyncSession, prices: _Prices, b: Any) -> dict[str, Any]:
    plan, per_job = await prices.of(b.account_id)
    return shapes.batch(BatchRead.of(b), plan_type=plan, cost_per_job=per_job)


async def create_batch(
    session: AsyncSession, principal: Principal, body: dict[str, Any]
) -> dict[str, Any]:
    data = {k: v for k, v in body.items() if v is not None}
    data.setdefault("variable_set", "legacy")  # its agents were written for these names
    created, _ = await batch_service.create_batch(session, principal, validated(BatchCreate, data))
    return {"success": True, "batch": await _batch(session, _Prices(session, principal), created)}


def batch_status_filter(status: str | None) -> BatchStatus | None:
    if status is None:
        return None
    try:
        return BATCH_STATUS[status.upper()]
    except KeyError:
        raise InvalidInput(
            f"Invalid status: {status} (PENDING, RUNNING, PAUSED, COMPLETED, CANCELLED)",
            field="status",
        ) from None


async def list_batches(
    session: AsyncSession,
    principal: Principal,
    *,
    account_id: str | None,
    is_active: bool | None,
    status: str | None,
    limit: int,
    skip: int,
) -> list[dict[str, Any]]:
    prices = _Prices(session, principal)
    if account_id is not None:
        items, _ = await batch_service.list_account_batches(
            session, principal, account_id, is_active=is_active,
            status=batch_status_filter(status), limit=limit, skip=skip,
        )  # fmt: skip
    else:
        items, _ = await batch_service.list_batches(
            session, principal, account_id=None, is_active=is_active,
            status=batch_status_filter(status), limit=limit, skip=skip,
        )  # fmt: skip
    return [await _batch(session, prices, b) for b in items]


async def get_batch(session: AsyncSession, principal: Principal, batch_id: str) -> dict[str, Any]:
    b = await batch_service.get_batch(session, principal, batch_id)
    return await _batch(session, _Prices(session, principal), b)


async def batch_summary(
    session: AsyncSession, principal: Principal, batch_id: str
) -> dict[str, Any]:
    s = await batch_service.get_summary(session, principal, batch_id)
    b = await batch_service.get_batch(session, principal, batch_id)
    return shapes.summary(s, priority=b.priority)


async def batch_status(
    session: AsyncSession, principal: Principal, batch_id: str
) -> dict[str, Any]:
    return shapes.status(await batch_service.get_status(session, principal, batch_id))


async def cancel_batch(
    session: AsyncSession, principal: Principal, batch_id: str, reason: str | None
) -> dict[str, Any]:
    await batch_service.cancel_batch(session, principal, batch_id, reason)
    return {"success": True, "message": "Batch cancelled successfully", "reason": reason}


async def update_batch(
    session: AsyncSession, principal: Principal, batch_id: str, body: dict[str, Any]
) -> dict[str, Any]:
    data = {k: v for k, v in body.items() if v is not None}
    if not data:
        raise InvalidInput("No fields to update")
    await batch_service.update_batch(session, principal, batch_id, validated(BatchUpdate, data))
    message = "Batch updated successfully"
    if "is_active" in data:
        message = "Batch resumed" if data["is_active"] else "Batch paused"
    return {
        "success": True,
        "message": message,
        "batch_id": batch_id,
        "updated_fields": [*data, "updated_at"],
    }


# -- spreadsheets -----------------------------------------------------------------------

SAMPLE_ROWS = 5


def detected_format(fields: set[str]) -> str:
    """What the file looks like to its frontend: a debt portfolio (an identity and an
    amount or due date), a marketing list (contacts without debt) or anything else."""
    has_contact = bool(fields & {"phone", "name"})
    if "dni" in fields and fields & {"amount", "fecha_limite", "fecha_maxima", "due_date"}:
        return "debt_collection"
    if has_contact and "phone" in fields:
        return "marketing"
    return "generic"


async def preview(
    session: AsyncSession, principal: Principal, options: ImportOptions, path: Path, filename: str
) -> dict[str, Any]:
    report = await ingestion_service.preview_import(
        session, principal, options, path, filename=filename
    )
    fields = {c.field for c in report.columns}
    c = report.counts
    return {
        "success": True,
        "filename": filename,
        "preview": {
            "total_rows": c.rows,
            "valid_debtors": c.accepted,
            "valid_rows": c.valid,
            "invalid_rows": c.invalid,
            "duplicates_found": c.duplicates,
            "duplicates": c.duplicates,
            "sample_debtors": report.sample[:3],
            "errors": [e.model_dump() for e in report.errors],
        },
        # What its frontend reads at the top level (its own endpoint never sent them).
        "sampleRows": report.sample[:SAMPLE_ROWS],
        "detectedFormat": detected_format(fields),
        "total_rows": c.rows,
        "columns": [col.model_dump() for col in report.columns],
    }


async def create_from_file(
    session: AsyncSession,
    principal: Principal,
    options: ImportOptions,
    path: Path,
    filename: str,
    *,
    stats_extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    report = await ingestion_service.create_import(
        session, principal, options, path, filename=filename
    )
    c = report.counts
    stats = {
        "total_rows_processed": c.rows,
        "valid_debtors": c.valid,
        "duplicates_filtered": c.duplicates,
        "jobs_created": report.total_jobs,
        "errors": c.invalid,
        **(stats_extra or {}),
    }
    return {
        "success": True,
        "message": f"Batch '{report.batch_name}' creado exitosamente con procesamiento "
        f"{options.processing_type}",
        "batch_id": report.batch_id,
        "batch_name": report.batch_name,
        "processing_type": options.processing_type,
        "stats": stats,
        # What its clients read at the top level.
        "jobs_created": report.total_jobs,
        "contacts_processed": c.rows,
        "duplicates_skipped": c.duplicates,
        "skipped": [s.model_dump() for s in report.skipped],
        "errors": [e.model_dump() for e in report.errors],
    }


async def upload_into_batch(
    session: AsyncSession, principal: Principal, batch_id: str, path: Path, filename: str
) -> dict[str, Any]:
    """The original's CSV upload into a batch, through dialer's append (same validation,
    duplicates and do-not-call rules as a new batch; all or nothing)."""
    report = await ingestion_service.append_import(
        session, principal, batch_id, AppendOptions(), path, filename=filename
    )
    return {
        "success": True,
        "message": f"Added {report.total_jobs} jobs to batch {batch_id}",
        "jobs_added": report.total_jobs,
        # new for these clients
        "duplicates_skipped": report.counts.duplicates,
        "errors": [e.model_dump() for e in report.errors],
    }


async def delete_batch(
    session: AsyncSession, principal: Principal, batch_id: str
) -> dict[str, Any]:
    """Deleted with its jobs while it has placed no call; after that dialer keeps the
    history (409: cancel it instead)."""
    await batch_service.delete_batch(session, principal, batch_id)
    return {"success": True, "message": "Batch deleted"}


USE_CASES = ("debt_collection", "marketing")


@dataclass(frozen=True)
class UseCasePlan:
    """What the original's country use-case routes made of their form."""

    processing_type: str
    batch_name: str
    batch_description: str
    call_settings: CallSettings
    agent_id: str
    # Into every job's payload, so the agent gets them (and the job documents show them).
    payload: dict[str, str | int | float]


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def use_case_plan(
    *,
    country: str,
    use_case: str,
    company_name: str,
    retell_agent_id: str | None,
    offer_description: str | None,
    discount_percentage: float | None,
    product_category: str | None,
) -> UseCasePlan:
    """The original's use-case configuration (``api.py`` and ``domain/use_cases``):
    ``company_name`` is every job's ``empresa`` (over the file's company column),
    collections get 3 attempts and the ``tipo_deuda`` its worker sent, marketing 2
    attempts and the offer variables its worker sent (``descripcion_oferta``,
    ``descuento_porcentaje``, ``categoria_producto``, ``segmento_cliente``,
    ``tipo_campana``, ``llamada_accion``, ``valor_oferta``). Its validation stands:
    ``company_name`` and ``retell_agent_id`` are required, and for marketing an
    ``offer_description`` and a discount between 0 and 100."""
    if use_case not in USE_CASES:
        raise InvalidInput(
            f"Caso de uso '{use_case}' no válido. Disponibles: {list(USE_CASES)}",
            field="use_case",
        )
    marketing = use_case == "marketing"
    if not company_name.strip():
        raise InvalidInput(
            f"company_name es requerido para {'marketing' if marketing else 'cobranza'}",
            field="company_name",
        )
    if not (retell_agent_id or "").strip():
        raise InvalidInput("retell_agent_id es requerido", field="retell_agent_id")
    payload: dict[str, str | int | float] = {"empresa": company_name.strip()}
    if marketing:
        if not (offer_description or "").strip():
            raise InvalidInput(
                "offer_description es requerido para marketing", field="offer_description"
            )
        discount = 0.0 if discount_percentage is None else discount_percentage
        if not 0 <= discount <= 100:
            raise InvalidInput(
                "discount_percentage debe ser un número entre 0 y 100",
                field="discount_percentage",
            )
        payload |= {
            "descripcion_oferta": (offer_description or "").strip(),
            "descuento_porcentaje": _number(discount),
            "categoria_producto": (product_category or "").strip() or "general",
            # Constants of its MarketingProcessor: the segment was always the default
            # (its simple reader kept no amount), the campaign promotional.
            "segmento_cliente": "general",
            "tipo_campana": "promotional",
            "llamada_accion": "learn_more",
            "valor_oferta": 0,
        }
    else:
        payload["tipo_deuda"] = "consolidated"  # its rows were always grouped by RUT
    place, word = ("Chile", "chileno") if country == "CL" else ("Argentina", "argentino")
    return UseCasePlan(
        processing_type="acquisition" if marketing else "basic",
        batch_name=f"{place} {use_case.title()} Batch",
        batch_description=f"Batch {word} para {use_case}",
        call_settings=CallSettings.model_validate(
            {"retry_settings": {"max_attempts": 2 if marketing else 3}}
        ),
        agent_id=(retell_agent_id or "").strip(),
        payload=payload,
    )


def call_settings_json(raw: str | None) -> CallSettings | None:
    """``call_settings_json`` as the original read it: a JSON object string."""
    if raw is None or not raw.strip():
        return None
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            f"call_settings_json debe ser un JSON válido: {exc.msg}", field="call_settings_json"
        ) from None
    if not isinstance(value, dict):
        raise InvalidInput("call_settings_json must be a JSON object", field="call_settings_json")
    return validated(CallSettings, value, "call_settings_json")


# -- jobs, calls, dashboard ---------------------------------------------------------------


def job_status_filter(status: str | None) -> list[JobStatus] | None:
    if status is None:
        return None
    if status not in shapes.JOB_STATUS_FILTER:
        raise InvalidInput(f"Invalid status: {status}", field="status")
    return [JobStatus(s) for s in shapes.JOB_STATUS_FILTER[status]]


async def _jobs(
    session: AsyncSession, principal: Principal, items: Sequence[Job]
) -> list[dict[str, Any]]:
    prices = _Prices(session, principal)
    last = await batch_service.latest_attempts(session, items)
    out = []
    for j in items:
        _plan, per_job = await prices.of(j.account_id)
        out.append(shapes.job(JobRead.model_validate(j), last.get(j.id), cost_per_job=per_job))
    return out


async def list_jobs(
    session: AsyncSession,
    principal: Principal,
    *,
    account_id: str | None,
    batch_id: str | None,
    status: str | None,
    limit: int,
    skip: int,
) -> list[dict[str, Any]]:
    statuses = job_status_filter(status)
    if statuses == []:
        return []  # "suspended": dialer never parks jobs in a state of their own
    items, _ = await batch_service.list_all_jobs(
        session, principal, account_id=account_id, batch_id=batch_id, statuses=statuses,
        created_from=None, created_to=None, limit=limit, skip=skip,
    )  # fmt: skip
    return await _jobs(session, principal, items)


async def batch_jobs(
    session: AsyncSession,
    principal: Principal,
    batch_id: str,
    *,
    status: str | None,
    limit: int,
    skip: int,
) -> list[dict[str, Any]]:
    await batch_service.get_batch(session, principal, batch_id)
    return await list_jobs(
        session, principal, account_id=None, batch_id=batch_id, status=status,
        limit=limit, skip=skip,
    )  # fmt: skip


async def get_job(session: AsyncSession, principal: Principal, job_id: str) -> dict[str, Any]:
    detail = await batch_service.get_job(session, principal, job_id)
    last = detail.attempt_history[-1] if detail.attempt_history else None
    _plan, per_job = await _Prices(session, principal).of(detail.account_id)
    out = shapes.job(detail, last, cost_per_job=per_job)
    out["attempt_history"] = [a.model_dump(mode="json") for a in detail.attempt_history]
    return out


async def retry_job(session: AsyncSession, principal: Principal, job_id: str) -> dict[str, Any]:
    await batch_service.retry_job(session, principal, job_id)
    return {"success": True, "message": "Job marked for retry"}


async def cancel_job(session: AsyncSession, principal: Principal, job_id: str) -> dict[str, Any]:
    await batch_service.cancel_job(session, principal, job_id)
    return {"success": True, "message": "Job cancelled"}


def _date(raw: str | None, name: str) -> datetime | None:
    if raw is None or not raw.strip():
        return None
    try:
        at = datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be an ISO 8601 date or datetime", field=name) from None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


async def call_history(
    session: AsyncSession,
    principal: Principal,
    *,
    account_id: str | None,
    batch_id: str | None,
    start_date: str | None,
    end_date: str | None,
    limit: int,
    skip: int,
) -> dict[str, Any]:
    page = await batch_service.call_history(
        session, principal, account_id=account_id, batch_id=batch_id,
        ended_from=_date(start_date, "start_date"), ended_to=_date(end_date, "end_date"),
        limit=limit, skip=skip,
    )  # fmt: skip
    return {
        "calls": [shapes.call(c, status=c.outcome) for c in page.items],
        "total": page.total,
        "limit": limit,
        "skip": skip,
        "has_more": skip + limit < page.total,
    }


async def dashboard_stats(
    session: AsyncSession, principal: Principal, account_id: str | None
) -> dict[str, Any]:
    d = await account_service.dashboard_stats(session, principal, account_id)
    if d.system is not None:
        return {
            "system": {
                "total_accounts": d.system.total_accounts,
                "active_accounts": d.system.active_accounts,
                "timestamp": now_iso(),
            }
        }
    assert d.account is not None
    scoped = d.account.account_id
    return {
        "account": await stats(session, principal, scoped),
        "balance": await balance(session, principal, scoped),
        "jobs": shapes.job_stats(d.account),
        "timestamp": now_iso(),
    }


async def dashboard_overview(
    session: AsyncSession, principal: Principal, account_id: str | None
) -> dict[str, Any]:
    """The original overview's nesting, filled from dialer's (cheap) overview."""
    o = await reporting_service.overview(session, principal, account_id)
    info = None
    totals = {"total_jobs": 0, "total_cost": 0.0, "total_minutes": 0.0}
    jobs = {"completed": 0, "failed": 0}
    if o.account_id is not None:
        s = await account_service.get_summary(session, principal, o.account_id)
        info = {
            "account_id": s.account.account_id,
            "name": s.account.account_name,
            "status": s.account.status,
            "balance": s.balance.balance,
            "billing_type": s.account.plan_type,
        }
        jobs = {"completed": s.stats.completed_jobs, "failed": s.stats.failed_jobs}
        totals = {
            "total_jobs": s.stats.total_jobs,
            "total_cost": s.stats.spent,
            "total_minutes": s.stats.billed_minutes,
        }
    finished = jobs["completed"] + jobs["failed"]
    return {
        "success": True,
        "timestamp": now_iso(),
        "account": info,
        "metrics": {
            "jobs_today": o.jobs_today,
            "success_rate_percentage": o.success_rate_percentage,
            "active_batches": o.active_batches,
            "pending_jobs": o.pending_jobs,
        },
        "detailed_stats": {
            "jobs": {
                "today": o.jobs_today,
                "pending": o.pending_jobs,
                "completed": jobs["completed"],
                "failed": jobs["failed"],
                "total_finished": finished,
            },
            "batches": {"active_count": o.active_batches, **totals},
        },
        # dialer's own figures, new for these clients
        "calls_today": o.calls_today,
        "calls_in_progress": o.calls_in_progress,
        "minutes_used_today": o.minutes_used_today,
    }


async def account_batches(
    session: AsyncSession,
    principal: Principal,
    account_id: str,
    *,
    is_active: bool | None,
    limit: int,
    skip: int,
) -> list[dict[str, Any]]:
    return await list_batches(
        session, principal, account_id=account_id, is_active=is_active, status=None,
        limit=limit, skip=skip,
    )  # fmt: skip
