"""Pytest fixture for the fake Telegram Bot API server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.faketelegram.server import FakeTelegram

# Small upload limits, so that "too big" files stay small in tests.
PHOTO_LIMIT = 4_000
UPLOAD_LIMIT = 20_000


@pytest.fixture
def fake_telegram() -> Iterator[FakeTelegram]:
    """A started :class:`FakeTelegram` with small limits, stopped after the test."""
    with FakeTelegram(photo_limit=PHOTO_LIMIT, upload_limit=UPLOAD_LIMIT) as telegram:
        yield telegram
