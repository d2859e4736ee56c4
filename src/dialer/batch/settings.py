"""``call_settings``: the per-batch dialing rules, validated with errors that name the field.

Windows are same-day (``start`` < ``end``); an overnight window is written as two
per-weekday windows. ``end`` may be ``"24:00"``. Compliance profiles are checked here
so that a conflicting batch is rejected at creation/update with the rule cited.
"""

from __future__ import annotations

from datetime import time
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

from dialer.batch.settings_input import normalise
from dialer.compliance.profiles import (
    DAY_NAMES,
    ComplianceViolation,
    effective_timezone,
    profile_for,
)

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WEEKDAY_ALIASES = {
    "monday": "mon", "tuesday": "tue", "wednesday": "wed", "thursday": "thu",
    "friday": "fri", "saturday": "sat", "sunday": "sun",
    "lunes": "mon", "martes": "tue", "miercoles": "wed", "miércoles": "wed", "jueves": "thu",
    "viernes": "fri", "sabado": "sat", "sábado": "sat", "domingo": "sun",
}  # fmt: skip

RetryOutcome = Literal["no_answer", "busy", "voicemail", "failed"]


def parse_hhmm(value: str) -> time:
    """'09:00' -> time(9, 0); '24:00' -> time.max. Raises ValueError with a clear message."""
    if not isinstance(value, str) or len(value.split(":")) != 2:
        raise ValueError(f"'{value}' is not a time in HH:MM format")
    hh, mm = value.split(":")
    if not (hh.isdigit() and mm.isdigit() and len(mm) == 2 and 1 <= len(hh) <= 2):
        raise ValueError(f"'{value}' is not a time in HH:MM format")
    h, m = int(hh), int(mm)
    if h == 24 and m == 0:
        return time.max
    if not (0 <= h <= 23 and 0 <= m <= 59):
        raise ValueError(f"'{value}' is not a valid time of day (00:00-24:00)")
    return time(h, m)


def _norm_weekday(v: object) -> object:
    if isinstance(v, str):
        k = v.strip().lower()
        return _WEEKDAY_ALIASES.get(k, k[:3] if k[:3] in WEEKDAYS else k)
    return v


