"""Find and load ``DaVinciResolveScript``, Resolve's scripting module, as Resolve documents.

Source: the scripting README Resolve installs beside the module (``Developer/Scripting/
README.txt``; "Last Updated: 7 May 2025", Resolve 20), section "Using a script". It
names three environment variables and one install layout per system:

* ``RESOLVE_SCRIPT_API``: the ``Developer/Scripting`` folder; the module is in its
  ``Modules/`` subfolder, which the README puts on ``PYTHONPATH``.
* ``RESOLVE_SCRIPT_LIB``: the native library the module loads (``fusionscript.so``,
  ``fusionscript.dll`` on Windows). The module reads this variable itself and falls back
  to the install path below (the module's source, ``Modules/DaVinciResolveScript.py``).
* macOS: ``/Library/Application Support/Blackmagic Design/DaVinci Resolve/Developer/
  Scripting`` and ``/Applications/DaVinci Resolve/DaVinci Resolve.app/Contents/
  Libraries/Fusion/fusionscript.so``; Windows: ``%PROGRAMDATA%\\Blackmagic Design\\
  DaVinci Resolve\\Support\\Developer\\Scripting`` and ``C:\\Program Files\\Blackmagic
  Design\\DaVinci Resolve\\fusionscript.dll``; Linux: ``/opt/resolve/Developer/Scripting``
  and ``/opt/resolve/libs/Fusion/fusionscript.so`` (``/home/resolve`` for ISO installs).

The module is looked for in that order: ``RESOLVE_SCRIPT_API``, ``PYTHONPATH``, the
system's install folder. Environment, platform and file system are parameters, so
every layout is testable on any machine. Loading executes the module file directly
(no ``sys.path`` change); older modules ``import imp`` and so need Python 3.11.
"""

from __future__ import annotations

import contextlib
import importlib.util
import ntpath
import os
import posixpath
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from .errors import ResolveNotInstalled

MODULE_NAME = "DaVinciResolveScript"
MODULE_FILE = MODULE_NAME + ".py"
ENV_API = "RESOLVE_SCRIPT_API"
ENV_LIB = "RESOLVE_SCRIPT_LIB"
ENV_PYTHONPATH = "PYTHONPATH"

MAC_API = "/Library/Application Support/Blackmagic Design/DaVinci Resolve/Developer/Scripting"
MAC_LIB = (
    "/Applications/DaVinci Resolve/DaVinci Resolve.app/Contents/Libraries/Fusion/fusionscript.so"
)
WIN_API_UNDER_PROGRAMDATA = r"Blackmagic Design\DaVinci Resolve\Support\Developer\Scripting"
WIN_LIB = r"C:\Program Files\Blackmagic Design\DaVinci Resolve\fusionscript.dll"
LINUX_ROOTS = ("/opt/resolve", "/home/resolve")  # the README's note on ISO installs

Exists = Callable[[str], bool]


@dataclass(frozen=True)
class Search:
    """Where the module and its library are looked for, in order (absolute paths)."""

    module_dirs: tuple[str, ...]
    libraries: tuple[str, ...]

    def looked(self) -> list[str]:
        """Every place looked at, for the error message and ``details.looked``."""
        return [*self.module_dirs, *self.libraries]


def _is_windows(platform: str) -> bool:
    return platform.startswith(("win", "cygwin"))


