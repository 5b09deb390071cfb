"""Item keys and the ledger's verdict on each item: run, retry, resume or skip."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import pytest

from comfycine.batch import plan as plan_module
from comfycine.batch.inputs import discover_inputs, media_parameter
from comfycine.batch.plan import batch_id, decide, plan_items
from comfycine.batch.result import BatchItem
from comfycine.errors import ParameterError
from comfycine.ledger import JobRecord, Ledger
from comfycine.templates import Template, load_template, template_dirs
from tests.batch.support import make_pngs, make_template


@pytest.fixture
def blur() -> Template:
    """The shipped testblur template (one image input, radius, sigma)."""
    return load_template("testblur", template_dirs(None))


@pytest.fixture
def ledger(tmp_path: Path) -> Any:
    """An empty ledger."""
    with Ledger.open(tmp_path / "ledger.sqlite3") as opened:
        yield opened


def plan(
    folder: Path, template: Template, ledger: Ledger, *sets: str, retry: bool = False
) -> list[BatchItem]:
    """Plan every file of ``folder`` through ``template``."""
    param = media_parameter(template)
    files = discover_inputs(folder, param, template.name)
    return asyncio.run(
        plan_items(
            files,
            template,
            param,
            ledger,
            prompt=None,
            assignments=list(sets),
            batch="b1",
            retry_failed=retry,
        )
    )


def record(key: str, status: str, **fields: Any) -> JobRecord:
    """A ledger record for item ``key``."""
    return JobRecord(
        id=fields.pop("id", "job-" + status),
        client_id="c",
        target="local",
        server_url="http://127.0.0.1:8188",
        status=status,
        item_key=key,
        **fields,
    )


def test_key_is_stable_and_follows_content(tmp_path: Path, blur: Template, ledger: Ledger) -> None:
    """Same content → same key across plans and renames; other content or values → another."""
    folder = tmp_path / "in"
    make_pngs(folder, 2)
    first = {i.name: i.key for i in plan(folder, blur, ledger)}
    again = {i.name: i.key for i in plan(folder, blur, ledger)}
    assert first == again and first["shot00.png"] != first["shot01.png"]
    moved = tmp_path / "moved"
    moved.mkdir()
    shutil.copy(folder / "shot00.png", moved / "renamed.png")
    assert plan(moved, blur, ledger)[0].key == first["shot00.png"]
    other = {i.name: i.key for i in plan(folder, blur, ledger, "radius=5")}
    assert other["shot00.png"] != first["shot00.png"]


def test_drawn_seeds_stay_out_of_the_key_set_ones_go_in(tmp_path: Path, ledger: Ledger) -> None:
    """A random seed differs per run but not the key; a seed given with --set changes it."""
    graph = {
        "1": {"class_type": "LoadImage", "inputs": {"image": "PARAM_IMAGE"}},
        "2": {"class_type": "KSampler", "inputs": {"seed": "PARAM_INT_SEED", "latent_image": 1}},
    }
    template = make_template(tmp_path / "wf", "seeded", graph)
    folder = tmp_path / "in"
    make_pngs(folder, 1)
    runs = [plan(folder, template, ledger)[0] for _ in range(2)]
    assert runs[0].prepared is not None and runs[1].prepared is not None
    assert runs[0].prepared.seeds["seed"] != runs[1].prepared.seeds["seed"]
    assert runs[0].key == runs[1].key
    assert plan(folder, template, ledger, "seed=7")[0].key != runs[0].key


def test_prepared_jobs_carry_batch_source_and_key(
    tmp_path: Path, blur: Template, ledger: Ledger
) -> None:
    """Each item's job records its batch id, its input path and its key."""
    folder = tmp_path / "in"
    (path,) = make_pngs(folder, 1)
    (item,) = plan(folder, blur, ledger)
    assert item.prepared is not None and item.plan == "run" and item.status == "pending"
    assert (item.prepared.batch_id, item.prepared.source_path) == ("b1", str(path))
    assert item.prepared.item_key == item.key and item.prepared.media == {"input": path}


