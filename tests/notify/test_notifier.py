"""The Notifier: channels from settings, every channel at once, never an exception."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from comfycine.errors import MediaNotFound, NotifyFailed, UsageError
from comfycine.notify import Notice, Notifier, notify_enabled, send_notification
from comfycine.settings import Settings, resolve
from tests.cli_support import Isolation
from tests.faketelegram.server import FakeTelegram
from tests.notify.conftest import LIMITS, SENTINEL_TOKEN, Sleeps, closed_port_url
from tests.notify.test_command import arg_writer

CLOUD_KEY = "comfyui-cloud-key-that-must-never-leave-0123"


@pytest.fixture
def configured(telegram_configured: FakeTelegram) -> FakeTelegram:
    """Telegram settings pointing at the fake, in an isolated environment."""
    return telegram_configured


def notifier(settings: Settings, sleeps: Sleeps | None = None) -> Notifier:
    """The settings' notifier with the fake's small limits and no ffmpeg."""
    return Notifier.from_settings(settings, limits=LIMITS, ffmpeg=None, sleep=sleeps or Sleeps())


def test_channels_come_from_settings(isolation: Isolation, monkeypatch: pytest.MonkeyPatch) -> None:
    """Telegram needs both token and chat id; the command needs only itself."""
    assert Notifier.from_settings(resolve()).channels == []
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:abc")
    assert not Notifier.from_settings(resolve()).enabled
    monkeypatch.setenv("TELEGRAM_CHAT_ID", "42")
    monkeypatch.setenv("COMFYCINE_NOTIFY_COMMAND", "/bin/true")
    assert Notifier.from_settings(resolve()).channels == ["command", "telegram"]


def test_default_command_is_the_claude_notify_script(isolation: Isolation) -> None:
    """~/.claude/scripts/notify.sh, when it exists, is the command channel by default."""
    script = isolation.root / "home" / ".claude" / "scripts" / "notify.sh"
    script.parent.mkdir(parents=True)
    script.write_text("#!/bin/sh\n")
    assert Notifier.from_settings(resolve()).command == str(script)


def test_notify_flag_semantics(isolation: Isolation, monkeypatch: pytest.MonkeyPatch) -> None:
    """--notify forces on, --no-notify off, neither means "when a channel is configured"."""
    bare = resolve()
    assert (notify_enabled(True, bare), notify_enabled(False, bare)) == (True, False)
    assert notify_enabled(None, bare) is False
    monkeypatch.setenv("COMFYCINE_NOTIFY_COMMAND", "/bin/true")
    assert notify_enabled(None, resolve()) is True
    assert notify_enabled(False, resolve()) is False


async def test_every_channel_gets_the_notice(
    configured: FakeTelegram, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One send reaches the command (argv[1]) and Telegram, one outcome each."""
    script, out = arg_writer(tmp_path / "scripts")
    monkeypatch.setenv("COMFYCINE_NOTIFY_COMMAND", str(script))
    outcomes = await notifier(resolve()).send(Notice("✅ testimage 1234abcd done"))
    assert [(o["channel"], o["ok"]) for o in outcomes] == [("command", True), ("telegram", True)]
    assert out.read_text() == "✅ testimage 1234abcd done"
    assert configured.requests[0].fields["text"] == "✅ testimage 1234abcd done"


async def test_failures_are_returned_not_raised(
    isolation: Isolation, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failing command and a dead Telegram give two failed outcomes and no exception."""
    script, _ = arg_writer(tmp_path / "scripts", status=1)
    monkeypatch.setenv("COMFYCINE_NOTIFY_COMMAND", str(script))
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", SENTINEL_TOKEN)
    monkeypatch.setenv("TELEGRAM_CHAT_ID", "42")
    monkeypatch.setenv("COMFYCINE_TELEGRAM_API_URL", closed_port_url())
    outcomes = await notifier(resolve()).send(Notice("done", tmp_path / "missing.mp4"))
    assert [(o["channel"], o["ok"]) for o in outcomes] == [("command", False), ("telegram", False)]
    assert SENTINEL_TOKEN not in repr(outcomes)


async def test_a_crashing_channel_is_an_outcome(isolation: Isolation) -> None:
    """Even an unexpected exception inside a channel comes back as a failed outcome."""

    class Broken:
        async def send(self, text: str, attachment: Path | None = None) -> dict[str, object]:
            raise RuntimeError("boom")

    outcomes = await Notifier(telegram=Broken()).send(Notice("hi"))  # type: ignore[arg-type]
    assert outcomes == [{"channel": "telegram", "ok": False, "detail": "RuntimeError: boom"}]


async def test_secrets_never_leave_in_a_notice(
    configured: FakeTelegram, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A configured secret inside the text (an error message, say) is redacted before sending."""
    monkeypatch.setenv("COMFY_CLOUD_API_KEY", CLOUD_KEY)
    await notifier(resolve()).send(Notice(f"failed: bad key {CLOUD_KEY}\x1b[31m"))
    text = configured.requests[0].fields["text"]
    assert CLOUD_KEY not in text and "***" in text
    assert "\x1b" not in text


async def test_send_sync_works_inside_a_running_loop(configured: FakeTelegram) -> None:
    """send_sync from code already inside an event loop still sends (in a helper thread)."""
    outcomes = notifier(resolve()).send_sync(Notice("from a loop"))
    assert outcomes[0]["ok"], outcomes
    assert asyncio.get_running_loop().is_running()


def test_send_notification_needs_a_channel(
    isolation: Isolation, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No channel: a usage error naming the variables, and which half of Telegram is missing."""
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:abc")
    with pytest.raises(UsageError) as caught:
        send_notification(resolve(), Notice("hi"))
    assert caught.value.code == "notify_not_configured"
    assert "TELEGRAM_CHAT_ID is not" in caught.value.message
    assert "COMFYCINE_NOTIFY_COMMAND" in caught.value.hint


def test_send_notification_reports_total_failure(
    isolation: Isolation, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every channel failing raises NotifyFailed (exit 5) with the outcomes in details."""
    script, _ = arg_writer(tmp_path / "scripts", status=2)
    monkeypatch.setenv("COMFYCINE_NOTIFY_COMMAND", str(script))
    with pytest.raises(NotifyFailed) as caught:
        send_notification(resolve(), Notice("hi"))
    assert caught.value.exit_code == 5
    assert caught.value.details["outcomes"][0]["detail"].startswith("notify.sh exited with 2")


def test_send_notification_checks_the_attachment(
    isolation: Isolation, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An attachment that is not a file is refused before anything is sent."""
    monkeypatch.setenv("COMFYCINE_NOTIFY_COMMAND", sys.executable)
    with pytest.raises(MediaNotFound):
        send_notification(resolve(), Notice("hi", Path("nope.png")))
