"""Chained stages on the real CPU ComfyUI: a take's output feeds the next job where it lies."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_support import Isolation, invoke
from tests.real_server import RealComfyUI

pytestmark = pytest.mark.real

PNG = b"\x89PNG\r\n\x1a\n"


def test_a_previous_output_feeds_the_next_job_without_an_upload(
    real: RealComfyUI, isolation: Isolation
) -> None:
    """--image job:ID: the server reads its own output (no new input file); lineage kept."""
    first = invoke("generate", "testimage", "--set", "color=4210752", "--json")
    assert first.exit_code == 0, first
    job = first.envelope()["data"]["job"]
    inputs_before = sorted(p.name for p in (real.base_dir / "input").rglob("*") if p.is_file())
    second = invoke("generate", "testblur", "--image", f"job:{job[:8]}", "--json")
    assert second.exit_code == 0, second
    data = second.envelope()["data"]
    assert Path(data["outputs"][0]).read_bytes().startswith(PNG)
    inputs_after = sorted(p.name for p in (real.base_dir / "input").rglob("*") if p.is_file())
    assert inputs_after == inputs_before  # nothing uploaded: the output was used in place
    status = invoke("status", data["job"], "--json").envelope()["data"]["job"]
    assert status["params"]["input"] == f"job:{job}:1"


def test_a_job_reference_that_cannot_be_used_is_one_clear_line(
    real: RealComfyUI, isolation: Isolation
) -> None:
    """A job with no such output, or an unknown job: exit 2, nothing sent."""
    first = invoke("generate", "testimage", "--json").envelope()["data"]["job"]
    too_far = invoke("generate", "testblur", "--image", f"job:{first}:3", "--json")
    assert too_far.exit_code == 2, too_far
    assert too_far.envelope()["error"]["code"] == "bad_job_reference"
    unknown = invoke("generate", "testblur", "--image", "job:ffffffff", "--json")
    assert unknown.exit_code == 2 and unknown.envelope()["error"]["code"] == "unknown_job"


def test_a_take_file_feeds_the_next_job_where_it_lies(
    real: RealComfyUI, isolation: Isolation
) -> None:
    """--image take:FILE of a take this Mac rendered: read on the server, not uploaded."""
    first = invoke("generate", "testimage", "--set", "color=8421376", "--json")
    assert first.exit_code == 0, first
    made = first.envelope()["data"]
    inputs_before = sorted(p.name for p in (real.base_dir / "input").rglob("*") if p.is_file())
    second = invoke("generate", "testblur", "--image", f"take:{made['outputs'][0]}", "--json")
    assert second.exit_code == 0, second
    inputs_after = sorted(p.name for p in (real.base_dir / "input").rglob("*") if p.is_file())
    assert inputs_after == inputs_before
    data = second.envelope()["data"]
    assert data["params"]["input"] == f"job:{made['job']}:1"
    lineage = invoke("take", made["outputs"][0], "--json").envelope()["data"]["lineage"]
    assert [(c["job"], c["kind"]) for c in lineage["children"]] == [(data["job"], "stage")]


def test_a_take_file_from_elsewhere_is_uploaded_with_its_lineage(
    real: RealComfyUI, isolation: Isolation, tmp_path: Path
) -> None:
    """take:FILE of a take this ledger does not know (another Mac): uploaded, and the job
    still records the take it came from."""
    import shutil

    first = invoke("generate", "testimage", "--set", "color=255", "--json").envelope()["data"]
    elsewhere = tmp_path / "from-the-mini.png"
    shutil.copy(first["outputs"][0], elsewhere)
    for suffix in ("", "-wal", "-shm"):  # this Mac never saw that take
        (isolation.data_dir / f"ledger.sqlite3{suffix}").unlink(missing_ok=True)
    second = invoke("generate", "testblur", "--image", f"take:{elsewhere}", "--json")
    assert second.exit_code == 0, second
    assert second.envelope()["data"]["params"]["input"] == f"job:{first['job']}"
    uploaded = [p for p in (real.base_dir / "input").rglob("from-the-mini*") if p.is_file()]
    assert uploaded, "the file was not uploaded"
