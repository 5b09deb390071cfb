"""Diagnoses of the errors comfycine raises, from recorded real payloads and built errors."""

from __future__ import annotations

from typing import Any

from comfycine.diagnose import JobContext, ModelSource, PackInfo, attach, diagnose
from comfycine.errors import (
    CloudAccountError,
    JobFailed,
    JobLost,
    OutputNotWritable,
    ParameterError,
    TargetUnreachable,
    ValidationFailed,
)
from comfycine.outcomes import failure_from_payload
from comfycine.transport.failures import validation_error
from tests.captures import load


def _execution_error(scenario: str) -> dict[str, Any]:
    frames = load(scenario, "ws_messages.json")
    return next(
        m["raw"]["data"] for m in frames if m.get("raw", {}).get("type") == "execution_error"
    )


def _wan_context(**changes: Any) -> JobContext:
    ctx = JobContext(
        job="0123456789abcdef",
        template="wan22-t2v",
        params={"prompt": "a rainy street", "width": 1280, "height": 704, "frames": 81, "seed": 7},
        seeds={"seed": 7},
        defaults={"width": 1280, "height": 704, "frames": 81},
        bounds={
            "width": {"multiple_of": 16, "min": 256},
            "frames": {"multiple_of": 4, "offset": 1},
        },
        graph={"8": {"class_type": "VAEDecode", "inputs": {}}},
    )
    for key, value in changes.items():
        setattr(ctx, key, value)
    return ctx


def test_missing_model_from_the_recorded_400_names_file_and_folder() -> None:
    """A recorded value_not_in_list on ckpt_name → missing_model with models/checkpoints."""
    error = validation_error(load("10c_bad_combo_value", "post_response.json")["body"])
    found = diagnose(error)
    assert found.code == "missing_model"
    assert "nope.safetensors" in found.cause
    assert "models/checkpoints" in found.fixes[0].text


def test_missing_model_uses_the_template_url() -> None:
    """A model the sidecar knows gets its download URL in the fix."""
    error = validation_error(load("10c_bad_combo_value", "post_response.json")["body"])
    url = "https://example.invalid/nope.safetensors"
    ctx = JobContext(
        models={"nope.safetensors": ModelSource("nope.safetensors", "checkpoints", url, "template")}
    )
    assert url in diagnose(error, ctx).fixes[0].text


def test_unknown_node_from_the_recorded_400_without_a_known_pack() -> None:
    """The server's 'node X does not exist' → missing_custom_node naming X, asking Manager."""
    error = validation_error(
        load("32_hordeengine_0.3.75_unknown_node", "post_response.json")["body"]
    )
    found = diagnose(error)
    assert found.code == "missing_custom_node"
    assert "NoSuchNode" in found.cause
    assert any(fix.command == "comfycine debug last" for fix in found.fixes)


def test_unknown_node_with_a_registry_pack_gives_the_install_command() -> None:
    """A pack known by registry id → comfy node registry-install ID as the top fix."""
    error = validation_error(
        load("32_hordeengine_0.3.75_unknown_node", "post_response.json")["body"]
    )
    ctx = JobContext(packs={"NoSuchNode": [PackInfo("Some Pack", "some-pack", "manager")]})
    found = diagnose(error, ctx)
    assert found.fixes[0].command == "comfy node registry-install some-pack"


def test_pack_known_only_by_git_url_points_at_manager() -> None:
    """A pack whose key is a git URL has no CLI command: the fix names the URL for Manager."""
    error = ValidationFailed(
        "x",
        code="unknown_node",
        details={"problems": [{"code": "unknown_node", "class_type": "Foo", "node": "3"}]},
    )
    ctx = JobContext(
        packs={"Foo": [PackInfo("Foo nodes", "https://github.com/a/foo", "manager")]},
        manager_checked=True,
    )
    found = diagnose(error, ctx)
    assert found.fixes[0].command is None
    assert "https://github.com/a/foo" in found.fixes[0].text
    assert all(fix.command != "comfycine debug last" for fix in found.fixes)


