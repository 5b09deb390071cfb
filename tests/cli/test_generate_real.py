"""generate / wait / status / cancel through the CLI against the real CPU ComfyUI."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cli_support import Isolation, files_under, invoke, join
from tests.graphs import blur_chain
from tests.real_server import RealComfyUI

pytestmark = pytest.mark.real

MP4_BRAND = b"ftyp"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def write_template(
    directory: Path, name: str, graph: dict[str, Any], meta: dict[str, Any] | None = None
) -> None:
    """Drop a template (and its sidecar) into the user's workflow dir."""
    (directory / f"{name}.json").write_text(json.dumps(graph))
    if meta is not None:
        (directory / f"{name}.meta.json").write_text(json.dumps(meta))


def tiny_sd_graph(checkpoint: str) -> dict[str, Any]:
    """The standard txt2img graph on the tiny checkpoint, with prompt and steps placeholders."""
    return {
        "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": checkpoint}},
        "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "PARAM_PROMPT", "clip": ["4", 1]}},
        "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "blurry", "clip": ["4", 1]}},
        "5": {
            "class_type": "EmptyLatentImage",
            "inputs": {"width": 64, "height": 64, "batch_size": 1},
        },
        "3": {
            "class_type": "KSampler",
            "_meta": {"title": "Sampler"},
            "inputs": {
                "model": ["4", 0],
                "positive": ["6", 0],
                "negative": ["7", 0],
                "latent_image": ["5", 0],
                "seed": 42,
                "steps": "PARAM_INT_STEPS",
                "cfg": 7.0,
                "sampler_name": "euler",
                "scheduler": "normal",
                "denoise": 1.0,
            },
        },
        "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
        "9": {"class_type": "SaveImage", "inputs": {"images": ["8", 0], "filename_prefix": "tiny"}},
    }


def slow_graph(nodes: int = 40) -> dict[str, Any]:
    """A chain of blurs: seconds of CPU, one node boundary (interrupt point) per blur."""
    return blur_chain(nodes)


def test_video_job_writes_mp4(real: RealComfyUI, isolation: Isolation) -> None:
    """generate testpattern --json downloads an h264 mp4 under OUTPUT_DIR/<date>/."""
    result = invoke("generate", "testpattern", "--json")
    assert result.exit_code == 0, result
    data = result.envelope()["data"]
    assert data["status"] == "succeeded" and len(data["outputs"]) == 1
    path = Path(data["outputs"][0])
    assert path.parent.parent == isolation.output_dir and path.name.startswith("testpattern-")
    assert path.suffix == ".mp4" and MP4_BRAND in path.read_bytes()[:16]
    assert not [p for p in files_under(isolation.output_dir) if p.suffix == ".part"]


def test_image_job_prints_paths_on_stdout(real: RealComfyUI) -> None:
    """Without --json, stdout is exactly the output paths; the summary goes to stderr."""
    result = invoke("generate", "testimage", "--set", "width=64", "--set", "height=32")
    assert result.exit_code == 0, result
    lines = result.stdout.splitlines()
    assert len(lines) == 1 and Path(lines[0]).read_bytes().startswith(PNG_MAGIC)
    assert "succeeded" in result.stderr


def test_upload_and_loadimage(real: RealComfyUI, isolation: Isolation) -> None:
    """A local image is uploaded, LoadImage reads it under the server's name, result lands."""
    first = invoke("generate", "testimage", "--json")
    plate = Path(first.envelope()["data"]["outputs"][0])
    result = invoke("generate", "testblur", "--image", str(plate), "--set", "radius=2", "--json")
    assert result.exit_code == 0, result
    data = result.envelope()["data"]
    assert Path(data["outputs"][0]).read_bytes().startswith(PNG_MAGIC)
    uploaded = list((real.base_dir / "input").glob(f"{plate.stem}*"))
    assert uploaded, "the plate was not uploaded to the server's input folder"


