"""The runner's view of the ledger: progress writes deferred, outcomes written at once."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from comfycine import journal as journal_module
from comfycine.journal import Journal
from comfycine.ledger import JobRecord, Ledger


def record(job_id: str = "job-1") -> JobRecord:
    """A minimal job."""
    return JobRecord(id=job_id, client_id="c", target="local", server_url="http://x")


async def test_quick_job_skips_progress_writes(tmp_path: Path) -> None:
    """A job that ends before the delay is written twice: insert and outcome."""
    async with Journal(tmp_path / "l.sqlite3") as journal:
        await journal.add(record())
        journal.mark_later("job-1", "queued", extra={"number": 3}, submitted_at=1.0)
        journal.mark_later("job-1", "running", started_at=2.0)
        final = await journal.mark("job-1", "succeeded", outputs=["/o.png"])
    assert final.status == "succeeded" and final.extra == {"number": 3}
    assert final.submitted_at == 1.0 and final.started_at == 2.0


async def test_long_job_progress_is_written_after_delay(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A job still going after the delay has its running state in the ledger."""
    monkeypatch.setattr(journal_module, "PROGRESS_WRITE_DELAY", 0.01)
    path = tmp_path / "l.sqlite3"
    async with Journal(path) as journal:
        await journal.add(record())
        journal.mark_later("job-1", "running", started_at=5.0)
        await asyncio.sleep(0.05)
        with Ledger.open(path) as other_process:
            seen = other_process.get("job-1")
    assert seen is not None and seen.status == "running" and seen.started_at == 5.0


async def test_close_writes_what_is_deferred(tmp_path: Path) -> None:
    """Closing (e.g. after --detach) records the deferred queued state."""
    path = tmp_path / "l.sqlite3"
    async with Journal(path) as journal:
        await journal.add(record())
        journal.mark_later("job-1", "queued", submitted_at=1.0)
    with Ledger.open(path) as ledger:
        stored = ledger.get("job-1")
    assert stored is not None and stored.status == "queued"
