"""``comfycine mobile …``: files written once, warnings on stderr and in the envelope."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.captures import load
from tests.cli_support import Isolation, files_under, invoke
from tests.graph.test_convert import FIXTURES as CONVERT_FIXTURES

CLOSED = "http://127.0.0.1:9"  # nothing listens there: mcww-tag reads the snapshot


def test_tg_export_writes_under_output_dir(isolation: Isolation) -> None:
    """tg-export writes OUTPUT_DIR/mobile/telegram/NAME.json and prints its path."""
    result = invoke("mobile", "tg-export", "wan22-t2v")
    assert result.exit_code == 0, result
    path = isolation.output_dir / "mobile" / "telegram" / "wan22-t2v.json"
    assert result.stdout.strip() == str(path)
    graph = json.loads(path.read_text())
    assert "PARAM_" not in json.dumps(graph)
    assert any(n["class_type"] == "TG_ImageSaver" for n in graph.values())
    assert "warning: no video in ComfyUI-TG" in result.stderr
    assert "Telegram" in result.stderr


def test_tg_export_json_envelope(isolation: Isolation, tmp_path: Path) -> None:
    """With --json and --dest: one envelope, warnings in data and on stderr."""
    result = invoke("mobile", "tg-export", "sdxl-style", "--dest", str(tmp_path / "tg"), "--json")
    assert result.exit_code == 0, result
    envelope = result.envelope()
    data = envelope["data"]
    assert envelope["command"] == "mobile tg-export" and envelope["ok"] is True
    assert data["path"] == str(tmp_path / "tg" / "sdxl-style.json")
    assert data["saver_node"] in data["graph"] and data["poster_node"] is None
    assert data["warnings"] and all(f"warning: {w}" in result.stderr for w in data["warnings"])


def test_tg_export_never_overwrites(isolation: Isolation, tmp_path: Path) -> None:
    """A second export to the same folder is exit 2 file_exists; --force replaces."""
    args = ("mobile", "tg-export", "testimage", "--dest", str(tmp_path))
    assert invoke(*args).exit_code == 0
    (tmp_path / "testimage.json").write_text("edited on purpose")
    again = invoke(*args, "--json")
    assert again.exit_code == 2, again
    assert again.envelope()["error"]["code"] == "file_exists"
    assert again.envelope()["command"] == "mobile tg-export"
    assert (tmp_path / "testimage.json").read_text() == "edited on purpose"
    assert invoke(*args, "--force").exit_code == 0
    assert "TG_ImageSaver" in (tmp_path / "testimage.json").read_text()


def test_tg_export_unknown_template(isolation: Isolation) -> None:
    """An unknown template is exit 2 with the close name, and nothing is written."""
    result = invoke("mobile", "tg-export", "testimag", "--json")
    assert result.exit_code == 2, result
    assert "testimage" in result.envelope()["error"]["message"]
    assert files_under(isolation.output_dir) == []


def test_portal_export_prints_json_and_server(isolation: Isolation) -> None:
    """portal-export prints the API JSON on stdout, the host and port on stderr."""
    result = invoke("mobile", "portal-export", "ltx-quick", "--url", "http://100.64.1.2:8188")
    assert result.exit_code == 0, result
    graph = json.loads(result.stdout)
    assert "PARAM_" not in result.stdout
    assert graph["3"]["_meta"]["title"] == "Prompt"
    assert "host 100.64.1.2, port 8188" in result.stderr
    assert "Tailscale address" not in result.stderr


def test_portal_export_warns_about_loopback(isolation: Isolation) -> None:
    """With the default 127.0.0.1 URL the envelope and stderr warn about it."""
    result = invoke("mobile", "portal-export", "testimage", "--json")
    assert result.exit_code == 0, result
    data = result.envelope()["data"]
    assert (data["host"], data["port"]) == ("127.0.0.1", 8188)
    assert "Tailscale address" in data["warnings"][0]
    assert "Tailscale address" in result.stderr


def test_portal_export_out_file(isolation: Isolation, tmp_path: Path) -> None:
    """--out writes the JSON there and prints the path; an existing file is kept."""
    out = tmp_path / "p.json"
    result = invoke("mobile", "portal-export", "testimage", "--out", str(out))
    assert result.exit_code == 0, result
    assert result.stdout.strip() == str(out) and "PARAM_" not in out.read_text()
    again = invoke("mobile", "portal-export", "testimage", "--out", str(out))
    assert again.exit_code == 2 and "already exists" in again.stderr


@pytest.fixture
def snapshot(isolation: Isolation, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A node-list snapshot for a closed local URL, so mcww-tag runs without a server."""
    from comfycine.graph.catalog_source import save_snapshot

    cache = tmp_path / "cache"
    save_snapshot(cache, CLOSED, load(".", "GET_object_info.json"), {})
    monkeypatch.setenv("COMFYCINE_CACHE_DIR", str(cache))
    monkeypatch.setenv("COMFYUI_URL", CLOSED)
    source = tmp_path / "flow.json"
    source.write_text((CONVERT_FIXTURES / "txt2img" / "ui.json").read_text())
    return source


def test_mcww_tag_writes_a_tagged_copy(snapshot: Path) -> None:
    """mcww-tag writes NAME-mcww.json beside the file; the source is left as it was."""
    before = snapshot.read_text()
    result = invoke("mobile", "mcww-tag", str(snapshot), "--offline")
    assert result.exit_code == 0, result
    tagged = snapshot.with_name("flow-mcww.json")
    assert result.stdout.strip() == str(tagged) and snapshot.read_text() == before
    titles = {n.get("title") for n in json.loads(tagged.read_text())["nodes"]}
    assert {"<Prompt:prompt:1>", "<Seed:advanced:2>", "<Output:output:1>"} <= titles
    assert "warning: MCWW runs on its own port" in result.stderr
    assert "<Steps:advanced:3>" in result.stderr


def test_mcww_tag_json_and_no_overwrite(snapshot: Path) -> None:
    """The envelope lists the tags and warnings; a second run is exit 2 file_exists."""
    result = invoke("mobile", "mcww-tag", str(snapshot), "--offline", "--json")
    assert result.exit_code == 0, result
    data = result.envelope()["data"]
    assert {t["role"] for t in data["tags"]} >= {"prompt", "seed", "steps", "output"}
    assert any("own port" in w for w in data["warnings"]) and data["mcww_url"].endswith(":7860")
    again = invoke("mobile", "mcww-tag", str(snapshot), "--offline", "--json")
    assert again.exit_code == 2 and again.envelope()["error"]["code"] == "file_exists"


def test_mcww_tag_in_place(snapshot: Path) -> None:
    """--in-place rewrites the file itself and writes nothing else."""
    result = invoke("mobile", "mcww-tag", str(snapshot), "--offline", "--in-place")
    assert result.exit_code == 0, result
    assert "<Prompt:prompt:1>" in snapshot.read_text()
    assert sorted(p.name for p in snapshot.parent.glob("flow*")) == ["flow.json"]


def test_mcww_tag_refuses_api_format(snapshot: Path) -> None:
    """An API-format file is exit 2 not_ui_workflow, before any server is asked."""
    snapshot.write_text(json.dumps({"1": {"class_type": "EmptyImage", "inputs": {}}}))
    result = invoke("mobile", "mcww-tag", str(snapshot), "--json")
    assert result.exit_code == 2, result
    assert result.envelope()["error"]["code"] == "not_ui_workflow"
