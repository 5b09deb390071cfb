"""Finding DaVinciResolveScript the way Resolve's scripting README documents it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from comfycine.errors import ExitCode
from comfycine.resolve.errors import ResolveNotInstalled
from comfycine.resolve.locate import MAC_API, MAC_LIB, WIN_LIB, find_module, locate

from .conftest import install_standin

MODULE = "DaVinciResolveScript.py"


def files(*paths: str):
    """A fake file system holding exactly ``paths``."""
    present = set(paths)
    return lambda path: path in present


def test_mac_default_install_is_found() -> None:
    """macOS: the module under /Library/Application Support, the library in the app."""
    module = f"{MAC_API}/Modules/{MODULE}"
    found, library, _ = find_module({}, "darwin", files(module, MAC_LIB))
    assert (found, library) == (module, MAC_LIB)


def test_windows_default_install_uses_programdata() -> None:
    """Windows: %PROGRAMDATA%\\...\\Support\\Developer\\Scripting\\Modules and Program Files."""
    module = (
        r"D:\ProgramData\Blackmagic Design\DaVinci Resolve\Support\Developer\Scripting"
        rf"\Modules\{MODULE}"
    )
    found, library, _ = find_module(
        {"PROGRAMDATA": r"D:\ProgramData"}, "win32", files(module, WIN_LIB)
    )
    assert (found, library) == (module, WIN_LIB)


def test_windows_without_programdata_looks_in_c_programdata() -> None:
    """Windows with PROGRAMDATA unset: C:\\ProgramData, the system default."""
    _, _, search = find_module({}, "win32", files())
    assert search.module_dirs[-1].startswith(r"C:\ProgramData\Blackmagic Design")


def test_linux_iso_install_under_home_resolve_is_found() -> None:
    """Linux: /opt/resolve, then /home/resolve (the README's note on ISO installs)."""
    module = f"/home/resolve/Developer/Scripting/Modules/{MODULE}"
    library = "/home/resolve/libs/Fusion/fusionscript.so"
    found, lib, search = find_module({}, "linux", files(module, library))
    assert (found, lib) == (module, library)
    assert search.module_dirs[0] == "/opt/resolve/Developer/Scripting/Modules"


def test_resolve_script_api_and_lib_win_over_defaults() -> None:
    """RESOLVE_SCRIPT_API/Modules and RESOLVE_SCRIPT_LIB come before the install paths."""
    env = {"RESOLVE_SCRIPT_API": "/srv/Scripting", "RESOLVE_SCRIPT_LIB": "/srv/fusionscript.so"}
    both = files(
        f"/srv/Scripting/Modules/{MODULE}",
        f"{MAC_API}/Modules/{MODULE}",
        "/srv/fusionscript.so",
        MAC_LIB,
    )
    found, library, _ = find_module(env, "darwin", both)
    assert (found, library) == (f"/srv/Scripting/Modules/{MODULE}", "/srv/fusionscript.so")


def test_pythonpath_entries_are_searched_with_the_platform_separator() -> None:
    """PYTHONPATH (``;`` on Windows) holds the Modules folder when the README's setup was done."""
    module = rf"E:\Resolve\Modules\{MODULE}"
    found, _, _ = find_module({"PYTHONPATH": r"C:\py;E:\Resolve\Modules"}, "win32", files(module))
    assert found == module


def test_not_installed_lists_where_it_looked() -> None:
    """No module anywhere: resolve_not_installed, exit 2, every folder named, conform hint."""
    with pytest.raises(ResolveNotInstalled) as caught:
        locate({"RESOLVE_SCRIPT_API": "/nowhere"}, "linux", files())
    error = caught.value
    assert (error.code, error.exit_code) == ("resolve_not_installed", ExitCode.USAGE)
    assert "/nowhere/Modules" in error.message and "/opt/resolve/Developer" in error.message
    assert "/opt/resolve/libs/Fusion/fusionscript.so" in error.details["looked"]
    assert "comfycine conform TIMELINE TEMPLATE" in error.hint


def test_standin_loads_through_resolve_script_api(tmp_path: Path, stage: object) -> None:
    """A Modules/DaVinciResolveScript.py under RESOLVE_SCRIPT_API is imported and answers."""
    scripting = install_standin(tmp_path / "Scripting")
    module = locate({"RESOLVE_SCRIPT_API": str(scripting)}, "darwin")
    assert module.scriptapp("Resolve") is not None


def write_module(root: Path, body: str) -> Path:
    """A Scripting folder whose module runs ``body``."""
    (root / "Modules").mkdir(parents=True)
    (root / "Modules" / MODULE).write_text(body)
    return root


def test_module_without_its_library_says_which_variable_to_set(tmp_path: Path) -> None:
    """The module's "Could not locate module dependencies" becomes resolve_not_installed
    naming RESOLVE_SCRIPT_LIB."""
    root = write_module(tmp_path, 'raise ImportError("Could not locate module dependencies")\n')
    with pytest.raises(ResolveNotInstalled) as caught:
        locate({"RESOLVE_SCRIPT_API": str(root)}, "linux")
    assert "RESOLVE_SCRIPT_LIB" in caught.value.message


def test_module_needing_imp_names_the_python_version(tmp_path: Path) -> None:
    """An old module importing ``imp`` on a Python without it: the message says why."""
    body = 'raise ModuleNotFoundError("No module named \'imp\'", name="imp")\n'
    root = write_module(tmp_path, body)
    with pytest.raises(ResolveNotInstalled) as caught:
        locate({"RESOLVE_SCRIPT_API": str(root)}, "linux")
    assert "Python 3.11" in caught.value.message


def test_library_variable_is_lent_to_the_module_then_restored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The module reads RESOLVE_SCRIPT_LIB itself: it sees the given env's value while it
    loads, and the process environment is as before afterwards."""
    monkeypatch.delenv("RESOLVE_SCRIPT_LIB", raising=False)
    body = "import os\nSEEN = os.environ.get('RESOLVE_SCRIPT_LIB')\n"
    root = write_module(tmp_path, body)
    env = {"RESOLVE_SCRIPT_API": str(root), "RESOLVE_SCRIPT_LIB": "/x/fusionscript.so"}
    module = locate(env, "linux")
    assert module.SEEN == "/x/fusionscript.so"
    assert "RESOLVE_SCRIPT_LIB" not in os.environ
