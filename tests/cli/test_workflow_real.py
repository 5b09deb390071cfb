"""The workflow commands end to end on the real CPU ComfyUI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from tests.cli_support import Isolation, files_under, invoke
from tests.real_server import RealComfyUI

pytestmark = pytest.mark.real

FIXTURES = Path(__file__).parent.parent / "graph" / "fixtures" / "convert"
SCRIPT = Path(__file__).parent.parent / "comfyscript" / "scripts" / "model_free.py"


def test_validate_model_free_template(real: RealComfyUI) -> None:
    """A shipped model-free template is valid on a bare server."""
    result = invoke("workflow", "validate", "testpattern", "--json")
    assert result.exit_code == 0, result
    data = result.envelope()["data"]
    assert data["valid"] and data["problems"] == [] and data["catalog"] == "live"


def test_validate_cinema_template_reports_only_models(real: RealComfyUI) -> None:
    """wan22-t2v on a bare server: exit 4, every missing model in one pass, with URLs."""
    result = invoke("workflow", "validate", "wan22-t2v", "--json")
    assert result.exit_code == 4, result
    problems = result.envelope()["error"]["details"]["problems"]
    assert {p["code"] for p in problems} == {"missing_model"}
    names = " ".join(p["message"] for p in problems)
    assert "high_noise" in names and "low_noise" in names and "umt5" in names
    assert all("https://" in (p["fix"] or "") for p in problems)


def test_validate_upscale_names_the_custom_node_pack(real: RealComfyUI) -> None:
    """The SeedVR2 template says which pack to install, not just 'unknown node'."""
    result = invoke("workflow", "validate", "upscale", "--json")
    assert result.exit_code == 4, result
    problems = result.envelope()["error"]["details"]["problems"]
    packs = [p for p in problems if p["code"] == "missing_custom_node"]
    assert packs and all("seedvr2_videoupscaler" in (p["fix"] or "") for p in packs)
    assert {p["code"] for p in problems} <= {"missing_custom_node", "missing_model"}


def test_validate_offline_uses_the_snapshot(real: RealComfyUI, isolation: Isolation) -> None:
    """After one live check, --offline validates from the saved snapshot."""
    assert invoke("workflow", "validate", "testimage", "--json").exit_code == 0
    offline = invoke("workflow", "validate", "testimage", "--offline", "--json")
    assert offline.exit_code == 0, offline
    assert offline.envelope()["data"]["catalog"] == "snapshot"


def test_convert_ui_file_to_api_and_run_it(real: RealComfyUI, isolation: Isolation) -> None:
    """convert writes the API form (never over a file), and run executes it."""
    ui = isolation.root / "blur-ui.json"
    shutil.copy(FIXTURES / "bypass" / "ui.json", ui)
    out = isolation.root / "blur-api.json"
    converted = invoke("workflow", "convert", str(ui), "-o", str(out), "--json")
    assert converted.exit_code == 0, converted
    assert json.loads(out.read_text()) == json.loads((FIXTURES / "bypass" / "api.json").read_text())
    again = invoke("workflow", "convert", str(ui), "-o", str(out), "--json")
    assert again.exit_code == 2 and again.envelope()["error"]["code"] == "file_exists"
    ran = invoke("workflow", "run", str(out), "--json")
    assert ran.exit_code == 0, ran
    assert all(Path(p).is_file() for p in ran.envelope()["data"]["outputs"])


def test_run_refuses_ui_format(real: RealComfyUI, isolation: Isolation) -> None:
    """A UI-format file given to run is refused, naming convert."""
    ui = isolation.root / "saved.json"
    shutil.copy(FIXTURES / "bypass" / "ui.json", ui)
    result = invoke("workflow", "run", str(ui), "--json")
    assert result.exit_code == 2, result
    assert "workflow convert" in result.envelope()["error"]["hint"]


def test_run_refuses_json_that_is_not_a_workflow(real: RealComfyUI, isolation: Isolation) -> None:
    """JSON that is neither API nor UI format is exit 2 with a clear message."""
    path = isolation.root / "notes.json"
    path.write_text(json.dumps({"shots": [1, 2, 3]}))
    result = invoke("workflow", "run", str(path), "--json")
    assert result.exit_code == 2, result
    assert "not a ComfyUI workflow" in result.envelope()["error"]["message"]


def test_run_refuses_an_off_list_combo_before_submitting(
    real: RealComfyUI, isolation: Isolation
) -> None:
    """A combo value off the server's list is exit 4 before anything is queued."""
    graph = json.loads((FIXTURES / "txt2img" / "api.json").read_text())
    for node in graph.values():
        if node["class_type"] == "CheckpointLoaderSimple":
            node["inputs"]["ckpt_name"] = real.checkpoint
        if node["class_type"] == "KSampler":
            node["inputs"]["sampler_name"] = "eulerr"
    path = isolation.root / "txt2img.json"
    path.write_text(json.dumps(graph))
    result = invoke("workflow", "run", str(path), "--json")
    assert result.exit_code == 4, result
    problem = result.envelope()["error"]["details"]["problems"][0]
    assert problem["code"] == "bad_value" and problem["input"] == "sampler_name"


