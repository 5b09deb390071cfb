"""Per-target credentials in the settings: names, precedence, refusals, redaction, warnings."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from comfycine.envnames import (
    secret_values,
    split_target_auth_name,
    target_auth_env_names,
    target_env_key,
)
from comfycine.errors import UsageError
from comfycine.settings import Settings, resolve
from comfycine.targets import auth_warnings, client_for, named_targets

TOKEN = "tok-SENTINEL-77"
PASSWORD = "pw-SENTINEL-88"
STUDIO = {"COMFYCINE_TARGETS": "studio=http://100.64.1.2:8188,studio-2=http://10.0.0.9:8188"}


def settings_from(env: dict[str, str], dotenv: Path | None = None) -> Settings:
    """Settings from ``env`` (and a .env file when given), nothing else."""
    if dotenv is None:
        return resolve({}, env, read_dotenv_file=False)
    return resolve({}, env, dotenv)


@pytest.mark.parametrize(
    ("target", "key"),
    [("studio", "STUDIO"), ("studio-2", "STUDIO_2"), ("mac.mini", "MAC_MINI"), ("local", "LOCAL")],
)
def test_target_names_become_variable_names(target: str, key: str) -> None:
    """Upper case, every other character as _; the three names split back."""
    assert target_env_key(target) == key
    token, user, password = target_auth_env_names(target)
    assert token == f"COMFYCINE_TARGET_{key}_TOKEN"
    assert (user, password) == (f"COMFYCINE_TARGET_{key}_USER", f"COMFYCINE_TARGET_{key}_PASSWORD")
    assert split_target_auth_name(token) == (key, "_TOKEN")
    assert split_target_auth_name("COMFYCINE_TARGETS") is None
    assert split_target_auth_name("COMFYCINE_TARGET__TOKEN") is None


def test_token_and_basic_auth_fill_the_targets() -> None:
    """A token makes bearer auth, user+password basic auth; to_dict names the source only."""
    env = {
        **STUDIO,
        "COMFYCINE_TARGET_STUDIO_TOKEN": TOKEN,
        "COMFYCINE_TARGET_STUDIO_2_USER": "film",
        "COMFYCINE_TARGET_STUDIO_2_PASSWORD": PASSWORD,
    }
    targets = named_targets(settings_from(env))
    assert targets["studio"].to_dict()["auth"] == "bearer (COMFYCINE_TARGET_STUDIO_TOKEN)"
    assert targets["studio-2"].to_dict()["auth"] == (
        "basic (COMFYCINE_TARGET_STUDIO_2_USER/COMFYCINE_TARGET_STUDIO_2_PASSWORD)"
    )
    assert "auth" not in targets["local"].to_dict() and targets["cloud"].auth is None
    assert TOKEN not in str(targets) and PASSWORD not in str(targets["studio-2"])
    studio = replace(targets["studio"], kind="comfyui").make_client()
    assert studio.ws_headers() == {"Authorization": f"Bearer {TOKEN}"}


def test_environment_wins_over_dotenv(tmp_path: Path) -> None:
    """Each variable: the environment first, then .env (as every setting)."""
    dotenv = tmp_path / ".env"
    dotenv.write_text(f"COMFYCINE_TARGET_LOCAL_TOKEN='{TOKEN}-file'\n")
    from_file = named_targets(settings_from({}, dotenv))["local"]
    assert from_file.auth is not None and from_file.auth.secret == f"{TOKEN}-file"
    from_env = named_targets(settings_from({"COMFYCINE_TARGET_LOCAL_TOKEN": TOKEN}, dotenv))
    assert from_env["local"].auth is not None and from_env["local"].auth.secret == TOKEN


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ({"COMFYCINE_TARGET_STUDIO_USER": "film"}, "set together"),
        ({"COMFYCINE_TARGET_STUDIO_PASSWORD": PASSWORD}, "set together"),
    ],
)
def test_token_with_user_or_password_is_invalid(extra: dict[str, str], named: str) -> None:
    """Both kinds for one target: invalid_setting, exit 2, variables named, no values."""
    with pytest.raises(UsageError) as info:
        settings_from({"COMFYCINE_TARGET_STUDIO_TOKEN": TOKEN, **extra})
    error = info.value
    assert error.code == "invalid_setting" and error.exit_code == 2
    assert "COMFYCINE_TARGET_STUDIO_TOKEN" in error.message and named in error.message
    assert TOKEN not in str(error.to_dict()) and PASSWORD not in str(error.to_dict())
    assert "\n" not in error.message


@pytest.mark.parametrize(
    ("env", "why"),
    [
        ({"COMFYCINE_TARGET_STUDIO_USER": "film"}, "without COMFYCINE_TARGET_STUDIO_PASSWORD"),
        ({"COMFYCINE_TARGET_STUDIO_PASSWORD": PASSWORD}, "without COMFYCINE_TARGET_STUDIO_USER"),
        ({"COMFYCINE_TARGET_STUDIO_TOKEN": "tok SENTINEL"}, "printable ASCII"),
        ({"COMFYCINE_TARGET_STUDIO_TOKEN": "tok\nSENTINEL"}, "printable ASCII"),
    ],
)
def test_unusable_credentials_are_invalid(env: dict[str, str], why: str) -> None:
    """Half a pair or a token that cannot be a header: one line naming it, no value."""
    with pytest.raises(UsageError) as info:
        settings_from(env)
    assert why in info.value.message and "SENTINEL" not in info.value.message


def test_dotenv_mistake_names_the_file(tmp_path: Path) -> None:
    """A pair mistake coming from .env says so in the hint (never the value)."""
    dotenv = tmp_path / ".env"
    dotenv.write_text(f"COMFYCINE_TARGET_STUDIO_PASSWORD={PASSWORD}\n")
    with pytest.raises(UsageError) as info:
        settings_from({}, dotenv)
    assert str(dotenv) in info.value.hint and PASSWORD not in str(info.value.to_dict())


def test_secret_values_cover_tokens_and_passwords(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both redaction lists hold every token and password, from env and .env; not users."""
    monkeypatch.chdir(tmp_path)
    dotenv = tmp_path / ".env"
    dotenv.write_text(
        f'COMFYCINE_TARGET_STUDIO_2_USER=film\nCOMFYCINE_TARGET_STUDIO_2_PASSWORD="{PASSWORD}"\n'
    )
    env = {"COMFYCINE_TARGET_STUDIO_TOKEN": TOKEN, "COMFYCINE_ENV_FILE": str(dotenv)}
    quick = secret_values(env)
    full = settings_from(env, dotenv).secret_values
    for values in (quick, full):
        assert TOKEN in values and PASSWORD in values and "film" not in values


