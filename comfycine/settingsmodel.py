"""The pydantic model of the settings: the judge of values that are not plainly valid.

:func:`comfycine.settings.resolve` builds :class:`~comfycine.settings.Settings` itself
when every value is plainly valid (the usual case), so that a command does not pay
for importing pydantic (~0.1 s per process). Anything else comes here: pydantic
converts what it accepts and words the errors (``field: message``) that ``resolve``
turns into one usage error. ``model_dump`` and ``model_dump_json`` come here too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic import SecretStr as PydanticSecret

from .settings import (
    DEFAULT_CLOUD_CREDITS_PER_USD,
    DEFAULT_CLOUD_RATE,
    DEFAULT_CLOUD_URL,
    DEFAULT_COMFYUI_URL,
    DEFAULT_OUTAGE_WINDOW,
    DEFAULT_STALL_AFTER,
    DEFAULT_TELEGRAM_API_URL,
    SecretStr,
    Settings,
    check_targets,
    expand_dir,
)
from .urls import check_url


class SettingsModel(BaseModel):
    """:class:`~comfycine.settings.Settings` as a pydantic model: the same fields."""

    model_config = ConfigDict(frozen=True)

    comfyui_url: str = DEFAULT_COMFYUI_URL
    cloud_url: str = DEFAULT_CLOUD_URL
    cloud_api_key: PydanticSecret | None = None
    workflow_dir: Path | None = None
    output_dir: Path
    exchange_dir: Path
    data_dir: Path
    cache_dir: Path
    notify_command: str | None = None
    telegram_bot_token: PydanticSecret | None = None
    telegram_chat_id: str | None = None
    telegram_api_url: str = DEFAULT_TELEGRAM_API_URL
    debug: bool = False
    targets: str | None = None
    tailscale_cli: str | None = None
    outage_window: float = Field(default=DEFAULT_OUTAGE_WINDOW, gt=0)
    transport: Literal["auto", "ws", "poll"] = "auto"
    stall_after: float = Field(default=DEFAULT_STALL_AFTER, gt=0)
    cloud_api: Literal["auto", "v2", "v1"] = "auto"
    sidecars: bool = True
    cloud_rate: float = Field(default=DEFAULT_CLOUD_RATE, gt=0)
    cloud_credits_per_usd: float = Field(default=DEFAULT_CLOUD_CREDITS_PER_USD, gt=0)
    sources: dict[str, str] = {}
    target_credentials: dict[str, PydanticSecret] = {}

    @field_validator("comfyui_url", "cloud_url", "telegram_api_url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        return check_url(value)

    @field_validator("workflow_dir", "output_dir", "exchange_dir", "data_dir", "cache_dir")
    @classmethod
    def _expand(cls, value: Path | None) -> Path | None:
        return expand_dir(value)

    @field_validator("targets")
    @classmethod
    def _check_targets(cls, value: str | None) -> str | None:
        return check_targets(value)


def _to_pydantic(value: Any) -> Any:
    if isinstance(value, SecretStr):
        return PydanticSecret(value.get_secret_value())
    if isinstance(value, dict):
        return {k: _to_pydantic(v) for k, v in value.items()}
    return value


def _from_pydantic(value: Any) -> Any:
    if isinstance(value, PydanticSecret):
        return SecretStr(value.get_secret_value())
    if isinstance(value, dict):
        return {k: _from_pydantic(v) for k, v in value.items()}
    return value


def validated(values: Mapping[str, Any], **rest: Any) -> Settings:
    """The settings pydantic makes of ``values``; raises its ``ValidationError``."""
    given = {k: _to_pydantic(v) for k, v in {**values, **rest}.items()}
    model = SettingsModel(**given)
    return Settings(**{f.name: _from_pydantic(getattr(model, f.name)) for f in fields(Settings)})


def as_model(settings: Settings) -> SettingsModel:
    """The same values in the pydantic model (already checked: not validated again)."""
    return SettingsModel.model_construct(
        **{f.name: _to_pydantic(getattr(settings, f.name)) for f in fields(Settings)}
    )
