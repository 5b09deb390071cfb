"""The recipe inside every file: PNG chunks, video tags, sidecars, read back from the file.

Clips are encoded with PyAV and PNGs written with Pillow in the tests; the last test,
marked ``real``, posts an embedded PNG's ``prompt`` chunk to the real ComfyUI.
"""

from __future__ import annotations

import asyncio
import errno
import json
import os
import uuid
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from comfycine.errors import MediaNotFound, OutputNotWritable, UsageError
from comfycine.takes import pngtext, recipe, videotags
from comfycine.takes.recipe import (
    Recipe,
    embed,
    models_in,
    read_recipe,
    sidecar_path,
    write_sidecar,
)
from comfycine.transport import ComfyClient
from tests.real_server import RealComfyUI

TIMEOUT = 120.0
FRAMES = 6
WORKFLOW = json.dumps({"nodes": [{"id": 1, "type": "EmptyImage"}], "links": []})


def model_free_graph(prefix: str = "recipe") -> dict[str, Any]:
    """EmptyImage -> SaveImage: runs on a server without models."""
    return {
        "1": {
            "class_type": "EmptyImage",
            "inputs": {"width": 16, "height": 16, "batch_size": 1, "color": 0xFF8800},
        },
        "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": prefix}},
    }


def make_recipe(**overrides: Any) -> Recipe:
    """A full recipe, as comfycine records one."""
    values: dict[str, Any] = {
        "graph": model_free_graph(),
        "template": "still",
        "params": {"prompt": "a red door", "steps": 4},
        "seeds": {"seed": 1234},
        "target": "local",
        "server": "http://127.0.0.1:8188",
        "job": "job-1",
        "sweep": "sweep-1",
        "parent": "job-0",
        "inputs": {"image": "plate.png"},
        "models": ["tiny.safetensors"],
        "created": 1700000000.5,
    }
    return Recipe(**{**values, **overrides})


def write_png(path: Path, **texts: str) -> Path:
    """A small RGB PNG with ``texts`` as text chunks, written by Pillow as ComfyUI does."""
    info = PngInfo()
    for key, value in texts.items():
        info.add_text(key, value)
    image = Image.new("RGB", (24, 16))
    image.putdata([(x * 10 % 256, y * 15 % 256, 77) for y in range(16) for x in range(24)])
    image.save(path, pnginfo=info)
    return path


def idat(path: Path) -> bytes:
    """The concatenated IDAT data (the pixels) of a PNG."""
    data = path.read_bytes()
    chunks, _ = pngtext.parse(data)
    return b"".join(data[c.data_start : c.end - 4] for c in chunks if c.kind == b"IDAT")


def text_kinds(path: Path) -> dict[str, list[str]]:
    """Text keyword -> the chunk types holding it, in file order."""
    data = path.read_bytes()
    kinds: dict[str, list[str]] = {}
    for chunk in pngtext.parse(data)[0]:
        if chunk.kind in pngtext.TEXT_KINDS:
            keyword = data[chunk.data_start : chunk.end - 4].partition(b"\0")[0].decode()
            kinds.setdefault(keyword, []).append(chunk.name)
    return kinds


def encode_clip(path: Path, muxer: str, codec: str, *, audio: bool = False) -> Path:
    """A FRAMES-frame 32x32 clip (and a silent AAC track) with a ``title`` and a ``workflow``."""
    # As ComfyUI's SaveVideo: without the flag the MP4 muxer drops `workflow`.
    options = {"movflags": "use_metadata_tags"} if muxer in ("mp4", "mov") else {}
    with av.open(str(path), "w", format=muxer, options=options) as container:
        container.metadata["title"] = "shot 1"
        container.metadata["workflow"] = WORKFLOW
        video = container.add_stream(codec, rate=8)
        video.width, video.height, video.pix_fmt = 32, 32, "yuv420p"
        sound = container.add_stream("aac", rate=8000) if audio else None
        for index in range(FRAMES):
            frame = av.VideoFrame.from_image(Image.new("RGB", (32, 32), (index * 40, 0, 0)))
            container.mux(video.encode(frame))
        container.mux(video.encode())
        if sound is not None:
            for index in range(4):
                chunk = av.AudioFrame(format="fltp", layout="mono", samples=1024)
                chunk.planes[0].update(bytes(4096))
                chunk.sample_rate, chunk.pts, chunk.time_base = (
                    8000,
                    index * 1024,
                    Fraction(1, 8000),
                )
                container.mux(sound.encode(chunk))
            container.mux(sound.encode())
    return path


