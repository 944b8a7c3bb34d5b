"""Settings from the environment, with defaults the brief names."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from kizuna.config import Settings, bundled_dir


def test_defaults(monkeypatch):
    for name in list(__import__("os").environ):
        if name.startswith("KIZUNA_"):
            monkeypatch.delenv(name)
    settings = Settings()
    assert settings.database_url == "sqlite:///kizuna.db"
    assert settings.timezone == "Asia/Tokyo"
    assert settings.allow_unreviewed is False
    assert settings.delivery_hour == 8
    assert settings.variant_fallbacks == {}
    assert settings.messages_dir == bundled_dir("messages")
    assert (settings.messages_dir / "README.md").is_file()


def test_environment_names(monkeypatch):
    env = {
        "KIZUNA_DATABASE_URL": "postgresql+psycopg://k@localhost/k",
        "KIZUNA_TIMEZONE": "America/Sao_Paulo",
        "KIZUNA_OUTBOX_DIR": "/tmp/out",
        "KIZUNA_ALLOW_UNREVIEWED": "true",
        "KIZUNA_SECRET_KEY": "s3cret",
        "KIZUNA_BASE_URL": "https://kizuna.example.org",
        "KIZUNA_VARIANT_FALLBACKS": "ja-easy=ja, en=ja-easy>ja",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.database_url.startswith("postgresql+psycopg")
    assert settings.timezone == "America/Sao_Paulo"
    assert settings.outbox_dir == Path("/tmp/out")
    assert settings.allow_unreviewed is True
    assert settings.secret_key.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(settings)  # secrets never printed
    assert settings.variant_fallbacks == {"ja-easy": ["ja"], "en": ["ja-easy", "ja"]}


@pytest.mark.parametrize(
    ("field", "value"),
    [("timezone", "Tokyo"), ("delivery_hour", 24), ("line_backend", "carrier-pigeon")],
)
def test_bad_values_refused(field, value):
    with pytest.raises(ValidationError):
        Settings(**{field: value})
