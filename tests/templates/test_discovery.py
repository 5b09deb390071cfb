"""Finding and loading templates: directories, names, paths and file errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from comfycine.errors import TemplateInvalid, TemplateNotFound
from comfycine.templates import list_templates, load_template, shipped_dir, template_dirs

from .support import node, write_template

SIMPLE = {"1": node("EmptyImage", width="PARAM_INT_WIDTH"), "2": node("SaveImage")}


def test_template_dirs_put_the_user_dir_before_the_shipped_one(tmp_path: Path) -> None:
    """The user's workflow dir is searched first, then the shipped templates."""
    assert template_dirs(tmp_path) == [tmp_path, shipped_dir()]
    assert template_dirs(None) == [shipped_dir()]


def test_template_dirs_do_not_repeat_the_shipped_dir() -> None:
    """Pointing the workflow dir at the shipped dir does not list it twice."""
    assert template_dirs(shipped_dir()) == [shipped_dir()]


def test_shipped_dir_holds_the_test_templates() -> None:
    """The shipped dir (source checkout: workflows/) holds the model-free templates."""
    names = {p.name for p in shipped_dir().glob("*.json")}
    assert {"testpattern.json", "testimage.json", "testblur.json"} <= names


def test_earlier_dir_wins_a_name_clash(tmp_path: Path) -> None:
    """A template in an earlier dir hides the same name in a later one."""
    first, second = tmp_path / "a", tmp_path / "b"
    write_template(first, "same", SIMPLE, {"description": "mine"})
    write_template(second, "same", SIMPLE, {"description": "theirs"})
    write_template(second, "other", SIMPLE)
    infos = list_templates([first, second])
    assert [(i.name, i.description) for i in infos] == [("other", ""), ("same", "mine")]
    assert load_template("same", [first, second]).description == "mine"


def test_list_skips_sidecars_and_missing_dirs(tmp_path: Path) -> None:
    """Sidecars are not templates, and a missing dir is simply empty."""
    write_template(tmp_path, "one", SIMPLE, {"description": "d"})
    infos = list_templates([tmp_path / "nope", tmp_path])
    assert [(i.name, i.parameters) for i in infos] == [("one", ("width",))]


def test_list_reports_a_broken_template_instead_of_failing(tmp_path: Path) -> None:
    """A broken file is listed with its error; the good ones still load."""
    write_template(tmp_path, "good", SIMPLE)
    (tmp_path / "bad.json").write_text("{oops")
    infos = {i.name: i for i in list_templates([tmp_path])}
    assert infos["good"].error is None
    assert infos["bad"].error is not None and "not valid JSON" in infos["bad"].error


def test_unknown_name_suggests_close_matches(tmp_path: Path) -> None:
    """An unknown name raises TemplateNotFound naming close matches and the list command."""
    write_template(tmp_path, "wan_t2v", SIMPLE)
    with pytest.raises(TemplateNotFound) as caught:
        load_template("wan_tv2", [tmp_path])
    assert "'wan_t2v'" in caught.value.message
    assert "comfycine workflow list" in caught.value.hint
    assert caught.value.details["suggestions"] == ["wan_t2v"]


def test_name_lookup_falls_back_to_a_unique_case_insensitive_match(tmp_path: Path) -> None:
    """``Wan_T2V`` finds ``wan_t2v`` when no exact name exists."""
    write_template(tmp_path, "wan_t2v", SIMPLE)
    assert load_template("Wan_T2V", [tmp_path]).name == "wan_t2v"


def test_load_by_path(tmp_path: Path) -> None:
    """A path to a .json file loads that file, wherever it is."""
    path = write_template(tmp_path / "elsewhere", "shot", SIMPLE)
    template = load_template(str(path), [])
    assert (template.name, template.path) == ("shot", path)


def test_load_by_missing_path(tmp_path: Path) -> None:
    """A path that does not exist is TemplateNotFound naming it."""
    with pytest.raises(TemplateNotFound, match=r"nope\.json"):
        load_template(str(tmp_path / "nope.json"), [])


