"""The provider contract: every adapter (Retell, Twilio, ElevenLabs, Vapi, simulated) keeps
the same promises to the dispatcher and the webhook path (river's ``riverdrivertest``
shape: one suite, every driver).

* place: the call is created once and carries our attempt id for the provider to echo;
* duplicate webhooks map to one event key, and the final state learned by asking the
  provider is the same as the final webhook's (same key except Retell's two finals);
* reordered webhooks: a progress event is never final, a final one always carries an outcome;
* lost webhooks are recovered by asking (``get_call``);
* unknown create outcome: a create whose answer is lost raises ``CallOutcomeUnknown`` and
  never resends; ``find_call`` finds the call by our attempt id, and answers None only
  when no call exists;
* hangup ends the call where the vendor has an API for it;
* signatures: valid accepted, tampered and stale refused.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from dialer.config import Settings
from dialer.db.session import Database
from dialer.job.states import Outcome
from dialer.kit.clock import FrozenClock
from dialer.telephony.base import CallOutcomeUnknown, Provider, WebhookVerificationError
from tests.telephony.contract.harness import ADAPTERS, Harness, call_request, make_harness
from tests.telephony.contract.vendors import STALE, TO, tampered

pytestmark = pytest.mark.parametrize("name", ADAPTERS)


@pytest.fixture
async def harness(
    name: str, database: Database, settings: Settings, frozen_clock: FrozenClock
) -> Harness:
    return make_harness(name, db=database, settings=settings)


async def test_place_creates_one_call_carrying_the_attempt_id(harness: Harness) -> None:
    adapter: Provider = harness.adapter
    placed = await adapter.place_call(call_request("att_place"))

    (call,) = await harness.calls()
    assert call.call_id == placed.provider_call_id
    assert call.attempt_id == "att_place"
    assert call.to_number == TO
    if harness.vendor is not None:
        assert len(harness.vendor.creates()) == 1


async def test_duplicates_share_one_key_and_asking_gives_the_same_final_key(
    harness: Harness, frozen_clock: FrozenClock
) -> None:
    placed = await harness.adapter.place_call(call_request("att_dup"))
    call = await harness.call_by_id(placed.provider_call_id)
    now = frozen_clock.now()
    hook = await harness.final_webhook(call, now)
    (first,) = harness.parse(hook, now)
    (again,) = harness.parse(await harness.resign(hook, now + timedelta(seconds=5)), now)
    assert first.final
    assert again.final
    assert first.event_key == again.event_key
    assert first.attempt_id in (None, "att_dup")
    assert first.provider_call_id == placed.provider_call_id

    frozen_clock.advance(timedelta(hours=1))  # the simulated call has ended by now
    asked = await harness.adapter.get_call(placed.provider_call_id)
    assert asked is not None
    assert asked.final
    # Learned twice (webhook, then asking - or the reverse): the same final state of the
    # same call. (Retell has two final events, call_ended and call_analyzed, with their
    # own keys; the settlement applies the first and merges the later analysis.)
    if harness.name != "retell":
        assert asked.event_key == first.event_key
    assert asked.provider_call_id == first.provider_call_id
    assert asked.outcome == first.outcome


async def test_reordered_progress_is_never_final_and_finals_carry_an_outcome(
    harness: Harness, frozen_clock: FrozenClock
) -> None:
    placed = await harness.adapter.place_call(call_request("att_order"))
    call = await harness.call_by_id(placed.provider_call_id)
    now = frozen_clock.now()
    final_hook = await harness.final_webhook(call, now)
    progress_hook = await harness.progress_webhook(call, now)
    (final,) = harness.parse(final_hook, now)
    assert final.outcome in {str(o) for o in Outcome}
    if progress_hook is not None:
        # Arriving after the final one, progress cannot end or re-open anything.
        assert all(not e.final for e in harness.parse(progress_hook, now))


async def test_lost_webhooks_are_recovered_by_asking(
    harness: Harness, frozen_clock: FrozenClock
) -> None:
    placed = await harness.adapter.place_call(call_request("att_lost"))
    call = await harness.call_by_id(placed.provider_call_id)
    await harness.final_webhook(call, frozen_clock.now())  # the vendor ends it; never delivered
    frozen_clock.advance(timedelta(hours=1))

    event = await harness.adapter.get_call(placed.provider_call_id)
    assert event is not None
    assert event.final
    assert event.outcome == Outcome.COMPLETED
    assert event.duration_s > 0
    assert await harness.adapter.get_call("no-such-call") is None


async def test_unknown_create_outcome_is_never_resent_and_is_found_by_attempt_id(
    harness: Harness, frozen_clock: FrozenClock
) -> None:
    harness.lose_create_answer()
    since = frozen_clock.now()
    with pytest.raises(CallOutcomeUnknown):
        await harness.adapter.place_call(call_request("att_unknown"))
    (call,) = await harness.calls()  # the vendor did create it, once
    if harness.vendor is not None:
        assert len(harness.vendor.creates()) == 1

    found = await harness.adapter.find_call("att_unknown", to_number=TO, since=since)
    assert found is not None
    assert found.provider_call_id == call.call_id
    # Only a provider answer proving there is no such call frees a job.
    assert await harness.adapter.find_call("att_never_placed", to_number="+56987654321",
                                           since=since) is None  # fmt: skip


async def test_hangup_ends_the_call_where_the_vendor_can(harness: Harness) -> None:
    placed = await harness.adapter.place_call(call_request("att_hang"))
    await harness.adapter.hangup(placed.provider_call_id)
    if harness.adapter.supports_hangup:
        assert await harness.hung_up(placed.provider_call_id)
        await harness.adapter.hangup(placed.provider_call_id)  # ended already: no error
    else:
        # No vendor API (ElevenLabs): nothing sent; the agent's max duration bounds it.
        assert harness.vendor is not None
        assert [r.url.path for r in harness.vendor.requests] == [
            harness.vendor.creates()[0].url.path
        ]


async def test_signatures_valid_tampered_stale(harness: Harness, frozen_clock: FrozenClock) -> None:
    placed = await harness.adapter.place_call(call_request("att_sig"))
    call = await harness.call_by_id(placed.provider_call_id)
    now = frozen_clock.now()
    hook = await harness.final_webhook(call, now)
    assert harness.parse(hook, now)

    with pytest.raises(WebhookVerificationError):
        harness.parse(tampered(hook), now)

    stale = await harness.resign(hook, now - STALE)
    if harness.adapter.tolerance is None:
        # Twilio signs no timestamp: a replay is byte-identical and the event dedupe
        # (same key) makes it harmless.
        assert harness.parse(stale, now)[0].event_key == harness.parse(hook, now)[0].event_key
    else:
        with pytest.raises(WebhookVerificationError):
            harness.parse(stale, now)
