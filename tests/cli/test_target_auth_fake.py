"""Authenticated targets through the CLI, on the fake ComfyUI behind a token or basic auth.

The token lives in a ``.env`` file; a wrong one is exit 7 ``target_auth`` naming the
variable; ``targets`` and ``doctor`` show what is sent (never the value) and warn about
variables that name no target.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_support import CliResult, Isolation, invoke
from tests.fakecomfy.server import FakeComfy
from tests.ports import closed_port

TEMPLATE = "testimage"
TOKEN = "tok-SENTINEL-studio-5150"
WRONG = "tok-SENTINEL-wrong-6160"


@pytest.fixture
def studio(
    isolation: Isolation, fake_comfy: FakeComfy, monkeypatch: pytest.MonkeyPatch
) -> FakeComfy:
    """The fake behind a bearer token, as target ``studio``; local is a closed port."""
    fake_comfy.bearer_token = TOKEN
    monkeypatch.setenv("COMFYUI_URL", f"http://127.0.0.1:{closed_port()}")
    monkeypatch.setenv("COMFYCINE_TARGETS", f"studio={fake_comfy.url}")
    monkeypatch.setenv("COMFYCINE_CACHE_DIR", str(isolation.root / "cache"))
    return fake_comfy


def write_dotenv(isolation: Isolation, text: str) -> Path:
    """A ./.env in the isolated working directory."""
    path = isolation.root / ".env"
    path.write_text(text)
    return path


def assert_no_token(*results: CliResult) -> None:
    """Neither the right nor the wrong token in any output."""
    for result in results:
        for token in (TOKEN, WRONG):
            assert token not in result.stdout + result.stderr, result


def test_generate_with_the_token_from_dotenv(studio: FakeComfy, isolation: Isolation) -> None:
    """The token in .env reaches HTTP and the socket; the job succeeds; nothing echoes it."""
    write_dotenv(isolation, f"COMFYCINE_TARGET_STUDIO_TOKEN={TOKEN}\n")
    result = invoke("generate", TEMPLATE, "--target", "studio", "--json")
    assert result.exit_code == 0, result
    assert result.envelope()["data"]["status"] == "succeeded"
    assert studio.ws_feature_flags, "the socket never opened: no token on /ws?"
    job = result.envelope()["data"]["job"]
    waited = invoke("wait", job, "--json")
    assert waited.exit_code == 0, waited
    assert_no_token(result, waited)


def test_wrong_token_is_exit_7_target_auth(
    studio: FakeComfy, isolation: Isolation, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A token the server refuses: exit 7, target_auth, one line naming target and variable."""
    write_dotenv(isolation, f"COMFYCINE_TARGET_STUDIO_TOKEN={TOKEN}\n")
    monkeypatch.setenv("COMFYCINE_TARGET_STUDIO_TOKEN", WRONG)  # the environment wins
    result = invoke("generate", TEMPLATE, "--target", "studio", "--json")
    assert result.exit_code == 7, result
    error = result.envelope()["error"]
    assert error["code"] == "target_auth"
    assert f"Target studio at {studio.url}" in error["message"]
    assert "COMFYCINE_TARGET_STUDIO_TOKEN" in error["message"] + error["hint"]
    assert studio.prompts_received == []
    human = invoke("generate", TEMPLATE, "--target", "studio")
    assert human.exit_code == 7 and human.stderr.count("error:") == 1, human
    assert_no_token(result, human)


def test_no_credentials_for_a_guarded_target(studio: FakeComfy) -> None:
    """The server asks and nothing is configured: exit 7, the hint names what to set."""
    result = invoke("generate", TEMPLATE, "--target", "studio", "--json")
    assert result.exit_code == 7, result
    hint = result.envelope()["error"]["hint"]
    assert "COMFYCINE_TARGET_STUDIO_TOKEN" in hint and "COMFYCINE_TARGET_STUDIO_USER" in hint


