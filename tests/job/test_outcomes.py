"""The business-result parser: what agents say about promises, callbacks and payments."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dialer.job.outcomes import (
    Callback,
    Kind,
    ParseError,
    analysis_fields,
    format_amount,
    outcome_from_json,
    parse_amount,
    parse_callback,
    parse_date,
    parse_outcome,
)

SCL = ZoneInfo("America/Santiago")
BUE = ZoneInfo("America/Argentina/Buenos_Aires")
# Wednesday 2 December 2026, 14:30 in Santiago (UTC-3 in summer).
CALL = datetime(2026, 12, 2, 17, 30, tzinfo=UTC)


class TestAmounts:
    @pytest.mark.parametrize(
        ("text", "currency", "expected"),
        [
            ("$4.025.990", "CLP", (4025990, "CLP")),
            ("4.025.990", "CLP", (4025990, "CLP")),
            ("4025990", "CLP", (4025990, "CLP")),
            ("$ 50.000", "CLP", (50000, "CLP")),
            ("50 mil", "CLP", (50000, "CLP")),
            ("50 lucas", "CLP", (50000, "CLP")),
            ("1,5 millones", "CLP", (1500000, "CLP")),
            ("2 palos", "CLP", (2000000, "CLP")),
            ("medio millón", "CLP", (500000, "CLP")),
            ("$ 1.234.567,50", "ARS", (123456750, "ARS")),
            ("1234567,5", "ARS", (123456750, "ARS")),
            ("150.000", "ARS", (15000000, "ARS")),
            ("US$ 1,234.50", "CLP", (123450, "USD")),
            ("4.025", "CLP", (4025, "CLP")),
        ],
    )
    def test_chilean_and_argentine_spellings(
        self, text: str, currency: str, expected: tuple[int, str]
    ) -> None:
        assert parse_amount(text, currency) == expected

    def test_json_numbers_are_main_units(self) -> None:
        assert parse_amount(50000, "CLP") == (50000, "CLP")
        assert parse_amount(1234.5, "ARS") == (123450, "ARS")

    @pytest.mark.parametrize(
        "text", ["cuando pueda", "-5000", "1.23.4", "$1234,50", "", "12,3456", "abc 5"]
    )
    def test_unreadable_or_impossible_amounts_raise(self, text: str) -> None:
        with pytest.raises(ParseError):
            parse_amount(text, "CLP")

    @given(st.integers(min_value=0, max_value=10**12))
    def test_chilean_format_round_trips(self, amount: int) -> None:
        assert parse_amount(format_amount(amount, "CLP"), "CLP") == (amount, "CLP")

    @given(st.integers(min_value=0, max_value=10**12))
    def test_argentine_format_round_trips(self, centavos: int) -> None:
        assert parse_amount(format_amount(centavos, "ARS"), "ARS") == (centavos, "ARS")

    @given(st.text(max_size=30))
    @settings(max_examples=300)
    def test_any_text_is_an_integer_amount_or_a_parse_error(self, text: str) -> None:
        try:
            amount, _ = parse_amount(text, "CLP")
        except ParseError:
            return
        assert isinstance(amount, int)
        assert amount >= 0


class TestDates:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("2026-12-04", date(2026, 12, 4)),
            ("04/12/2026", date(2026, 12, 4)),
            ("4-12-26", date(2026, 12, 4)),
            ("4/12", date(2026, 12, 4)),
            ("1/12", date(2027, 12, 1)),  # already past this year
            ("4 de diciembre", date(2026, 12, 4)),
            ("15 de enero de 2027", date(2027, 1, 15)),
            ("hoy", date(2026, 12, 2)),
            ("mañana", date(2026, 12, 3)),
            ("pasado mañana", date(2026, 12, 4)),
            ("el viernes", date(2026, 12, 4)),
            ("este viernes", date(2026, 12, 4)),
            ("el próximo lunes", date(2026, 12, 7)),
            ("el miércoles", date(2026, 12, 9)),  # said on a Wednesday: next week's
            ("fin de mes", date(2026, 12, 31)),
            ("a fin de mes", date(2026, 12, 31)),
            ("fin del próximo mes", date(2027, 1, 31)),
            ("en 3 días", date(2026, 12, 5)),
            ("en una semana", date(2026, 12, 9)),
            ("el 15", date(2026, 12, 15)),
            ("el 1", date(2027, 1, 1)),
            ("viernes 4", date(2026, 12, 4)),
            ("2026-12-04T03:00:00Z", date(2026, 12, 4)),  # midnight in Santiago
        ],
    )
    def test_spellings_resolve_against_the_call_in_the_debtor_zone(
        self, text: str, expected: date
    ) -> None:
        assert parse_date(text, call_at=CALL, tz=SCL) == expected

    def test_relative_words_use_the_debtor_zone_not_utc(self) -> None:
        # 01:30 UTC on 3 December is still 2 December, 22:30, in Santiago.
        late = datetime(2026, 12, 3, 1, 30, tzinfo=UTC)
        assert parse_date("mañana", call_at=late, tz=SCL) == date(2026, 12, 3)
        assert parse_date("mañana", call_at=late, tz=UTC) == date(2026, 12, 4)

    @pytest.mark.parametrize(
        "text", ["cuando pueda", "la otra semana", "31/02/2027", "viernes 5", "32", "pronto"]
    )
    def test_vague_or_impossible_dates_raise(self, text: str) -> None:
        with pytest.raises(ParseError):
            parse_date(text, call_at=CALL, tz=SCL)

    @given(
        st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2030, 12, 31)),
        st.sampled_from(["lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"]),
    )
    def test_a_weekday_is_the_next_one_within_a_week(self, naive: datetime, day: str) -> None:
        call = naive.replace(tzinfo=UTC)
        today = call.astimezone(BUE).date()
        got = parse_date(f"el {day}", call_at=call, tz=BUE)
        assert 1 <= (got - today).days <= 7
        assert got.strftime("%w") == str(
            ["domingo", "lunes", "martes", "miércoles", "jueves", "viernes", "sábado"].index(day)
        )

    @given(st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2030, 12, 31)))
    def test_month_end_is_the_last_day_of_the_calls_month(self, naive: datetime) -> None:
        call = naive.replace(tzinfo=UTC)
        today = call.astimezone(SCL).date()
        got = parse_date("fin de mes", call_at=call, tz=SCL)
        assert got >= today
        assert got.month == today.month
        assert (got + timedelta(days=1)).day == 1

    @given(st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)))
    def test_written_dates_round_trip(self, d: date) -> None:
        assert parse_date(d.strftime("%d/%m/%Y"), call_at=CALL, tz=SCL) == d
        assert parse_date(d.isoformat(), call_at=CALL, tz=SCL) == d


class TestCallbacks:
    @pytest.mark.parametrize(
        ("text", "local"),
        [
            ("mañana a las 11", datetime(2026, 12, 3, 11, 0)),
            ("mañana 11:30", datetime(2026, 12, 3, 11, 30)),
            ("el lunes a las 3 de la tarde", datetime(2026, 12, 7, 15, 0)),
            ("el viernes a las 10 hrs", datetime(2026, 12, 4, 10, 0)),
            ("a las 5", datetime(2026, 12, 2, 17, 0)),  # later today: the afternoon
            ("a las 11", datetime(2026, 12, 3, 11, 0)),  # 11:00 passed: tomorrow
            ("hoy a las 6 pm", datetime(2026, 12, 2, 18, 0)),
            ("mañana al mediodía", datetime(2026, 12, 3, 12, 0)),
            ("2026-12-03T11:00:00", datetime(2026, 12, 3, 11, 0)),  # naive: debtor's zone
        ],
    )
    def test_day_and_hour(self, text: str, local: datetime) -> None:
        got = parse_callback(text, call_at=CALL, tz=SCL)
        assert got.at == local.replace(tzinfo=SCL).astimezone(UTC)

    def test_offsets_and_relative_hours(self) -> None:
        assert parse_callback("2026-12-03T14:00:00Z", call_at=CALL, tz=SCL).at == datetime(
            2026, 12, 3, 14, tzinfo=UTC
        )
        assert parse_callback("en 2 horas", call_at=CALL, tz=SCL).at == CALL + timedelta(hours=2)

    def test_a_day_without_hour_is_a_day(self) -> None:
        assert parse_callback("mañana", call_at=CALL, tz=SCL) == Callback(date=date(2026, 12, 3))
        assert parse_callback("2026-12-05", call_at=CALL, tz=SCL) == Callback(
            date=date(2026, 12, 5)
        )

    @pytest.mark.parametrize("text", ["más tarde", "otro día", "mañana a las 25", "cuando sea"])
    def test_vague_callbacks_raise(self, text: str) -> None:
        with pytest.raises(ParseError):
            parse_callback(text, call_at=CALL, tz=SCL)


class TestOutcome:
    def test_retell_custom_analysis_promise(self) -> None:
        # Retell call object, call_analysis.custom_analysis_data as configured per
        # docs/providers.md (https://docs.retellai.com/api-references/get-call).
        raw = {
            "call_analysis": {
                "custom_analysis_data": {
                    "resultado": "promesa_de_pago",
                    "fecha_promesa": "el viernes",
                    "monto_promesa": "$4.025.990",
                    "medio_pago": "Transferencia",
                }
            }
        }
        got = parse_outcome(analysis_fields(raw), call_at=CALL, tz=SCL, currency="CLP")
        assert got.kind == Kind.PROMISE_TO_PAY
        assert got.promise is not None
        assert (got.promise.amount, got.promise.currency) == (4025990, "CLP")
        assert got.promise.date == date(2026, 12, 4)
        assert got.promise.method == "transfer"
        assert not got.needs_review

    def test_replaced_systems_collected_variables(self) -> None:
        # The replaced system read these two from Retell's collected_dynamic_variables.
        raw = {"collected_dynamic_variables": {"fecha_pago_cliente": "15/12/2026",
                                                "monto_pago_cliente": "150000"}}  # fmt: skip
        got = parse_outcome(analysis_fields(raw), call_at=CALL, tz=BUE, currency="ARS")
        assert got.kind == Kind.PROMISE_TO_PAY
        assert got.promise is not None
        assert (got.promise.amount, got.promise.date) == (15000000, date(2026, 12, 15))

    def test_vapi_structured_data_and_elevenlabs_collection(self) -> None:
        vapi = {"analysis": {"structuredData": {"result": "callback",
                                                "callback_at": "mañana a las 11"}}}  # fmt: skip
        got = parse_outcome(analysis_fields(vapi), call_at=CALL, tz=SCL, currency="CLP")
        assert got.kind == Kind.CALLBACK
        assert got.callback is not None
        assert got.callback.at == datetime(2026, 12, 3, 14, tzinfo=UTC)
        eleven = {"analysis": {"data_collection_results": {
            "resultado": {"value": "no reconoce deuda", "rationale": "..."}}}}  # fmt: skip
        got = parse_outcome(analysis_fields(eleven), call_at=CALL, tz=SCL, currency="CLP")
        assert got.kind == Kind.DISPUTE

    @pytest.mark.parametrize(
        ("fields", "kind"),
        [
            ({"resultado": "ya pagó"}, Kind.PAID),
            ({"resultado": "rechaza"}, Kind.REFUSED),
            ({"resultado": "persona equivocada"}, Kind.WRONG_PERSON),
            ({"wrong_person": True}, Kind.WRONG_PERSON),
            ({"resultado": "no volver a llamar"}, Kind.DO_NOT_CALL),
            ({"do_not_call": "sí"}, Kind.DO_NOT_CALL),
            ({"resultado": "disputa"}, Kind.DISPUTE),
            ({"call_successful": True}, Kind.NO_RESULT),
        ],
    )
    def test_kinds(self, fields: dict[str, object], kind: Kind) -> None:
        assert parse_outcome(fields, call_at=CALL, tz=SCL, currency="CLP").kind == kind

    def test_paid_with_amount_and_date(self) -> None:
        got = parse_outcome(
            {"resultado": "ya_pago", "monto_pagado": "30 lucas", "fecha_pagado": "ayer-ish"},
            call_at=CALL,
            tz=SCL,
            currency="CLP",
        )
        assert got.kind == Kind.PAID
        assert got.paid is not None
        assert got.paid.amount == 30000
        assert got.paid.date is None
        assert [(u.field, u.value) for u in got.unparsed] == [("fecha_pagado", "ayer-ish")]

    def test_unparseable_values_are_kept_raw_and_flagged_never_guessed(self) -> None:
        got = parse_outcome(
            {"fecha_pago_cliente": "cuando me paguen", "monto_pago_cliente": "lo que pueda"},
            call_at=CALL,
            tz=SCL,
            currency="CLP",
        )
        assert got.kind == Kind.PROMISE_TO_PAY
        assert got.promise is not None
        assert got.promise.amount is None
        assert got.promise.date is None
        assert got.needs_review
        assert {u.field: u.value for u in got.unparsed} == {
            "fecha_pago_cliente": "cuando me paguen",
            "monto_pago_cliente": "lo que pueda",
        }

    def test_an_unknown_result_word_is_flagged(self) -> None:
        got = parse_outcome({"resultado": "quizás"}, call_at=CALL, tz=SCL, currency="CLP")
        assert got.kind == Kind.NO_RESULT
        assert got.unparsed[0].field == "resultado"

    def test_adapter_declared_result_is_used_when_the_fields_have_none(self) -> None:
        got = parse_outcome({}, call_at=CALL, tz=SCL, currency="CLP", declared="call_back_later")
        assert got.kind == Kind.CALLBACK

    @given(
        st.dictionaries(
            st.sampled_from(
                ["resultado", "fecha_promesa", "monto_promesa", "callback_at", "moneda",
                 "monto_pagado", "fecha_pagado", "wrong_person", "medio_pago"]
            ),
            st.one_of(st.text(max_size=20), st.integers(), st.booleans(), st.none(),
                      st.floats(allow_nan=True)),
        ),
        st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2030, 1, 1)),
    )  # fmt: skip
    @settings(max_examples=300)
    def test_never_raises_and_json_round_trips(
        self, fields: dict[str, object], naive: datetime
    ) -> None:
        got = parse_outcome(fields, call_at=naive.replace(tzinfo=UTC), tz=SCL, currency="CLP")
        if got.promise is not None and got.promise.amount is not None:
            assert isinstance(got.promise.amount, int)
        assert outcome_from_json(got.to_json()) == got