def decoded_frames(path: Path) -> int:
    """How many video frames the file decodes to."""
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def packets(path: Path) -> dict[int, int]:
    """Stream index -> data packet count."""
    counts: dict[int, int] = {}
    with av.open(str(path)) as container:
        for packet in container.demux():
            if packet.size:
                counts[packet.stream.index] = counts.get(packet.stream.index, 0) + 1
    return counts


def leftovers(folder: Path) -> list[str]:
    """Temp files left in ``folder``."""
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


@pytest.fixture
def comfy_png(tmp_path: Path) -> Iterator[Path]:
    """A PNG as plain ComfyUI writes it: ``prompt`` and ``workflow`` chunks."""
    yield write_png(
        tmp_path / "ComfyUI_00001_.png", prompt=json.dumps({"9": {}}), workflow=WORKFLOW
    )


def test_models_in_finds_loader_inputs_and_model_files() -> None:
    """Loader inputs and model-file values are listed once, sorted; links and text are not."""
    graph = {
        "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "b.ckpt"}},
        "2": {
            "class_type": "DualCLIPLoader",
            "inputs": {"clip_name1": "t5.gguf", "clip_name2": "l"},
        },
        "3": {
            "class_type": "LoraLoader",
            "inputs": {"lora_name": "x.safetensors", "model": ["1", 0]},
        },
        "4": {"class_type": "Custom", "inputs": {"weights": "sub\\y.PTH", "text": "a cat"}},
        "5": {"class_type": "LoraLoader", "inputs": {"lora_name": "x.safetensors"}},
        "6": "not a node",
    }
    assert models_in(graph) == ["b.ckpt", "l", "sub\\y.PTH", "t5.gguf", "x.safetensors"]


def test_recipe_dict_round_trip_ignores_unknown_keys() -> None:
    """to_dict carries the schema tag; from_dict reads it back and ignores unknown keys."""
    original = make_recipe()
    data = original.to_dict()
    assert data["schema"] == "comfycine-recipe/1"
    assert Recipe.from_dict({**data, "pick": "chosen"}) == original
    assert "graph" not in original.to_dict(with_graph=False)


def test_from_dict_refuses_other_schemas_and_wrong_types() -> None:
    """Another schema tag or an ill-typed field is a ValueError naming the problem."""
    data = make_recipe().to_dict()
    with pytest.raises(ValueError, match="schema"):
        Recipe.from_dict({**data, "schema": "comfycine-recipe/9"})
    with pytest.raises(ValueError, match="'seeds'"):
        Recipe.from_dict({**data, "seeds": {"seed": "12"}})
    with pytest.raises(ValueError, match="'created'"):
        Recipe.from_dict({**data, "created": True})


def test_server_password_never_stored() -> None:
    """A recipe keeps the server URL without its user and password."""
    kept = make_recipe(server="http://me:secret@pc.tail:8188")
    assert kept.server == "http://pc.tail:8188"
    assert "secret" not in json.dumps(kept.to_dict())


def test_png_round_trip_keeps_pixels_and_workflow(comfy_png: Path) -> None:
    """Embedding replaces `prompt`, keeps `workflow` and IDAT, and reads back whole."""
    pixels = idat(comfy_png)
    made = make_recipe()
    assert embed(comfy_png, made) is True
    assert idat(comfy_png) == pixels
    assert text_kinds(comfy_png) == {
        "prompt": ["tEXt"],
        "workflow": ["tEXt"],
        "comfycine": ["tEXt"],
    }
    with Image.open(comfy_png) as image:
        assert image.text["prompt"] == json.dumps(made.graph)
        assert image.text["workflow"] == WORKFLOW
        assert "graph" not in json.loads(image.text["comfycine"])
    assert read_recipe(comfy_png) == made
    assert leftovers(comfy_png.parent) == []


