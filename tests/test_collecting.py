"""Collecting a job's outputs: once per job, only what is missing, rendered on failure."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import httpx
import pytest

from comfycine import collecting
from comfycine.collecting import (
    collect_outputs,
    collect_rendered,
    lock_path,
    needs_collection,
    output_refs,
)
from comfycine.errors import DownloadFailed, OutputNotWritable, TargetUnreachable
from comfycine.journal import Journal
from comfycine.ledger import JobRecord
from comfycine.transport import ComfyClient, OutputRef
from comfycine.transport import downloads as downloads_module
from comfycine.transport.partfiles import part_path
from comfycine.transport.reconnect import Link

JOB = "1234abcd-5678-4000-8000-000000000001"
CREATED = 1_780_000_000.0
REFS = [
    OutputRef("9", "images", "shot_00001_.png"),
    OutputRef("9", "images", "shot_00002_.png"),
]
FILES = {"shot_00001_.png": b"first" * 1000, "shot_00002_.png": b"second" * 1000}


def record(**fields: object) -> JobRecord:
    """The job as the ledger holds it once rendered."""
    base: dict[str, object] = {
        "id": JOB,
        "client_id": "c",
        "target": "local",
        "server_url": "http://comfy.test",
        "template": "shot",
        "status": "rendered",
        "created_at": CREATED,
        "remote_outputs": [ref.to_dict() for ref in REFS],
    }
    base.update(fields)
    return JobRecord(**base)  # type: ignore[arg-type]


class ViewServer:
    """/view over MockTransport: serves FILES, counts requests per file, can be told to fail."""

    def __init__(self) -> None:
        self.gets: list[str] = []
        self.missing: set[str] = set()
        self.refused = False
        self.slow: set[str] = set()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.refused:
            raise httpx.ConnectError("[Errno 111] Connection refused")
        name = request.url.params["filename"]
        self.gets.append(name)
        if name in self.missing:
            return httpx.Response(404, content=b"404: Not Found")
        body = FILES[name]
        headers = {"Content-Length": str(len(body))}
        if name in self.slow:
            return httpx.Response(200, content=self._trickle(body), headers=headers)
        return httpx.Response(200, content=body, headers=headers)

    async def _trickle(self, body: bytes) -> AsyncIterator[bytes]:
        yield body[:100]
        await asyncio.sleep(30)  # cut by the caller's deadline long before this
        yield body[100:]

    def client(self) -> ComfyClient:
        """A client whose /view is this server."""
        return ComfyClient("http://comfy.test", transport=httpx.MockTransport(self))


@pytest.fixture
async def journal(tmp_path: Path) -> AsyncIterator[Journal]:
    """An open ledger in DATA_DIR = tmp_path/data holding the rendered job."""
    async with Journal(tmp_path / "data" / "ledger.sqlite3") as opened:
        await opened.add(record())
        yield opened


def day_dir(tmp_path: Path) -> Path:
    """Where the job's outputs go."""
    return tmp_path / "out" / date.fromtimestamp(CREATED).isoformat()


async def test_collects_every_output_in_order(journal: Journal, tmp_path: Path) -> None:
    """Both files land under our names; the ledger lists them as they land."""
    server = ViewServer()
    async with server.client() as client:
        paths = await collect_outputs(client, journal, record(), REFS, output_dir=tmp_path / "out")
    assert [p.name for p in paths] == ["shot-1234abcd-01.png", "shot-1234abcd-02.png"]
    assert [p.read_bytes() for p in paths] == list(FILES.values())
    stored = await journal.find(JOB)
    assert stored.outputs == [str(p) for p in paths]


async def test_outputs_on_disk_are_not_downloaded_again(journal: Journal, tmp_path: Path) -> None:
    """A recorded output that exists is kept; only the missing one is fetched."""
    first = day_dir(tmp_path) / "shot-1234abcd-01.png"
    first.parent.mkdir(parents=True)
    first.write_bytes(b"already here")
    await journal.update(JOB, outputs=[str(first)])
    server = ViewServer()
    async with server.client() as client:
        paths = await collect_outputs(client, journal, record(), REFS, output_dir=tmp_path / "out")
    assert server.gets == ["shot_00002_.png"]
    assert paths[0] == first and first.read_bytes() == b"already here"


async def test_a_published_but_unrecorded_output_is_not_copied_again(
    journal: Journal, tmp_path: Path
) -> None:
    """A collector killed between publishing and recording: its file is taken as is."""
    first = day_dir(tmp_path) / "shot-1234abcd-01.png"
    first.parent.mkdir(parents=True)
    first.write_bytes(FILES["shot_00001_.png"])
    server = ViewServer()
    async with server.client() as client:
        paths = await collect_outputs(client, journal, record(), REFS, output_dir=tmp_path / "out")
    assert server.gets == ["shot_00002_.png"] and paths[0] == first
    assert sorted(p.name for p in day_dir(tmp_path).iterdir()) == [p.name for p in paths]


