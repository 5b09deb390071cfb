"""Connecting to Resolve: the errors of a missing Resolve, project or timeline, and the
timeline's facts."""

from __future__ import annotations

from fractions import Fraction
from types import ModuleType

import pytest

from comfycine.errors import ExitCode
from comfycine.resolve import (
    ResolveNoProject,
    ResolveNoTimeline,
    ResolveNotRunning,
    connect,
)

from .standin.stage import Stage


def test_not_running_says_both_causes_and_how_to_tell(standin: ModuleType, stage: Stage) -> None:
    """scriptapp None: resolve_not_running, exit 3, naming the preference and the fallback."""
    stage.running = False
    with pytest.raises(ResolveNotRunning) as caught:
        connect(standin)
    error = caught.value
    assert (error.code, error.exit_code) == ("resolve_not_running", ExitCode.UNREACHABLE)
    assert "not running" in error.message and "free edition" in error.message
    assert "External scripting using: Local" in error.message
    assert "comfycine conform TIMELINE TEMPLATE" in error.hint


def test_no_project_is_a_usage_error(standin: ModuleType, stage: Stage) -> None:
    """Resolve at its Project Manager: resolve_no_project, exit 2."""
    stage.project = None
    with pytest.raises(ResolveNoProject) as caught:
        connect(standin)
    assert (caught.value.code, caught.value.exit_code) == ("resolve_no_project", ExitCode.USAGE)


def test_no_timeline_is_a_usage_error(standin: ModuleType, stage: Stage) -> None:
    """A project with no timeline open: resolve_no_timeline, exit 2."""
    stage.project.current = None
    with pytest.raises(ResolveNoTimeline) as caught:
        connect(standin)
    assert (caught.value.code, caught.value.exit_code) == ("resolve_no_timeline", ExitCode.USAGE)


def test_timeline_info_reads_names_rate_and_tracks(standin: ModuleType) -> None:
    """The current timeline: names, 24000/1001, first frame 86400, two video tracks."""
    info = connect(standin).timeline_info()
    assert (info.project, info.timeline) == ("Feature", "Reel 1")
    assert info.rate == Fraction(24000, 1001) and not info.drop_frame
    assert (info.start_frame, info.video_tracks) == (86400, 2)
    assert info.to_dict()["rate"] == "24000/1001"


@pytest.mark.parametrize(
    ("setting", "rate", "drop"),
    [
        ("29.97", Fraction(30000, 1001), False),
        ("29.97 DF", Fraction(30000, 1001), True),
        ("59.94", Fraction(60000, 1001), False),
        ("25", Fraction(25), False),
    ],
)
def test_fractional_rates_are_exact(
    standin: ModuleType, stage: Stage, setting: str, rate: Fraction, drop: bool
) -> None:
    """The timeline's timelineFrameRate text becomes an exact Fraction and a drop flag."""
    stage.project.current.settings["timelineFrameRate"] = setting
    info = connect(standin).timeline_info()
    assert (info.rate, info.drop_frame) == (rate, drop)


def test_project_rate_is_used_when_the_timeline_has_none(standin: ModuleType, stage: Stage) -> None:
    """An empty timeline setting (the README's "trivial result") falls back to the project's."""
    stage.project.current.settings.clear()
    stage.project.settings["timelineFrameRate"] = "59.94"
    assert connect(standin).timeline_info().rate == Fraction(60000, 1001)


def test_a_timeline_is_found_by_name_or_unique_id(standin: ModuleType, stage: Stage) -> None:
    """connect(timeline=...) opens the named timeline, or the one with that unique id."""
    reel2 = stage.project.timelines[1]
    assert connect(standin, timeline="Reel 2").timeline is reel2
    assert connect(standin, timeline=reel2.uid).timeline is reel2


def test_an_unknown_timeline_lists_the_project_timelines(standin: ModuleType) -> None:
    """A name no timeline has: resolve_no_timeline with the names there are."""
    with pytest.raises(ResolveNoTimeline) as caught:
        connect(standin, timeline="Reel 9")
    assert "'Reel 1', 'Reel 2'" in caught.value.message
