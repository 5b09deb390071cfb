"""``debug`` and ``free`` against the protocol-faithful fake (OOM and errors on cue)."""

from __future__ import annotations

import pytest

from comfycine.ledger import Ledger
from tests.cli_support import Isolation, invoke
from tests.fakecomfy.server import FakeComfy
from tests.ports import closed_port

TEMPLATE = "testimage"


@pytest.fixture
def fake(isolation: Isolation, fake_comfy: FakeComfy, monkeypatch: pytest.MonkeyPatch) -> FakeComfy:
    """An isolated CLI pointed at the fake server."""
    monkeypatch.setenv("COMFYUI_URL", fake_comfy.url)
    return fake_comfy


def test_debug_last_explains_an_out_of_memory_job(fake: FakeComfy) -> None:
    """After an OOM, debug last gives the computed smaller render and the cloud rerun."""
    fake.oom_next()
    assert invoke("generate", TEMPLATE, "--set", "width=512", "--set", "height=512").exit_code == 5
    result = invoke("debug", "last", "--json")
    assert result.exit_code == 0, result
    diagnosis = result.envelope()["data"]["diagnosis"]
    assert diagnosis["code"] == "out_of_memory"
    assert "512×512" in diagnosis["cause"]
    commands = [fix["command"] for fix in diagnosis["fixes"] if fix["command"]]
    assert any("--set width=" in c and "--set height=" in c for c in commands)
    assert "comfycine free" in commands
    assert any(c.endswith("--target cloud") for c in commands)


def test_debug_prints_numbered_fixes_for_a_person(fake: FakeComfy) -> None:
    """Without --json: code and cause, then numbered fixes with their commands."""
    fake.oom_next()
    invoke("generate", TEMPLATE)
    result = invoke("debug")
    assert result.exit_code == 0, result
    assert result.stdout.startswith("out_of_memory: ")
    assert "  1. " in result.stdout and "comfycine generate testimage" in result.stdout


def test_debug_reads_the_servers_history_when_the_ledger_kept_little(
    fake: FakeComfy, isolation: Isolation
) -> None:
    """A job recorded with a bare error is explained from the server's own execution_error."""
    fake.fail_next(
        "RuntimeError", "mat1 and mat2 shapes cannot be multiplied (1x768 and 4096x5120)"
    )
    assert invoke("generate", TEMPLATE).exit_code == 5
    job = invoke("status", "last", "--json").envelope()["data"]["job"]["job"]
    with Ledger.open(isolation.data_dir / "ledger.sqlite3") as ledger:
        ledger.update(job, error={"code": "node_exception", "message": "failed", "exit": 5})
    diagnosis = invoke("debug", job[:8], "--json").envelope()["data"]["diagnosis"]
    assert diagnosis["code"] == "model_mismatch"


def test_debug_of_a_successful_job_says_so(fake: FakeComfy) -> None:
    """A job that succeeded has nothing to fix (code ok)."""
    assert invoke("generate", TEMPLATE).exit_code == 0
    job = invoke("status", "last", "--json").envelope()["data"]["job"]["job"]
    assert invoke("debug", job, "--json").envelope()["data"]["diagnosis"]["code"] == "ok"


def test_debug_last_prefers_the_latest_failure(fake: FakeComfy) -> None:
    """'last' is the latest job that ended badly, even when a success came after it."""
    fake.oom_next()
    invoke("generate", TEMPLATE)
    assert invoke("generate", TEMPLATE).exit_code == 0
    assert (
        invoke("debug", "last", "--json").envelope()["data"]["diagnosis"]["code"] == "out_of_memory"
    )


def test_error_text_asks_the_servers_manager_v4_then_v3(fake: FakeComfy) -> None:
    """A pasted missing-node error makes debug ask Manager's /v2 route, then the v3 one."""
    result = invoke(
        "debug", "--error-text", "Cannot execute because node Foo_Bar does not exist.", "--json"
    )
    assert result.exit_code == 0, result
    assert result.envelope()["data"]["diagnosis"]["code"] == "missing_custom_node"
    paths = [path for _, path in fake.requests]
    assert "/v2/customnode/getmappings" in paths and "/customnode/getmappings" in paths


def test_error_text_knows_packs_from_the_shipped_templates(fake: FakeComfy) -> None:
    """A class a shipped sidecar declares (SeedVR2) gets its registry install command."""
    result = invoke(
        "debug", "-e", "Cannot execute because node SeedVR2VideoUpscaler does not exist.", "--json"
    )
    fixes = result.envelope()["data"]["diagnosis"]["fixes"]
    assert fixes[0]["command"] == "comfy node registry-install seedvr2_videoupscaler"


def test_job_and_error_text_together_is_a_usage_error(fake: FakeComfy) -> None:
    """debug JOB --error-text … → exit 2."""
    assert invoke("debug", "last", "--error-text", "x").exit_code == 2


def test_debug_without_jobs_is_a_clear_error(isolation: Isolation) -> None:
    """An empty ledger → exit 2 with a hint naming comfycine status."""
    result = invoke("debug", "--json")
    assert result.exit_code == 2
    assert "comfycine status" in result.envelope()["error"]["hint"]


def test_failing_generate_carries_the_diagnosis(
    isolation: Isolation, monkeypatch: pytest.MonkeyPatch
) -> None:
    """generate on a closed port: error.details.diagnosis is there, its top fix is the hint."""
    monkeypatch.setenv("COMFYUI_URL", f"http://127.0.0.1:{closed_port()}")
    result = invoke("generate", TEMPLATE, "--json")
    assert result.exit_code == 3
    error = result.envelope()["error"]
    assert error["details"]["diagnosis"]["code"] == "target_unreachable"
    assert "comfycine server up" in error["hint"]


def test_debug_of_an_unreachable_job_notices_the_server_is_back(
    fake: FakeComfy, isolation: Isolation
) -> None:
    """A job that failed as unreachable, debugged once the server answers: 'run it again'."""
    fake.restart(down_seconds=5.0)
    assert invoke("generate", TEMPLATE).exit_code == 3
    fake.wait_until_up()
    diagnosis = invoke("debug", "--json").envelope()["data"]["diagnosis"]
    assert diagnosis["code"] == "target_unreachable"
    assert "answers now" in diagnosis["cause"]
    assert diagnosis["fixes"][0]["command"].startswith("comfycine generate testimage")


def test_free_posts_to_free(fake: FakeComfy) -> None:
    """free → POST /free (models unloaded), exit 0."""
    result = invoke("free", "--json")
    assert result.exit_code == 0, result
    assert ("POST", "/free") in fake.requests