def test_sampling_reports_every_step(real: RealComfyUI, isolation: Isolation) -> None:
    """A KSampler job on the tiny checkpoint streams step 1..5 of 5 and records its seed."""
    write_template(isolation.workflow_dir, "tinysd", tiny_sd_graph(real.checkpoint))
    result = invoke("generate", "tinysd", "--prompt", "a lighthouse", "--steps", "5", "--events")
    assert result.exit_code == 0, result
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    envelope = lines[-1]
    steps = {
        (p["progress"]["step"], p["progress"]["steps"])
        for p in lines[:-1]
        if p["progress"].get("steps")
    }
    assert steps == {(i, 5) for i in range(1, 6)}
    assert any(p["progress"].get("node_title") == "Sampler" for p in lines[:-1])
    assert envelope["ok"] and isinstance(envelope["data"]["seeds"]["seed"], int)


def test_seed_is_randomised_unless_set(real: RealComfyUI, isolation: Isolation) -> None:
    """Two runs draw different seeds; --seed fixes it and the ledger records it."""
    write_template(isolation.workflow_dir, "tinysd", tiny_sd_graph(real.checkpoint))
    runs = [invoke("generate", "tinysd", "-p", "x", "--steps", "1", "--json") for _ in range(2)]
    seeds = [r.envelope()["data"]["seeds"]["seed"] for r in runs]
    assert seeds[0] != seeds[1]
    fixed = invoke("generate", "tinysd", "-p", "x", "--steps", "1", "--seed", "7", "--json")
    job = fixed.envelope()["data"]["job"]
    status = invoke("status", job[:8], "--json").envelope()["data"]["job"]
    assert status["seeds"] == {"seed": 7}


def test_detach_then_wait(real: RealComfyUI) -> None:
    """--detach prints the job id at once; wait collects the outputs later."""
    detached = invoke("generate", "testimage", "--detach", "--json")
    assert detached.exit_code == 0, detached
    data = detached.envelope()["data"]
    assert data["status"] == "queued" and data["outputs"] == []
    waited = invoke("wait", data["job"], "--json")
    assert waited.exit_code == 0, waited
    assert Path(waited.envelope()["data"]["outputs"][0]).is_file()
    again = invoke("wait", data["job"], "--json")
    assert again.envelope()["data"]["outputs"] == waited.envelope()["data"]["outputs"]


def test_status_lists_recent_jobs(real: RealComfyUI) -> None:
    """status with no argument lists recent jobs, newest first."""
    first = invoke("generate", "testimage", "--json").envelope()["data"]["job"]
    second = invoke("generate", "testimage", "--set", "color=255", "--json").envelope()["data"][
        "job"
    ]
    listed = invoke("status", "--json").envelope()["data"]["jobs"]
    assert [j["job"] for j in listed[:2]] == [second, first]


