"""Per-account provider configuration: credentials and defaults (agent, from-number...).

Credentials are either stored encrypted (Fernet, key derived from ``DIALER_SECRET_KEY``
with HKDF-SHA256) or referenced by environment variable name (``{"api_key_env":
"RETELL_API_KEY"}``), so an operator can keep secrets in the deployment's secret store.
They are never returned by the API and never logged: reads report which fields are set.
"""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession

from dialer.account.auth import Principal
from dialer.account.status import require_active
from dialer.config import Settings
from dialer.errors import InvalidInput, NotFound, PermissionDenied
from dialer.logging import get_logger
from dialer.models import ProviderConfig
from dialer.telephony.base import PermanentProviderError, ProviderError
from dialer.telephony.config_repository import AttemptBinding, ProviderConfigRepository

log = get_logger("dialer.telephony.config")


@dataclass(frozen=True)
class ProviderSpec:
    credentials: tuple[str, ...]
    options: tuple[str, ...]
    optional_credentials: tuple[str, ...] = ()

    @property
    def all_credentials(self) -> tuple[str, ...]:
        return self.credentials + self.optional_credentials


SPECS: dict[str, ProviderSpec] = {
    "retell": ProviderSpec(
        credentials=("api_key",),
        # The API key with the webhook badge, when it is not the calling key.
        optional_credentials=("webhook_secret",),
        options=(
            "agent_id",
            "agent_version",
            "from_number",
            "webhook_base_url",
            "replay_tolerance_s",
        ),
    ),
    "twilio": ProviderSpec(
        credentials=("account_sid", "auth_token"),
        # Signs the agent server's transcript/result reports (POST .../twilio/report).
        optional_credentials=("report_secret",),
        options=(
            "from_number",
            "twiml_url",
            "stream_url",
            "webhook_base_url",
            "machine_detection",
            "ring_timeout_s",
        ),
    ),
    "elevenlabs": ProviderSpec(
        credentials=("api_key", "webhook_secret"),
        # The Twilio account of the imported number (telephony twilio): ElevenLabs has no
        # API to end a conversation, but its Twilio call can be ended there (hangup).
        optional_credentials=("twilio_account_sid", "twilio_auth_token"),
        options=(
            "agent_id",
            "branch_id",
            "phone_number_id",
            "telephony",
            "webhook_base_url",
            "replay_tolerance_s",
        ),
    ),
    "vapi": ProviderSpec(
        credentials=("api_key", "webhook_secret"),
        options=(
            "assistant_id",
            "assistant_version",
            "phone_number_id",
            "webhook_auth",
            "webhook_base_url",
            "replay_tolerance_s",
        ),
    ),
}
# Option values checked when saved: a setting accepted but not usable is a defect.
OPTION_CHOICES: dict[str, tuple[str, ...]] = {
    "telephony": ("twilio", "sip_trunk"),
    "webhook_auth": ("hmac", "bearer"),
    "machine_detection": ("Enable", "DetectMessageEnd", ""),
}
# Vendors whose options name the caller number only by id (``phone_number_id``): the
# E.164 number behind it is asked of the vendor when the id is saved and kept as the
# read-only option ``phone_number``, so the caller-ID rule can be checked on it.
NUMBER_BY_ID = frozenset({"elevenlabs", "vapi"})
CallerNumberLookup = Callable[["ResolvedConfig", str], Awaitable[str]]
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]{0,127}$")
_ENV_SUFFIX = "_env"


class ProviderConfigUpdate(BaseModel):
    """PUT body. Credentials merge into what is stored; ``null`` removes a field."""

    model_config = ConfigDict(extra="forbid")

    credentials: dict[str, str | None] = Field(default_factory=dict)
    options: dict[str, Any] = Field(default_factory=dict)


class ProviderConfigRead(BaseModel):
    account_id: str
    provider: str
    configured: bool
    credentials_set: list[str]  # names only, never values
    credentials_from_env: dict[str, str]  # field -> environment variable name
    options: dict[str, Any]
    updated_at: datetime | None


@dataclass(frozen=True)
class ResolvedConfig:
    """Credentials in clear, for building an adapter. Never serialise or log this."""

    provider: str
    account_id: str | None
    credentials: dict[str, str] = field(repr=False)
    options: dict[str, Any] = field(default_factory=dict)
    # True when an account stored its own credentials (values, not operator env refs):
    # its webhooks' final outcomes are confirmed with the provider before settling.
    tenant_supplied: bool = False


class ProviderNotConfigured(PermanentProviderError):
    """The account has no usable credentials for this provider."""


