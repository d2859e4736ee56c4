"""The per-debtor contact limit and phone identity (pure)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from dialer.compliance.profiles import CL_COBRANZA
from dialer.compliance.rules import (
    WEEKLY_LIMIT,
    Allowed,
    SnoozeUntil,
    contact_decision,
    debtor_key,
    phone_variants,
)

WEEK = timedelta(days=7)
NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)

instants = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2026, 6, 1), timezones=st.just(UTC)
)


class TestContactDecision:
    def test_no_profile_never_limits(self) -> None:
        assert contact_decision(None, [NOW - timedelta(minutes=1)], NOW) == Allowed()

    def test_debtor_never_contacted_is_allowed(self) -> None:
        assert contact_decision(CL_COBRANZA, [], NOW) == Allowed()

    def test_contact_yesterday_snoozes_until_a_week_after_it(self) -> None:
        last = NOW - timedelta(days=1)
        decision = contact_decision(CL_COBRANZA, [last], NOW)
        assert decision == SnoozeUntil(until=last + WEEK, reason=WEEKLY_LIMIT)

    def test_exactly_seven_days_later_is_allowed(self) -> None:
        assert contact_decision(CL_COBRANZA, [NOW - WEEK], NOW) == Allowed()
        assert isinstance(
            contact_decision(CL_COBRANZA, [NOW - WEEK + timedelta(seconds=1)], NOW), SnoozeUntil
        )

    def test_latest_contact_decides(self) -> None:
        contacts = [NOW - timedelta(days=6), NOW - timedelta(days=2), NOW - timedelta(days=20)]
        decision = contact_decision(CL_COBRANZA, contacts, NOW)
        assert decision == SnoozeUntil(until=NOW - timedelta(days=2) + WEEK)

    @given(contacts=st.lists(instants, max_size=6), now=instants)
    def test_snooze_end_is_exactly_when_the_limit_frees_up(
        self, contacts: list[datetime], now: datetime
    ) -> None:
        decision = contact_decision(CL_COBRANZA, contacts, now)
        recent = [c for c in contacts if now - c < WEEK]
        if not recent:
            assert decision == Allowed()
            return
        assert isinstance(decision, SnoozeUntil)
        assert decision.until == max(recent) + WEEK
        assert decision.until > now
        # At the snooze end the debtor is allowed again (same contacts, later clock).
        assert contact_decision(CL_COBRANZA, contacts, decision.until) == Allowed()

    @given(
        contacts=st.lists(instants, max_size=8),
        now=instants,
        limit=st.integers(min_value=1, max_value=4),
    )
    def test_never_more_than_n_contacts_in_any_window(
        self, contacts: list[datetime], now: datetime, limit: int
    ) -> None:
        profile = replace(CL_COBRANZA, contacts_per_debtor=limit)
        decision = contact_decision(profile, contacts, now)
        recent = [c for c in contacts if now - c < WEEK]
        if isinstance(decision, Allowed):
            assert len(recent) < limit
        else:
            assert len(recent) >= limit
            # Calling at the snooze end keeps the rolling window within the limit.
            still = [c for c in contacts if decision.until - c < WEEK]
            assert len(still) < limit


class TestDebtorKey:
    def test_rut_is_the_key(self) -> None:
        assert debtor_key("12345678-K", ["+56987654321"]) == "12345678-K"

    def test_one_rut_in_two_batches_is_one_debtor(self) -> None:
        assert debtor_key("12345678-5", ["+56911111111"]) == debtor_key(
            "12345678-5", ["+56922222222"]
        )

    def test_first_phone_when_no_id(self) -> None:
        assert debtor_key(None, ["+56987654321", "+56911111111"]) == "+56987654321"
        assert debtor_key("", ["+56987654321"]) == "+56987654321"

    def test_nothing_to_identify(self) -> None:
        assert debtor_key(None, []) is None

    @given(st.text(max_size=200))
    def test_key_fits_the_log_column(self, dni: str) -> None:
        key = debtor_key(dni, ["+56987654321"])
        assert key is not None
        assert 0 < len(key) <= 64


class TestPhoneVariants:
    def test_argentine_mobile_matches_registry_spelling_without_9(self) -> None:
        assert set(phone_variants("+5491145678901")) == {"+5491145678901", "+541145678901"}
        assert set(phone_variants("+541145678901")) == {"+5491145678901", "+541145678901"}

    def test_chilean_numbers_have_one_spelling(self) -> None:
        assert phone_variants("+56987654321") == ("+56987654321",)
