"""Binding user values: typing, bounds, choices, media, missing and unknown names, seeds."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from comfycine.errors import MediaNotFound, ParameterError
from comfycine.templates import Template, bind_values, check_assignments

from .support import make_template, node, sampler_graph

META: dict[str, Any] = {
    "defaults": {"negative": "blurry", "steps": 20, "cfg": 7.0, "upscale": False, "frames": 17},
    "bounds": {
        "steps": {"min": 1, "max": 100},
        "cfg": {"min": 0.0, "max": 30.0},
        "frames": {"min": 1, "max": 161, "multiple_of": 4, "offset": 1},
    },
    "choices": {"ckpt": ["wan.safetensors", "ltx.safetensors"]},
}


@pytest.fixture
def style(tmp_path: Path) -> Path:
    """A local image file for the media parameter."""
    path = tmp_path / "style.png"
    path.write_bytes(b"png")
    return path


@pytest.fixture
def template(tmp_path: Path) -> Template:
    """The every-kind template with defaults for all but prompt, ckpt and style."""
    return make_template(tmp_path / "tpl", sampler_graph(), META)


def bind_problem(template: Template, **kwargs: Any) -> ParameterError:
    """Bind, expecting a ParameterError."""
    with pytest.raises(ParameterError) as caught:
        bind_values(template, **kwargs)
    return caught.value


def full(style: Path, *more: str) -> list[str]:
    """Assignments for every required parameter, plus ``more``."""
    return ["ckpt=wan.safetensors", f"style={style}", *more]


def test_binds_every_kind_with_types(template: Template, style: Path) -> None:
    """Values are parsed by kind; unset ones take the sidecar defaults."""
    binding = bind_values(
        template,
        prompt="a cat",
        assignments=full(style, "steps=30", "cfg=4", "upscale=yes", "frames=21", "seed=9"),
    )
    assert binding.values == {
        "ckpt": "wan.safetensors",
        "prompt": "a cat",
        "negative": "blurry",
        "style": str(style),
        "seed": 9,
        "steps": 30,
        "cfg": 4.0,
        "upscale": True,
        "frames": 21,
    }
    assert isinstance(binding.values["cfg"], float)
    assert binding.media == {"style": style}
    assert binding.sources["steps"] == "set" and binding.sources["negative"] == "default"
    assert binding.randomized_seeds == {}


@pytest.mark.parametrize(
    ("word", "expected"),
    [("true", True), ("ON", True), ("1", True), ("no", False), ("off", False), ("0", False)],
)
def test_bool_words(template: Template, style: Path, word: str, expected: bool) -> None:
    """BOOL accepts true/false, yes/no, on/off and 1/0 in any case."""
    binding = bind_values(template, prompt="p", assignments=full(style, f"upscale={word}"))
    assert binding.values["upscale"] is expected


@pytest.mark.parametrize(
    ("assignment", "expected"),
    [
        ("steps=3.5", "steps expects a whole number (digits 0-9, an optional sign), got '3.5'"),
        ("steps=1e3", "steps expects a whole number (digits 0-9, an optional sign), got '1e3'"),
        ("steps=1_000", "steps expects a whole number (digits 0-9, an optional sign), got '1_0"),
        ("cfg=abc", "cfg expects a number (digits 0-9, an optional sign and decimal point), got"),
        ("cfg=nan", "got 'nan'"),
        ("upscale=maybe", "upscale expects true or false"),
        ("steps=0", "steps must be between 1 and 100; got 0"),
        ("cfg=31.5", "cfg must be between 0 and 30; got 31.5"),
        ("frames=20", "frames must be 4n+1; got 20; nearest valid: 17 or 21"),
        ("frames=160", "frames must be 4n+1; got 160; nearest valid: 157 or 161"),
        ("ckpt=wan", "ckpt must be one of: wan.safetensors, ltx.safetensors; got 'wan'"),
    ],
)
def test_ill_typed_or_out_of_bounds_values(
    template: Template, style: Path, assignment: str, expected: str
) -> None:
    """A bad value names the parameter, the rule and the value."""
    name = assignment.partition("=")[0]
    others = [a for a in full(style) if a.partition("=")[0] != name]
    error = bind_problem(template, prompt="p", assignments=[*others, assignment])
    assert expected in error.message
    assert [p["code"] for p in error.details["problems"]] == ["bad_value"]


def test_step_message_for_a_plain_multiple(tmp_path: Path) -> None:
    """multiple_of without offset reads "a multiple of 16" and stays within bounds."""
    graph = {"1": node("EmptyImage", width="PARAM_INT_WIDTH")}
    meta = {"bounds": {"width": {"min": 16, "max": 100, "multiple_of": 16}}}
    template = make_template(tmp_path, graph, meta)
    error = bind_problem(template, assignments=["width=99"])
    assert "width must be a multiple of 16; got 99; nearest valid: 96" in error.message
    assert "112" not in error.message


def test_choice_typo_gets_a_suggestion(template: Template, style: Path) -> None:
    """A COMBO value close to a choice proposes it."""
    error = bind_problem(
        template, prompt="p", assignments=[f"style={style}", "ckpt=ltx.safetensor"]
    )
    assert "did you mean 'ltx.safetensors'?" in error.message


def test_combo_without_choices_accepts_any_text(tmp_path: Path) -> None:
    """With no choices in the sidecar a COMBO value is passed on as is."""
    template = make_template(tmp_path, {"1": node("A", s="PARAM_COMBO_SAMPLER")})
    assert bind_values(template, assignments=["sampler=euler"]).values == {"sampler": "euler"}


def test_missing_values_are_listed_together(template: Template) -> None:
    """Every parameter without a value or default is named in one error."""
    error = bind_problem(template)
    assert error.message.startswith("missing: ckpt, prompt, style")
    assert "--prompt TEXT" in error.hint
    assert {p["parameter"] for p in error.details["problems"]} == {"ckpt", "prompt", "style"}


def test_unknown_name_suggests_and_lists_valid_ones(template: Template, style: Path) -> None:
    """An unknown --set name is an error with a close match and the valid names."""
    error = bind_problem(template, prompt="p", assignments=[*full(style), "step=30"])
    assert "unknown parameter 'step' (did you mean 'steps'?)" in error.message
    assert "valid: ckpt, prompt, negative, style, seed, steps" in error.message


def test_prompt_on_a_template_without_prompt_is_an_error(tmp_path: Path) -> None:
    """--prompt for a template without PARAM_PROMPT is not silently dropped."""
    template = make_template(tmp_path, {"1": node("A", w="PARAM_INT_W")}, {"defaults": {"w": 1}})
    error = bind_problem(template, prompt="a cat")
    assert "this template takes no prompt" in error.message


def test_all_problems_are_reported_at_once(template: Template, tmp_path: Path) -> None:
    """Unknown, ill-typed, missing and missing-file problems come in one error."""
    error = bind_problem(
        template,
        assignments=[
            "bogus=1",
            "steps=x",
            "ckpt=wan.safetensors",
            f"style={tmp_path}/no.png",
            "oops",
        ],
    )
    codes = sorted(p["code"] for p in error.details["problems"])
    assert codes == ["bad_assignment", "bad_value", "media_not_found", "missing", "unknown"]
    assert "expected NAME=VALUE, got 'oops'" in error.message


def test_missing_media_file_is_media_not_found(template: Template, tmp_path: Path) -> None:
    """A media path that does not exist raises MediaNotFound naming parameter and path."""
    missing = tmp_path / "nowhere.png"
    with pytest.raises(MediaNotFound) as caught:
        bind_values(template, prompt="p", assignments=["ckpt=wan.safetensors", f"style={missing}"])
    assert f"style: {missing} does not exist" in caught.value.message
    assert caught.value.details["problems"][0]["path"] == str(missing)


def test_media_directory_is_not_a_file(template: Template, tmp_path: Path) -> None:
    """A directory given as media is refused."""
    with pytest.raises(MediaNotFound, match="is a directory"):
        bind_values(template, prompt="p", assignments=["ckpt=wan.safetensors", f"style={tmp_path}"])


def test_media_path_expands_home(
    template: Template, style: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``~`` in a media path is the user's home."""
    monkeypatch.setenv("HOME", str(style.parent))
    binding = bind_values(
        template, prompt="p", assignments=["ckpt=wan.safetensors", "style=~/style.png"]
    )
    assert binding.media["style"] == style