def _fernet(settings: Settings) -> Fernet:
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"dialer/provider-credentials"
    ).derive(settings.SECRET_KEY.get_secret_value().encode())
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt(settings: Settings, values: dict[str, str]) -> str:
    return _fernet(settings).encrypt(json.dumps(values).encode()).decode()


def decrypt(settings: Settings, token: str | None) -> dict[str, str]:
    if not token:
        return {}
    try:
        data = json.loads(_fernet(settings).decrypt(token.encode()))
    except InvalidToken as exc:
        # The secret key changed since these were stored: they must be entered again.
        raise ProviderNotConfigured(
            "stored provider credentials cannot be decrypted with the current secret key"
        ) from exc
    return {str(k): str(v) for k, v in data.items()}


def _spec(provider: str) -> ProviderSpec:
    spec = SPECS.get(provider)
    if spec is None:
        raise NotFound(f"provider '{provider}' has no configuration (known: {sorted(SPECS)})")
    return spec


def _to_read(
    account_id: str, provider: str, row: ProviderConfig | None, settings: Settings
) -> ProviderConfigRead:
    if row is None:
        return ProviderConfigRead(
            account_id=account_id, provider=provider, configured=False, credentials_set=[],
            credentials_from_env={}, options={}, updated_at=None,
        )  # fmt: skip
    options = dict(row.options or {})
    env_refs: dict[str, str] = dict(options.pop("credential_env", {}) or {})
    stored = decrypt(settings, row.credentials_encrypted)
    spec = _spec(provider)
    names = sorted(set(stored) | set(env_refs))
    return ProviderConfigRead(
        account_id=account_id,
        provider=provider,
        configured=all(c in names for c in spec.credentials),
        credentials_set=names,
        credentials_from_env=env_refs,
        options=options,
        updated_at=row.updated_at,
    )


async def _check_account(session: AsyncSession, principal: Principal, account_id: str) -> None:
    principal.check_account(account_id)
    if not await ProviderConfigRepository.from_session(session).account_exists(account_id):
        raise NotFound(f"account '{account_id}' not found")


async def get_config(
    session: AsyncSession, principal: Principal, account_id: str, provider: str, settings: Settings
) -> ProviderConfigRead:
    """What is configured for the account's provider (no secret values)."""
    _spec(provider)
    await _check_account(session, principal, account_id)
    row = await ProviderConfigRepository.from_session(session).get(account_id, provider)
    return _to_read(account_id, provider, row, settings)


async def put_config(
    session: AsyncSession,
    principal: Principal,
    account_id: str,
    provider: str,
    data: ProviderConfigUpdate,
    settings: Settings,
    *,
    caller_number: str | None = None,
) -> ProviderConfigRead:
    """Create or update the account's provider config; credentials are encrypted at rest.

    Environment-variable references are an operator's tool (they read the server's
    environment), so only the admin key may set them. ``caller_number``: the E.164
    number behind the saved ``phone_number_id`` (``caller_number_of``), kept as option
    ``phone_number``.
    """
    spec = _spec(provider)
    await _check_account(session, principal, account_id)
    await require_active(session, account_id)
    repo = ProviderConfigRepository.from_session(session)
    row = await repo.get(account_id, provider)
    stored = decrypt(settings, row.credentials_encrypted) if row else {}
    options = dict(row.options or {}) if row else {}
    env_refs: dict[str, str] = dict(options.pop("credential_env", {}) or {})

    for key, value in data.credentials.items():
        name = key[: -len(_ENV_SUFFIX)] if key.endswith(_ENV_SUFFIX) else key
        where = f"credentials.{key}"
        if name not in spec.all_credentials:
            raise InvalidInput(
                f"unknown credential for {provider}; expected {list(spec.all_credentials)}",
                field=where,
            )
        if value is None:
            stored.pop(name, None)
            env_refs.pop(name, None)
            continue
        if not value.strip():
            raise InvalidInput("must not be empty", field=where)
        if key.endswith(_ENV_SUFFIX):
            if not principal.is_admin:
                raise PermissionDenied(
                    "only the admin key may reference environment variables", field=where
                )
            if not _ENV_NAME.match(value) or value.startswith("DIALER_"):
                raise InvalidInput(
                    "must be an environment variable name (A-Z, 0-9, _), not a DIALER_ setting",
                    field=where,
                )
            env_refs[name] = value
            stored.pop(name, None)
        else:
            stored[name] = value.strip()
            env_refs.pop(name, None)

    for key, value in data.options.items():
        if key not in spec.options:
            raise InvalidInput(
                f"unknown option for {provider}; expected {list(spec.options)}",
                field=f"options.{key}",
            )
        if key == "ring_timeout_s" and not (isinstance(value, int) and 5 <= value <= 600):
            raise InvalidInput("must be an integer between 5 and 600", field=f"options.{key}")
        if key == "replay_tolerance_s" and not (
            isinstance(value, int) and not isinstance(value, bool) and 30 <= value <= 3600
        ):
            raise InvalidInput("must be an integer between 30 and 3600", field=f"options.{key}")
        if key in OPTION_CHOICES and value is not None and value not in OPTION_CHOICES[key]:
            raise InvalidInput(
                f"must be one of {list(OPTION_CHOICES[key])}", field=f"options.{key}"
            )
        if value is None:
            options.pop(key, None)
        else:
            options[key] = value
    missing = [c for c in spec.credentials if c not in stored and c not in env_refs]
    if missing:
        raise InvalidInput(
            f"{provider} needs '{missing[0]}' (or '{missing[0]}_env')",
            field=f"credentials.{missing[0]}",
        )
    if provider in NUMBER_BY_ID:
        options.pop("phone_number", None)
        if caller_number and options.get("phone_number_id"):
            options["phone_number"] = caller_number
    if env_refs:
        options["credential_env"] = env_refs
    if row is None:
        row = repo.add(ProviderConfig(account_id=account_id, provider=provider))
    row.credentials_encrypted = encrypt(settings, stored) if stored else None
    row.options = options
    await session.flush()
    log.info("provider.config_saved", account_id=account_id, provider=provider,
             fields=sorted(set(stored) | set(env_refs)))  # fmt: skip
    return _to_read(account_id, provider, row, settings)


