"""{a|b} choices in a template's prompt: drawn per take, recorded, drawn again by a retake."""

from __future__ import annotations

import json
from pathlib import Path

from comfycine.generation import prepare_template_job
from comfycine.takes.recipe import Recipe
from comfycine.takes.retake import template_changes
from comfycine.templates import Template, load_template

GRAPH = {
    "1": {"class_type": "CLIPTextEncode", "inputs": {"text": "PARAM_PROMPT", "clip": ["9", 1]}},
    "2": {"class_type": "KSampler", "inputs": {"seed": "PARAM_INT_SEED", "positive": ["1", 0]}},
}
OPTIONS = {"a red car", "a blue car", "a green car"}


def template(tmp_path: Path) -> Template:
    """A template whose prompt feeds a text encoder."""
    (tmp_path / "t.json").write_text(json.dumps(GRAPH))
    return load_template("t", [tmp_path])


def test_each_take_draws_a_choice_and_records_its_seed(tmp_path: Path) -> None:
    """The graph holds one option; the job keeps the text and a prompt_choices seed."""
    job = prepare_template_job(template(tmp_path), prompt="a {red|blue|green} car")
    graph = job.build({})
    assert graph["1"]["inputs"]["text"] in OPTIONS
    assert job.params["prompt"] == "a {red|blue|green} car"
    assert isinstance(job.seeds["prompt_choices"], int) and "seed" in job.seeds
    drawn = {
        prepare_template_job(template(tmp_path), prompt="a {red|blue|green} car").build({})["1"][
            "inputs"
        ]["text"]
        for _ in range(30)
    }
    assert drawn == OPTIONS


def test_the_recorded_seed_draws_the_same_again_and_the_template_is_unchanged(
    tmp_path: Path,
) -> None:
    """Given the take's seeds, the same option comes out; the retake check sees no change."""
    first = prepare_template_job(template(tmp_path), prompt="a {red|blue|green} car")
    graph = first.build({})
    again = prepare_template_job(
        template(tmp_path),
        prompt="a {red|blue|green} car",
        assignments=[f"seed={first.seeds['seed']}"],
        choices=first.seeds,
    )
    assert again.build({}) == graph
    recipe = Recipe(graph, "t", first.params, first.seeds, "local", "http://pc:8188", "j")
    assert template_changes(template(tmp_path), recipe) == []


def test_a_plain_prompt_goes_out_as_typed(tmp_path: Path) -> None:
    """No choice in it: a prompt with // or braces alone is untouched, no seed recorded."""
    text = "see https://example.org/x {not a choice}"
    job = prepare_template_job(template(tmp_path), prompt=text)
    assert job.build({})["1"]["inputs"]["text"] == text and "prompt_choices" not in job.seeds
