"""Running a batch against the fake ComfyUI (and the fake cloud): pipelining, failures,
resuming after a stop, several targets."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from comfycine.batch import BatchResult, batch, run_batch
from comfycine.batch import runner as runner_module
from comfycine.errors import Interrupted, TargetUnreachable
from comfycine.ledger import JobRecord, Ledger
from comfycine.settings import Settings, resolve
from tests.batch.support import SETTLE_SECONDS, make_pngs, wait_for
from tests.cli_support import Isolation
from tests.fakecloud.server import FakeCloud
from tests.fakecomfy.files import write_png
from tests.fakecomfy.server import FakeComfy


@pytest.fixture
def settings(isolation: Isolation, fake_comfy: FakeComfy) -> Settings:
    """Settings for the isolated dirs, the local target being the fake ComfyUI."""
    return resolve({"comfyui_url": fake_comfy.url})


def in_thread(settings: Settings, folder: Path, **options: Any) -> tuple[threading.Thread, dict]:
    """Start ``batch`` in a thread; its result (or error) lands in the returned dict."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["result"] = batch(settings, folder, "testblur", **options)
        except Exception as exc:
            box["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    return thread, box


def ledger_rows(settings: Settings) -> list[JobRecord]:
    """Every job in the ledger."""
    with Ledger.open(settings.ledger_path) as ledger:
        return ledger.recent(1000)


@pytest.mark.parametrize("concurrency", [1, 2, 3])
def test_at_most_n_jobs_in_flight(
    settings: Settings, fake_comfy: FakeComfy, tmp_path: Path, concurrency: int
) -> None:
    """With the server holding every job, exactly N are submitted; the rest follow after."""
    folder = tmp_path / "in"
    make_pngs(folder, 5)
    fake_comfy.pause()
    thread, box = in_thread(settings, folder, concurrency=str(concurrency))
    wait_for(lambda: len(fake_comfy.prompts_received) >= concurrency)
    time.sleep(SETTLE_SECONDS)
    assert len(fake_comfy.prompts_received) == concurrency
    fake_comfy.resume()
    thread.join(60)
    result: BatchResult = box["result"]
    assert result.count("succeeded") == 5 and len(fake_comfy.prompts_received) == 5


def test_failing_item_does_not_stop_the_others(
    settings: Settings, fake_comfy: FakeComfy, tmp_path: Path
) -> None:
    """A 2×2 image fails in the blur node; the other items are rendered and recorded."""
    folder = tmp_path / "in"
    make_pngs(folder, 3)
    write_png(folder / "tiny.png", 2, 2, 0x102030, {})
    result = batch(settings, folder, "testblur")
    by_name = {i.name: i for i in result.items}
    assert result.count("succeeded") == 3 and result.count("failed") == 1
    tiny = by_name["tiny.png"]
    assert (
        tiny.error == "node_exception" and tiny.job is not None and "Padding" in (tiny.reason or "")
    )
    failure = result.failure()
    assert failure is not None and failure.code == "batch_failed_items"
    assert failure.exit_code == 5 and len(failure.details["items"]) == 4
    rows = {r.id: r for r in ledger_rows(settings)}
    assert rows[tiny.job].status == "failed" and rows[tiny.job].batch_id == result.batch
    for item in result.items:
        if item.status == "succeeded":
            assert Path(item.outputs[0]).is_file()
            assert rows[item.job or ""].source_path == str(item.path)


def test_second_run_skips_done_and_reports_failed_earlier(
    settings: Settings, fake_comfy: FakeComfy, tmp_path: Path
) -> None:
    """Rerun: nothing submitted; failed items are failed-earlier until --retry-failed."""
    folder = tmp_path / "in"
    make_pngs(folder, 3)
    fake_comfy.fail_next("RuntimeError", "flaky driver")
    first = batch(settings, folder, "testblur", concurrency="1")
    assert (first.count("succeeded"), first.count("failed")) == (2, 1)
    sent = len(fake_comfy.prompts_received)
    second = batch(settings, folder, "testblur")
    assert len(fake_comfy.prompts_received) == sent
    assert all(i.earlier for i in second.items) and second.count("failed") == 1
    third = batch(settings, folder, "testblur", retry_failed=True)
    assert len(fake_comfy.prompts_received) == sent + 1
    assert third.count("succeeded") == 3 and third.failure() is None
    assert [i.plan for i in third.items].count("retry") == 1


def test_dry_run_sends_nothing(settings: Settings, fake_comfy: FakeComfy, tmp_path: Path) -> None:
    """--dry-run plans every item and contacts no server."""
    folder = tmp_path / "in"
    make_pngs(folder, 2)
    result = batch(settings, folder, "testblur", dry_run=True)
    assert [i.plan for i in result.items] == ["run", "run"] and result.dry_run
    assert fake_comfy.requests == [] and ledger_rows(settings) == []


def test_stop_leaves_jobs_running_and_rerun_follows_them(
    settings: Settings, fake_comfy: FakeComfy, tmp_path: Path
) -> None:
    """Cancelled mid-batch: the rerun follows the submitted jobs and runs the rest."""
    folder = tmp_path / "in"
    make_pngs(folder, 4)
    fake_comfy.pause()

    async def stopped_midway() -> None:
        task = asyncio.create_task(run_batch(settings, folder, "testblur"))
        while len(fake_comfy.prompts_received) < 2:
            await asyncio.sleep(0.01)
        task.cancel()
        await task

    with pytest.raises(Interrupted) as info:
        asyncio.run(stopped_midway())
    assert "keep running on the server" in info.value.message
    assert {r.status for r in ledger_rows(settings)} <= {"submitting", "queued"}
    assert len(ledger_rows(settings)) == 2
    fake_comfy.resume()
    result = batch(settings, folder, "testblur")
    assert result.count("succeeded") == 4
    assert sorted(i.plan for i in result.items) == ["resume", "resume", "run", "run"]
    assert len(fake_comfy.prompts_received) == 4
    succeeded = [r for r in ledger_rows(settings) if r.status == "succeeded"]
    assert sorted(r.item_key or "" for r in succeeded) == sorted(i.key or "" for i in result.items)


def test_job_recorded_but_never_sent_is_submitted_afresh(
    settings: Settings, fake_comfy: FakeComfy, tmp_path: Path
) -> None:
    """A job recorded but never POSTed is marked lost and its item runs afresh."""
    folder = tmp_path / "in"
    make_pngs(folder, 1)
    (planned,) = batch(settings, folder, "testblur", dry_run=True).items
    ghost = str(uuid.uuid4())
    with Ledger.open(settings.ledger_path) as ledger:
        ledger.add(
            JobRecord(
                ghost, "c", "local", fake_comfy.url, status="submitting", item_key=planned.key
            )
        )
    (item,) = batch(settings, folder, "testblur").items
    assert item.status == "succeeded" and item.job != ghost
    assert {r.id: r.status for r in ledger_rows(settings)}[ghost] == "lost"
    assert len(fake_comfy.prompts_received) == 1


def test_two_targets_share_the_queue(
    settings: Settings,
    fake_comfy: FakeComfy,
    fake_cloud: FakeCloud,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """local,cloud: the cloud holds one job at a time while the PC takes the rest."""
    monkeypatch.setenv("COMFY_CLOUD_URL", fake_cloud.url)
    monkeypatch.setenv("COMFY_CLOUD_API_KEY", fake_cloud.api_key)
    both = resolve({"comfyui_url": fake_comfy.url})
    folder = tmp_path / "in"
    make_pngs(folder, 5)
    fake_cloud.pause()
    thread, box = in_thread(both, folder, targets=["local", "cloud"])
    wait_for(lambda: len(fake_comfy.prompts_received) == 4)
    time.sleep(SETTLE_SECONDS)
    assert len(fake_cloud.v2_submits) == 1
    fake_cloud.resume()
    thread.join(60)
    result: BatchResult = box["result"]
    targets = sorted(i.target or "" for i in result.items)
    assert result.count("succeeded") == 5 and targets == ["cloud"] + ["local"] * 4


def test_unreachable_target_is_dropped_when_another_works(
    isolation: Isolation, fake_cloud: FakeCloud, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The PC down at the start: with the cloud named too, everything runs on the cloud."""
    monkeypatch.setenv("COMFY_CLOUD_URL", fake_cloud.url)
    monkeypatch.setenv("COMFY_CLOUD_API_KEY", fake_cloud.api_key)
    settings = resolve({"comfyui_url": "http://127.0.0.1:9"})
    folder = tmp_path / "in"
    make_pngs(folder, 2)
    events: list[str] = []
    result = batch(
        settings,
        folder,
        "testblur",
        targets=["local", "cloud"],
        on_event=lambda n, p: events.append(n),
    )
    assert {i.target for i in result.items} == {"cloud"} and result.count("succeeded") == 2
    assert "target_down" in events


def test_target_lost_midway_keeps_the_rest_pending(
    settings: Settings, fake_comfy: FakeComfy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The only target lost after one item: the rest stay pending, exit 3, none failed."""
    folder = tmp_path / "in"
    make_pngs(folder, 4)
    real = runner_module.run_prepared_on
    calls: list[int] = []

    async def flaky(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) > 1:
            raise TargetUnreachable("Cannot reach ComfyUI.", details={"reason": "refused"})
        return await real(*args, **kwargs)

    monkeypatch.setattr(runner_module, "run_prepared_on", flaky)
    with pytest.raises(TargetUnreachable) as info:
        batch(settings, folder, "testblur", concurrency="1")
    details = info.value.details
    assert (details["succeeded"], details["failed"], details["pending"]) == (1, 0, 3)
    assert [r.status for r in ledger_rows(settings)] == ["succeeded"]


def test_notify_is_awaited_with_the_summary(
    settings: Settings, fake_comfy: FakeComfy, tmp_path: Path
) -> None:
    """The notify hook gets one summary line and the data; its failure changes nothing."""
    folder = tmp_path / "in"
    make_pngs(folder, 1)
    sent: list[tuple[str, dict[str, Any]]] = []

    async def notify(text: str, data: dict[str, Any]) -> None:
        sent.append((text, data))
        raise RuntimeError("telegram down")

    result = batch(settings, folder, "testblur", notify=notify)
    assert result.count("succeeded") == 1
    assert len(sent) == 1 and "1 succeeded" in sent[0][0] and sent[0][1]["total"] == 1


def test_second_run_of_a_running_batch_is_refused(
    settings: Settings, fake_comfy: FakeComfy, tmp_path: Path
) -> None:
    """While one process holds the batch, another run of it stops at once (exit 2)."""
    from comfycine.batch.plan import batch_id
    from comfycine.batch.run import batch_lock
    from comfycine.errors import UsageError

    folder = tmp_path / "in"
    make_pngs(folder, 1)
    with batch_lock(settings, batch_id(folder, "testblur", None, [])):
        with pytest.raises(UsageError) as info:
            batch(settings, folder, "testblur")
        assert info.value.code == "batch_running"
        assert batch(settings, folder, "testblur", dry_run=True).count("pending") == 1
    assert fake_comfy.prompts_received == []
    assert batch(settings, folder, "testblur").count("succeeded") == 1


def test_everything_done_needs_no_server(
    settings: Settings, fake_comfy: FakeComfy, tmp_path: Path
) -> None:
    """A batch whose items are all done answers from the ledger, even with the server off."""
    folder = tmp_path / "in"
    make_pngs(folder, 2)
    assert batch(settings, folder, "testblur").count("succeeded") == 2
    fake_comfy.stop()
    again = batch(settings, folder, "testblur")
    assert again.count("succeeded") == 2 and all(i.earlier for i in again.items)
