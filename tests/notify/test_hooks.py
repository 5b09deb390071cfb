"""The batch hook's notice on the phone (fake Bot API): a sweep's grid goes with it."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from comfycine.notify import Notifier
from comfycine.notify.hooks import JobNotifications, batch_hook, channel_configured
from comfycine.settings import resolve
from tests.faketelegram.server import FakeTelegram


@pytest.fixture
def phone(telegram_configured: FakeTelegram) -> FakeTelegram:
    """Telegram settings pointing at the fake, in an isolated environment."""
    return telegram_configured


def summary_data(grid: Path | None) -> dict[str, object]:
    """What run_sweep hands the hook: BatchResult.to_dict() of four takes done."""
    data: dict[str, object] = {"template": "wan", "total": 4, "succeeded": 4, "failed": 0}
    if grid is not None:
        data["previews"] = {"grid": str(grid)}
    return data


async def test_sweep_notice_sends_the_grid(phone: FakeTelegram, tmp_path: Path) -> None:
    """generate --takes: the end-of-sweep notice says "sweep" and uploads its grid."""
    grid = tmp_path / "previews" / "sweep-ab12.grid.jpg"
    grid.parent.mkdir()
    Image.new("RGB", (64, 32), (90, 90, 90)).save(grid)
    hook = batch_hook(resolve(), True)
    assert hook is not None
    await hook("sweep ab12 (wan): 4 succeeded, 0 failed, 0 skipped", summary_data(grid))
    (request,) = phone.requests
    assert request.method == "sendPhoto"
    assert request.files["photo"].filename == "sweep-ab12.grid.jpg"
    assert request.fields["caption"] == "✅ sweep wan: 4/4 done"


async def test_batch_notice_without_a_grid_is_words(phone: FakeTelegram) -> None:
    """A batch (no grid in its data) sends one message, as before."""
    hook = batch_hook(resolve(), True)
    assert hook is not None
    await hook("batch ab12 (wan): 4 succeeded, 0 failed, 0 skipped", summary_data(None))
    assert phone.methods() == ["sendMessage"]
    assert phone.requests[0].fields["text"] == "✅ batch wan: 4/4 done"


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"COMFYCINE_NOTIFY_COMMAND": "notify-send"},
        {"COMFYCINE_NOTIFY_COMMAND": "   "},
        {"TELEGRAM_BOT_TOKEN": "123:abc", "TELEGRAM_CHAT_ID": "42"},
        {"TELEGRAM_BOT_TOKEN": "123:abc"},
        {"TELEGRAM_CHAT_ID": "42"},
    ],
)
def test_channel_configured_agrees_with_the_notifier(env: dict[str, str]) -> None:
    """The check that spares loading the senders finds the channels the Notifier has."""
    settings = resolve({}, env, read_dotenv_file=False)
    expected = Notifier.from_settings(settings).enabled
    assert channel_configured(settings) is expected
    assert (JobNotifications(settings, None).notifier is not None) is expected
