"""The Telegram client against the fake Bot API: methods, limits, proxies, 429, secrets."""

from __future__ import annotations

import logging
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from PIL import Image

from comfycine.notify import Limits, TelegramClient, job_done_notice
from comfycine.notify.telegram import (
    CAPTION_LIMIT,
    MAX_RETRY_AFTER,
    choose_method,
    image_size,
    photo_shape_fits,
)
from comfycine.results import JobResult
from tests.faketelegram.server import FakeTelegram
from tests.notify.conftest import (
    LIMITS,
    SENTINEL_TOKEN,
    Sleeps,
    closed_port_url,
    fake_ffmpeg,
    write_file,
)

MakeClient = Callable[..., TelegramClient]


async def test_message_is_sent_to_the_chat(
    fake_telegram: FakeTelegram, make_client: MakeClient
) -> None:
    """A notice without a file is one sendMessage with the text and the chat id."""
    outcome = await make_client().send("render done")
    assert outcome == {"channel": "telegram", "ok": True, "detail": "sendMessage"}
    (request,) = fake_telegram.requests
    assert request.method == "sendMessage"
    assert request.fields == {"chat_id": fake_telegram.chat_id, "text": "render done"}


@pytest.mark.parametrize(
    ("name", "size", "method", "field"),
    [
        ("still.png", 3_000, "sendPhoto", "photo"),
        ("still.png", 9_000, "sendDocument", "document"),  # above the photo limit
        ("clip.mp4", 15_000, "sendVideo", "video"),
        ("master.mov", 15_000, "sendDocument", "document"),
        ("notes.txt", 100, "sendDocument", "document"),
    ],
)
async def test_file_goes_by_type_and_size(
    fake_telegram: FakeTelegram,
    make_client: MakeClient,
    tmp_path: Path,
    name: str,
    size: int,
    method: str,
    field: str,
) -> None:
    """Images up to the photo limit as photos, MP4 as video, the rest as documents."""
    path = write_file(tmp_path / name, size)
    outcome = await make_client().send("done", path)
    assert outcome["ok"], outcome
    (request,) = fake_telegram.requests
    assert request.method == method
    assert request.files[field].size == size
    assert request.files[field].filename == name
    assert request.fields["caption"] == "done"


def test_choose_method_follows_the_limits() -> None:
    """Above the upload limit there is no method; the photo limit only moves images."""
    limits = Limits(photo_bytes=10, upload_bytes=100)
    assert choose_method(Path("a.jpg"), 10, limits) == "sendPhoto"
    assert choose_method(Path("a.jpg"), 11, limits) == "sendDocument"
    assert choose_method(Path("a.mp4"), 100, limits) == "sendVideo"
    assert choose_method(Path("a.mp4"), 101, limits) is None
    assert choose_method(Path("a.zip"), 101, limits) is None
    assert Limits.for_server("https://api.telegram.org").upload_bytes == 50 * 1024 * 1024
    assert Limits.for_server("http://127.0.0.1:8081").upload_bytes == 2000 * 1024 * 1024


def test_photo_shape_follows_sendphoto_limits() -> None:
    """Width + height at most 10000 and a ratio at most 20, either way round."""
    assert photo_shape_fits(5000, 5000) and photo_shape_fits(2000, 100)
    assert photo_shape_fits(100, 2000)
    assert not photo_shape_fits(5000, 5001)
    assert not photo_shape_fits(2001, 100) and not photo_shape_fits(100, 2001)
    assert not photo_shape_fits(0, 10)


def test_image_size_reads_the_header_or_gives_none(tmp_path: Path) -> None:
    """Pillow's header size for a picture; None for bytes Pillow cannot read."""
    Image.new("RGB", (300, 20)).save(tmp_path / "a.png")
    assert image_size(tmp_path / "a.png") == (300, 20)
    assert image_size(write_file(tmp_path / "junk.png", 100)) is None
    assert image_size(tmp_path / "gone.png") is None


