"""Settings resolve flag > environment > .env > default, with clear errors."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from comfycine.envnames import ENV_NAMES, quick_setting, secret_values
from comfycine.errors import UsageError
from comfycine.settings import SecretStr, Settings, resolve

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
    """A URL without a scheme is refused with the variable's name in the message."""
    with pytest.raises(UsageError) as info:
        resolve({}, {"COMFYUI_URL": "100.64.1.2:8188"}, read_dotenv_file=False)
    assert "COMFYUI_URL='100.64.1.2:8188'" in info.value.message and info.value.exit_code == 2


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


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://u:hunter2pw@host:99999", "port 99999 is not a number from 1 to 65535"),
        ("http://u:hunter2pw@host:0", "port 0 is not a number from 1 to 65535"),
        ("http://u:hunter2pw@host:abc", "port abc is not a number from 1 to 65535"),
        ("http://u:hunter2pw@[::1:8188", "malformed IPv6 address"),
        ("http://u:hunter2pw@[zz]:8188", "malformed IPv6 address"),
        ("http://u:hunter2pw@my host:8188", "must not contain spaces"),
        ("http://", "has no host name"),
        ("http://u:hunter2pw@:8188", "has no host name"),
    ],
)
@pytest.mark.parametrize("name", ["COMFYUI_URL", "COMFY_CLOUD_URL"])
def test_unusable_urls_are_one_line_usage_errors(name: str, url: str, why: str) -> None:
    """Each unusable URL: invalid_setting, exit 2, one line naming it, no password."""
    with pytest.raises(UsageError) as info:
        resolve({}, {name: url}, read_dotenv_file=False)
    error = info.value
    assert (error.code, error.exit_code) == ("invalid_setting", 2)
    assert f"{name}=" in error.message and why in error.message, error.message
    assert "\n" not in error.message and "hunter2pw" not in error.message + error.hint


def test_bad_target_entry_names_the_entry_without_its_password() -> None:
    """A bad COMFYCINE_TARGETS entry is named (password masked) in a usage error."""
    env = {"COMFYCINE_TARGETS": "ok=http://h:1,studio=http://me:hunter2pw@h:99999"}
    with pytest.raises(UsageError) as info:
        resolve({}, env, read_dotenv_file=False)
    message = info.value.message
    assert "COMFYCINE_TARGETS" in message and "'studio=http://me:***@h:99999'" in message
    assert "hunter2pw" not in message


def test_bad_url_flag_is_named_as_the_flag() -> None:
    """A bad --url is reported as --url, not as the environment variable."""
    with pytest.raises(UsageError) as info:
        resolve({"comfyui_url": "http://h:70000"}, {}, read_dotenv_file=False)
    assert info.value.message.startswith("Invalid setting --url='http://h:70000'")
    assert "the flag" in info.value.hint


def test_bad_url_in_dotenv_names_the_file(tmp_path: Path) -> None:
    """A bad URL read from .env names the variable and the file it came from."""
    dotenv = tmp_path / ".env"
    dotenv.write_text("COMFYUI_URL=http://h:70000\n")
    with pytest.raises(UsageError) as info:
        resolve({}, {"HOME": str(tmp_path)}, dotenv)
    assert f"COMFYUI_URL (in {dotenv})=" in info.value.message


def test_good_urls_are_kept_with_their_password() -> None:
    """IPv6, user:password and a trailing slash are accepted; the password is used."""
    env = {
        "COMFYUI_URL": "http://me:pw%40x@[fd7a:115c:a1e0::1]:8188/",
        "COMFYCINE_TARGETS": "studio=https://me:hunter2pw@studio.ts.net",
    }
    settings = resolve({}, env, read_dotenv_file=False)
    assert settings.comfyui_url == "http://me:pw%40x@[fd7a:115c:a1e0::1]:8188"
    assert settings.extra_targets == {"studio": "https://me:hunter2pw@studio.ts.net"}
    assert {"pw%40x", "pw@x", "hunter2pw"} <= set(settings.secret_values)


def test_secret_values_hold_url_passwords_from_env_and_dotenv(tmp_path: Path) -> None:
    """The error path's secrets include URL passwords of the environment and .env."""
    dotenv = tmp_path / ".env"
    dotenv.write_text("COMFYCINE_TARGETS=mini=http://me:dotenvpw1@mini:8188\n")
    env = {
        "COMFYUI_URL": "http://me:envpass1@pc:8188",
        "COMFY_CLOUD_URL": "https://me:cloudpw1@cloud",
        "COMFYCINE_ENV_FILE": str(dotenv),
    }
    assert {"envpass1", "cloudpw1", "dotenvpw1"} <= set(secret_values(env))


LATIN1 = "COMFYUI_URL=http://127.0.0.1:8188\n# caf\xe9 du coin\n".encode("latin-1")


def test_dotenv_not_utf8_names_file_and_line(tmp_path: Path) -> None:
    """A Latin-1 .env is refused: invalid_dotenv, exit 2, the file and line named."""
    dotenv = tmp_path / ".env"
    dotenv.write_bytes(LATIN1)
    with pytest.raises(UsageError) as info:
        resolve({}, {"HOME": str(tmp_path)}, dotenv)
    error = info.value
    assert (error.code, error.exit_code) == ("invalid_dotenv", 2)
    assert error.message.startswith(f"{dotenv}:2: ") and "UTF-8" in error.hint
    assert error.details == {"path": str(dotenv), "line": 2}


