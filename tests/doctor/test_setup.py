"""The setup rungs: configuration, templates, cloud key, notifications, public address.

The cloud rung talks to the fake Comfy Cloud only; the notify rung never sends.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from comfycine.doctor.setup import (
    _templates_check,
    address_kind,
    check_cloud,
    check_config,
    check_notify,
    check_security,
    check_templates,
)
from comfycine.settings import Settings, resolve
from comfycine.targets import Target
from comfycine.transport import ComfyClient
from tests.fakecloud.server import FakeCloud
from tests.fakecomfy.server import FakeComfy

LOCAL = Target("local", "http://127.0.0.1:8188", "comfyui")


def settings_for(tmp_path: Path, **flags: Any) -> Settings:
    """Settings from ``flags`` only (no environment, no .env), writing under ``tmp_path``."""
    base = {
        "data_dir": tmp_path / "data",
        "cache_dir": tmp_path / "cache",
        "output_dir": tmp_path / "out",
        "exchange_dir": tmp_path / "exchange",
    }
    return resolve({**base, **flags}, env={"HOME": str(tmp_path)}, read_dotenv_file=False)


def test_config_default_url_is_a_warning(tmp_path: Path) -> None:
    """COMFYUI_URL left at its default: a warning naming the setting to put in .env."""
    check = check_config(settings_for(tmp_path), LOCAL, {})
    assert check.status == "warn" and "COMFYUI_URL" in check.fix
    assert "(default)" in check.value


def test_config_reports_sources_and_missing_env_file(tmp_path: Path) -> None:
    """A URL given by flag passes and says so; a COMFYCINE_ENV_FILE that is missing warns."""
    settings = settings_for(tmp_path, comfyui_url="http://127.0.0.1:9999")
    ok = check_config(settings, LOCAL, {})
    assert ok.status == "ok" and "http://127.0.0.1:9999 (flag)" in ok.value
    missing = check_config(settings, LOCAL, {"COMFYCINE_ENV_FILE": str(tmp_path / "none.env")})
    assert missing.status == "warn" and "none.env" in missing.fix


def test_notify_none_is_a_warning(tmp_path: Path) -> None:
    """No command and no Telegram: a warning with the settings to set."""
    check = check_notify(settings_for(tmp_path))
    assert (check.status, check.value) == ("warn", "no notification channel")
    assert "COMFYCINE_NOTIFY_COMMAND" in check.fix and "TELEGRAM_BOT_TOKEN" in check.fix


def test_notify_command_must_be_executable(tmp_path: Path) -> None:
    """An executable notify command passes; one that is not a program warns."""
    script = tmp_path / "notify.sh"
    script.write_text("#!/bin/sh\nexit 0\n")
    assert check_notify(settings_for(tmp_path, notify_command=f"{script} --quiet")).status == "warn"
    script.chmod(0o755)
    check = check_notify(settings_for(tmp_path, notify_command=f"{script} --quiet"))
    assert (check.status, check.value) == ("ok", "command notify.sh")


def test_notify_telegram_needs_both_and_hides_the_token(tmp_path: Path) -> None:
    """Token and chat id: ok, token never shown; the token alone is a warning."""
    token = "123456789:AAbbCCddEEffGGhhIIjjKKllMMnnOOppQQr"
    both = check_notify(settings_for(tmp_path, telegram_bot_token=token, telegram_chat_id="42"))
    assert (both.status, both.value) == ("ok", "Telegram")
    alone = check_notify(settings_for(tmp_path, telegram_bot_token=token))
    assert alone.status == "warn" and token not in str(alone.to_dict())


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("100.101.102.103", "Tailscale"),
        ("fd7a:115c:a1e0::b901:6667", "Tailscale"),
        ("192.168.1.30", "private"),
        ("10.0.0.5", "private"),
        ("169.254.1.1", "link-local"),
        ("8.8.8.8", "public"),
        ("2001:4860:4860::8888", "public"),
    ],
)
def test_address_kind(address: str, kind: str) -> None:
    """Loopback, Tailscale (CGNAT and its IPv6 prefix), private, link-local, public."""
    assert address_kind(address) == kind


def test_security_warns_on_a_public_address() -> None:
    """A public address warns that ComfyUI has no authentication; others pass."""
    public = Target("local", "http://comfy.example.com:8188", "comfyui")
    check = check_security(public, "comfy.example.com", ["192.168.1.2", "203.0.114.9"])
    assert check.status == "warn" and "no authentication" in check.fix
    assert check_security(LOCAL, "127.0.0.1", []).status == "ok"
    assert check_security(LOCAL, "studio-pc", []).status == "skip"
    cloud = Target("cloud", "https://cloud.example", "cloud", "k")
    assert check_security(cloud, "cloud.example", ["8.8.8.8"]).status == "skip"


def test_templates_value_names_what_is_missing() -> None:
    """The value counts ready templates and spells out what the others lack."""
    rows = [
        {"name": "testimage", "ready": True, "missing_models": 0, "missing_nodes": 0},
        {
            "name": "wan22-t2v",
            "ready": False,
            "missing_models": 3,
            "missing_nodes": 0,
            "other_problems": 0,
        },
    ]
    check = _templates_check(rows, "live")
    assert check.status == "warn"
    assert check.value == "1/2 templates ready; wan22-t2v: missing 3 models, 0 nodes"
    assert check.fix == "See what is missing: comfycine workflow validate wan22-t2v"


async def test_templates_against_fake_comfyui(tmp_path: Path, fake_comfy: FakeComfy) -> None:
    """Every shipped template is checked; an unreadable one of the user's is listed too."""
    workflows = tmp_path / "workflows"
    workflows.mkdir()
    (workflows / "broken.json").write_text("{not json")
    settings = settings_for(tmp_path, comfyui_url=fake_comfy.url, workflow_dir=workflows)
    async with ComfyClient(fake_comfy.url) as client:
        check = await check_templates(settings, client)
    rows = {row["name"]: row for row in check.details["templates"]}
    assert {"testimage", "wan22-t2v", "broken"} <= set(rows)
    wan = rows["wan22-t2v"]
    assert not rows["broken"]["ready"] and not wan["ready"]
    assert wan["missing_models"] + wan["missing_nodes"] > 0 and rows["testimage"]["ready"]
    assert check.status == "warn" and "templates ready" in check.value
    assert "comfycine workflow validate" in check.fix