def test_sidecar_path_is_not_a_template(tmp_path: Path) -> None:
    """Passing NAME.meta.json says to pass NAME.json."""
    write_template(tmp_path, "shot", SIMPLE, {})
    with pytest.raises(TemplateInvalid, match="sidecar") as caught:
        load_template(str(tmp_path / "shot.meta.json"), [])
    assert caught.value.hint.endswith("shot.json")


def test_ui_format_is_rejected_with_the_export_hint(tmp_path: Path) -> None:
    """A UI-format save names the format and proposes Export (API) or convert."""
    path = tmp_path / "ui.json"
    path.write_text(json.dumps({"nodes": [{"id": 1, "type": "EmptyImage"}], "links": []}))
    with pytest.raises(TemplateInvalid, match=r"UI \(save\) format") as caught:
        load_template(str(path), [])
    assert 'Export it with "Export (API)"' in caught.value.hint
    assert f"comfycine workflow convert {path}" in caught.value.hint


def test_invalid_json_names_file_line_and_column(tmp_path: Path) -> None:
    """Broken JSON reports the file and where the parser stopped."""
    path = tmp_path / "broken.json"
    path.write_text('{\n  "1": {"class_type": "X",\n  }\n}')
    with pytest.raises(TemplateInvalid) as caught:
        load_template(str(path), [])
    assert str(path) in caught.value.message
    assert "line 3, column 3" in caught.value.message
    assert caught.value.details["line"] == 3


def test_unreadable_file_is_invalid(tmp_path: Path) -> None:
    """Bytes that are not UTF-8 give TemplateInvalid naming the file."""
    path = tmp_path / "bin.json"
    path.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(TemplateInvalid, match="Cannot read"):
        load_template(str(path), [])


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        ([], "JSON object"),
        ({}, "no nodes"),
        ({"1": "EmptyImage"}, "node '1' is not an object"),
        ({"1": {"inputs": {}}}, "node '1' has no class_type"),
        ({"1": {"class_type": "X", "inputs": []}}, "node '1' (X) has no inputs object"),
    ],
)
def test_structurally_wrong_graph_is_invalid(tmp_path: Path, graph: object, expected: str) -> None:
    """A graph whose nodes lack class_type or an inputs object is TemplateInvalid."""
    path = tmp_path / "g.json"
    path.write_text(json.dumps(graph))
    with pytest.raises(TemplateInvalid) as caught:
        load_template(str(path), [])
    assert expected in caught.value.message


def test_every_bad_node_is_reported_at_once(tmp_path: Path) -> None:
    """All structural problems are listed in details.problems."""
    path = tmp_path / "g.json"
    path.write_text(json.dumps({"1": {"inputs": {}}, "2": 5, "3": node("Ok")}))
    with pytest.raises(TemplateInvalid) as caught:
        load_template(str(path), [])
    assert len(caught.value.details["problems"]) == 2


def test_bad_sidecar_json_is_invalid(tmp_path: Path) -> None:
    """An unparsable NAME.meta.json is TemplateInvalid naming the sidecar."""
    write_template(tmp_path, "shot", SIMPLE)
    (tmp_path / "shot.meta.json").write_text("[1,")
    with pytest.raises(TemplateInvalid, match=r"shot\.meta\.json is not valid JSON"):
        load_template("shot", [tmp_path])


def test_template_keeps_models_and_custom_nodes_as_data(tmp_path: Path) -> None:
    """models, custom_nodes and unknown top-level sidecar keys are kept as they are."""
    meta = {
        "models": [{"name": "a.safetensors", "folder": "checkpoints"}],
        "custom_nodes": ["pack"],
        "outputs": {"video": "15"},
        "later_feature": 1,
    }
    write_template(tmp_path, "shot", SIMPLE, meta)
    template = load_template("shot", [tmp_path])
    assert template.models == meta["models"]
    assert template.custom_nodes == ["pack"]
    assert template.outputs == {"video": "15"}
    assert template.meta["later_feature"] == 1