def test_png_embed_twice_replaces_its_chunks(comfy_png: Path) -> None:
    """A second embed leaves one `prompt` and one `comfycine` chunk: the second recipe's."""
    embed(comfy_png, make_recipe())
    second = make_recipe(job="job-2", graph=model_free_graph("again"))
    embed(comfy_png, second)
    assert text_kinds(comfy_png) == {
        "prompt": ["tEXt"],
        "workflow": ["tEXt"],
        "comfycine": ["tEXt"],
    }
    assert read_recipe(comfy_png) == second


def test_plain_comfyui_png_gives_a_graph_only_recipe(comfy_png: Path) -> None:
    """A ComfyUI PNG without our chunk reads as its graph, other fields unknown."""
    found = read_recipe(comfy_png)
    assert found.graph == {"9": {}}
    assert (found.template, found.job, found.by_comfycine, found.created) == (None, "", False, 0.0)


def test_non_latin1_text_goes_in_itxt_and_round_trips(tmp_path: Path) -> None:
    """Japanese text puts our chunk in iTXt, `prompt` stays ASCII tEXt, both read back."""
    path = write_png(tmp_path / "shot.png")
    made = make_recipe(
        params={"prompt": "雨の中の赤い扉"},
        graph={"1": {"class_type": "CLIPTextEncode", "inputs": {"text": "雨の中の赤い扉"}}},
    )
    embed(path, made)
    assert text_kinds(path) == {"prompt": ["tEXt"], "comfycine": ["iTXt"]}
    assert read_recipe(path) == made
    with Image.open(path) as image:
        assert json.loads(image.text["prompt"])["1"]["inputs"]["text"] == "雨の中の赤い扉"


def test_prompt_in_an_itxt_chunk_is_read(tmp_path: Path) -> None:
    """A `prompt` another tool wrote as UTF-8 iTXt is read like ComfyUI's tEXt."""
    graph = {"1": {"class_type": "CLIPTextEncode", "inputs": {"text": "ночь"}}}
    path = write_png(tmp_path / "other.png", prompt=json.dumps(graph, ensure_ascii=False))
    assert text_kinds(path) == {"prompt": ["iTXt"]}
    assert read_recipe(path).graph == graph


def test_corrupt_png_is_left_unchanged_with_a_clear_error(comfy_png: Path) -> None:
    """A bad CRC: embed refuses and changes nothing, read_recipe says recipe_corrupt."""
    data = bytearray(comfy_png.read_bytes())
    chunks, _ = pngtext.parse(bytes(data))
    first_idat = next(c for c in chunks if c.kind == b"IDAT")
    data[first_idat.data_start] ^= 0xFF
    comfy_png.write_bytes(bytes(data))
    with pytest.raises(UsageError) as refused:
        embed(comfy_png, make_recipe())
    assert refused.value.code == "media_corrupt"
    assert "IDAT has a bad CRC" in refused.value.message
    assert comfy_png.read_bytes() == bytes(data)
    assert leftovers(comfy_png.parent) == []
    with pytest.raises(UsageError) as unread:
        read_recipe(comfy_png)
    assert unread.value.code == "recipe_corrupt"
    assert comfy_png.name in unread.value.message and "\n" not in unread.value.message


def test_corrupt_recipe_json_is_recipe_corrupt(tmp_path: Path) -> None:
    """A `comfycine` chunk that is not JSON is reported as recipe_corrupt, naming the chunk."""
    path = write_png(tmp_path / "bad.png", prompt=json.dumps({"1": {}}), comfycine="{not json")
    with pytest.raises(UsageError) as raised:
        read_recipe(path)
    assert raised.value.code == "recipe_corrupt"
    assert "its comfycine chunk is not JSON" in raised.value.message


def test_file_without_recipe_is_no_recipe(tmp_path: Path) -> None:
    """A PNG without text chunks and a JPEG without sidecar: no_recipe with the editor hint."""
    jpeg = tmp_path / "frame.jpg"
    Image.new("RGB", (8, 8)).save(jpeg)
    for path in (write_png(tmp_path / "bare.png"), jpeg):
        with pytest.raises(UsageError) as raised:
            read_recipe(path)
        assert raised.value.code == "no_recipe"
        assert "dropped the metadata" in raised.value.hint
    with pytest.raises(MediaNotFound):
        read_recipe(tmp_path / "missing.png")


