"""Folding events into a progress snapshot (what the live line and --events show)."""

from __future__ import annotations

from comfycine.progress import JobProgress
from comfycine.transport import events as ev
from tests.captures import load, ws_frames

GRAPH = {
    "4": {"class_type": "CheckpointLoaderSimple", "_meta": {"title": "Load model"}},
    "3": {"class_type": "KSampler", "_meta": {"title": "Sampler"}},
    "9": {"class_type": "SaveImage"},
}


def test_recorded_run_reaches_done_with_steps_seen() -> None:
    """Replaying the recorded txt2img run passes through the sampler steps and ends done."""
    prompt = load("15_txt2img_tiny_sd15", "request.json")["prompt"]
    progress = JobProgress.start("job", prompt)
    steps = []
    for frame in ws_frames("15_txt2img_tiny_sd15"):
        event = ev.parse_text(frame)
        if event is not None and not isinstance(event, ev.Status):
            progress.apply(event)
            if progress.steps:
                steps.append((progress.node, progress.step, progress.steps))
    assert steps[-1] == ("3", 5, 5)
    assert progress.phase == "done" and progress.nodes_done == progress.nodes_total == 7


def test_titles_come_from_meta_then_class() -> None:
    """The current node is shown by its title, else its class."""
    progress = JobProgress.start("job", GRAPH)
    progress.apply(ev.Executing("job", "3"))
    assert progress.node_title == "Sampler" and progress.phase == "running"
    progress.apply(ev.Executing("job", "9"))
    assert progress.node_title == "SaveImage" and progress.nodes_done == 1


def test_cached_nodes_count_as_done_and_steps_reset() -> None:
    """Cached nodes count as done; entering a new node clears the step counter."""
    progress = JobProgress.start("job", GRAPH)
    progress.apply(ev.ExecutionCached("job", ("4",)))
    assert progress.nodes_done == 1
    progress.apply(ev.Executing("job", "3"))
    progress.apply(ev.Progress("job", "3", 7, 20))
    assert (progress.step, progress.steps) == (7, 20)
    progress.apply(ev.Executing("job", "9"))
    assert progress.step is None and progress.nodes_done == 2


def test_to_dict_is_json_ready() -> None:
    """The dict form carries the public fields and no internals."""
    data = JobProgress.start("job", GRAPH).to_dict()
    assert data["phase"] == "queued" and data["nodes_total"] == 3
    assert "titles" not in data and "_seen" not in data and data["elapsed"] >= 0