class BotApi:
    """An httpx.MockTransport Bot API: records each call's method and raw body, answers ok."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, bytes]] = []
        self.transport = httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.calls.append((request.url.path.rsplit("/", 1)[-1], request.read()))
        return httpx.Response(200, json={"ok": True, "result": {"message_id": 1}})

    def client(self) -> TelegramClient:
        return TelegramClient("1:x", "42", ffmpeg=None, transport=self.transport)

    def methods(self) -> list[str]:
        return [method for method, _ in self.calls]


async def test_wide_grid_goes_as_a_document(tmp_path: Path) -> None:
    """A 12000x400 grid (small in bytes) is beyond sendPhoto's shape: sendDocument, whole."""
    grid = tmp_path / "sweep-ab12.grid.jpg"
    Image.new("RGB", (12000, 400), (30, 30, 30)).save(grid, quality=50)
    assert grid.stat().st_size < Limits().photo_bytes
    api = BotApi()
    outcome = await api.client().send("✅ sweep wan: 16/16 done", grid)
    assert outcome["ok"], outcome
    assert api.methods() == ["sendDocument"]
    assert b'name="document"; filename="sweep-ab12.grid.jpg"' in api.calls[0][1]


async def test_video_job_notice_sends_its_sheet_as_a_photo(tmp_path: Path) -> None:
    """The done notice of a video job with a real contact sheet uploads the sheet by sendPhoto."""
    from comfycine.takes.previews import previews_for
    from tests.takes.clips import make_clip

    clip = make_clip(tmp_path / "shot.mp4", frames=12, size=(160, 90))
    previews = {str(clip): previews_for(clip, tmp_path / "previews")}
    result = JobResult("ab12cd34", "local", "succeeded", "wan", [str(clip)], previews=previews)
    notice = job_done_notice(result)
    api = BotApi()
    outcome = await api.client().send(notice.text, notice.attachment)
    assert outcome["ok"], outcome
    assert api.methods() == ["sendPhoto"]
    body = api.calls[0][1]
    assert b'name="photo"; filename="shot.sheet.jpg"' in body
    assert str(clip).encode() in body  # the caption still names the video


async def test_oversize_without_ffmpeg_sends_the_path(
    fake_telegram: FakeTelegram, make_client: MakeClient, tmp_path: Path
) -> None:
    """A file above every limit and no ffmpeg: the message carries the file's path."""
    path = write_file(tmp_path / "long take.mp4", 30_000)
    outcome = await make_client(ffmpeg=None).send("done", path)
    assert outcome["ok"], outcome
    assert "no ffmpeg" in outcome["detail"]
    (request,) = fake_telegram.requests
    assert request.method == "sendMessage"
    assert request.fields["text"].startswith("done\n")
    assert str(path) in request.fields["text"]


