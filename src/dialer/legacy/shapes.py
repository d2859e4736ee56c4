"""dialer's reads in the replaced system's response shapes. Pure: no session, no rules.

Each function takes what dialer's services return and lays it out the way the replaced
system's ``app/api.py`` (at its HEAD) serialised its Mongo documents, so its clients
read the same keys: ``_id`` (here the id itself: there is no ObjectId), the balance
fields of its AccountModel, the counters of its BatchModel, the ``contact`` / ``payload``
/ ``call_result`` of its JobModel. Values come from dialer; nothing is computed twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dialer.account.schemas import AccountRead, AccountStats, BalanceRead, LedgerTotals
from dialer.batch.schemas import BatchRead, BatchStatusRead, BatchSummary
from dialer.billing.pricing import to_display
from dialer.billing.schemas import LedgerEntryRead
from dialer.job.outcomes import CURRENCY_EXPONENT
from dialer.job.schemas import AttemptRead, CallRecord, JobRead
from dialer.models import PlanType

# dialer job status -> the replaced system's JobStatus value
JOB_STATUS = {
    "pending": "pending",
    "scheduled": "scheduled",
    "dialing": "in_progress",
    "in_progress": "in_progress",
    "completed": "completed",
    "failed": "failed",
    "cancelled": "cancelled",
}
# the replaced system's JobStatus value -> dialer statuses ("done" was its worker's
# spelling of completed; "suspended" jobs do not exist: waiting jobs stay pending)
JOB_STATUS_FILTER: dict[str, list[str]] = {
    "pending": ["pending"],
    "scheduled": ["scheduled"],
    "in_progress": ["dialing", "in_progress"],
    "completed": ["completed"],
    "done": ["completed"],
    "failed": ["failed"],
    "cancelled": ["cancelled"],
    "suspended": [],
}
# Why a batch's waiting jobs count as the original's "suspended" (no balance / account off).
SUSPENDING_REASONS = frozenset({"insufficient_balance", "account_suspended"})
# dialer ledger kind -> the original's TransactionType (topups by plan unit)
TRANSACTION_TYPE = {"charge": "call_usage", "refund": "refund"}


def iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


# -- accounts ---------------------------------------------------------------------------


def pricing_figures(settings: dict[str, Any]) -> dict[str, float]:
    """cost_per_minute / cost_per_call_setup / cost_failed_call from account pricing."""
    pricing = (settings or {}).get("pricing") or {}
    per_min = pricing.get("credits_per_minute_units", 100) / 100
    fee = pricing.get("per_attempt_fee_units", 0) / 100
    return {
        "cost_per_minute": per_min,
        "cost_per_call_setup": fee,
        "cost_failed_call": fee if pricing.get("charge_unanswered") else 0.0,
    }


def daily_call_limit(a: AccountRead) -> int | None:
    """The account's ``daily_call_limit`` (its settings; enforced by the claim)."""
    value = (a.settings or {}).get("daily_call_limit")
    return value if isinstance(value, int) else None


def account(
    a: AccountRead, balance: BalanceRead, ledger: LedgerTotals, calls_today: int | None = None
) -> dict[str, Any]:
    """The original AccountModel.to_dict() keys, from the account, its balance and ledger
    (``calls_today``: the calls that ended today on the account's clock)."""
    minutes = a.plan_type != "credit_based"
    return {
        "_id": a.account_id,
        "account_id": a.account_id,
        "account_name": a.account_name,
        "plan_type": a.plan_type,
        "status": a.status,
        "minutes_purchased": ledger.topped_up if minutes else 0.0,
        "minutes_used": ledger.charged if minutes else 0.0,
        "minutes_reserved": balance.reserved_in_flight if minutes else 0.0,
        "credit_balance": 0.0 if minutes else balance.balance,
        "credit_used": 0.0 if minutes else ledger.charged,
        "credit_reserved": 0.0 if minutes else balance.reserved_in_flight,
        **pricing_figures(a.settings),
        "max_concurrent_calls": a.max_concurrent_calls,
        "daily_call_limit": daily_call_limit(a),
        "calls_today": calls_today,
        "country": a.country,
        "timezone": a.timezone,
        "contact_name": a.contact_name,
        "contact_email": a.contact_email,
        "contact_phone": a.contact_phone,
        "features": a.features,
        "settings": a.settings,
        "created_at": iso(a.created_at),
        "updated_at": iso(a.updated_at),
        "expires_at": None,
        "last_topup_at": None,
    }


