"""Batch options: the targets it spreads over and the jobs in flight on each."""

from __future__ import annotations

import pytest

from comfycine.batch.run import parse_concurrency, resolve_targets
from comfycine.errors import UsageError
from comfycine.settings import Settings, resolve
from tests.cli_support import Isolation


@pytest.fixture
def settings(isolation: Isolation, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings with a named second PC."""
    monkeypatch.setenv("COMFYCINE_TARGETS", "studio=http://127.0.0.1:9")
    return resolve()


def test_targets_default_local_and_keep_order_without_repeats(settings: Settings) -> None:
    """No targets: local. Named ones in the given order, once each, case-insensitive."""
    assert [t.name for t in resolve_targets(settings, None)] == ["local"]
    chosen = resolve_targets(settings, ["Studio", "cloud", "studio"])
    assert [t.name for t in chosen] == ["studio", "cloud"]


def test_cloud_prefix_selects_cloud_and_conflicts_with_others(settings: Settings) -> None:
    """@cloud in the prompt means the cloud; with --targets local it is a conflict."""
    assert [t.name for t in resolve_targets(settings, None, "cloud")] == ["cloud"]
    with pytest.raises(UsageError) as info:
        resolve_targets(settings, ["local"], "cloud")
    assert info.value.code == "conflicting_target"


def test_unknown_target_is_refused(settings: Settings) -> None:
    """A name not configured is a usage error."""
    with pytest.raises(UsageError) as info:
        resolve_targets(settings, ["mini"])
    assert info.value.code == "unknown_target"


def test_concurrency_defaults_and_overrides(settings: Settings) -> None:
    """2 per ComfyUI, 1 on the cloud; N sets the ComfyUI targets; NAME=N one target."""
    targets = resolve_targets(settings, ["local", "studio", "cloud"])
    assert parse_concurrency(None, targets) == {"local": 2, "studio": 2, "cloud": 1}
    assert parse_concurrency("3", targets) == {"local": 3, "studio": 3, "cloud": 1}
    assert parse_concurrency("cloud=2,local=4", targets) == {"local": 4, "studio": 2, "cloud": 2}


@pytest.mark.parametrize("text", ["0", "17", "two", "mini=2", "local="])
def test_bad_concurrency_is_a_usage_error(settings: Settings, text: str) -> None:
    """Out of 1..16, not a number, or naming a target outside the batch: refused."""
    with pytest.raises(UsageError):
        parse_concurrency(text, resolve_targets(settings, ["local"]))
