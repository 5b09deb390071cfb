"""Planning a retake: values, seeds and inputs kept or changed, template changes named,
graph takes, lineage in the ledger, the target chosen (no server involved)."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from comfycine.errors import ComfycineError, MediaNotFound, ParameterError, UsageError
from comfycine.generation import PreparedJob
from comfycine.ledger import JobRecord, Ledger
from comfycine.settings import Settings, resolve
from comfycine.takes.graphdiff import graph_differences
from comfycine.takes.graphtake import set_graph_inputs
from comfycine.takes.lineage import TakeSource, describe_take, find_take_source, lineage_of
from comfycine.takes.recipe import Recipe, embed, write_sidecar
from comfycine.takes.retake import plan_retake, template_changes
from comfycine.takes.retaking import choose_target
from comfycine.templates import load_template, render_graph

SERVER = "http://127.0.0.1:8188"
TEMPLATE = {
    "1": {"class_type": "LoadImage", "inputs": {"image": "PARAM_IMAGE"}},
    "2": {
        "class_type": "ImageAddNoise",
        "inputs": {"image": ["1", 0], "seed": "PARAM_INT_SEED", "strength": "PARAM_FLOAT_STRENGTH"},
    },
    "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "t"}},
}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings writing under tmp_path, with one template ``noise`` in the workflow folder."""
    workflows = tmp_path / "workflows"
    workflows.mkdir()
    write_template(workflows, TEMPLATE)
    base = {
        "data_dir": tmp_path / "data",
        "cache_dir": tmp_path / "cache",
        "output_dir": tmp_path / "out",
        "exchange_dir": tmp_path / "exchange",
        "workflow_dir": workflows,
        "comfyui_url": SERVER,
    }
    return resolve(base, env={"HOME": str(tmp_path)}, read_dotenv_file=False)


def write_template(folder: Path, graph: dict[str, Any]) -> None:
    """The ``noise`` template and its defaults."""
    (folder / "noise.json").write_text(json.dumps(graph))
    meta = {"defaults": {"strength": 0.5}}
    (folder / "noise.meta.json").write_text(json.dumps(meta))


def take_of(settings: Settings, still: Path, **changes: Any) -> Recipe:
    """The recipe of a take of ``noise`` rendered on SERVER with seed 7."""
    template = load_template("noise", [settings.workflow_dir])  # type: ignore[list-item]
    params = {"image": str(still), "seed": 7, "strength": 0.5}
    graph = render_graph(template, params, {"image": "still.png"})
    fields: dict[str, Any] = {
        "graph": graph,
        "template": "noise",
        "params": params,
        "seeds": {"seed": 7},
        "target": "local",
        "server": SERVER,
        "job": "aaaa1111-0000-0000-0000-000000000001",
    }
    return Recipe(**{**fields, **changes})


def source(recipe: Recipe) -> TakeSource:
    """The take as a file named on the command line."""
    return TakeSource(recipe, "shot.png")


def built(job: PreparedJob, uploaded: dict[str, str] | None = None) -> dict[str, Any]:
    """The graph the job would send, media names as the server gave them."""
    return job.build({**job.server_inputs, **(uploaded or {})})


@pytest.fixture
def still(tmp_path: Path) -> Path:
    """A small still on this Mac."""
    path = tmp_path / "still.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"x" * 32)
    return path


def test_the_same_take_again_binds_the_same_values_and_seed(
    settings: Settings, still: Path
) -> None:
    """No change asked: same values, same seed, the input uploaded again, parent set."""
    recipe = take_of(settings, still)
    plan = plan_retake(settings, source(recipe), SERVER)
    assert plan.mode == "template" and plan.changes == []
    assert plan.job.seeds == {"seed": 7} and plan.job.params["strength"] == 0.5
    assert plan.job.media == {"image": still.absolute()}
    assert built(plan.job, {"image": "still.png"}) == recipe.graph
    assert plan.job.extra == {"parent": recipe.job}


def test_set_prompt_and_seed_change_only_what_they_name(settings: Settings, still: Path) -> None:
    """--set strength and --seed: those two differ from the take, nothing else."""
    recipe = take_of(settings, still)
    plan = plan_retake(settings, source(recipe), SERVER, assignments=["strength=0.8"], seed="9")
    graph = built(plan.job, {"image": "still.png"})
    assert graph_differences(recipe.graph, graph) == [
        "node 2 (ImageAddNoise) seed: 7 → 9",
        "node 2 (ImageAddNoise) strength: 0.5 → 0.8",
    ]


