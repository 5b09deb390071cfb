"""batch and watch tell the phone (fake Telegram): the batch total, each watched file."""

from __future__ import annotations

from pathlib import Path

from tests.batch.support import make_pngs
from tests.cli_support import Isolation, invoke
from tests.fakecomfy.files import write_png
from tests.faketelegram.server import FakeTelegram
from tests.watch.support import png_bytes

QUICK = ("--poll", "0.05", "--polls", "2")


def test_batch_sends_one_total_at_the_end(phone: FakeTelegram, tmp_path: Path) -> None:
    """A batch with a failing item: one message saying 2/3 done, 1 failed."""
    folder = tmp_path / "in"
    make_pngs(folder, 2)
    write_png(folder / "tiny.png", 2, 2, 0xABCDEF, {})
    assert invoke("batch", str(folder), "testblur").exit_code == 5
    assert phone.methods() == ["sendMessage"]
    text = phone.requests[0].fields["text"]
    assert "2/3 done" in text and "1 failed" in text


def test_batch_dry_run_and_no_notify_send_nothing(phone: FakeTelegram, tmp_path: Path) -> None:
    """--dry-run and --no-notify: nothing reaches Telegram."""
    folder = tmp_path / "in"
    make_pngs(folder, 1)
    assert invoke("batch", str(folder), "testblur", "--dry-run").exit_code == 0
    assert invoke("batch", str(folder), "testblur", "--no-notify").exit_code == 0
    assert phone.methods() == []


def test_watch_sends_each_result(phone: FakeTelegram, isolation: Isolation) -> None:
    """A watched file rendered: its result is sent as a photo."""
    target = isolation.root / "exchange" / "input" / "testblur" / "plan12.png"
    target.parent.mkdir(parents=True)
    target.write_bytes(png_bytes())
    assert invoke("watch", "--once", *QUICK).exit_code == 0
    assert phone.methods() == ["sendPhoto"]