class HoursWindow(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: str = "09:00"
    end: str = "20:00"

    @field_validator("start", "end")
    @classmethod
    def _valid_time(cls, v: str) -> str:
        parse_hhmm(v)
        return v

    @model_validator(mode="after")
    def _ordered(self) -> HoursWindow:
        if parse_hhmm(self.start) >= parse_hhmm(self.end):
            raise ValueError(
                f"start {self.start} must be before end {self.end} "
                "(overnight windows: use per-weekday hours)"
            )
        return self

    @property
    def start_time(self) -> time:
        return parse_hhmm(self.start)

    @property
    def end_time(self) -> time:
        return parse_hhmm(self.end)


class RetryRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    retry: bool = True
    # None: use retry_settings.retry_delay_hours
    delay_hours: Annotated[float, Field(ge=0, le=720)] | None = None
    # Try the contact's next phone right away before waiting the delay.
    next_phone_first: bool = True


def _default_rules() -> dict[RetryOutcome, RetryRule]:
    return {
        "no_answer": RetryRule(),
        "busy": RetryRule(delay_hours=0.5),
        "voicemail": RetryRule(),
        "failed": RetryRule(),
    }


class RetrySettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_attempts: Annotated[int, Field(ge=1, le=50)] = 3
    retry_delay_hours: Annotated[float, Field(ge=0, le=720)] = 2.0
    per_outcome: dict[RetryOutcome, RetryRule] = Field(default_factory=_default_rules)

    def rule_for(self, outcome: str) -> RetryRule:
        key = "failed" if outcome in ("failed", "invalid_number") else outcome
        return self.per_outcome.get(key, RetryRule())  # type: ignore[call-overload,no-any-return]


CompliancePofile = Literal["none", "cl_cobranza", "ar_cobranza"]


class BrokenPromiseSettings(BaseModel):
    """What a promise to pay does to the job (``collections.broken_promise``)."""

    model_config = ConfigDict(extra="forbid")

    # Days after the promised date a payment still counts; the promise is judged broken
    # at the start of the following day (debtor's timezone).
    grace_days: Annotated[int, Field(ge=0, le=60)] = 1
    # Keep the job waiting after a promise and dial the debtor again when it is broken
    # (a payment in full cancels that follow-up). Off: the promise ends the job.
    follow_up: bool = True


class VoicemailSettings(BaseModel):
    """What to do when a call reaches a voicemail (``collections.voicemail``)."""

    model_config = ConfigDict(extra="forbid")

    # hang_up: end the call; leave_message: the provider leaves ``message`` where it
    # supports it (see docs/collections.md); None: as the provider's agent is configured.
    action: Literal["hang_up", "leave_message"] | None = None
    message: Annotated[str, Field(min_length=1, max_length=1000)] | None = None
    # Retry in another band of the day (morning / midday / afternoon / evening) than the
    # attempt that reached the voicemail.
    retry_other_band: bool = False

    @model_validator(mode="after")
    def _message_needed(self) -> VoicemailSettings:
        if self.action == "leave_message" and not self.message:
            raise ValueError("collections.voicemail.message is required to leave a message")
        return self


class CollectionSettings(BaseModel):
    """The collections loop per batch (``call_settings.collections``)."""

    model_config = ConfigDict(extra="forbid")

    # A requested callback schedules the job at that time (moved to the next opening
    # when outside the window), without the retry delay; at most max_callbacks per job.
    callbacks: bool = True
    max_callbacks: Annotated[int, Field(ge=1, le=10)] = 2
    broken_promise: BrokenPromiseSettings = Field(default_factory=BrokenPromiseSettings)
    voicemail: VoicemailSettings = Field(default_factory=VoicemailSettings)


def _hours_kind(v: object) -> str:
    if isinstance(v, HoursWindow):
        return "single"
    if isinstance(v, dict) and ({"start", "end"} & set(v) or not v):
        return "single"
    return "per_weekday"


class CallSettings(BaseModel):
    """Validated call settings of a batch."""

    model_config = ConfigDict(extra="forbid")

    # Either one window for every allowed weekday, or a window (or null = closed) per weekday.
    allowed_call_hours: Annotated[
        Annotated[HoursWindow, Tag("single")]
        | Annotated[dict[Weekday, HoursWindow | None], Tag("per_weekday")],
        Discriminator(_hours_kind),
    ] = Field(default_factory=HoursWindow)
    timezone: str | None = None
    allowed_weekdays: list[Weekday] = Field(default_factory=lambda: list(WEEKDAYS[:6]))
    skip_holidays: bool = False
    holiday_country: Literal["CL", "AR"] | None = None
    retry_settings: RetrySettings = Field(default_factory=RetrySettings)
    max_concurrent_calls: Annotated[int, Field(ge=1, le=1000)] = 5
    max_calls_per_contact_per_day: Annotated[int, Field(ge=1)] | None = None
    max_calls_per_contact_per_week: Annotated[int, Field(ge=1)] | None = None
    max_call_duration_s: Annotated[int, Field(ge=30, le=7200)] = 600
    # How long the phone may ring before the attempt counts as unanswered (provider default
    # when unset).
    ring_timeout_s: Annotated[int, Field(ge=5, le=600)] | None = None
    compliance_profile: CompliancePofile = "none"
    collections: CollectionSettings = Field(default_factory=CollectionSettings)

    @model_validator(mode="before")
    @classmethod
    def _accepted_formats(cls, data: object) -> object:
        # The replaced system's worker format becomes the documented one (settings_input).
        return normalise(data)

    @field_validator("allowed_call_hours", mode="before")
    @classmethod
    def _norm_hours_keys(cls, v: object) -> object:
        if isinstance(v, dict) and not ({"start", "end"} & set(v)):
            return {_norm_weekday(k): w for k, w in v.items()}
        return v

    @field_validator("allowed_weekdays", mode="before")
    @classmethod
    def _norm_weekdays(cls, v: object) -> object:
        if isinstance(v, list):
            return [_norm_weekday(x) for x in v]
        return v

    @field_validator("allowed_weekdays")
    @classmethod
    def _non_empty(cls, v: list[Weekday]) -> list[Weekday]:
        if not v:
            raise ValueError("at least one weekday must be allowed")
        return sorted(set(v), key=WEEKDAYS.index)

    @field_validator("timezone")
    @classmethod
    def _valid_tz(cls, v: str | None) -> str | None:
        if v is None:
            return v
        try:
            ZoneInfo(v)
        # OSError: a very long name fails as a file path before the lookup does.
        except (ZoneInfoNotFoundError, ValueError, OSError):
            raise ValueError(
                f"unknown timezone '{v}' (use an IANA name such as America/Santiago)"
            ) from None
        return v

    @model_validator(mode="after")
    def _profile(self) -> CallSettings:
        check_settings(self)
        return self

    def hours_for(self, weekday: int) -> HoursWindow | None:
        """The window of a weekday (0 = Monday), or None when closed that day."""
        name = WEEKDAYS[weekday]
        if name not in self.allowed_weekdays:
            return None
        if isinstance(self.allowed_call_hours, HoursWindow):
            return self.allowed_call_hours
        return self.allowed_call_hours.get(name)


def resolve_settings(raw: dict[str, object] | None, *, account_timezone: str) -> CallSettings:
    """Parse stored/raw settings and fill defaults that come from the account."""
    settings = CallSettings.model_validate(raw or {})
    if settings.timezone is None:
        settings = settings.model_copy(update={"timezone": account_timezone})
    return settings


def check_settings(settings: CallSettings) -> None:
    """Raise ComplianceViolation (a 422 naming the rule) when settings conflict with
    the batch's profile. Settings stricter than the profile are fine."""
    profile = profile_for(settings.compliance_profile)
    if profile is None:
        return
    for day in settings.allowed_weekdays:
        if WEEKDAYS.index(day) not in profile.weekdays:
            raise ComplianceViolation(
                profile,
                "weekdays",
                f"'{day}' is allowed but {profile.name} permits calls only "
                f"{DAY_NAMES[min(profile.weekdays)]}-{DAY_NAMES[max(profile.weekdays)]}",
                field="allowed_weekdays",
            )
    # A per-weekday window for a forbidden day shows intent to call then, even if that
    # day is missing from allowed_weekdays.
    if not isinstance(settings.allowed_call_hours, HoursWindow):
        for day, window in settings.allowed_call_hours.items():
            if window is not None and WEEKDAYS.index(day) not in profile.weekdays:
                raise ComplianceViolation(
                    profile,
                    "weekdays",
                    f"hours are given for '{day}' but {profile.name} forbids calls that day",
                    field=f"allowed_call_hours.{day}",
                )
    for idx, day in enumerate(WEEKDAYS):
        window = settings.hours_for(idx)
        limits = profile.limits(idx)
        if window is None or limits is None:
            continue
        # One window for every day is narrowed on the profile's shorter days (Saturday
        # under ar_cobranza); hours given for that very day must fit them.
        if isinstance(settings.allowed_call_hours, HoursWindow):
            limits = (profile.earliest, profile.latest)
        earliest, latest = limits
        if window.start_time < earliest or window.end_time > latest:
            field = (
                "allowed_call_hours"
                if isinstance(settings.allowed_call_hours, HoursWindow)
                else f"allowed_call_hours.{day}"
            )
            raise ComplianceViolation(
                profile,
                "hours",
                f"{window.start}-{window.end} on '{day}' is outside the "
                f"{earliest:%H:%M}-{latest:%H:%M} allowed",
                field=field,
            )
    if settings.timezone is not None and effective_timezone(profile, settings.timezone) != (
        settings.timezone
    ):
        raise ComplianceViolation(
            profile,
            "timezone",
            f"'{settings.timezone}' is not a zone where {profile.name} applies "
            f"(use {profile.timezone})",
            field="timezone",
        )
    if (
        profile.skip_holidays
        and settings.holiday_country is not None
        and settings.holiday_country != profile.holiday_country
    ):
        raise ComplianceViolation(
            profile,
            "holidays",
            f"holidays of '{settings.holiday_country}' cannot replace the "
            f"{profile.holiday_country} public holidays the profile skips",
            field="holiday_country",
        )
