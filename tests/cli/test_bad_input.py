"""Bad input: one clear line, the right exit code, the envelope, and no files left behind."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli_support import Isolation, files_under, invoke
from tests.ports import closed_port


def assert_clean_failure(result: object, code: int, error_code: str, iso: Isolation) -> dict:
    """Exit code, one red line, no traceback, the envelope's code, and no output files."""
    from tests.cli_support import CliResult

    assert isinstance(result, CliResult)
    assert result.exit_code == code, result
    assert result.stderr.count("error:") == 1 and "Traceback" not in result.stderr, result
    assert "hint:" in result.stderr
    envelope = result.envelope()
    assert envelope["ok"] is False and envelope["error"]["code"] == error_code, envelope
    assert files_under(iso.output_dir) == []
    return envelope["error"]


def test_unknown_template(isolation: Isolation) -> None:
    """An unknown template name is exit 2 and suggests the close match."""
    result = invoke("generate", "testpatern", "--json")
    error = assert_clean_failure(result, 2, "unknown_template", isolation)
    assert "testpattern" in error["message"] and "workflow list" in error["hint"]


def test_unreadable_template_json(isolation: Isolation) -> None:
    """A template file that is not valid JSON names the file and the position."""
    (isolation.workflow_dir / "broken.json").write_text('{"1": {"class_type": ')
    error = assert_clean_failure(
        invoke("generate", "broken", "--json"), 2, "invalid_template", isolation
    )
    assert "broken.json" in error["message"]


def test_ui_format_template(isolation: Isolation) -> None:
    """A UI (save) format file is refused with the way to export the API format."""
    ui = {
        "last_node_id": 1,
        "nodes": [{"id": 1, "type": "EmptyImage"}],
        "links": [],
        "version": 0.4,
    }
    (isolation.workflow_dir / "saved.json").write_text(json.dumps(ui))
    error = assert_clean_failure(
        invoke("generate", "saved", "--json"), 2, "invalid_template", isolation
    )
    assert "UI" in error["message"] and "API" in error["hint"]


def test_set_unknown_parameter(isolation: Isolation) -> None:
    """--set for a name the template lacks is an error naming the valid ones."""
    result = invoke("generate", "testimage", "--set", "widht=64", "--json")
    error = assert_clean_failure(result, 2, "invalid_parameter", isolation)
    assert "widht" in error["message"] and "width" in error["message"]


def test_non_integer_for_int(isolation: Isolation) -> None:
    """A non-integer for an INT parameter is refused before anything is sent."""
    result = invoke("generate", "testimage", "--set", "width=wide", "--json")
    error = assert_clean_failure(result, 2, "invalid_parameter", isolation)
    assert "width" in error["message"] and "whole number" in error["message"]


def test_missing_media_file(isolation: Isolation, tmp_path: Path) -> None:
    """A media path that does not exist is refused, naming the parameter and the path."""
    missing = tmp_path / "plate-missing.png"
    result = invoke("generate", "testblur", "--image", str(missing), "--json")
    error = assert_clean_failure(result, 2, "media_not_found", isolation)
    assert "plate-missing.png" in error["message"]


def test_image_shortcut_without_image_input(isolation: Isolation, tmp_path: Path) -> None:
    """--image on a template with no image input says so."""
    result = invoke("generate", "testimage", "--image", str(tmp_path), "--json")
    assert_clean_failure(result, 2, "invalid_parameter", isolation)


def test_cloud_prefix_is_not_silently_local(isolation: Isolation) -> None:
    """@cloud without a cloud key fails clearly (exit 7); it never runs locally instead."""
    graph = {
        "1": {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 8, "batch_size": 1}},
        "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "x"}},
        "3": {"class_type": "CLIPTextEncode", "inputs": {"text": "PARAM_PROMPT"}},
    }
    (isolation.workflow_dir / "prompted.json").write_text(json.dumps(graph))
    result = invoke("generate", "prompted", "--prompt", "@cloud a rainy street", "--json")
    assert_clean_failure(result, 7, "cloud_auth", isolation)


def test_connection_refused_is_exit_3(isolation: Isolation) -> None:
    """Nothing listening: exit 3, target_unreachable, reason refused, fallback proposed."""
    result = invoke("generate", "testimage", "--url", f"http://127.0.0.1:{closed_port()}", "--json")
    error = assert_clean_failure(result, 3, "target_unreachable", isolation)
    assert error["details"]["reason"] == "refused" and error["details"]["fallback"] == "cloud"


@pytest.fixture
def black_hole() -> Iterator[int]:
    """A port that accepts TCP connections and never answers (a hung or firewalled host)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield int(sock.getsockname()[1])


def test_server_that_never_answers_is_exit_3(isolation: Isolation, black_hole: int) -> None:
    """A server that accepts but never answers is unreachable (timeout), not a hang."""
    result = invoke("generate", "testimage", "--url", f"http://127.0.0.1:{black_hole}", "--json")
    error = assert_clean_failure(result, 3, "target_unreachable", isolation)
    assert error["details"]["reason"] == "timeout"


def test_unknown_job(isolation: Isolation) -> None:
    """wait/status/cancel of an unknown job are exit 2 with a hint to list jobs."""
    for command in ("wait", "status", "cancel"):
        error = assert_clean_failure(
            invoke(command, "deadbeef", "--json"), 2, "unknown_job", isolation
        )
        assert "comfycine status" in error["hint"]


def test_bad_setting_is_one_line(isolation: Isolation, monkeypatch: pytest.MonkeyPatch) -> None:
    """A malformed COMFYUI_URL is reported as a setting error, not a traceback."""
    monkeypatch.setenv("COMFYUI_URL", "100.64.0.1:8188")
    assert_clean_failure(invoke("generate", "testimage", "--json"), 2, "invalid_setting", isolation)


def test_debug_shows_traceback(isolation: Isolation) -> None:
    """--debug adds the traceback; without it there is none."""
    result = invoke("generate", "nosuch", "--debug")
    assert result.exit_code == 2 and "Traceback" in result.stderr
