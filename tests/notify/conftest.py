"""Shared helpers for the notification tests."""

from __future__ import annotations

import asyncio
import socket
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from comfycine.notify import Limits, TelegramClient
from tests.faketelegram.fixtures import PHOTO_LIMIT, UPLOAD_LIMIT
from tests.faketelegram.server import FakeTelegram

# Every wait a test asks for (a 429's retry_after) is spent scaled by this.
TIME_SCALE = 0.001
LIMITS = Limits(photo_bytes=PHOTO_LIMIT, upload_bytes=UPLOAD_LIMIT)
# A token shaped like a real one, to look for in everything the client returns.
SENTINEL_TOKEN = "987654321:SENTINELtokenNEVERtoBEseenANYWHERE_x"


class Sleeps:
    """Records the waits asked for and spends them scaled by TIME_SCALE."""

    def __init__(self) -> None:
        self.asked: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.asked.append(seconds)
        await asyncio.sleep(seconds * TIME_SCALE)


@pytest.fixture
def sleeps() -> Sleeps:
    """A recording, scaled sleep for the Telegram client."""
    return Sleeps()


@pytest.fixture
def make_client(fake_telegram: FakeTelegram, sleeps: Sleeps) -> Callable[..., TelegramClient]:
    """Build a client for the fake (small limits, no ffmpeg unless given)."""

    def build(**overrides: object) -> TelegramClient:
        options: dict[str, object] = {
            "api_url": fake_telegram.url,
            "limits": LIMITS,
            "ffmpeg": None,
            "sleep": sleeps,
        }
        options.update(overrides)
        token = str(options.pop("token", fake_telegram.token))
        return TelegramClient(token, fake_telegram.chat_id, **options)  # type: ignore[arg-type]

    return build


def closed_port_url() -> str:
    """A loopback URL nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def write_file(path: Path, size: int) -> Path:
    """A file of ``size`` bytes (content irrelevant to the fake)."""
    path.write_bytes(b"\x89" + bytes(size - 1))
    return path


def fake_ffmpeg(folder: Path, proxy_size: int = 1_000, duration: str = "00:00:01.00") -> Path:
    """An ``ffmpeg`` stand-in: prints ``duration`` for ``-i FILE``, writes the proxy.

    Each call's argv is appended, one per line, to ``ffmpeg.log`` beside it.
    """
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "ffmpeg"
    log = folder / "ffmpeg.log"
    script.write_text(
        f"#!{sys.executable}\n"
        "import sys\n"
        f"open({str(log)!r}, 'a').write(' '.join(sys.argv[1:]) + '\\n')\n"
        "args = sys.argv[1:]\n"
        "if '-c:v' not in args and '-q:v' not in args:\n"
        f"    sys.stderr.write('  Duration: {duration}, start: 0.000000\\n')\n"
        "    sys.exit(1)\n"
        f"open(args[-1], 'wb').write(bytes({proxy_size}))\n"
    )
    script.chmod(0o755)
    return script
