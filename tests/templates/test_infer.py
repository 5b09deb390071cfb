"""Placeholder inference on real official templates and on small hand-made graphs."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from comfycine.graph.convert import ui_to_api
from comfycine.graph.schema import Catalog
from comfycine.templates import bind_values, load_template
from comfycine.templates.infer import InferredParameter, infer_placeholders
from tests.captures import CAPTURES

CATALOG = Catalog.from_object_info(json.loads((CAPTURES / "GET_object_info.json").read_text()))
OFFICIAL = Path(__file__).parent.parent / "fixtures" / "official"


def official_graph(name: str) -> dict[str, Any]:
    """An official template (UI format) converted with the recorded catalog."""
    ui = json.loads((OFFICIAL / f"{name}.json").read_text())
    graph: dict[str, Any] = ui_to_api(ui, CATALOG).graph
    return graph


def by_name(parameters: list[InferredParameter]) -> dict[str, InferredParameter]:
    """The inferred parameters keyed by name."""
    return {p.name: p for p in parameters}


def node(class_type: str, **inputs: Any) -> dict[str, Any]:
    """An API node."""
    return {"class_type": class_type, "inputs": inputs}


def sampler(steps: Any, cfg: Any = 7.0, latent: str = "5") -> dict[str, Any]:
    """A KSampler fed by the usual loaders (ids 4, 6, 7) and the latent ``latent``."""
    return node(
        "KSampler",
        model=["4", 0],
        positive=["6", 0],
        negative=["7", 0],
        latent_image=[latent, 0],
        seed=5,
        steps=steps,
        cfg=cfg,
        sampler_name="euler",
        scheduler="normal",
        denoise=1.0,
    )


def txt2img(**latent: Any) -> dict[str, Any]:
    """A small API txt2img graph around EmptyLatentImage ``latent`` inputs."""
    return {
        "4": node("CheckpointLoaderSimple", ckpt_name="a.safetensors"),
        "5": node("EmptyLatentImage", **({"width": 512, "height": 512, "batch_size": 1} | latent)),
        "6": node("CLIPTextEncode", text="a lighthouse", clip=["4", 1]),
        "7": node("CLIPTextEncode", text="blurry", clip=["4", 1]),
        "3": sampler(20),
    }


def test_default_template_gets_the_usual_parameters() -> None:
    """SD1.5 default: prompt, negative, size, batch, steps and cfg, with the workflow's values."""
    inference = infer_placeholders(official_graph("default"), CATALOG)
    found = by_name(inference.parameters)
    assert set(found) == {"prompt", "negative", "width", "height", "batch", "steps", "cfg"}
    assert found["prompt"].targets == ("6.text",) and found["negative"].targets == ("7.text",)
    assert found["negative"].default == "text, watermark"
    assert found["width"].placeholder == "PARAM_INT_WIDTH"
    assert (found["width"].default, found["steps"].default, found["cfg"].default) == (512, 20, 8.0)
    assert found["width"].bounds == {"min": 16, "max": 16384, "multiple_of": 8}
    assert found["steps"].bounds == {"min": 1, "max": 10000}
    assert found["cfg"].placeholder == "PARAM_FLOAT_CFG"
    assert found["cfg"].bounds == {"min": 0.0, "max": 100.0}
    graph = inference.graph
    assert graph["5"]["inputs"]["width"] == "PARAM_INT_WIDTH"
    assert graph["3"]["inputs"]["seed"] == 685468484323813  # stays literal: the seed parameter
    assert graph["3"]["inputs"]["sampler_name"] == "euler"
    assert graph["9"]["inputs"]["filename_prefix"] == "SD1.5"
    assert inference.warnings == []


def test_wan22_samplers_share_steps_and_cfg() -> None:
    """Wan 2.2's two samplers (same values) share steps and cfg; length becomes 4n+1 frames."""
    inference = infer_placeholders(official_graph("video_wan2_2_14B_t2v"), CATALOG)
    found = by_name(inference.parameters)
    assert set(found) == {"prompt", "negative", "width", "height", "frames", "fps", "steps", "cfg"}
    assert sorted(found["steps"].targets) == ["78.steps", "81.steps"]
    assert sorted(found["cfg"].targets) == ["78.cfg", "81.cfg"]
    assert (found["steps"].default, found["cfg"].default) == (4, 1.0)
    assert found["frames"].targets == ("74.length",)
    assert found["frames"].bounds == {"min": 1, "max": 16384, "multiple_of": 4, "offset": 1}
    assert found["frames"].default == 81
    assert found["fps"].placeholder == "PARAM_FLOAT_FPS" and found["fps"].default == 16.0
    assert found["width"].bounds["multiple_of"] == 16
    # The bypassed non-LoRA group is not part of the graph, so nothing was inferred there.
    assert all(
        t.split(".")[0] not in {"95", "96", "104"} for p in found.values() for t in p.targets
    )