def test_required_input_missing_is_invalid_input() -> None:
    """A recorded required_input_missing → invalid_input (not a model or node problem)."""
    error = validation_error(load("10b_missing_required_input", "post_response.json")["body"])
    assert diagnose(error).code == "invalid_input"


def test_runtime_error_from_the_recorded_socket_is_a_node_exception() -> None:
    """The recorded ImageBlur padding error → node_exception naming the node."""
    error = failure_from_payload(_execution_error("12_runtime_error_blur_pad"), {})
    found = diagnose(error)
    assert found.code == "node_exception"
    assert "node 2" in found.fixes[0].text


def test_out_of_memory_computes_smaller_settings_from_the_job() -> None:
    """OOM at 1280×704×81 → a 16-multiple smaller size, 4n+1 fewer frames, tiles, free, cloud."""
    payload = {
        "node_id": "5",
        "node_type": "KSamplerAdvanced",
        "exception_type": "torch.OutOfMemoryError",
        "exception_message": "Allocation on device 0 would exceed allowed memory. (out of memory)",
    }
    found = diagnose(failure_from_payload(payload, {}), _wan_context())
    assert found.code == "out_of_memory"
    assert "1280×704" in found.cause
    width, height, frames = found.facts["width"], found.facts["height"], found.facts["frames"]
    assert width % 16 == 0 and height % 16 == 0 and width < 1280 and height < 704
    assert frames % 4 == 1 and frames < 81
    first = found.fixes[0].command or ""
    assert f"--set width={width}" in first and f"--set height={height}" in first
    assert "--set seed=7" in first and "--prompt 'a rainy street'" in first
    commands = [fix.command for fix in found.fixes]
    assert "comfycine free" in commands
    assert any(c and c.endswith("--target cloud") for c in commands)
    tiled = next(fix for fix in found.fixes if "VAEDecodeTiled" in fix.text)
    assert (tiled.command or "").endswith("--tiled-vae")


def test_out_of_memory_on_the_cloud_does_not_propose_the_cloud() -> None:
    """OOM on Comfy Cloud → smaller settings only (no free, no cloud rerun)."""
    error = JobFailed("Out of GPU memory", code="out_of_memory")
    found = diagnose(error, _wan_context(target="cloud"))
    assert all(fix.command != "comfycine free" for fix in found.fixes)
    assert not any((fix.command or "").endswith("--target cloud") for fix in found.fixes)


def test_refused_on_a_tailscale_address_says_listen() -> None:
    """Connection refused on the PC → start ComfyUI with --listen, doctor, the cloud."""
    error = TargetUnreachable("x", details={"url": "http://100.64.1.2:8188", "reason": "refused"})
    found = diagnose(error)
    assert found.code == "target_unreachable"
    assert "--listen" in found.fixes[0].text
    assert found.fixes[1].command == "comfycine doctor"


def test_tailscale_problem_turns_unreachable_into_tailscale_down() -> None:
    """A timeout with Tailscale logged out → tailscale_down with tailscale up first."""
    error = TargetUnreachable("x", details={"url": "http://100.64.1.2:8188", "reason": "timeout"})
    found = diagnose(error, JobContext(tailscale_problem="Tailscale is logged out on this Mac."))
    assert found.code == "tailscale_down"
    assert found.fixes[0].command == "tailscale up"


def test_local_refused_proposes_the_test_server() -> None:
    """127.0.0.1 refused → comfycine server up."""
    error = TargetUnreachable("x", details={"url": "http://127.0.0.1:8188", "reason": "refused"})
    assert diagnose(error).fixes[0].command == "comfycine server up"