def test_formats_without_metadata_use_the_sidecar(tmp_path: Path) -> None:
    """A GIF is not embedded into; its sidecar `<name>.json` holds the whole recipe."""
    gif = tmp_path / "loop.gif"
    Image.new("P", (8, 8)).save(gif)
    before = gif.read_bytes()
    made = make_recipe()
    assert embed(gif, made) is False
    assert gif.read_bytes() == before
    sidecar = write_sidecar(gif, made)
    assert sidecar == tmp_path / "loop.gif.json" == sidecar_path(gif)
    assert json.loads(sidecar.read_text())["graph"] == made.graph
    assert read_recipe(gif) == made
    assert read_recipe(sidecar) == made
    assert leftovers(tmp_path) == []


def test_corrupt_sidecar_is_recipe_corrupt(tmp_path: Path) -> None:
    """A sidecar that is not JSON, with nothing in the file: recipe_corrupt naming the sidecar."""
    gif = tmp_path / "loop.gif"
    Image.new("P", (8, 8)).save(gif)
    sidecar_path(gif).write_text('{"schema": "comfycine-recipe/1", "graph": ')
    with pytest.raises(UsageError) as raised:
        read_recipe(gif)
    assert raised.value.code == "recipe_corrupt"
    assert raised.value.message.startswith(f"{sidecar_path(gif)}: it is not JSON")


VIDEOS = [
    pytest.param(".mp4", "mp4", "libx264", True, id="mp4"),
    pytest.param(".mov", "mov", "libx264", False, id="mov"),
    pytest.param(".m4v", "mp4", "libx264", False, id="m4v"),
    pytest.param(".webm", "webm", "libvpx-vp9", False, id="webm"),
    pytest.param(".mkv", "matroska", "libx264", False, id="mkv"),
]


@pytest.mark.parametrize(("suffix", "muxer", "codec", "audio"), VIDEOS)
def test_video_round_trip_without_reencoding(
    tmp_path: Path, suffix: str, muxer: str, codec: str, audio: bool
) -> None:
    """The remuxed clip keeps its streams, packets, frames and tags, and gives the recipe back."""
    clip = encode_clip(tmp_path / f"shot-001{suffix}", muxer, codec, audio=audio)
    before = packets(clip)
    # Past 64 KiB (the MOV muxer without use_metadata_tags would cut it), and not ASCII.
    made = make_recipe(params={"prompt": "雨の中 " + "long " * 20000})
    assert embed(clip, made) is True
    assert packets(clip) == before
    assert len(before) == (2 if audio else 1)
    assert decoded_frames(clip) == FRAMES
    tags = videotags.read_tags(clip)
    assert (tags["title"], tags["workflow"]) == ("shot 1", WORKFLOW)
    assert json.loads(tags["prompt"]) == made.graph
    assert read_recipe(clip) == made
    assert leftovers(tmp_path) == []


def test_comfyui_video_gives_a_graph_only_recipe(tmp_path: Path) -> None:
    """An MP4 with only ComfyUI's `prompt` tag reads as its graph."""
    clip = tmp_path / "ComfyUI_00001_.mp4"
    with av.open(str(clip), "w", options={"movflags": "use_metadata_tags"}) as container:
        container.metadata["prompt"] = json.dumps(model_free_graph())
        video = container.add_stream("libx264", rate=8)
        video.width, video.height, video.pix_fmt = 32, 32, "yuv420p"
        container.mux(video.encode(av.VideoFrame.from_image(Image.new("RGB", (32, 32)))))
        container.mux(video.encode())
    found = read_recipe(clip)
    assert (found.graph, found.by_comfycine) == (model_free_graph(), False)


def test_truncated_video_is_untouched_and_falls_back_to_sidecar(tmp_path: Path) -> None:
    """A truncated MP4: embed refuses without change; read_recipe uses the sidecar if any."""
    clip = encode_clip(tmp_path / "cut.mp4", "mp4", "libx264")
    clip.write_bytes(clip.read_bytes()[:300])
    before = clip.read_bytes()
    with pytest.raises(UsageError) as refused:
        embed(clip, make_recipe())
    assert refused.value.code == "media_corrupt"
    assert clip.read_bytes() == before and leftovers(tmp_path) == []
    with pytest.raises(UsageError) as unread:
        read_recipe(clip)
    assert unread.value.code == "recipe_corrupt"
    made = make_recipe()
    write_sidecar(clip, made)
    assert read_recipe(clip) == made


