"""generate --takes / --vary: one sweep on the batch machinery, on the fake ComfyUI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli_support import Isolation, invoke
from tests.fakecomfy.server import FakeComfy

SEEDED = {
    "1": {
        "class_type": "EmptyImage",
        "inputs": {"width": 8, "height": 8, "batch_size": 1, "color": "PARAM_INT_SEED"},
    },
    "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "take"}},
}
# The seed paints the image: bounded to the colours EmptyImage takes.
SEEDED_META = {"bounds": {"seed": {"min": 0, "max": 16777215}}}


@pytest.fixture
def fake(isolation: Isolation, fake_comfy: FakeComfy, monkeypatch: pytest.MonkeyPatch) -> FakeComfy:
    """An isolated CLI pointed at the fake server, with a seeded model-free template."""
    monkeypatch.setenv("COMFYUI_URL", fake_comfy.url)
    (isolation.workflow_dir / "seeded.json").write_text(json.dumps(SEEDED))
    (isolation.workflow_dir / "seeded.meta.json").write_text(json.dumps(SEEDED_META))
    return fake_comfy


def test_vary_renders_one_take_per_value_as_one_sweep(fake: FakeComfy) -> None:
    """--vary color=1,2,3: three takes, one sweep id, each take's value on the server."""
    result = invoke("generate", "testimage", "--vary", "color=1,2,3", "--json")
    assert result.exit_code == 0, result
    data = result.envelope()["data"]
    assert data["sweep"].startswith("s") and data["succeeded"] == 3
    assert [i["cell"] for i in data["items"]] == [{"color": "1"}, {"color": "2"}, {"color": "3"}]
    assert all(Path(i["outputs"][0]).is_file() for i in data["items"])
    sent = sorted(p["prompt"]["1"]["inputs"]["color"] for p in fake.prompts_received)
    assert sent == [1, 2, 3]


def test_two_axes_make_every_combination(fake: FakeComfy) -> None:
    """Two --vary: the cartesian product, first axis slowest."""
    result = invoke(
        "generate", "testimage", "--vary", "width=8,16", "--vary", "color=5,6", "--json"
    )
    assert result.exit_code == 0, result
    cells = [i["cell"] for i in result.envelope()["data"]["items"]]
    assert cells == [
        {"width": "8", "color": "5"},
        {"width": "8", "color": "6"},
        {"width": "16", "color": "5"},
        {"width": "16", "color": "6"},
    ]


def test_running_the_same_sweep_again_renders_nothing_twice(fake: FakeComfy) -> None:
    """The same command resumes its sweep: done takes are skipped, none sent again."""
    first = invoke("generate", "testimage", "--vary", "color=7,8", "--json")
    again = invoke("generate", "testimage", "--vary", "color=7,8", "--json")
    assert first.exit_code == again.exit_code == 0, again
    assert first.envelope()["data"]["sweep"] == again.envelope()["data"]["sweep"]
    assert all(i["earlier"] for i in again.envelope()["data"]["items"])
    assert len(fake.prompts_received) == 2


def test_takes_draw_seeds_kept_for_a_resume(fake: FakeComfy) -> None:
    """--takes 3 draws three distinct seeds in the seed's bounds; a rerun keeps them."""
    first = invoke("generate", "seeded", "--takes", "3", "--json")
    assert first.exit_code == 0, first
    seeds = [int(i["cell"]["seed"]) for i in first.envelope()["data"]["items"]]
    assert len(set(seeds)) == 3 and all(0 <= s <= 16777215 for s in seeds)
    again = invoke("generate", "seeded", "--takes", "3", "--json")
    assert [int(i["cell"]["seed"]) for i in again.envelope()["data"]["items"]] == seeds
    assert len(fake.prompts_received) == 3
    fresh = invoke("generate", "seeded", "--takes", "3", "--new-sweep", "--json")
    assert fresh.envelope()["data"]["sweep"] != first.envelope()["data"]["sweep"]
    assert len(fake.prompts_received) == 6


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["--vary", "nosuch=1,2"], "invalid_parameter"),
        (["--vary", "width=8,99999"], "invalid_parameter"),
        (["--vary", "color=1..100", "--vary", "width=1,2"], "sweep_too_large"),
        (["--vary", "color=1..1000"], "sweep_too_large"),
        (["--vary", "color"], "invalid_parameter"),
        (["--takes", "2"], "invalid_parameter"),  # testimage has no seed
        (["--vary", "color=1,2", "--timeout", "5"], "usage_error"),
    ],
)
def test_bad_sweeps_are_refused_before_anything_is_sent(
    fake: FakeComfy, args: list[str], code: str
) -> None:
    """Unknown names, values out of bounds, too many takes: exit 2, one line, nothing sent."""
    result = invoke("generate", "testimage", *args, "--json")
    assert result.exit_code == 2, result
    error = result.envelope()["error"]
    assert error["code"] == code and "\n" not in error["message"]
    assert fake.prompts_received == []


def test_detached_sweep_then_status_and_wait(fake: FakeComfy) -> None:
    """--detach submits every take and answers the sweep id; status and wait take it whole."""
    fake.node_seconds = 0.2
    detached = invoke("generate", "testimage", "--vary", "color=11,12", "--detach", "--json")
    assert detached.exit_code == 0, detached
    sweep = detached.envelope()["data"]["sweep"]
    assert len(fake.prompts_received) == 2
    status = invoke("status", sweep, "--json")
    assert status.exit_code == 0, status
    assert status.envelope()["data"]["sweep"] == sweep
    assert len(status.envelope()["data"]["jobs"]) == 2
    waited = invoke("wait", sweep, "--json")
    assert waited.exit_code == 0, waited
    jobs = waited.envelope()["data"]["jobs"]
    assert [j["status"] for j in jobs] == ["succeeded", "succeeded"]
    assert all(Path(j["outputs"][0]).is_file() for j in jobs)


def test_a_sweep_gives_a_labelled_grid_and_each_take_its_preview(fake: FakeComfy) -> None:
    """data.previews.grid: one picture of the takes; each take's thumbnail in its job."""
    result = invoke("generate", "testimage", "--vary", "color=21,22", "--json")
    assert result.exit_code == 0, result
    data = result.envelope()["data"]
    grid = Path(data["previews"]["grid"])
    assert grid.is_file() and grid.read_bytes()[:2] == b"\xff\xd8"  # a JPEG
    job = data["items"][0]["job"]
    status = invoke("status", job, "--json").envelope()["data"]["job"]
    (found,) = status["previews"].values()
    assert Path(found["thumbnail"]).is_file()
