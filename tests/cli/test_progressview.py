"""The one-line progress text a person sees on a terminal."""

from __future__ import annotations

from comfycine.cli.progressview import describe
from comfycine.progress import JobProgress


def test_queued_line_says_how_many_are_ahead() -> None:
    """A waiting job says how many jobs are ahead of it."""
    progress = JobProgress(job_id="abcdef1234", queue_position=2)
    assert describe(progress).startswith("abcdef12 queued (2 jobs ahead)")
    progress.queue_position = 0
    assert "(next)" in describe(progress)


def test_running_line_has_title_node_step_and_count() -> None:
    """A running job shows the node's title and id, the sampler step and nodes done."""
    progress = JobProgress.start(
        "abcdef1234", {"3": {"class_type": "KSampler", "_meta": {"title": "Sampler"}}}
    )
    progress.phase, progress.node, progress.node_title = "running", "3", "Sampler"
    progress.step, progress.steps = 12, 30
    line = describe(progress)
    assert "Sampler (#3)" in line and "step 12/30" in line and "[0/1 nodes]" in line
