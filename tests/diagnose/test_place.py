"""Fixes name the machine the job ran on: Comfy Cloud, the PC, or a named target."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from comfycine.diagnose import Diagnosis, JobContext, diagnose
from comfycine.diagnose.context import context_from_record
from comfycine.diagnose.place import is_cloud_url, place_of
from comfycine.errors import (
    ComfycineError,
    JobFailed,
    JobInterrupted,
    JobLost,
    ServerError,
    TargetUnreachable,
    ValidationFailed,
)
from comfycine.ledger import JobRecord

STUDIO_URL = "http://100.64.1.2:8188"
DEPLOYMENT_URL = "https://my-flux.run.comfy.app"
_PC = re.compile(r"\bPC\b|Pinokio")
_CLOUD_SITES = re.compile(r"comfy\.org")


def _exception(message: str) -> Callable[[], ComfycineError]:
    return lambda: JobFailed(
        "failed", details={"exception_type": "RuntimeError", "exception_message": message}
    )


# One builder per failure a job can end with (fresh each time: diagnosis reads details).
FAILURES: dict[str, Callable[[], ComfycineError]] = {
    "server_error": lambda: ServerError("The server answered HTTP 500.", details={"status": 500}),
    "node_exception": _exception("something broke"),
    "missing_python_package": _exception("No module named 'sageattention'"),
    "missing_file": _exception("No such file or directory: 'masks/a.png'"),
    "gpu_unsupported": _exception("CUDA error: no kernel image is available"),
    "out_of_memory": lambda: JobFailed("Out of GPU memory", code="out_of_memory"),
    "job_lost": lambda: JobLost("gone"),
    "job_interrupted": lambda: JobInterrupted("stopped"),
    "unknown_node": lambda: ValidationFailed(
        "Cannot execute because node VHS_VideoCombine does not exist.", code="unknown_node"
    ),
    "missing_model": lambda: ValidationFailed(
        "bad",
        code="missing_model",
        details={
            "problems": [
                {
                    "code": "value_not_in_list",
                    "input": "ckpt_name",
                    "message": "ckpt_name: 'x.safetensors' not in []",
                }
            ]
        },
    ),
    "cancel_ignored": lambda: JobFailed("still running", code="cancel_ignored"),
    "unreachable": lambda: TargetUnreachable("x", details={"url": STUDIO_URL, "reason": "timeout"}),
}


def _words(diagnosis: Diagnosis) -> str:
    fixes = " ".join(f"{f.text} {f.command or ''}" for f in diagnosis.fixes)
    return f"{diagnosis.cause} {fixes}"


def _at(target: str, url: str | None = None) -> JobContext:
    return JobContext(job="0123456789abcdef", target=target, server_url=url)


@pytest.mark.parametrize("failure", sorted(FAILURES))
@pytest.mark.parametrize(("target", "url"), [("cloud", None), ("flux", DEPLOYMENT_URL)])
def test_a_cloud_failure_never_points_at_the_pc(failure: str, target: str, url: str) -> None:
    """On Comfy Cloud or a *.run.comfy.app deployment, no cause or fix mentions the PC."""
    error = FAILURES[failure]()
    if failure == "unreachable":
        error.details["url"] = url or "https://cloud.comfy.org"
    found = diagnose(error, _at(target, url))
    assert not _PC.search(_words(found)), _words(found)


@pytest.mark.parametrize("failure", sorted(FAILURES))
def test_a_local_failure_never_points_at_the_cloud_sites(failure: str) -> None:
    """On the PC, no fix sends the filmmaker to cloud.comfy.org or platform.comfy.org."""
    found = diagnose(FAILURES[failure](), _at("local", STUDIO_URL))
    assert not _CLOUD_SITES.search(_words(found)), _words(found)


@pytest.mark.parametrize(
    "failure", ["server_error", "missing_python_package", "missing_file", "cancel_ignored"]
)
def test_a_named_target_is_named_with_its_url(failure: str) -> None:
    """On target studio, the fixes name studio and its URL, never "the PC"."""
    found = diagnose(FAILURES[failure](), _at("studio", STUDIO_URL))
    fixes = " ".join(f"{f.text} {f.command or ''}" for f in found.fixes)
    assert "studio" in fixes and STUDIO_URL in fixes, fixes
    assert not _PC.search(_words(found)), _words(found)


def test_cloud_server_error_opens_the_job_in_comfy_cloud() -> None:
    """A cloud job's server error → the job in Comfy Cloud, and debug JOB for its error."""
    found = diagnose(FAILURES["server_error"](), _at("cloud"))
    assert "cloud.comfy.org" in found.fixes[0].text
    assert found.fixes[0].command == "comfycine debug 01234567 --json"
    assert found.fixes[1].command == "comfycine doctor --target cloud"


def test_local_server_error_looks_at_the_pc_console() -> None:
    """A local job's server error → the ComfyUI console on the PC, and doctor."""
    found = diagnose(FAILURES["server_error"](), _at("local"))
    assert "console on the PC" in found.fixes[0].text
    assert found.fixes[1].command == "comfycine doctor"


def test_named_target_out_of_memory_frees_that_target() -> None:
    """An OOM on studio → comfycine free --target studio (not the PC's memory)."""
    found = diagnose(FAILURES["out_of_memory"](), _at("studio", STUDIO_URL))
    assert "comfycine free --target studio" in [f.command for f in found.fixes]


def test_unreachable_named_target_is_woken_by_name() -> None:
    """A timeout to studio → wake studio (its URL), doctor --target studio."""
    found = diagnose(FAILURES["unreachable"](), _at("studio", STUDIO_URL))
    assert "Wake studio" in found.fixes[0].text
    assert found.fixes[1].command == "comfycine doctor --target studio"


def test_without_context_a_cloud_clients_error_is_the_clouds() -> None:
    """No job context: a "Comfy Cloud answered …" error is still read as the cloud's."""
    error = ServerError("Comfy Cloud answered HTTP 500 to GET /api/jobs: oops")
    assert "cloud.comfy.org" in diagnose(error).fixes[0].text


def test_ledger_record_gives_target_and_url() -> None:
    """A ledger job's context carries its target and server URL (no password)."""
    record = JobRecord(
        id="abc", client_id="c", target="studio", server_url="http://u:pw@100.64.1.2:8188"
    )
    ctx = context_from_record(record, None)
    assert (ctx.target, ctx.server_url) == ("studio", STUDIO_URL)
    assert place_of(ctx).label == f"studio ({STUDIO_URL})"


@pytest.mark.parametrize(
    ("url", "cloud"),
    [
        ("https://cloud.comfy.org", True),
        ("https://platform.comfy.org/x", True),
        (DEPLOYMENT_URL, True),
        (STUDIO_URL, False),
        ("https://notcomfy.org", False),
        ("", False),
    ],
)
def test_cloud_urls_are_recognised(url: str, cloud: bool) -> None:
    """Comfy Cloud, the platform and *.run.comfy.app are the cloud; other hosts are not."""
    assert is_cloud_url(url) is cloud
