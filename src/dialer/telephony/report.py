"""The voice agent's own report of a Twilio call: ``POST /api/v1/webhooks/twilio/report``.

Twilio carries audio and reports only the line's status; the agent server behind
``stream_url`` / ``twiml_url`` knows the transcript and the business result. It posts them
after the call, signed with the account's Twilio ``report_secret``
(``X-Dialer-Signature: t=<unix s>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>``). The report
is bound like every webhook: to the attempt it names, verified with that attempt's
account's secret, and to its CallSid. It is merged into the ended attempt as a late
analysis (no billing, counters or retries change); sent before Twilio's final callback
it answers 409 and the agent retries.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.ext.asyncio import AsyncSession

from dialer.call.analysis import apply_late_analysis
from dialer.call.settlement import late_business
from dialer.config import Settings
from dialer.errors import Conflict, Unauthorized
from dialer.job.states import AttemptStatus, Outcome
from dialer.kit import clock
from dialer.telephony import config_service
from dialer.telephony.base import CallEvent, WebhookVerificationError
from dialer.telephony.providers import twilio
from dialer.telephony.report_repository import ReportRepository


class ReportTooEarly(Conflict):
    """The call has not ended yet: send the report after Twilio's completed callback."""


async def receive_agent_report(
    session: AsyncSession, *, body: bytes, headers: Mapping[str, str], settings: Settings
) -> int:
    """Verify an agent report and merge it into its attempt; 1 when it changed it.
    Raises Unauthorized (signature, binding) and ReportTooEarly (call not ended)."""
    attempt_id, call_sid = twilio.report_claims(body)
    binding = await config_service.attempt_binding(session, twilio.NAME, attempt_id, None)
    if binding is None or binding.provider != twilio.NAME:
        raise Unauthorized("report rejected: no Twilio attempt with that id")
    try:
        cfg = await config_service.resolve(session, binding.account_id, twilio.NAME, settings)
    except config_service.ProviderNotConfigured:
        raise Unauthorized("report rejected: Twilio is not configured") from None
    secret = cfg.credentials.get("report_secret")
    if not secret:
        raise Unauthorized("report rejected: the account has no Twilio report_secret")
    lowered = {k.lower(): v for k, v in headers.items()}
    try:
        report = twilio.parse_report(
            body, lowered.get(twilio.REPORT_SIGNATURE_HEADER), secret, now=clock.now()
        )
    except WebhookVerificationError as exc:
        raise Unauthorized(f"report rejected: {exc}") from None
    if binding.provider_call_id and call_sid and call_sid != binding.provider_call_id:
        raise Unauthorized("report rejected: the report concerns another call")
    repo = ReportRepository.from_session(session)
    found = await repo.attempt_and_job(binding.attempt_id)
    if found is None:
        raise Unauthorized("report rejected: no Twilio attempt with that id")
    attempt, job = found
    if attempt.status != AttemptStatus.ENDED:
        raise ReportTooEarly()
    event = CallEvent(
        provider=twilio.NAME, provider_call_id=attempt.provider_call_id or "",
        event_key=f"{twilio.NAME}:{attempt.provider_call_id}:report", attempt_id=attempt.id,
        final=True, status="report", outcome=str(Outcome.COMPLETED),
        transcript=report.transcript,
        summary=report.summary, extracted=report.extracted,
    )  # fmt: skip
    changed = apply_late_analysis(attempt, job, event)
    if changed:
        # The structured result, the promise and the recovery figures, as for any
        # analysis that arrives after the call was settled.
        await late_business(session, attempt, job, event, clock.now())
    await session.flush()
    return changed