async def caller_number_of(
    session: AsyncSession,
    principal: Principal,
    account_id: str,
    provider: str,
    data: ProviderConfigUpdate,
    settings: Settings,
    lookup: CallerNumberLookup | None,
) -> str | None:
    """The E.164 number behind the ``phone_number_id`` a configuration of a vendor in
    ``NUMBER_BY_ID`` will have once ``data`` is saved, asked of the vendor with the
    credentials it will have (``lookup``); the stored one when the id is unchanged.
    None when there is no id, no usable credentials yet, or the vendor cannot be reached
    (logged; the dial-time check still applies). An id the vendor does not know is a 422.
    Run before the write transaction: the vendor's answer is awaited without a lock."""
    if provider not in NUMBER_BY_ID or lookup is None:
        return None
    await _check_account(session, principal, account_id)
    row = await ProviderConfigRepository.from_session(session).get(account_id, provider)
    options = dict(row.options or {}) if row else {}
    new_id = data.options.get("phone_number_id", options.get("phone_number_id"))
    if not isinstance(new_id, str) or not new_id.strip():
        return None
    if new_id == options.get("phone_number_id") and options.get("phone_number"):
        return str(options["phone_number"])
    creds = decrypt(settings, row.credentials_encrypted) if row else {}
    env_refs: dict[str, str] = dict(options.pop("credential_env", {}) or {})
    for key, value in data.credentials.items():
        name = key[: -len(_ENV_SUFFIX)] if key.endswith(_ENV_SUFFIX) else key
        if value is None:
            creds.pop(name, None)
            env_refs.pop(name, None)
        elif key.endswith(_ENV_SUFFIX):
            if not principal.is_admin or not _ENV_NAME.match(value) or value.startswith("DIALER_"):
                return None  # put_config refuses it; never read the server's environment
            env_refs[name] = value
        else:
            creds[name] = value.strip()
    for name, var in env_refs.items():
        if (value := _env(var)) is not None:
            creds[name] = value
    if any(c not in creds for c in _spec(provider).credentials):
        return None  # put_config names what is missing
    options.update({k: v for k, v in data.options.items() if v is not None})
    cfg = ResolvedConfig(provider=provider, account_id=account_id, credentials=creds,
                         options=options, tenant_supplied=True)  # fmt: skip
    try:
        return await lookup(cfg, new_id)
    except PermanentProviderError as exc:
        raise InvalidInput(
            f"{provider} gives no number for this id ({exc}); the caller-ID rule needs it",
            field="options.phone_number_id",
        ) from exc
    except ProviderError as exc:
        log.warning("provider.caller_number_unavailable", account_id=account_id,
                    provider=provider, error=str(exc))  # fmt: skip
        return None


def _env(name: str) -> str | None:
    # Deliberately outside Settings: the variable name is chosen per account at runtime.
    return os.environ.get(name) or None


def default_credentials(provider: str, settings: Settings) -> dict[str, str]:
    """Deployment-wide credentials (used by accounts without their own config)."""
    prefix = {"retell": "RETELL", "twilio": "TWILIO", "elevenlabs": "ELEVENLABS",
              "vapi": "VAPI"}.get(provider)  # fmt: skip
    if prefix is None:
        return {}
    out: dict[str, str] = {}
    for name in SPECS[provider].all_credentials:
        value = getattr(settings, f"{prefix}_{name.upper()}", None)
        if value is not None and hasattr(value, "get_secret_value"):
            value = value.get_secret_value()
        value = value or _env(f"DIALER_{prefix}_{name.upper()}")
        if value:
            out[name] = str(value)
    return out


