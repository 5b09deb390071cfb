"""Streamed downloads: our own names, atomic publish, never overwrite, nothing partial."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import httpx
import pytest

from comfycine.errors import DownloadFailed
from comfycine.transport import ComfyClient, OutputRef
from comfycine.transport.downloads import download_output, output_path, safe_extension

REF = OutputRef("9", "images", "clip_00001_.mp4", "video", "output", animated=True)


def client_serving(body: bytes, *, status: int = 200, length: int | None = None) -> ComfyClient:
    """A client whose /view answers ``body`` (with an optional lying Content-Length)."""

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/view"
        headers = {"Content-Length": str(length if length is not None else len(body))}
        return httpx.Response(status, content=body, headers=headers)

    return ComfyClient("http://comfy.test", transport=httpx.MockTransport(handler))


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


async def test_download_writes_whole_file(tmp_path: Path) -> None:
    """The bytes land under the destination name and no .part remains."""
    target = tmp_path / "d" / "shot-01.mp4"
    async with client_serving(b"x" * 5000) as client:
        path = await download_output(client, REF, target)
    assert path == target and target.read_bytes() == b"x" * 5000
    assert list(target.parent.glob("*.part")) == []


async def test_existing_file_is_never_overwritten(tmp_path: Path) -> None:
    """An existing file keeps its bytes; the new one gets a -2 suffix."""
    target = tmp_path / "shot-01.mp4"
    target.write_bytes(b"editor's copy")
    async with client_serving(b"new render") as client:
        path = await download_output(client, REF, target)
    assert target.read_bytes() == b"editor's copy"
    assert path.name == "shot-01-2.mp4" and path.read_bytes() == b"new render"


async def test_short_transfer_leaves_nothing(tmp_path: Path) -> None:
    """A body shorter than its Content-Length fails and leaves no file behind."""
    target = tmp_path / "shot-01.mp4"

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"abc", headers={"Content-Length": "10"})

    client = ComfyClient("http://comfy.test", transport=httpx.MockTransport(handler))
    async with client:
        with pytest.raises((DownloadFailed, httpx.RemoteProtocolError)):
            await download_output(client, REF, target)
    assert list(tmp_path.iterdir()) == []


async def test_missing_file_is_download_failed(tmp_path: Path) -> None:
    """A 404 from /view is a download failure (exit 5) and writes nothing."""
    async with client_serving(b"404: Not Found", status=404) as client:
        with pytest.raises(DownloadFailed) as info:
            await download_output(client, REF, tmp_path / "x.mp4")
    assert info.value.exit_code == 5
    assert list(tmp_path.iterdir()) == []