def test_ltx_conditioning_keeps_each_side_apart() -> None:
    """LTXVConditioning carries both sides: the negative text is not taken for the prompt."""
    inference = infer_placeholders(official_graph("ltxv_text_to_video"), CATALOG)
    found = by_name(inference.parameters)
    assert found["prompt"].targets == ("6.text",) and found["negative"].targets == ("7.text",)
    assert inference.warnings == []
    assert found["frames"].default == 97
    assert found["frames"].bounds == {"min": 1, "max": 16384, "multiple_of": 8, "offset": 1}
    # The conditioning's frame rate (25) and the saved video's (24) differ: two parameters.
    assert (found["fps"].default, found["fps_2"].default) == (25.0, 24.0)


def test_partner_node_texts_and_named_frames() -> None:
    """Kling first/last frame: its own prompt texts, and each image named by the input it feeds."""
    inference = infer_placeholders(official_graph("api_kling_flf"), CATALOG)
    found = by_name(inference.parameters)
    assert found["prompt"].targets == ("46.prompt",)
    assert found["negative"].targets == ("46.negative_prompt",)
    assert found["start_frame"].placeholder == "PARAM_IMAGE_START_FRAME"
    assert found["end_frame"].placeholder == "PARAM_IMAGE_END_FRAME"
    assert found["start_frame"].default is None  # media: a local file to give each time
    assert inference.graph["40"]["inputs"]["image"] == "PARAM_IMAGE_START_FRAME"


def test_different_values_get_numbered_names() -> None:
    """Two samplers with different steps: steps and steps_2; their equal cfg is shared."""
    graph = txt2img()
    graph["8"] = sampler(30, latent="3")
    inference = infer_placeholders(graph, CATALOG)
    found = by_name(inference.parameters)
    assert (found["steps"].targets, found["steps"].default) == (("3.steps",), 20)
    assert (found["steps_2"].targets, found["steps_2"].placeholder) == (
        ("8.steps",),
        "PARAM_INT_STEPS_2",
    )
    assert found["cfg"].targets == ("3.cfg", "8.cfg")


def test_names_the_graph_already_uses_are_skipped() -> None:
    """A graph with PARAM_INT_STEPS already: a literal steps elsewhere becomes steps_2."""
    graph = txt2img()
    graph["3"]["inputs"]["steps"] = "PARAM_INT_STEPS"
    graph["8"] = sampler(30, latent="3")
    found = by_name(infer_placeholders(graph, CATALOG).parameters)
    assert "steps" not in found and found["steps_2"].targets == ("8.steps",)


def test_a_value_off_the_step_keeps_only_min_and_max() -> None:
    """A width the frontend would not snap to (500 with step 8) gets no multiple_of."""
    found = by_name(infer_placeholders(txt2img(width=500), CATALOG).parameters)
    assert found["width"].bounds == {"min": 16, "max": 16384}


def test_a_number_typed_in_a_primitive_node_is_replaced_there() -> None:
    """A width linked from PrimitiveInt: the primitive's value gets the placeholder."""
    graph = txt2img(width=["20", 0])
    graph["20"] = node("PrimitiveInt", value=768)
    inference = infer_placeholders(graph, CATALOG)
    found = by_name(inference.parameters)
    assert found["width"].targets == ("20.value",) and found["width"].default == 768
    assert found["width"].bounds["multiple_of"] == 8  # the latent's step, not the primitive's
    assert inference.graph["20"]["inputs"]["value"] == "PARAM_INT_WIDTH"
    assert inference.graph["5"]["inputs"]["width"] == ["20", 0]


def test_inputs_holding_the_frame_size_follow_it() -> None:
    """ModelSamplingFlux's width equal to the latent's follows it; a larger upscale does not."""
    graph = txt2img()
    graph["10"] = node(
        "ModelSamplingFlux", model=["4", 0], max_shift=1.15, base_shift=0.5, width=512, height=512
    )
    graph["11"] = node(
        "LatentUpscale",
        samples=["3", 0],
        upscale_method="nearest-exact",
        width=1024,
        height=1024,
        crop="disabled",
    )
    inference = infer_placeholders(graph, CATALOG)
    found = by_name(inference.parameters)
    assert found["width"].targets == ("5.width", "10.width")
    assert inference.graph["11"]["inputs"]["width"] == 1024


