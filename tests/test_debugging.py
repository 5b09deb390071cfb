"""debug: the Tailscale look at an unreachable PC (fake tailscale CLI), and pasted or
recorded errors diagnosed for the machine they came from (nothing is contacted)."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pytest

from comfycine.debugging import tailscale_problem
from comfycine.ledger import JobRecord, Ledger
from tests.cli_support import Isolation, invoke
from tests.faketailscale import write_fake_tailscale
from tests.ports import closed_port

PC_URL = "http://100.101.102.103:8188"  # the PC peer of the recorded states; never dialled


def _problem(tmp_path: Path, state: str, url: str = PC_URL) -> tuple[str, str] | None:
    cli = write_fake_tailscale(tmp_path / "bin", state=state)
    return asyncio.run(tailscale_problem(url, str(cli)))


@pytest.mark.parametrize("state", ["stopped", "logged-out"])
def test_tailscale_down_on_this_mac_is_the_problem(tmp_path: Path, state: str) -> None:
    """Stopped or logged out: a problem with its fix (tailscale up / login)."""
    problem = _problem(tmp_path, state)
    assert problem is not None
    assert "tailscale" in problem[1].lower()


def test_offline_pc_is_the_problem(tmp_path: Path) -> None:
    """The PC's peer offline: the problem says offline."""
    problem = _problem(tmp_path, "peer-offline")
    assert problem is not None and "offline" in problem[0].lower()


def test_healthy_tailnet_is_no_problem(tmp_path: Path) -> None:
    """Everything up: None (the probe's own reason stands)."""
    assert _problem(tmp_path, "healthy") is None


def test_not_a_tailscale_address_skips_the_cli(tmp_path: Path) -> None:
    """A LAN or loopback URL: None without running the CLI."""
    cli = write_fake_tailscale(tmp_path / "bin", state="stopped")
    assert asyncio.run(tailscale_problem("http://127.0.0.1:8188", str(cli))) is None


# --------------------------------------------------- pasted and recorded errors, CLI level


def _diagnosis(*argv: str) -> dict[str, Any]:
    result = invoke("debug", *argv, "--json")
    assert result.exit_code == 0, result
    diagnosis: dict[str, Any] = result.envelope()["data"]["diagnosis"]
    return diagnosis


def _fix_words(diagnosis: dict[str, Any]) -> str:
    return " ".join(f"{f['text']} {f['command'] or ''}" for f in diagnosis["fixes"])


@pytest.fixture
def studio(isolation: Isolation, monkeypatch: pytest.MonkeyPatch) -> str:
    """A named target studio on a closed loopback port (never dialled by these tests)."""
    url = f"http://127.0.0.1:{closed_port()}"
    monkeypatch.setenv("COMFYCINE_TARGETS", f"studio={url}")
    return url


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("402 Payment Required: Insufficient credits to run this workflow", "cloud_credits"),
        ("HTTP 429 Too Many Requests: queue_full, Retry-After: 30", "cloud_queue_full"),
        ("HTTP 429 Too Many Requests: rate_limited, Retry-After: 30", "cloud_rate_limited"),
        ("Error: 401 Unauthorized: Comfy Cloud rejected the API key", "cloud_auth"),
        (
            '{"error": {"type": "QUEUE_LIMIT", "message": "Queue limit reached"}}',
            "cloud_queue_full",
        ),
        ('{"error": {"type": "FREE_TIER_EXHAUSTED", "message": "Upgrade"}}', "cloud_plan"),
        ('{"type": "CLOUD_SUBSCRIPTION_REQUIRED", "message": "Subscribe"}', "cloud_plan"),
        (
            '{"error": {"code": "insufficient_credits", "message": "No credits", "details": {}}}',
            "cloud_credits",
        ),
        ('{"code": "node_execution_error", "message": "CUDA out of memory"}', "out_of_memory"),
    ],
)
def test_pasted_cloud_errors_are_recognised(isolation: Isolation, text: str, code: str) -> None:
    """debug --error-text reads each pasted Comfy Cloud form (text, v1, v2) as its code."""
    assert _diagnosis("--error-text", text)["code"] == code


def test_pasted_402_says_add_credits_or_render_locally(isolation: Isolation) -> None:
    """The new user's 402 → cloud_credits: platform.comfy.org, or --target local."""
    found = _diagnosis(
        "--error-text", "402 Payment Required: Insufficient credits to run this workflow"
    )
    assert found["code"] == "cloud_credits"
    assert "platform.comfy.org" in found["fixes"][0]["text"]
    assert "--target local" in _fix_words(found)


