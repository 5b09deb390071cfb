"""Streamed downloads: our own names, atomic publish, resume with Range, bounded bodies."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from datetime import date
from pathlib import Path

import httpx
import pytest

from comfycine.errors import DownloadFailed, OutputNotWritable
from comfycine.transport import ComfyClient, OutputRef
from comfycine.transport import downloads as downloads_module
from comfycine.transport.cloud import CloudClient
from comfycine.transport.downloads import download_output, output_path, safe_extension
from comfycine.transport.partfiles import part_path, sweep_stale_parts
from comfycine.transport.reconnect import Link, OutageTooLong
from tests.tmpfs import tmpfs

REF = OutputRef("9", "images", "clip_00001_.mp4", "video", "output", animated=True)
BODY = bytes(range(256)) * 40  # 10240 bytes, every offset distinguishable
SUBPROCESS_TIMEOUT = 30

Handler = Callable[[httpx.Request], httpx.Response]


class Server:
    """A MockTransport /view that records requests and answers from a list of handlers."""

    def __init__(self, *answers: Handler) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return answer(request)

    def client(self) -> ComfyClient:
        """A ComfyClient whose requests come here."""
        return ComfyClient("http://comfy.test", transport=httpx.MockTransport(self))

    @property
    def ranges(self) -> list[str | None]:
        """The Range header of each request (None when there was none)."""
        return [r.headers.get("range") for r in self.requests]


def whole(request: httpx.Request) -> httpx.Response:
    """The whole file, 200, with its length (a server ignoring Range)."""
    return httpx.Response(200, content=BODY, headers={"Content-Length": str(len(BODY))})


def ranged(request: httpx.Request) -> httpx.Response:
    """What aiohttp's FileResponse does: 206 for ``bytes=N-``, else the whole file."""
    asked = request.headers.get("range")
    if not asked:
        return whole(request)
    start = int(asked.removeprefix("bytes=").rstrip("-"))
    if start >= len(BODY):
        return httpx.Response(416, headers={"Content-Range": f"bytes */{len(BODY)}"})
    rest = BODY[start:]
    headers = {
        "Content-Length": str(len(rest)),
        "Content-Range": f"bytes {start}-{len(BODY) - 1}/{len(BODY)}",
    }
    return httpx.Response(206, content=rest, headers=headers)


def cut_at(size: int) -> Handler:
    """The file announced whole but the body stopping after ``size`` bytes."""

    def handler(request: httpx.Request) -> httpx.Response:
        headers = {"Content-Length": str(len(BODY))}
        return httpx.Response(200, content=BODY[:size], headers=headers)

    return handler


def reset_after(size: int) -> Handler:
    """The file announced whole, then the connection reset after ``size`` bytes."""

    async def body() -> AsyncIterator[bytes]:
        yield BODY[:size]
        raise httpx.ReadError("connection reset by peer")

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body(), headers={"Content-Length": str(len(BODY))})

    return handler


def refused(request: httpx.Request) -> httpx.Response:
    """No server listening."""
    raise httpx.ConnectError("[Errno 111] Connection refused")


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
        timeout=SUBPROCESS_TIMEOUT,
    )
    return int(child.stdout)


