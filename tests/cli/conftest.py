"""Fixtures for CLI tests: the real CPU ComfyUI, and the fakes wired to a phone."""

from __future__ import annotations

import pytest

from tests.cli_support import Isolation
from tests.fakecomfy.server import FakeComfy
from tests.faketelegram.server import FakeTelegram
from tests.real_server import RealComfyUI


@pytest.fixture
def real(
    isolation: Isolation, real_comfyui: RealComfyUI, monkeypatch: pytest.MonkeyPatch
) -> RealComfyUI:
    """An isolated CLI pointed at the real server."""
    monkeypatch.setenv("COMFYUI_URL", real_comfyui.url)
    return real_comfyui


@pytest.fixture
def phone(
    telegram_configured: FakeTelegram, fake_comfy: FakeComfy, monkeypatch: pytest.MonkeyPatch
) -> FakeTelegram:
    """The CLI pointed at the fake ComfyUI, with Telegram configured on the fake Bot API."""
    monkeypatch.setenv("COMFYUI_URL", fake_comfy.url)
    return telegram_configured