def test_media_loaders_get_their_kinds() -> None:
    """LoadImage, LoadImageMask and LoadVideo become PARAM_IMAGE, PARAM_MASK and PARAM_VIDEO."""
    graph = {
        "1": node("LoadImage", image="still.png"),
        "2": node("LoadImageMask", image="matte.png", channel="alpha"),
        "3": node("LoadVideo", file="plate.mp4"),
    }
    inference = infer_placeholders(graph, CATALOG)
    assert [p.placeholder for p in inference.parameters] == [
        "PARAM_IMAGE",
        "PARAM_MASK",
        "PARAM_VIDEO",
    ]
    assert inference.graph["2"]["inputs"] == {"image": "PARAM_MASK", "channel": "alpha"}


def test_the_input_graph_is_left_unchanged() -> None:
    """Inference works on a copy."""
    graph = official_graph("default")
    before = copy.deepcopy(graph)
    infer_placeholders(graph, CATALOG)
    assert graph == before


def test_sidecar_holds_defaults_and_bounds_but_no_media_default() -> None:
    """The sidecar part: every default except media, and the bounds of numbers only."""
    graph = txt2img()
    graph["9"] = node("LoadImage", image="still.png")
    sidecar = infer_placeholders(graph, CATALOG).sidecar()
    assert sidecar["defaults"] == {
        "prompt": "a lighthouse",
        "negative": "blurry",
        "width": 512,
        "height": 512,
        "batch": 1,
        "steps": 20,
        "cfg": 7.0,
    }
    assert set(sidecar["bounds"]) == {"width", "height", "batch", "steps", "cfg"}


class HighestRng:
    """A stand-in random source that always draws the top of the range."""

    def randint(self, low: int, high: int) -> int:
        """The highest value allowed."""
        return high


def test_a_partner_seed_range_bounds_the_random_seed(tmp_path: Path) -> None:
    """DALL·E 3 takes seeds up to 2**31-1: the sidecar says so and random seeds stay below."""
    graph = {
        "1": node("OpenAIDalle3", prompt="a red door", seed=7, quality="standard"),
        "2": node("SaveImage", images=["1", 0], filename_prefix="dalle"),
    }
    inference = infer_placeholders(graph, CATALOG)
    assert inference.sidecar()["bounds"]["seed"] == {"min": 0, "max": 2**31 - 1}
    (tmp_path / "dalle.json").write_text(json.dumps(inference.graph))
    (tmp_path / "dalle.meta.json").write_text(json.dumps(inference.sidecar()))
    template = load_template("dalle", [tmp_path])
    binding = bind_values(template, rng=HighestRng())  # type: ignore[arg-type]
    assert binding.randomized_seeds == {"seed": 2**31 - 1}


def test_full_range_seeds_get_no_bounds() -> None:
    """KSampler's seed takes ComfyUI's whole range: no seed bounds in the sidecar."""
    assert "seed" not in infer_placeholders(txt2img(), CATALOG).sidecar()["bounds"]


def test_a_guider_leads_to_the_flux_prompt() -> None:
    """SamplerCustomAdvanced's BasicGuider: its conditioning is the prompt; Flux's both texts."""
    graph = {
        "1": node("UNETLoader", unet_name="flux.safetensors", weight_dtype="default"),
        "2": node("DualCLIPLoader", clip_name1="l.safetensors", clip_name2="t5.safetensors"),
        "3": node(
            "CLIPTextEncodeFlux", clip=["2", 0], clip_l="a fox", t5xxl="a red fox", guidance=3.5
        ),
        "4": node("BasicGuider", model=["1", 0], conditioning=["3", 0]),
        "5": node(
            "SamplerCustomAdvanced",
            noise=["6", 0],
            guider=["4", 0],
            sampler=["7", 0],
            sigmas=["8", 0],
            latent_image=["9", 0],
        ),
        "6": node("RandomNoise", noise_seed=3),
        "9": node("EmptySD3LatentImage", width=1024, height=1024, batch_size=1),
    }
    inference = infer_placeholders(graph, CATALOG)
    found = by_name(inference.parameters)
    assert found["prompt"].targets == ("3.t5xxl", "3.clip_l")
    assert found["prompt"].default == "a red fox"
    assert inference.graph["3"]["inputs"]["clip_l"] == "PARAM_PROMPT"
    assert inference.warnings == [
        "node 3 input 'clip_l' held another text; it takes PARAM_PROMPT too, like 't5xxl'"
    ]
    assert found["guidance"].default == 3.5


def test_a_partner_prompt_text_input_is_the_prompt() -> None:
    """MiniMax's prompt_text is the prompt when nothing feeds a sampler."""
    graph = {
        "1": node("MinimaxTextToVideoNode", prompt_text="waves at night", model="T2V-01", seed=0),
        "2": node("SaveVideo", video=["1", 0], filename_prefix="v", format="auto", codec="auto"),
    }
    found = by_name(infer_placeholders(graph, CATALOG).parameters)
    assert found["prompt"].targets == ("1.prompt_text",)