def test_seed_random_draws_a_new_one(settings: Settings, still: Path) -> None:
    """--seed random: a seed is drawn (not the take's), and recorded."""
    recipe = take_of(settings, still)
    seeds = {
        plan_retake(settings, source(recipe), SERVER, seed="random").job.seeds["seed"]
        for _ in range(3)
    }
    assert seeds != {7} and len(seeds) >= 2


def test_an_input_gone_from_this_mac_is_read_on_the_server_that_has_it(
    settings: Settings, tmp_path: Path
) -> None:
    """The still is no longer here: on the same server its uploaded copy is used, nothing
    uploaded; the recorded value is kept as the lineage."""
    recipe = take_of(settings, tmp_path / "gone.png")
    plan = plan_retake(settings, source(recipe), SERVER)
    assert plan.job.media == {} and plan.job.server_inputs == {"image": "still.png"}
    assert plan.job.params["image"] == str(tmp_path / "gone.png")
    assert built(plan.job) == recipe.graph


def test_an_input_neither_here_nor_on_the_other_server_is_one_clear_error(
    settings: Settings, tmp_path: Path
) -> None:
    """Another server and no copy here: retake_input_missing naming the input."""
    recipe = take_of(settings, tmp_path / "gone.png")
    with pytest.raises(UsageError) as caught:
        plan_retake(settings, source(recipe), "http://127.0.0.1:9999")
    assert caught.value.code == "retake_input_missing" and "image" in caught.value.message
    assert "--set image=FILE" in (caught.value.hint or "")


def test_a_changed_template_is_named_and_refused_unless_forced(
    settings: Settings, still: Path
) -> None:
    """The template's save prefix changed: template_changed says so; --force renders it."""
    recipe = take_of(settings, still)
    changed = json.loads(json.dumps(TEMPLATE))
    changed["3"]["inputs"]["filename_prefix"] = "other"
    assert settings.workflow_dir is not None
    write_template(settings.workflow_dir, changed)
    with pytest.raises(UsageError) as caught:
        plan_retake(settings, source(recipe), SERVER)
    assert caught.value.code == "template_changed"
    assert 'filename_prefix: "t" → "other"' in caught.value.message
    assert caught.value.details["differences"] and "--force" in (caught.value.hint or "")
    forced = plan_retake(settings, source(recipe), SERVER, force=True)
    assert forced.changes and built(forced.job, {"image": "x"})["3"]["inputs"][
        "filename_prefix"
    ] == ("other")


def test_a_parameter_added_or_removed_is_a_change(settings: Settings, still: Path) -> None:
    """A parameter the take did not have, or lost since: both are named."""
    recipe = take_of(settings, still)
    template = load_template("noise", [settings.workflow_dir])  # type: ignore[list-item]
    assert template_changes(template, recipe) == []
    fewer = replace(recipe, params={"image": "x", "seed": 7, "gain": 2})
    assert template_changes(template, fewer) == [
        "parameter gain is gone",
        "parameter strength is new",
    ]


def test_a_template_gone_is_refused_and_forced_renders_the_graph(
    settings: Settings, still: Path
) -> None:
    """No template by that name any more: refused; --force sends the graph as it ran."""
    recipe = take_of(settings, still, template="deleted")
    with pytest.raises(UsageError) as caught:
        plan_retake(settings, source(recipe), SERVER)
    assert caught.value.code == "template_changed" and "no longer" in caught.value.message
    forced = plan_retake(settings, source(recipe), SERVER, force=True)
    assert forced.mode == "graph" and built(forced.job) == recipe.graph


def test_a_graph_take_is_sent_as_it_ran_with_node_inputs_set(
    settings: Settings, still: Path
) -> None:
    """A workflow-run take: the graph again, NODE.INPUT=VALUE (id or title) and --seed."""
    recipe = take_of(settings, still, template=None, workflow="wf", params={}, seeds={})
    plan = plan_retake(settings, source(recipe), SERVER, assignments=["2.strength=0.25"], seed="3")
    graph = built(plan.job)
    assert plan.mode == "graph" and plan.job.label == "wf"
    assert graph["2"]["inputs"]["strength"] == 0.25 and graph["2"]["inputs"]["seed"] == 3
    assert plan.job.seeds == {"2.seed": 3} and plan.job.params == {"2.strength": 0.25}
    assert recipe.graph["2"]["inputs"]["seed"] == 7  # the recipe itself is untouched
    with pytest.raises(ParameterError):
        plan_retake(settings, source(recipe), SERVER, prompt="a new prompt")