def test_targets_shows_the_auth_and_warns_of_a_stray_name(
    studio: FakeComfy, isolation: Isolation, monkeypatch: pytest.MonkeyPatch
) -> None:
    """targets: studio ok with bearer (VAR); a typo'd variable is a warning line, not an error."""
    write_dotenv(isolation, f"COMFYCINE_TARGET_STUDIO_TOKEN={TOKEN}\n")
    monkeypatch.setenv("COMFYCINE_TARGET_STUDI0_TOKEN", WRONG)
    result = invoke("targets", "--json")
    assert result.exit_code == 0, result
    data = result.envelope()["data"]
    rows = {row["name"]: row for row in data["targets"]}
    assert rows["studio"]["ok"], rows["studio"]
    assert rows["studio"]["auth"] == "bearer (COMFYCINE_TARGET_STUDIO_TOKEN)"
    assert "auth" not in rows["local"]
    assert data["warnings"] == [
        "COMFYCINE_TARGET_STUDI0_TOKEN names no target; targets are local, cloud, studio"
    ]
    human = invoke("targets")
    assert "[bearer (COMFYCINE_TARGET_STUDIO_TOKEN)]" in human.stdout
    assert "warning: COMFYCINE_TARGET_STUDI0_TOKEN names no target" in human.stderr
    assert_no_token(result, human)


def test_targets_and_doctor_report_a_refused_token(
    studio: FakeComfy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The probe's auth state speaks of the target, not Comfy Cloud; doctor exits 7."""
    monkeypatch.setenv("COMFYCINE_TARGET_STUDIO_TOKEN", WRONG)
    rows = {r["name"]: r for r in invoke("targets", "--json").envelope()["data"]["targets"]}
    assert rows["studio"]["state"] == "auth", rows["studio"]
    assert "Comfy Cloud" not in rows["studio"]["detail"] + rows["studio"]["hint"]
    assert "COMFYCINE_TARGET_STUDIO_TOKEN" in rows["studio"]["hint"]
    doctor = invoke("doctor", "--target", "studio", "--json")
    assert doctor.exit_code == 7, doctor
    assert doctor.envelope()["error"]["code"] == "target_auth"
    assert_no_token(doctor)


def test_doctor_passes_with_the_token(studio: FakeComfy, monkeypatch: pytest.MonkeyPatch) -> None:
    """doctor --target studio: http and websocket pass; config names what is sent."""
    monkeypatch.setenv("COMFYCINE_TARGET_STUDIO_TOKEN", TOKEN)
    result = invoke("doctor", "--target", "studio", "--json")
    assert result.exit_code == 0, result
    checks = {c["name"]: c for c in result.envelope()["data"]["checks"]}
    assert {checks[n]["status"] for n in ("http", "websocket")} == {"ok"}
    assert "sends bearer (COMFYCINE_TARGET_STUDIO_TOKEN)" in checks["config"]["value"]
    assert_no_token(result)


def test_user_and_password_variables_send_basic_auth(
    studio: FakeComfy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """_USER and _PASSWORD reach a basic-auth proxy, as the URL's user:password did."""
    studio.bearer_token = None
    studio.basic_auth = f"film:{TOKEN}"
    monkeypatch.setenv("COMFYCINE_TARGET_STUDIO_USER", "film")
    monkeypatch.setenv("COMFYCINE_TARGET_STUDIO_PASSWORD", TOKEN)
    result = invoke("generate", TEMPLATE, "--target", "studio", "--json")
    assert result.exit_code == 0, result
    assert_no_token(result)


def test_token_and_password_together_is_a_usage_error(
    studio: FakeComfy, isolation: Isolation, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both kinds for one target: exit 2 invalid_setting on any command, no value shown."""
    write_dotenv(isolation, f"COMFYCINE_TARGET_STUDIO_PASSWORD={WRONG}\n")
    monkeypatch.setenv("COMFYCINE_TARGET_STUDIO_TOKEN", TOKEN)
    monkeypatch.setenv("COMFYCINE_TARGET_STUDIO_USER", "film")
    for words in (["generate", TEMPLATE, "--target", "studio"], ["targets"], ["status"]):
        result = invoke(*words, "--json")
        assert result.exit_code == 2, result
        error = result.envelope()["error"]
        assert error["code"] == "invalid_setting"
        assert "COMFYCINE_TARGET_STUDIO_TOKEN" in error["message"]
        assert "COMFYCINE_TARGET_STUDIO_PASSWORD" in error["message"]
        assert_no_token(result)