class FakeClock:
    """A Link clock that moves only when the link sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def link(self, window: float = 60.0) -> Link:
        """A Link on this clock."""
        return Link(window, clock=self, sleep=self.sleep)


# ------------------------------------------------------------------- names


def test_output_path_uses_our_naming() -> None:
    """OUTPUT_DIR/YYYY-MM-DD/<template>-<job8>-<nn>.<ext>, whatever the server called it."""
    path = output_path(Path("/out"), "wan22-t2v", "1234abcd-0000", 3, REF, date(2026, 11, 24))
    assert path == Path("/out/2026-11-24/wan22-t2v-1234abcd-03.mp4")


@pytest.mark.parametrize(
    ("name", "ext"),
    [
        ("a.PNG", "png"),
        ("../../etc/passwd", "bin"),
        ("x.tar.gz", "gz"),
        ("evil.p/ng", "bin"),
        ("noext", "bin"),
        ("a.$(rm)", "bin"),
        ("..\\..\\win.mp4", "mp4"),
    ],
)
def test_server_names_only_give_an_extension(name: str, ext: str) -> None:
    """A hostile server-given name never becomes a path; only a clean extension survives."""
    assert safe_extension(name) == ext


# ---------------------------------------------------------- whole transfers


async def test_download_writes_whole_file(tmp_path: Path) -> None:
    """The bytes land under the destination name and no .part remains."""
    target = tmp_path / "d" / "shot-01.mp4"
    async with Server(whole).client() as client:
        path = await download_output(client, REF, target)
    assert path == target and target.read_bytes() == BODY
    assert list(target.parent.glob("*.part")) == []


async def test_existing_file_is_never_overwritten(tmp_path: Path) -> None:
    """An existing file keeps its bytes; the new one gets a -2 suffix."""
    target = tmp_path / "shot-01.mp4"
    target.write_bytes(b"editor's copy")
    async with Server(whole).client() as client:
        path = await download_output(client, REF, target)
    assert target.read_bytes() == b"editor's copy"
    assert path.name == "shot-01-2.mp4" and path.read_bytes() == BODY


async def test_missing_file_is_download_failed(tmp_path: Path) -> None:
    """A 404 from /view is a download failure (exit 5) and writes nothing."""
    server = Server(lambda r: httpx.Response(404, content=b"404: Not Found"))
    async with server.client() as client:
        with pytest.raises(DownloadFailed) as info:
            await download_output(client, REF, tmp_path / "x.mp4")
    assert info.value.exit_code == 5 and info.value.details["status"] == 404
    assert list(tmp_path.iterdir()) == []


# -------------------------------------------------------------------- resume


async def test_short_transfer_keeps_a_resumable_part(tmp_path: Path) -> None:
    """A body shorter than its Content-Length fails, publishes nothing, keeps its bytes."""
    target = tmp_path / "shot-01.mp4"
    async with Server(cut_at(3000)).client() as client:
        with pytest.raises(DownloadFailed) as info:
            await download_output(client, REF, target)
    assert info.value.details["reason"] == "dropped"
    assert not target.exists()
    assert part_path(target).read_bytes() == BODY[:3000]


async def test_resume_asks_for_the_rest_and_honours_206(tmp_path: Path) -> None:
    """The next try sends Range: bytes=N- and appends the 206 body to the part."""
    target = tmp_path / "shot-01.mp4"
    server = Server(cut_at(3000), ranged)
    async with server.client() as client:
        with pytest.raises(DownloadFailed):
            await download_output(client, REF, target)
        path = await download_output(client, REF, target)
    assert server.ranges == [None, "bytes=3000-"]
    assert path == target and target.read_bytes() == BODY
    assert list(tmp_path.glob("*.part")) == []


async def test_200_to_a_range_restarts_from_zero(tmp_path: Path) -> None:
    """A server that ignores Range sends the whole file: it replaces the part."""
    target = tmp_path / "shot-01.mp4"
    part_path(target).write_bytes(b"garbage that is not a prefix")
    server = Server(whole)
    async with server.client() as client:
        path = await download_output(client, REF, target)
    assert server.ranges == ["bytes=28-"]
    assert path.read_bytes() == BODY


async def test_wrong_content_range_restarts_from_zero(tmp_path: Path) -> None:
    """A 206 for other bytes than asked is not appended: the file is fetched again whole."""
    target = tmp_path / "shot-01.mp4"
    part_path(target).write_bytes(BODY[:100])

    def other_slice(request: httpx.Request) -> httpx.Response:
        headers = {"Content-Length": "50", "Content-Range": f"bytes 0-49/{len(BODY)}"}
        return httpx.Response(206, content=BODY[:50], headers=headers)

    server = Server(other_slice, whole)
    async with server.client() as client:
        path = await download_output(client, REF, target)
    assert server.ranges == ["bytes=100-", None]
    assert path.read_bytes() == BODY


async def test_part_longer_than_the_file_restarts_on_416(tmp_path: Path) -> None:
    """416 (the part is no prefix of a shorter file): the file is fetched again whole."""
    target = tmp_path / "shot-01.mp4"
    part_path(target).write_bytes(b"x" * (len(BODY) + 10))
    server = Server(ranged)
    async with server.client() as client:
        path = await download_output(client, REF, target)
    assert server.ranges == [f"bytes={len(BODY) + 10}-", None]
    assert path.read_bytes() == BODY


# -------------------------------------------------------------------- bounds


async def test_more_than_announced_is_refused_at_once(tmp_path: Path) -> None:
    """A body past its Content-Length stops at the first extra chunk; nothing is kept."""
    pulled: list[int] = []

    async def endless() -> AsyncIterator[bytes]:
        while True:
            pulled.append(1)
            yield b"z" * 4096

    def lying(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=endless(), headers={"Content-Length": "10000"})

    async with Server(lying).client() as client:
        with pytest.raises(DownloadFailed) as info:
            await download_output(client, REF, tmp_path / "x.mp4")
    assert info.value.details == {"filename": REF.filename, "limit": 10000, "announced": True}
    assert len(pulled) <= 4  # stopped at the first chunk past the limit
    assert list(tmp_path.iterdir()) == []


async def test_unannounced_body_is_bounded(tmp_path: Path) -> None:
    """Without a Content-Length an endless body stops at the bound; nothing is kept."""

    async def endless() -> AsyncIterator[bytes]:
        while True:
            yield b"z" * 65536

    def chunked(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=endless())

    async with Server(chunked).client() as client:
        with pytest.raises(DownloadFailed) as info:
            await download_output(client, REF, tmp_path / "x.mp4", max_unannounced=1 << 20)
    assert info.value.details["limit"] == 1 << 20 and not info.value.details["announced"]
    assert list(tmp_path.iterdir()) == []


async def test_announced_size_beyond_free_space_is_disk_full(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file larger than the free space is refused before a byte is written (exit 8)."""
    usage = downloads_module.shutil.disk_usage(tmp_path)
    tiny = type(usage)(total=usage.total, used=usage.total - 5000, free=5000)
    monkeypatch.setattr(downloads_module.shutil, "disk_usage", lambda path: tiny)
    async with Server(whole).client() as client:
        with pytest.raises(OutputNotWritable) as info:
            await download_output(client, REF, tmp_path / "x.mp4")
    assert info.value.code == "disk_full" and info.value.exit_code == 8
    assert list(tmp_path.iterdir()) == []


