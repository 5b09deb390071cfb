"""Fixtures of the Resolve bridge tests: the stand-in's stage, its module, a fake clock."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from comfycine.resolve import locate
from comfycine.resolve.render import Clock

from .standin import stage as stages
from .standin.scenario import build

STANDIN = Path(__file__).parent / "standin" / "DaVinciResolveScript.py"


@pytest.fixture
def stage() -> Iterator[stages.Stage]:
    """The scenario project, installed for the stand-in module; removed afterwards."""
    built = build()
    stages.use(built)
    yield built
    stages.use(None)


def install_standin(root: Path) -> Path:
    """A Resolve ``Developer/Scripting`` folder at ``root`` holding the stand-in module."""
    (root / "Modules").mkdir(parents=True, exist_ok=True)
    shutil.copy(STANDIN, root / "Modules" / "DaVinciResolveScript.py")
    return root


@pytest.fixture
def standin(tmp_path: Path, stage: stages.Stage) -> ModuleType:
    """The stand-in module, found the way Resolve documents (RESOLVE_SCRIPT_API)."""
    scripting = install_standin(tmp_path / "Scripting")
    return locate(
        {"RESOLVE_SCRIPT_API": str(scripting)}, "linux", exists=lambda p: Path(p).is_file()
    )


class FakeClock:
    """Time that moves only when the bridge sleeps."""

    def __init__(self) -> None:
        self.time = 0.0
        self.sleeps = 0

    def sleep(self, seconds: float) -> None:
        self.time += seconds
        self.sleeps += 1

    def now(self) -> float:
        return self.time


@pytest.fixture
def fake_clock() -> FakeClock:
    """A clock for the render wait: bounded by counting, never by the wall."""
    return FakeClock()


@pytest.fixture
def clock(fake_clock: FakeClock) -> Clock:
    """The bridge's Clock on the fake time."""
    return Clock(sleep=fake_clock.sleep, now=fake_clock.now)