def test_comfyscript_run_and_to_script(real: RealComfyUI, isolation: Isolation) -> None:
    """A ComfyScript script runs like generate; an API file turns into a script."""
    ran = invoke("workflow", "run", str(SCRIPT), "--json")
    assert ran.exit_code == 0, ran
    data = ran.envelope()["data"]
    assert data["template"] == "model_free" and Path(data["outputs"][0]).is_file()
    api = isolation.root / "api.json"
    api.write_text((FIXTURES / "loadimage_blur" / "api.json").read_text())
    script = invoke("workflow", "to-script", str(api), "--json")
    assert script.exit_code == 0, script
    code = script.envelope()["data"]["script"]
    assert "LoadImage" in code and "ImageBlur" in code and "SaveImage" in code


def test_script_that_raises_is_exit_2(real: RealComfyUI, isolation: Isolation) -> None:
    """A script that raises reports its own error line, exit 2."""
    bad = isolation.root / "bad.py"
    bad.write_text("from comfy_script.runtime import *\nload()\nraise ValueError('no such shot')\n")
    result = invoke("workflow", "run", str(bad), "--json")
    assert result.exit_code == 2, result
    error = result.envelope()["error"]
    assert error["code"] == "script_failed" and "no such shot" in error["message"]


def test_nodes_and_models(real: RealComfyUI) -> None:
    """nodes finds classes by words; models lists the tiny checkpoint."""
    found = invoke("workflow", "nodes", "save video", "--json").envelope()["data"]["nodes"]
    assert "SaveVideo" in {n["name"] for n in found}
    models = invoke("workflow", "models", "checkpoints", "--json").envelope()["data"]["models"]
    assert real.checkpoint in models["checkpoints"]
    bad = invoke("workflow", "models", "nope", "--json")
    assert bad.exit_code == 2 and bad.envelope()["error"]["code"] == "unknown_model_folder"


def test_import_saved_workflow(real: RealComfyUI, isolation: Isolation) -> None:
    """A workflow saved in ComfyUI is listed, imported as a template, and not clobbered."""
    ui = json.loads((FIXTURES / "txt2img" / "ui.json").read_text())
    saved = "workflows/comfycine test/Night Exterior.json"
    url = f"{real.url}/api/userdata/{quote(saved, safe='')}?overwrite=true"
    assert httpx.post(url, content=json.dumps(ui)).status_code == 200
    try:
        listing = invoke("workflow", "import", "--json").envelope()["data"]["saved"]
        assert any(item["path"].endswith("Night Exterior.json") for item in listing)
        dest = isolation.root / "templates"
        result = invoke("workflow", "import", "Night Exterior", "--dest", str(dest), "--json")
        assert result.exit_code == 0, result
        imported = result.envelope()["data"]["imported"][0]
        graph = json.loads(Path(imported["path"]).read_text())
        texts = [n["inputs"].get("text") for n in graph.values()]
        assert "PARAM_PROMPT" in texts
        again = invoke("workflow", "import", "Night Exterior", "--dest", str(dest), "--json")
        assert again.exit_code == 2, again
        assert len(files_under(dest)) == 2  # NAME.json + NAME.meta.json, untouched
    finally:
        httpx.delete(f"{real.url}/api/userdata/{quote(saved, safe='')}")