def test_pasted_429_waits_the_retry_after(isolation: Isolation) -> None:
    """A rate-limit paste with Retry-After: 30 → wait 30 s and retry."""
    found = _diagnosis("--error-text", "HTTP 429 Too Many Requests: rate_limited, Retry-After: 30")
    assert found["fixes"][0]["text"] == "Wait 30 s and retry."


def test_pasted_401_without_a_target_names_both_settings(isolation: Isolation) -> None:
    """'Error: 401 Unauthorized' alone → auth_refused naming the cloud key and target tokens."""
    found = _diagnosis("--error-text", "Error: 401 Unauthorized")
    assert found["code"] == "auth_refused"
    assert "COMFY_CLOUD_API_KEY" in _fix_words(found)
    assert "COMFYCINE_TARGET_<NAME>_TOKEN" in _fix_words(found)


def test_pasted_401_on_a_named_target_names_it(studio: str) -> None:
    """The same paste with --target studio → target_auth, studio's URL and variables."""
    found = _diagnosis("--error-text", "Error: 401 Unauthorized", "--target", "studio")
    assert found["code"] == "target_auth"
    assert studio in found["cause"]
    assert "COMFYCINE_TARGET_STUDIO_TOKEN" in found["fixes"][0]["text"]
    assert "COMFY_CLOUD_API_KEY" not in _fix_words(found)


def test_pasted_401_naming_a_targets_url_is_that_targets(studio: str) -> None:
    """A 401 whose text names studio's URL → target_auth for studio, no --target needed."""
    found = _diagnosis("--error-text", f"401 Unauthorized for url '{studio}/prompt'")
    assert found["code"] == "target_auth"
    assert "COMFYCINE_TARGET_STUDIO_TOKEN" in found["fixes"][0]["text"]


def test_pasted_401_on_the_cloud_target_is_cloud_auth(isolation: Isolation) -> None:
    """The same paste with --target cloud → cloud_auth and doctor --target cloud."""
    found = _diagnosis("--error-text", "Error: 401 Unauthorized", "--target", "cloud")
    assert found["code"] == "cloud_auth"
    assert "comfycine doctor --target cloud" in _fix_words(found)


def _failed_job(isolation: Isolation, target: str, url: str) -> str:
    """A job recorded as failed on ``target`` with a server error (HTTP 500)."""
    error = {
        "code": "server_error",
        "message": "The server answered HTTP 500 to GET /history.",
        "hint": "",
        "details": {"status": 500},
        "exit": 4,
    }
    job = f"{target[:4]:0<4}1234-aaaa-bbbb-cccc-0123456789ab"
    record = JobRecord(id=job, client_id="c", target=target, server_url=url, status="failed")
    with Ledger.open(isolation.data_dir / "ledger.sqlite3") as ledger:
        ledger.add(record)
        ledger.update(job, error=error)
    return job


def test_a_cloud_jobs_failure_never_points_at_the_pc(isolation: Isolation) -> None:
    """debug of a failed cloud job → the job in Comfy Cloud and debug JOB, never the PC."""
    job = _failed_job(isolation, "cloud", "https://cloud.comfy.org")
    found = _diagnosis(job[:8])
    assert not re.search(r"\bPC\b|Pinokio", json.dumps(found)), found
    assert "cloud.comfy.org" in found["fixes"][0]["text"]
    assert found["fixes"][0]["command"] == f"comfycine debug {job[:8]} --json"


def test_a_local_jobs_failure_never_points_at_the_cloud(isolation: Isolation) -> None:
    """debug of a failed local job → the PC's console, nothing on comfy.org."""
    job = _failed_job(isolation, "local", "http://100.64.1.2:8188")
    found = _diagnosis(job[:8])
    assert "comfy.org" not in _fix_words(found)
    assert "console on the PC" in found["fixes"][0]["text"]


def test_a_named_targets_failure_names_it(isolation: Isolation, studio: str) -> None:
    """debug of a failed job on studio → studio's console, by name and URL."""
    job = _failed_job(isolation, "studio", studio)
    found = _diagnosis(job[:8])
    assert f"studio ({studio})" in found["fixes"][0]["text"]
    assert found["fixes"][1]["command"] == "comfycine doctor --target studio"
    assert not re.search(r"\bPC\b", _fix_words(found))