def test_warnings_name_strays_and_clear_text() -> None:
    """A typo'd name, a cloud one, a public plain-http target and a shadowed URL password."""
    env = {
        "COMFYCINE_TARGETS": "studio=http://100.64.1.2:8188,gpu=http://film:pw@93.184.216.34:8188",
        "COMFYCINE_TARGET_STUDI0_TOKEN": TOKEN,
        "COMFYCINE_TARGET_CLOUD_TOKEN": TOKEN,
        "COMFYCINE_TARGET_GPU_TOKEN": TOKEN,
        "COMFYCINE_TARGET_STUDIO_TOKEN": TOKEN,
    }
    warnings = auth_warnings(settings_from(env))
    text = "\n".join(warnings)
    assert (
        "COMFYCINE_TARGET_STUDI0_TOKEN names no target; targets are local, cloud, studio, gpu"
        in warnings
    )
    assert (
        "COMFYCINE_TARGET_CLOUD_TOKEN is not used: the cloud's key is COMFY_CLOUD_API_KEY" in text
    )
    assert "gpu: bearer (COMFYCINE_TARGET_GPU_TOKEN) travels in clear" in text
    assert "the password in the URL of gpu (COMFYCINE_TARGETS) is not sent" in text
    assert "studio:" not in text and TOKEN not in text
    assert len(warnings) == 4


async def test_client_for_sends_a_token_only_to_the_configured_origin() -> None:
    """A ledger job on the target's host gets its token; one on a host it left, none."""
    env = {**STUDIO, "COMFYCINE_TARGET_STUDIO_TOKEN": TOKEN}
    settings = settings_from(env)
    async with client_for(settings, "studio", "http://100.64.1.2:8188") as here:
        assert here.ws_headers() == {"Authorization": f"Bearer {TOKEN}"}
        assert here.target_name == "studio"
    async with client_for(settings, "studio", "http://100.64.9.9:8188") as moved:
        assert moved.ws_headers() == {} and moved.auth is None