def balance(b: BalanceRead, ledger: LedgerTotals, *, active: bool) -> dict[str, Any]:
    """The original ``check_balance`` answer for the account's plan."""
    if b.plan_type == "unlimited":
        return {"has_balance": True, "plan_type": "unlimited", "can_make_calls": active}
    has = b.balance > 0
    out: dict[str, Any] = {"has_balance": has, "remaining": b.balance, "used": ledger.charged}
    if b.plan_type == "minutes_based":
        out |= {"purchased": ledger.topped_up, "reserved": b.reserved_in_flight}
        out |= {"unit": "minutes", "plan_type": "minutes_based"}
    else:
        out |= {"balance": b.balance, "reserved": b.reserved_in_flight}
        out |= {"unit": "USD", "plan_type": "credit_based"}
    out["can_make_calls"] = active and has
    return out


def account_stats(
    a: AccountRead, b: BalanceRead, ledger: LedgerTotals, calls_today: int | None
) -> dict[str, Any]:
    """The original ``get_account_stats`` answer."""
    out: dict[str, Any] = {
        "account_id": a.account_id,
        "account_name": a.account_name,
        "status": a.status,
        "plan_type": a.plan_type,
        "created_at": iso(a.created_at),
        "calls_today": calls_today,
        "daily_limit": daily_call_limit(a),
        "max_concurrent": a.max_concurrent_calls,
    }
    if a.plan_type == "minutes_based":
        out |= {
            "minutes_purchased": ledger.topped_up,
            "minutes_used": ledger.charged,
            "minutes_remaining": b.balance,
            "minutes_reserved": b.reserved_in_flight,
        }
    elif a.plan_type == "credit_based":
        prices = pricing_figures(a.settings)
        out |= {
            "credit_balance": b.balance,
            "credit_used": ledger.charged,
            "credit_available": b.balance,
            "credit_reserved": b.reserved_in_flight,
            "cost_per_minute": prices["cost_per_minute"],
            "cost_per_setup": prices["cost_per_call_setup"],
        }
    return out


def job_stats(s: AccountStats) -> dict[str, Any]:
    """The original ``get_account_job_stats`` answer, from the batch counters."""
    total = s.total_jobs
    waiting = s.pending_jobs - s.in_progress_jobs
    by_status = {
        "pending": waiting, "in_progress": s.in_progress_jobs, "completed": s.completed_jobs,
        "failed": s.failed_jobs, "cancelled": s.cancelled_jobs,
    }  # fmt: skip
    return {
        "account_id": s.account_id,
        "total_jobs": total,
        "stats_by_status": {k: v for k, v in by_status.items() if v},
        "pending": waiting,
        "in_progress": s.in_progress_jobs,
        "completed": s.completed_jobs,
        "failed": s.failed_jobs,
        "suspended": 0,
        "total_cost": s.spent,
        "total_minutes": s.billed_minutes,
        "success_rate": round(100 * s.completed_jobs / total, 2) if total else 0,
    }


def transaction(e: LedgerEntryRead, plan_type: str) -> dict[str, Any]:
    """A ledger entry as the original TransactionModel; ``cost`` in cents of a credit."""
    if e.kind == "topup":
        kind = "topup_credits" if plan_type == "credit_based" else "topup_minutes"
    else:
        kind = TRANSACTION_TYPE.get(e.kind, e.kind)
    cents = abs(e.amount_units) if plan_type == "credit_based" else 0
    return {
        "_id": str(e.transaction_id),
        "transaction_id": str(e.transaction_id),
        "account_id": e.account_id,
        "type": kind,
        "amount": e.amount,
        "cost": cents,
        "description": e.description or "",
        "reference_id": e.attempt_id or e.job_id or e.batch_id,
        "created_at": iso(e.created_at),
    }


# -- batches ----------------------------------------------------------------------------


def suspended_jobs(pending: int, in_progress: int, waiting_reason: str | None) -> int:
    return pending - in_progress if waiting_reason in SUSPENDING_REASONS else 0