def test_failed_write_leaves_original_and_no_temp(
    comfy_png: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A disk-full failure before the rename: disk_full, original untouched, no temp file."""
    before = comfy_png.read_bytes()

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(recipe.os, "fsync", full)
    with pytest.raises(OutputNotWritable) as raised:
        embed(comfy_png, make_recipe())
    assert raised.value.code == "disk_full"
    assert comfy_png.read_bytes() == before
    assert leftovers(comfy_png.parent) == []


def test_failed_remux_leaves_original_and_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A remux failing after writing half a copy removes the copy and keeps the clip."""
    clip = encode_clip(tmp_path / "shot.webm", "webm", "libvpx-vp9")
    before = clip.read_bytes()

    def half(source: Path, target: Path, tags: dict[str, str]) -> None:
        target.write_bytes(before[: len(before) // 2])
        raise videotags.ContainerError("the muxer did not keep the 'comfycine' tag")

    monkeypatch.setattr(recipe.videotags, "remux_with_tags", half)
    with pytest.raises(UsageError, match="did not keep"):
        embed(clip, make_recipe())
    assert clip.read_bytes() == before
    assert leftovers(tmp_path) == []


async def _run_to_end(
    client: ComfyClient, graph: dict[str, Any], extra: dict[str, Any] | None = None
) -> str:
    """Submit ``graph`` and poll its history (bounded) until it ends; return its status."""
    prompt_id = str(uuid.uuid4())
    await client.submit(graph, prompt_id=prompt_id, client_id="recipe-test", extra_data=extra)
    async with asyncio.timeout(TIMEOUT):
        while (entry := await client.history(prompt_id)) is None:
            await asyncio.sleep(0.2)
    return entry.status


@pytest.mark.real
async def test_real_server_runs_the_embedded_prompt(
    real_comfyui: RealComfyUI, tmp_path: Path
) -> None:
    """A real ComfyUI PNG, embedded into, keeps its workflow; its prompt runs on the server."""
    async with ComfyClient(real_comfyui.url) as client:
        extra = {"extra_pnginfo": {"workflow": json.loads(WORKFLOW)}}
        assert await _run_to_end(client, model_free_graph("made"), extra) == "success"
        saved = next((real_comfyui.base_dir / "output").glob("made_*.png"))
        png = tmp_path / saved.name
        png.write_bytes(saved.read_bytes())
        assert read_recipe(png).graph == model_free_graph("made")
        pixels = idat(png)
        made = make_recipe(graph=model_free_graph("rerun"))
        embed(png, made)
        assert idat(png) == pixels
        with Image.open(png) as image:
            prompt, workflow = image.text["prompt"], image.text["workflow"]
        assert json.loads(workflow) == json.loads(WORKFLOW)
        assert await _run_to_end(client, json.loads(prompt)) == "success"
    assert list((real_comfyui.base_dir / "output").glob("rerun_*.png"))


@pytest.mark.parametrize("kind", ["prores", "h264"])
def test_recipe_remux_keeps_a_timecode_track(kind: str, tmp_path: Path) -> None:
    """A conformed .mov with a timecode track (ProRes or H.264) takes the recipe and keeps it."""
    from comfycine.media.deliver import deliver
    from comfycine.media.fit import plan_fit
    from comfycine.media.probe import probe
    from comfycine.takes.videotags import read_tags, remux_with_tags

    from .clips import make_clip

    render = make_clip(tmp_path / "render.mp4", frames=12, size=(64, 36))
    info = probe(render)
    made = deliver(
        render, tmp_path / "shot", kind=kind, fit=plan_fit(info, 12, info.rate),
        rate=info.rate, timecode_frame=86412,
    )  # fmt: skip
    remux_with_tags(made.path, tmp_path / "tagged.mov", {"comment": "recipe"})
    assert read_tags(tmp_path / "tagged.mov")["comment"] == "recipe"
    assert probe(tmp_path / "tagged.mov").timecode == "01:00:00:12"
