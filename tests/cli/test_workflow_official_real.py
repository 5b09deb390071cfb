"""``workflow import --official`` end to end on the real CPU ComfyUI and its templates."""

from __future__ import annotations

import json

import pytest

from tests.cli_support import Isolation, files_under, invoke
from tests.real_server import RealComfyUI

pytestmark = pytest.mark.real

DEFAULT_MODEL = "v1-5-pruned-emaonly-fp16.safetensors"


def test_official_templates_are_listed(real: RealComfyUI) -> None:
    """No NAME lists the server's templates with title, media type, models, partner mark."""
    result = invoke("workflow", "import", "--official", "--json")
    assert result.exit_code == 0, result
    data = result.envelope()["data"]
    listed = {t["name"]: t for t in data["official"]}
    assert len(listed) > 100 and data["templates_version"]
    assert listed["default"]["media_type"] == "image" and not listed["default"]["partner"]
    assert listed["video_wan2_2_14B_t2v"]["media_type"] == "video"
    assert "Wan2.2" in listed["video_wan2_2_14B_t2v"]["models"]
    assert listed["api_kling_flf"]["partner"]


def test_import_then_validate_reports_exactly_the_missing_models(
    real: RealComfyUI, isolation: Isolation
) -> None:
    """default imports with placeholders and its model URL; validate names that one model."""
    result = invoke("workflow", "import", "--official", "default", "--json")
    assert result.exit_code == 0, result
    imported = result.envelope()["data"]["imported"][0]
    assert imported["name"] == "default" and imported["warnings"] == []
    assert {p["name"] for p in imported["parameters"]} >= {"prompt", "width", "steps", "cfg"}
    meta = json.loads((isolation.workflow_dir / "default.meta.json").read_text())
    assert meta["official"]["name"] == "default" and meta["description"]
    assert [m["name"] for m in meta["models"]] == [DEFAULT_MODEL]

    checked = invoke("workflow", "validate", "default", "--json")
    assert checked.exit_code == 4, checked
    problems = checked.envelope()["error"]["details"]["problems"]
    assert [(p["code"], p["input"]) for p in problems] == [("missing_model", "ckpt_name")]
    assert DEFAULT_MODEL in problems[0]["message"]
    assert meta["models"][0]["url"] in problems[0]["fix"]


def test_an_existing_template_is_kept_without_force(
    real: RealComfyUI, isolation: Isolation
) -> None:
    """A second import fails with exit 2 and changes nothing; --force and --as write."""
    assert invoke("workflow", "import", "--official", "ltxv_text_to_video").exit_code == 0
    written = isolation.workflow_dir / "ltxv_text_to_video.json"
    before = written.read_text()
    again = invoke("workflow", "import", "--official", "ltxv_text_to_video", "--json")
    assert again.exit_code == 2, again
    assert again.envelope()["error"]["code"] == "template_exists"
    assert written.read_text() == before
    forced = invoke("workflow", "import", "--official", "ltxv_text_to_video", "--force")
    assert forced.exit_code == 0, forced
    renamed = invoke("workflow", "import", "--official", "ltxv_text_to_video", "--as", "draft")
    assert renamed.exit_code == 0, renamed
    assert sorted(p.name for p in files_under(isolation.workflow_dir)) == [
        "draft.json",
        "draft.meta.json",
        "ltxv_text_to_video.json",
        "ltxv_text_to_video.meta.json",
    ]


def test_an_unknown_name_is_one_line_and_exit_2(real: RealComfyUI, isolation: Isolation) -> None:
    """A template the server does not ship: one error line and a hint, nothing written."""
    result = invoke("workflow", "import", "--official", "ltxv_text_to_vidoe")
    assert result.exit_code == 2, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2, result
    assert lines[0].startswith("error:") and "ltxv_text_to_video" in lines[0]
    assert lines[1] == "hint: See the names with: comfycine workflow import --official"
    assert files_under(isolation.workflow_dir) == []
