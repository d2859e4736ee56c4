"""Settings, read once from the environment (prefix ``DIALER_``) and an optional env file."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from annotated_types import Ge, Le
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

Environment = Literal["development", "test", "production"]
# Public (it is in this file): refused in production, like any secret under 32 characters.
DEV_SECRET_KEY = "dev-secret-change-me"
MIN_SECRET_CHARS = 32


def _env_file() -> str:
    # DIALER_ENV picks the env file (".env.production", ...); ".env" otherwise.
    env = os.environ.get("DIALER_ENV", "development")
    candidate = Path(f".env.{env}")
    return str(candidate) if candidate.exists() else ".env"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="DIALER_",
        env_file=_env_file(),
        extra="ignore",
        frozen=True,
        # A validation error must not echo the values (the admin key, the secret).
        hide_input_in_errors=True,
    )

    ENV: Environment = "development"
    DATABASE_URL: str = "sqlite+aiosqlite:///./dialer.db"
    # Where the generated admin key and other local state live in development.
    DATA_DIR: Path = Path(".dialer")
    ADMIN_API_KEY: SecretStr | None = None
    SECRET_KEY: SecretStr = SecretStr(DEV_SECRET_KEY)
    PUBLIC_BASE_URL: str = "http://127.0.0.1:8000"
    LOG_LEVEL: str = "INFO"
    LOG_JSON: bool = True

    # Dispatcher
    WORKER_CONCURRENCY: Annotated[int, Ge(1)] = 20
    POLL_INTERVAL: timedelta = timedelta(seconds=1)
    LEASE: timedelta = timedelta(seconds=60)
    # A call the provider accepted but never reported on is reconciled after this.
    CALL_TIMEOUT: timedelta = timedelta(minutes=20)
    # Transcripts, summaries and recording links of calls older than this are deleted
    # (Ley 21.719: keep personal data no longer than needed); the contact log is kept.
    TRANSCRIPT_RETENTION_DAYS: Annotated[int, Ge(1)] = 180
    # Progress events, webhook receipts and delivered simulated calls older than this are
    # deleted by the workers (they serve the running system, not the record).
    MAINTENANCE_RETENTION_DAYS: Annotated[int, Ge(1)] = 30
    RESERVE_SECONDS: Annotated[int, Ge(1)] = 300
    CLAIM_BATCH_SIZE: Annotated[int, Ge(1)] = 50
    # CPU priority of `dialer worker` processes (os.nice increment, 0-19). Dispatching
    # tolerates a few ms of delay; API reads on the same machine should not wait for it.
    WORKER_NICE: Annotated[int, Ge(0), Le(19)] = 10

    # Telephony
    PROVIDER: str = "simulated"
    # The simulated carrier (and its webhook endpoint): on outside production; in
    # production only when set to true (a demo deployment).
    SIMULATED_ENABLED: bool | None = None
    SIM_SEED: int = 7
    SIM_SPEEDUP: Annotated[float, Ge(0)] = 1.0
    SIM_LATENCY_S: Annotated[float, Ge(0)] = 0.0
    SIM_OUTCOMES: dict[str, float] = Field(default_factory=dict)
    # Scripted calls per number (tests, demos): {"+569...": [{"outcome": "completed",
    # "business_result": "promise_to_pay", "extracted": {...}}, ...]}; see simulated.py.
    SIM_SCRIPT: dict[str, list[dict[str, Any]]] = Field(default_factory=dict)
    # When set, the simulator POSTs signed webhooks here instead of calling the handler in-process.
    SIM_WEBHOOK_URL: str | None = None

    # Outbound webhooks (subscriptions under /api/v1/accounts/{id}/webhooks)
    # Allow URLs resolving to loopback, link-local or private ranges (off: SSRF guard).
    WEBHOOKS_ALLOW_PRIVATE: bool = False
    WEBHOOK_TIMEOUT: timedelta = timedelta(seconds=10)
    WEBHOOK_MAX_ATTEMPTS: Annotated[int, Ge(1)] = 12
    # Retry n waits WEBHOOK_RETRY_BASE * 2**(n-1), at most WEBHOOK_RETRY_MAX.
    WEBHOOK_RETRY_BASE: timedelta = timedelta(seconds=30)
    WEBHOOK_RETRY_MAX: timedelta = timedelta(hours=1)

    # API
    REDIS_URL: str | None = None
    STATUS_RATE_LIMIT: str = "120/minute"
    # Per API key: spreadsheet and do-not-call uploads, script previews, new SSE streams;
    # failed dashboard logins per client address.
    UPLOAD_RATE_LIMIT: str = "30/minute"
    PREVIEW_RATE_LIMIT: str = "120/minute"
    STREAM_RATE_LIMIT: str = "30/minute"
    LOGIN_FAILURE_RATE_LIMIT: str = "10/minute"
    # /docs, /redoc, /openapi.json and /metrics answer without a key: on outside
    # production, off in production unless set to true (then protect them at the proxy).
    EXPOSE_DOCS: bool | None = None
    EXPOSE_METRICS: bool | None = None
    # Browser origins allowed to call the API and /legacy: "https://a.example,https://b.example"
    # or a JSON list; empty means none (no CORS headers at all).
    CORS_ORIGINS: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Spreadsheet uploads larger than this are refused with 413 before parsing.
    MAX_UPLOAD_BYTES: Annotated[int, Ge(1)] = 50 * 1024 * 1024
    # Data rows per spreadsheet upload; larger files are refused with 413 before reading.
    MAX_UPLOAD_ROWS: Annotated[int, Ge(1)] = 200_000
    # Request bodies other than uploads (JSON, forms), and provider webhooks: refused with
    # 413 at the ASGI edge, before anything buffers them (multipart uploads get
    # MAX_UPLOAD_BYTES there).
    MAX_BODY_BYTES: Annotated[int, Ge(1024)] = 16 * 1024 * 1024
    MAX_WEBHOOK_BODY_BYTES: Annotated[int, Ge(1024)] = 2 * 1024 * 1024

    # Dashboard sessions (server-side): ended by logout, after this long without a
    # request, and at the latest this long after the log-in.
    SESSION_IDLE_TIMEOUT: timedelta = timedelta(minutes=30)
    SESSION_MAX_AGE: timedelta = timedelta(hours=12)

    @field_validator("DATABASE_URL")
    @classmethod
    def _normalise_driver(cls, v: str) -> str:
        # Accept the URLs people paste: postgres://, postgresql://, sqlite:///.
        if v.startswith("postgres://"):
            v = "postgresql+asyncpg://" + v[len("postgres://") :]
        elif v.startswith("postgresql://"):
            v = "postgresql+asyncpg://" + v[len("postgresql://") :]
        elif v.startswith("sqlite:///"):
            v = "sqlite+aiosqlite:///" + v[len("sqlite:///") :]
        return v

    @field_validator("CORS_ORIGINS", mode="before")
    @classmethod
    def _split_origins(cls, v: object) -> object:
        # NoDecode: the environment value arrives as the raw string, so a plain comma list
        # works (pydantic-settings would otherwise insist on JSON and fail at start-up).
        if isinstance(v, str):
            text = v.strip()
            if text.startswith("["):
                try:
                    v = json.loads(text)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"CORS_ORIGINS is not a JSON list: {exc.msg}") from None
            else:
                v = text.split(",")
        if isinstance(v, list):
            return [str(o).strip().rstrip("/") for o in v if str(o).strip()]
        return v

    @model_validator(mode="after")
    def _no_default_secrets_in_production(self) -> Settings:
        if self.ENV != "production":
            return self
        secret = self.SECRET_KEY.get_secret_value()
        if secret == DEV_SECRET_KEY:
            raise ValueError("DIALER_SECRET_KEY must be set in production")
        if len(secret) < MIN_SECRET_CHARS:
            raise ValueError(
                f"DIALER_SECRET_KEY must be at least {MIN_SECRET_CHARS} characters in production "
                '(e.g. python -c "import secrets; print(secrets.token_urlsafe(48))")'
            )
        if self.PROVIDER == "simulated" and not self.simulated_enabled:
            raise ValueError(
                "DIALER_PROVIDER is 'simulated' (the default) in production: set it to a real "
                "provider, or DIALER_SIMULATED_ENABLED=true for a demo deployment"
            )
        return self

    @property
    def docs_exposed(self) -> bool:
        return self.EXPOSE_DOCS if self.EXPOSE_DOCS is not None else self.ENV != "production"

    @property
    def metrics_exposed(self) -> bool:
        if self.EXPOSE_METRICS is not None:
            return self.EXPOSE_METRICS
        return self.ENV != "production"

    @property
    def simulated_enabled(self) -> bool:
        """Whether the simulated carrier may place calls and receive webhooks."""
        if self.SIMULATED_ENABLED is not None:
            return self.SIMULATED_ENABLED
        return self.ENV != "production"


@lru_cache
def get_settings() -> Settings:
    return Settings()
