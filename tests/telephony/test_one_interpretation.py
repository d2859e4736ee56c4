"""The agent's business fields are interpreted in one place (``dialer.job.outcomes``): the
adapters pass them as reported, and the result the settlement reads from an adapter's
event is the parser's reading of the provider's own payload."""

from __future__ import annotations

import copy
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from dialer.job.outcomes import analysis_fields, parse_outcome
from dialer.telephony.providers import elevenlabs, retell, vapi
from tests.telephony.recorded import business, load

SANTIAGO = ZoneInfo("America/Santiago")


def _parser_alone(payload: dict[str, Any], call_at: datetime) -> Any:
    return parse_outcome(analysis_fields(payload), call_at=call_at, tz=SANTIAGO, currency="CLP")


def _retell(custom: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    # retell-python-sdk 5.60 PhoneCallResponse (fixture webhook_call_analyzed).
    call = copy.deepcopy(load("retell", "webhook_call_analyzed")["call"])
    call["call_analysis"]["custom_analysis_data"] = custom
    return retell.event_from_call("call_analyzed", call), call


def _elevenlabs(custom: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    # elevenlabs-python 2.59 post_call_transcription data (data_collection_results items).
    data = copy.deepcopy(load("elevenlabs", "webhook_post_call_transcription")["data"])
    data["analysis"]["data_collection_results"] = {
        k: {"data_collection_id": k, "value": v, "rationale": ""} for k, v in custom.items()
    }
    return elevenlabs.event_from_conversation(data), data


def _vapi(custom: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    # VapiAI server-sdk-python 1.x ServerMessageEndOfCallReport (analysis.structuredData).
    msg = copy.deepcopy(load("vapi", "webhook_end_of_call_report")["message"])
    msg["analysis"]["structuredData"] = custom
    return vapi.event_from_call(msg["call"], msg), msg


SPOKEN = {
    "resultado": "promesa_de_pago",
    "monto_promesa": "50 lucas",
    "fecha_promesa": "el viernes",
}


@pytest.mark.parametrize("adapter", [_retell, _elevenlabs, _vapi])
def test_spoken_amounts_and_days_are_read_once_by_the_parser(adapter: Any) -> None:
    event, payload = adapter(SPOKEN)
    assert event.business_result is None  # no reading of its own
    assert "promise_amount" not in event.extracted
    assert "promise_date" not in event.extracted
    result = business(event)
    # "50 lucas" is 50,000 pesos (an adapter reading digits only would have said 50).
    assert result.kind == "promise_to_pay"
    assert result.promise.amount == 50_000
    assert result.promise.date.weekday() == 4
    assert result == _parser_alone(payload, event.ended_at)


@pytest.mark.parametrize("adapter", [_retell, _elevenlabs, _vapi])
def test_the_recorded_promise_reads_the_same_as_before(adapter: Any) -> None:
    event, payload = adapter(
        {
            "resultado": "promesa_de_pago",
            "fecha_promesa": "20/03/2026",
            "monto_promesa": "$1.234.567",
        }
    )
    result = business(event)
    assert (result.kind, result.promise.amount, result.promise.date) == (
        "promise_to_pay", 1_234_567, date(2026, 3, 20))  # fmt: skip
    assert result == _parser_alone(payload, event.ended_at)


def test_an_unknown_result_word_is_kept_raw_and_flagged_not_guessed() -> None:
    event, _ = _retell({"resultado": "lo va a pensar"})
    result = business(event)
    assert result.kind == "no_result"
    assert [(u.field, u.value) for u in result.unparsed] == [("resultado", "lo va a pensar")]
