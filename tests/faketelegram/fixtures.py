"""Pytest fixtures for the fake Telegram Bot API server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.cli_support import Isolation
from tests.faketelegram.server import FakeTelegram

# Small upload limits, so that "too big" files stay small in tests.
PHOTO_LIMIT = 4_000
UPLOAD_LIMIT = 20_000


@pytest.fixture
def fake_telegram() -> Iterator[FakeTelegram]:
    """A started :class:`FakeTelegram` with small limits, stopped after the test."""
    with FakeTelegram(photo_limit=PHOTO_LIMIT, upload_limit=UPLOAD_LIMIT) as telegram:
        yield telegram


@pytest.fixture
def telegram_configured(
    isolation: Isolation, fake_telegram: FakeTelegram, monkeypatch: pytest.MonkeyPatch
) -> FakeTelegram:
    """Telegram settings pointing at the fake, in an isolated environment."""
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", fake_telegram.token)
    monkeypatch.setenv("TELEGRAM_CHAT_ID", fake_telegram.chat_id)
    monkeypatch.setenv("COMFYCINE_TELEGRAM_API_URL", fake_telegram.url)
    return fake_telegram