def test_setting_a_graph_input_that_is_not_there_lists_every_problem() -> None:
    """An unknown node or input, or a link, is refused; all of them named at once."""
    graph = {
        "5": {"class_type": "X", "inputs": {"a": 1, "b": ["4", 0]}, "_meta": {"title": "Grade"}}
    }
    assert set_graph_inputs(graph, ["Grade.a=hello"]) == {"5.a": "hello"}
    with pytest.raises(ParameterError) as caught:
        set_graph_inputs(graph, ["5.c=1", "9.a=1", "5.b=2", "nodot=1"])
    assert len(caught.value.details["problems"]) == 4


def test_bad_seed_and_ambiguous_seed_are_parameter_errors(settings: Settings, still: Path) -> None:
    """--seed on a graph take with words, or none to set: one clear error each."""
    recipe = take_of(settings, still, template=None, workflow="wf", params={}, seeds={})
    with pytest.raises(ParameterError, match="whole number"):
        plan_retake(settings, source(recipe), SERVER, seed="abc")
    bare = replace(recipe, graph={"3": TEMPLATE["3"]})
    with pytest.raises(ParameterError, match="no seed"):
        plan_retake(settings, source(bare), SERVER, seed="4")


def test_a_billed_take_is_retaken_on_the_default_target_with_a_note(
    settings: Settings, still: Path
) -> None:
    """A cloud take: rendered on the default target unless --target says cloud again."""
    recipe = take_of(settings, still, target="cloud")
    notes: list[str] = []
    assert choose_target(settings, recipe, None, notes).name == "local"
    assert "--target cloud" in notes[0]
    assert choose_target(settings, recipe, "cloud", []).name == "cloud"
    unknown: list[str] = []
    assert choose_target(settings, take_of(settings, still, target="mini"), None, unknown)
    assert "unknown here" in unknown[0]


def test_a_take_is_found_by_file_or_job_and_a_missing_one_is_named(
    settings: Settings, still: Path, tmp_path: Path
) -> None:
    """find_take_source: a file's recipe, a ledger job, a path that is not there."""
    recipe = take_of(settings, still)
    output = tmp_path / "take.png"
    output.write_bytes(still.read_bytes())
    write_sidecar(output, recipe)
    assert find_take_source(settings, str(output)).recipe.job == recipe.job
    with pytest.raises(MediaNotFound):
        find_take_source(settings, str(tmp_path / "nope.png"))
    record = JobRecord(
        id=recipe.job, client_id="c", target="local", server_url=SERVER, template="noise",
        params=recipe.params, seeds=recipe.seeds, graph=recipe.graph, status="succeeded",
        created_at=time.time(),
    )  # fmt: skip
    with Ledger.open(settings.ledger_path) as ledger:
        ledger.add(record)
    found = find_take_source(settings, recipe.job[:8])
    assert found.record is not None and found.recipe.graph == recipe.graph
    with pytest.raises(ComfycineError) as caught:
        find_take_source(settings, "ffffffff")
    assert caught.value.code == "unknown_job"


def test_lineage_lists_retakes_and_stages_from_the_ledger(
    settings: Settings, still: Path, tmp_path: Path
) -> None:
    """A take's children: its retakes (extra.parent) and the stages that took its output."""
    recipe = take_of(settings, still)
    base = {"client_id": "c", "target": "local", "server_url": SERVER, "status": "succeeded"}
    with Ledger.open(settings.ledger_path) as ledger:
        for number, (extra, params) in enumerate(
            [
                ({}, {}),
                ({"parent": recipe.job}, {}),
                ({}, {"image": f"job:{recipe.job}:1"}),
                ({}, {"image": "job:bbbb2222-0000-0000-0000-000000000001:1"}),
            ]
        ):
            job = recipe.job if number == 0 else f"cccc{number}"
            ledger.add(
                JobRecord(id=job, extra=extra, params=params, created_at=number, **base)  # type: ignore[arg-type]
            )
    lineage = lineage_of(settings, recipe)
    assert [(c["job"], c["kind"]) for c in lineage["children"]] == [
        ("cccc1", "retake"),
        ("cccc2", "stage"),
    ]
    assert lineage["ledger"] is True and lineage["parent"] is None
    child = replace(recipe, job="cccc1", parent=recipe.job)
    assert lineage_of(settings, child)["parent"]["job"] == recipe.job
    assert lineage_of(None, child) == {
        "parent": {"job": recipe.job},
        "inputs": {},
        "children": [],
        "ledger": False,
    }


def test_take_reads_a_file_with_no_settings_at_all(settings: Settings, still: Path) -> None:
    """describe_take without settings (a broken .env, another Mac): the file's recipe."""
    recipe = take_of(settings, still)
    png = still.with_name("made.png")
    from PIL import Image

    Image.new("RGB", (4, 4)).save(png)
    embed(png, recipe)
    data = describe_take(str(png), None)
    assert data["job"] == recipe.job and data["lineage"]["ledger"] is False