async def test_oversize_without_ffmpeg_on_path(
    fake_telegram: FakeTelegram,
    make_client: MakeClient,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The default ``ffmpeg`` lookup finds nothing on an empty PATH: the path is sent."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    path = write_file(tmp_path / "big.png", 30_000)
    outcome = await make_client(ffmpeg="ffmpeg").send("done", path)
    assert outcome["ok"], outcome
    assert fake_telegram.methods() == ["sendMessage"]
    assert str(path) in fake_telegram.requests[0].fields["text"]


async def test_oversize_with_ffmpeg_sends_a_proxy(
    fake_telegram: FakeTelegram, make_client: MakeClient, tmp_path: Path
) -> None:
    """Above the limit with ffmpeg: an H.264 proxy sized from the duration goes as video."""
    ffmpeg = fake_ffmpeg(tmp_path / "bin", proxy_size=1_500)
    path = write_file(tmp_path / "master.mov", 30_000)
    outcome = await make_client(ffmpeg=str(ffmpeg)).send("done", path)
    assert outcome["ok"], outcome
    (request,) = fake_telegram.requests
    assert request.method == "sendVideo"
    assert request.files["video"].filename == "master-proxy.mp4"
    assert request.files["video"].size == 1_500
    probe, encode = (tmp_path / "bin" / "ffmpeg.log").read_text().splitlines()
    assert probe.endswith(str(path))
    assert "libx264" in encode
    # 20 000 bytes over 1 s at 85 %: 136 kb/s, of which 32 kb/s audio, at 360 lines.
    assert "-b:v 104000" in encode and "min(360,ih)" in encode
    assert not list(tmp_path.glob("**/master-proxy.mp4")), "the proxy's temp dir is left"


async def test_video_too_long_for_a_proxy_sends_the_path(
    fake_telegram: FakeTelegram, make_client: MakeClient, tmp_path: Path
) -> None:
    """A video so long that no useful bitrate fits is not encoded: the path is sent."""
    ffmpeg = fake_ffmpeg(tmp_path / "bin", duration="02:00:00.00")
    path = write_file(tmp_path / "feature.mp4", 30_000)
    outcome = await make_client(ffmpeg=str(ffmpeg)).send("done", path)
    assert outcome["ok"], outcome
    assert fake_telegram.methods() == ["sendMessage"]
    assert len((tmp_path / "bin" / "ffmpeg.log").read_text().splitlines()) == 1  # probe only


async def test_proxy_too_big_falls_back_to_the_path(
    fake_telegram: FakeTelegram, make_client: MakeClient, tmp_path: Path
) -> None:
    """A proxy that still exceeds the limit is not uploaded: the path is sent."""
    ffmpeg = fake_ffmpeg(tmp_path / "bin", proxy_size=25_000)
    path = write_file(tmp_path / "huge.png", 30_000)
    outcome = await make_client(ffmpeg=str(ffmpeg)).send("done", path)
    assert outcome["ok"], outcome
    assert fake_telegram.methods() == ["sendMessage"]
    assert "still 25000 bytes" in outcome["detail"]


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")
async def test_real_ffmpeg_proxy_fits(tmp_path: Path, sleeps: Sleeps) -> None:
    """With the real ffmpeg, an oversize ProRes-like master becomes an MP4 under the limit."""
    source = tmp_path / "master.mov"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=640x360:rate=24:duration=2",
         "-f", "lavfi", "-i", "sine=duration=2", "-c:v", "mjpeg", "-q:v", "2", str(source)],
        check=True,
        timeout=120,
    )  # fmt: skip
    limit = source.stat().st_size // 3
    with FakeTelegram(photo_limit=limit, upload_limit=limit) as telegram:
        client = TelegramClient(
            telegram.token,
            telegram.chat_id,
            api_url=telegram.url,
            limits=Limits(photo_bytes=limit, upload_bytes=limit),
            sleep=sleeps,
        )
        outcome = await client.send("done", source)
        assert outcome["ok"], outcome
        (request,) = telegram.requests
    assert request.method == "sendVideo"
    assert 0 < request.files["video"].size <= limit
    assert request.files["video"].head[4:8] == b"ftyp"


async def test_rate_limit_waits_retry_after_then_succeeds(
    fake_telegram: FakeTelegram, make_client: MakeClient, sleeps: Sleeps
) -> None:
    """A 429 is waited out for exactly parameters.retry_after, then the call is retried."""
    fake_telegram.rate_limit(retry_after=7)
    outcome = await make_client().send("done")
    assert outcome["ok"], outcome
    assert sleeps.asked == [7.0]
    assert [r.status for r in fake_telegram.requests] == [429, 200]


async def test_rate_limit_wait_is_capped(
    fake_telegram: FakeTelegram, make_client: MakeClient, sleeps: Sleeps
) -> None:
    """An absurd retry_after is capped, so a notification never hangs a command for long."""
    fake_telegram.rate_limit(retry_after=100_000)
    outcome = await make_client().send("done")
    assert outcome["ok"], outcome
    assert sleeps.asked == [MAX_RETRY_AFTER]


async def test_rate_limit_gives_up_after_three_retries(
    fake_telegram: FakeTelegram, make_client: MakeClient, tmp_path: Path, sleeps: Sleeps
) -> None:
    """Four 429s in a row: a failed outcome, no exception, and an upload is re-sent whole."""
    fake_telegram.rate_limit(retry_after=2, times=10)
    path = write_file(tmp_path / "still.jpg", 1_000)
    outcome = await make_client().send("done", path)
    assert not outcome["ok"]
    assert "429" in outcome["detail"]
    assert sleeps.asked == [2.0, 2.0, 2.0]
    assert fake_telegram.methods() == ["sendPhoto"] * 4


async def test_refused_photo_is_sent_as_document(
    fake_telegram: FakeTelegram, make_client: MakeClient, tmp_path: Path
) -> None:
    """A photo Telegram refuses (dimensions, say) goes again as a document."""
    fake_telegram.refuse_next(400, "Bad Request: PHOTO_INVALID_DIMENSIONS")
    path = write_file(tmp_path / "panorama.jpg", 1_000)
    outcome = await make_client().send("done", path)
    assert outcome["ok"], outcome
    assert fake_telegram.methods() == ["sendPhoto", "sendDocument"]