def test_duplicate_content_runs_once(tmp_path: Path, blur: Template, ledger: Ledger) -> None:
    """A second file with the same bytes is skipped, naming the first."""
    folder = tmp_path / "in"
    (path,) = make_pngs(folder, 1)
    shutil.copy(path, folder / "z-copy.png")
    items = plan(folder, blur, ledger)
    assert [i.plan for i in items] == ["run", "skip"]
    assert items[1].reason == "same content as shot00.png"


def test_unreadable_file_is_skipped_others_planned(
    tmp_path: Path, blur: Template, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file that cannot be opened is a skipped item; the others are planned."""
    folder = tmp_path / "in"
    make_pngs(folder, 2)
    real = plan_module.content_hash

    def guarded(path: Path) -> str:
        if path.name == "shot00.png":
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(plan_module, "content_hash", guarded)
    items = plan(folder, blur, ledger)
    assert (items[0].status, items[0].reason) == ("skipped", "unreadable: Permission denied")
    assert items[1].plan == "run"


def test_bad_set_value_fails_the_whole_batch(
    tmp_path: Path, blur: Template, ledger: Ledger
) -> None:
    """An out-of-bounds --set is a usage error before any item is planned."""
    folder = tmp_path / "in"
    make_pngs(folder, 2)
    with pytest.raises(ParameterError):
        plan(folder, blur, ledger, "radius=999")


def test_ledger_verdicts(tmp_path: Path) -> None:
    """succeeded+outputs → skip; outputs gone → run; live → resume; item failure → failed."""
    output = tmp_path / "out.png"
    output.write_bytes(b"png")

    def verdict(*records: JobRecord, retry: bool = False) -> BatchItem:
        item = BatchItem(tmp_path / "a.png", key="k")
        decide(item, list(records), retry_failed=retry)
        return item

    done = verdict(record("k", "succeeded", outputs=[str(output)]))
    assert (done.status, done.plan, done.earlier, done.job) == (
        "succeeded",
        "skip",
        True,
        "job-succeeded",
    )
    gone = verdict(record("k", "succeeded", outputs=[str(tmp_path / "deleted.png")]))
    assert gone.plan == "run" and "gone" in (gone.reason or "")
    for status in ("submitting", "queued", "running"):
        live = verdict(record("k", status))
        assert live.plan == "resume" and live.resume is not None and live.resume.status == status
    failed = record("k", "failed", error={"code": "node_exception", "message": "boom", "exit": 5})
    earlier = verdict(failed)
    assert (earlier.status, earlier.plan, earlier.error) == ("failed", "skip", "node_exception")
    assert verdict(failed, retry=True).plan == "retry"


def test_server_and_account_failures_are_run_again(tmp_path: Path) -> None:
    """Lost jobs and failures of the target (exit 3) or account (exit 7) are not the item's."""
    for status, exit_code in (("lost", 5), ("failed", 3), ("failed", 7)):
        item = BatchItem(tmp_path / "a.png", key="k")
        error = {"code": "x", "message": "m", "exit": exit_code}
        decide(item, [record("k", status, error=error)], retry_failed=False)
        assert item.plan == "run", (status, exit_code)


def test_ledger_finds_jobs_by_item_key(tmp_path: Path, ledger: Ledger) -> None:
    """by_item_key returns the item's jobs newest first, and nobody else's."""
    ledger.add(record("k1", "failed", id="old", created_at=1.0))
    ledger.add(record("k1", "succeeded", id="new", created_at=2.0))
    ledger.add(record("k2", "succeeded", id="other", created_at=3.0))
    assert [r.id for r in ledger.by_item_key("k1")] == ["new", "old"]


def test_batch_id_is_stable_per_folder_template_and_values(tmp_path: Path) -> None:
    """The same batch gets the same id; another folder or value another."""
    first = batch_id(tmp_path, "testblur", None, ["radius=2"])
    assert first == batch_id(tmp_path, "testblur", None, ["radius=2"])
    assert first != batch_id(tmp_path / "x", "testblur", None, ["radius=2"])
    assert first != batch_id(tmp_path, "testblur", None, ["radius=3"])
