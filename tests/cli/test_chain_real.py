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