def test_names_are_case_and_dash_insensitive(tmp_path: Path) -> None:
    """``Camera-Type`` and ``CAMERA_TYPE`` both set ``camera_type``."""
    template = make_template(tmp_path, {"1": node("A", c="PARAM_COMBO_CAMERA_TYPE")})
    assert bind_values(template, assignments=["Camera-Type=pan"]).values == {"camera_type": "pan"}
    assert bind_values(template, overrides={"CAMERA_TYPE": "tilt"}).values["camera_type"] == "tilt"


def test_repeated_set_with_two_values_is_an_error(template: Template, style: Path) -> None:
    """--set steps=5 --set Steps=6: a duplicate naming both values, never last-wins."""
    error = bind_problem(template, prompt="p", assignments=full(style, "steps=5", "Steps=6"))
    assert "steps is given twice, as '5' and as '6'" in error.message
    assert [p["code"] for p in error.details["problems"]] == ["duplicate"]


def test_set_against_a_shortcut_is_an_error(template: Template, style: Path) -> None:
    """A CLI shortcut (--steps 30) and --set steps=20 conflict, both values named."""
    error = bind_problem(
        template, prompt="p", assignments=full(style, "steps=20"), overrides={"steps": "30"}
    )
    assert "steps is given twice, as '30' and as '20'" in error.message


