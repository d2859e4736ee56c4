"""Outbound webhooks: subscriptions, signatures, retries, the delivery log, SSRF refusals.

Deliveries go to a live HTTP server on 127.0.0.1 (tests/hooks/receiver.py)."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from dialer.account.auth import Principal
from dialer.config import Settings
from dialer.db.session import Database
from dialer.hooks import service
from dialer.hooks.addresses import AddressRefused
from dialer.hooks.delivery import Deliverer
from dialer.hooks.outbox import enqueue
from dialer.hooks.schemas import SubscriptionCreate
from dialer.hooks.signing import verify
from dialer.main import create_app
from dialer.models import OutboxEvent, WebhookDelivery
from tests.factories import api_account, as_key
from tests.hooks.receiver import HANG, Receiver

T0 = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
ADMIN = Principal(is_admin=True)


async def subscribe(
    admin: httpx.AsyncClient, account_id: str, url: str, events: list[str]
) -> dict[str, Any]:
    r = await admin.post(
        f"/api/v1/accounts/{account_id}/webhooks", json={"url": url, "events": events}
    )
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def emit(
    database: Database, account_id: str, type: str, n: int = 1, at: datetime = T0
) -> list[str]:
    async with database.write() as s:
        return [
            await enqueue(s, account_id=account_id, type=type, at=at, data={"n": i})
            for i in range(n)
        ]


@pytest.fixture
async def deliverer(database: Database, settings: Settings) -> AsyncIterator[Deliverer]:
    d = Deliverer(database, settings)
    yield d
    await d.aclose()


class TestSubscriptions:
    async def test_create_shows_the_secret_once_list_and_delete(
        self, admin: httpx.AsyncClient, receiver: Receiver
    ) -> None:
        acc = await api_account(admin)
        created = await subscribe(
            admin, acc["account_id"], receiver.url, ["payment.matched", "call.completed"]
        )
        assert created["secret"].startswith("whsec_")
        assert created["events"] == ["call.completed", "payment.matched"]
        listed = (await admin.get(f"/api/v1/accounts/{acc['account_id']}/webhooks")).json()
        assert [w["id"] for w in listed] == [created["id"]]
        assert "secret" not in listed[0]
        path = f"/api/v1/accounts/{acc['account_id']}/webhooks/{created['id']}"
        assert (await admin.delete(path)).status_code == 204
        assert (await admin.delete(path)).status_code == 404
        assert (await admin.get(f"/api/v1/accounts/{acc['account_id']}/webhooks")).json() == []

    async def test_unknown_events_and_other_accounts_are_refused(
        self, admin: httpx.AsyncClient, receiver: Receiver
    ) -> None:
        acc = await api_account(admin)
        other = await api_account(admin, account_name="Otra")
        r = await admin.post(
            f"/api/v1/accounts/{acc['account_id']}/webhooks",
            json={"url": receiver.url, "events": ["call.exploded"]},
        )
        assert r.status_code == 422
        assert "call.exploded" in r.text
        async with as_key(admin, other["api_key"]) as c:
            r = await c.get(f"/api/v1/accounts/{acc['account_id']}/webhooks")
            assert r.status_code == 404


REFUSED_URLS = (
    "http://127.0.0.1:8000/hook",
    "http://localhost/hook",
    "http://10.0.0.7/hook",
    "http://192.168.1.20/hook",
    "http://172.16.5.4/hook",
    "http://169.254.169.254/latest/meta-data",
    "http://[::1]/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://[fe80::1]/hook",
    "http://0.0.0.0/hook",
    "ftp://example.com/hook",
    "http://user:pw@example.com/hook",
)


class TestSsrf:
    async def test_private_addresses_are_refused_without_the_operator_setting(
        self, settings: Settings, database: Database
    ) -> None:
        strict = settings.model_copy(update={"WEBHOOKS_ALLOW_PRIVATE": False})
        app = create_app(strict, database=database)
        refused = {}
        async with app.router.lifespan_context(app):
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),
                base_url="http://testserver",
                headers={"Authorization": f"Bearer {settings.ADMIN_API_KEY.get_secret_value()}"},  # type: ignore[union-attr]
            ) as c:
                acc = await api_account(c)
                for url in REFUSED_URLS:
                    r = await c.post(
                        f"/api/v1/accounts/{acc['account_id']}/webhooks",
                        json={"url": url, "events": ["call.completed"]},
                    )
                    refused[url] = (r.status_code, r.json().get("field"))
                listed = await c.get(f"/api/v1/accounts/{acc['account_id']}/webhooks")
        assert refused == dict.fromkeys(REFUSED_URLS, (422, "url"))
        assert listed.json() == []

    async def test_a_name_resolving_to_a_private_range_is_refused(
        self, settings: Settings, database: Database, admin: httpx.AsyncClient
    ) -> None:
        acc = await api_account(admin)
        strict = settings.model_copy(update={"WEBHOOKS_ALLOW_PRIVATE": False})

        async def private(host: str, port: int) -> list[str]:
            return ["93.184.216.34", "192.168.0.10"]  # one bad answer is enough

        async with database.write() as s:
            with pytest.raises(AddressRefused, match=r"192\.168\.0\.10"):
                await service.create_subscription(
                    s, ADMIN, acc["account_id"],
                    SubscriptionCreate(url="https://hooks.example.com/x", events=["job.finished"]),
                    strict, resolver=private,
                )  # fmt: skip

    async def test_dns_rebinding_is_refused_at_delivery_time(
        self, settings: Settings, database: Database, admin: httpx.AsyncClient, receiver: Receiver
    ) -> None:
        acc = await api_account(admin)
        strict = settings.model_copy(update={"WEBHOOKS_ALLOW_PRIVATE": False})
        answers = iter([["93.184.216.34"], ["127.0.0.1"]])

        async def rebinding(host: str, port: int) -> list[str]:
            return next(answers)

        async with database.write() as s:
            await service.create_subscription(
                s, ADMIN, acc["account_id"],
                SubscriptionCreate(url=f"http://hooks.example.com:{receiver.server.server_address[1]}/x",
                                   events=["job.finished"]),
                strict, resolver=rebinding,
            )  # fmt: skip
        await emit(database, acc["account_id"], "job.finished")
        d = Deliverer(database, strict, resolver=rebinding)
        try:
            assert await d.run_once(T0) == 1
        finally:
            await d.aclose()
        assert receiver.received == []
        log = (await admin.get(f"/api/v1/accounts/{acc['account_id']}/webhooks/deliveries")).json()
        assert log[0]["status"] == "pending"
        assert log[0]["log"][0]["error"].startswith("refused:")
        assert "127.0.0.1" in log[0]["log"][0]["error"]


class TestDelivery:
    async def test_signed_post_with_event_id_only_for_subscribed_types(
        self, admin: httpx.AsyncClient, database: Database, deliverer: Deliverer, receiver: Receiver
    ) -> None:
        acc = await api_account(admin)
        sub = await subscribe(admin, acc["account_id"], receiver.url, ["payment.matched"])
        [event_id] = await emit(database, acc["account_id"], "payment.matched")
        await emit(database, acc["account_id"], "call.completed")  # not subscribed

        assert await deliverer.run_once(T0) == 1
        [got] = receiver.received
        header = got.headers["dialer-signature"]
        t, v1 = (p.split("=", 1)[1] for p in header.split(","))
        assert int(t) == int(T0.timestamp())
        # The receiver's own check: HMAC-SHA256(secret, "<t>." + raw body).
        expected = hmac.new(sub["secret"].encode(), f"{t}.".encode() + got.body, hashlib.sha256)
        assert hmac.compare_digest(v1, expected.hexdigest())
        assert verify(sub["secret"], header, got.body, now=int(T0.timestamp()))
        assert not verify("whsec_wrong", header, got.body, now=int(T0.timestamp()))
        assert not verify(sub["secret"], header, got.body + b" ", now=int(T0.timestamp()))
        assert not verify(sub["secret"], header, got.body, now=int(T0.timestamp()) + 3600)
        body = json.loads(got.body)
        assert body["id"] == event_id == got.headers["dialer-event-id"]
        assert body["type"] == "payment.matched"
        assert body["account_id"] == acc["account_id"]
        log = (await admin.get(f"/api/v1/accounts/{acc['account_id']}/webhooks/deliveries")).json()
        assert [(d["event_id"], d["status"], d["attempts"]) for d in log] == [
            (event_id, "delivered", 1)
        ]
        assert log[0]["log"][0]["status_code"] == 200
        async with database.read() as s:
            # The outbox is a queue: consumed rows are gone, undeliverable ones too.
            assert (await s.execute(select(func.count()).select_from(OutboxEvent))).scalar() == 0

    async def test_retries_after_500_and_timeout_with_backoff_same_id_and_body(
        self, admin: httpx.AsyncClient, database: Database, deliverer: Deliverer, receiver: Receiver
    ) -> None:
        acc = await api_account(admin)
        await subscribe(admin, acc["account_id"], receiver.url, ["promise.broken"])
        [event_id] = await emit(database, acc["account_id"], "promise.broken")
        receiver.script.extend([500, HANG])

        assert await deliverer.run_once(T0) == 1  # 500
        assert await deliverer.run_once(T0 + timedelta(seconds=29)) == 0  # backoff: 30 s
        assert await deliverer.run_once(T0 + timedelta(seconds=30)) == 1  # timeout
        assert await deliverer.run_once(T0 + timedelta(seconds=89)) == 0  # backoff: 60 s
        assert await deliverer.run_once(T0 + timedelta(seconds=90)) == 1  # 200
        assert len(receiver.received) == 3
        assert {r.headers["dialer-event-id"] for r in receiver.received} == {event_id}
        assert len({r.body for r in receiver.received}) == 1
        [d] = (await admin.get(f"/api/v1/accounts/{acc['account_id']}/webhooks/deliveries")).json()
        assert d["status"] == "delivered"
        assert [(a["status_code"], a["error"]) for a in d["log"]] == [
            (500, "HTTP 500"),
            (None, "timeout"),
            (200, None),
        ]

    async def test_gives_up_after_max_attempts_and_manual_redelivery(
        self, admin: httpx.AsyncClient, database: Database, settings: Settings, receiver: Receiver
    ) -> None:
        acc = await api_account(admin)
        await subscribe(admin, acc["account_id"], receiver.url, ["batch.completed"])
        await emit(database, acc["account_id"], "batch.completed")
        receiver.script.extend([503, 503])
        d = Deliverer(database, settings.model_copy(update={"WEBHOOK_MAX_ATTEMPTS": 2}))
        try:
            await d.run_once(T0)
            await d.run_once(T0 + timedelta(hours=1))
            base = f"/api/v1/accounts/{acc['account_id']}/webhooks/deliveries"
            [failed] = (await admin.get(base, params={"status": "failed"})).json()
            assert failed["attempts"] == 2
            assert await d.run_once(T0 + timedelta(days=1)) == 0  # failed: not retried
            r = await admin.post(f"{base}/{failed['id']}/redeliver")
            assert r.status_code == 200, r.text
            assert await d.run_once(datetime.now(UTC)) == 1
        finally:
            await d.aclose()
        [done] = (await admin.get(base)).json()
        assert (done["status"], done["attempts"]) == ("delivered", 3)
        assert len({r.headers["dialer-event-id"] for r in receiver.received}) == 1
        assert (await admin.post(f"{base}/999999/redeliver")).status_code == 404

    async def test_many_events_two_deliverers_each_event_once_with_its_own_id(
        self, admin: httpx.AsyncClient, database: Database, settings: Settings, receiver: Receiver
    ) -> None:
        acc = await api_account(admin)
        await subscribe(admin, acc["account_id"], receiver.url, ["call.completed", "job.finished"])
        ids = await emit(database, acc["account_id"], "call.completed", 30)
        ids += await emit(database, acc["account_id"], "job.finished", 30)
        # Every delivery is answered at once: the module's 0.3 s timeout (for the timeout
        # tests) could expire on a loaded machine and turn a delivery into a retry.
        patient = settings.model_copy(update={"WEBHOOK_TIMEOUT": timedelta(seconds=10)})
        first, second = Deliverer(database, patient), Deliverer(database, patient)
        try:
            while await first.run_once(T0, limit=7) + await second.run_once(T0, limit=7):
                pass
        finally:
            await first.aclose()
            await second.aclose()
        got = [json.loads(r.body)["id"] for r in receiver.received]
        assert sorted(got) == sorted(ids)  # every event, once
        assert len(set(ids)) == 60
        async with database.read() as s:
            statuses = (await s.execute(select(WebhookDelivery.status))).scalars().all()
        assert statuses == ["delivered"] * 60


async def test_delivery_ids_beyond_the_column_are_refused_as_input(
    admin: httpx.AsyncClient,
) -> None:
    # INTEGER columns: PostgreSQL cannot bind a larger id, so the API refuses it (422).
    acc = (await api_account(admin))["account_id"]
    base = f"/api/v1/accounts/{acc}/webhooks/deliveries"
    r = await admin.post(f"{base}/{2**31}/redeliver")
    assert r.status_code == 422, r.text
    assert "delivery_id" in r.text
    r = await admin.get(base, params={"before_id": 28842055062695})
    assert r.status_code == 422, r.text
    assert (await admin.post(f"{base}/{2**31 - 1}/redeliver")).status_code == 404