def test_fallback_command_is_kept_in_the_fixes() -> None:
    """The exact cloud command of the fallback proposal appears as a fix."""
    command = "comfycine generate testimage --target cloud"
    error = TargetUnreachable(
        "x", details={"url": "http://100.64.1.2:8188", "reason": "timeout", "command": command}
    )
    assert command in [fix.command for fix in diagnose(error).fixes]


def test_cloud_credits_proposes_the_pc() -> None:
    """Out of credits → add credits, or the same job on the PC."""
    error = CloudAccountError("402", code="cloud_credits")
    found = diagnose(error, _wan_context(target="cloud"))
    assert found.code == "cloud_credits"
    assert (found.fixes[1].command or "").endswith("--target local")


def test_cloud_auth_names_the_key_setting() -> None:
    """A refused key → the COMFY_CLOUD_API_KEY setting and doctor of the cloud target."""
    found = diagnose(CloudAccountError("401", code="cloud_auth"))
    assert "COMFY_CLOUD_API_KEY" in found.fixes[0].text
    assert found.fixes[1].command == "comfycine doctor --target cloud"


def test_wrong_clip_signature_is_a_model_mismatch() -> None:
    """'mat1 and mat2 shapes' → model_mismatch."""
    error = JobFailed(
        "x",
        details={
            "exception_type": "RuntimeError",
            "exception_message": "mat1 and mat2 shapes cannot be multiplied",
        },
    )
    assert diagnose(error).code == "model_mismatch"


def test_missing_python_module_gives_the_pip_line() -> None:
    """'No module named x' → pip install x in ComfyUI's Python."""
    error = JobFailed(
        "x",
        details={
            "exception_type": "ModuleNotFoundError",
            "exception_message": "No module named 'sageattention'",
        },
    )
    found = diagnose(error)
    assert found.code == "missing_python_package"
    assert found.fixes[0].command == "python -m pip install sageattention"


def test_lost_job_offers_the_rerun_command() -> None:
    """A lost job → the generate line that renders it again, seed kept."""
    found = diagnose(JobLost("gone"), _wan_context())
    assert (
        found.fixes[0].command
        == "comfycine generate wan22-t2v --prompt 'a rainy street' --set seed=7"
    )


def test_attach_puts_the_diagnosis_and_top_fix_in_the_error() -> None:
    """attach() fills details.diagnosis and makes the top fix the hint."""
    error = TargetUnreachable("x", details={"url": "http://127.0.0.1:1", "reason": "refused"})
    attach(error)
    assert error.details["diagnosis"]["code"] == "target_unreachable"
    assert "comfycine server up" in error.hint


def test_attach_leaves_usage_errors_alone() -> None:
    """A usage error keeps its own hint and gets no diagnosis."""
    error = ParameterError("bad", hint="See: comfycine workflow show x")
    attach(error)
    assert "diagnosis" not in error.details
    assert error.hint == "See: comfycine workflow show x"


def test_disk_full_says_free_space_then_wait() -> None:
    """disk_full: free space (or another folder), then the wait that finishes the download."""
    error = OutputNotWritable(
        "The disk is full.",
        code="disk_full",
        details={"job": "0123456789abcdef", "folder": "/Volumes/Renders/2026-01-01"},
    )
    attach(error)
    assert error.details["diagnosis"]["code"] == "disk_full"
    assert "Free some space" in error.hint and error.hint.endswith("comfycine wait 01234567")


def test_unreachable_after_the_render_proposes_wait_not_cloud() -> None:
    """Exit 3 during the download of a rendered job: wait for it, never render it elsewhere."""
    error = TargetUnreachable(
        "Lost contact.",
        details={"url": "http://100.64.0.2:8188", "reason": "timeout", "job": "0123456789ab"},
    )
    error.details["rendered"] = True
    diagnosis = diagnose(error, _wan_context())
    assert diagnosis.fixes[0].command == "comfycine wait 01234567"
    assert all("cloud" not in (fix.command or "") for fix in diagnosis.fixes)
