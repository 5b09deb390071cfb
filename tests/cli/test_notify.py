"""``comfycine notify``: happy path, nothing configured, every channel failing, --json."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_support import Isolation, invoke
from tests.faketelegram.server import FakeTelegram
from tests.notify.conftest import SENTINEL_TOKEN, closed_port_url, write_file


@pytest.fixture
def telegram(telegram_configured: FakeTelegram) -> FakeTelegram:
    """An isolated CLI whose Telegram channel is the fake."""
    return telegram_configured


def test_notify_sends_the_text(telegram: FakeTelegram) -> None:
    """The text reaches Telegram; stdout names the channel and what was sent."""
    result = invoke("notify", "render finished")
    assert result.exit_code == 0, result
    assert telegram.requests[0].fields["text"] == "render finished"
    assert result.stdout.split() == ["telegram", "sent", "sendMessage"]


def test_notify_json_envelope_with_attachment(telegram: FakeTelegram, tmp_path: Path) -> None:
    """--json prints one envelope with the channels and their outcomes; the file goes along."""
    still = write_file(tmp_path / "still.png", 500)
    result = invoke("notify", "look", "--attach", str(still), "--json")
    assert result.exit_code == 0, result
    envelope = result.envelope()
    assert (envelope["ok"], envelope["command"], envelope["error"]) == (True, "notify", None)
    assert envelope["data"]["channels"] == ["telegram"]
    assert envelope["data"]["delivered"] == ["telegram"]
    assert envelope["data"]["outcomes"][0]["detail"].startswith("sendPhoto still.png")
    assert telegram.methods() == ["sendPhoto"]


def test_notify_without_channels_is_a_usage_error(isolation: Isolation) -> None:
    """Nothing configured: exit 2, notify_not_configured, a hint naming the variables."""
    result = invoke("notify", "hi", "--json")
    assert result.exit_code == 2, result
    error = result.envelope()["error"]
    assert error["code"] == "notify_not_configured"
    assert "TELEGRAM_BOT_TOKEN" in error["hint"] and "COMFYCINE_NOTIFY_COMMAND" in error["hint"]


def test_notify_missing_attachment(telegram: FakeTelegram) -> None:
    """An attachment that does not exist: exit 2, nothing sent."""
    result = invoke("notify", "hi", "--attach", "nope.mp4", "--json")
    assert result.exit_code == 2, result
    assert result.envelope()["error"]["code"] == "media_not_found"
    assert telegram.requests == []


def test_notify_all_failing_is_exit_5_without_the_token(
    isolation: Isolation, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every channel failing: exit 5, notify_failed, outcomes in details, no token anywhere."""
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", SENTINEL_TOKEN)
    monkeypatch.setenv("TELEGRAM_CHAT_ID", "42")
    monkeypatch.setenv("COMFYCINE_TELEGRAM_API_URL", closed_port_url())
    result = invoke("notify", "hi", "--json")
    assert result.exit_code == 5, result
    error = result.envelope()["error"]
    assert error["code"] == "notify_failed"
    assert error["details"]["outcomes"][0]["ok"] is False
    assert SENTINEL_TOKEN not in result.stdout + result.stderr
