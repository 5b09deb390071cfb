"""The LaunchAgent plist of `watch install-launchd`."""

from __future__ import annotations

import plistlib
from pathlib import Path

import pytest

from comfycine.errors import UsageError
from comfycine.settings import Settings, resolve
from comfycine.watch.launchd import LABEL, install_launchd, protected_folder

PROGRAM = ["/opt/venv/bin/comfycine"]


def settings_for(exchange: Path, **env: str) -> Settings:
    """Settings with this exchange folder (nothing read from the real environment)."""
    values = {"COMFYCINE_EXCHANGE_DIR": str(exchange), "COMFYCINE_DATA_DIR": "/tmp/d", **env}
    return resolve(env=values, read_dotenv_file=False)


def test_plist_runs_watch_with_keepalive_logs_and_path(tmp_path: Path) -> None:
    """Parsed back: absolute program + watch, KeepAlive after failures, logs, Homebrew PATH."""
    home = tmp_path / "home"
    settings = settings_for(home / "Movies" / "Exchange")
    result = install_launchd(settings, program=PROGRAM, home=home, template="upscale")
    assert result.path == home / "Library" / "LaunchAgents" / f"{LABEL}.plist"
    plist = plistlib.loads(result.path.read_bytes())
    assert plist["Label"] == LABEL
    assert plist["ProgramArguments"][:2] == [PROGRAM[0], "watch"]
    assert plist["ProgramArguments"][-4:] == [
        "--exchange",
        str(home / "Movies" / "Exchange"),
        "--template",
        "upscale",
    ]
    assert plist["KeepAlive"] == {"SuccessfulExit": False}
    assert plist["RunAtLoad"] is True
    logs = home / "Library" / "Logs" / "comfycine"
    assert plist["StandardOutPath"] == str(logs / "watch.out.log")
    assert plist["StandardErrorPath"] == str(logs / "watch.err.log")
    assert logs.is_dir()
    path = plist["EnvironmentVariables"]["PATH"].split(":")
    assert path[0] == "/opt/venv/bin"
    assert "/opt/homebrew/bin" in path and "/usr/local/bin" in path
    assert result.bootstrap.startswith("launchctl bootstrap gui/")
    assert result.bootstrap.endswith(str(result.path))
    assert result.bootout.endswith(f"/{LABEL}")
    assert oct(result.path.stat().st_mode & 0o777) == "0o644"


def test_secrets_stay_out_of_the_plist(tmp_path: Path) -> None:
    """A cloud key set in the shell is not written; a warning says where to put it."""
    home = tmp_path / "home"
    settings = settings_for(
        home / "Exchange",
        COMFY_CLOUD_API_KEY="comfyui-secret-key-123",
        COMFYUI_URL="http://pc:8188",
    )
    result = install_launchd(settings, program=PROGRAM, home=home)
    text = result.path.read_text()
    assert "comfyui-secret-key-123" not in text
    assert plistlib.loads(result.path.read_bytes())["EnvironmentVariables"]["COMFYUI_URL"] == (
        "http://pc:8188"
    )
    assert any("COMFY_CLOUD_API_KEY" in w and ".env" in w for w in result.warnings)


@pytest.mark.parametrize("folder", ["Documents", "Desktop", "Downloads"])
def test_protected_exchange_folder_is_warned_about(tmp_path: Path, folder: str) -> None:
    """An exchange under ~/Documents (Desktop, Downloads) gets the Full Disk Access warning."""
    home = tmp_path / "home"
    settings = settings_for(home / folder / "Exchange")
    result = install_launchd(settings, program=PROGRAM, home=home)
    assert any(f"~/{folder}" in w and "Full Disk Access" in w for w in result.warnings)


def test_unprotected_folders_get_no_tcc_warning(tmp_path: Path) -> None:
    """~/Movies is not protected; /Volumes is."""
    home = tmp_path / "home"
    assert protected_folder(home / "Movies" / "Exchange", home) is None
    assert protected_folder(Path("/Volumes/RAID/Exchange"), home) is not None


def test_a_different_plist_is_replaced_only_with_force(tmp_path: Path) -> None:
    """Same content: unchanged. Different: file_exists unless force, then replaced."""
    home = tmp_path / "home"
    first = install_launchd(settings_for(home / "A"), program=PROGRAM, home=home)
    assert first.action == "created"
    again = install_launchd(settings_for(home / "A"), program=PROGRAM, home=home)
    assert again.action == "unchanged"
    before = first.path.read_bytes()
    with pytest.raises(UsageError) as caught:
        install_launchd(settings_for(home / "B"), program=PROGRAM, home=home)
    assert caught.value.code == "file_exists" and "--force" in caught.value.hint
    assert first.path.read_bytes() == before
    forced = install_launchd(settings_for(home / "B"), program=PROGRAM, home=home, force=True)
    assert forced.action == "replaced"
    assert str(home / "B") in plistlib.loads(forced.path.read_bytes())["ProgramArguments"]