def batch(b: BatchRead, *, plan_type: str, cost_per_job: float) -> dict[str, Any]:
    """The original BatchModel.to_dict() keys. ``estimated_cost``: a 3-minute call per job
    at the account's price, as the original estimated."""
    return {
        "_id": b.batch_id,
        "account_id": b.account_id,
        "batch_id": b.batch_id,
        "name": b.name,
        "description": b.description or "",
        "total_jobs": b.total_jobs,
        "pending_jobs": b.pending_jobs,
        "completed_jobs": b.completed_jobs,
        "failed_jobs": b.failed_jobs,
        "suspended_jobs": suspended_jobs(b.pending_jobs, b.in_progress_jobs, b.waiting_reason),
        "total_cost": to_display(PlanType(plan_type), b.cost_units),
        "total_minutes": b.minutes_used,
        "estimated_cost": round(cost_per_job * b.total_jobs, 2),
        "is_active": b.is_active,
        "priority": b.priority,
        "call_settings": b.call_settings,
        "created_at": iso(b.created_at),
        "started_at": iso(b.started_at),
        "completed_at": iso(b.completed_at),
        "updated_at": iso(b.updated_at),
        # dialer's own fields, new for these clients
        "status": b.status,
        "cancelled_jobs": b.cancelled_jobs,
        "in_progress_jobs": b.in_progress_jobs,
    }


def status(s: BatchStatusRead) -> dict[str, Any]:
    """The original polling answer (``GET /batches/{id}/status``), from the counters."""
    return {
        "batch_id": s.batch_id,
        "is_active": s.is_active,
        "total_jobs": s.total_jobs,
        "pending_jobs": s.pending_jobs,
        "completed_jobs": s.completed_jobs,
        "failed_jobs": s.failed_jobs,
        "suspended_jobs": suspended_jobs(s.pending_jobs, s.in_progress_jobs, s.waiting_reason),
        "total_cost": s.total_cost,
        "total_minutes": s.total_minutes,
        "progress_percentage": s.progress_percentage,
        "started_at": s.started_at,
        "completed_at": s.completed_at,
        # new for these clients
        "status": s.status,
        "cancelled_jobs": s.cancelled_jobs,
    }


def summary(s: BatchSummary, *, priority: int) -> dict[str, Any]:
    """The original ``get_batch_summary`` answer, hourly stats included."""
    hourly = []
    for h in s.hourly_stats:
        at = datetime.fromisoformat(h.hour)
        hourly.append(
            {
                "hour": at.hour,
                "date": at.date().isoformat(),
                "total_calls": h.calls,
                "successful_calls": h.answered_calls,
                "success_rate": h.success_rate_percentage,
            }
        )
    return {
        "batch_id": s.batch_id,
        "name": s.name,
        "account_id": s.account_id,
        "status": s.status,
        "total_jobs": s.total_jobs,
        "pending_jobs": s.pending_jobs,
        "completed_jobs": s.completed_jobs,
        "failed_jobs": s.failed_jobs,
        "suspended_jobs": suspended_jobs(s.pending_jobs, s.in_progress_jobs, s.waiting_reason),
        "completion_rate": round(100 * s.completed_jobs / s.total_jobs, 2) if s.total_jobs else 0.0,
        "total_cost": s.cost,
        "total_minutes": s.minutes_used,
        "priority": priority,
        "created_at": iso(s.created_at),
        "started_at": iso(s.started_at),
        "completed_at": iso(s.completed_at),
        "hourly_stats": hourly,
    }


# -- jobs and calls ---------------------------------------------------------------------


def _main_unit(amount: Any, currency: Any) -> int | float | None:
    """A parsed amount (smallest unit) in the currency's main unit, as the replaced
    system's ``monto_pago_cliente`` was."""
    if not isinstance(amount, int) or isinstance(amount, bool):
        return None
    exponent = CURRENCY_EXPONENT.get(str(currency or ""), 0)
    return amount if exponent == 0 else amount / 10**exponent


def _collected(extracted: dict[str, Any]) -> dict[str, Any]:
    c = extracted.get("collected_dynamic_variables")
    return dict(c) if isinstance(c, dict) else {}


def call_result(a: AttemptRead | CallRecord | None) -> dict[str, Any] | None:
    """The original worker's ``call_result`` from the job's latest finished attempt."""
    if a is None or a.outcome is None:
        return None
    extracted = dict(a.extracted or {})
    collected = _collected(extracted)
    custom = {k: v for k, v in extracted.items() if k != "collected_dynamic_variables"}
    started = a.answered_at or a.started_at
    summary = {
        "call_status": "ended" if a.outcome != "failed" else "error",
        "disconnection_reason": a.outcome,
        "duration_ms": a.duration_s * 1000,
        "start_timestamp": int(started.timestamp() * 1000) if started else None,
        "end_timestamp": int(a.ended_at.timestamp() * 1000) if a.ended_at else None,
        "call_analysis": {"call_summary": a.summary, "custom_analysis_data": custom},
        "transcript": a.transcript,
        "recording_url": None,
        "collected_dynamic_variables": collected,
    }
    return {
        "success": a.outcome == "completed",
        "status": a.outcome,
        "summary": summary,
        "timestamp": iso(a.ended_at),
    }


