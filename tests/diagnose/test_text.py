"""Pasted error text (JSON answers, console lines, tracebacks) → the error it means."""

from __future__ import annotations

import json

from comfycine.diagnose import diagnose, error_from_text
from tests.captures import load


def test_recorded_400_body_as_json() -> None:
    """A pasted /prompt 400 body is read as the server's validation answer."""
    body = load("10c_bad_combo_value", "post_response.json")["body"]
    error = error_from_text(json.dumps(body))
    assert error.code == "missing_model"


def test_recorded_execution_error_message() -> None:
    """A pasted execution_error socket message → a node exception with its node."""
    frames = load("12_runtime_error_blur_pad", "ws_messages.json")
    message = next(m["raw"] for m in frames if m.get("raw", {}).get("type") == "execution_error")
    error = error_from_text(json.dumps(message))
    assert error.code == "node_exception"
    assert error.details["node"] == "2"


def test_comfycine_envelope_is_read_back() -> None:
    """A pasted comfycine --json envelope keeps its error code."""
    envelope = {
        "schema": "comfycine/1",
        "ok": False,
        "error": {"code": "cloud_credits", "message": "no credits", "hint": "", "details": {}},
    }
    assert error_from_text(json.dumps(envelope)).code == "cloud_credits"


def test_console_oom_line() -> None:
    """A torch OOM console line → out_of_memory."""
    text = "torch.OutOfMemoryError: Allocation on device 0 would exceed allowed memory."
    assert error_from_text(text).code == "out_of_memory"


def test_console_missing_node_line() -> None:
    """'Cannot execute because node X does not exist.' → missing_custom_node naming X."""
    error = error_from_text("Cannot execute because node VHS_VideoCombine does not exist.")
    found = diagnose(error)
    assert found.code == "missing_custom_node"
    assert "VHS_VideoCombine" in found.cause


def test_console_value_not_in_list_line() -> None:
    """A 'Value not in list' console line → missing_model with the folder of its input."""
    text = "Value not in list: vae_name: 'wan_2.1_vae.safetensors' not in ['a.safetensors']"
    found = diagnose(error_from_text(text))
    assert found.code == "missing_model"
    assert "models/vae" in found.fixes[0].text


def test_connection_refused_text() -> None:
    """A connection-refused message → target_unreachable (refused)."""
    error = error_from_text("httpx.ConnectError: [Errno 111] Connection refused")
    assert error.code == "target_unreachable"
    assert error.details["reason"] == "refused"


def test_traceback_last_exception_line() -> None:
    """A traceback → node_exception from its last exception line."""
    text = (
        'Traceback (most recent call last):\n  File "x.py", line 1\nValueError: bad frame count\n'
    )
    error = error_from_text(text)
    assert error.details["exception_type"] == "ValueError"
    assert "bad frame count" in error.message


def test_unrecognised_text_still_answers() -> None:
    """Text with no known signature → unrecognised_error, never an exception."""
    assert error_from_text("the sky is green").code == "unrecognised_error"


def test_a_line_number_is_not_an_http_status() -> None:
    """'line 401' in a traceback is not read as a refused key."""
    text = 'Traceback (most recent call last):\n  File "x.py", line 401\nValueError: bad\n'
    assert error_from_text(text).code == "node_exception"


def test_a_local_validation_body_is_not_a_cloud_refusal() -> None:
    """ComfyUI's own 400 body (error.type prompt_outputs_failed_validation) stays a rejection."""
    body = {
        "error": {"type": "prompt_outputs_failed_validation", "message": "x"},
        "node_errors": {},
    }
    assert error_from_text(json.dumps(body)).code == "validation_failed"


def test_v2_invalid_workflow_reads_comfyuis_node_errors() -> None:
    """A pasted v2 invalid_workflow with ComfyUI's node_errors → missing_model by its input."""
    node = {
        "class_type": "CheckpointLoaderSimple",
        "errors": [
            {
                "type": "value_not_in_list",
                "message": "Value not in list",
                "details": "ckpt_name: 'nope.safetensors' not in []",
                "extra_info": {"input_name": "ckpt_name"},
            }
        ],
    }
    body = {
        "error": {
            "code": "invalid_workflow",
            "message": "bad",
            "details": {"node_errors": {"4": node}},
        }
    }
    assert error_from_text(json.dumps(body)).code == "missing_model"


def test_v2_job_with_a_status_string_never_raises() -> None:
    """A pasted v2 job (status is a string, not a dict) is read, not a crash."""
    job = {"id": "j", "status": "failed", "error": {"code": "node_execution_error", "message": "x"}}
    assert error_from_text(json.dumps(job)).code == "node_exception"


def test_a_password_in_a_pasted_url_is_masked() -> None:
    """A URL with user:password in the pasted text is kept with its password masked."""
    error = error_from_text("401 Unauthorized from http://me:s3cret@100.64.1.2:8188/prompt")
    assert "s3cret" not in json.dumps(error.to_dict())
    assert error.details["url"].startswith("http://me:***@100.64.1.2:8188")