async def test_no_space_mid_write_is_disk_full_and_keeps_the_part(tmp_path: Path) -> None:
    """A real ENOSPC while writing (1 MiB tmpfs, no announced size): disk_full, exit 8."""

    async def big() -> AsyncIterator[bytes]:
        for _ in range(64):
            yield b"y" * 65536  # 4 MiB in all, more than the disk

    def chunked(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=big())

    with tmpfs(tmp_path / "small", "1m") as disk:
        target = disk / "shot-01.mp4"
        async with Server(chunked).client() as client:
            with pytest.raises(OutputNotWritable) as info:
                await download_output(client, REF, target)
        assert info.value.code == "disk_full" and info.value.details["errno"] == "ENOSPC"
        assert not target.exists() and part_path(target).stat().st_size > 0


async def test_a_file_where_the_folder_goes_is_not_writable(tmp_path: Path) -> None:
    """The output folder's path taken by a file: output_not_writable, exit 8, no request."""
    (tmp_path / "2026-01-01").write_text("not a folder")
    server = Server(whole)
    async with server.client() as client:
        with pytest.raises(OutputNotWritable) as info:
            await download_output(client, REF, tmp_path / "2026-01-01" / "x.mp4")
    assert info.value.code == "output_not_writable" and info.value.exit_code == 8
    assert server.requests == []


# ------------------------------------------------------------------- outages