async def test_upload_refused_everywhere_still_sends_the_words(
    fake_telegram: FakeTelegram, make_client: MakeClient, tmp_path: Path
) -> None:
    """413 on every upload: the message goes with the path and the reason."""
    fake_telegram.refuse_next(413, "Request Entity Too Large", times=2)
    path = write_file(tmp_path / "clip.mp4", 1_000)
    outcome = await make_client().send("done", path)
    assert outcome["ok"], outcome
    assert fake_telegram.methods() == ["sendVideo", "sendDocument", "sendMessage"]
    text = fake_telegram.requests[-1].fields["text"]
    assert str(path) in text and "Request Entity Too Large" in text


async def test_long_text_goes_before_an_uncaptioned_file(
    fake_telegram: FakeTelegram, make_client: MakeClient, tmp_path: Path
) -> None:
    """Text longer than a caption is sent as a message, then the file without caption."""
    text = "x" * (CAPTION_LIMIT + 1)
    path = write_file(tmp_path / "still.jpg", 1_000)
    outcome = await make_client().send(text, path)
    assert outcome["ok"], outcome
    message, photo = fake_telegram.requests
    assert (message.method, message.fields["text"]) == ("sendMessage", text)
    assert photo.method == "sendPhoto" and "caption" not in photo.fields


async def test_long_text_keeps_the_path_whole(
    fake_telegram: FakeTelegram, make_client: MakeClient, tmp_path: Path
) -> None:
    """A maximal text is shortened, not the path appended to it."""
    path = write_file(tmp_path / "big.mp4", 30_000)
    outcome = await make_client().send("y" * 5000, path)
    assert outcome["ok"], outcome
    text = fake_telegram.requests[-1].fields["text"]
    assert len(text) <= 4096 and str(path) in text


async def test_missing_attachment_sends_the_path(
    fake_telegram: FakeTelegram, make_client: MakeClient, tmp_path: Path
) -> None:
    """An attachment that vanished does not stop the message."""
    outcome = await make_client().send("done", tmp_path / "gone.mp4")
    assert outcome["ok"], outcome
    assert fake_telegram.methods() == ["sendMessage"]


async def test_wrong_chat_fails_without_retrying_other_methods(
    fake_telegram: FakeTelegram, make_client: MakeClient, tmp_path: Path
) -> None:
    """ "chat not found" is a failed outcome at once (no document or message fallback)."""
    client = make_client()
    client.chat_id = "1"
    outcome = await client.send("done", write_file(tmp_path / "still.jpg", 100))
    assert not outcome["ok"]
    assert "chat not found" in outcome["detail"]
    assert fake_telegram.methods() == ["sendPhoto"]


async def test_bad_token_never_appears_in_the_outcome(
    fake_telegram: FakeTelegram,
    make_client: MakeClient,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A refused token (401) is a failure whose detail, and httpx's logs, omit the token."""
    caplog.set_level(logging.DEBUG)
    client = make_client(token=SENTINEL_TOKEN)
    outcomes = [
        await client.send("done"),
        await client.send("done", write_file(tmp_path / "clip.mp4", 1_000)),
    ]
    assert [o["ok"] for o in outcomes] == [False, False]
    assert all("401" in o["detail"] for o in outcomes)
    assert fake_telegram.requests[0].token == SENTINEL_TOKEN  # it did reach the server
    assert fake_telegram.methods() == ["sendMessage", "sendVideo"]
    assert SENTINEL_TOKEN not in repr(outcomes)
    assert "HTTP Request" in caplog.text  # httpx logged the calls...
    assert SENTINEL_TOKEN not in caplog.text  # ...without the token
    assert SENTINEL_TOKEN.split(":")[1] not in caplog.text


async def test_unreachable_server_is_a_failure_without_the_token(
    tmp_path: Path, sleeps: Sleeps, caplog: pytest.LogCaptureFixture
) -> None:
    """A dead Bot API host is a failed outcome, not an exception, and names no token."""
    caplog.set_level(logging.DEBUG)
    client = TelegramClient(
        SENTINEL_TOKEN, "1", api_url=closed_port_url(), limits=LIMITS, ffmpeg=None, sleep=sleeps
    )
    outcome = await client.send("done", write_file(tmp_path / "still.jpg", 100))
    assert not outcome["ok"]
    assert "unreachable" in outcome["detail"]
    assert SENTINEL_TOKEN not in repr(outcome) + caplog.text
