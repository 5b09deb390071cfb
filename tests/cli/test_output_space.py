"""A full disk or an unwritable output folder: exit 8, the job named, wait finishes it."""

from __future__ import annotations

from pathlib import Path

import pytest

from comfycine.ledger import Ledger
from tests.batch.support import make_pngs
from tests.cli_support import (
    CliResult,
    Isolation,
    files_under,
    invoke,
    outputs_under,
)
from tests.fakecomfy.server import FakeComfy
from tests.tmpfs import fill, tmpfs

TEMPLATE = "testimage"


@pytest.fixture
def fake(isolation: Isolation, fake_comfy: FakeComfy, monkeypatch: pytest.MonkeyPatch) -> FakeComfy:
    """An isolated CLI pointed at the fake server."""
    monkeypatch.setenv("COMFYUI_URL", fake_comfy.url)
    return fake_comfy


def assert_exit_8(result: CliResult, code: str) -> str:
    """Exit 8 with ``code``, the job named and its wait in the hint; returns the job id."""
    assert result.exit_code == 8, result
    error = result.envelope()["error"]
    job = str(error["details"]["job"])
    assert error["code"] == code
    assert f"comfycine wait {job[:8]}" in error["hint"]
    assert "traceback" not in error["hint"] and "Unexpected" not in error["message"]
    return job


def status_of(isolation: Isolation, job: str) -> str:
    """The job's status in the ledger."""
    with Ledger.open(isolation.data_dir / "ledger.sqlite3") as ledger:
        return ledger.find(job).status


def test_disk_full_is_exit_8_and_wait_finishes_once_there_is_room(
    fake: FakeComfy, isolation: Isolation, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full tmpfs: exit 8 disk_full, job rendered; space freed, wait downloads it."""
    with tmpfs(tmp_path / "small", "2m") as disk:
        monkeypatch.setenv("COMFYCINE_OUTPUT_DIR", str(disk))
        filler = fill(disk)
        result = invoke("generate", TEMPLATE, "--json")
        job = assert_exit_8(result, "disk_full")
        assert status_of(isolation, job) == "rendered"
        assert [p for p in files_under(disk) if p != filler] == []
        person = invoke("wait", job[:8])
        assert person.exit_code == 8, person
        assert "error:" in person.stderr and "report" not in person.stderr
        filler.unlink()
        finished = invoke("wait", job[:8], "--json")
        assert finished.exit_code == 0, finished
        (output,) = outputs_under(disk)
        assert output.stat().st_size > 0 and status_of(isolation, job) == "succeeded"


def test_read_only_output_folder_is_exit_8(
    fake: FakeComfy, isolation: Isolation, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read-only mount as the output folder: exit 8 output_not_writable, job rendered."""
    with tmpfs(tmp_path / "ro", "1m", read_only=True) as disk:
        monkeypatch.setenv("COMFYCINE_OUTPUT_DIR", str(disk))
        job = assert_exit_8(invoke("generate", TEMPLATE, "--json"), "output_not_writable")
        assert status_of(isolation, job) == "rendered"
    monkeypatch.setenv("COMFYCINE_OUTPUT_DIR", str(isolation.output_dir))
    assert invoke("wait", job[:8], "--json").exit_code == 0
    assert len(outputs_under(isolation.output_dir)) == 1


def test_a_file_where_the_output_folder_goes_is_exit_8(
    fake: FakeComfy, isolation: Isolation, monkeypatch: pytest.MonkeyPatch
) -> None:
    """COMFYCINE_OUTPUT_DIR naming a file (any user, any OS): exit 8, not a bug report."""
    isolation.output_dir.parent.mkdir(parents=True, exist_ok=True)
    isolation.output_dir.write_text("not a folder")
    result = invoke("generate", TEMPLATE, "--json")
    job = assert_exit_8(result, "output_not_writable")
    assert result.envelope()["error"]["details"]["folder"].startswith(str(isolation.output_dir))
    isolation.output_dir.unlink()
    assert invoke("wait", job[:8], "--json").exit_code == 0
    assert len(outputs_under(isolation.output_dir)) == 1


def test_batch_stops_on_an_unwritable_folder_and_the_rerun_collects(
    fake: FakeComfy, isolation: Isolation, tmp_path: Path
) -> None:
    """Outputs cannot be written: the batch stops taking items (exit 8); the rerun collects."""
    folder = tmp_path / "in"
    make_pngs(folder, 3)
    isolation.output_dir.parent.mkdir(parents=True, exist_ok=True)
    isolation.output_dir.write_text("not a folder")
    stopped = invoke("batch", str(folder), "testblur", "--concurrency", "1", "--json")
    assert stopped.exit_code == 8, stopped
    error = stopped.envelope()["error"]
    assert error["code"] == "output_not_writable" and "batch" in error["hint"]
    assert fake.count("POST", "/prompt") == 1  # no more renders stranded on the server
    isolation.output_dir.unlink()
    again = invoke("batch", str(folder), "testblur", "--json")
    assert again.exit_code == 0, again
    assert again.envelope()["data"]["succeeded"] == 3
    assert fake.count("POST", "/prompt") == 3  # the stranded one collected, not re-rendered
    assert len(outputs_under(isolation.output_dir)) == 3
