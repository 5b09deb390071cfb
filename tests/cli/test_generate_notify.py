"""generate and wait tell the phone (fake Telegram): done with the result, failed with the fix."""

from __future__ import annotations

import pytest

from tests.cli_support import invoke
from tests.fakecomfy.server import FakeComfy
from tests.faketelegram.server import FakeTelegram

TEMPLATE = "testimage"


def test_a_finished_render_is_sent_with_its_image(phone: FakeTelegram) -> None:
    """A successful generate sends the image itself (sendPhoto) to the chat."""
    assert invoke("generate", TEMPLATE).exit_code == 0
    assert phone.methods() == ["sendPhoto"]


def test_a_failed_render_sends_the_top_fix(phone: FakeTelegram, fake_comfy: FakeComfy) -> None:
    """An OOM sends one message carrying the computed smaller render."""
    fake_comfy.oom_next()
    assert invoke("generate", TEMPLATE).exit_code == 5
    assert phone.methods() == ["sendMessage"]
    assert "--set width=" in str(phone.requests[0].fields)


def test_no_notify_sends_nothing(phone: FakeTelegram) -> None:
    """--no-notify: nothing reaches Telegram."""
    assert invoke("generate", TEMPLATE, "--no-notify").exit_code == 0
    assert phone.methods() == []


def test_detached_then_waited_notifies_once(phone: FakeTelegram) -> None:
    """--detach sends nothing; the wait that sees the end sends the result."""
    job = invoke("generate", TEMPLATE, "--detach", "--json").envelope()["data"]["job"]
    assert phone.methods() == []
    assert invoke("wait", job).exit_code == 0
    assert phone.methods() == ["sendPhoto"]


def test_a_dead_telegram_never_fails_the_render(
    phone: FakeTelegram, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Telegram answering 500: the render still exits 0 with its output."""
    phone.refuse_next(500, "Internal Server Error", times=10)
    result = invoke("generate", TEMPLATE, "--json")
    assert result.exit_code == 0, result
    assert result.envelope()["data"]["outputs"]