def _payload(p: dict[str, Any]) -> dict[str, Any]:
    amount = next((p[k] for k in ("debt_amount", "monto", "amount", "deuda", "saldo") if
                   p.get(k) not in (None, "")), 0)  # fmt: skip
    known = {"debt_amount", "monto", "amount", "deuda", "saldo", "fecha_limite", "due_date",
             "empresa", "company", "company_name", "referencia", "reference_number"}  # fmt: skip
    return {
        "debt_amount": amount,
        "due_date": p.get("fecha_limite") or p.get("due_date") or p.get("fecha_vencimiento") or "",
        "company_name": p.get("empresa") or p.get("company") or p.get("company_name") or "",
        "reference_number": p.get("referencia") or p.get("reference_number") or "",
        "additional_info": {k: v for k, v in p.items() if k not in known},
    }


def job(j: JobRead, last: AttemptRead | None, *, cost_per_job: float) -> dict[str, Any]:
    """The original JobModel.to_dict() keys (contact, payload, call_result ...)."""
    phones = list(j.phones)
    index = min(j.phone_index, max(len(phones) - 1, 0))
    extracted = dict((last.extracted if last else None) or (j.result or {}).get("extracted") or {})
    collected = _collected(extracted)
    # The promise as the outcome parser read it (the one interpretation of the agent's
    # fields); rows settled before it was stored kept ``promise_date`` in ``extracted``.
    parsed = (last.result if last else None) or (j.result or {}).get("outcome") or {}
    promise = parsed.get("promise_to_pay") or {}
    promise_date = (
        collected.get("fecha_pago_cliente") or promise.get("date") or extracted.get("promise_date")
    )
    promise_amount = (
        collected.get("monto_pago_cliente")
        or _main_unit(promise.get("amount"), promise.get("currency"))
        or extracted.get("promise_amount")
    )
    out: dict[str, Any] = {
        "_id": j.job_id,
        "job_id": j.job_id,
        "account_id": j.account_id,
        "batch_id": j.batch_id,
        "status": JOB_STATUS.get(j.status, j.status),
        "mode": "continuous" if j.max_attempts > 1 else "single",
        "attempts": j.attempts,
        "max_attempts": j.max_attempts,
        "deduplication_key": f"{j.account_id}::{j.dni or ''}::{j.batch_id}",
        "contact": {
            "name": j.contact_name or "",
            "dni": j.dni or "",
            "phones": phones,
            "next_phone_index": index,
        },
        "to_number": phones[index] if phones else None,
        "payload": _payload(j.payload),
        "estimated_cost": cost_per_job,
        "created_at": iso(j.created_at),
        "started_at": iso(last.started_at) if last else None,
        "completed_at": iso(j.completed_at) if j.status == "completed" else None,
        "failed_at": iso(j.completed_at) if j.status == "failed" else None,
        "updated_at": iso(j.completed_at or j.created_at),
        "call_id": last.provider_call_id if last else None,
        "call_result": call_result(last),
        "call_duration_seconds": last.duration_s if last else 0,
        "last_error": last.error if last else None,
        "fecha_pago_cliente": promise_date,
        "monto_pago_cliente": promise_amount,
        # dialer's own fields, new for these clients
        "last_outcome": j.last_outcome,
        "business_result": j.business_result,
        "next_attempt_at": iso(j.next_attempt_at),
    }
    return out


def call(c: CallRecord, *, status: str | None) -> dict[str, Any]:
    """One entry of the original calls history."""
    result = call_result(c)
    summary = (result or {}).get("summary", {})
    return {
        "job_id": c.job_id,
        "account_id": c.account_id,
        "batch_id": c.batch_id,
        "status": status,
        "contact_name": c.contact_name or "",
        "phone_number": c.phone,
        "created_at": iso(c.started_at),
        "finished_at": iso(c.ended_at),
        "call_duration_seconds": c.duration_s,
        "call_result": result or {},
        "call_status": c.outcome,
        "call_cost": {"billed_seconds": c.billed_seconds, "cost_units": c.cost_units},
        "transcript": c.transcript or "",
        "recording_url": "",
        "collected_variables": summary.get("collected_dynamic_variables", {}),
        # new for these clients
        "attempt_id": c.attempt_id,
        "summary": c.summary,
    }