async def test_outage_mid_body_is_waited_out_and_resumed(tmp_path: Path) -> None:
    """Reset mid-body, then refused: the link waits, and the rest comes with Range."""
    target = tmp_path / "shot-01.mp4"
    clock = FakeClock()
    link = clock.link()
    server = Server(reset_after(4000), refused, ranged)
    async with server.client() as client:
        path = await download_output(client, REF, target, link=link)
    assert path.read_bytes() == BODY
    assert server.ranges == [None, "bytes=4000-", "bytes=4000-"]
    assert len(clock.sleeps) == 2 and link.outages == 1 and not link.is_down


async def test_outage_longer_than_the_window_keeps_the_part(tmp_path: Path) -> None:
    """When the window is spent OutageTooLong goes up and the part stays for a later wait."""
    target = tmp_path / "shot-01.mp4"
    clock = FakeClock()
    server = Server(reset_after(4000), refused)
    async with server.client() as client:
        with pytest.raises(OutageTooLong):
            await download_output(client, REF, target, link=clock.link(window=10.0))
    assert sum(clock.sleeps) <= 10.0
    assert part_path(target).read_bytes() == BODY[:4000] and not target.exists()


# --------------------------------------------------------------- stale parts


async def test_stale_part_of_a_dead_process_is_adopted(tmp_path: Path) -> None:
    """A dead writer's part for the same file is resumed from its size, then gone."""
    target = tmp_path / "shot-01.mp4"
    stale = part_path(target, dead_pid())
    stale.write_bytes(BODY[:6000])
    server = Server(ranged)
    async with server.client() as client:
        path = await download_output(client, REF, target)
    assert server.ranges == ["bytes=6000-"]
    assert path.read_bytes() == BODY and list(tmp_path.glob("*.part")) == []


async def test_part_of_a_live_process_is_left_alone(tmp_path: Path) -> None:
    """A live writer's part is neither adopted nor deleted; the download starts at 0."""
    target = tmp_path / "shot-01.mp4"
    live = part_path(target, os.getppid())
    live.write_bytes(b"someone else is writing this")
    server = Server(ranged)
    async with server.client() as client:
        path = await download_output(client, REF, target)
    assert server.ranges == [None] and path.read_bytes() == BODY
    assert live.read_bytes() == b"someone else is writing this"


def test_sweep_removes_dead_parts_but_spares_kept_and_live(tmp_path: Path) -> None:
    """Stale parts go, except those ``keep`` names; a live writer's part stays."""
    gone = dead_pid()
    dead = part_path(tmp_path / "a-11111111-01.png", gone)
    kept = part_path(tmp_path / "b-22222222-01.png", gone)
    live = part_path(tmp_path / "c-33333333-01.png", os.getppid())
    for path in (dead, kept, live):
        path.write_bytes(b"x")
    removed = sweep_stale_parts(tmp_path, keep=lambda name: name.startswith("b-"))
    assert removed == [dead]
    assert kept.exists() and live.exists() and not dead.exists()


# --------------------------------------------------------------------- cloud


async def test_cloud_resume_sends_range_to_storage_only(tmp_path: Path) -> None:
    """Comfy Cloud: the Range goes to the signed storage URL, never the key."""
    key = "comfyui-SENTINEL-4f0c9a7e1b2d"
    seen: list[httpx.Request] = []

    def route(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.host == "storage.test":
            return ranged(request)
        return httpx.Response(302, headers={"Location": "https://storage.test/b/x.mp4?sig=1"})

    target = tmp_path / "shot-01.mp4"
    part_path(target).write_bytes(BODY[:5000])
    transport = httpx.MockTransport(route)
    async with CloudClient("https://cloud.test", api_key=key, transport=transport) as client:
        path = await download_output(client, REF, target)
    api, storage = seen
    assert path.read_bytes() == BODY
    assert "range" not in api.headers and storage.headers["range"] == "bytes=5000-"
    assert all(key not in value for value in storage.headers.values())
    assert key not in str(storage.url)
