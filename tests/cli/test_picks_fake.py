"""take pick / reject / note: a take's verdict in the ledger, in status, and in its sidecar."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from tests.cli_support import Isolation, invoke
from tests.fakecomfy.server import FakeComfy


@pytest.fixture
def fake(isolation: Isolation, fake_comfy: FakeComfy, monkeypatch: pytest.MonkeyPatch) -> FakeComfy:
    """An isolated CLI pointed at the fake server."""
    monkeypatch.setenv("COMFYUI_URL", fake_comfy.url)
    return fake_comfy


def render(color: int) -> dict[str, object]:
    """One take of testimage; its generate data."""
    result = invoke("generate", "testimage", "--set", f"color={color}", "--json")
    assert result.exit_code == 0, result
    return dict(result.envelope()["data"])


def test_pick_by_job_shows_in_status_and_the_picks_list(fake: FakeComfy) -> None:
    """take pick JOB: status shows it picked; status --picks lists it, not the others."""
    chosen, other = render(101), render(102)
    marked = invoke("take", "pick", str(chosen["job"])[:8], "--json")
    assert marked.exit_code == 0, marked
    assert marked.envelope()["data"]["pick"] == "picked"
    shown = invoke("status", str(chosen["job"]), "--json").envelope()["data"]["job"]
    assert shown["pick"] == "picked"
    listed = invoke("status", "--picks", "--json").envelope()["data"]["jobs"]
    assert [j["job"] for j in listed] == [chosen["job"]] and other["job"] not in str(listed)


def test_note_and_reject_by_file_reach_the_sidecar(fake: FakeComfy) -> None:
    """take note FILE TEXT and take reject FILE: the file's sidecar carries both."""
    made = render(103)
    output = Path(str(made["outputs"][0]))  # type: ignore[index]
    assert invoke("take", "note", str(output), "too dark on the left").exit_code == 0
    assert invoke("take", "reject", str(output)).exit_code == 0
    sidecar = json.loads(Path(f"{output}.json").read_text())
    assert (sidecar["pick"], sidecar["note"]) == ("rejected", "too dark on the left")
    assert sidecar["job"] == made["job"]  # the recipe is still whole
    assert invoke("status", "--picks", "--json").envelope()["data"]["jobs"] == []


def test_marking_what_is_not_a_take_is_one_line(fake: FakeComfy, tmp_path: Path) -> None:
    """A file comfycine did not make, or no REF: exit 2 with the usage, nothing written."""
    plain = tmp_path / "plain.png"
    Image.new("RGB", (4, 4)).save(plain)
    refused = invoke("take", "pick", str(plain), "--json")
    assert refused.exit_code == 2 and refused.envelope()["error"]["code"] == "no_recipe"
    missing = invoke("take", "note", "--json")
    assert missing.exit_code == 2 and "take note REF TEXT" in missing.envelope()["error"]["message"]


def test_a_sweep_cell_is_picked_and_retaken_by_its_place_or_its_values(fake: FakeComfy) -> None:
    """SWEEP:2 and SWEEP:color=3 name takes of a sweep; a cell not there is one line."""
    made = invoke("generate", "testimage", "--vary", "color=3,4", "--json").envelope()["data"]
    sweep, jobs = made["sweep"], [item["job"] for item in made["items"]]
    picked = invoke("take", "pick", f"{sweep}:2", "--json")
    assert picked.exit_code == 0, picked
    assert picked.envelope()["data"]["job"] == jobs[1]
    noted = invoke("take", "note", f"{sweep}:color=3", "warmer", "--json")
    assert noted.envelope()["data"]["job"] == jobs[0]
    again = invoke("retake", f"{sweep}:color=4", "--json")
    assert again.exit_code == 0, again
    assert again.envelope()["data"]["parent"] == jobs[1]
    for ref in (f"{sweep}:3", f"{sweep}:color=5"):
        missing = invoke("take", "pick", ref, "--json")
        assert missing.exit_code == 2, missing
        error = missing.envelope()["error"]
        assert error["code"] == "bad_take_reference" and "1: color=3" in error["message"]
