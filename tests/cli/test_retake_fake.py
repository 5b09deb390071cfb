"""comfycine retake on the fake server: graph takes, take JOB, and the bad-input lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from tests.cli_support import Isolation, invoke, ledger_rows
from tests.fakecomfy.server import FakeComfy


@pytest.fixture
def fake(isolation: Isolation, fake_comfy: FakeComfy, monkeypatch: pytest.MonkeyPatch) -> FakeComfy:
    """An isolated CLI pointed at the fake server."""
    monkeypatch.setenv("COMFYUI_URL", fake_comfy.url)
    return fake_comfy


GRAPH = {
    "1": {
        "class_type": "EmptyImage",
        "inputs": {"width": 8, "height": 8, "batch_size": 1, "color": 4},
        "_meta": {"title": "Plate"},
    },
    "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "wf"}},
}


def test_a_workflow_run_is_retaken_from_its_graph(fake: FakeComfy, tmp_path: Path) -> None:
    """workflow run FILE, then retake its output with Plate.color=9: the graph resent
    with that one input changed, under the workflow's name, its parent recorded."""
    api = tmp_path / "plate.json"
    api.write_text(json.dumps(GRAPH))
    ran = invoke("workflow", "run", str(api), "--json")
    assert ran.exit_code == 0, ran
    first = ran.envelope()["data"]
    recipe = invoke("take", first["outputs"][0], "--json").envelope()["data"]
    assert recipe["template"] is None and recipe["workflow"] == "plate"
    again = invoke("retake", first["outputs"][0], "--set", "Plate.color=9", "--json")
    assert again.exit_code == 0, again
    data = again.envelope()["data"]
    assert data["retake"]["mode"] == "graph" and data["parent"] == first["job"]
    sent = fake.prompts_received[-1]["prompt"]
    assert sent["1"]["inputs"]["color"] == 9 and sent["2"] == GRAPH["2"]
    assert data["params"] == {"1.color": 9}


def test_take_by_job_id_shows_its_recipe_and_lineage(fake: FakeComfy) -> None:
    """take JOB --json: the job's recipe from the ledger, with its retake as a child."""
    first = invoke("generate", "testimage", "--set", "color=5", "--json").envelope()["data"]
    child = invoke("retake", first["job"], "--json").envelope()["data"]
    shown = invoke("take", first["job"][:8], "--json")
    assert shown.exit_code == 0, shown
    data = shown.envelope()["data"]
    assert data["file"] is None and data["params"]["color"] == 5
    assert [c["job"] for c in data["lineage"]["children"]] == [child["job"]]


def test_retaking_what_is_not_a_take_is_one_line_and_sends_nothing(
    fake: FakeComfy, isolation: Isolation, tmp_path: Path
) -> None:
    """A plain image, a missing file, an unknown job, a value out of bounds: exit 2 with a
    stable code, no job recorded."""
    plain = tmp_path / "plain.png"
    Image.new("RGB", (4, 4)).save(plain)
    first = invoke("generate", "testimage", "--json").envelope()["data"]
    jobs = len(ledger_rows(isolation))
    cases = {
        "no_recipe": ["retake", str(plain)],
        "media_not_found": ["retake", str(tmp_path / "gone.mp4")],
        "unknown_job": ["retake", "ffffffff"],
        "invalid_parameter": ["retake", first["job"], "--set", "color=-1"],
    }
    for code, argv in cases.items():
        result = invoke(*argv, "--json")
        assert result.exit_code == 2, (code, result)
        assert result.envelope()["error"]["code"] == code, result
        assert "Traceback" not in result.stderr
    assert len(ledger_rows(isolation)) == jobs


def test_a_take_that_ran_on_the_cloud_is_not_spent_again_silently(
    fake: FakeComfy, isolation: Isolation, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A take recorded on the cloud is retaken on the PC, saying how to use the cloud."""
    first = invoke("generate", "testimage", "--json").envelope()["data"]
    from comfycine.ledger import Ledger

    with Ledger.open(isolation.data_dir / "ledger.sqlite3") as ledger:
        ledger.update(first["job"], target="cloud")
    again = invoke("retake", first["job"], "--json")
    assert again.exit_code == 0, again
    assert again.envelope()["data"]["target"] == "local"
    assert "--target cloud" in again.stderr