async def test_cloud_without_key_is_skipped(tmp_path: Path) -> None:
    """No key: skipped, nothing contacted."""
    check = await check_cloud(settings_for(tmp_path, cloud_url="http://127.0.0.1:9"), 1.0)
    assert check.status == "skip"


async def test_cloud_key_accepted_and_refused(tmp_path: Path, fake_cloud: FakeCloud) -> None:
    """The fake cloud accepts its key (ok) and refuses another (fail, exit 7, no key shown)."""
    good = settings_for(tmp_path, cloud_url=fake_cloud.url, cloud_api_key=fake_cloud.api_key)
    ok = await check_cloud(good, 3.0)
    assert ok.status == "ok" and "key accepted" in ok.value
    wrong = "comfyui-not-the-key-0000"
    bad = settings_for(tmp_path, cloud_url=fake_cloud.url, cloud_api_key=wrong)
    check = await check_cloud(bad, 3.0)
    assert (check.status, check.exit_code, check.code) == ("fail", 7, "cloud_auth")
    assert wrong not in str(check.to_dict()) and fake_cloud.api_key not in str(ok.to_dict())


async def test_cloud_unreachable_is_a_warning(tmp_path: Path) -> None:
    """The key cannot be checked (cloud unreachable): a warning, not a failure."""
    settings = settings_for(tmp_path, cloud_url="http://127.0.0.1:9", cloud_api_key="abcd-key")
    check = await check_cloud(settings, 1.0)
    assert check.status == "warn" and "could not check the key" in check.value