async def test_a_404_leaves_the_job_rendered_and_names_it(journal: Journal, tmp_path: Path) -> None:
    """A file gone from the server: rendered (not failed), the first file kept, wait hinted."""
    server = ViewServer()
    server.missing.add("shot_00002_.png")
    async with server.client() as client:
        with pytest.raises(DownloadFailed) as info:
            await collect_outputs(client, journal, record(), REFS, output_dir=tmp_path / "out")
    error = info.value
    assert error.details["job"] == JOB and error.hint.endswith(f"comfycine wait {JOB[:8]}")
    stored = await journal.find(JOB)
    assert stored.status == "rendered" and len(stored.outputs) == 1
    assert stored.remote_outputs == [ref.to_dict() for ref in REFS]
    assert stored.error is not None and stored.error["code"] == "download_failed"


async def test_disk_full_is_exit_8_with_the_job(
    journal: Journal, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No room for the file: OutputNotWritable (disk_full, exit 8), job named, rendered kept."""
    usage = downloads_module.shutil.disk_usage(tmp_path)
    full = type(usage)(total=usage.total, used=usage.total, free=0)
    monkeypatch.setattr(downloads_module.shutil, "disk_usage", lambda path: full)
    async with ViewServer().client() as client:
        with pytest.raises(OutputNotWritable) as info:
            await collect_outputs(client, journal, record(), REFS, output_dir=tmp_path / "out")
    error = info.value
    assert error.code == "disk_full" and error.exit_code == 8
    assert error.details["job"] == JOB and f"comfycine wait {JOB[:8]}" in error.hint
    assert (await journal.find(JOB)).status == "rendered"


async def test_link_given_up_is_exit_3_naming_the_job(journal: Journal, tmp_path: Path) -> None:
    """The outage window spent: exit 3 naming the job, no cloud proposed, job rendered."""
    server = ViewServer()
    server.refused = True
    now = [0.0]

    async def sleep(seconds: float) -> None:
        now[0] += seconds

    link = Link(5.0, clock=lambda: now[0], sleep=sleep)
    async with server.client() as client:
        with pytest.raises(TargetUnreachable) as info:
            await collect_outputs(
                client, journal, record(), REFS, output_dir=tmp_path / "out", link=link
            )
    error = info.value
    assert error.exit_code == 3 and error.details["job"] == JOB and error.details["rendered"]
    assert "fallback" not in error.details
    assert error.hint.endswith(f"comfycine wait {JOB[:8]}")
    assert (await journal.find(JOB)).status == "rendered"


async def test_deadline_mid_download_keeps_part_and_rendered(
    journal: Journal, tmp_path: Path
) -> None:
    """The caller's timeout cuts a slow body: TimeoutError goes up, the part stays."""
    server = ViewServer()
    server.slow.add("shot_00001_.png")
    async with server.client() as client:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.5):
                await collect_outputs(client, journal, record(), REFS, output_dir=tmp_path / "out")
    final = day_dir(tmp_path) / "shot-1234abcd-01.png"
    assert not final.exists()
    assert part_path(final).read_bytes() == FILES["shot_00001_.png"][:100]
    assert (await journal.find(JOB)).status == "rendered"


async def test_two_collectors_of_one_job_make_one_copy(journal: Journal, tmp_path: Path) -> None:
    """Concurrent collectors: one downloads, the other waits and gets the same paths."""
    server = ViewServer()
    async with server.client() as client:
        first, second = await asyncio.gather(
            collect_outputs(client, journal, record(), REFS, output_dir=tmp_path / "out"),
            collect_outputs(client, journal, record(), REFS, output_dir=tmp_path / "out"),
        )
    assert first == second
    assert sorted(server.gets) == sorted(FILES)
    assert sorted(p.name for p in day_dir(tmp_path).iterdir()) == [p.name for p in first]


async def test_waiting_for_the_lock_ends_at_the_deadline(journal: Journal, tmp_path: Path) -> None:
    """A lock held elsewhere is waited for cancellably: the deadline ends the wait."""
    path = lock_path(journal.path.parent, JOB)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT)
    try:
        assert collecting._try_lock(fd)
        server = ViewServer()
        async with server.client() as client:
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.3):
                    await collect_outputs(
                        client, journal, record(), REFS, output_dir=tmp_path / "out"
                    )
        assert server.gets == []
    finally:
        os.close(fd)


async def test_collect_rendered_finishes_a_legacy_download_failure(
    journal: Journal, tmp_path: Path
) -> None:
    """A job an older version recorded failed/download_failed is downloaded and succeeds."""
    legacy = await journal.mark(
        JOB, "failed", error={"code": "download_failed", "message": "cut", "exit": 5}
    )
    assert needs_collection(legacy)
    async with ViewServer().client() as client:
        final = await collect_rendered(client, journal, legacy, output_dir=tmp_path / "out")
    assert final.status == "succeeded" and final.error is None and len(final.outputs) == 2


def test_needs_collection() -> None:
    """Rendered, or failed only by the download with outputs known; nothing else."""
    assert needs_collection(record())
    legacy = {"code": "download_failed", "exit": 5}
    assert needs_collection(record(status="failed", error=legacy))
    assert not needs_collection(record(status="failed", error=legacy, remote_outputs=[]))
    assert not needs_collection(record(status="failed", error={"code": "node_exception"}))
    assert not needs_collection(record(status="succeeded"))


def test_output_refs_skip_temp_previews() -> None:
    """Only ``type: output`` files are collected from the recorded outputs."""
    preview = OutputRef("5", "images", "p.png", type="temp").to_dict()
    refs = output_refs(record(remote_outputs=[*[r.to_dict() for r in REFS], preview]))
    assert refs == REFS
