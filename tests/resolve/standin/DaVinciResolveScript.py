"""Stand-in for Resolve's ``DaVinciResolveScript`` module (tests only).

Copied into ``<tmp>/Modules/`` and found through ``RESOLVE_SCRIPT_API`` like the real
one. ``scriptapp("Resolve")`` answers the installed stage's Resolve, or None when the
stage says Resolve is not running (what the free edition answers too). Any other
attribute of the module fails loudly.
"""

from __future__ import annotations

from typing import Any

from tests.resolve.standin.stage import Resolve, current
from tests.resolve.standin.strict import Undocumented, check


def scriptapp(app: str, ip: str | None = None) -> Any:
    """The Resolve object, or None when Resolve does not answer."""
    check(app == "Resolve", f"scriptapp({app!r}): the bridge asks for Resolve")
    stage = current()
    if stage is None or not stage.running:
        return None
    return Resolve(stage)


def __getattr__(name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(name)
    raise Undocumented(f"DaVinciResolveScript.{name}: not implemented by the stand-in")