async def resolve(
    session: AsyncSession, account_id: str | None, provider: str, settings: Settings
) -> ResolvedConfig:
    """Clear-text credentials and options for the account (or the deployment default).

    Raises ProviderNotConfigured (a permanent provider error) when nothing usable exists.
    """
    spec = _spec(provider)
    row = (
        await ProviderConfigRepository.from_session(session).get(account_id, provider)
        if account_id
        else None
    )
    tenant = False
    if row is None:
        creds = default_credentials(provider, settings)
        options: dict[str, Any] = {}
    else:
        options = dict(row.options or {})
        env_refs: dict[str, str] = dict(options.pop("credential_env", {}) or {})
        creds = decrypt(settings, row.credentials_encrypted)
        tenant = bool(creds)
        for name, var in env_refs.items():
            value = _env(var)
            if value is None:
                raise ProviderNotConfigured(
                    f"{provider}: environment variable {var} (for {name}) is not set"
                )
            creds[name] = value
    missing = [c for c in spec.credentials if c not in creds]
    if missing:
        raise ProviderNotConfigured(
            f"{provider} is not configured for account {account_id or '(default)'}"
        )
    return ResolvedConfig(provider=provider, account_id=account_id, credentials=creds,
                          options=options, tenant_supplied=tenant)  # fmt: skip


async def attempt_binding(
    session: AsyncSession, provider: str, attempt_id: str | None, provider_call_id: str | None
) -> AttemptBinding | None:
    """The attempt a webhook names (by our attempt id, else by the provider's call id):
    whose account's credentials verify it, and what it may change. Raises ValueError
    for ids that are not strings (a list in a webhook body: the caller's 422)."""
    for value in (attempt_id, provider_call_id):
        if value is not None and (not isinstance(value, str) or len(value) > 255):
            raise ValueError("the attempt and call ids must be strings of at most 255 characters")
    return await ProviderConfigRepository.from_session(session).attempt_binding(
        provider, attempt_id, provider_call_id
    )


async def calls_of_other_attempts(
    session: AsyncSession, provider: str, provider_call_ids: list[str], attempt_id: str
) -> set[str]:
    """Which of the provider's calls are already bound to another attempt of ours."""
    if not provider_call_ids:
        return set()
    return await ProviderConfigRepository.from_session(session).calls_of_other_attempts(
        provider, provider_call_ids, attempt_id
    )


async def agent_version_pin(session: AsyncSession, batch_id: str) -> tuple[str, str] | None:
    """The (agent id, version) a batch is pinned to, None while it has none."""
    options = await ProviderConfigRepository.from_session(session).batch_options(batch_id)
    if not options.get("agent_version") or not options.get("agent_id"):
        return None
    return str(options["agent_id"]), str(options["agent_version"])


def started_probe(
    providers: list[str],
    *,
    default: str,
    started_from: datetime | ColumnElement[datetime],
    now: datetime | ColumnElement[datetime],
) -> ColumnElement[bool]:
    """True when ``unpinned_started_batches`` may return a row (an expression, read with
    the worker's other side-task probes)."""
    return ProviderConfigRepository.started_exists(
        providers, default=default, started_from=started_from, now=now
    )


async def unpinned_started_batches(
    session: AsyncSession, providers: list[str], *, default: str, started_from: datetime,
    now: datetime, limit: int = 200,
) -> list[tuple[str, str, str | None, str | None]]:  # fmt: skip
    """(batch id, account id, provider, agent id) of the batches of these providers whose
    start fired since ``started_from`` and that have no agent version pinned yet."""
    rows = await ProviderConfigRepository.from_session(session).started_batches(
        providers, default=default, started_from=started_from, now=now, limit=limit
    )
    return [
        (
            batch_id,
            account_id,
            provider,
            str(options["agent_id"]) if options.get("agent_id") else None,
        )
        for batch_id, account_id, provider, options in rows
        if not options.get("agent_version")
    ]


async def pin_agent_version(
    session: AsyncSession, batch_id: str, agent_id: str, agent_version: str
) -> tuple[str, str]:
    """Pin a batch to ``agent_id`` at ``agent_version`` unless it already is pinned;
    the (agent id, version) every call of the batch must use."""
    stored = await ProviderConfigRepository.from_session(session).pin_batch_options(
        batch_id, {"agent_id": agent_id, "agent_version": agent_version}
    )
    return str(stored.get("agent_id") or agent_id), str(stored["agent_version"])
