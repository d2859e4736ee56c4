"""``plan_settlement``, the money of every settlement (webhooks, timeouts, abandoned
attempts): the hold back, the real cost charged, once per attempt, never below zero."""

from __future__ import annotations

from dialer.billing.service import Charge, Entry, plan_settlement
from dialer.models import EntryKind


def _charge(attempt: str, reserved: int, cost: int, account: str = "acc") -> Charge:
    return Charge(account, attempt, "b", "j", reserved=reserved, cost=cost)


def test_release_the_hold_then_charge_the_cost() -> None:
    [s] = plan_settlement({"acc": 0}, [_charge("a1", 300, 120)], used=set())
    assert s.charged == 120
    assert [(e.kind, e.amount, e.key) for e in s.entries] == [
        (EntryKind.RELEASE, 300, "release:a1"),
        (EntryKind.CHARGE, -120, "charge:a1"),
    ]
    assert s.entries[0] == Entry("acc", EntryKind.RELEASE, 300, "release:a1", "b", "j", "a1")


def test_a_replayed_attempt_is_not_charged_again() -> None:
    [s] = plan_settlement({"acc": 500}, [_charge("a1", 300, 120)], used={"charge:a1"})
    assert s.charged == 0
    assert s.entries == ()


def test_a_hold_already_given_back_is_not_released_twice() -> None:
    [s] = plan_settlement({"acc": 500}, [_charge("a1", 300, 120)], used={"release:a1"})
    assert [e.kind for e in s.entries] == [EntryKind.CHARGE]


def test_the_same_attempt_twice_in_one_plan_settles_once() -> None:
    first, second = plan_settlement(
        {"acc": 0}, [_charge("a1", 300, 120), _charge("a1", 300, 120)], used=set()
    )
    assert first.charged == 120
    assert second.entries == ()


def test_a_charge_is_capped_at_the_balance_shared_by_the_accounts_attempts() -> None:
    plans = plan_settlement(
        {"acc": 100, "other": 1000},
        [_charge("a1", 0, 80), _charge("a2", 0, 80), _charge("o1", 0, 80, account="other")],
        used=set(),
    )
    assert [p.charged for p in plans] == [80, 20, 80]


def test_no_cost_only_gives_the_hold_back() -> None:
    [s] = plan_settlement({"acc": 0}, [_charge("a1", 240, 0)], used=set())
    assert s.charged == 0
    assert [(e.kind, e.amount) for e in s.entries] == [(EntryKind.RELEASE, 240)]