def _wait_running(url: str, job: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        running = httpx.get(f"{url}/queue").json()["queue_running"]
        if any(item[1] == job for item in running):
            return
        time.sleep(0.05)
    raise AssertionError(f"job {job} never started")


def test_cancel_running_and_pending(real: RealComfyUI, isolation: Isolation) -> None:
    """cancel interrupts the running job and removes the pending one; wait then exits 5."""
    write_template(isolation.workflow_dir, "slow", slow_graph())
    running = invoke("generate", "slow", "--detach", "--json").envelope()["data"]["job"]
    write_template(isolation.workflow_dir, "slow2", slow_graph(41))
    pending = invoke("generate", "slow2", "--detach", "--json").envelope()["data"]["job"]
    _wait_running(real.url, running)

    removed = invoke("cancel", pending, "--json")
    assert removed.envelope()["data"]["action"] == "removed", removed
    interrupted = invoke("cancel", running, "--json")
    assert interrupted.envelope()["data"]["action"] == "interrupted", interrupted

    waited = invoke("wait", running, "--json")
    assert waited.exit_code == 5, waited
    assert waited.envelope()["error"]["code"] == "job_interrupted"
    gone = invoke("wait", pending, "--json")
    assert gone.exit_code == 5 and gone.envelope()["error"]["code"] == "job_cancelled"
    assert files_under(isolation.output_dir) == []


def test_wait_timeout_exits_6_and_job_goes_on(real: RealComfyUI, isolation: Isolation) -> None:
    """wait --timeout returns 6 while the job runs; a later wait collects it."""
    write_template(isolation.workflow_dir, "slow", slow_graph(12))
    job = invoke("generate", "slow", "--detach", "--json").envelope()["data"]["job"]
    short = invoke("wait", job, "--timeout", "0.2", "--json")
    assert short.exit_code == 6, short
    assert short.envelope()["error"]["code"] == "still_running"
    done = invoke("wait", job, "--json")
    assert done.exit_code == 0, done


def test_generate_follows_while_another_client_watches(real: RealComfyUI) -> None:
    """A second process's generate in parallel does not disturb ours (own client ids)."""
    results: list[int] = []

    def other() -> None:
        results.append(invoke("generate", "testimage", "--set", "color=1", "--json").exit_code)

    thread = threading.Thread(target=other)
    thread.start()
    mine = invoke("generate", "testpattern", "--json")
    join(thread)
    assert mine.exit_code == 0, mine
    assert results == [0]


def test_unknown_node_is_exit_4_with_server_reason(real: RealComfyUI, isolation: Isolation) -> None:
    """A node class the server lacks is rejected with exit 4 and the server's own words."""
    graph = {
        "1": {"class_type": "WanVideoSampler", "inputs": {}},
        "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "x"}},
    }
    write_template(isolation.workflow_dir, "custom", graph)
    result = invoke("generate", "custom", "--no-validate", "--json")
    assert result.exit_code == 4, result
    error = result.envelope()["error"]
    assert error["code"] == "unknown_node"
    assert "WanVideoSampler does not exist" in error["message"]
    assert files_under(isolation.output_dir) == []


def test_unknown_model_is_exit_4_naming_the_file(real: RealComfyUI, isolation: Isolation) -> None:
    """A checkpoint the server does not have is rejected with exit 4, naming node and file."""
    write_template(isolation.workflow_dir, "tinysd", tiny_sd_graph("wan2.2_t2v_14B.safetensors"))
    result = invoke("generate", "tinysd", "-p", "x", "--steps", "1", "--no-validate", "--json")
    assert result.exit_code == 4, result
    error = result.envelope()["error"]
    assert error["code"] == "missing_model"
    assert "wan2.2_t2v_14B.safetensors" in error["message"]
    assert error["details"]["problems"][0]["input"] == "ckpt_name"
    status = invoke("status", "last", "--json").envelope()["data"]["job"]
    assert status["status"] == "failed"


def test_preflight_reports_every_problem_before_submitting(
    real: RealComfyUI, isolation: Isolation
) -> None:
    """generate checks nodes and models first: all problems at once, nothing queued."""
    graph = tiny_sd_graph("wan2.2_t2v_14B.safetensors")
    graph["8"]["class_type"] = "VAEDecod"  # a typo'd class
    write_template(isolation.workflow_dir, "broken", graph)
    before = httpx.get(f"{real.url}/history").json()
    result = invoke("generate", "broken", "-p", "x", "--steps", "1", "--json")
    assert result.exit_code == 4, result
    problems = result.envelope()["error"]["details"]["problems"]
    codes = {p["code"] for p in problems}
    assert {"unknown_node", "missing_model"} <= codes, problems
    typo = next(p for p in problems if p["code"] == "unknown_node")
    assert "VAEDecode" in typo["message"] + (typo["fix"] or "")
    assert httpx.get(f"{real.url}/history").json().keys() == before.keys()
    assert httpx.get(f"{real.url}/queue").json()["queue_pending"] == []


def test_preflight_passes_uploaded_media(real: RealComfyUI, isolation: Isolation) -> None:
    """A freshly uploaded image is not mistaken for a missing file by the preflight."""
    first = invoke("generate", "testimage", "--set", "color=4242", "--json")
    plate = Path(first.envelope()["data"]["outputs"][0])
    renamed = plate.with_name(f"fresh-{plate.name}")
    renamed.write_bytes(plate.read_bytes())
    result = invoke("generate", "testblur", "--image", str(renamed), "--json")
    assert result.exit_code == 0, result
