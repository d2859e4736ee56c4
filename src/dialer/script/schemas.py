"""Script API schemas."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ProcessingType = Literal["basic", "acquisition"]


class ScriptCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    account_id: str | None = None  # an account key may omit it (its own account)
    name: str = Field(min_length=1, max_length=200)
    processing_type: ProcessingType = "basic"
    description: str | None = None
    template: str = Field(min_length=1, max_length=50_000)
    first_message: str | None = Field(None, max_length=2_000)
    # Optional: when given, it must be exactly the variables the template uses.
    variables: list[str] | None = None
    variable_set: Literal["standard", "legacy"] | None = Field(
        None,
        description="Agent variables of batches using this script (unless they choose): "
        "'legacy' sends the replaced system's names and formats.",
    )


class ScriptVersionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str | None = None
    template: str = Field(min_length=1, max_length=50_000)
    first_message: str | None = Field(None, max_length=2_000)
    variables: list[str] | None = None


class ScriptRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    script_id: str = Field(validation_alias="id")
    account_id: str
    name: str
    version: int
    processing_type: str
    description: str | None
    template: str
    first_message: str | None
    variables: list[str]
    variable_set: str | None = None
    created_at: datetime


class ScriptPreview(BaseModel):
    model_config = ConfigDict(extra="forbid")

    variables: dict[str, str] = Field(default_factory=dict)


class ScriptRendered(BaseModel):
    script_id: str
    version: int
    prompt: str
    first_message: str | None