def test_same_value_twice_is_accepted(template: Template, style: Path) -> None:
    """Repeating the very same value is not ambiguous: accepted."""
    binding = bind_values(
        template, prompt="p", assignments=full(style, "steps=6", "steps=6"), overrides={"cfg": "2"}
    )
    assert (binding.values["steps"], binding.values["cfg"]) == (6, 2.0)


def test_prompt_given_twice_differently_is_an_error(template: Template, style: Path) -> None:
    """--prompt and --set prompt= with different texts conflict."""
    error = bind_problem(template, prompt="a", assignments=full(style, "prompt=b"))
    assert "prompt is given twice, as 'b' and as 'a'" in error.message


def test_check_assignments_refuses_duplicates_and_malformed() -> None:
    """The up-front check (watch) raises the same problems before any job."""
    check_assignments(["a=1", "a=1", "b=2"])
    with pytest.raises(ParameterError) as caught:
        check_assignments(["a=1", "A=2"])
    assert "a is given twice, as '1' and as '2'" in caught.value.message
    with pytest.raises(ParameterError):
        check_assignments(["novalue"])


def test_empty_media_file_is_refused(template: Template, tmp_path: Path) -> None:
    """A 0-byte media file: MediaNotFound with code media_empty, naming the file."""
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(MediaNotFound) as caught:
        bind_values(template, prompt="p", assignments=["ckpt=wan.safetensors", f"style={empty}"])
    error = caught.value
    assert (error.code, error.exit_code) == ("media_empty", 2)
    assert str(empty) in error.message and "empty (0 bytes)" in error.message


def test_prompt_from_set_alone_is_accepted(template: Template, style: Path) -> None:
    """``--set prompt=...`` works without --prompt."""
    assert bind_values(template, assignments=full(style, "prompt=b")).values["prompt"] == "b"


def test_unset_seed_is_randomized_and_recorded(template: Template, style: Path) -> None:
    """An unset seed gets a value in [0, 2**32-1], reported in randomized_seeds."""
    binding = bind_values(template, prompt="p", assignments=full(style), rng=random.Random(7))
    seed = binding.values["seed"]
    assert binding.randomized_seeds == {"seed": seed}
    assert binding.sources["seed"] == "random"
    assert 0 <= seed <= 2**32 - 1
    assert seed == random.Random(7).randint(0, 2**32 - 1)


def test_each_run_draws_a_fresh_seed(template: Template, style: Path) -> None:
    """Without an rng, two bindings draw seeds from a fresh generator each."""
    seeds = {
        bind_values(template, prompt="p", assignments=full(style)).values["seed"] for _ in range(5)
    }
    assert len(seeds) > 1


def test_seed_set_by_the_user_is_kept(template: Template, style: Path) -> None:
    """--set seed=N fixes the seed; nothing is randomized."""
    binding = bind_values(
        template, prompt="p", assignments=full(style, "seed=18446744073709551615")
    )
    assert binding.values["seed"] == 2**64 - 1
    assert binding.randomized_seeds == {}


def test_negative_seed_is_refused(template: Template, style: Path) -> None:
    """Seeds are bounded to ComfyUI's range (no -1)."""
    error = bind_problem(template, prompt="p", assignments=full(style, "seed=-1"))
    assert "seed must be between 0 and" in error.message


def test_every_seed_parameter_is_randomized(tmp_path: Path) -> None:
    """PARAM_INT_SEED and PARAM_INT_NOISE_SEED both get random values when unset."""
    graph = {
        "1": node("A", seed="PARAM_INT_SEED"),
        "2": node("B", noise_seed="PARAM_INT_NOISE_SEED"),
    }
    binding = bind_values(make_template(tmp_path, graph), rng=random.Random(1))
    assert set(binding.randomized_seeds) == {"seed", "noise_seed"}


def test_fixed_seed_template_keeps_its_seed(tmp_path: Path) -> None:
    """With "fixed_seed": true an unset seed takes the template's value."""
    template = make_template(tmp_path, {"1": node("KSampler", seed=42)}, {"fixed_seed": True})
    binding = bind_values(template)
    assert (binding.values, binding.randomized_seeds) == ({"seed": 42}, {})
    assert bind_values(template, assignments=["seed=5"]).values == {"seed": 5}


def test_template_without_parameters_rejects_any_set(tmp_path: Path) -> None:
    """A template with no parameters says so when something is set."""
    template = make_template(tmp_path, {"1": node("SaveImage", filename_prefix="x")})
    assert bind_values(template).values == {}
    error = bind_problem(template, assignments=["width=3"])
    assert "this template takes none" in error.message
