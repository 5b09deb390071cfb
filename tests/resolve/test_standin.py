"""The stand-in itself: it refuses what Resolve's README does not document."""

from __future__ import annotations

from types import ModuleType

import pytest

from comfycine.resolve import connect

from .standin import world
from .standin.strict import Undocumented


def test_an_undocumented_call_fails_loudly(standin: ModuleType) -> None:
    """A call the stand-in does not implement raises instead of answering None."""
    item = connect(standin).timeline.GetItemListInTrack("video", 1)[0]
    with pytest.raises(Undocumented, match=r"TimelineItem\.GetSelected"):
        item.GetSelected()


def test_an_undocumented_module_attribute_fails_loudly(standin: ModuleType) -> None:
    """The module offers scriptapp only."""
    with pytest.raises(Undocumented):
        standin.GetResolve()


def test_an_undocumented_render_setting_fails_loudly(standin: ModuleType) -> None:
    """SetRenderSettings with a key the README does not list is refused."""
    with pytest.raises(AssertionError, match="undocumented render settings"):
        connect(standin).project.SetRenderSettings({"OutputPath": "/tmp"})


def test_the_bridge_on_a_resolve_missing_a_call_fails_loudly(
    standin: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Had the bridge used a call the stand-in lacks, its test would fail, not pass on None."""
    monkeypatch.delattr(world.Timeline, "GetMarkers")
    with pytest.raises(Undocumented, match=r"Timeline\.GetMarkers"):
        connect(standin).select()