def candidates(env: Mapping[str, str], platform: str) -> Search:
    """The folders that may hold ``DaVinciResolveScript.py`` and the library files,
    first match wins, for ``platform`` (a ``sys.platform`` value)."""
    windows = _is_windows(platform)
    join = ntpath.join if windows else posixpath.join
    dirs: list[str] = []
    libs: list[str] = []
    if env.get(ENV_API):
        dirs.append(join(env[ENV_API], "Modules"))
    separator = ";" if windows else ":"
    dirs.extend(part for part in env.get(ENV_PYTHONPATH, "").split(separator) if part)
    if env.get(ENV_LIB):
        libs.append(env[ENV_LIB])
    if platform.startswith("darwin"):
        dirs.append(join(MAC_API, "Modules"))
        libs.append(MAC_LIB)
    elif windows:
        programdata = env.get("PROGRAMDATA") or env.get("ProgramData") or r"C:\ProgramData"
        dirs.append(join(programdata, WIN_API_UNDER_PROGRAMDATA, "Modules"))
        libs.append(WIN_LIB)
    else:
        for root in LINUX_ROOTS:
            dirs.append(join(root, "Developer", "Scripting", "Modules"))
            libs.append(join(root, "libs", "Fusion", "fusionscript.so"))
    return Search(tuple(dict.fromkeys(dirs)), tuple(dict.fromkeys(libs)))


def find_module(
    env: Mapping[str, str], platform: str, exists: Exists = os.path.isfile
) -> tuple[str | None, str | None, Search]:
    """``(module file, library file, search)``: the first of each that exists (or None)."""
    search = candidates(env, platform)
    join = ntpath.join if _is_windows(platform) else posixpath.join
    module = next(
        (join(d, MODULE_FILE) for d in search.module_dirs if exists(join(d, MODULE_FILE))), None
    )
    library = next((lib for lib in search.libraries if exists(lib)), None)
    return module, library, search


def locate(
    env: Mapping[str, str] | None = None,
    platform: str | None = None,
    exists: Exists = os.path.isfile,
) -> ModuleType:
    """Import ``DaVinciResolveScript`` from the first place Resolve documents.

    Raises ResolveNotInstalled naming every place looked at when there is no module
    file, or giving the module's own reason when it will not load (no library, an old
    module on a Python without ``imp``).
    """
    env = os.environ if env is None else env
    platform = sys.platform if platform is None else platform
    module_file, library, search = find_module(env, platform, exists)
    details = {"looked": search.looked(), "module": module_file, "library": library}
    if module_file is None:
        raise ResolveNotInstalled(
            "DaVinci Resolve's scripting module (DaVinciResolveScript.py) is not on this "
            "machine; looked in " + "; ".join(search.module_dirs) + ".",
            details=details,
        )
    try:
        with _library_variable(env):
            return _load(Path(module_file))
    except Exception as exc:
        raise ResolveNotInstalled(
            f"Resolve's scripting module at {module_file} would not load: {_reason(exc)}",
            details={**details, "error": f"{type(exc).__name__}: {exc}"},
        ) from exc


def _reason(exc: Exception) -> str:
    if isinstance(exc, ModuleNotFoundError) and exc.name == "imp":
        return (
            "it imports `imp`, which Python 3.12 removed; run comfycine on Python 3.11 or "
            "update Resolve."
        )
    text = str(exc) or type(exc).__name__
    if "dependencies" in text.lower():  # the module's own words when fusionscript is missing
        return f"{text} (fusionscript not found: set {ENV_LIB} to it)."
    return text


@contextlib.contextmanager
def _library_variable(env: Mapping[str, str]) -> Iterator[None]:
    """The module reads RESOLVE_SCRIPT_LIB from the process environment: give it the
    value of ``env`` while it loads (a no-op when ``env`` is the process environment)."""
    wanted = env.get(ENV_LIB)
    before = os.environ.get(ENV_LIB)
    if env is os.environ or wanted is None or wanted == before:
        yield
        return
    os.environ[ENV_LIB] = wanted
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(ENV_LIB, None)
        else:
            os.environ[ENV_LIB] = before


def _load(path: Path) -> ModuleType:
    """Execute the module file as ``DaVinciResolveScript``; what it leaves in
    ``sys.modules`` is the answer (Resolve's module replaces itself by fusionscript)."""
    spec = importlib.util.spec_from_file_location(MODULE_NAME, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"not a Python module: {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[MODULE_NAME] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(MODULE_NAME, None)
        raise
    return sys.modules.get(MODULE_NAME, module)