def test_quick_setting_refuses_a_dotenv_not_utf8(tmp_path: Path) -> None:
    """The fast path refuses the same file the same way (no UnicodeDecodeError)."""
    dotenv = tmp_path / ".env"
    dotenv.write_bytes(LATIN1)
    with pytest.raises(UsageError) as info:
        quick_setting("workflow_dir", {"COMFYCINE_ENV_FILE": str(dotenv)})
    assert info.value.code == "invalid_dotenv"


def test_dotenv_with_a_bom_is_read(tmp_path: Path) -> None:
    """A UTF-8 .env saved with a byte-order mark (Windows Notepad) reads normally."""
    dotenv = tmp_path / ".env"
    dotenv.write_bytes(b"\xef\xbb\xbfCOMFYUI_URL=http://bom:1\nX=caf\xc3\xa9\n")
    assert resolve({}, {"HOME": str(tmp_path)}, dotenv).comfyui_url == "http://bom:1"


def test_secret_values_never_fail_on_a_dotenv_not_utf8(tmp_path: Path) -> None:
    """Redaction still reads the secrets of an undecodable .env (the error path needs it)."""
    dotenv = tmp_path / ".env"
    dotenv.write_bytes(LATIN1 + b"COMFY_CLOUD_API_KEY=comfyui-k\xe9y\n")
    assert any(
        v.startswith("comfyui-k") for v in secret_values({"COMFYCINE_ENV_FILE": str(dotenv)})
    )


def test_plain_settings_do_not_import_pydantic() -> None:
    """Resolving plainly valid settings loads no pydantic (~0.1 s per command)."""
    code = (
        "import sys\n"
        "from comfycine.settings import resolve\n"
        "resolve({'transport': 'poll'}, {'COMFYCINE_OUTAGE_WINDOW': '30', 'COMFY_CLOUD_API_KEY': "
        "'k', 'COMFYCINE_TARGETS': 'a=http://h:1'}, read_dotenv_file=False)\n"
        "print('pydantic' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "False", done.stderr


@pytest.mark.parametrize(
    ("text", "seconds"), [("30", 30.0), ("0.5", 0.5), ("1e3", 1000.0), (" 30 ", 30.0)]
)
def test_numbers_pydantic_reads_are_read_the_same(text: str, seconds: float) -> None:
    """A number only pydantic's parser takes (1e3, spaces) is still read, as before."""
    env = {"COMFYCINE_OUTAGE_WINDOW": text}
    assert resolve({}, env, read_dotenv_file=False).outage_window == seconds


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("COMFYCINE_TRANSPORT", "WS", "Input should be 'auto', 'ws' or 'poll'"),
        ("COMFYCINE_CLOUD_API", "v3", "Input should be 'auto', 'v2' or 'v1'"),
        ("COMFYCINE_STALL_AFTER", "0", "Input should be greater than 0"),
        ("COMFYCINE_CLOUD_RATE", "cheap", "Input should be a valid number"),
    ],
)
def test_bad_values_keep_pydantic_messages(name: str, value: str, message: str) -> None:
    """A value that is not plainly valid is judged by pydantic, with its message."""
    with pytest.raises(UsageError) as info:
        resolve({}, {name: value}, read_dotenv_file=False)
    assert info.value.code == "invalid_setting"
    assert f"{name}={value!r}: {message}" in info.value.message, info.value.message


def test_settings_model_has_the_same_fields_and_defaults() -> None:
    """The pydantic model that judges odd values mirrors Settings field for field."""
    from comfycine.settingsmodel import SettingsModel

    ours = {f.name: f for f in dataclasses.fields(Settings)}
    assert list(SettingsModel.model_fields) == list(ours)
    for name, info in SettingsModel.model_fields.items():
        field = ours[name]
        if info.is_required():
            assert field.default is dataclasses.MISSING, name
        elif field.default_factory is not dataclasses.MISSING:
            assert info.default == field.default_factory(), name
        else:
            assert info.default == field.default, name


def test_secrets_print_like_pydantic_secrets() -> None:
    """A secret setting shows as stars in repr and str, and compares by value."""
    from pydantic import SecretStr as PydanticSecret

    for value in ("comfyui-k1", ""):
        ours, theirs = SecretStr(value), PydanticSecret(value)
        assert (repr(ours), str(ours), len(ours)) == (repr(theirs), str(theirs), len(theirs))
        assert ours.get_secret_value() == value and ours == SecretStr(value)
    assert SecretStr("a") != SecretStr("b")


def test_every_setting_has_a_plain_check() -> None:
    """Each field is checked without pydantic (a forgotten one would load it every run)."""
    from comfycine import settings as module

    kinds = (
        module._URL_FIELDS
        | module._DIR_FIELDS
        | module._TEXT_FIELDS
        | module._SECRET_FIELDS
        | module._BOOL_FIELDS
        | module._POSITIVE_FIELDS
        | set(module._CHOICES)
    )
    fields = {f.name for f in dataclasses.fields(Settings)}
    assert fields - {"sources", "target_credentials"} == kinds
