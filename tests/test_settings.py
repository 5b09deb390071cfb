"""Settings resolve flag > environment > .env > default, with clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from comfycine.envnames import ENV_NAMES, quick_setting, secret_values
from comfycine.errors import UsageError
from comfycine.settings import resolve

ENV_EXAMPLE = Path(__file__).parent.parent / ".env.example"


def test_precedence_flag_env_dotenv_default(tmp_path: Path) -> None:
    """A flag beats the environment, which beats .env, which beats the default."""
    dotenv = tmp_path / ".env"
    dotenv.write_text("COMFYUI_URL=http://dotenv:1\nCOMFYCINE_OUTPUT_DIR=/from/dotenv\n")
    env = {"COMFYUI_URL": "http://env:2", "HOME": str(tmp_path)}
    settings = resolve({"comfyui_url": "http://flag:3"}, env, dotenv)
    assert settings.comfyui_url == "http://flag:3"
    assert resolve({}, env, dotenv).comfyui_url == "http://env:2"
    from_dotenv = resolve({}, {"HOME": str(tmp_path)}, dotenv)
    assert from_dotenv.comfyui_url == "http://dotenv:1"
    assert from_dotenv.output_dir == Path("/from/dotenv")
    assert from_dotenv.sources["comfyui_url"] == ".env"
    assert resolve({}, {}, tmp_path / "none").comfyui_url == "http://127.0.0.1:8188"


def test_workflow_dir_alias() -> None:
    """WORKFLOW_DIR (the spec's name) is read when COMFYCINE_WORKFLOW_DIR is unset."""
    settings = resolve({}, {"WORKFLOW_DIR": "/wf"}, read_dotenv_file=False)
    assert settings.workflow_dir == Path("/wf")


def test_bad_url_is_a_usage_error() -> None:
    """A URL without a scheme is refused with the field name in the message."""
    with pytest.raises(UsageError) as info:
        resolve({}, {"COMFYUI_URL": "100.64.1.2:8188"}, read_dotenv_file=False)
    assert "comfyui_url" in info.value.message and info.value.exit_code == 2


def test_api_key_is_secret_in_repr() -> None:
    """The cloud key never shows in the settings' repr or dump."""
    settings = resolve({}, {"COMFY_CLOUD_API_KEY": "comfyui-sentinel-42"}, read_dotenv_file=False)
    assert "sentinel" not in repr(settings)
    assert "sentinel" not in settings.model_dump_json()


def test_secret_values_from_env_and_dotenv(tmp_path: Path) -> None:
    """Redaction knows the secrets from the environment and from the .env file."""
    dotenv = tmp_path / ".env"
    dotenv.write_text("TELEGRAM_BOT_TOKEN='123:abcdef'\n")
    env = {"COMFY_CLOUD_API_KEY": "comfyui-k1", "COMFYCINE_ENV_FILE": str(dotenv)}
    assert set(secret_values(env)) >= {"comfyui-k1", "123:abcdef"}


def test_quick_setting_matches_resolve(tmp_path: Path) -> None:
    """The fast path reads the same names as the full settings."""
    env = {"WORKFLOW_DIR": "/wf", "COMFYCINE_ENV_FILE": str(tmp_path / "missing")}
    assert quick_setting("workflow_dir", env) == "/wf"


def test_env_example_lists_every_variable() -> None:
    """.env.example documents every environment name comfycine reads."""
    text = ENV_EXAMPLE.read_text()
    for names in ENV_NAMES.values():
        for name in names:
            assert f"{name}=" in text, name
