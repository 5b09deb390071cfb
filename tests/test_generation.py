"""Small decisions of generate: the @cloud prefix, media shortcuts, recorded seeds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from comfycine.errors import ParameterError, UsageError
from comfycine.generation import (
    join_prompt_words,
    resolve_media_shortcuts,
    seed_values,
    split_target_prefix,
)
from comfycine.templates import load_template, template_dirs


def test_cloud_prefix_is_stripped_and_selects_cloud() -> None:
    """'@cloud text' selects the cloud target and leaves the text."""
    assert split_target_prefix("@cloud  rain on a window", None) == ("rain on a window", "cloud")
    assert split_target_prefix("@Cloud", None) == ("", "cloud")
    assert split_target_prefix("@cloudy sky", None) == ("@cloudy sky", None)
    assert split_target_prefix("a sky", "local") == ("a sky", "local")


def test_cloud_prefix_conflicting_with_target() -> None:
    """@cloud with --target local is refused rather than guessed."""
    with pytest.raises(UsageError):
        split_target_prefix("@cloud x", "local")


def test_image_shortcut_maps_to_the_single_image_input() -> None:
    """--image becomes the template's only image parameter."""
    template = load_template("testblur", template_dirs(None))
    assert resolve_media_shortcuts(template, {"@image": "a.png", "radius": "2"}) == {
        "input": "a.png",
        "radius": "2",
    }
    with pytest.raises(ParameterError):
        resolve_media_shortcuts(template, {"@video": "a.mov"})


def test_seed_values_keep_only_seeds(tmp_path: Path) -> None:
    """Seed parameters (set or drawn) are recorded; other ints are not."""
    graph = {
        "1": {"class_type": "KSampler", "inputs": {"seed": 5, "steps": "PARAM_INT_STEPS"}},
        "2": {"class_type": "SamplerCustom", "inputs": {"noise_seed": "PARAM_INT_NOISE_SEED"}},
    }
    path = tmp_path / "seeded.json"
    path.write_text(json.dumps(graph))
    template = load_template(str(path), [])
    values = {"seed": 7, "noise_seed": 8, "steps": 20}
    assert seed_values(template, values) == {"seed": 7, "noise_seed": 8}


def _unreachable_then_ok(calls: list[str | None]) -> Any:
    """A runner failing on the PC (unreachable) and succeeding on the cloud."""
    from comfycine.errors import TargetUnreachable
    from comfycine.results import JobResult

    def run(where: str | None) -> JobResult:
        calls.append(where)
        if where != "cloud":
            raise TargetUnreachable("Cannot reach ComfyUI.", details={"reason": "timeout"})
        return JobResult(job="j", target="cloud", status="succeeded", template="t")

    return run


def test_fallback_asks_a_person_and_obeys_the_answer() -> None:
    """On a terminal the question decides: yes runs on the cloud, no keeps exit 3."""
    from comfycine.errors import TargetUnreachable
    from comfycine.generation import with_fallback

    calls: list[str | None] = []
    result = with_fallback(
        _unreachable_then_ok(calls),
        target=None,
        fallback=None,
        ask=lambda exc: True,
        command=lambda where: f"cmd --target {where}",
        notice=lambda text: None,
    )
    assert result.target == "cloud" and calls == [None, "cloud"]
    calls.clear()
    with pytest.raises(TargetUnreachable) as info:
        with_fallback(
            _unreachable_then_ok(calls),
            target=None,
            fallback=None,
            ask=lambda exc: False,
            command=lambda where: f"cmd --target {where}",
            notice=lambda text: None,
        )
    assert calls == [None] and info.value.details["command"] == "cmd --target cloud"


def test_prompt_words_after_the_template_are_the_prompt() -> None:
    """`generate wan22-t2v a rainy street` and `generate @cloud wan22-t2v …` read as meant."""
    assert join_prompt_words("wan22-t2v", ["a", "rainy", "street"], None) == (
        "wan22-t2v",
        "a rainy street",
    )
    assert join_prompt_words("@cloud", ["wan22-t2v", "night"], None) == (
        "wan22-t2v",
        "@cloud night",
    )
    assert join_prompt_words("testimage", [], None) == ("testimage", None)
    with pytest.raises(UsageError):
        join_prompt_words("wan22-t2v", ["rain"], "also rain")


def test_a_failed_job_of_any_caller_carries_its_diagnosis(fake_comfy: Any, tmp_path: Path) -> None:
    """run_prepared (generate, batch, watch) attaches the diagnosis made with the job's sizes."""
    import asyncio

    from comfycine.errors import JobFailed
    from comfycine.generation import prepare_template_job, run_prepared
    from comfycine.settings import resolve
    from comfycine.targets import resolve_target

    settings = resolve(
        {"comfyui_url": fake_comfy.url, "data_dir": tmp_path / "d", "output_dir": tmp_path / "o"},
        env={},
        read_dotenv_file=False,
    )
    template = load_template("testimage", template_dirs(None))
    job = prepare_template_job(template, assignments=["width=512", "height=512"])
    fake_comfy.oom_next()
    with pytest.raises(JobFailed) as caught:
        asyncio.run(
            run_prepared(
                settings,
                job,
                target=resolve_target(settings, None),
                detach=False,
                timeout=None,
                observer=None,
            )
        )
    diagnosis = caught.value.details["diagnosis"]
    assert diagnosis["code"] == "out_of_memory" and diagnosis["facts"]["width"] < 512
    assert "--set width=" in caught.value.hint
