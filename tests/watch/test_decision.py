"""The restart-safe decision: what the ledger's jobs for an input's key say to do."""

from __future__ import annotations

from pathlib import PurePosixPath

from comfycine.watch.decision import decide, item_key
from tests.watch.support import record

LOST = {"code": "job_lost", "exit": 5}
CRASHED_NODE = {"code": "node_exception", "exit": 5}
UNREACHABLE = {"code": "target_unreachable", "exit": 3}
HANDLED = {"watch": {"handled": True}}


def test_nothing_recorded_runs() -> None:
    """No job yet for the key: run it."""
    assert decide([]).action == "run"


def test_a_success_is_never_rendered_again() -> None:
    """Any succeeded job, even behind later rows, means done."""
    history = [record("b", "failed", error=CRASHED_NODE), record("a", "succeeded")]
    decision = decide(history)
    assert decision.action == "done" and decision.record is not None
    assert decision.record.id == "a"


def test_a_job_left_running_is_resumed() -> None:
    """A queued, running or submitting job from a killed watcher is followed again."""
    for status in ("submitting", "queued", "running"):
        decision = decide([record("a", status)])
        assert decision.action == "resume" and decision.record is not None


def test_one_crash_is_rerun_once_then_failed() -> None:
    """A lost job is rerun once; a second loss sends the input to failed/."""
    once = decide([record("a", "lost", error=LOST)])
    assert (once.action, once.reruns) == ("run", 1)
    twice = decide([record("b", "lost", error=LOST), record("a", "lost", error=LOST)])
    assert twice.action == "fail"


def test_a_real_failure_is_filed_not_rerun() -> None:
    """A job failed by its node (watcher died before filing it): fail without rerunning."""
    decision = decide([record("a", "failed", error=CRASHED_NODE)])
    assert decision.action == "fail" and decision.record is not None


def test_unreachable_attempts_do_not_count() -> None:
    """Attempts refused because the server was unreachable are ignored: run again."""
    assert decide([record("a", "failed", error=UNREACHABLE)] * 3).action == "run"


def test_an_input_moved_back_from_failed_is_tried_afresh() -> None:
    """A failure already filed (handled) does not stop a retry of the same file."""
    history = [record("a", "failed", error=CRASHED_NODE, extra=HANDLED)]
    assert decide(history).action == "run"


def test_item_key_depends_on_template_path_and_content() -> None:
    """The key changes with any of template, relative path and content hash."""
    base = item_key("upscale", PurePosixPath("upscale/a.mov"), "0" * 64)
    assert base.startswith("watch:")
    assert base == item_key("upscale", PurePosixPath("upscale/a.mov"), "0" * 64)
    assert base != item_key("upscale2", PurePosixPath("upscale/a.mov"), "0" * 64)
    assert base != item_key("upscale", PurePosixPath("upscale/b.mov"), "0" * 64)
    assert base != item_key("upscale", PurePosixPath("upscale/a.mov"), "1" * 64)
