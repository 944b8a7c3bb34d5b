"""Settings, read once from the environment (`KIZUNA_*`) by an entry point and passed down."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PACKAGE_DIR = Path(__file__).resolve().parent


def bundled_dir(name: str) -> Path:
    """`messages/` or `locales/`: inside an installed wheel, else beside the package (checkout)."""
    inside = PACKAGE_DIR / "_bundled" / name
    return inside if inside.is_dir() else PACKAGE_DIR.parent / name


class Backend(StrEnum):
    """What carries a channel's deliveries at run time."""

    OUTBOX = "outbox"  # files in KIZUNA_OUTBOX_DIR, for demos, staging and audits
    API = "api"  # LINE's Messaging API
    SMTP = "smtp"  # an SMTP relay


class ConfigurationError(ValueError):
    """The settings cannot run what was asked; the text says which variable to set."""


class Settings(BaseSettings):
    """Every setting Kizuna reads. Build it once (`Settings()`), then hand parts down."""

    model_config = SettingsConfigDict(env_prefix="KIZUNA_", extra="ignore")

    database_url: str = "sqlite:///kizuna.db"
    timezone: str = "Asia/Tokyo"
    delivery_hour: int = Field(default=8, ge=0, le=23)
    outbox_dir: Path = Path("outbox")
    allow_unreviewed: bool = False
    secret_key: SecretStr | None = None
    base_url: str = "http://localhost:8000"
    messages_dir: Path = Field(default_factory=lambda: bundled_dir("messages"))
    # A variant falls back only where configured: "ja-easy=ja" lets ja-easy readers get the
    # ja text of a message that has no ja-easy version (the fallback is recorded).
    variant_fallbacks: Annotated[dict[str, list[str]], NoDecode] = Field(default_factory=dict)
    # None: the real backend when its credentials are configured. The outbox is used only
    # when chosen here, never as a silent fallback for missing credentials.
    line_backend: Backend | None = None
    email_backend: Backend | None = None
    mail_from: str = "Kizuna <noreply@kizuna.invalid>"
    dispatch_batch_size: int = Field(default=500, ge=1)
    dispatch_concurrency: int = Field(default=16, ge=1)
    claim_seconds: int = Field(default=300, ge=1)
    max_attempts: int = Field(default=8, ge=1)
    # The service (`kizuna serve`, `kizuna worker`).
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8000, ge=1, le=65535)
    dispatch_interval_seconds: int = Field(default=60, ge=1)
    stale_after_days: int = Field(default=2, ge=0)  # later than this: skipped, never a flood
    max_consecutive_failures: int = Field(default=5, ge=1)  # then the subscriber is paused
    email_max_bounces: int = Field(default=3, ge=1)  # hard bounces in a row: then gone
    locales_dir: Path = Field(default_factory=lambda: bundled_dir("locales"))
    # `kizuna messages lint-easy` warns below this jReadability score (higher is easier;
    # 3.5 is the bottom of "lower intermediate").
    easy_readability_min: float = Field(default=3.5, ge=0, le=7)
    # LINE's Messaging API: chosen by KIZUNA_LINE_BACKEND=api, or by setting the access token.
    line_channel_access_token: SecretStr | None = None
    line_channel_secret: SecretStr | None = None  # verifies webhook signatures
    line_api_url: str = "https://api.line.me"
    line_timeout_seconds: float = Field(default=10.0, gt=0)
    line_rate_per_second: float = Field(default=1000.0, gt=0, le=2000)  # LINE allows 2,000
    # One request for many subscribers getting the identical text (LINE counts each recipient).
    line_multicast: bool = False
    line_bot_id: str | None = None  # the bot's basic id (@…), for municipalities' LINE links
    invitation_days: int = Field(default=90, ge=1)  # a LINE invitation code from a resident list
    family_invitation_days: int = Field(default=14, ge=1)  # a caregiver's invitation to a child
    # Email over SMTP: chosen by KIZUNA_EMAIL_BACKEND=smtp, or by setting KIZUNA_SMTP_HOST.
    smtp_host: str | None = None
    smtp_port: int | None = Field(default=None, ge=1, le=65535)  # None: 25, 587 or 465 by TLS
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_tls: str = Field(default="starttls", pattern="^(none|starttls|tls)$")
    smtp_pool_size: int = Field(default=4, ge=1, le=64)  # connections kept open and reused
    smtp_timeout_seconds: float = Field(default=30.0, gt=0)  # for one whole message
    # Who sends the mail: Japan's 特定電子メール法 asks for these in every message.
    sender_name: str = "Kizuna"
    sender_postal_address: str = ""
    sender_contact: str = ""  # where enquiries go: an email address, a phone number or a URL
    unsubscribe_mailto: str | None = None  # the List-Unsubscribe mailbox; None: KIZUNA_MAIL_FROM
    # Privacy: how long data is kept (the privacy notice names these periods).
    retention_days: int = Field(default=90, ge=1)  # after a subscriber stops or is gone
    delivery_retention_days: int = Field(default=400, ge=30)  # then only daily counts remain
    pending_days: int = Field(default=7, ge=1)  # an unconfirmed sign-up, a half-done LINE chat
    # The staff console: wrong passwords in a row before a staff account is locked for a while.
    staff_max_failed_logins: int = Field(default=5, ge=1)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown time zone {value!r}") from error
        return value

    @field_validator("variant_fallbacks", mode="before")
    @classmethod
    def _parse_fallbacks(cls, value: object) -> object:
        """Accept `ja-easy=ja,en=ja` in the environment as well as JSON."""
        if isinstance(value, str) and value.lstrip().startswith("{"):
            return json.loads(value)
        if isinstance(value, str):
            chains: dict[str, list[str]] = {}
            for item in filter(None, (part.strip() for part in value.split(","))):
                variant, _, fallback = item.partition("=")
                chains.setdefault(variant.strip(), []).extend(
                    v.strip() for v in fallback.split(">") if v.strip()
                )
            return chains
        return value
